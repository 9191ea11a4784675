import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EvdbError } from '../../core/errors.js';
import type { EventRecord, JsonObject, JsonValue, StoreConfig } from '../../core/types.js';
import {
  decodeEvent,
  encodeDataContentType,
  encodeMetadataContentType,
  encodeTags,
} from '../event-codec.js';
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
import { ProcessLeases } from '../process-leases.js';
import { LEGACY_TIME_INDEX, migrate } from './schema.js';
import { SqliteSnapshots } from './snapshot-table.js';
import type { EventTypeCount, StreamFacts } from '../feature-storage.js';

/** SQLite's `synchronous` setting. `full` (the default) fsyncs the WAL at every commit. */
export type SqliteSynchronous = 'off' | 'normal' | 'full' | 'extra';

export interface SqliteBackendOptions {
  /** Directory holding one `<storeId>.sqlite` file per store. Default `./evdb-data`. */
  dataDir?: string;
  /**
   * Durability of commits. `full` (default): an acknowledged append survives a crash of the
   * process and of the machine. `normal`: survives a process crash, may lose the last commits
   * on power loss. `off`: for throwaway data only.
   */
  synchronous?: SqliteSynchronous;
}

const FILE_SUFFIX = '.sqlite';
/**
 * How far the store's counters may lag behind the log before a commit folds the tail in. The
 * tail is counted from indexes on every status read, so this bounds that read's cost.
 */
const FOLD_EVERY_POSITIONS = 4096;

interface Counters {
  lastPosition: number;
  countedThrough: number;
  eventCount: number;
  streamCount: number;
}
const EVENT_COLUMNS =
  'position, stream_id, version, event_id, event_type, data, metadata, tags, causation_id, ' +
  'correlation_id, data_content_type, metadata_content_type, epoch_us';
const JOINED_EVENT_COLUMNS = EVENT_COLUMNS.split(', ')
  .map((column) => `e.${column}`)
  .join(', ');
/**
 * Every 64th version of a stream (63, 127, ...) is indexed (schema.ts, the fifth migration);
 * the others are reached by walking `prev_position` back from the anchor at or after them. Queries
 * repeat the partial index's condition word for word, so that SQLite uses it.
 */
const ANCHOR_EVERY = 64;
const IS_ANCHOR = 'version % 64 = 63';
/** Versions removed per walk when a stream is deleted or truncated: a multiple of ANCHOR_EVERY. */
const REMOVE_CHUNK = 4096;

/** A stream's head row. */
interface HeadRow extends StreamHead {
  lastEpochUs: number;
  /** The lowest version still stored; above `version` when none is. */
  firstVersion: number;
  createdPosition: number;
}

type EventRow = [
  number,
  string,
  number,
  string,
  string,
  string | Buffer,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  number,
];

function toRecord(row: EventRow): EventRecord {
  return decodeEvent(...row);
}

/**
 * The default backend: one SQLite database file per store, in WAL mode.
 *
 * @example
 * const evdb = await openEvdb({ backend: sqlite({ dataDir: './data', synchronous: 'full' }) });
 */
export function sqlite(options: SqliteBackendOptions = {}): Backend {
  return new SqliteBackend(options.dataDir ?? './evdb-data', options.synchronous ?? 'full');
}

class SqliteBackend implements Backend {
  readonly name = 'sqlite';
  readonly capabilities: BackendCapabilities;

  constructor(
    readonly dataDir: string,
    private readonly synchronous: SqliteSynchronous,
  ) {
    this.capabilities = {
      multiProcess: false,
      pushNotifications: false,
      durable: synchronous !== 'off',
    };
  }

  private pathOf(storeId: string): string {
    return join(this.dataDir, storeId + FILE_SUFFIX);
  }

