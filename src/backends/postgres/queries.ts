import { encodeDataContentType, encodeMetadataContentType, encodeTags } from '../event-codec.js';
import type { CommitKeys, CommitPlan } from '../log-backend.js';
import { arrayLiteral, bytesLiteral, ident, integer, literal, nullableLiteral } from './sql.js';

/** The SQL of one store: its tables, its read statements and its group-commit round trips. */

export const EVENT_COLUMNS =
  'position, stream_id, version, event_id, event_type, data, data_bytes, metadata, tags, ' +
  'causation_id, correlation_id, data_content_type, metadata_content_type, epoch_us';
const SELECT_EVENT = EVENT_COLUMNS.split(', ')
  .map((column) => (column === 'event_id' ? 'e.event_id::text' : `e.${column}`))
  .join(', ');

export interface StoreTables {
  events: string;
  types: string;
  tags: string;
  streams: string;
  state: string;
}

/** Qualified, quoted names of a store's tables. */
export function storeTables(schema: string): StoreTables {
  const s = ident(schema);
  return {
    events: `${s}.events`,
    types: `${s}.event_types`,
    tags: `${s}.event_tags`,
    streams: `${s}.streams`,
    state: `${s}.store_state`,
  };
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
    readTypes: statement(
      `SELECT ${SELECT_EVENT} FROM ${t.events} e WHERE e.position = ANY (ARRAY(` +
        'SELECT m.position FROM unnest($1::text[]) AS k(event_type) CROSS JOIN LATERAL ' +
        `(SELECT x.position FROM ${t.types} x WHERE x.event_type = k.event_type ` +
        'AND x.position >= $2 ORDER BY x.position LIMIT $3) m ORDER BY m.position LIMIT $3)) ' +
        'ORDER BY e.position',
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
    status: statement(
      `SELECT last_position, event_count, stream_count FROM ${t.state} WHERE id = 1`,
    ),
    config: statement(`SELECT store_id, created_at, settings FROM ${t.state} WHERE id = 1`),
    lastPosition: statement(`SELECT last_position FROM ${t.state} WHERE id = 1`),
  };
}

/**
 * Round trip 1 of a group commit: begin, take the store's advisory lock, then read the state,
 * the heads and the event ids the planner will ask about. The reads are statements of their
 * own after the lock: under READ COMMITTED each takes its snapshot when it starts, so they see
 * every commit that finished before the lock was granted. (A read in the same statement as the
 * lock would use a snapshot from before the wait.)
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
    `SELECT store_key, last_position FROM ${t.state} WHERE id = 1`,
    `SELECT stream_id, version, last_position FROM ${t.streams} ` +
      `WHERE stream_id = ANY(${arrayLiteral(keys.streamIds, 'text')})`,
    `SELECT event_id::text, stream_id, version, position FROM ${t.events} ` +
      `WHERE event_id = ANY(${arrayLiteral(keys.eventIds, 'uuid')})`,
  ].join(';\n');
}

/**
 * Round trip 2: the plan's events, tags and heads, the store's counters, a NOTIFY (delivered
 * only if the transaction commits) and COMMIT, as one multi-statement text. Without parameters
 * the simple-query protocol runs it in one round trip; every value goes through sql.ts.
 */
export function writeSql(t: StoreTables, channel: string, plan: CommitPlan): string {
  const { events, heads, createdStreams } = plan;
  const last = events[events.length - 1];
  // Nothing to write (every append failed its checks or was a replay): just release the lock.
  if (last === undefined) return 'COMMIT';
  const rows: string[] = [];
  const typeRows: string[] = [];
  const tagRows: string[] = [];
  for (const e of events) {
    const position = integer(e.position);
    const data =
      typeof e.data === 'string' ? `${literal(e.data)},NULL` : `NULL,${bytesLiteral(e.data)}`;
    rows.push(
      `(${position},${literal(e.streamId)},${integer(e.version)},${literal(e.eventId)},` +
        `${literal(e.eventType)},${data},` +
        `${nullableLiteral(e.metadata)},${nullableLiteral(encodeTags(e.tags))},` +
        `${nullableLiteral(e.causationId)},${nullableLiteral(e.correlationId)},` +
        `${nullableLiteral(encodeDataContentType(e.data, e.dataContentType))},` +
        `${nullableLiteral(encodeMetadataContentType(e.metadataContentType))},` +
        `${integer(e.epochUs)})`,
    );
    typeRows.push(`(${literal(e.eventType)},${position})`);
    for (const tag of e.tags) tagRows.push(`(${literal(tag)},${position})`);
  }
  const headRows = [...heads].map(
    ([streamId, head]) =>
      `(${literal(streamId)},${integer(head.version)},${integer(head.lastPosition)})`,
  );
  const statements = [
    `INSERT INTO ${t.events} (${EVENT_COLUMNS}) VALUES ${rows.join(',')}`,
    `INSERT INTO ${t.types} (event_type, position) VALUES ${typeRows.join(',')}`,
    `INSERT INTO ${t.streams} (stream_id, version, last_position) VALUES ${headRows.join(',')} ` +
      'ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, ' +
      'last_position = excluded.last_position',
    `UPDATE ${t.state} SET last_position = ${integer(last.position)}, ` +
      `event_count = event_count + ${integer(events.length)}, ` +
      `stream_count = stream_count + ${integer(createdStreams)} WHERE id = 1`,
    `NOTIFY ${ident(channel)}, '${integer(last.position)}'`,
    'COMMIT',
  ];
  if (tagRows.length > 0) {
    statements.splice(2, 0, `INSERT INTO ${t.tags} (tag, position) VALUES ${tagRows.join(',')}`);
  }
  return statements.join(';\n');
}
