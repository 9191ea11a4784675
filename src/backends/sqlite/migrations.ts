import type Database from 'better-sqlite3';

/** The index that serves time queries in stores whose times are not in version order. */
export const LEGACY_TIME_INDEX = 'events_by_stream_time';

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran. Append new
 * steps at the end and never edit a released one: existing stores replay only what they lack.
 * A step is SQL, or a function for a step that decides on what the store holds.
 */
const MIGRATIONS: readonly (string | ((db: Database.Database) => void))[] = [
  `
  CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    stream_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    data BLOB NOT NULL,
    metadata TEXT,
    tags TEXT,
    causation_id TEXT,
    correlation_id TEXT,
    data_content_type TEXT,
    metadata_content_type TEXT,
    epoch_us INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX events_by_stream ON events (stream_id, version);
  CREATE UNIQUE INDEX events_by_id ON events (event_id);
  CREATE INDEX events_by_type ON events (event_type, position);
  CREATE TABLE event_tags (
    tag TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (tag, position)
  ) WITHOUT ROWID;
  CREATE TABLE streams (
    stream_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    last_position INTEGER NOT NULL,
    created_position INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX streams_by_creation ON streams (created_position);
  -- The store's counters are folded: event_count and stream_count count what was committed up
  -- to position counted_through; events and streams after it are counted from the indexes when
  -- asked. Commits then write no counter row; every few thousand positions a commit folds the
  -- tail in. last_position is a floor for the position counter, raised when events are removed
  -- (so a delete never lets positions move back); otherwise max(events.position) is the counter.
  CREATE TABLE store_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    store_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    settings TEXT NOT NULL,
    last_position INTEGER NOT NULL,
    counted_through INTEGER NOT NULL,
    event_count INTEGER NOT NULL,
    stream_count INTEGER NOT NULL
  );
  `,
  // Subscriptions and links: the store's key-value facility, and event ids unique outside link
  // streams and within each link stream (which repeat their source events' ids). Queries by id
  // repeat the partial indexes' conditions word for word, so that SQLite can use them.
  `
  CREATE TABLE kv (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
  ) WITHOUT ROWID;
  DROP INDEX events_by_id;
  CREATE UNIQUE INDEX events_by_id ON events (event_id) WHERE substr(stream_id, 1, 6) <> '$link:';
  CREATE UNIQUE INDEX link_events_by_id ON events (stream_id, event_id)
    WHERE substr(stream_id, 1, 6) = '$link:';
  `,
  // Store features. The per-stream time index serves temporal queries (times are wall-clock, so
  // version order is not time order). Causation and correlation ids are indexed outside link
  // streams (which repeat their source events), with the condition queries repeat word for
  // word. Per-type counts are folded like the store counters: event_type_counts counts events up
  // to store_state.counted_through and the tail is counted when asked, so commits write no
  // count row. Snapshots, with their count kept in store_state by the writes that change it.
  `
  CREATE INDEX events_by_stream_time ON events (stream_id, epoch_us);
  CREATE INDEX events_by_causation ON events (causation_id)
    WHERE causation_id IS NOT NULL AND substr(stream_id, 1, 6) <> '$link:';
  CREATE INDEX events_by_correlation ON events (correlation_id)
    WHERE correlation_id IS NOT NULL AND substr(stream_id, 1, 6) <> '$link:';
  CREATE TABLE event_type_counts (
    event_type TEXT PRIMARY KEY,
    count INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO event_type_counts (event_type, count)
    SELECT event_type, count(*) FROM events
    WHERE position <= (SELECT counted_through FROM store_state WHERE id = 1)
    GROUP BY event_type;
  CREATE TABLE snapshots (
    stream_uuid TEXT NOT NULL,
    source_uuid TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    metadata TEXT,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (stream_uuid, source_uuid, version)
  ) WITHOUT ROWID;
  CREATE INDEX snapshots_by_source ON snapshots (source_uuid, version);
  CREATE INDEX snapshots_by_time ON snapshots (created_us);
  ALTER TABLE store_state ADD COLUMN snapshot_count INTEGER NOT NULL DEFAULT 0;
  `,
  // Temporal queries from the version index. Commits now keep each stream's times from going
  // back (the head carries its last event's time: see StreamHead.lastEpochUs), so a stream's
  // time order is its version order, and the per-stream time index goes: it made every commit
  // write one more B-tree page per stream, which cost concurrent appends a quarter of their
  // rate. A store whose times already went back somewhere (the wall clock moved back between
  // two runs) keeps the index, and its time queries keep using it.
  (db) => {
    db.exec(`
      ALTER TABLE streams ADD COLUMN last_epoch_us INTEGER NOT NULL DEFAULT 0;
      UPDATE streams SET last_epoch_us = coalesce(
        (SELECT max(epoch_us) FROM events WHERE events.stream_id = streams.stream_id), 0);
    `);
    const wentBack = db
      .prepare(
        'SELECT 1 FROM (SELECT epoch_us < lag(epoch_us) OVER ' +
          '(PARTITION BY stream_id ORDER BY version) AS back FROM events) WHERE back LIMIT 1',
      )
      .get();
    if (wentBack === undefined) db.exec(`DROP INDEX ${LEGACY_TIME_INDEX}`);
  },
  // A stream's events chained instead of all indexed. Each event keeps the position of its
  // stream's previous version, and only every 64th version (63, 127, ...) is indexed: an
  // anchor. A stream's versions are found by walking back from the anchor at or after them (or
  // from the head), at most 63 steps more than the rows asked for. A commit of appends to many
  // streams then dirties one index page per 64 appends of a stream instead of one per append:
  // with 64 concurrent appenders, a quarter of the pages each commit writes to the WAL.
  // first_version is the lowest version still stored (scavenging removes the oldest).
  `
  ALTER TABLE events ADD COLUMN prev_position INTEGER;
  UPDATE events SET prev_position = (SELECT p.position FROM events p
    WHERE p.stream_id = events.stream_id AND p.version = events.version - 1);
  ALTER TABLE streams ADD COLUMN first_version INTEGER NOT NULL DEFAULT 0;
  UPDATE streams SET first_version = coalesce(
    (SELECT min(version) FROM events WHERE events.stream_id = streams.stream_id), version + 1);
  CREATE UNIQUE INDEX events_by_stream_anchor ON events (stream_id, version)
    WHERE version % 64 = 63;
  DROP INDEX events_by_stream;
  `,
  // Snapshot summaries paged newest first: the time index carries the rest of the order, so a
  // page after a cursor is one index range.
  `
  CREATE INDEX snapshots_by_time_key ON snapshots (created_us, stream_uuid, source_uuid, version);
  DROP INDEX snapshots_by_time;
  `,
  // Event ids indexed when the counters fold, not at each commit (event-ids.ts). The index on
  // the events' own id column made every commit insert its ids into it: random ids (UUIDv4)
  // each landed on another leaf, and 64 concurrent appenders wrote three to four times the pages
  // of time-ordered ids to the write-ahead log. event_ids is keyed by the id's 16 bytes (less than
  // half the text's size), and holds the ids of the events up to counted_through outside link
  // streams; the ids after it are read from the log into memory when the store is opened.
  `
  CREATE TABLE event_ids (
    id BLOB PRIMARY KEY,
    position INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO event_ids (id, position)
    SELECT unhex(replace(event_id, '-', '')), position FROM events
    WHERE position <= (SELECT counted_through FROM store_state WHERE id = 1)
      AND substr(stream_id, 1, 6) <> '$link:';
  DROP INDEX events_by_id;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings a store file up to the current schema. Runs under the write lock, so two processes
 * opening the same new file at once migrate it exactly once.
 */
export function migrate(db: Database.Database, path: string): void {
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new Error(
        `${path} has schema version ${current}, newer than this evdb supports (${SCHEMA_VERSION}); upgrade evdb`,
      );
    }
    for (let step = current; step < SCHEMA_VERSION; step++) {
      const migration = MIGRATIONS[step] as string | ((db: Database.Database) => void);
      if (typeof migration === 'string') db.exec(migration);
      else migration(db);
    }
    if (current !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
