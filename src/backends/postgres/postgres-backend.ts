import pg from 'pg';
import { EvdbError, invalidArgument } from '../../core/errors.js';
import type { JsonObject, StoreConfig } from '../../core/types.js';
import { joinStore, type Backend, type BackupCapability, type LogBackend } from '../log-backend.js';
import { backupPostgresStore, restorePostgresStore } from './backup.js';
import type { PostgresConnection, ResolvedOptions } from './connection.js';
import { toEvdbError, type PostgresErrorContext } from './errors.js';
import { PostgresKv, PostgresLeases, kvStatements } from './kv-leases.js';
import { POSTGRES_CAPABILITIES, PostgresLog } from './log.js';
import {
  CATALOG_SCHEMA_VERSION,
  STORE_SCHEMA_VERSION,
  inTransaction,
  migrateCatalog,
  migrateStore,
} from './migrations.js';
import { PostgresMessageBus } from './message-bus.js';
import type { MessageBus } from '../message-bus.js';
import { TYPE_PARSERS, ident, lockKey } from './sql.js';

export interface PostgresBackendOptions {
  /** Connection URL, e.g. `postgres://user:pass@host:5432/db`. */
  url: string;
  /**
   * Name of evdb's catalog schema (the list of stores), default `evdb`. Each store lives in its
   * own schema named `<schema>-<storeId>` (e.g. `evdb-shop`), so several evdb deployments can
   * share one database under different names. 1-14 characters a-z, 0-9 and `_`, not starting
   * with a digit.
   */
  schema?: string;
  /** Connections in the pool, default 10. Commits of one store use one at a time. */
  poolSize?: number;
  /**
   * Use LISTEN/NOTIFY to learn about other processes' commits (default true). Set false behind
   * a transaction-mode pooler, where LISTEN does not work: readers then poll.
   */
  listen?: boolean;
  /** Poll period for commit watchers while notifications are unavailable, default 250 ms. */
  pollIntervalMs?: number;
}

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,13}$/;
/**
 * Stores on a PostgreSQL server, shared by any number of processes: one schema per store,
 * positions assigned under a per-store advisory lock, LISTEN/NOTIFY to wake readers.
 * See docs/postgres.md for the design.
 *
 * @example
 * import { openEvdb } from 'evdb';
 * import { postgres } from 'evdb/postgres';
 * const evdb = await openEvdb({ backend: postgres({ url: 'postgres://localhost/app' }) });
 */
export function postgres(options: PostgresBackendOptions): Backend {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument('postgres() takes an options object: { url, schema?, poolSize? }');
  }
  if (typeof options.url !== 'string' || options.url.length === 0) {
    throw invalidArgument('postgres({ url }) needs a connection URL');
  }
  const schema = options.schema ?? 'evdb';
  if (typeof schema !== 'string' || !SCHEMA_PATTERN.test(schema)) {
    throw invalidArgument(
      `invalid schema ${JSON.stringify(schema)}: use 1-14 characters a-z, 0-9 or '_', not starting with a digit`,
    );
  }
  const poolSize = options.poolSize ?? 10;
  if (!Number.isSafeInteger(poolSize) || poolSize < 1) {
    throw invalidArgument(`poolSize must be a positive integer, got ${String(poolSize)}`);
  }
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  if (!Number.isFinite(pollIntervalMs) || pollIntervalMs < 1) {
    throw invalidArgument(
      `pollIntervalMs must be a positive number, got ${String(pollIntervalMs)}`,
    );
  }
  return new PostgresBackend({
    url: options.url,
    schema,
    poolSize,
    listen: options.listen ?? true,
    pollIntervalMs,
  });
}

export class PostgresBackend implements Backend, PostgresConnection {
  readonly name = 'postgres';
  readonly schemaVersion = `catalog ${CATALOG_SCHEMA_VERSION}, store ${STORE_SCHEMA_VERSION}`;
  readonly capabilities = POSTGRES_CAPABILITIES;
  readonly pool: pg.Pool;
  /** First key of every advisory lock this catalog takes. */
  readonly lockKey: number;
  private catalogReady: Promise<void> | undefined;
  private readonly logs = new Set<PostgresLog>();
  private closed = false;

