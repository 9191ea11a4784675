import pg from 'pg';
import { EvdbError, invalidArgument } from '../../core/errors.js';
import type { EventRecord, JsonObject, JsonValue, StoreConfig } from '../../core/types.js';
import { decodeEvent } from '../event-codec.js';
import type {
  Backend,
  BackendCapabilities,
  CommitKeys,
  CommitPlan,
  CommitView,
  EventLocation,
  IndexQuery,
  KvEntry,
  LogBackend,
  LogStatus,
  StreamHead,
} from '../log-backend.js';
import { CommitWatcher } from './commit-watcher.js';
import type { EventTypeCount, StreamFacts } from '../feature-storage.js';
import { featureStatements, featureTables, type FeatureStatements } from './feature-queries.js';
import { PostgresSnapshots } from './snapshot-table.js';
import { toEvdbError, type PostgresErrorContext } from './errors.js';
import { STORE_SCHEMA_VERSION, inTransaction, migrateCatalog, migrateStore } from './schema.js';
import {
  commitArgs,
  commitCallSql,
  commitOneArgs,
  commitOneStatement,
  commitStatement,
  kvStatements,
  prefetchSql,
  readStatements,
  storeTables,
  type KvStatements,
  type NamedStatement,
  type ReadStatements,
  type StoreTables,
} from './queries.js';
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

const CAPABILITIES: BackendCapabilities = {
  multiProcess: true,
  pushNotifications: true,
  durable: true,
};

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,13}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Heads of this many streams at most are cached for the fast commit path. */
const MAX_CACHED_HEADS = 10_000;
/** Most index entries one round trip of an all-tags query walks. */
const MAX_TAG_CHUNK = 20_000;

type EventRow = [
  number,
  string,
  number,
  string,
  string,
  string | null,
  Buffer | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  number,
];

function toRecord(row: EventRow): EventRecord {
  const [position, streamId, version, eventId, eventType, data, bytes, ...rest] = row;
  return decodeEvent(
    position,
    streamId,
    version,
    eventId,
    eventType,
    data ?? (bytes as Buffer),
    ...rest,
  );
}

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

interface ResolvedOptions {
  url: string;
  schema: string;
  poolSize: number;
  listen: boolean;
  pollIntervalMs: number;
}

class PostgresBackend implements Backend {
  readonly name = 'postgres';
  readonly capabilities = CAPABILITIES;
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

  private track(storeId: string, storeKey: number): PostgresLog {
    const log = new PostgresLog(this, storeId, storeKey, () => this.logs.delete(log));
    this.logs.add(log);
    return log;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.logs].map((log) => log.close()));
    await this.pool.end();
  }
}

/** What a commit plans against on the fast path: the state the last commit left. */
interface CommitCache {
  lastPosition: number;
  generation: number;
  /** Heads by stream; null: known to have none. LRU order. */
  heads: Map<string, StreamHead | null>;
}

class PostgresLog implements LogBackend {
  readonly capabilities = CAPABILITIES;
  private readonly schema: string;
  private readonly tables: StoreTables;
  private readonly statements: ReadStatements;
  private readonly kv: KvStatements;
  private readonly commitCall: NamedStatement;
  private readonly commitOneCall: NamedStatement;
  private readonly features: FeatureStatements;
  readonly snapshots: PostgresSnapshots;
  private watcher: CommitWatcher | undefined;
  private closed = false;
  /** The state this process's last commit left, while nothing says it changed. */
  private cache: CommitCache | undefined;
  /**
   * Whether this process seems to be the store's only writer: its last commit found nothing
   * written by others since the one before. Only then is the fast path worth a try.
   */
  private alone = false;

  constructor(
    private readonly backend: PostgresBackend,
    private readonly storeId: string,
    private readonly storeKey: number,
    private readonly onClose: () => void,
  ) {
    this.schema = backend.storeSchema(storeId);
    this.tables = storeTables(this.schema);
    this.statements = readStatements(this.tables, storeKey);
    this.kv = kvStatements(this.tables, storeKey);
    this.commitCall = commitStatement(this.tables, storeKey);
    this.commitOneCall = commitOneStatement(this.tables, storeKey);
    this.features = featureStatements(this.tables, featureTables(this.schema), storeKey);
    this.snapshots = new PostgresSnapshots(this.features, (doing, statement, values) =>
      this.run(doing, statement, values),
    );
  }

