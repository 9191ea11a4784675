import type pg from 'pg';
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
];

/**
 * Migrations of one store's schema (`<schema>-<storeId>`), run with `search_path` set to it.
 * Mirrors the SQLite store file (backends/sqlite/schema.ts); the store's `schema_version` in the
 * catalog records how many ran.
 */
const STORE_MIGRATIONS: readonly string[] = [
  `
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
  CREATE UNIQUE INDEX events_by_id ON events (event_id);
  -- Types and tags are indexed in narrow tables of their own (not in indexes on events): a
  -- query by type then has one access path, the (type, position) range, and PostgreSQL cannot
  -- prefer walking all events in position order with a filter, whose cost grows with the store.
  CREATE TABLE event_types (
    event_type text COLLATE "C" NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (event_type, position)
  );
  CREATE TABLE event_tags (
    tag text COLLATE "C" NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (tag, position)
  );
  CREATE TABLE streams (
    stream_id text COLLATE "C" PRIMARY KEY,
    version bigint NOT NULL,
    last_position bigint NOT NULL
  );
  CREATE TABLE store_state (
    id integer PRIMARY KEY CHECK (id = 1),
    store_key integer NOT NULL,
    store_id text NOT NULL,
    created_at text NOT NULL,
    settings text NOT NULL,
    last_position bigint NOT NULL,
    event_count bigint NOT NULL,
    stream_count bigint NOT NULL
  );
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
    await client.query(STORE_MIGRATIONS[step] as string);
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
