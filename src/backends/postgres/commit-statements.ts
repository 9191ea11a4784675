import { encodeEvent, type EventRow } from '../event-codec.js';
import type { CommitKeys, CommitPlan } from '../event-log.js';
import { eventsJson } from './events-json.js';
import { arrayLiteral, integer, literal } from './sql.js';
import { lastPositionOf, type NamedStatement, type StoreTables } from './statements.js';

/** The SQL of a group commit: the locked path's two round trips and the fast path's call. */

/**
 * Round trip 1 of a group commit on the locked path: begin, take the store's advisory lock,
 * then read the state, the heads and the event ids the planner will ask about. The reads are
 * statements of their own after the lock: under READ COMMITTED each takes its snapshot when it
 * starts, so they see every commit that finished before the lock was granted. (A read in the
 * same statement as the lock would use a snapshot from before the wait.)
 */
export function prefetchSql(
  t: StoreTables,
  lockKey: number,
  storeKey: number,
  keys: CommitKeys,
): string {
  return [
    'BEGIN ISOLATION LEVEL READ COMMITTED',
    `SELECT pg_advisory_xact_lock(${integer(lockKey)}, ${integer(storeKey)})`,
    ...prefetchReads(t, keys),
  ].join(';\n');
}

/**
 * What the planner reads: the store's state, the heads of the group's streams and the
 * locations of its caller-chosen event ids. Sent alone (without the lock) by the rebased path,
 * whose commit function checks under the lock what the plan used.
 */
export function prefetchReads(t: StoreTables, keys: CommitKeys): string[] {
  return [
    `SELECT s.store_key, ${lastPositionOf(t)}, s.generation FROM ${t.state} s WHERE s.id = 1`,
    `SELECT stream_id, version, last_position FROM ${t.streams} ` +
      `WHERE stream_id = ANY(${arrayLiteral(keys.streamIds, 'text')})`,
    // With the content, which only ids already stored return (the replay path).
    `SELECT event_id::text, stream_id, version, position, event_type, data, data_bytes, ` +
      `metadata, tags, data_content_type, metadata_content_type FROM ${t.events} ` +
      `WHERE event_id = ANY(${arrayLiteral(keys.eventIds, 'uuid')}) ` +
      // Outside link streams, with the condition of the partial index events_by_id.
      "AND left(stream_id, 6) <> '$link:'",
  ];
}

/** What a commit was planned against; `evdb_commit` writes only if it still holds. */
export interface CommitExpectation {
  lastPosition: number;
  generation: number;
  /** Streams planned as having no head. */
  absentStreams: string[];
  /** Caller-chosen event ids planned as not stored (outside link streams). */
  absentIds: string[];
}

/** The SQL types of `evdb_commit`'s arguments, in order (migrations.ts). */
const COMMIT_ARG_TYPES = [
  'integer', // lock key 1
  'integer', // lock key 2
  'integer', // store key
  'bigint', // expected last position
  'bigint', // expected generation
  'text[]', // streams planned as absent
  'uuid[]', // event ids planned as absent
  'jsonb', // the events (events-json.ts)
  'text[]', // tags: tag
  'bigint[]', // position
  'text[]', // heads: stream_id
  'bigint[]', // version
  'bigint[]', // last_position
  'bigint[]', // created_position
] as const;

type TableValue = number | string | Buffer | null;
type CommitArg = number | string | (number | string)[];

/**
 * An event's row in the column order of the store's events table, which keeps JSON data
 * (`data`) and bytes (`data_bytes`) in columns of their own.
 */
function tableRow(row: EventRow): TableValue[] {
  const [position, streamId, version, eventId, eventType, data, ...rest] = row;
  return typeof data === 'string'
    ? [position, streamId, version, eventId, eventType, data, null, ...rest]
    : [position, streamId, version, eventId, eventType, null, data, ...rest];
}

/** The arguments of `evdb_commit` for a plan, as JS values in the order of COMMIT_ARG_TYPES. */
export function commitArgs(
  lockKey: number,
  storeKey: number,
  expect: CommitExpectation,
  plan: CommitPlan,
): CommitArg[] {
  const events = plan.events;
  const tagNames: string[] = [];
  const tagPositions: number[] = [];
  const created = new Map<string, number>();
  for (const e of events) {
    for (const tag of e.tags) {
      tagNames.push(tag);
      tagPositions.push(e.position);
    }
    if (!created.has(e.streamId)) created.set(e.streamId, e.position);
  }
  const heads = [...plan.heads];
  return [
    lockKey,
    storeKey,
    storeKey,
    expect.lastPosition,
    expect.generation,
    expect.absentStreams,
    expect.absentIds,
    eventsJson(events.map(encodeEvent)),
    tagNames,
    tagPositions,
    heads.map(([streamId]) => streamId),
    heads.map(([, head]) => head.version),
    heads.map(([, head]) => head.lastPosition),
    // Used only when the stream is new: the position of its first event here.
    heads.map(([streamId, head]) => created.get(streamId) ?? head.lastPosition),
  ];
}

/**
 * The fast path: `evdb_commit` as one parameterised statement outside a transaction block,
 * which commits when it returns. One round trip; values travel as bind parameters.
 */