  /**
   * A group commit in one round trip when this process knows the store's state (it made the
   * last commit): it plans against its cache and calls `evdb_commit`, which takes the store's
   * lock, checks that the state is still the cached one and writes, or writes nothing and
   * answers 'stale'. Otherwise, or after 'stale', two round trips under the lock: read the
   * state, plan, write. See docs/postgres.md.
   */
  async commit<T>(
    keys: CommitKeys,
    plan: (view: CommitView) => { plan: CommitPlan; result: T },
  ): Promise<T> {
    this.assertOpen();
    const cache = this.cache;
    if (cache !== undefined && this.alone) {
      const fast = await this.commitFast(cache, keys, plan);
      if (fast.done) return fast.result;
    }
    return this.commitLocked(keys, plan);
  }

  private async commitFast<T>(
    cache: CommitCache,
    keys: CommitKeys,
    plan: (view: CommitView) => { plan: CommitPlan; result: T },
  ): Promise<{ done: true; result: T } | { done: false }> {
    const absentStreams = new Set<string>();
    const streamKeys = new Set(keys.streamIds);
    const eventKeys = new Set(keys.eventIds);
    const view: CommitView = {
      lastPosition: cache.lastPosition,
      head(streamId) {
        if (!streamKeys.has(streamId)) throw notPrefetched('stream', streamId);
        const head = cache.heads.get(streamId);
        // Unknown to the cache: planned as absent, which evdb_commit checks.
        if (head === undefined || head === null) {
          absentStreams.add(streamId);
          return undefined;
        }
        return head;
      },
      findEvent(eventId) {
        if (!eventKeys.has(eventId)) throw notPrefetched('event id', eventId);
        return undefined;
      },
    };
    const decided = plan(view);
    const expect = {
      lastPosition: cache.lastPosition,
      generation: cache.generation,
      absentStreams: [...absentStreams],
      absentIds: keys.eventIds,
    };
    const lockKey = this.backend.lockKey;
    const one = commitOneArgs(lockKey, this.storeKey, expect, decided.plan, this.schema);
    const call =
      one === undefined
        ? {
            ...this.commitCall,
            values: commitArgs(lockKey, this.storeKey, expect, decided.plan, this.schema),
          }
        : { ...this.commitOneCall, values: one };
    this.cache = undefined;
    let answer: string | undefined;
    try {
      const { rows } = await this.backend.pool.query<[string]>({ ...call, rowMode: 'array' });
      answer = rows[0]?.[0];
    } catch (error) {
      // The call commits when it returns: if the answer is lost, so is the outcome.
      throw toEvdbError(error, {
        doing: `commit to store '${this.storeId}'`,
        storeId: this.storeId,
        outcomeUnknown: true,
      });
    }
    if (answer === 'ok') {
      this.remember(cache, cache.generation, keys, view, decided.plan);
      return { done: true, result: decided.result };
    }
    if (answer === 'removed') throw this.removedError();
    if (answer !== 'stale') {
      throw new EvdbError('internal', `evdb_commit answered ${String(answer)}`);
    }
    // Another process committed (or deleted) since: use the locked path, until a commit there
    // finds that nobody else wrote since this process's previous commit.
    this.alone = false;
    return { done: false };
  }