  constructor(readonly options: ResolvedOptions) {
    this.lockKey = lockKey(`evdb:${options.schema}`);
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      types: TYPE_PARSERS,
      application_name: 'evdb',
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
    });
    // An idle connection that breaks (server restart) is dropped by the pool and the next
    // query opens a new one; the error itself reaches no caller, so there is nothing to report.
    this.pool.on('error', () => undefined);
  }

  get catalog(): string {
    return this.options.schema;
  }

  storeSchema(storeId: string): string {
    return `${this.options.schema}-${storeId}`;
  }

  readonly backups: BackupCapability = {
    backupStore: async (storeId, dest, onProgress) => {
      await this.ready();
      return backupPostgresStore(this, storeId, dest, onProgress);
    },
    restoreStore: async (storeId, src, onProgress) => {
      await this.ready();
      return restorePostgresStore(this, storeId, src, onProgress);
    },
  };

  /** Creates or migrates the catalog once per backend (again after a failure). */
  private ready(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    this.catalogReady ??= this.withClient({ doing: 'catalog migration' }, (client) =>
      migrateCatalog(client, this.catalog, this.lockKey),
    ).catch((error: unknown) => {
      this.catalogReady = undefined;
      throw error;
    });
    return this.catalogReady;
  }

  /**
   * Runs `work` on one pooled connection. A connection on which anything failed is destroyed,
   * never pooled again: it may be broken or inside an aborted transaction.
   */
  async withClient<T>(
    context: PostgresErrorContext,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    if (this.closed) throw closedError();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toEvdbError(error, context);
    }
    // Without a listener, a connection error between queries would crash the process.
    const onError = (): void => undefined;
    client.on('error', onError);
    let failure: Error | undefined;
    try {
      return await work(client);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      throw toEvdbError(error, context);
    } finally {
      client.off('error', onError);
      client.release(failure);
    }
  }

  /** One statement on any pooled connection. */
  async query<R extends pg.QueryResultRow>(
    context: PostgresErrorContext,
    config: pg.QueryConfig,
  ): Promise<pg.QueryResult<R>> {
    if (this.closed) throw closedError();
    try {
      return await this.pool.query<R>(config);
    } catch (error) {
      throw toEvdbError(error, context);
    }
  }

  /** One statement on any pooled connection, rows as arrays (the fast path for reads). */
  async queryArray<R extends unknown[]>(
    context: PostgresErrorContext,
    config: pg.QueryArrayConfig,
  ): Promise<pg.QueryArrayResult<R>> {
    if (this.closed) throw closedError();
    try {
      return await this.pool.query<R>(config);
    } catch (error) {
      throw toEvdbError(error, context);
    }
  }

  /** Channels across the processes of this catalog: LISTEN/NOTIFY on `<catalog>/channels`. */
  openMessageBus(): MessageBus {
    if (this.closed) throw closedError();
    return new PostgresMessageBus({
      connection: {
        connectionString: this.options.url,
        application_name: 'evdb-channels',
        keepAlive: true,
      },
      channel: `${this.catalog}/channels`,
      table: `${ident(this.catalog)}.channel_messages`,
      ready: () => this.ready(),
    });
  }

  async listStores(): Promise<string[]> {
    await this.ready();
    const { rows } = await this.query<{ store_id: string }>(
      { doing: 'listStores' },
      { text: `SELECT store_id FROM ${ident(this.catalog)}.stores ORDER BY store_id` },
    );
    return rows.map((row) => row.store_id);
  }

  async createStore(storeId: string, settings: JsonObject): Promise<LogBackend | undefined> {
    await this.ready();
    const config: StoreConfig = { storeId, createdAt: new Date().toISOString(), settings };
    const schema = this.storeSchema(storeId);
    const storeKey = await this.withClient({ doing: `createStore '${storeId}'` }, (client) =>
      inTransaction(client, async () => {
        // The primary key decides between racing creators: the loser's insert waits for the
        // winner's commit, then inserts nothing.
        const { rows } = await client.query<{ store_key: number }>(
          `INSERT INTO ${ident(this.catalog)}.stores (store_id, schema_version) VALUES ($1, $2) ` +
            'ON CONFLICT (store_id) DO NOTHING RETURNING store_key',
          [storeId, STORE_SCHEMA_VERSION],
        );
        const key = rows[0]?.store_key;
        if (key === undefined) return undefined;
        await client.query(`CREATE SCHEMA ${ident(schema)}`);
        await migrateStore(client, schema, 0);
        await client.query(
          `INSERT INTO ${ident(schema)}.store_state (id, store_key, store_id, created_at, settings, ` +
            'position_floor, generation, counted_through, event_count, stream_count) ' +
            'VALUES (1, $1, $2, $3, $4, -1, 0, -1, 0, 0)',
          [key, storeId, config.createdAt, JSON.stringify(settings)],
        );
        return key;
      }),
    );
    return storeKey === undefined ? undefined : this.track(storeId, storeKey);
  }

  async openStore(storeId: string): Promise<LogBackend | undefined> {
    await this.ready();
    const found = await this.storeRow(storeId);
    if (found === undefined) return undefined;
    if (found.schema_version !== STORE_SCHEMA_VERSION) {
      await this.withClient({ doing: `migrating store '${storeId}'`, storeId }, (client) =>
        inTransaction(client, async () => {
          // The store's own lock: no commit runs while its tables change.
          await client.query('SELECT pg_advisory_xact_lock($1, $2)', [
            this.lockKey,
            found.store_key,
          ]);
          const { rows } = await client.query<{ schema_version: number }>(
            `SELECT schema_version FROM ${ident(this.catalog)}.stores WHERE store_id = $1 FOR UPDATE`,
            [storeId],
          );
          const current = rows[0]?.schema_version;
          if (current === undefined) return;
          await migrateStore(client, this.storeSchema(storeId), current);
          await client.query(
            `UPDATE ${ident(this.catalog)}.stores SET schema_version = $2 WHERE store_id = $1`,
            [storeId, STORE_SCHEMA_VERSION],
          );
        }),
      );
    }
    return this.track(storeId, found.store_key);
  }

  private async storeRow(
    storeId: string,
  ): Promise<{ store_key: number; schema_version: number } | undefined> {
    const { rows } = await this.query<{ store_key: number; schema_version: number }>(
      { doing: `opening store '${storeId}'` },
      {
        text: `SELECT store_key, schema_version FROM ${ident(this.catalog)}.stores WHERE store_id = $1`,
        values: [storeId],
      },
    );
    return rows[0];
  }

  async removeStore(storeId: string): Promise<boolean> {
    await this.ready();
    const found = await this.storeRow(storeId);
    if (found === undefined) return false;
    return this.withClient({ doing: `removeStore '${storeId}'` }, (client) =>
      inTransaction(client, async () => {
        // The store's lock first (as commits and migrations take it), so a commit in flight in
        // another process finishes before the tables go; it then finds the store gone.
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [this.lockKey, found.store_key]);
        const { rowCount } = await client.query(
          `DELETE FROM ${ident(this.catalog)}.stores WHERE store_id = $1 AND store_key = $2`,
          [storeId, found.store_key],
        );
        if (rowCount === 0) return false;
        await client.query(`DROP SCHEMA IF EXISTS ${ident(this.storeSchema(storeId))} CASCADE`);
        return true;
      }),
    );
  }

  private track(storeId: string, storeKey: number): LogBackend {
    const log = new PostgresLog(this, storeId, storeKey, () => this.logs.delete(log));
    this.logs.add(log);
    const statements = kvStatements(log.tables, storeKey);
    const run = log.run.bind(log);
    const leases = new PostgresLeases(statements, run, [this.lockKey, storeKey]);
    return joinStore(log, new PostgresKv(statements, run), leases);
  }

  /** One round trip, and the catalog migrated (once): the login, the database and the rights. */
  async check(): Promise<void> {
    await this.ready();
    await this.query({ doing: 'health check' }, { text: 'SELECT 1' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.logs].map((log) => log.close()));
    await this.pool.end();
  }
}

function closedError(): EvdbError {
  return new EvdbError('unavailable', 'the postgres backend is closed', { retriable: false });
}
