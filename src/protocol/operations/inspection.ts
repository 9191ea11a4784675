import { Type } from '@sinclair/typebox';
import { optionalParam, param, type OperationTable } from '../operation.js';
import {
  EventList,
  EventRecord,
  Integer,
  ListOptions,
  NonEmpty,
  Nothing,
  Nullable,
  P,
} from '../schemas.js';
import { StringEnum } from '../schema.js';

const CausationGraph = Type.Object(
  {
    root: Nullable(Type.String()),
    nodes: Type.Array(
      Type.Object({
        eventId: Type.String(),
        eventType: Type.String(),
        streamId: Type.String(),
        version: Integer,
        position: Integer,
        epochUs: Integer,
        causationId: Type.Optional(Type.String()),
        correlationId: Type.Optional(Type.String()),
      }),
    ),
    edges: Type.Array(Type.Object({ from: Type.String(), to: Type.String() })),
    truncated: Type.Boolean(),
  },
  { title: 'CausationGraph' },
);

const SchemaDescription = Type.Object(
  { version: Integer, description: Type.Optional(Type.String()) },
  {
    title: 'SchemaDescription',
    description: 'upcasters and validators are code: register them in the serving process',
    additionalProperties: false,
  },
);

const SchemaInfo = Type.Object(
  {
    eventType: Type.String(),
    version: Integer,
    description: Nullable(Type.String()),
    registeredAt: Type.String(),
    upcasters: Type.Array(Integer),
    validates: Type.Boolean(),
  },
  { title: 'SchemaInfo' },
);

const StoreStats = Type.Object(
  {
    storeId: Type.String(),
    streamCount: Integer,
    totalEvents: Integer,
    snapshotCount: Integer,
    subscriptionCount: Integer,
    hasEvents: Type.Boolean(),
    diskBytes: Integer,
  },
  { title: 'StoreStats' },
);

const StreamInfo = Type.Object(
  {
    streamId: Type.String(),
    version: Integer,
    eventCount: Integer,
    firstEventAt: Nullable(Integer, { description: 'epochUs of the first stored event' }),
    lastEventAt: Nullable(Integer, { description: 'epochUs of the last stored event' }),
    snapshots: Type.Object({ count: Integer, latestVersion: Nullable(Integer) }),
  },
  { title: 'StreamInfo' },
);

const MemoryLevel = StringEnum(['normal', 'elevated', 'critical']);

const MemoryStats = Type.Object(
  {
    level: MemoryLevel,
    used: Integer,
    total: Integer,
    lastCheck: Type.Integer({ description: 'ms since the Unix epoch' }),
  },
  { title: 'MemoryStats' },
);

/** Causation and correlation, event schemas, counts and the node's memory. */
export const INSPECTION_OPERATIONS = {
  getEffects: {
    summary: 'Events caused by an event (their `causationId` is its id), in global order.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, param('eventId', NonEmpty)],
    result: EventList,
  },
  getCause: {
    summary: "The event an event's `causationId` names, or null.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, param('eventId', NonEmpty)],
    result: Type.Union([EventRecord, Type.Null()]),
  },
  getCausationChain: {
    summary: 'The causes from the root down to an event; stops at the first repeat on a cycle.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, param('eventId', NonEmpty)],
    result: EventList,
  },
  getCorrelated: {
    summary: 'Events with a correlation id, in global order.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, param('correlationId', NonEmpty)],
    result: EventList,
  },
  buildCausationGraph: {
    summary: 'The causation graph of a correlation id, or around an event id.',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      param('id', NonEmpty),
      optionalParam(
        'options',
        Type.Object({ maxNodes: Type.Optional(Integer) }, { additionalProperties: false }),
      ),
    ],
    result: CausationGraph,
  },
  registerSchema: {
    summary:
      "Registers or updates an event type's schema description (upcasters and validators are registered in the serving process).",
    role: 'admin',
    idempotent: true,
    params: [P.storeId, param('eventType', NonEmpty), param('schema', SchemaDescription)],
    result: SchemaInfo,
  },
  getSchema: {
    summary: "An event type's schema; `not_found` if it has none.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, param('eventType', NonEmpty)],
    result: SchemaInfo,
  },
  listSchemas: {
    summary:
      "The store's schemas, by event type, up to 100 000 (deprecated: page with listSchemaPage).",
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: Type.Array(SchemaInfo),
  },
  listSchemaPage: {
    summary: "A page of the store's schemas, by event type.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, optionalParam('options', ListOptions)],
    result: Type.Object(
      { schemas: Type.Array(SchemaInfo), next: Nullable(Type.String()) },
      { title: 'SchemaPage' },
    ),
    http: {
      method: 'GET',
      path: '/stores/{storeId}/schemas',
      query: {
        after: { param: 'options', field: 'after' },
        limit: { param: 'options', field: 'limit' },
      },
    },
  },
  getSchemaVersion: {
    summary: "An event type's registered version; `not_found` if it has no schema.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, param('eventType', NonEmpty)],
    result: Integer,
  },
  unregisterSchema: {
    summary: "Removes an event type's schema; `not_found` if it has none.",
    role: 'admin',
    idempotent: false,
    params: [P.storeId, param('eventType', NonEmpty)],
    result: Nothing,
  },
  upcastEvents: {
    summary:
      "Brings events to their types' registered schema versions; a missing upcaster is `not_found`.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, param('events', EventList)],
    result: EventList,
  },
  storeStats: {
    summary:
      'Streams, events, snapshots, subscriptions and bytes on disk, from maintained counters.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: StoreStats,
    http: { method: 'GET', path: '/stores/{storeId}/stats' },
  },
  streamInfo: {
    role: 'read',
    idempotent: true,
    params: [P.storeId, P.streamId],
    result: StreamInfo,
    http: { method: 'GET', path: '/stores/{storeId}/streams/{streamId}/info' },
  },
  eventTypeSummary: {
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: Type.Array(Type.Object({ eventType: Type.String(), count: Integer })),
    http: { method: 'GET', path: '/stores/{storeId}/event-types', responseKey: 'eventTypes' },
  },
  getMemoryLevel: {
    summary: "The answering node's memory pressure level.",
    role: 'read',
    idempotent: true,
    params: [],
    result: MemoryLevel,
  },
  getMemoryStats: {
    summary: "The answering node's memory level, bytes used, budget and last check.",
    role: 'read',
    idempotent: true,
    params: [],
    result: MemoryStats,
    http: { method: 'GET', path: '/node/memory' },
  },
} satisfies OperationTable<
  | 'getEffects'
  | 'getCause'
  | 'getCausationChain'
  | 'getCorrelated'
  | 'buildCausationGraph'
  | 'registerSchema'
  | 'getSchema'
  | 'listSchemas'
  | 'listSchemaPage'
  | 'getSchemaVersion'
  | 'unregisterSchema'
  | 'upcastEvents'
  | 'storeStats'
  | 'streamInfo'
  | 'eventTypeSummary'
  | 'getMemoryLevel'
  | 'getMemoryStats'
>;
