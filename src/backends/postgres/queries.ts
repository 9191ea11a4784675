import { encodeDataContentType, encodeMetadataContentType, encodeTags } from '../event-codec.js';
import type { CommitKeys, CommitPlan } from '../log-backend.js';
import { arrayLiteral, bytesLiteral, ident, integer, literal } from './sql.js';

/** The SQL of one store: its tables, its read statements and its group-commit round trips. */

export const EVENT_COLUMNS =
  'position, stream_id, version, event_id, event_type, data, data_bytes, metadata, tags, ' +
  'causation_id, correlation_id, data_content_type, metadata_content_type, epoch_us';
const SELECT_EVENT = EVENT_COLUMNS.split(', ')
  .map((column) => (column === 'event_id' ? 'e.event_id::text' : `e.${column}`))
  .join(', ');

export interface StoreTables {
  /** The store's group-commit functions (schema.ts). */
  commit: string;
  commitOne: string;
  events: string;
  tags: string;
  streams: string;
  state: string;
  kv: string;
  leases: string;
}

/** Qualified, quoted names of a store's tables. */
export function storeTables(schema: string): StoreTables {
  const s = ident(schema);
  return {
    events: `${s}.events`,
    commit: `${s}.evdb_commit`,
    commitOne: `${s}.evdb_commit_one`,
    tags: `${s}.event_tags`,
    streams: `${s}.streams`,
    state: `${s}.store_state`,
    kv: `${s}.kv`,
    leases: `${s}.leases`,
  };
}

/** The store's last position, from its state row `s` (see store_state in schema.ts). */
function lastPositionOf(t: StoreTables): string {
  return `greatest(s.position_floor, (SELECT max(position) FROM ${t.events}))`;
}

export interface NamedStatement {
  name: string;
  text: string;
}

export type ReadStatements = ReturnType<typeof readStatements>;

/**
 * The store's reads, as named statements (parsed and planned once per connection). The store
 * key in the names keeps a store created again under the same id from reusing the old text.
 * Every read walks an index in the order it returns rows and stops at its LIMIT.
 */
export function readStatements(t: StoreTables, storeKey: number) {
  const LAST_POSITION = lastPositionOf(t);
  let n = 0;
  const statement = (text: string): NamedStatement => ({
    name: `evdb_${storeKey}_${n++}`,
    text,
  });
  return {
    head: statement(`SELECT version, last_position FROM ${t.streams} WHERE stream_id = $1`),
    readForward: statement(
      `SELECT ${SELECT_EVENT} FROM ${t.events} e WHERE e.stream_id = $1 AND e.version >= $2 ` +
        'ORDER BY e.version LIMIT $3',
    ),
    readBackward: statement(
      `SELECT ${SELECT_EVENT} FROM ${t.events} e WHERE e.stream_id = $1 AND e.version <= $2 ` +
        'ORDER BY e.version DESC LIMIT $3',
    ),
    readAll: statement(
      `SELECT ${SELECT_EVENT} FROM ${t.events} e WHERE e.position >= $1 ORDER BY e.position LIMIT $2`,
    ),
    // One index range per type (or tag), each cut at `count`, merged and cut again; then the
    // events are fetched by primary key. The cost follows what is returned, not how many
    // events of those types exist. (The positions are gathered into an array first so that
    // the planner cannot turn the fetch into a scan of all events.)
    // The type index is walked as a row-comparison range on (type, position) in its own order:
    // no other index yields that order, so the planner cannot prefer walking all events in
    // position order with a filter (which it would for `type = $1`, costing the whole store
    // when the type stopped being written).
    readTypes: statement(
      `SELECT ${SELECT_EVENT} FROM ${t.events} e WHERE e.position = ANY (ARRAY(` +
        'SELECT m.position FROM unnest($1::text[]) AS k(event_type) CROSS JOIN LATERAL ' +
        `(SELECT x.position, x.event_type FROM ${t.events} x ` +
        'WHERE (x.event_type, x.position) >= (k.event_type, $2::bigint) ' +
        'AND x.event_type <= k.event_type ORDER BY x.event_type, x.position LIMIT $3) m ' +
        'ORDER BY m.position LIMIT $3)) ORDER BY e.position',
    ),
    readTagsAny: statement(
      `SELECT ${SELECT_EVENT} FROM ${t.events} e WHERE e.position = ANY (ARRAY(` +
        'SELECT DISTINCT m.position FROM unnest($1::text[]) AS k(tag) CROSS JOIN LATERAL ' +
        `(SELECT x.position FROM ${t.tags} x WHERE x.tag = k.tag AND x.position >= $2 ` +
        'ORDER BY x.position LIMIT $3) m ORDER BY m.position LIMIT $3)) ORDER BY e.position',
    ),
    /**
     * One chunk of an all-tags query: walks the first tag's index in position order for at most
     * `$4` entries, checks each against the other tags (`$3`) with primary-key probes, and
     * returns the matching events plus, on every row, how many entries it walked and the last
     * position (so the caller knows where to go on). Rows have `scanned, last` first; a chunk
     * with no match returns one row whose event columns are null.
     */
    readTagsAll: statement(
      'WITH c AS MATERIALIZED (SELECT d.position, (SELECT count(*) FROM ' +
        `${t.tags} x WHERE x.tag = ANY($3::text[]) AND x.position = d.position) = ` +
        `cardinality($3::text[]) AS hit FROM ${t.tags} d WHERE d.tag = $1 AND d.position >= $2 ` +
        'ORDER BY d.position LIMIT $4) ' +
        `SELECT s.scanned, s.last, ${SELECT_EVENT} FROM (SELECT count(*) AS scanned, ` +
        'max(position) AS last, array_agg(position) FILTER (WHERE hit) AS hits FROM c) s ' +
        `LEFT JOIN ${t.events} e ON e.position = ANY(s.hits) ORDER BY e.position`,
    ),
    listStreams: statement(`SELECT stream_id FROM ${t.streams} ORDER BY stream_id`),
    // Exact counts: the folded counters plus what was created since the fold (a bounded
    // range of two indexes), in one snapshot.
    status: statement(
      `SELECT ${LAST_POSITION}, s.event_count + (SELECT count(*) FROM ${t.events} e ` +
        'WHERE e.position > s.counted_through), s.stream_count + (SELECT count(*) FROM ' +
        `${t.streams} h WHERE h.created_position > s.counted_through) FROM ${t.state} s WHERE s.id = 1`,
    ),
    config: statement(`SELECT store_id, created_at, settings FROM ${t.state} WHERE id = 1`),
    lastPosition: statement(`SELECT ${LAST_POSITION} FROM ${t.state} s WHERE s.id = 1`),
  };
}