export function commitStatement(t: StoreTables, storeKey: number): NamedStatement {
  const params = COMMIT_ARG_TYPES.map((type, i) => `$${i + 1}::${type}`).join(', ');
  return { name: `evdb_${storeKey}_commit`, text: `SELECT ${t.commit}(${params})` };
}

/** `evdb_commit_one`'s SQL types: one event as scalars (migrations.ts). */
const COMMIT_ONE_ARG_TYPES = [
  'integer', // lock key 1
  'integer', // lock key 2
  'integer', // store key
  'bigint', // expected last position
  'bigint', // expected generation
  'text', // the stream, if planned as absent
  'uuid', // the caller-chosen event id, if any (planned as absent)
  'bigint', // position
  'text', // stream_id
  'bigint', // version
  'uuid', // event_id
  'text', // event_type
  'text', // data (JSON text)
  'bytea', // data_bytes
  'text', // metadata
  'text', // tags (JSON)
  'text', // causation_id
  'text', // correlation_id
  'text', // data_content_type
  'text', // metadata_content_type
  'bigint', // epoch_us
  'text[]', // tags, for the tag index
] as const;

/**
 * The arguments of `evdb_commit_one`, when the plan writes one event and consulted only its
 * stream (and at most its id): then its head is the event's version and position.
 */
export function commitOneArgs(
  lockKey: number,
  storeKey: number,
  expect: CommitExpectation,
  plan: CommitPlan,
): unknown[] | undefined {
  const [e, ...more] = plan.events;
  if (e === undefined || more.length > 0 || plan.heads.size !== 1) return undefined;
  if (expect.absentStreams.length > 1 || expect.absentIds.length > 1) return undefined;
  const head = plan.heads.get(e.streamId);
  if (head === undefined || head.version !== e.version || head.lastPosition !== e.position) {
    return undefined;
  }
  return [
    lockKey,
    storeKey,
    storeKey,
    expect.lastPosition,
    expect.generation,
    expect.absentStreams[0] ?? null,
    expect.absentIds[0] ?? null,
    ...tableRow(encodeEvent(e)),
    e.tags,
  ];
}

/**
 * `evdb_commit_rebased` (rebased-commit.ts): `evdb_commit`'s arguments, then the streams the
 * planner found with a head and the versions it planned against, which the function checks.
 */
export function rebasedCommitStatement(t: StoreTables, storeKey: number): NamedStatement {
  const types = [...COMMIT_ARG_TYPES, 'text[]', 'bigint[]'];
  const params = types.map((type, i) => `$${i + 1}::${type}`).join(', ');
  return { name: `evdb_${storeKey}_commit_rebased`, text: `SELECT ${t.commitRebased}(${params})` };
}

/**
 * `evdb_commit_fenced` (fenced-commit.ts): the write owner's lease and token, then
 * `evdb_commit_rebased`'s arguments.
 */
export function fencedCommitStatement(t: StoreTables, storeKey: number): NamedStatement {
  const types = ['text', 'bigint', ...COMMIT_ARG_TYPES, 'text[]', 'bigint[]'];
  const params = types.map((type, i) => `$${i + 1}::${type}`).join(', ');
  return { name: `evdb_${storeKey}_commit_fenced`, text: `SELECT ${t.commitFenced}(${params})` };
}

/** The token of the lease `lease` now: read under the lock by the locked path of a fenced commit. */
export function leaseTokenSql(t: StoreTables, lease: string): string {
  return `SELECT token FROM ${t.leases} WHERE name = ${literal(lease)}`;
}

export function rebasedCommitArgs(
  lockKey: number,
  storeKey: number,
  expect: CommitExpectation,
  knownHeads: Map<string, number>,
  plan: CommitPlan,
): CommitArg[] {
  return [
    ...commitArgs(lockKey, storeKey, expect, plan),
    [...knownHeads.keys()],
    [...knownHeads.values()],
  ];
}

export function commitOneStatement(t: StoreTables, storeKey: number): NamedStatement {
  const params = COMMIT_ONE_ARG_TYPES.map((type, i) => `$${i + 1}::${type}`).join(', ');
  return { name: `evdb_${storeKey}_commit1`, text: `SELECT ${t.commitOne}(${params})` };
}

/**
 * Round trip 2 of the locked path: the same function with the arguments as SQL constants (the
 * simple-query protocol takes several statements in one round trip only without parameters),
 * then COMMIT. Every value goes through the escaping helpers of sql.ts.
 */
export function commitCallSql(t: StoreTables, args: CommitArg[]): string {
  const rendered = args.map((value, i) => constant(COMMIT_ARG_TYPES[i] as string, value));
  return `SELECT ${t.commit}(${rendered.join(', ')});\nCOMMIT`;
}

function constant(type: string, value: CommitArg): string {
  if (!Array.isArray(value)) {
    return `${typeof value === 'number' ? integer(value) : literal(value)}::${type}`;
  }
  if (value.length === 0) return `'{}'::${type}`;
  const element = (item: number | string): string =>
    typeof item === 'number' ? integer(item) : literal(item);
  return `ARRAY[${value.map(element).join(',')}]::${type}`;
}
