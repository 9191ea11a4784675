import type { EventStoreApi, LinkApi, SubscriptionApi } from '../core/api.js';
import type { JsonSchema } from './schema.js';

/**
 * The one table of evdb's remote API. Every operation of `EventStoreApi` has an entry (the
 * `satisfies` clause below makes a missing one a compile error); from it the gateway builds its
 * routes and validates requests, the client builds its calls, and `npm run docs:api` writes
 * `docs/http-api.md`. Adding an operation to the API means adding one entry here.
 *
 * Every operation is reachable as `POST /rpc/{operation}` with its parameters by name in a JSON
 * body, answering `{"result": ...}`; that is what the client uses. Operations with an `http`
 * binding also have a resource-style route, for curl and other HTTP clients.
 */
export type OperationName = Exclude<keyof RemoteApi, 'close'>;

/**
 * The calls of the network API: every `EventStoreApi` operation, and the subscription and link
 * operations that take and return JSON (a link created remotely can only have a declarative
 * filter). `subscribe`, the live delivery, is not a call: the client offers it over the
 * WebSocket transport with frames of its own (`src/gateway/ws-subscriptions.ts`).
 */
export type RemoteApi = EventStoreApi & Omit<SubscriptionApi, 'subscribe'> & LinkApi;

/** read ⊂ write ⊂ admin. */
export type Role = 'read' | 'write' | 'admin';

export interface ParamSpec {
  /** The parameter's name: the key in an RPC body and in WebSocket call frames. */
  name: string;
  schema: JsonSchema;
  optional?: boolean;
}

export interface QueryParam {
  /** The operation parameter this query parameter fills. */
  param: string;
  /** Used when the query parameter is absent. */
  default?: string | number;
  /** Where a query parameter fills a field of an options object parameter. */
  field?: string;
}

export interface HttpBinding {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** `{name}` segments are filled from the parameter of that name (URL-encoded). */
  path: string;
  /** Query parameter name → operation parameter. Values are converted by the parameter's schema. */
  query?: Record<string, QueryParam>;
  /** Parameters read from the JSON body by their own names. */
  body?: readonly string[];
  /** Wraps the result as `{[responseKey]: result}`; without it the result is the body itself. */
  responseKey?: string;
  /** Success status; default 200 (204 when the operation returns nothing). */
  status?: number;
}

export interface OperationSpec {
  summary: string;
  /** The role a token needs. */
  role: Role;
  /**
   * True when sending the call again after an attempt with an unknown outcome (a reset
   * connection, a timeout) cannot change the result: reads, appends (the client fixes event ids
   * before the first attempt, so a resend is a replay) and idempotent deletes. Other calls are
   * retried only when the request provably had no effect.
   */
  idempotent: boolean;
  params: readonly ParamSpec[];
  /** The schema of the result (what `EventStoreApi` returns). */
  result: JsonSchema;
  http?: HttpBinding;
  /**
   * For reads of events in position order from a first position: the parameters that hold that
   * position and the number of events. The gateway may then answer in parts (see
   * `Dispatcher.execute`).
   */
  parts?: PartedRead;
}

export interface PartedRead {
  fromParam: string;
  countParam: string;
}

// ---------------------------------------------------------------------------------------------
// Shared schemas. Sizes mirror the store's LIMITS (a test checks that they agree); the store
// still validates everything itself, these catch malformed requests before they reach it.

export const SCHEMA_LIMITS = Object.freeze({
  maxStreamIdLength: 1024,
  maxEventsPerAppend: 10_000,
  maxWritesPerBatch: 1_000,
  maxTagsPerEvent: 64,
  maxQueryKeys: 100,
  maxReadCount: 100_000,
});

const storeId: JsonSchema = {
  title: 'StoreId',
  type: 'string',
  description: "1-48 characters a-z, 0-9, '_' or '-', starting with a letter or digit",
  maxLength: 48,
};
const streamId: JsonSchema = {
  title: 'StreamId',
  type: 'string',
  description: 'non-empty, at most 1 KiB of UTF-8, no NUL; ids starting with $ are reserved',
  maxLength: SCHEMA_LIMITS.maxStreamIdLength,
};
const integer: JsonSchema = { type: 'integer' };
const expectedVersion: JsonSchema = {
  title: 'ExpectedVersion',
  type: 'integer',
  description:
    'an exact version (>= 0), -1 NO_STREAM, -2 ANY_VERSION (default) or -4 STREAM_EXISTS',
};
const jsonObject: JsonSchema = { type: 'object' };
const stringList = (max: number): JsonSchema => ({
  type: 'array',
  items: { type: 'string' },
  maxItems: max,
});

const JsonData: JsonSchema = {
  title: 'Data',
  description:
    'Any JSON value, or binary data as {"$bytes": "<base64>"}. A JSON object whose only key is ' +
    '"$bytes" or "$literal" is sent wrapped as {"$literal": {...}}.',
  bytes: true,
};