  private commitLocked<T>(
    keys: CommitKeys,
    plan: (view: CommitView) => { plan: CommitPlan; result: T },
  ): Promise<T> {
    const prefetch = prefetchSql(this.tables, this.backend.lockKey, this.storeKey, keys);
    const previous = this.cache;
    this.cache = undefined;
    let sent = false;
    const context = { doing: `commit to store '${this.storeId}'`, storeId: this.storeId };
    return this.backend.withClient(context, async (client) => {
      try {
        const results = (await client.query({
          text: prefetch,
          rowMode: 'array',
        })) as unknown as pg.QueryResult<unknown[]>[];
        const state = results[2]?.rows[0] as [number, number, number] | undefined;
        if (state === undefined || state[0] !== this.storeKey) throw this.removedError();
        const [, lastPosition, generation] = state;
        const eventRows = results[4]?.rows as [string, string, number, number][];
        const view = prefetchedView(
          lastPosition,
          keys,
          results[3]?.rows as [string, number, number][],
          eventRows,
        );
        const decided = plan(view);
        const found = new Set(eventRows.map((row) => row[0]));
        const args = commitArgs(
          this.backend.lockKey,
          this.storeKey,
          {
            lastPosition,
            generation,
            absentStreams: keys.streamIds.filter((id) => view.head(id) === undefined),
            absentIds: keys.eventIds.filter((id) => !found.has(id)),
          },
          decided.plan,
          this.schema,
        );
        sent = true;
        const written = (await client.query({
          text: commitCallSql(this.tables, args),
          rowMode: 'array',
        })) as unknown as pg.QueryResult<unknown[]>[];
        const answer = written[0]?.rows[0]?.[0];
        // Under the lock the state cannot have moved: anything but 'ok' is a bug.
        if (answer !== 'ok') {
          throw new EvdbError('internal', `evdb_commit answered ${String(answer)} under the lock`);
        }
        // Nobody else committed or deleted since this process's previous commit: its cached
        // heads are still valid, and the next commit may take the fast path.
        this.alone =
          previous !== undefined &&
          previous.lastPosition === lastPosition &&
          previous.generation === generation;
        this.remember(
          this.alone && previous !== undefined
            ? previous
            : { lastPosition, generation, heads: new Map() },
          generation,
          keys,
          view,
          decided.plan,
        );
        return decided.result;
      } catch (error) {
        throw toEvdbError(error, { ...context, outcomeUnknown: sent });
      }
    });
  }

  /** After a commit: the state it left, for the next commit to plan against. */
  private remember(
    base: CommitCache,
    generation: number,
    keys: CommitKeys,
    view: CommitView,
    plan: CommitPlan,
  ): void {
    const heads = base.heads;
    for (const streamId of keys.streamIds) {
      const head = plan.heads.get(streamId) ?? view.head(streamId) ?? null;
      heads.delete(streamId);
      heads.set(streamId, head);
    }
    // Oldest first in a Map's order: trim the least recently used.
    for (const streamId of heads.keys()) {
      if (heads.size <= MAX_CACHED_HEADS) break;
      heads.delete(streamId);
    }
    const last = plan.events[plan.events.length - 1];
    this.cache = {
      lastPosition: last === undefined ? view.lastPosition : last.position,
      generation,
      heads,
    };
  }

  async streamHead(streamId: string): Promise<StreamHead | undefined> {
    const { rows } = await this.run<[number, number]>('streamHead', this.statements.head, [
      streamId,
    ]);
    const row = rows[0];
    return row === undefined ? undefined : { version: row[0], lastPosition: row[1] };
  }

  async readStream(
    streamId: string,
    fromVersion: number,
    count: number,
    direction: 'forward' | 'backward',
  ): Promise<EventRecord[]> {
    const statement =
      direction === 'forward' ? this.statements.readForward : this.statements.readBackward;
    const { rows } = await this.run<EventRow>('readStream', statement, [
      streamId,
      fromVersion,
      count,
    ]);
    return rows.map(toRecord);
  }

  async readAll(fromPosition: number, count: number): Promise<EventRecord[]> {
    const { rows } = await this.run<EventRow>('readAll', this.statements.readAll, [
      fromPosition,
      count,
    ]);
    return rows.map(toRecord);
  }

  async readIndex(query: IndexQuery, fromPosition: number, count: number): Promise<EventRecord[]> {
    // No stored type or tag holds NUL (PostgreSQL text cannot), so such keys match nothing.
    const usable = (keys: string[]): string[] => keys.filter((key) => !key.includes('\u0000'));
    let result: pg.QueryArrayResult<EventRow>;
    if (query.kind === 'causation' || query.kind === 'correlation') {
      const key = query.kind === 'causation' ? query.causationId : query.correlationId;
      if (key.includes('\u0000')) return [];
      const statement =
        query.kind === 'causation' ? this.features.readCausation : this.features.readCorrelation;
      result = await this.run<EventRow>(`read by ${query.kind}`, statement, [
        key,
        fromPosition,
        count,
      ]);
    } else if (query.kind === 'type') {
      const types = usable(query.eventTypes);
      if (types.length === 0) return [];
      result = await this.run<EventRow>('readByEventTypes', this.statements.readTypes, [
        types,
        fromPosition,
        count,
      ]);
    } else if (query.match === 'any' || query.tags.length === 1) {
      const tags = usable(query.tags);
      if (tags.length === 0) return [];
      result = await this.run<EventRow>('readByTags', this.statements.readTagsAny, [
        tags,
        fromPosition,
        count,
      ]);
    } else {
      if (usable(query.tags).length !== query.tags.length) return [];
      const [driver, ...others] = query.tags as [string, ...string[]];
      return this.readAllTags(driver, others, fromPosition, count);
    }
    return result.rows.map(toRecord);
  }

