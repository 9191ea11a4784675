import type Database from 'better-sqlite3';

/**
 * The SQL of one store file's log: each statement is prepared on its first use, then kept for
 * as long as the store is open. (The key-value statements are in kv-leases.ts, the snapshot
 * statements in snapshots.ts.)
 */

/**
 * An object whose members are made on first use, then kept as plain properties. Preparing
 * every statement of a store was most of the cost of opening it; a store that is opened for a
 * few calls (stores are closed when idle and opened again on demand) prepares what those
 * calls need.
 */
export function preparedOnUse<T extends object>(makers: { [K in keyof T]: () => T[K] }): T {
  const made = {} as T;
  for (const key of Object.keys(makers) as (keyof T & string)[]) {
    Object.defineProperty(made, key, {
      configurable: true,
      enumerable: true,
      get(): T[typeof key] {
        const value = makers[key]();
        Object.defineProperty(made, key, { value, enumerable: true });
        return value;
      },
    });
  }
  return made;
}

export const EVENT_COLUMNS =
  'position, stream_id, version, event_id, event_type, data, metadata, tags, causation_id, ' +
  'correlation_id, data_content_type, metadata_content_type, epoch_us';
const JOINED_EVENT_COLUMNS = EVENT_COLUMNS.split(', ')
  .map((column) => `e.${column}`)
  .join(', ');
/**
 * Every 64th version of a stream (63, 127, ...) is indexed (migrations.ts, the fifth
 * migration); the others are reached by walking `prev_position` back from the anchor at or
 * after them. Queries repeat the partial index's condition word for word, so that SQLite uses it.
 */
export const ANCHOR_EVERY = 64;
const IS_ANCHOR = 'version % 64 = 63';

/**
 * A prepared statement, under a name of this module: the driver's own type is a conditional
 * alias that declaration files cannot name. (`reader` is the driver's; restated because an
 * interface that adds nothing is refused by the lint rules.)
 */
export interface Statement extends Database.Statement {
  readonly reader: boolean;
}

export type LogStatements = ReturnType<typeof logStatements>;
export type FeatureStatements = ReturnType<typeof featureStatements>;

/** Reads event rows as arrays (`EventRow`), the fast path of better-sqlite3. */
export function selectEvents(db: Database.Database, where: string): Statement {
  return db.prepare(`SELECT ${EVENT_COLUMNS} FROM events ${where}`).raw();
}