export const NewEventSchema: JsonSchema = {
  title: 'NewEvent',
  type: 'object',
  required: ['eventType'],
  properties: {
    eventType: { type: 'string' },
    data: JsonData,
    metadata: jsonObject,
    tags: stringList(SCHEMA_LIMITS.maxTagsPerEvent),
    eventId: { type: 'string', description: 'a UUID; the client fixes a UUIDv7 when absent' },
    causationId: { type: ['string', 'null'] },
    correlationId: { type: ['string', 'null'] },
    dataContentType: { type: 'string' },
    metadataContentType: { type: 'string' },
  },
};

export const EventRecordSchema: JsonSchema = {
  title: 'EventRecord',
  type: 'object',
  required: [
    'eventId',
    'eventType',
    'streamId',
    'version',
    'position',
    'data',
    'metadata',
    'tags',
    'dataContentType',
    'metadataContentType',
    'timestamp',
    'epochUs',
  ],
  properties: {
    eventId: { type: 'string' },
    eventType: { type: 'string' },
    streamId: { type: 'string' },
    version: integer,
    position: integer,
    data: JsonData,
    metadata: jsonObject,
    tags: { type: 'array', items: { type: 'string' } },
    causationId: { type: 'string' },
    correlationId: { type: 'string' },
    dataContentType: { type: 'string' },
    metadataContentType: { type: 'string' },
    timestamp: { type: 'integer', description: 'ms since the Unix epoch' },
    epochUs: { type: 'integer', description: 'µs since the Unix epoch' },
  },
};

const eventList: JsonSchema = { type: 'array', items: EventRecordSchema };

const newEventList: JsonSchema = {
  type: 'array',
  items: NewEventSchema,
  maxItems: SCHEMA_LIMITS.maxEventsPerAppend,
};

export const AppendResultSchema: JsonSchema = {
  title: 'AppendResult',
  type: 'object',
  required: ['version', 'position'],
  properties: { version: integer, position: integer },
};

export const StoreConfigSchema: JsonSchema = {
  title: 'StoreConfig',
  type: 'object',
  required: ['storeId', 'createdAt', 'settings'],
  properties: { storeId: { type: 'string' }, createdAt: { type: 'string' }, settings: jsonObject },
};

export const StoreStatusSchema: JsonSchema = {
  title: 'StoreStatus',
  type: 'object',
  required: ['storeId', 'status', 'backend', 'streamCount', 'totalEvents', 'lastPosition'],
  properties: {
    storeId: { type: 'string' },
    status: { enum: ['open', 'closed'] },
    backend: { type: 'string' },
    streamCount: integer,
    totalEvents: integer,
    lastPosition: integer,
  },
};

export const WorkerInfoSchema: JsonSchema = {
  title: 'WorkerInfo',
  type: 'object',
  required: ['nodeId', 'host', 'startedAt', 'lastHeartbeat'],
  properties: {
    nodeId: { type: 'string' },
    host: { type: 'string' },
    url: { type: 'string', description: 'absent for an embedded store' },
    startedAt: { type: 'integer', description: 'ms since the Unix epoch' },
    lastHeartbeat: {
      type: 'integer',
      description: "ms since the Unix epoch, on the worker's clock",
    },
  },
};

const WorkerRegistrationSchema: JsonSchema = {
  title: 'WorkerRegistration',
  type: 'object',
  required: ['nodeId', 'host'],
  additionalProperties: false,
  properties: {
    nodeId: { type: 'string', minLength: 1, maxLength: 256 },
    host: { type: 'string', minLength: 1, maxLength: 256 },
    url: { type: 'string', maxLength: 2048 },
    ttlMs: { type: 'integer', minimum: 100, maximum: 3_600_000, description: 'default 15 000' },
  },
};

const failure: JsonSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' } },
};

export const StoreHealthSchema: JsonSchema = {
  title: 'StoreHealth',
  type: 'object',
  required: ['storeId', 'status', 'latencyMs', 'workers', 'timestamp'],
  properties: {
    storeId: { type: 'string' },
    status: { enum: ['healthy', 'unhealthy'] },
    latencyMs: { type: 'number' },
    lastPosition: integer,
    workers: { type: 'integer', description: 'live workers of the store' },
    error: failure,
    timestamp: integer,
  },
};

export const HealthReportSchema: JsonSchema = {
  title: 'HealthReport',
  type: 'object',
  required: ['status', 'stores', 'workers', 'node', 'timestamp'],
  properties: {
    status: { enum: ['healthy', 'degraded', 'unhealthy'] },
    stores: { type: 'array', items: StoreHealthSchema },
    workers: { type: 'array', items: WorkerInfoSchema },
    node: {
      type: 'object',
      description: 'this node: a WorkerInfo with uptimeMs',
      required: ['nodeId', 'host', 'startedAt', 'lastHeartbeat', 'uptimeMs'],
    },
    timestamp: integer,
    error: failure,
  },
};

const pageOptions: JsonSchema = {
  type: 'object',
  properties: { fromPosition: integer, count: integer },
};

const tagOptions: JsonSchema = {
  type: 'object',
  properties: { fromPosition: integer, count: integer, match: { enum: ['any', 'all'] } },
};

const streamWrite: JsonSchema = {
  title: 'StreamWrite',
  type: 'object',
  required: ['streamId', 'events'],
  properties: { streamId, expectedVersion, events: newEventList },
};

