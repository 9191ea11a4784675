// Over 400 lines, on purpose: this is one class, the log of a store schema, and each method is a
// short round trip (stream and index reads, the all-tags walk, the two removals under the
// store's lock, time and facts queries, status, the commit watcher). Its SQL is in
// statements.ts; its group commit, the largest part, in commit.ts.
import type pg from 'pg';
import { EvdbError } from '../../core/errors.js';
import type { EventRecord, JsonObject, StoreConfig } from '../../core/types.js';
import type { KeyRange } from '../../core/paging.js';
import { decodeEvent } from '../event-codec.js';
import type {
  BackendCapabilities,
  CommitKeys,
  CommitPlan,
  CommitFence,
  CommitView,
  EventLog,
  IndexQuery,
  LogStatus,
  StreamHead,
} from '../event-log.js';
import type { EventTypeCount, StreamFacts } from '../feature-storage.js';
import { Committer, type CommitTarget } from './commit.js';
import { CommitWatcher } from './commit-watcher.js';
import { inTransaction } from './migrations.js';
import type { PostgresConnection } from './connection.js';
import { PostgresSnapshots, snapshotStatements } from './snapshots.js';
import {
  featureStatements,
  featureTables,
  readStatements,
  storeTables,
  type FeatureStatements,
  type ReadStatements,
  type StoreTables,
} from './statements.js';

export const POSTGRES_CAPABILITIES: BackendCapabilities = {
  multiProcess: true,
  pushNotifications: true,
  durable: true,
};

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Most index entries one round trip of an all-tags query walks. */
const MAX_TAG_CHUNK = 20_000;

/** A row of the events table: as `EventRow`, with bytes in a column of their own. */
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

/** One store schema's log. */
export class PostgresLog implements EventLog, CommitTarget {
  readonly capabilities = POSTGRES_CAPABILITIES;
  readonly schema: string;
  readonly tables: StoreTables;
  private readonly statements: ReadStatements;
  private readonly features: FeatureStatements;
  private readonly committer: Committer;
  readonly snapshots: PostgresSnapshots;
  private watcher: CommitWatcher | undefined;
  private closed = false;

  constructor(
    readonly backend: PostgresConnection,
    readonly storeId: string,
    readonly storeKey: number,
    private readonly onClose: () => void,
  ) {
    this.schema = backend.storeSchema(storeId);
    this.tables = storeTables(this.schema);
    this.statements = readStatements(this.tables, storeKey);
    this.features = featureStatements(this.tables, featureTables(this.schema), storeKey);
    this.committer = new Committer(this);
    this.snapshots = new PostgresSnapshots(
      snapshotStatements(this.tables, featureTables(this.schema), storeKey),
      this.run.bind(this),
    );
  }

  /**
   * A group commit in one round trip when this process knows the store's state (it made the
   * last commit), else two under the store's lock (commit.ts).
   */
  commit<T>(
    keys: CommitKeys,
    plan: (view: CommitView) => { plan: CommitPlan; result: T },
    fence?: CommitFence,
  ): Promise<T> {
    this.assertOpen();
    return this.committer.commit(keys, plan, fence);
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

  async listStreams(range: KeyRange, count: number): Promise<string[]> {
    const { rows } = await this.run<[string]>(
      'listStreams',
      range.before === undefined ? this.statements.listStreams : this.statements.listStreamsBefore,
      range.before === undefined
        ? [range.from, range.fromExclusive, count]
        : [range.from, range.fromExclusive, count, range.before],
    );
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
    this.committer.forget();
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
   * cached heads stay right. Per-type counts follow by the trigger on events (migrations.ts).
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.stop();
    this.onClose();
  }

  /** Runs a named statement of this store (for its log, key-value store and snapshots). */
  run<R extends unknown[]>(
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

  removedError(): EvdbError {
    return new EvdbError(
      'not_found',
      `store '${this.storeId}' no longer exists (removed by another process?)`,
      { details: { storeId: this.storeId } },
    );
  }
}
