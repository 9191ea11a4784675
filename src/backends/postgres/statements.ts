import type pg from 'pg';
import { ident } from './sql.js';

/**
 * The SQL of one store's log: its tables and its read statements, as named statements. (The
 * group commit's SQL is in commit-statements.ts, the key-value and lease statements in
 * kv-leases.ts, the snapshot statements in snapshots.ts.)
 */

export const EVENT_COLUMNS =
  'position, stream_id, version, event_id, event_type, data, data_bytes, metadata, tags, ' +
  'causation_id, correlation_id, data_content_type, metadata_content_type, epoch_us';
export const SELECT_EVENT = EVENT_COLUMNS.split(', ')
  .map((column) => (column === 'event_id' ? 'e.event_id::text' : `e.${column}`))
  .join(', ');

export interface StoreTables {
  /** The store's group-commit functions (migrations.ts). */
  commit: string;
  commitOne: string;
  commitRebased: string;
  /** The write owner's commit and lease (fenced-commit.ts). */
  commitFenced: string;
  takeFencedLease: string;
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
    commitRebased: `${s}.evdb_commit_rebased`,
    commitFenced: `${s}.evdb_commit_fenced`,
    takeFencedLease: `${s}.evdb_take_fenced_lease`,
    tags: `${s}.event_tags`,
    streams: `${s}.streams`,
    state: `${s}.store_state`,
    kv: `${s}.kv`,
    leases: `${s}.leases`,
  };
}

/** The store's last position, from its state row `s` (see store_state in migrations.ts). */
export function lastPositionOf(t: StoreTables): string {
  return `greatest(s.position_floor, (SELECT max(position) FROM ${t.events}))`;
}

export interface NamedStatement {
  name: string;
  text: string;
}