const nothing: JsonSchema = { type: 'null', description: 'nothing (HTTP 204)' };

const P = {
  storeId: { name: 'storeId', schema: storeId },
  streamId: { name: 'streamId', schema: streamId },
} as const;

const streamRead = (summary: string): OperationSpec => ({
  summary,
  role: 'read',
  idempotent: true,
  params: [
    P.storeId,
    P.streamId,
    { name: 'startVersion', schema: integer },
    { name: 'count', schema: integer },
  ],
  result: eventList,
});

// ---- store features (SPEC §4-8, §11, §15) ----------------------------------------------------

const anyJson: JsonSchema = { description: 'any JSON value' };
const nonEmpty: JsonSchema = { type: 'string', minLength: 1 };
const micros: JsonSchema = { type: 'integer', description: 'µs since the Unix epoch' };

const SnapshotSummarySchema: JsonSchema = {
  title: 'SnapshotSummary',
  type: 'object',
  required: ['sourceUuid', 'streamUuid', 'version', 'createdAt'],
  properties: {
    sourceUuid: { type: 'string' },
    streamUuid: { type: 'string' },
    version: integer,
    createdAt: { type: 'string' },
  },
};

const SnapshotSchema: JsonSchema = {
  title: 'Snapshot',
  type: 'object',
  required: ['sourceUuid', 'streamUuid', 'version', 'createdAt', 'data', 'metadata'],
  properties: { ...SnapshotSummarySchema.properties, data: anyJson, metadata: jsonObject },
};

const SnapshotRecordSchema: JsonSchema = {
  title: 'SnapshotRecord',
  type: 'object',
  required: ['data'],
  additionalProperties: false,
  properties: { data: anyJson, metadata: jsonObject },
};

const temporalOptions: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { direction: { enum: ['forward', 'backward'] }, limit: integer },
};

const scavengeOptionFields: Record<string, JsonSchema> = {
  before: micros,
  beforeVersion: integer,
  keepVersions: integer,
  requireSnapshot: { type: 'boolean' },
  archive: { type: 'boolean', description: "true: the server's archive" },
};

const ScavengeOptionsSchema: JsonSchema = {
  title: 'ScavengeOptions',
  type: 'object',
  additionalProperties: false,
  properties: scavengeOptionFields,
};

const ScavengeResultSchema: JsonSchema = {
  title: 'ScavengeResult',
  type: 'object',
  required: ['streamId', 'deletedCount', 'deletedVersions', 'archived'],
  properties: {
    streamId: { type: 'string' },
    deletedCount: integer,
    deletedVersions: {
      anyOf: [{ type: 'null' }, { type: 'array', items: integer, minItems: 2, maxItems: 2 }],
    },
    archived: { type: 'boolean' },
    archiveKey: { type: 'string' },
    dryRun: { type: 'boolean' },
  },
};

const ScavengeMatchingEntrySchema: JsonSchema = {
  title: 'ScavengeMatchingEntry',
  description:
    'a ScavengeResult with `ok: true`, or `{ok: false, streamId, error: {code, message}}`',
  type: 'object',
  required: ['ok', 'streamId'],
  properties: {
    ...ScavengeResultSchema.properties,
    ok: { type: 'boolean' },
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
};

const CausationGraphSchema: JsonSchema = {
  title: 'CausationGraph',
  type: 'object',
  required: ['root', 'nodes', 'edges', 'truncated'],
  properties: {
    root: { type: ['string', 'null'] },
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['eventId', 'eventType', 'streamId', 'version', 'position', 'epochUs'],
        properties: {
          eventId: { type: 'string' },
          eventType: { type: 'string' },
          streamId: { type: 'string' },
          version: integer,
          position: integer,
          epochUs: integer,
          causationId: { type: 'string' },
          correlationId: { type: 'string' },
        },
      },
    },
    edges: {
      type: 'array',
      items: {
        type: 'object',
        required: ['from', 'to'],
        properties: { from: { type: 'string' }, to: { type: 'string' } },
      },
    },
    truncated: { type: 'boolean' },
  },
};

const SchemaDescriptionSchema: JsonSchema = {
  title: 'SchemaDescription',
  description: 'upcasters and validators are code: register them in the serving process',
  type: 'object',
  required: ['version'],
  additionalProperties: false,
  properties: { version: integer, description: { type: 'string' } },
};

const SchemaInfoSchema: JsonSchema = {
  title: 'SchemaInfo',
  type: 'object',
  required: ['eventType', 'version', 'description', 'registeredAt', 'upcasters', 'validates'],
  properties: {
    eventType: { type: 'string' },
    version: integer,
    description: { type: ['string', 'null'] },
    registeredAt: { type: 'string' },
    upcasters: { type: 'array', items: integer },
    validates: { type: 'boolean' },
  },
};

const StoreStatsSchema: JsonSchema = {
  title: 'StoreStats',
  type: 'object',
  required: [
    'storeId',
    'streamCount',
    'totalEvents',
    'snapshotCount',
    'subscriptionCount',
    'hasEvents',
    'diskBytes',
  ],
  properties: {
    storeId: { type: 'string' },
    streamCount: integer,
    totalEvents: integer,
    snapshotCount: integer,
    subscriptionCount: integer,
    hasEvents: { type: 'boolean' },
    diskBytes: integer,
  },
};