  listStores(): Promise<string[]> {
    let names: string[];
    try {
      names = readdirSync(this.dataDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Promise.resolve([]);
      throw error;
    }
    return Promise.resolve(
      names
        .filter((name) => name.endsWith(FILE_SUFFIX))
        .map((name) => name.slice(0, -FILE_SUFFIX.length))
        .sort(),
    );
  }

  createStore(storeId: string, settings: JsonObject): Promise<LogBackend | undefined> {
    mkdirSync(this.dataDir, { recursive: true });
    const path = this.pathOf(storeId);
    try {
      // Exclusive creation decides which of two racing creators owns the new store.
      closeSync(openSync(path, 'wx'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return Promise.resolve(undefined);
      throw error;
    }
    return Promise.resolve(
      SqliteLog.open(path, this.synchronous, {
        storeId,
        createdAt: new Date().toISOString(),
        settings,
      }),
    );
  }

  openStore(storeId: string): Promise<LogBackend | undefined> {
    const path = this.pathOf(storeId);
    try {
      statSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Promise.resolve(undefined);
      throw error;
    }
    return Promise.resolve(SqliteLog.open(path, this.synchronous, undefined));
  }

  removeStore(storeId: string): Promise<boolean> {
    const path = this.pathOf(storeId);
    let existed = true;
    try {
      statSync(path);
    } catch {
      existed = false;
    }
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    return Promise.resolve(existed);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

class SqliteLog implements LogBackend {
  readonly capabilities: BackendCapabilities;
  private readonly statements;
  private readonly tagQueries = new Map<string, Database.Statement>();
  /** Built once: better-sqlite3 transaction functions are costly to create per commit. */
  private readonly commitTransaction;
  /** A store file is opened by one process (`multiProcess: false`), so its leases live here. */
  private readonly leases = new ProcessLeases();
  readonly snapshots: SqliteSnapshots;
  private readonly featureStatements;
  /**
   * True for a store whose times went back in some stream before commits kept them in version
   * order (schema.ts): its time queries use the time index it kept.
   */
  private readonly timeIndexed: boolean;

  static open(
    path: string,
    synchronous: SqliteSynchronous,
    newStore: StoreConfig | undefined,
  ): SqliteLog {
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${synchronous}`);
      db.pragma('busy_timeout = 5000');
      db.pragma('cache_size = -65536');
      db.pragma('temp_store = memory');
      migrate(db, path);
      if (newStore !== undefined) {
        db.prepare(
          'INSERT INTO store_state (id, store_id, created_at, settings, last_position, counted_through, ' +
            'event_count, stream_count) VALUES (1, ?, ?, ?, -1, -1, 0, 0)',
        ).run(newStore.storeId, newStore.createdAt, JSON.stringify(newStore.settings));
      }
      return new SqliteLog(db, synchronous);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  private constructor(
    private readonly db: Database.Database,
    synchronous: SqliteSynchronous,
  ) {
    this.capabilities = {
      multiProcess: false,
      pushNotifications: false,
      durable: synchronous !== 'off',
    };
    const select = (where: string): Database.Statement =>
      db.prepare(`SELECT ${EVENT_COLUMNS} FROM events ${where}`).raw();
    // The walk carries positions only and the rows are read once, by position: a stream's
    // positions grow with its versions, so position order is version order.
    const chain = (order: 'ASC' | 'DESC'): Database.Statement =>
      db
        .prepare(
          'WITH RECURSIVE chain (position, version, prev) AS (SELECT position, version, ' +
            'prev_position FROM events WHERE position = ? UNION ALL SELECT e.position, e.version, ' +
            'e.prev_position FROM chain c JOIN events e ON e.position = c.prev WHERE c.version > ?) ' +
            `SELECT ${EVENT_COLUMNS} FROM events WHERE position IN ` +
            `(SELECT position FROM chain WHERE version <= ?) ORDER BY position ${order} LIMIT ?`,
        )
        .raw();
    this.commitTransaction = db.transaction(this.runCommit.bind(this));
    this.statements = {
      config: db.prepare(
        'SELECT store_id AS storeId, created_at AS createdAt, settings FROM store_state WHERE id = 1',
      ),
      counters: db.prepare(
        'SELECT max(last_position, coalesce((SELECT max(position) FROM events), -1)) AS lastPosition, ' +
          'counted_through AS countedThrough, event_count AS eventCount, stream_count AS streamCount ' +
          'FROM store_state WHERE id = 1',
      ),
      tailEvents: db.prepare('SELECT count(*) FROM events WHERE position > ?').pluck(),
      tailStreams: db.prepare('SELECT count(*) FROM streams WHERE created_position > ?').pluck(),
      foldCounters: db.prepare(
        'UPDATE store_state SET last_position = ?, counted_through = ?, ' +
          'event_count = event_count + ?, stream_count = stream_count + ? WHERE id = 1',
      ),
      head: db.prepare(
        'SELECT version, last_position AS lastPosition, last_epoch_us AS lastEpochUs, ' +
          'first_version AS firstVersion, created_position AS createdPosition ' +
          'FROM streams WHERE stream_id = ?',
      ),
      raiseFirstVersion: db.prepare(
        'UPDATE streams SET first_version = max(first_version, ?) WHERE stream_id = ?',
      ),
      anchorPosition: db
        .prepare(`SELECT position FROM events WHERE stream_id = ? AND version = ? AND ${IS_ANCHOR}`)
        .pluck(),
      upsertHead: db.prepare(
        'INSERT INTO streams (stream_id, version, last_position, last_epoch_us, created_position) ' +
          'VALUES (?, ?, ?, ?, ?) ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, ' +
          'last_position = excluded.last_position, last_epoch_us = excluded.last_epoch_us',
      ),
      deleteHead: db.prepare('DELETE FROM streams WHERE stream_id = ?'),
      // Outside link streams, with the condition of the partial index events_by_id.
      findEvent: db.prepare(
        'SELECT stream_id AS streamId, version, position FROM events ' +
          "WHERE event_id = ? AND substr(stream_id, 1, 6) <> '$link:'",
      ),
      kvGet: db.prepare('SELECT value, revision FROM kv WHERE namespace = ? AND key = ?'),
      kvList: db.prepare('SELECT key, value, revision FROM kv WHERE namespace = ? ORDER BY key'),
      kvUpsert: db
        .prepare(
          'INSERT INTO kv (namespace, key, value, revision) VALUES (?, ?, ?, 1) ' +
            'ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, ' +
            'revision = kv.revision + 1 RETURNING revision',
        )
        .pluck(),
      kvInsert: db
        .prepare(
          'INSERT INTO kv (namespace, key, value, revision) VALUES (?, ?, ?, 1) ' +
            'ON CONFLICT (namespace, key) DO NOTHING RETURNING revision',
        )
        .pluck(),
      kvUpdate: db
        .prepare(
          'UPDATE kv SET value = ?, revision = revision + 1 WHERE namespace = ? AND key = ? ' +
            'AND revision = ? RETURNING revision',
        )
        .pluck(),
      kvDelete: db.prepare('DELETE FROM kv WHERE namespace = ? AND key = ?'),
      kvDeleteAt: db.prepare('DELETE FROM kv WHERE namespace = ? AND key = ? AND revision = ?'),
      insertEvent: db.prepare(
        `INSERT INTO events (${EVENT_COLUMNS}, prev_position) ` +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertTag: db.prepare('INSERT INTO event_tags (tag, position) VALUES (?, ?)'),
      // Parameters (position, low, high, count): the events from the one at `position` back to
      // version `low`, following prev_position; those up to version `high`, at most `count`.
      chainForward: chain('ASC'),
      chainBackward: chain('DESC'),
      readAll: select('WHERE position >= ? ORDER BY position LIMIT ?'),
      readType: select('WHERE event_type = ? AND position >= ? ORDER BY position LIMIT ?'),
      readTag: db
        .prepare(
          `SELECT ${JOINED_EVENT_COLUMNS} FROM event_tags t JOIN events e ON e.position = t.position ` +
            'WHERE t.tag = ? AND t.position >= ? ORDER BY t.position LIMIT ?',
        )
        .raw(),
      listStreams: db.prepare('SELECT stream_id FROM streams ORDER BY stream_id').pluck(),
    };
    this.featureStatements = featureStatements(db, select);
    this.timeIndexed =
      db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?")
        .get(LEGACY_TIME_INDEX) !== undefined;
    this.snapshots = new SqliteSnapshots(db, (work) => this.guard(work));
  }

  /** The view reads lazily inside the transaction, so the keys need no prefetch here. */
  commit<T>(
    _keys: CommitKeys,
    plan: (view: CommitView) => { plan: CommitPlan; result: T },
  ): Promise<T> {
    return this.guard(() => this.commitTransaction.immediate(plan) as T);
  }

  private runCommit(plan: (view: CommitView) => { plan: CommitPlan; result: unknown }): unknown {
    const s = this.statements;
    const counters = s.counters.get() as Counters;
    const view: CommitView = {
      lastPosition: counters.lastPosition,
      head: (streamId) => s.head.get(streamId) as StreamHead | undefined,
      findEvent: (eventId) => s.findEvent.get(eventId) as EventLocation | undefined,
    };
    const decided = plan(view);
    const { events, heads } = decided.plan;
    for (const e of events) {
      s.insertEvent.run(
        e.position,
        e.streamId,
        e.version,
        e.eventId,
        e.eventType,
        typeof e.data === 'string'
          ? e.data
          : Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength),
        e.metadata,
        encodeTags(e.tags),
        e.causationId,
        e.correlationId,
        encodeDataContentType(e.data, e.dataContentType),
        encodeMetadataContentType(e.metadataContentType),
        e.epochUs,
        e.prevPosition < 0 ? null : e.prevPosition,
      );
      for (const tag of e.tags) s.insertTag.run(tag, e.position);
    }
    // created_position of a new stream: a position its creating commit wrote, enough to tell
    // whether the stream was created after the counters' fold point.
    for (const [streamId, head] of heads) {
      s.upsertHead.run(
        streamId,
        head.version,
        head.lastPosition,
        head.lastEpochUs ?? 0,
        head.lastPosition,
      );
    }
    const last = events[events.length - 1];
    if (last !== undefined && last.position - counters.countedThrough >= FOLD_EVERY_POSITIONS) {
      this.foldCounters(counters, last.position);
    }
    return decided.result;
  }

  streamHead(streamId: string): Promise<StreamHead | undefined> {
    return this.guard(() => this.statements.head.get(streamId) as StreamHead | undefined);
  }

  readStream(
    streamId: string,
    fromVersion: number,
    count: number,
    direction: 'forward' | 'backward',
  ): Promise<EventRecord[]> {
    return this.guard(() => {
      const head = this.statements.head.get(streamId) as HeadRow | undefined;
      if (head === undefined || count <= 0) return [];
      if (direction === 'forward') {
        const low = Math.max(fromVersion, head.firstVersion);
        return this.readVersions(
          streamId,
          head,
          low,
          Math.min(head.version, low + count - 1),
          'forward',
        );
      }
      const high = Math.min(fromVersion, head.version);
      return this.readVersions(
        streamId,
        head,
        Math.max(head.firstVersion, high - count + 1),
        high,
        'backward',
      );
    });
  }

  /** The stream's stored versions `low..high`, walked back from the anchor at or after `high`. */
  private readVersions(
    streamId: string,
    head: HeadRow,
    low: number,
    high: number,
    direction: 'forward' | 'backward',
  ): EventRecord[] {
    if (low > high) return [];
    const s = this.statements;
    const statement = direction === 'forward' ? s.chainForward : s.chainBackward;
    const rows = statement.all(this.anchorAt(streamId, head, high), low, high, high - low + 1);
    return (rows as EventRow[]).map(toRecord);
  }

  /** Position of the first event at or after `version` that is indexed: an anchor, or the head. */
  private anchorAt(streamId: string, head: HeadRow, version: number): number {
    const anchor = version - (version % ANCHOR_EVERY) + ANCHOR_EVERY - 1;
    if (anchor >= head.version) return head.lastPosition;
    const position = this.statements.anchorPosition.get(streamId, anchor) as number | undefined;
    if (position === undefined) {
      throw new EvdbError(
        'internal',
        `stream '${streamId}' has no indexed event at version ${anchor}; the store file is damaged`,
      );
    }
    return position;
  }

  readAll(fromPosition: number, count: number): Promise<EventRecord[]> {
    return this.guard(() =>
      (this.statements.readAll.all(fromPosition, count) as EventRow[]).map(toRecord),
    );
  }

  readIndex(query: IndexQuery, fromPosition: number, count: number): Promise<EventRecord[]> {
    return this.guard(() => {
      if (query.kind === 'causation' || query.kind === 'correlation') {
        const f = this.featureStatements;
        const rows =
          query.kind === 'causation'
            ? f.readCausation.all(query.causationId, fromPosition, count)
            : f.readCorrelation.all(query.correlationId, fromPosition, count);
        return (rows as EventRow[]).map(toRecord);
      }
      if (query.kind === 'type') {
        return mergeByPosition(
          query.eventTypes.map(
            (type) => this.statements.readType.all(type, fromPosition, count) as EventRow[],
          ),
          count,
        );
      }
      if (query.match === 'any' || query.tags.length === 1) {
        return mergeByPosition(
          query.tags.map(
            (tag) => this.statements.readTag.all(tag, fromPosition, count) as EventRow[],
          ),
          count,
        );
      }
      const [driver, ...others] = query.tags as [string, ...string[]];
      const rows = this.allTagsQuery(others.length).all(driver, fromPosition, ...others, count);
      return (rows as EventRow[]).map(toRecord);
    });
  }

  /** Walks the first tag's index in position order, keeping events that carry every other tag. */
  private allTagsQuery(otherCount: number): Database.Statement {
    const key = String(otherCount);
    let statement = this.tagQueries.get(key);
    if (statement === undefined) {
      const checks = Array.from(
        { length: otherCount },
        () => 'EXISTS (SELECT 1 FROM event_tags o WHERE o.tag = ? AND o.position = t.position)',
      ).join(' AND ');
      statement = this.db
        .prepare(
          `SELECT ${JOINED_EVENT_COLUMNS} FROM event_tags t JOIN events e ON e.position = t.position ` +
            `WHERE t.tag = ? AND t.position >= ? AND ${checks} ORDER BY t.position LIMIT ?`,
        )
        .raw();
      this.tagQueries.set(key, statement);
    }
    return statement;
  }

  listStreams(): Promise<string[]> {
    return this.guard(() => this.statements.listStreams.all() as string[]);
  }

  deleteStream(streamId: string): Promise<number> {
    const s = this.statements;
    const run = this.db.transaction(() => {
      const head = s.head.get(streamId) as HeadRow | undefined;
      if (head === undefined) return 0;
      const counters = s.counters.get() as Counters;
      const { deleted, counted } = this.removeEvents(streamId, head, head.version + 1, counters);
      s.deleteHead.run(streamId);
      // Keep the position counter where it was (the deleted stream may have held the highest
      // position), and take out of the folded counters what they had counted.
      const streamCounted = head.createdPosition <= counters.countedThrough ? 1 : 0;
      s.foldCounters.run(counters.lastPosition, counters.countedThrough, -counted, -streamCounted);
      return deleted;
    });
    return this.guard(() => run.immediate());
  }

  /**
   * Removes a stream's events below `beforeVersion` with their tag entries, and takes what the
   * folded counters had counted of them out of the per-type counts. The caller's transaction adjusts the store counters by `counted`. Walks the stream
   * from its oldest stored events up, a few thousand at a time.
   */
  private removeEvents(
    streamId: string,
    head: HeadRow,
    beforeVersion: number,
    counters: Counters,
  ): { deleted: number; counted: number } {
    const f = this.featureStatements;
    const countedByType = new Map<string, number>();
    let deleted = 0;
    const last = Math.min(beforeVersion - 1, head.version);
    for (let low = head.firstVersion; low <= last;) {
      // Up to the end of a block, so that the walk starts at an anchor that is still stored.
      const high = Math.min(last, low - (low % ANCHOR_EVERY) + REMOVE_CHUNK - 1);
      const rows = f.chainRemovals.all(this.anchorAt(streamId, head, high), low, high) as [
        number,
        string,
        string | null,
      ][];
      for (const [position, eventType, tags] of rows) {
        if (position <= counters.countedThrough) {
          countedByType.set(eventType, (countedByType.get(eventType) ?? 0) + 1);
        }
        if (tags !== null)
          for (const tag of JSON.parse(tags) as string[]) f.deleteTag.run(tag, position);
        f.deleteEventAt.run(position);
      }
      deleted += rows.length;
      low = high + 1;
    }
    let counted = 0;
    for (const [eventType, count] of countedByType) {
      f.uncountType.run(count, eventType);
      counted += count;
    }
    return { deleted, counted };
  }

  truncateStream(streamId: string, beforeVersion: number): Promise<number> {
    const s = this.statements;
    const run = this.db.transaction(() => {
      const head = s.head.get(streamId) as HeadRow | undefined;
      if (head === undefined) return 0;
      const counters = s.counters.get() as Counters;
      const { deleted, counted } = this.removeEvents(streamId, head, beforeVersion, counters);
      // Never above the head: the next append's version must count as stored.
      s.raiseFirstVersion.run(Math.min(beforeVersion, head.version + 1), streamId);
      // The head stays; the position counter keeps its floor, as for deleteStream.
      s.foldCounters.run(counters.lastPosition, counters.countedThrough, -counted, 0);
      return deleted;
    });
    return this.guard(() => run.immediate());
  }

  readStreamByTime(
    streamId: string,
    fromUs: number,
    toUs: number,
    count: number,
    direction: 'forward' | 'backward',
  ): Promise<EventRecord[]> {
    const f = this.featureStatements;
    return this.guard(() => {
      if (this.timeIndexed) {
        const statement = direction === 'forward' ? f.timeForward : f.timeBackward;
        return (statement.all(streamId, fromUs, toUs, count) as EventRow[]).map(toRecord);
      }
      const head = this.statements.head.get(streamId) as HeadRow | undefined;
      if (head === undefined || count <= 0) return [];
      const start = this.firstVersionAfter(streamId, head, fromUs, false);
      const end = this.firstVersionAfter(streamId, head, toUs, true);
      return direction === 'forward'
        ? this.readVersions(streamId, head, start, Math.min(end - 1, start + count - 1), direction)
        : this.readVersions(streamId, head, Math.max(start, end - count), end - 1, direction);
    });
  }

  /**
   * The first stored version whose time is at or after `us` (`after` false), or strictly after
   * it (`after` true); one past the head when there is none. A stream's times never decrease
   * with its versions, so this is a binary search over the ends of its blocks of versions (their
   * anchors, and the head) and then a walk through one block.
   */
  private firstVersionAfter(streamId: string, head: HeadRow, us: number, after: boolean): number {
    const f = this.featureStatements;
    const before = (at: number): boolean => at < us || (after && at === us);
    if (head.firstVersion > head.version) return head.version + 1;
    const blockEnd = (block: number): number =>
      Math.min(block * ANCHOR_EVERY + ANCHOR_EVERY - 1, head.version);
    const lastBlock = Math.floor(head.version / ANCHOR_EVERY);
    let low = Math.floor(head.firstVersion / ANCHOR_EVERY);
    let high = lastBlock + 1;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const end = blockEnd(mid);
      const at =
        end === head.version ? head.lastEpochUs : (f.anchorEpoch.get(streamId, end) as number);
      if (before(at)) low = mid + 1;
      else high = mid;
    }
    if (low > lastBlock) return head.version + 1;
    const end = blockEnd(low);
    const start = Math.max(head.firstVersion, low * ANCHOR_EVERY);
    const times = f.chainTimes.all(this.anchorAt(streamId, head, end), start) as [number, number][];
    const found = times.find(([, at]) => !before(at));
    return found === undefined ? end + 1 : found[0];
  }

  streamFacts(streamId: string): Promise<StreamFacts | undefined> {
    const f = this.featureStatements;
    return this.guard(() => {
      const head = this.statements.head.get(streamId) as HeadRow | undefined;
      if (head === undefined) return undefined;
      const facts: StreamFacts = {
        version: head.version,
        lastPosition: head.lastPosition,
        first: undefined,
        last: undefined,
      };
      if (head.firstVersion > head.version) return facts;
      const anchor = this.anchorAt(streamId, head, head.firstVersion);
      const [first] = f.chainTimes.all(anchor, head.firstVersion) as [number, number][];
      if (first === undefined) return facts;
      facts.first = { version: first[0], epochUs: first[1] };
      const lastUs = f.epochAtPosition.get(head.lastPosition) as number;
      facts.last = { version: head.version, epochUs: lastUs };
      return facts;
    });
  }

  eventTypeCounts(): Promise<EventTypeCount[]> {
    const f = this.featureStatements;
    const read = this.db.transaction(() => {
      const counters = this.statements.counters.get() as Counters;
      const counts = new Map<string, number>();
      for (const row of f.typeCounts.all() as EventTypeCount[])
        counts.set(row.eventType, row.count);
      for (const row of f.tailTypeCounts.all(counters.countedThrough) as EventTypeCount[]) {
        counts.set(row.eventType, (counts.get(row.eventType) ?? 0) + row.count);
      }
      return [...counts]
        .filter(([, count]) => count > 0)
        .map(([eventType, count]) => ({ eventType, count }));
    });
    return this.guard(() => read());
  }

  readEventsById(eventIds: string[]): Promise<EventRecord[]> {
    const f = this.featureStatements;
    return this.guard(() => {
      const rows = new Map<number, EventRow>();
      for (const eventId of eventIds) {
        const row = f.eventById.get(eventId) as EventRow | undefined;
        if (row !== undefined) rows.set(row[0], row);
      }
      return [...rows.values()].sort((a, b) => a[0] - b[0]).map(toRecord);
    });
  }

  /** The page cache: 64 MiB normally, 8 MiB when memory is elevated, 1 MiB when critical. */
  setMemoryLevel(level: 'normal' | 'elevated' | 'critical'): void {
    if (!this.db.open) return;
    const kib = level === 'normal' ? 65536 : level === 'elevated' ? 8192 : 1024;
    this.db.pragma(`cache_size = -${kib}`);
    if (level !== 'normal') this.db.pragma('shrink_memory');
  }

  diskBytes(): Promise<number> {
    let bytes = 0;
    for (const suffix of ['', '-wal']) {
      try {
        bytes += statSync(this.db.name + suffix).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return Promise.resolve(bytes);
  }

  status(): Promise<LogStatus> {
    return this.guard(() => {
      const s = this.statements;
      const counters = s.counters.get() as Counters;
      return {
        lastPosition: counters.lastPosition,
        totalEvents: counters.eventCount + (s.tailEvents.get(counters.countedThrough) as number),
        streamCount: counters.streamCount + (s.tailStreams.get(counters.countedThrough) as number),
      };
    });
  }

  /** Adds what was committed after the fold point to the counters, and moves the point. */
  private foldCounters(counters: Counters, through: number): void {
    const s = this.statements;
    const events = s.tailEvents.get(counters.countedThrough) as number;
    const streams = s.tailStreams.get(counters.countedThrough) as number;
    this.featureStatements.foldTypeCounts.run(counters.countedThrough);
    s.foldCounters.run(through, through, events, streams);
  }

  config(): Promise<StoreConfig> {
    return this.guard(() => {
      const row = this.statements.config.get() as {
        storeId: string;
        createdAt: string;
        settings: string;
      };
      return {
        storeId: row.storeId,
        createdAt: row.createdAt,
        settings: JSON.parse(row.settings) as JsonObject,
      };
    });
  }

  kvGet(namespace: string, key: string): Promise<KvEntry | undefined> {
    return this.guard(() => {
      const row = this.statements.kvGet.get(namespace, key) as
        { value: string; revision: number } | undefined;
      return row && { key, value: JSON.parse(row.value) as JsonValue, revision: row.revision };
    });
  }

  kvList(namespace: string): Promise<KvEntry[]> {
    return this.guard(() =>
      (
        this.statements.kvList.all(namespace) as { key: string; value: string; revision: number }[]
      ).map((row) => ({
        key: row.key,
        value: JSON.parse(row.value) as JsonValue,
        revision: row.revision,
      })),
    );
  }

  kvPut(
    namespace: string,
    key: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number | undefined> {
    const s = this.statements;
    const json = JSON.stringify(value);
    return this.guard(() => {
      if (expectedRevision === undefined) return s.kvUpsert.get(namespace, key, json) as number;
      if (expectedRevision === 0) return s.kvInsert.get(namespace, key, json) as number | undefined;
      return s.kvUpdate.get(json, namespace, key, expectedRevision) as number | undefined;
    });
  }

  kvDelete(namespace: string, key: string, expectedRevision?: number): Promise<boolean> {
    const s = this.statements;
    return this.guard(
      () =>
        (expectedRevision === undefined
          ? s.kvDelete.run(namespace, key)
          : s.kvDeleteAt.run(namespace, key, expectedRevision)
        ).changes > 0,
    );
  }

  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return Promise.resolve(this.leases.acquire(name, owner, ttlMs));
  }

  releaseLease(name: string, owner: string): Promise<void> {
    this.leases.release(name, owner);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }

  /** Runs a synchronous database call, turning SQLite failures into `EvdbError`s. */
  private guard<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(toEvdbError(error));
    }
  }
}

/**
 * The statements of the store features. Causation, correlation and id lookups repeat the
 * conditions of their partial indexes word for word, so that SQLite uses them.
 */
function featureStatements(db: Database.Database, select: (where: string) => Database.Statement) {
  const outsideLinks = "substr(stream_id, 1, 6) <> '$link:'";
  return {
    anchorEpoch: db
      .prepare(`SELECT epoch_us FROM events WHERE stream_id = ? AND version = ? AND ${IS_ANCHOR}`)
      .pluck(),
    epochAtPosition: db.prepare('SELECT epoch_us FROM events WHERE position = ?').pluck(),
    // (position, low): versions and times of the events from the one at `position` back to `low`.
    chainTimes: db
      .prepare(
        'WITH RECURSIVE chain AS (SELECT version, epoch_us, prev_position FROM events ' +
          'WHERE position = ? UNION ALL SELECT e.version, e.epoch_us, e.prev_position ' +
          'FROM chain c JOIN events e ON e.position = c.prev_position WHERE c.version > ?) ' +
          'SELECT version, epoch_us FROM chain ORDER BY version',
      )
      .raw(),
    timeForward: select(
      'WHERE stream_id = ? AND epoch_us >= ? AND epoch_us <= ? ORDER BY epoch_us, position LIMIT ?',
    ),
    timeBackward: select(
      'WHERE stream_id = ? AND epoch_us >= ? AND epoch_us <= ? ' +
        'ORDER BY epoch_us DESC, position DESC LIMIT ?',
    ),
    readCausation: select(
      `WHERE causation_id = ? AND ${outsideLinks} AND position >= ? ORDER BY position LIMIT ?`,
    ),
    readCorrelation: select(
      `WHERE correlation_id = ? AND ${outsideLinks} AND position >= ? ORDER BY position LIMIT ?`,
    ),
    eventById: select(`WHERE event_id = ? AND ${outsideLinks}`),
    typeCounts: db.prepare('SELECT event_type AS eventType, count FROM event_type_counts'),
    // NOT INDEXED: the tail is a range of positions (the table's own key); the planner would
    // rather walk the whole type index for the GROUP BY order, whose cost grows with the store.
    tailTypeCounts: db.prepare(
      'SELECT event_type AS eventType, count(*) AS count FROM events NOT INDEXED ' +
        'WHERE position > ? GROUP BY event_type',
    ),
    foldTypeCounts: db.prepare(
      'INSERT INTO event_type_counts (event_type, count) SELECT event_type, count(*) ' +
        'FROM events NOT INDEXED WHERE position > ? GROUP BY event_type ' +
        'ON CONFLICT (event_type) DO UPDATE SET count = count + excluded.count',
    ),
    // (position, low, high): the events from the one at `position` back to `low`, up to `high`.
    chainRemovals: db
      .prepare(
        'WITH RECURSIVE chain AS (SELECT position, version, event_type, tags, prev_position ' +
          'FROM events WHERE position = ? UNION ALL SELECT e.position, e.version, e.event_type, ' +
          'e.tags, e.prev_position FROM chain c JOIN events e ON e.position = c.prev_position ' +
          'WHERE c.version > ?) SELECT position, event_type, tags FROM chain WHERE version <= ?',
      )
      .raw(),
    uncountType: db.prepare('UPDATE event_type_counts SET count = count - ? WHERE event_type = ?'),
    deleteTag: db.prepare('DELETE FROM event_tags WHERE tag = ? AND position = ?'),
    deleteEventAt: db.prepare('DELETE FROM events WHERE position = ?'),
  };
}

function mergeByPosition(lists: EventRow[][], count: number): EventRecord[] {
  if (lists.length === 1) return (lists[0] as EventRow[]).map(toRecord);
  const seen = new Set<number>();
  const merged: EventRow[] = [];
  for (const list of lists) {
    for (const row of list) {
      if (!seen.has(row[0])) {
        seen.add(row[0]);
        merged.push(row);
      }
    }
  }
  merged.sort((a, b) => a[0] - b[0]);
  return merged.slice(0, count).map(toRecord);
}

function toEvdbError(error: unknown): Error {
  if (!(error instanceof Error))
    return new EvdbError('internal', `SQLite failed: ${String(error)}`);
  if (error instanceof EvdbError || !(error instanceof Database.SqliteError)) return error;
  const busy = error.code.startsWith('SQLITE_BUSY') || error.code.startsWith('SQLITE_LOCKED');
  return new EvdbError(
    busy ? 'unavailable' : 'internal',
    `SQLite: ${error.message} (${error.code})`,
    {
      cause: error,
    },
  );
}