/** Runs a named statement of an open store, rows as arrays (`PostgresLog.run`). */
export type Run = <R extends unknown[]>(
  doing: string,
  statement: NamedStatement,
  values: unknown[],
) => Promise<pg.QueryArrayResult<R>>;

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
  // The gathered positions' events, one primary-key lookup each: a lateral lookup with LIMIT is
  // never turned into a join, so no plan (a generic one costed on a near-empty table included)
  // can scan the events table instead, as `position = ANY(...)` could.
  const byPosition =
    `CROSS JOIN LATERAL (SELECT * FROM ${t.events} x WHERE x.position = p.position LIMIT 1) e ` +
    'ORDER BY e.position';
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
      `SELECT ${SELECT_EVENT} FROM unnest(ARRAY(` +
        'SELECT m.position FROM unnest($1::text[]) AS k(event_type) CROSS JOIN LATERAL ' +
        `(SELECT x.position, x.event_type FROM ${t.events} x ` +
        'WHERE (x.event_type, x.position) >= (k.event_type, $2::bigint) ' +
        'AND x.event_type <= k.event_type ORDER BY x.event_type, x.position LIMIT $3) m ' +
        `ORDER BY m.position LIMIT $3)) AS p(position) ${byPosition}`,
    ),
    readTagsAny: statement(
      `SELECT ${SELECT_EVENT} FROM unnest(ARRAY(` +
        'SELECT DISTINCT m.position FROM unnest($1::text[]) AS k(tag) CROSS JOIN LATERAL ' +
        `(SELECT x.position FROM ${t.tags} x WHERE x.tag = k.tag AND x.position >= $2 ` +
        `ORDER BY x.position LIMIT $3) m ORDER BY m.position LIMIT $3)) AS p(position) ${byPosition}`,
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
    // Parameters (from, exclusive, count[, before]): a keyset page of the primary key. The lower
    // bound is always `>= from`, so the index range is used whichever bound it is; the cursor's
    // own id is then skipped by the second condition.
    listStreams: statement(
      `SELECT stream_id FROM ${t.streams} WHERE stream_id >= $1 ` +
        'AND (NOT $2::boolean OR stream_id <> $1) ORDER BY stream_id LIMIT $3',
    ),
    listStreamsBefore: statement(
      `SELECT stream_id FROM ${t.streams} WHERE stream_id >= $1 ` +
        'AND (NOT $2::boolean OR stream_id <> $1) AND stream_id < $4 ORDER BY stream_id LIMIT $3',
    ),
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

/** The tables the store features keep beside the log. */
export interface FeatureTables {
  snapshots: string;
  typeCounts: string;
}

export function featureTables(schema: string): FeatureTables {
  const s = ident(schema);
  return { snapshots: `${s}.snapshots`, typeCounts: `${s}.event_type_counts` };
}

export type FeatureStatements = ReturnType<typeof featureStatements>;

/** Outside link streams, with the condition of the partial indexes word for word. */
const OUTSIDE_LINKS = "left(e.stream_id, 6) <> '$link:'";

/**
 * Named statements, like the store's reads. Index lookups are written as row-comparison ranges
 * in the order of the index they are meant for (as the type index is, see
 * readStatements), so that no other index yields that order and the planner cannot prefer walking every event.
 */
export function featureStatements(t: StoreTables, f: FeatureTables, storeKey: number) {
  let n = 0;
  const statement = (text: string): NamedStatement => ({
    name: `evdb_${storeKey}_f${n++}`,
    text,
  });
  const byKey = (column: string): NamedStatement =>
    statement(
      `SELECT ${SELECT_EVENT} FROM ${t.events} e WHERE (e.${column}, e.position) >= ($1, $2::bigint) ` +
        `AND e.${column} <= $1 AND ${OUTSIDE_LINKS} ORDER BY e.${column}, e.position LIMIT $3`,
    );
  return {
    // Only the (stream, time, version) index yields this order for one stream.
    timeForward: statement(
      `SELECT ${SELECT_EVENT} FROM ${t.events} e WHERE e.stream_id = $1 ` +
        'AND e.epoch_us >= $2 AND e.epoch_us <= $3 ORDER BY e.epoch_us, e.version LIMIT $4',
    ),
    timeBackward: statement(
      `SELECT ${SELECT_EVENT} FROM ${t.events} e WHERE e.stream_id = $1 ` +
        'AND e.epoch_us >= $2 AND e.epoch_us <= $3 ' +
        'ORDER BY e.epoch_us DESC, e.version DESC LIMIT $4',
    ),
    facts: statement(
      'SELECT h.version, h.last_position, f.version, f.epoch_us, l.version, l.epoch_us ' +
        `FROM ${t.streams} h ` +
        `LEFT JOIN LATERAL (SELECT version, epoch_us FROM ${t.events} ` +
        'WHERE stream_id = h.stream_id ORDER BY version LIMIT 1) f ON true ' +
        `LEFT JOIN LATERAL (SELECT version, epoch_us FROM ${t.events} ` +
        'WHERE stream_id = h.stream_id ORDER BY version DESC LIMIT 1) l ON true ' +
        'WHERE h.stream_id = $1',
    ),
    readCausation: byKey('causation_id'),
    readCorrelation: byKey('correlation_id'),
    readByIds: statement(
      `SELECT ${SELECT_EVENT} FROM ${t.events} e WHERE e.event_id = ANY($1::uuid[]) ` +
        `AND ${OUTSIDE_LINKS} ORDER BY e.position`,
    ),
    // The folded counts plus the events committed after the fold point, in one snapshot.
    typeCounts: statement(
      'SELECT event_type, sum(n)::bigint FROM (' +
        `SELECT event_type, count AS n FROM ${f.typeCounts} UNION ALL ` +
        `SELECT event_type, count(*) FROM ${t.events} WHERE position > ` +
        `(SELECT counted_through FROM ${t.state} WHERE id = 1) GROUP BY event_type` +
        ') c GROUP BY event_type HAVING sum(n) > 0',
    ),
    diskBytes: statement(
      'SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c ' +
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
    ),
  };
}
