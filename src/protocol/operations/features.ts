import { Type } from '@sinclair/typebox';
import { optionalParam, param, type OperationTable } from '../operation.js';
import {
  AnyJson,
  EventList,
  Integer,
  JsonObject,
  ListOptionFields,
  ListOptions,
  Micros,
  NonEmpty,
  Nullable,
  Nothing,
  P,
  StreamId,
} from '../schemas.js';
import { StringEnum } from '../schema.js';

const SnapshotSummary = Type.Object(
  {
    sourceUuid: Type.String(),
    streamUuid: Type.String(),
    version: Integer,
    createdAt: Type.String(),
  },
  { title: 'SnapshotSummary' },
);

const Snapshot = Type.Object(
  { ...SnapshotSummary.properties, data: AnyJson, metadata: JsonObject() },
  { title: 'Snapshot' },
);

const SnapshotRecord = Type.Object(
  { data: AnyJson, metadata: Type.Optional(JsonObject()) },
  { title: 'SnapshotRecord', additionalProperties: false },
);

const ListArchivesOptions = Type.Object(
  { ...ListOptionFields, streamId: Type.Optional(StreamId) },
  { title: 'ListArchivesOptions' },
);

const TemporalOptions = Type.Object(
  { direction: Type.Optional(StringEnum(['forward', 'backward'])), limit: Type.Optional(Integer) },
  { additionalProperties: false },
);

const scavengeOptionFields = {
  before: Type.Optional(Micros),
  beforeVersion: Type.Optional(Integer),
  keepVersions: Type.Optional(Integer),
  requireSnapshot: Type.Optional(Type.Boolean()),
  archive: Type.Optional(Type.Boolean({ description: "true: the server's archive" })),
};

const ScavengeOptions = Type.Object(scavengeOptionFields, {
  title: 'ScavengeOptions',
  additionalProperties: false,
});

const scavengeResultFields = {
  streamId: Type.String(),
  deletedCount: Integer,
  deletedVersions: Type.Union([Type.Null(), Type.Array(Integer, { minItems: 2, maxItems: 2 })]),
  archived: Type.Boolean(),
  archiveKey: Type.Optional(Type.String()),
  dryRun: Type.Optional(Type.Boolean()),
};

const ScavengeResult = Type.Object(scavengeResultFields, { title: 'ScavengeResult' });

const ScavengeMatchingEntry = Type.Object(
  {
    ...Type.Partial(Type.Object(scavengeResultFields)).properties,
    streamId: Type.String(),
    ok: Type.Boolean(),
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  },
  {
    title: 'ScavengeMatchingEntry',
    description:
      'a ScavengeResult with `ok: true`, or `{ok: false, streamId, error: {code, message}}`',
  },
);

const snapshotKey = [
  P.storeId,
  param('sourceUuid', NonEmpty),
  param('streamUuid', NonEmpty),
] as const;

