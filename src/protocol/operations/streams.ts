import { Type } from '@sinclair/typebox';
import { LIMITS } from '../../core/limits.js';
import { optionalParam, param, type OperationEntry, type OperationTable } from '../operation.js';
import {
  Direction,
  EventList,
  ExpectedVersion,
  Integer,
  ListStreamsOptions,
  NewEventList,
  Nullable,
  P,
  StreamId,
} from '../schemas.js';

const AppendResult = Type.Object(
  { version: Integer, position: Integer },
  { title: 'AppendResult' },
);

const StreamWrite = Type.Object(
  { streamId: StreamId, expectedVersion: Type.Optional(ExpectedVersion), events: NewEventList },
  { title: 'StreamWrite' },
);

const streamRead = (summary: string): OperationEntry<'streamForward' | 'streamBackward'> => ({
  summary,
  role: 'read',
  idempotent: true,
  params: [P.storeId, P.streamId, param('startVersion', Integer), param('count', Integer)],
  result: EventList,
});

/** Appending to streams, reading one stream, deleting it. */
export const STREAM_OPERATIONS = {
  appendEvents: {
    summary:
      'Appends events to one stream atomically; returns the version and position of the last event.',
    role: 'write',
    idempotent: true,
    params: [
      P.storeId,
      P.streamId,
      param('events', NewEventList),
      optionalParam('expectedVersion', ExpectedVersion),
    ],
    result: AppendResult,
    http: {
      method: 'POST',
      path: '/stores/{storeId}/streams/{streamId}',
      body: ['events', 'expectedVersion'],
    },
  },
  appendBatch: {
    role: 'write',
    idempotent: true,
    params: [
      P.storeId,
      param('writes', Type.Array(StreamWrite, { maxItems: LIMITS.maxWritesPerBatch })),
    ],
    result: Type.Object(
      {
        results: Type.Array(
          Type.Object({ streamId: Type.String(), version: Integer, position: Integer }),
        ),
      },
      { title: 'BatchAppendResult' },
    ),
    http: { method: 'POST', path: '/stores/{storeId}/batch', body: ['writes'] },
  },
  getEvents: {
    summary: 'Reads a stream forward or backward from `startVersion` (-1 backward = from the end).',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      P.streamId,
      param('startVersion', Integer),
      param('count', Integer),
      optionalParam('direction', Direction),
    ],
    result: EventList,
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
    role: 'read',
    idempotent: true,
    params: [P.storeId, P.streamId],
    result: Integer,
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
    result: Type.Boolean(),
    http: {
      method: 'GET',
      path: '/stores/{storeId}/streams/{streamId}/exists',
      responseKey: 'exists',
    },
  },
  getStreams: {
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: Type.Array(Type.String()),
  },
  listStreams: {
    role: 'read',
    idempotent: true,
    params: [P.storeId, optionalParam('options', ListStreamsOptions)],
    result: Type.Object(
      { streams: Type.Array(Type.String()), next: Nullable(Type.String()) },
      { title: 'StreamPage' },
    ),
    http: {
      method: 'GET',
      path: '/stores/{storeId}/streams',
      query: {
        after: { param: 'options', field: 'after' },
        limit: { param: 'options', field: 'limit' },
        prefix: { param: 'options', field: 'prefix' },
        pattern: { param: 'options', field: 'pattern' },
      },
    },
  },
  deleteStream: {
    summary:
      'Hard-deletes every event of a stream (idempotent: a missing stream answers deleted: false).',
    role: 'write',
    idempotent: true,
    params: [P.storeId, P.streamId],
    result: Type.Object(
      { streamId: Type.String(), deleted: Type.Boolean(), deletedCount: Integer },
      { title: 'DeleteStreamResult' },
    ),
    http: { method: 'DELETE', path: '/stores/{storeId}/streams/{streamId}' },
  },
  hasEvents: {
    summary: 'Whether the store holds any event.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: Type.Boolean(),
    http: { method: 'GET', path: '/stores/{storeId}/has-events', responseKey: 'hasEvents' },
  },
} satisfies OperationTable<
  | 'appendEvents'
  | 'appendBatch'
  | 'getEvents'
  | 'streamForward'
  | 'streamBackward'
  | 'getVersion'
  | 'streamExists'
  | 'getStreams'
  | 'listStreams'
  | 'deleteStream'
  | 'hasEvents'
>;