export type KvStatements = ReturnType<typeof kvStatements>;

/**
 * The store's key-value entries and leases. Lease expiry is reckoned on the server's clock, the
 * one clock every process sharing the database agrees on.
 */
export function kvStatements(t: StoreTables, storeKey: number) {
  let n = 0;
  const statement = (text: string): NamedStatement => ({
    name: `evdb_${storeKey}_kv${n++}`,
    text,
  });
  return {
    get: statement(`SELECT value, revision FROM ${t.kv} WHERE namespace = $1 AND key = $2`),
    list: statement(`SELECT key, value, revision FROM ${t.kv} WHERE namespace = $1 ORDER BY key`),
    upsert: statement(
      `INSERT INTO ${t.kv} AS kv (namespace, key, value, revision) VALUES ($1, $2, $3, 1) ` +
        'ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, ' +
        'revision = kv.revision + 1 RETURNING revision',
    ),
    insert: statement(
      `INSERT INTO ${t.kv} (namespace, key, value, revision) VALUES ($1, $2, $3, 1) ` +
        'ON CONFLICT (namespace, key) DO NOTHING RETURNING revision',
    ),
    update: statement(
      `UPDATE ${t.kv} SET value = $3, revision = revision + 1 ` +
        'WHERE namespace = $1 AND key = $2 AND revision = $4 RETURNING revision',
    ),
    delete: statement(`DELETE FROM ${t.kv} WHERE namespace = $1 AND key = $2`),
    deleteAt: statement(`DELETE FROM ${t.kv} WHERE namespace = $1 AND key = $2 AND revision = $3`),
    acquireLease: statement(
      `INSERT INTO ${t.leases} AS l (name, owner, expires_at) ` +
        "VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond') " +
        'ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at ' +
        'WHERE l.owner = excluded.owner OR l.expires_at <= clock_timestamp() RETURNING owner',
    ),
    releaseLease: statement(`DELETE FROM ${t.leases} WHERE name = $1 AND owner = $2`),
  };
}

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
    `SELECT s.store_key, ${lastPositionOf(t)}, s.generation FROM ${t.state} s WHERE s.id = 1`,
    `SELECT stream_id, version, last_position FROM ${t.streams} ` +
      `WHERE stream_id = ANY(${arrayLiteral(keys.streamIds, 'text')})`,
    `SELECT event_id::text, stream_id, version, position FROM ${t.events} ` +
      `WHERE event_id = ANY(${arrayLiteral(keys.eventIds, 'uuid')}) ` +
      // Outside link streams, with the condition of the partial index events_by_id.
      "AND left(stream_id, 6) <> '$link:'",
  ].join(';\n');
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