const StreamInfoSchema: JsonSchema = {
  title: 'StreamInfo',
  type: 'object',
  required: ['streamId', 'version', 'eventCount', 'firstEventAt', 'lastEventAt', 'snapshots'],
  properties: {
    streamId: { type: 'string' },
    version: integer,
    eventCount: integer,
    firstEventAt: { type: ['integer', 'null'], description: 'epochUs of the first stored event' },
    lastEventAt: { type: ['integer', 'null'], description: 'epochUs of the last stored event' },
    snapshots: {
      type: 'object',
      required: ['count', 'latestVersion'],
      properties: { count: integer, latestVersion: { type: ['integer', 'null'] } },
    },
  },
};

const memoryLevel: JsonSchema = { enum: ['normal', 'elevated', 'critical'] };

const MemoryStatsSchema: JsonSchema = {
  title: 'MemoryStats',
  type: 'object',
  required: ['level', 'used', 'total', 'lastCheck'],
  properties: {
    level: memoryLevel,
    used: integer,
    total: integer,
    lastCheck: { type: 'integer', description: 'ms since the Unix epoch' },
  },
};

const snapshotKey = [
  P.storeId,
  { name: 'sourceUuid', schema: nonEmpty },
  { name: 'streamUuid', schema: nonEmpty },
] as const;

// ---- subscriptions and links (SPEC §3, §9) -----------------------------------------------------

const subscriptionType: JsonSchema = {
  enum: ['by_stream', 'by_event_type', 'by_event_pattern', 'by_event_payload', 'by_tags'],
};
const selector: JsonSchema = {
  title: 'SubscriptionSelector',
  type: ['string', 'object'],
  description:
    'by_stream: a stream id or $all; by_event_type: a type; by_event_pattern and by_event_payload: an object; by_tags: {tags, match?}',
};
const startFrom: JsonSchema = {
  type: ['integer', 'string'],
  description: "a global position (0: the beginning), or 'current' (or -1): only later events",
};

const SubscriptionInfoSchema: JsonSchema = {
  title: 'SubscriptionInfo',
  type: 'object',
  required: ['name', 'type', 'selector', 'startFrom', 'createdAt', 'checkpoint'],
  properties: {
    name: { type: 'string' },
    type: subscriptionType,
    selector,
    startFrom,
    createdAt: { type: 'string' },
    checkpoint: {
      type: 'integer',
      description: 'acknowledged up to this global position (-1: none)',
    },
  },
};

const linkSource: JsonSchema = {
  title: 'LinkSource',
  type: 'object',
  required: ['type'],
  description: "{type: 'stream', streamId} | {type: 'stream_pattern', pattern} | {type: 'all'}",
  properties: {
    type: { enum: ['stream', 'stream_pattern', 'all'] },
    streamId: { type: 'string' },
    pattern: { type: 'string' },
  },
};

const LinkDefinitionSchema: JsonSchema = {
  title: 'LinkDefinition',
  type: 'object',
  required: ['name', 'source', 'code', 'backfill', 'status', 'linkStream', 'createdAt'],
  properties: {
    name: { type: 'string' },
    source: linkSource,
    filter: { type: 'object', description: 'the declarative filter (an event pattern), if any' },
    code: {
      type: 'object',
      description: 'whether the link needs filter or transform code in the process that runs it',
    },
    backfill: { type: 'boolean' },
    status: { enum: ['running', 'stopped'] },
    linkStream: { type: 'string' },
    createdAt: { type: 'string' },
  },
};

const subscriptionName = { name: 'name', schema: { type: 'string', minLength: 1 } } as const;