  /**
   * Events carrying every tag: walks the first tag's entries in chunks (growing, so a rare
   * combination costs few round trips) until `count` match or the entries run out. The work
   * grows with the entries walked, as on SQLite, never with the size of the store.
   */
  private async readAllTags(
    driver: string,
    others: string[],
    fromPosition: number,
    count: number,
  ): Promise<EventRecord[]> {
    const found: EventRecord[] = [];
    let from = fromPosition;
    let chunk = Math.min(Math.max(2 * count, 256), MAX_TAG_CHUNK);
    for (;;) {
      const { rows } = await this.run<[number, number | null, ...EventRow]>(
        'readByTags',
        this.statements.readTagsAll,
        [driver, from, others, chunk],
      );
      for (const row of rows) {
        if (row[2] !== null) found.push(toRecord(row.slice(2) as EventRow));
      }
      const [scanned, last] = rows[0] ?? [0, null];
      if (found.length >= count || scanned < chunk || last === null) break;
      from = last + 1;
      chunk = Math.min(chunk * 2, MAX_TAG_CHUNK);
    }
    return found.slice(0, count);
  }

  async listStreams(): Promise<string[]> {
    const { rows } = await this.run<[string]>('getStreams', this.statements.listStreams, []);
    return rows.map((row) => row[0]);
  }