/** The statements of the log: commits, heads, counters and reads. */
export function logStatements(db: Database.Database) {
  const prepare = (sql: string): Statement => db.prepare(sql);
  const select = (where: string): Statement => selectEvents(db, where);
  // The walk carries positions only and the rows are read once, by position: a stream's
  // positions grow with its versions, so position order is version order.
  const chain = (order: 'ASC' | 'DESC'): Statement =>
    prepare(
      'WITH RECURSIVE chain (position, version, prev) AS (SELECT position, version, ' +
        'prev_position FROM events WHERE position = ? UNION ALL SELECT e.position, e.version, ' +
        'e.prev_position FROM chain c JOIN events e ON e.position = c.prev WHERE c.version > ?) ' +
        `SELECT ${EVENT_COLUMNS} FROM events WHERE position IN ` +
        `(SELECT position FROM chain WHERE version <= ?) ORDER BY position ${order} LIMIT ?`,
    ).raw();
  return preparedOnUse({
    config: () =>
      prepare(
        'SELECT store_id AS storeId, created_at AS createdAt, settings FROM store_state WHERE id = 1',
      ),
    counters: () =>
      prepare(
        'SELECT max(last_position, coalesce((SELECT max(position) FROM events), -1)) AS lastPosition, ' +
          'counted_through AS countedThrough, event_count AS eventCount, stream_count AS streamCount ' +
          'FROM store_state WHERE id = 1',
      ),
    tailEvents: () => prepare('SELECT count(*) FROM events WHERE position > ?').pluck(),
    tailStreams: () => prepare('SELECT count(*) FROM streams WHERE created_position > ?').pluck(),
    foldCounters: () =>
      prepare(
        'UPDATE store_state SET last_position = ?, counted_through = ?, ' +
          'event_count = event_count + ?, stream_count = stream_count + ? WHERE id = 1',
      ),
    head: () =>
      prepare(
        'SELECT version, last_position AS lastPosition, last_epoch_us AS lastEpochUs, ' +
          'first_version AS firstVersion, created_position AS createdPosition ' +
          'FROM streams WHERE stream_id = ?',
      ),
    raiseFirstVersion: () =>
      prepare('UPDATE streams SET first_version = max(first_version, ?) WHERE stream_id = ?'),
    anchorPosition: () =>
      prepare(
        `SELECT position FROM events WHERE stream_id = ? AND version = ? AND ${IS_ANCHOR}`,
      ).pluck(),
    upsertHead: () =>
      prepare(
        'INSERT INTO streams (stream_id, version, last_position, last_epoch_us, created_position) ' +
          'VALUES (?, ?, ?, ?, ?) ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, ' +
          'last_position = excluded.last_position, last_epoch_us = excluded.last_epoch_us',
      ),
    deleteHead: () => prepare('DELETE FROM streams WHERE stream_id = ?'),
    // The content of the event at a position: where an id was found (event-ids.ts).
    eventAt: () =>
      prepare(
        'SELECT stream_id AS streamId, version, position, event_type AS eventType, data, metadata, ' +
          'tags, data_content_type AS dataContentType, ' +
          'metadata_content_type AS metadataContentType FROM events WHERE position = ?',
      ),
    insertEvent: () =>
      prepare(
        `INSERT INTO events (${EVENT_COLUMNS}, prev_position) ` +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
    insertTag: () => prepare('INSERT INTO event_tags (tag, position) VALUES (?, ?)'),
    // Parameters (position, low, high, count): the events from the one at `position` back to
    // version `low`, following prev_position; those up to version `high`, at most `count`.
    chainForward: () => chain('ASC'),
    chainBackward: () => chain('DESC'),
    readAll: () => select('WHERE position >= ? ORDER BY position LIMIT ?'),
    readType: () => select('WHERE event_type = ? AND position >= ? ORDER BY position LIMIT ?'),
    readTag: () =>
      prepare(
        `SELECT ${JOINED_EVENT_COLUMNS} FROM event_tags t JOIN events e ON e.position = t.position ` +
          'WHERE t.tag = ? AND t.position >= ? ORDER BY t.position LIMIT ?',
      ).raw(),
    // Named parameters {from, exclusive, [before,] count}: a keyset page of the primary key.
    // The lower bound is always `>= from`, so the key range is searched whichever bound it is;
    // the cursor's own id is then skipped by the second condition.
    listStreams: () =>
      prepare(
        'SELECT stream_id FROM streams WHERE stream_id >= @from ' +
          'AND (@exclusive = 0 OR stream_id <> @from) ORDER BY stream_id LIMIT @count',
      ).pluck(),
    listStreamsBefore: () =>
      prepare(
        'SELECT stream_id FROM streams WHERE stream_id >= @from ' +
          'AND (@exclusive = 0 OR stream_id <> @from) AND stream_id < @before ' +
          'ORDER BY stream_id LIMIT @count',
      ).pluck(),
  });
}

/**
 * Events carrying every tag: walks the first tag's index in position order, keeping events that
 * carry every other tag. Parameters (first tag, position, ...other tags, count).
 */
export function allTagsStatement(db: Database.Database, otherCount: number): Database.Statement {
  const checks = Array.from(
    { length: otherCount },
    () => 'EXISTS (SELECT 1 FROM event_tags o WHERE o.tag = ? AND o.position = t.position)',
  ).join(' AND ');
  return db
    .prepare(
      `SELECT ${JOINED_EVENT_COLUMNS} FROM event_tags t JOIN events e ON e.position = t.position ` +
        `WHERE t.tag = ? AND t.position >= ? AND ${checks} ORDER BY t.position LIMIT ?`,
    )
    .raw();
}

/**
 * The statements of the store features. Causation and correlation lookups repeat the
 * conditions of their partial indexes word for word, so that SQLite uses them.
 */
export function featureStatements(db: Database.Database) {
  const prepare = (sql: string): Statement => db.prepare(sql);
  const select = (where: string): Statement => selectEvents(db, where);
  const outsideLinks = "substr(stream_id, 1, 6) <> '$link:'";
  return preparedOnUse({
    anchorEpoch: () =>
      prepare(
        `SELECT epoch_us FROM events WHERE stream_id = ? AND version = ? AND ${IS_ANCHOR}`,
      ).pluck(),
    epochAtPosition: () => prepare('SELECT epoch_us FROM events WHERE position = ?').pluck(),
    // (position, low): versions and times of the events from the one at `position` back to `low`.
    chainTimes: () =>
      prepare(
        'WITH RECURSIVE chain AS (SELECT version, epoch_us, prev_position FROM events ' +
          'WHERE position = ? UNION ALL SELECT e.version, e.epoch_us, e.prev_position ' +
          'FROM chain c JOIN events e ON e.position = c.prev_position WHERE c.version > ?) ' +
          'SELECT version, epoch_us FROM chain ORDER BY version',
      ).raw(),
    timeForward: () =>
      select(
        'WHERE stream_id = ? AND epoch_us >= ? AND epoch_us <= ? ORDER BY epoch_us, position LIMIT ?',
      ),
    timeBackward: () =>
      select(
        'WHERE stream_id = ? AND epoch_us >= ? AND epoch_us <= ? ' +
          'ORDER BY epoch_us DESC, position DESC LIMIT ?',
      ),
    readCausation: () =>
      select(
        `WHERE causation_id = ? AND ${outsideLinks} AND position >= ? ORDER BY position LIMIT ?`,
      ),
    readCorrelation: () =>
      select(
        `WHERE correlation_id = ? AND ${outsideLinks} AND position >= ? ORDER BY position LIMIT ?`,
      ),
    eventAt: () => select('WHERE position = ?'),
    typeCounts: () => prepare('SELECT event_type AS eventType, count FROM event_type_counts'),
    // NOT INDEXED: the tail is a range of positions (the table's own key); the planner would
    // rather walk the whole type index for the GROUP BY order, whose cost grows with the store.
    tailTypeCounts: () =>
      prepare(
        'SELECT event_type AS eventType, count(*) AS count FROM events NOT INDEXED ' +
          'WHERE position > ? GROUP BY event_type',
      ),
    foldTypeCounts: () =>
      prepare(
        'INSERT INTO event_type_counts (event_type, count) SELECT event_type, count(*) ' +
          'FROM events NOT INDEXED WHERE position > ? GROUP BY event_type ' +
          'ON CONFLICT (event_type) DO UPDATE SET count = count + excluded.count',
      ),
    // (position, low, high): the events from the one at `position` back to `low`, up to `high`.
    chainRemovals: () =>
      prepare(
        'WITH RECURSIVE chain AS (SELECT position, version, event_id, event_type, tags, ' +
          'prev_position FROM events WHERE position = ? UNION ALL SELECT e.position, e.version, ' +
          'e.event_id, e.event_type, e.tags, e.prev_position FROM chain c JOIN events e ' +
          'ON e.position = c.prev_position WHERE c.version > ?) ' +
          'SELECT position, event_id, event_type, tags FROM chain WHERE version <= ?',
      ).raw(),
    uncountType: () =>
      prepare('UPDATE event_type_counts SET count = count - ? WHERE event_type = ?'),
    deleteTag: () => prepare('DELETE FROM event_tags WHERE tag = ? AND position = ?'),
    deleteEventAt: () => prepare('DELETE FROM events WHERE position = ?'),
  });
}
