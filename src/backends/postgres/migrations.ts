import type pg from 'pg';
import { fencedCommitFunction, takeFencedLeaseFunction } from './fenced-commit.js';
import { insertEventsSql } from './events-json.js';
import { rebasedCommitFunction } from './rebased-commit.js';
import { ident, integer } from './sql.js';

/**
 * Migrations of evdb's catalog schema (the `schema` option, default `evdb`): the list of
 * stores. Applied in order under an advisory lock; `schema_version` records how many ran.
 * Append new steps at the end and never edit a released one.
 */
const CATALOG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE stores (
    store_id text COLLATE "C" PRIMARY KEY,
    -- Names the store's advisory lock; a store removed and created again gets a new key, so a
    -- process still holding the old store open can never write into the new one.
    store_key integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    schema_version integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  `,
  // Channel messages too large for a NOTIFY payload (message-bus.ts), kept a few minutes.
  `
  CREATE TABLE channel_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX channel_messages_by_time ON channel_messages (created_at);
  `,
];

/** How many positions the store counters may lag before a commit folds them in. */
export const COUNTER_FOLD = 4096;

/**
 * A store's group-commit function: takes the store's lock, checks that the state the caller
 * planned against is still the state (else writes nothing and answers 'stale'), writes,
 * notifies. Called as one statement outside a transaction block it commits on return: one
 * round trip. Each statement inside takes a fresh snapshot (the function is VOLATILE, the
 * isolation READ COMMITTED), so the checks see every commit made before the lock was granted.
 *
 * `evdb_commit` takes arrays (any group); `evdb_commit_one` takes one event as scalars, the
 * common case of a lone writer, which saves the arrays' parsing and unnesting.
 */
function commitFunction(
  s: string,
  variant: 'many' | 'one',
  edition: 'first' | 'ids by lookup' = 'first',
  notify = true,
  eventsAs: 'arrays' | 'jsonb' = 'arrays',
): string {
  const many = variant === 'many';
  const jsonb = many && eventsAs === 'jsonb';
  const check = (condition: string, query: string): string =>
    `IF ${condition} THEN IF EXISTS (${query}) THEN RETURN 'stale'; END IF; END IF;`;
  const eventColumns =
    'position, stream_id, version, event_id, event_type, data, data_bytes, metadata, tags, ' +
    'causation_id, correlation_id, data_content_type, metadata_content_type, epoch_us';
  const eventParams =
    'e_position, e_stream, e_version, e_id, e_type, e_data, e_bytes, e_metadata, e_tags, ' +
    'e_causation, e_correlation, e_data_type, e_metadata_type, e_epoch';
  const arrays = many ? '[]' : '';
  return `
  ${edition === 'first' ? 'CREATE' : 'CREATE OR REPLACE'} FUNCTION ${many ? 'evdb_commit' : 'evdb_commit_one'}(
    p_lock1 integer, p_lock2 integer, p_store_key integer, p_last bigint, p_generation bigint,
    ${many ? 'p_absent_streams text[], p_absent_ids uuid[]' : 'p_absent_stream text, p_absent_id uuid'},
    ${
      jsonb
        ? 'p_events jsonb,'
        : `e_position bigint${arrays}, e_stream text${arrays}, e_version bigint${arrays},
    e_id uuid${arrays}, e_type text${arrays}, e_data text${arrays}, e_bytes bytea${arrays},
    e_metadata text${arrays}, e_tags text${arrays}, e_causation text${arrays},
    e_correlation text${arrays}, e_data_type text${arrays}, e_metadata_type text${arrays},
    e_epoch bigint${arrays},`
    }
    ${many ? 't_tag text[], t_position bigint[],' : `t_tag text[]${notify ? ',' : ''}`}
    ${many ? 'h_stream text[], h_version bigint[], h_position bigint[], h_created bigint[]' : ''}
    ${notify ? `${many ? ',' : ''} p_channel text` : ''}
  ) RETURNS text LANGUAGE plpgsql AS $fn$
  DECLARE
    st record;
    n_last bigint;
  BEGIN
    PERFORM pg_advisory_xact_lock(p_lock1, p_lock2);
    SELECT x.store_key, x.generation, x.counted_through,
        greatest(x.position_floor, (SELECT max(position) FROM ${s}.events)) AS last_position
      INTO st FROM ${s}.store_state x WHERE x.id = 1;
    IF NOT FOUND OR st.store_key <> p_store_key THEN RETURN 'removed'; END IF;
    IF st.last_position <> p_last OR st.generation <> p_generation THEN RETURN 'stale'; END IF;
    ${
      many
        ? check(
            'cardinality(p_absent_streams) > 0',
            `SELECT 1 FROM ${s}.streams WHERE stream_id = ANY(p_absent_streams)`,
          )
        : check(
            'p_absent_stream IS NOT NULL',
            `SELECT 1 FROM ${s}.streams WHERE stream_id = p_absent_stream`,
          )
    }
    ${
      many
        ? check(
            'cardinality(p_absent_ids) > 0',
            edition === 'first'
              ? `SELECT 1 FROM ${s}.events WHERE event_id = ANY(p_absent_ids) ` +
                  "AND left(stream_id, 6) <> '$link:'"
              : storedIdsQuery(s, 'p_absent_ids'),
          )
        : check(
            'p_absent_id IS NOT NULL',
            `SELECT 1 FROM ${s}.events WHERE event_id = p_absent_id ` +
              "AND left(stream_id, 6) <> '$link:'",
          )
    }
    ${jsonb ? "IF jsonb_array_length(p_events) = 0 THEN RETURN 'ok'; END IF;" : ''}
    ${many && !jsonb ? "IF cardinality(e_position) = 0 THEN RETURN 'ok'; END IF;" : ''}
    ${
      jsonb
        ? insertEventsSql(s, 'p_events')
        : `INSERT INTO ${s}.events (${eventColumns})
      ${many ? `SELECT * FROM unnest(${eventParams})` : `VALUES (${eventParams})`}`
    };
    IF cardinality(t_tag) > 0 THEN
      INSERT INTO ${s}.event_tags (tag, position)
        ${many ? 'SELECT * FROM unnest(t_tag, t_position)' : 'SELECT tag, e_position FROM unnest(t_tag) AS tag'};
    END IF;
    INSERT INTO ${s}.streams (stream_id, version, last_position, created_position)
      ${
        many
          ? 'SELECT * FROM unnest(h_stream, h_version, h_position, h_created)'
          : 'VALUES (e_stream, e_version, e_position, e_position)'
      }
      ON CONFLICT (stream_id) DO UPDATE
        SET version = excluded.version, last_position = excluded.last_position;
    n_last := ${jsonb ? '(p_events->-1->>0)::bigint' : many ? 'e_position[cardinality(e_position)]' : 'e_position'};
    IF n_last / ${COUNTER_FOLD} > st.last_position / ${COUNTER_FOLD} THEN
      UPDATE ${s}.store_state SET
        event_count = event_count + (SELECT count(*) FROM ${s}.events
          WHERE position > st.counted_through AND position <= n_last),
        stream_count = stream_count + (SELECT count(*) FROM ${s}.streams
          WHERE created_position > st.counted_through AND created_position <= n_last),
        counted_through = n_last
      WHERE id = 1;
    END IF;
    ${notify ? 'PERFORM pg_notify(p_channel, n_last::text);' : ''}
    RETURN 'ok';
  END
  $fn$;`;
}

/**
 * Which of `ids` (a uuid[] expression) are stored outside link streams, one index lookup per id.
 * Spelled as a lateral lookup rather than `event_id = ANY(ids)`: plpgsql caches a generic plan
 * after a few calls, and the generic plan of `= ANY($1)`, costed while the table was nearly
 * empty, was a sequential scan that stayed as the table grew. A lateral equality lookup on the
 * unique index is an index scan in every plan (test/postgres-plans.test.ts checks both kinds).
 */
export function storedIdsQuery(s: string, ids: string): string {
  return (
    `SELECT 1 FROM unnest(${ids}) AS a(id) CROSS JOIN LATERAL (SELECT 1 FROM ${s}.events e ` +
    "WHERE e.event_id = a.id AND left(e.stream_id, 6) <> '$link:' LIMIT 1) found"
  );
}

/**
 * Migrations of one store's schema (`<schema>-<storeId>`), run with `search_path` set to it;
 * each gets the quoted schema name for the bodies of functions (resolved at call time, so they
 * name their tables in full). Mirrors the SQLite store file (backends/sqlite/migrations.ts); the
 * store's `schema_version` in the catalog records how many ran.
 */
const STORE_MIGRATIONS: readonly ((schema: string) => string)[] = [
  (s) => `
  CREATE TABLE events (
    position bigint PRIMARY KEY,
    stream_id text COLLATE "C" NOT NULL,
    version bigint NOT NULL,
    event_id uuid NOT NULL,
    event_type text COLLATE "C" NOT NULL,
    -- JSON data is kept as the exact text written (jsonb would reorder keys and reject \\u0000);
    -- binary data goes to data_bytes. Exactly one of the two is set.
    data text,
    data_bytes bytea,
    metadata text,
    tags text,
    causation_id text,
    correlation_id text,
    data_content_type text,
    metadata_content_type text,
    epoch_us bigint NOT NULL,
    CHECK ((data IS NULL) <> (data_bytes IS NULL))
  );
  CREATE UNIQUE INDEX events_by_stream ON events (stream_id, version);
  -- Event ids are unique outside link streams, and within each link stream (which repeat their
  -- source events' ids). Queries by id repeat the partial indexes' conditions word for word.
  CREATE UNIQUE INDEX events_by_id ON events (event_id) WHERE left(stream_id, 6) <> '$link:';
  CREATE UNIQUE INDEX link_events_by_id ON events (stream_id, event_id)
    WHERE left(stream_id, 6) = '$link:';
  -- Queried as a (type, position) range with a row comparison (see queries.ts), so that it is
  -- the only index that can answer in order, and the cost follows the rows returned.
  CREATE INDEX events_by_type ON events (event_type, position);
  CREATE TABLE event_tags (
    tag text COLLATE "C" NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (tag, position)
  );
  CREATE TABLE streams (
    stream_id text COLLATE "C" PRIMARY KEY,
    version bigint NOT NULL,
    last_position bigint NOT NULL,
    -- Position of the stream's first event: counts the streams created since the last fold.
    created_position bigint NOT NULL
  );
  CREATE INDEX streams_by_created ON streams (created_position);
  -- One row. Commits do not update it (a hot row rewritten per commit costs more than the
  -- insert itself), except to fold the counters every ${COUNTER_FOLD} positions.
  CREATE TABLE store_state (
    id integer PRIMARY KEY CHECK (id = 1),
    store_key integer NOT NULL,
    store_id text NOT NULL,
    created_at text NOT NULL,
    settings text NOT NULL,
    -- The last position is the highest stored event's, or this floor if higher: deleteStream
    -- raises it, so positions never move back when the newest events are deleted.
    position_floor bigint NOT NULL,
    -- Bumped by deleteStream (the one change to heads that adds no position), so a writer's
    -- cached heads are current exactly when the last position and the generation are.
    generation bigint NOT NULL,
    -- The counters count events and streams created at positions up to counted_through; the
    -- rest are counted from the indexes when asked (at most about ${COUNTER_FOLD}).
    counted_through bigint NOT NULL,
    event_count bigint NOT NULL,
    stream_count bigint NOT NULL
  );
  -- What features above the backend keep with the store (subscriptions, links), and leases
  -- (expiry on the server's clock, which every process sharing the database agrees on).
  CREATE TABLE kv (
    namespace text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value text NOT NULL,
    revision bigint NOT NULL,
    PRIMARY KEY (namespace, key)
  );
  CREATE TABLE leases (
    name text PRIMARY KEY,
    owner text NOT NULL,
    expires_at timestamptz NOT NULL
  );

  ${commitFunction(s, 'many')}
  ${commitFunction(s, 'one')}
  `,
  // Store features. The per-stream time index serves temporal queries (times are wall-clock, so
  // version order is not time order). Causation and correlation ids are indexed outside link
  // streams (which repeat their source events), with the condition queries repeat word for
  // word. Per-type counts are folded like the store counters, by triggers, so commits write no
  // count row: event_type_counts counts events up to store_state.counted_through (moved by the
  // commit function every few thousand positions), and events removed below it are taken out.
  // Snapshots, with their count kept in store_state by the statements that change them.
  (s) => `
  CREATE INDEX events_by_stream_time ON events (stream_id, epoch_us, version);
  CREATE INDEX events_by_causation ON events (causation_id, position)
    WHERE causation_id IS NOT NULL AND left(stream_id, 6) <> '$link:';
  CREATE INDEX events_by_correlation ON events (correlation_id, position)
    WHERE correlation_id IS NOT NULL AND left(stream_id, 6) <> '$link:';
  CREATE TABLE event_type_counts (
    event_type text COLLATE "C" PRIMARY KEY,
    count bigint NOT NULL
  );
  INSERT INTO event_type_counts (event_type, count)
    SELECT event_type, count(*) FROM events
    WHERE position <= (SELECT counted_through FROM store_state WHERE id = 1)
    GROUP BY event_type;
  CREATE FUNCTION evdb_fold_type_counts() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    INSERT INTO ${s}.event_type_counts AS c (event_type, count)
      SELECT event_type, count(*) FROM ${s}.events
      WHERE position > OLD.counted_through AND position <= NEW.counted_through
      GROUP BY event_type
      ON CONFLICT (event_type) DO UPDATE SET count = c.count + excluded.count;
    RETURN NULL;
  END
  $fn$;
  CREATE TRIGGER store_state_fold_type_counts AFTER UPDATE OF counted_through ON store_state
    FOR EACH ROW WHEN (NEW.counted_through > OLD.counted_through)
    EXECUTE FUNCTION evdb_fold_type_counts();
  CREATE FUNCTION evdb_uncount_types() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    UPDATE ${s}.event_type_counts c SET count = c.count - g.n
      FROM (SELECT event_type, count(*) AS n FROM gone
        WHERE position <= (SELECT counted_through FROM ${s}.store_state WHERE id = 1)
        GROUP BY event_type) g
      WHERE c.event_type = g.event_type;
    RETURN NULL;
  END
  $fn$;
  CREATE TRIGGER events_uncount_types AFTER DELETE ON events
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION evdb_uncount_types();
  CREATE TABLE snapshots (
    stream_uuid text COLLATE "C" NOT NULL,
    source_uuid text COLLATE "C" NOT NULL,
    version bigint NOT NULL,
    data text NOT NULL,
    metadata text,
    created_us bigint NOT NULL,
    PRIMARY KEY (stream_uuid, source_uuid, version)
  );
  CREATE INDEX snapshots_by_source ON snapshots (source_uuid, version);
  CREATE INDEX snapshots_by_time ON snapshots (created_us);
  ALTER TABLE store_state ADD COLUMN snapshot_count bigint NOT NULL DEFAULT 0;
  `,
  // The group commit's check of caller-chosen ids, as index lookups whatever the plan.
  (s) => commitFunction(s, 'many', 'ids by lookup'),
  // Commits of several writers hold the lock for one statement (evdb_commit_rebased), and no
  // commit notifies inside its transaction any more: the committing process notifies after
  // it, so commits of different stores do not queue on PostgreSQL's one notify lock.
  (s) => `
  DROP FUNCTION evdb_commit;
  DROP FUNCTION evdb_commit_one;
  ${commitFunction(s, 'many', 'ids by lookup', false)}
  ${commitFunction(s, 'one', 'first', false)}
  ${rebasedCommitFunction(s, COUNTER_FOLD, storedIdsQuery(s, 'p_absent_ids'))}
  `,
  // A write owner per store among server nodes: leases carry a fencing token, and the owner's
  // commits are refused once its token is not the lease's (fenced-commit.ts).
  (s) => `
  CREATE SEQUENCE lease_tokens;
  ALTER TABLE leases ADD COLUMN token bigint NOT NULL DEFAULT 0;
  ${takeFencedLeaseFunction(s)}
  ${fencedCommitFunction(s)}
  `,
  // Snapshot summaries paged newest first: the time index carries the rest of the order, so a
  // page after a cursor is one index range.
  () => `
  CREATE INDEX snapshots_by_time_key ON snapshots (created_us, stream_uuid, source_uuid, version);
  DROP INDEX snapshots_by_time;
  `,
  // The commit functions take a commit's events as one jsonb array (events-json.ts) instead of
  // fourteen column arrays, which cost the server more than the insert itself.
  (s) => `
  DROP FUNCTION evdb_commit_fenced;
  DROP FUNCTION evdb_commit_rebased;
  DROP FUNCTION evdb_commit;
  ${commitFunction(s, 'many', 'ids by lookup', false, 'jsonb')}
  ${rebasedCommitFunction(s, COUNTER_FOLD, storedIdsQuery(s, 'p_absent_ids'), 'jsonb')}
  ${fencedCommitFunction(s, 'jsonb')}
  `,
];

export const CATALOG_SCHEMA_VERSION = CATALOG_MIGRATIONS.length;
export const STORE_SCHEMA_VERSION = STORE_MIGRATIONS.length;

/** Second key of the catalog's advisory lock; stores use their `store_key` (from 1). */
const CATALOG_LOCK = 0;

/**
 * Creates or upgrades the catalog schema. Two processes starting at once serialise on a
 * transaction-scoped advisory lock taken before anything is read, so each step runs once.
 */
export async function migrateCatalog(
  client: pg.ClientBase,
  catalog: string,
  lockKey: number,
): Promise<void> {
  await inTransaction(client, async () => {
    await client.query(`SELECT pg_advisory_xact_lock(${integer(lockKey)}, ${CATALOG_LOCK})`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(catalog)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${ident(catalog)}.schema_version (` +
        'id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)',
    );
    const { rows } = await client.query<{ version: number }>(
      `SELECT version FROM ${ident(catalog)}.schema_version WHERE id = 1`,
    );
    const current = rows[0]?.version ?? 0;
    if (current > CATALOG_SCHEMA_VERSION) {
      throw new Error(
        `the evdb catalog schema "${catalog}" has version ${current}, newer than this evdb supports (${CATALOG_SCHEMA_VERSION}); upgrade evdb`,
      );
    }
    if (current === CATALOG_SCHEMA_VERSION) return;
    await client.query(`SET LOCAL search_path TO ${ident(catalog)}`);
    for (let step = current; step < CATALOG_SCHEMA_VERSION; step++) {
      await client.query(CATALOG_MIGRATIONS[step] as string);
    }
    await client.query(
      `INSERT INTO ${ident(catalog)}.schema_version (id, version) VALUES (1, $1) ` +
        'ON CONFLICT (id) DO UPDATE SET version = excluded.version',
      [CATALOG_SCHEMA_VERSION],
    );
  });
}

/**
 * Brings a store's schema from `from` up to the current version, inside the caller's
 * transaction, which holds the store's advisory lock (or created the schema itself).
 */
export async function migrateStore(
  client: pg.ClientBase,
  storeSchema: string,
  from: number,
): Promise<void> {
  if (from > STORE_SCHEMA_VERSION) {
    throw new Error(
      `store schema "${storeSchema}" has version ${from}, newer than this evdb supports (${STORE_SCHEMA_VERSION}); upgrade evdb`,
    );
  }
  if (from === STORE_SCHEMA_VERSION) return;
  await client.query(`SET LOCAL search_path TO ${ident(storeSchema)}`);
  for (let step = from; step < STORE_SCHEMA_VERSION; step++) {
    const migration = STORE_MIGRATIONS[step] as (schema: string) => string;
    await client.query(migration(ident(storeSchema)));
  }
  await client.query('SET LOCAL search_path TO DEFAULT');
}

/** Runs `work` in a transaction; rolls back if it throws (and rethrows). */
export async function inTransaction<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await client.query('COMMIT');
  return result;
}