  /**
   * Takes the store's commit lock for the running transaction and reads the counters' fold point
   * and the last position under it; a store removed (and maybe created again) meanwhile is
   * `not_found`.
   */
  private async lockState(
    client: pg.PoolClient,
  ): Promise<{ countedThrough: number; lastPosition: number }> {
    const t = this.tables;
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [
      this.backend.lockKey,
      this.storeKey,
    ]);
    const state = await client.query<[number, number, number]>({
      text:
        `SELECT s.store_key, s.counted_through, greatest(s.position_floor, ` +
        `(SELECT max(position) FROM ${t.events})) FROM ${t.state} s WHERE s.id = 1`,
      rowMode: 'array',
    });
    const [storeKey, countedThrough, lastPosition] = state.rows[0] ?? [];
    if (storeKey !== this.storeKey) throw this.removedError();
    return { countedThrough: countedThrough as number, lastPosition: lastPosition as number };
  }

  /**
   * Under the store's lock: removes the stream's events, tags and head, raises the position
   * floor to the last position (so positions never move back) and bumps the generation (so
   * every writer's cached heads are known stale).
   */
  async deleteStream(streamId: string): Promise<number> {
    this.assertOpen();
    this.cache = undefined;
    const t = this.tables;
    return this.backend.withClient(
      { doing: `deleteStream in store '${this.storeId}'`, storeId: this.storeId },
      (client) =>
        inTransaction(client, async () => {
          const { countedThrough, lastPosition } = await this.lockState(client);
          const head = await client.query<[number]>({
            text: `DELETE FROM ${t.streams} WHERE stream_id = $1 RETURNING created_position`,
            values: [streamId],
            rowMode: 'array',
          });
          const createdAt = head.rows[0]?.[0];
          if (createdAt === undefined) return 0;
          await client.query(
            `DELETE FROM ${t.tags} WHERE position IN ` +
              `(SELECT position FROM ${t.events} WHERE stream_id = $1 AND tags IS NOT NULL)`,
            [streamId],
          );
          const deleted = await client.query<[number, number]>({
            text:
              `WITH d AS (DELETE FROM ${t.events} WHERE stream_id = $1 RETURNING position) ` +
              'SELECT count(*), count(*) FILTER (WHERE position <= $2) FROM d',
            values: [streamId, countedThrough],
            rowMode: 'array',
          });
          const [count, counted] = deleted.rows[0] ?? [0, 0];
          await client.query(
            `UPDATE ${t.state} SET position_floor = $1, generation = generation + 1, ` +
              'event_count = event_count - $2, stream_count = stream_count - $3 WHERE id = 1',
            [lastPosition, counted, createdAt <= countedThrough ? 1 : 0],
          );
          return count;
        }),
    );
  }

  /**
   * Under the store's lock, like deleteStream: removes the events and their tags, raises the
   * position floor (the removed events may hold the last position) and keeps the head, so
   * cached heads stay right. Per-type counts follow by the trigger on events (schema.ts).
   */
  async truncateStream(streamId: string, beforeVersion: number): Promise<number> {
    this.assertOpen();
    const t = this.tables;
    return this.backend.withClient(
      { doing: `scavenge in store '${this.storeId}'`, storeId: this.storeId },
      (client) =>
        inTransaction(client, async () => {
          const { countedThrough, lastPosition } = await this.lockState(client);
          await client.query(
            `DELETE FROM ${t.tags} WHERE position IN (SELECT position FROM ${t.events} ` +
              'WHERE stream_id = $1 AND version < $2 AND tags IS NOT NULL)',
            [streamId, beforeVersion],
          );
          const deleted = await client.query<[number, number]>({
            text:
              `WITH d AS (DELETE FROM ${t.events} WHERE stream_id = $1 AND version < $2 ` +
              'RETURNING position) SELECT count(*), count(*) FILTER (WHERE position <= $3) FROM d',
            values: [streamId, beforeVersion, countedThrough],
            rowMode: 'array',
          });
          const [count, counted] = deleted.rows[0] ?? [0, 0];
          if (count === 0) return 0;
          await client.query(
            `UPDATE ${t.state} SET position_floor = $1, event_count = event_count - $2 WHERE id = 1`,
            [lastPosition, counted],
          );
          return count;
        }),
    );
  }

  async readStreamByTime(
    streamId: string,
    fromUs: number,
    toUs: number,
    count: number,
    direction: 'forward' | 'backward',
  ): Promise<EventRecord[]> {
    const f = this.features;
    const { rows } = await this.run<EventRow>(
      'temporal read',
      direction === 'forward' ? f.timeForward : f.timeBackward,
      [streamId, fromUs, toUs, count],
    );
    return rows.map(toRecord);
  }

  async streamFacts(streamId: string): Promise<StreamFacts | undefined> {
    type Row = [number, number, number | null, number | null, number | null, number | null];
    const { rows } = await this.run<Row>('streamInfo', this.features.facts, [streamId]);
    const row = rows[0];
    if (row === undefined) return undefined;
    const [version, lastPosition, firstVersion, firstUs, lastVersion, lastUs] = row;
    return {
      version,
      lastPosition,
      first: firstVersion === null ? undefined : { version: firstVersion, epochUs: firstUs ?? 0 },
      last: lastVersion === null ? undefined : { version: lastVersion, epochUs: lastUs ?? 0 },
    };
  }

  async eventTypeCounts(): Promise<EventTypeCount[]> {
    const { rows } = await this.run<[string, number]>(
      'eventTypeSummary',
      this.features.typeCounts,
      [],
    );
    return rows.map(([eventType, count]) => ({ eventType, count }));
  }

  async readEventsById(eventIds: string[]): Promise<EventRecord[]> {
    // Event ids are uuid here: anything else cannot be one.
    const ids = eventIds.filter((id) => UUID_PATTERN.test(id));
    if (ids.length === 0) return [];
    const { rows } = await this.run<EventRow>('read by id', this.features.readByIds, [ids]);
    return rows.map(toRecord);
  }

  async diskBytes(): Promise<number> {
    const { rows } = await this.run<[number]>('storeStats', this.features.diskBytes, [this.schema]);
    return rows[0]?.[0] ?? 0;
  }

  async status(): Promise<LogStatus> {
    const { rows } = await this.run<[number, number, number]>('status', this.statements.status, []);
    const row = rows[0];
    if (row === undefined) throw this.removedError();
    return { lastPosition: row[0], totalEvents: row[1], streamCount: row[2] };
  }

  async config(): Promise<StoreConfig> {
    const { rows } = await this.run<[string, string, string]>('config', this.statements.config, []);
    const row = rows[0];
    if (row === undefined) throw this.removedError();
    return { storeId: row[0], createdAt: row[1], settings: JSON.parse(row[2]) as JsonObject };
  }

  watchCommits(listener: (lastPosition: number) => void): () => void {
    this.assertOpen();
    const options = this.backend.options;
    const watcher = (this.watcher ??= new CommitWatcher({
      connection: { connectionString: options.url, application_name: 'evdb-listen' },
      channel: this.schema,
      listen: options.listen,
      pollIntervalMs: options.pollIntervalMs,
      readLastPosition: async () => {
        const { rows } = await this.run<[number]>('poll', this.statements.lastPosition, []);
        return rows[0]?.[0] ?? -1;
      },
    }));
    watcher.add(listener);
    return () => {
      if (watcher.remove(listener) === 0 && this.watcher === watcher) {
        this.watcher = undefined;
        void watcher.stop();
      }
    };
  }

  async kvGet(namespace: string, key: string): Promise<KvEntry | undefined> {
    const { rows } = await this.run<[string, number]>('kvGet', this.kv.get, [namespace, key]);
    const row = rows[0];
    return row && { key, value: JSON.parse(row[0]) as JsonValue, revision: row[1] };
  }

  async kvList(namespace: string): Promise<KvEntry[]> {
    const { rows } = await this.run<[string, string, number]>('kvList', this.kv.list, [namespace]);
    return rows.map(([key, value, revision]) => ({
      key,
      value: JSON.parse(value) as JsonValue,
      revision,
    }));
  }

  async kvPut(
    namespace: string,
    key: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number | undefined> {
    const json = JSON.stringify(value);
    const { rows } =
      expectedRevision === undefined
        ? await this.run<[number]>('kvPut', this.kv.upsert, [namespace, key, json])
        : expectedRevision === 0
          ? await this.run<[number]>('kvPut', this.kv.insert, [namespace, key, json])
          : await this.run<[number]>('kvPut', this.kv.update, [
              namespace,
              key,
              json,
              expectedRevision,
            ]);
    return rows[0]?.[0];
  }

  async kvDelete(namespace: string, key: string, expectedRevision?: number): Promise<boolean> {
    const { rowCount } =
      expectedRevision === undefined
        ? await this.run('kvDelete', this.kv.delete, [namespace, key])
        : await this.run('kvDelete', this.kv.deleteAt, [namespace, key, expectedRevision]);
    return (rowCount ?? 0) > 0;
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const { rows } = await this.run<[string]>('acquireLease', this.kv.acquireLease, [
      name,
      owner,
      ttlMs,
    ]);
    return rows.length > 0;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.run('releaseLease', this.kv.releaseLease, [name, owner]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.stop();
    this.onClose();
  }

  private run<R extends unknown[]>(
    doing: string,
    statement: { name: string; text: string },
    values: unknown[],
  ): Promise<pg.QueryArrayResult<R>> {
    this.assertOpen();
    return this.backend.queryArray<R>(
      { doing: `${doing} in store '${this.storeId}'`, storeId: this.storeId },
      { ...statement, values, rowMode: 'array' },
    );
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new EvdbError('unavailable', `store '${this.storeId}' is closed`, {
        retriable: false,
        details: { storeId: this.storeId },
      });
    }
  }

  private removedError(): EvdbError {
    return new EvdbError(
      'not_found',
      `store '${this.storeId}' no longer exists (removed by another process?)`,
      { details: { storeId: this.storeId } },
    );
  }
}

