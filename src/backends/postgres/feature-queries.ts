import { EVENT_COLUMNS, type NamedStatement, type StoreTables } from './queries.js';
import { ident } from './sql.js';

/** The SQL of the store features (snapshots, temporal queries, scavenging, inspection). */

const SELECT_EVENT = EVENT_COLUMNS.split(', ')
  .map((column) => (column === 'event_id' ? 'e.event_id::text' : `e.${column}`))
  .join(', ');

/** Outside link streams, with the condition of the partial indexes word for word. */
const OUTSIDE_LINKS = "left(e.stream_id, 6) <> '$link:'";

export interface FeatureTables {
  snapshots: string;
  typeCounts: string;
}

export function featureTables(schema: string): FeatureTables {
  const s = ident(schema);
  return { snapshots: `${s}.snapshots`, typeCounts: `${s}.event_type_counts` };
}

export type FeatureStatements = ReturnType<typeof featureStatements>;

/**
 * Named statements, like the store's reads. Index lookups are written as row-comparison ranges
 * in the order of the index they are meant for (as the type index is, see queries.ts), so that
 * no other index yields that order and the planner cannot prefer walking every event.
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
  const SNAPSHOT = 'source_uuid, stream_uuid, version, data, metadata, created_us';
  const SNAPSHOT_ORDER = 'ORDER BY version, source_uuid, stream_uuid';
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
    snapshotPut: statement(
      `WITH up AS (INSERT INTO ${f.snapshots} AS s (${SNAPSHOT}) VALUES ($1, $2, $3, $4, $5, $6) ` +
        'ON CONFLICT (stream_uuid, source_uuid, version) DO UPDATE SET data = excluded.data, ' +
        'metadata = excluded.metadata, created_us = excluded.created_us ' +
        'RETURNING (xmax = 0) AS inserted) ' +
        `UPDATE ${t.state} SET snapshot_count = snapshot_count + 1 ` +
        'WHERE id = 1 AND (SELECT inserted FROM up)',
    ),
    snapshotGet: statement(
      `SELECT ${SNAPSHOT} FROM ${f.snapshots} ` +
        'WHERE stream_uuid = $2 AND source_uuid = $1 AND version = $3',
    ),
    snapshotLatest: statement(
      `SELECT ${SNAPSHOT} FROM ${f.snapshots} WHERE stream_uuid = $2 AND source_uuid = $1 ` +
        'ORDER BY version DESC LIMIT 1',
    ),
    snapshotDelete: statement(
      `WITH d AS (DELETE FROM ${f.snapshots} WHERE stream_uuid = $2 AND source_uuid = $1 ` +
        'AND version = $3 RETURNING 1) ' +
        `UPDATE ${t.state} SET snapshot_count = snapshot_count - (SELECT count(*) FROM d) ` +
        'WHERE id = 1 RETURNING (SELECT count(*) FROM d)',
    ),
    snapshotDeleteStream: statement(
      `WITH d AS (DELETE FROM ${f.snapshots} WHERE stream_uuid = $1 RETURNING 1) ` +
        `UPDATE ${t.state} SET snapshot_count = snapshot_count - (SELECT count(*) FROM d) ` +
        'WHERE id = 1 RETURNING (SELECT count(*) FROM d)',
    ),
    snapshotListAll: statement(`SELECT ${SNAPSHOT} FROM ${f.snapshots} ${SNAPSHOT_ORDER}`),
    snapshotListSource: statement(
      `SELECT ${SNAPSHOT} FROM ${f.snapshots} WHERE source_uuid = $1 ${SNAPSHOT_ORDER}`,
    ),
    snapshotListStream: statement(
      `SELECT ${SNAPSHOT} FROM ${f.snapshots} WHERE stream_uuid = $1 ${SNAPSHOT_ORDER}`,
    ),
    snapshotListBoth: statement(
      `SELECT ${SNAPSHOT} FROM ${f.snapshots} WHERE source_uuid = $1 AND stream_uuid = $2 ` +
        SNAPSHOT_ORDER,
    ),
    snapshotSummaries: statement(
      `SELECT source_uuid, stream_uuid, version, created_us FROM ${f.snapshots} ` +
        'ORDER BY created_us DESC, version DESC',
    ),
    snapshotStreamStats: statement(
      `SELECT count(*), max(version) FROM ${f.snapshots} WHERE stream_uuid = $1`,
    ),
    snapshotCount: statement(`SELECT snapshot_count FROM ${t.state} WHERE id = 1`),
  };
}