export const OPERATIONS = {
  createStore: {
    summary: 'Creates a store; `already_exists` if it exists.',
    role: 'admin',
    idempotent: false,
    params: [P.storeId, { name: 'settings', schema: jsonObject, optional: true }],
    result: StoreConfigSchema,
    http: { method: 'PUT', path: '/stores/{storeId}', body: ['settings'], status: 201 },
  },
  removeStore: {
    summary: 'Removes a store and all its data; `not_found` if it does not exist.',
    role: 'admin',
    idempotent: false,
    params: [P.storeId],
    result: nothing,
    http: { method: 'DELETE', path: '/stores/{storeId}' },
  },
  listStores: {
    summary: 'Store ids, sorted (only those the token may read).',
    role: 'read',
    idempotent: true,
    params: [],
    result: stringList(Number.MAX_SAFE_INTEGER),
    http: { method: 'GET', path: '/stores', responseKey: 'stores' },
  },
  getStoreConfig: {
    summary: "The store's id, creation time and settings.",
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: StoreConfigSchema,
    http: { method: 'GET', path: '/stores/{storeId}' },
  },
  getStoreStatus: {
    summary: 'Backend, stream and event counts, last position.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: StoreStatusSchema,
    http: { method: 'GET', path: '/stores/{storeId}/status' },
  },
  appendEvents: {
    summary:
      'Appends events to one stream atomically; returns the version and position of the last event.',
    role: 'write',
    idempotent: true,
    params: [
      P.storeId,
      P.streamId,
      { name: 'events', schema: newEventList },
      { name: 'expectedVersion', schema: expectedVersion, optional: true },
    ],
    result: AppendResultSchema,
    http: {
      method: 'POST',
      path: '/stores/{storeId}/streams/{streamId}',
      body: ['events', 'expectedVersion'],
    },
  },
  appendBatch: {
    summary: 'Appends to several streams in one atomic step: every write succeeds or none does.',
    role: 'write',
    idempotent: true,
    params: [
      P.storeId,
      {
        name: 'writes',
        schema: { type: 'array', items: streamWrite, maxItems: SCHEMA_LIMITS.maxWritesPerBatch },
      },
    ],
    result: {
      title: 'BatchAppendResult',
      type: 'object',
      required: ['results'],
      properties: {
        results: {
          type: 'array',
          items: {
            type: 'object',
            required: ['streamId', 'version', 'position'],
            properties: { streamId: { type: 'string' }, version: integer, position: integer },
          },
        },
      },
    },
    http: { method: 'POST', path: '/stores/{storeId}/batch', body: ['writes'] },
  },
  getEvents: {
    summary: 'Reads a stream forward or backward from `startVersion` (-1 backward = from the end).',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      P.streamId,
      { name: 'startVersion', schema: integer },
      { name: 'count', schema: integer },
      { name: 'direction', schema: { enum: ['forward', 'backward'] }, optional: true },
    ],
    result: eventList,
    http: {
      method: 'GET',
      path: '/stores/{storeId}/streams/{streamId}',
      query: {
        from: { param: 'startVersion', default: 0 },
        count: { param: 'count', default: 1000 },
        direction: { param: 'direction', default: 'forward' },
      },
      responseKey: 'events',
    },
  },
  streamForward: streamRead('Reads a stream forward from `startVersion`.'),
  streamBackward: streamRead(
    'Reads a stream backward from `startVersion`; -1 starts at the last event.',
  ),
  getVersion: {
    summary: "The stream's version; -1 for a missing or empty stream.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, P.streamId],
    result: integer,
    http: {
      method: 'GET',
      path: '/stores/{storeId}/streams/{streamId}/version',
      responseKey: 'version',
    },
  },
  streamExists: {
    summary: 'Whether the stream has events.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, P.streamId],
    result: { type: 'boolean' },
    http: {
      method: 'GET',
      path: '/stores/{storeId}/streams/{streamId}/exists',
      responseKey: 'exists',
    },
  },
  getStreams: {
    summary: 'Stream ids, sorted.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: { type: 'array', items: { type: 'string' } },
    http: { method: 'GET', path: '/stores/{storeId}/streams', responseKey: 'streams' },
  },
  deleteStream: {
    summary:
      'Hard-deletes every event of a stream (idempotent: a missing stream answers deleted: false).',
    role: 'write',
    idempotent: true,
    params: [P.storeId, P.streamId],
    result: {
      title: 'DeleteStreamResult',
      type: 'object',
      required: ['streamId', 'deleted', 'deletedCount'],
      properties: {
        streamId: { type: 'string' },
        deleted: { type: 'boolean' },
        deletedCount: integer,
      },
    },
    http: { method: 'DELETE', path: '/stores/{storeId}/streams/{streamId}' },
  },
  hasEvents: {
    summary: 'Whether the store holds any event.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: { type: 'boolean' },
    http: { method: 'GET', path: '/stores/{storeId}/has-events', responseKey: 'hasEvents' },
  },
  readAllGlobal: {
    summary: 'Events of every stream in global order from `fromPosition` (inclusive).',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      { name: 'fromPosition', schema: integer },
      { name: 'count', schema: integer },
    ],
    result: eventList,
    http: {
      method: 'GET',
      path: '/stores/{storeId}/all',
      query: {
        from: { param: 'fromPosition', default: 0 },
        count: { param: 'count', default: 1000 },
      },
      responseKey: 'events',
    },
    parts: { fromParam: 'fromPosition', countParam: 'count' },
  },
  readByEventTypes: {
    summary: 'Events of the given types, in global order, from the type index.',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      { name: 'eventTypes', schema: stringList(SCHEMA_LIMITS.maxQueryKeys) },
      { name: 'options', schema: pageOptions, optional: true },
    ],
    result: eventList,
  },
  readByTags: {
    summary: 'Events with any or all of the tags, in global order, from the tag index.',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      { name: 'tags', schema: stringList(SCHEMA_LIMITS.maxQueryKeys) },
      { name: 'options', schema: tagOptions, optional: true },
    ],
    result: eventList,
  },
  getWorkers: {
    summary: 'The live workers of a store (server nodes serving it), sorted by node id.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: { type: 'array', items: WorkerInfoSchema },
    http: { method: 'GET', path: '/stores/{storeId}/workers', responseKey: 'workers' },
  },
  registerWorker: {
    summary:
      'Without `worker`: lists the answering node as a worker of the store again. With one: lists that worker until its `ttlMs` runs out (register again to renew).',
    role: 'admin',
    idempotent: true,
    params: [P.storeId, { name: 'worker', schema: WorkerRegistrationSchema, optional: true }],
    result: WorkerInfoSchema,
    http: { method: 'POST', path: '/stores/{storeId}/workers', body: ['worker'] },
  },
  unregisterWorker: {
    summary:
      "Removes a worker (default: the answering node) from the store's list; false if it was not listed.",
    role: 'admin',
    idempotent: true,
    params: [
      P.storeId,
      { name: 'nodeId', schema: { type: 'string', minLength: 1 }, optional: true },
    ],
    result: { type: 'boolean' },
    http: {
      method: 'DELETE',
      path: '/stores/{storeId}/workers/{nodeId}',
      responseKey: 'unregistered',
    },
  },
  health: {
    summary:
      "The answering node's health: `healthy`, `degraded` (a store failed its check) or `unhealthy` (the stores cannot be listed, or the node is closing), with its stores (those the token may read) and the workers it sees.",
    role: 'read',
    idempotent: true,
    params: [],
    result: HealthReportSchema,
    http: { method: 'GET', path: '/node/health' },
  },
  quickHealthCheck: {
    summary: "One store's health, from one cheap read.",
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: StoreHealthSchema,
    http: { method: 'GET', path: '/stores/{storeId}/health' },
  },
  recordSnapshot: {
    summary:
      'Records the state of a stream at a version, as seen by a source; the same version again replaces it.',
    role: 'write',
    idempotent: true,
    params: [
      ...snapshotKey,
      { name: 'version', schema: integer },
      { name: 'record', schema: SnapshotRecordSchema },
    ],
    result: SnapshotSummarySchema,
  },
  readSnapshot: {
    summary:
      "One snapshot; without `version` (or with `'latest'`) the highest. `not_found` if missing.",
    role: 'read',
    idempotent: true,
    params: [
      ...snapshotKey,
      { name: 'version', schema: { anyOf: [integer, { enum: ['latest'] }] }, optional: true },
    ],
    result: SnapshotSchema,
  },
  deleteSnapshot: {
    summary: 'Deletes one snapshot; `not_found` if missing.',
    role: 'write',
    idempotent: false,
    params: [...snapshotKey, { name: 'version', schema: integer }],
    result: nothing,
  },
  listSnapshots: {
    summary: 'Snapshots of a source, of a stream, or both, ascending by version.',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      { name: 'sourceUuid', schema: nonEmpty, optional: true },
      { name: 'streamUuid', schema: nonEmpty, optional: true },
    ],
    result: { type: 'array', items: SnapshotSchema },
  },
  listAllSnapshots: {
    summary: "The store's snapshots without their data, newest first.",
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: { type: 'array', items: SnapshotSummarySchema },
    http: { method: 'GET', path: '/stores/{storeId}/snapshots', responseKey: 'snapshots' },
  },
  readUntil: {
    summary: "A stream's events written at or before a time (µs), from its time index.",
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      P.streamId,
      { name: 'timestampUs', schema: micros },
      { name: 'options', schema: temporalOptions, optional: true },
    ],
    result: eventList,
  },
  readRange: {
    summary: "A stream's events written from `fromUs` to `toUs`, both included.",
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      P.streamId,
      { name: 'fromUs', schema: micros },
      { name: 'toUs', schema: micros },
      { name: 'options', schema: temporalOptions, optional: true },
    ],
    result: eventList,
  },
  versionAt: {
    summary: "The version of a stream's last event written at or before a time (µs); -1 if none.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, P.streamId, { name: 'timestampUs', schema: micros }],
    result: integer,
  },
  scavenge: {
    summary:
      "Deletes a stream's old events (archiving them first with `archive`); the stream keeps its version.",
    role: 'admin',
    idempotent: false,
    params: [
      P.storeId,
      P.streamId,
      { name: 'options', schema: ScavengeOptionsSchema, optional: true },
    ],
    result: ScavengeResultSchema,
  },
  scavengeDryRun: {
    summary: 'What `scavenge` would delete, deleting nothing.',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      P.streamId,
      { name: 'options', schema: ScavengeOptionsSchema, optional: true },
    ],
    result: ScavengeResultSchema,
  },
  scavengeMatching: {
    summary:
      'Scavenges every stream whose id matches a `*` pattern; each stream reports its outcome.',
    role: 'admin',
    idempotent: false,
    params: [
      P.storeId,
      { name: 'pattern', schema: nonEmpty },
      {
        name: 'options',
        schema: {
          type: 'object',
          additionalProperties: false,
          properties: { ...scavengeOptionFields, dryRun: { type: 'boolean' } },
        },
        optional: true,
      },
    ],
    result: { type: 'array', items: ScavengeMatchingEntrySchema },
  },
  listArchives: {
    summary: "Keys of the store's archived ranges (`<store>/<stream>/<from>-<to>`).",
    role: 'read',
    idempotent: true,
    params: [P.storeId, { name: 'streamId', schema: streamId, optional: true }],
    result: { type: 'array', items: { type: 'string' } },
  },
  readArchive: {
    summary: 'The events of an archived range; `not_found` if there is none.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, { name: 'key', schema: nonEmpty }],
    result: eventList,
  },
  getEffects: {
    summary: 'Events caused by an event (their `causationId` is its id), in global order.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, { name: 'eventId', schema: nonEmpty }],
    result: eventList,
  },
  getCause: {
    summary: "The event an event's `causationId` names, or null.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, { name: 'eventId', schema: nonEmpty }],
    result: { anyOf: [EventRecordSchema, { type: 'null' }] },
  },
  getCausationChain: {
    summary: 'The causes from the root down to an event; stops at the first repeat on a cycle.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, { name: 'eventId', schema: nonEmpty }],
    result: eventList,
  },
  getCorrelated: {
    summary: 'Events with a correlation id, in global order.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, { name: 'correlationId', schema: nonEmpty }],
    result: eventList,
  },
  buildCausationGraph: {
    summary: 'The causation graph of a correlation id, or around an event id.',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      { name: 'id', schema: nonEmpty },
      {
        name: 'options',
        schema: { type: 'object', additionalProperties: false, properties: { maxNodes: integer } },
        optional: true,
      },
    ],
    result: CausationGraphSchema,
  },
  registerSchema: {
    summary:
      "Registers or updates an event type's schema description (upcasters and validators are registered in the serving process).",
    role: 'admin',
    idempotent: true,
    params: [
      P.storeId,
      { name: 'eventType', schema: nonEmpty },
      { name: 'schema', schema: SchemaDescriptionSchema },
    ],
    result: SchemaInfoSchema,
  },
  getSchema: {
    summary: "An event type's schema; `not_found` if it has none.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, { name: 'eventType', schema: nonEmpty }],
    result: SchemaInfoSchema,
  },
  listSchemas: {
    summary: "The store's schemas, by event type.",
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: { type: 'array', items: SchemaInfoSchema },
    http: { method: 'GET', path: '/stores/{storeId}/schemas', responseKey: 'schemas' },
  },
  getSchemaVersion: {
    summary: "An event type's registered version; `not_found` if it has no schema.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, { name: 'eventType', schema: nonEmpty }],
    result: integer,
  },
  unregisterSchema: {
    summary: "Removes an event type's schema; `not_found` if it has none.",
    role: 'admin',
    idempotent: false,
    params: [P.storeId, { name: 'eventType', schema: nonEmpty }],
    result: nothing,
  },
  upcastEvents: {
    summary:
      "Brings events to their types' registered schema versions; a missing upcaster is `not_found`.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, { name: 'events', schema: eventList }],
    result: eventList,
  },
  storeStats: {
    summary:
      'Streams, events, snapshots, subscriptions and bytes on disk, from maintained counters.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: StoreStatsSchema,
    http: { method: 'GET', path: '/stores/{storeId}/stats' },
  },
  streamInfo: {
    summary: "A stream's version, stored events, first and last times and snapshots.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, P.streamId],
    result: StreamInfoSchema,
    http: { method: 'GET', path: '/stores/{storeId}/streams/{streamId}/info' },
  },
  eventTypeSummary: {
    summary: 'Events per type, most frequent first.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: {
      type: 'array',
      items: {
        type: 'object',
        required: ['eventType', 'count'],
        properties: { eventType: { type: 'string' }, count: integer },
      },
    },
    http: { method: 'GET', path: '/stores/{storeId}/event-types', responseKey: 'eventTypes' },
  },
  getMemoryLevel: {
    summary: "The answering node's memory pressure level.",
    role: 'read',
    idempotent: true,
    params: [],
    result: memoryLevel,
  },
  getMemoryStats: {
    summary: "The answering node's memory level, bytes used, budget and last check.",
    role: 'read',
    idempotent: true,
    params: [],
    result: MemoryStatsSchema,
    http: { method: 'GET', path: '/node/memory' },
  },
  saveSubscription: {
    summary:
      'Creates a persistent subscription, or returns the existing one of that name, type and selector (keeping its checkpoint); a different type or selector replaces it.',
    role: 'write',
    idempotent: true,
    params: [
      P.storeId,
      {
        name: 'options',
        schema: {
          title: 'SaveSubscriptionOptions',
          type: 'object',
          required: ['name', 'type', 'selector'],
          properties: { name: { type: 'string' }, type: subscriptionType, selector, startFrom },
        },
      },
    ],
    result: SubscriptionInfoSchema,
    http: { method: 'POST', path: '/stores/{storeId}/subscriptions', body: ['options'] },
  },
  ackEvent: {
    summary:
      'Acknowledges a subscription up to and including an event (or a global position); returns the stored checkpoint.',
    role: 'write',
    idempotent: true,
    params: [
      P.storeId,
      subscriptionName,
      {
        name: 'eventOrPosition',
        schema: { anyOf: [{ type: 'integer' }, EventRecordSchema] },
      },
    ],
    result: integer,
  },
  getSubscriptions: {
    summary: 'The persistent subscriptions of a store, by name.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: { type: 'array', items: { type: 'object', title: 'SubscriptionDefinition' } },
  },
  getSubscription: {
    summary: 'One persistent subscription with its checkpoint; `not_found` if missing.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, subscriptionName],
    result: SubscriptionInfoSchema,
    http: { method: 'GET', path: '/stores/{storeId}/subscriptions/{name}' },
  },
  listStoreSubscriptions: {
    summary: 'The persistent subscriptions of a store with their checkpoints.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: { type: 'array', items: SubscriptionInfoSchema },
    http: {
      method: 'GET',
      path: '/stores/{storeId}/subscriptions',
      responseKey: 'subscriptions',
    },
  },
  subscriptionLag: {
    summary:
      'How far a subscription is behind: checkpoint, latest position and matching events after the checkpoint.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, subscriptionName],
    result: {
      title: 'SubscriptionLag',
      type: 'object',
      required: ['name', 'checkpoint', 'latestPosition', 'lagEvents', 'exact'],
      properties: {
        name: { type: 'string' },
        checkpoint: integer,
        latestPosition: integer,
        lagEvents: integer,
        exact: { type: 'boolean', description: 'false: an upper bound (too many to count)' },
      },
    },
    http: { method: 'GET', path: '/stores/{storeId}/subscriptions/{name}/lag' },
  },
  removeSubscription: {
    summary:
      'Removes a persistent subscription; `not_found` unless one of that name, type and selector exists.',
    role: 'write',
    idempotent: false,
    params: [
      P.storeId,
      { name: 'type', schema: subscriptionType },
      { name: 'selector', schema: selector },
      subscriptionName,
    ],
    result: nothing,
  },
  createLink: {
    summary:
      'Creates a link (a derived stream $link:<name>) and starts it. Remotely the filter can only be declarative (an event pattern).',
    role: 'write',
    idempotent: true,
    params: [
      P.storeId,
      {
        name: 'options',
        schema: {
          title: 'CreateLinkOptions',
          type: 'object',
          required: ['name', 'source'],
          additionalProperties: false,
          properties: {
            name: { type: 'string' },
            source: linkSource,
            filter: { type: 'object', description: 'an event pattern' },
            backfill: { type: 'boolean' },
          },
        },
      },
    ],
    result: LinkDefinitionSchema,
    http: { method: 'POST', path: '/stores/{storeId}/links', body: ['options'] },
  },
  getLink: {
    summary: 'One link; `not_found` if missing.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, subscriptionName],
    result: LinkDefinitionSchema,
    http: { method: 'GET', path: '/stores/{storeId}/links/{name}' },
  },
  listLinks: {
    summary: 'The links of a store.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: { type: 'array', items: LinkDefinitionSchema },
    http: { method: 'GET', path: '/stores/{storeId}/links', responseKey: 'links' },
  },
  linkInfo: {
    summary: "A link's status, events processed, last position and stream version.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, subscriptionName],
    result: {
      title: 'LinkInfo',
      type: 'object',
      required: [
        'name',
        'status',
        'processed',
        'lastPosition',
        'linkStream',
        'linkStreamVersion',
        'createdAt',
        'active',
      ],
      properties: {
        name: { type: 'string' },
        status: { enum: ['running', 'stopped'] },
        processed: integer,
        lastPosition: integer,
        linkStream: { type: 'string' },
        linkStreamVersion: integer,
        createdAt: { type: 'string' },
        active: { type: 'boolean' },
        lastError: { type: 'string' },
      },
    },
    http: { method: 'GET', path: '/stores/{storeId}/links/{name}/info' },
  },
  stopLink: {
    summary: 'Stops a link (it keeps its checkpoint).',
    role: 'write',
    idempotent: true,
    params: [P.storeId, subscriptionName],
    result: nothing,
  },
  startLink: {
    summary: 'Resumes a stopped link from where it stopped.',
    role: 'write',
    idempotent: true,
    params: [P.storeId, subscriptionName],
    result: nothing,
  },
  deleteLink: {
    summary: 'Stops a link and deletes it with its stream.',
    role: 'write',
    idempotent: false,
    params: [P.storeId, subscriptionName],
    result: nothing,
    http: { method: 'DELETE', path: '/stores/{storeId}/links/{name}' },
  },
} satisfies Record<OperationName, OperationSpec>;

export const OPERATION_NAMES = Object.keys(OPERATIONS) as OperationName[];

export function isOperationName(name: string): name is OperationName {
  return Object.prototype.hasOwnProperty.call(OPERATIONS, name);
}

/** The JSON body schema of `POST /rpc/{operation}`: the parameters by name. */
export function rpcBodySchema(spec: OperationSpec): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    required: spec.params.filter((p) => p.optional !== true).map((p) => p.name),
    properties: Object.fromEntries(spec.params.map((p) => [p.name, p.schema])),
  };
}

/** Named parameters (RPC body, WebSocket frame) → the positional arguments of the method. */
export function toArgs(spec: OperationSpec, named: Record<string, unknown>): unknown[] {
  const args = spec.params.map((p) => named[p.name]);
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
  return args;
}

/** Whether the operation works on one store (its `storeId` parameter), for authorization. */
export function addressesStore(spec: OperationSpec): boolean {
  return spec.params.some((p) => p.name === 'storeId');
}