/**
 * The planner's view of the prefetched state. It may only ask for the keys that were fetched;
 * anything else is a bug, reported as one rather than answered with a silent "absent".
 */
function prefetchedView(
  lastPosition: number,
  keys: CommitKeys,
  headRows: [string, number, number][],
  eventRows: [string, string, number, number][],
): CommitView {
  const heads = new Map<string, StreamHead>();
  for (const [streamId, version, last] of headRows) {
    heads.set(streamId, { version, lastPosition: last });
  }
  const events = new Map<string, EventLocation>();
  for (const [eventId, streamId, version, position] of eventRows) {
    events.set(eventId, { streamId, version, position });
  }
  const streamKeys = new Set(keys.streamIds);
  const eventKeys = new Set(keys.eventIds);
  return {
    lastPosition,
    head(streamId) {
      if (!streamKeys.has(streamId)) throw notPrefetched('stream', streamId);
      return heads.get(streamId);
    },
    findEvent(eventId) {
      if (!eventKeys.has(eventId)) throw notPrefetched('event id', eventId);
      return events.get(eventId);
    },
  };
}

function notPrefetched(kind: string, key: string): EvdbError {
  return new EvdbError('internal', `the commit planner asked for ${kind} ${key}, not prefetched`);
}

function closedError(): EvdbError {
  return new EvdbError('unavailable', 'the postgres backend is closed', { retriable: false });
}