/** The SQL types of `evdb_commit`'s arguments, in order (schema.ts). */
const COMMIT_ARG_TYPES = [
  'integer', // lock key 1
  'integer', // lock key 2
  'integer', // store key
  'bigint', // expected last position
  'bigint', // expected generation
  'text[]', // streams planned as absent
  'uuid[]', // event ids planned as absent
  'bigint[]', // events: position
  'text[]', // stream_id
  'bigint[]', // version
  'uuid[]', // event_id
  'text[]', // event_type
  'text[]', // data (JSON text)
  'bytea[]', // data_bytes
  'text[]', // metadata
  'text[]', // tags
  'text[]', // causation_id
  'text[]', // correlation_id
  'text[]', // data_content_type
  'text[]', // metadata_content_type
  'bigint[]', // epoch_us
  'text[]', // tags: tag
  'bigint[]', // position
  'text[]', // heads: stream_id
  'bigint[]', // version
  'bigint[]', // last_position
  'bigint[]', // created_position
  'text', // NOTIFY channel
] as const;

type CommitArg = number | string | (number | string | Buffer | null)[];

/** The arguments of `evdb_commit` for a plan, as JS values in the order of COMMIT_ARG_TYPES. */
export function commitArgs(
  lockKey: number,
  storeKey: number,
  expect: CommitExpectation,
  plan: CommitPlan,
  channel: string,
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
    events.map((e) => e.position),
    events.map((e) => e.streamId),
    events.map((e) => e.version),
    events.map((e) => e.eventId),
    events.map((e) => e.eventType),
    events.map((e) => (typeof e.data === 'string' ? e.data : null)),
    events.map((e) =>
      typeof e.data === 'string'
        ? null
        : Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength),
    ),
    events.map((e) => e.metadata),
    events.map((e) => encodeTags(e.tags)),
    events.map((e) => e.causationId),
    events.map((e) => e.correlationId),
    events.map((e) => encodeDataContentType(e.data, e.dataContentType)),
    events.map((e) => encodeMetadataContentType(e.metadataContentType)),
    events.map((e) => e.epochUs),
    tagNames,
    tagPositions,
    heads.map(([streamId]) => streamId),
    heads.map(([, head]) => head.version),
    heads.map(([, head]) => head.lastPosition),
    // Used only when the stream is new: the position of its first event here.
    heads.map(([streamId, head]) => created.get(streamId) ?? head.lastPosition),
    channel,
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

/** `evdb_commit_one`'s SQL types: one event as scalars (schema.ts). */
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
  'text', // NOTIFY channel
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
  channel: string,
): unknown[] | undefined {
  const [e, ...more] = plan.events;
  if (e === undefined || more.length > 0 || plan.heads.size !== 1) return undefined;
  if (expect.absentStreams.length > 1 || expect.absentIds.length > 1) return undefined;
  const head = plan.heads.get(e.streamId);
  if (head === undefined || head.version !== e.version || head.lastPosition !== e.position) {
    return undefined;
  }
  const isJson = typeof e.data === 'string';
  return [
    lockKey,
    storeKey,
    storeKey,
    expect.lastPosition,
    expect.generation,
    expect.absentStreams[0] ?? null,
    expect.absentIds[0] ?? null,
    e.position,
    e.streamId,
    e.version,
    e.eventId,
    e.eventType,
    isJson ? e.data : null,
    isJson
      ? null
      : Buffer.from(
          (e.data as Uint8Array).buffer,
          (e.data as Uint8Array).byteOffset,
          (e.data as Uint8Array).byteLength,
        ),
    e.metadata,
    encodeTags(e.tags),
    e.causationId,
    e.correlationId,
    encodeDataContentType(e.data, e.dataContentType),
    encodeMetadataContentType(e.metadataContentType),
    e.epochUs,
    e.tags,
    channel,
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
    return typeof value === 'number' ? `${integer(value)}::${type}` : literal(value);
  }
  if (value.length === 0) return `'{}'::${type}`;
  const element = (item: number | string | Buffer | null): string => {
    if (item === null) return 'NULL';
    if (typeof item === 'number') return integer(item);
    if (typeof item === 'string') return literal(item);
    return bytesLiteral(item);
  };
  return `ARRAY[${value.map(element).join(',')}]::${type}`;
}