/** Snapshots, temporal queries, scavenging and its archive. */
export const FEATURE_OPERATIONS = {
  recordSnapshot: {
    summary:
      'Records the state of a stream at a version, as seen by a source; the same version again replaces it.',
    role: 'write',
    idempotent: true,
    params: [...snapshotKey, param('version', Integer), param('record', SnapshotRecord)],
    result: SnapshotSummary,
  },
  readSnapshot: {
    summary:
      "One snapshot; without `version` (or with `'latest'`) the highest. `not_found` if missing.",
    role: 'read',
    idempotent: true,
    params: [
      ...snapshotKey,
      optionalParam('version', Type.Union([Integer, StringEnum(['latest'])])),
    ],
    result: Snapshot,
  },
  deleteSnapshot: {
    role: 'write',
    idempotent: false,
    params: [...snapshotKey, param('version', Integer)],
    result: Nothing,
  },
  listSnapshots: {
    summary: 'Snapshots of a source, of a stream, or both, ascending by version.',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      optionalParam('sourceUuid', NonEmpty),
      optionalParam('streamUuid', NonEmpty),
    ],
    result: Type.Array(Snapshot),
  },
  listAllSnapshots: {
    summary:
      "The store's snapshots without their data, newest first, up to 100 000 (deprecated: page with listSnapshotPage).",
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: Type.Array(SnapshotSummary),
  },
  listSnapshotPage: {
    summary: "A page of the store's snapshots without their data, newest first.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, optionalParam('options', ListOptions)],
    result: Type.Object(
      { snapshots: Type.Array(SnapshotSummary), next: Nullable(Type.String()) },
      { title: 'SnapshotPage' },
    ),
    http: {
      method: 'GET',
      path: '/stores/{storeId}/snapshots',
      query: {
        after: { param: 'options', field: 'after' },
        limit: { param: 'options', field: 'limit' },
      },
    },
  },
  readUntil: {
    summary: "A stream's events written at or before a time (µs), from its time index.",
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      P.streamId,
      param('timestampUs', Micros),
      optionalParam('options', TemporalOptions),
    ],
    result: EventList,
  },
  readRange: {
    summary: "A stream's events written from `fromUs` to `toUs`, both included.",
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      P.streamId,
      param('fromUs', Micros),
      param('toUs', Micros),
      optionalParam('options', TemporalOptions),
    ],
    result: EventList,
  },
  versionAt: {
    summary: "The version of a stream's last event written at or before a time (µs); -1 if none.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, P.streamId, param('timestampUs', Micros)],
    result: Integer,
  },
  scavenge: {
    summary:
      "Deletes a stream's old events (archiving them first with `archive`); the stream keeps its version.",
    role: 'admin',
    idempotent: false,
    params: [P.storeId, P.streamId, optionalParam('options', ScavengeOptions)],
    result: ScavengeResult,
  },
  scavengeDryRun: {
    role: 'read',
    idempotent: true,
    params: [P.storeId, P.streamId, optionalParam('options', ScavengeOptions)],
    result: ScavengeResult,
  },
  scavengeMatching: {
    summary:
      'Scavenges every stream whose id matches a `*` pattern; each stream reports its outcome.',
    role: 'admin',
    idempotent: false,
    params: [
      P.storeId,
      param('pattern', NonEmpty),
      optionalParam(
        'options',
        Type.Object(
          { ...scavengeOptionFields, dryRun: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
      ),
    ],
    result: Type.Array(ScavengeMatchingEntry),
  },
  listArchives: {
    summary:
      "Keys of the store's archived ranges (`<store>/<stream>/<from>-<to>`), up to 100 000 (deprecated: page with listArchivePage).",
    role: 'read',
    idempotent: true,
    params: [P.storeId, optionalParam('streamId', StreamId)],
    result: Type.Array(Type.String()),
  },
  listArchivePage: {
    summary:
      "A page of the keys of the store's archived ranges (`<store>/<stream>/<from>-<to>`), by stream, then version.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, optionalParam('options', ListArchivesOptions)],
    result: Type.Object(
      { archives: Type.Array(Type.String()), next: Nullable(Type.String()) },
      { title: 'ArchivePage' },
    ),
    http: {
      method: 'GET',
      path: '/stores/{storeId}/archives',
      query: {
        after: { param: 'options', field: 'after' },
        limit: { param: 'options', field: 'limit' },
        streamId: { param: 'options', field: 'streamId' },
      },
    },
  },
  readArchive: {
    role: 'read',
    idempotent: true,
    params: [P.storeId, param('key', NonEmpty)],
    result: EventList,
  },
} satisfies OperationTable<
  | 'recordSnapshot'
  | 'readSnapshot'
  | 'deleteSnapshot'
  | 'listSnapshots'
  | 'listAllSnapshots'
  | 'listSnapshotPage'
  | 'readUntil'
  | 'readRange'
  | 'versionAt'
  | 'scavenge'
  | 'scavengeDryRun'
  | 'scavengeMatching'
  | 'listArchives'
  | 'listArchivePage'
  | 'readArchive'
>;
