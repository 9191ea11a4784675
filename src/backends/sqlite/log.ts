// Over 400 lines, on purpose: this is one class, the log of a store file. Its stream reads, time
// queries, facts and removals all walk a stream's version chain from an anchor (`anchorAt`), and
// its commits, removals and status share the folded counters; apart, they would pass that state
// from file to file. Its SQL is in statements.ts, the rest of the store in the other files here.
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { EvdbError } from '../../core/errors.js';
import type { EventRecord, JsonObject, StoreConfig } from '../../core/types.js';
import type { KeyRange } from '../../core/paging.js';
import { decodeEvent, encodeEvent, type EventRow } from '../event-codec.js';
import { isLinkStream } from '../event-log.js';
import type {
  BackendCapabilities,
  PlannedEvent,
  CommitKeys,
  CommitPlan,
  CommitView,
  EventLocation,
  StoredContent,
  EventLog,
  IndexQuery,
  LogStatus,
  StreamHead,
} from '../event-log.js';
import type { EventTypeCount, StreamFacts } from '../feature-storage.js';
import { guard } from './errors.js';
import { EventIds } from './event-ids.js';
import { LEGACY_TIME_INDEX } from './migrations.js';
import { SqliteSnapshots } from './snapshots.js';
import {
  ANCHOR_EVERY,
  allTagsStatement,
  featureStatements,
  logStatements,
  type FeatureStatements,
  type LogStatements,
} from './statements.js';

/** SQLite's `synchronous` setting. `full` (the default) fsyncs the WAL at every commit. */
export type SqliteSynchronous = 'off' | 'normal' | 'full' | 'extra';

/**
 * How far the store's counters may lag behind the log before a commit folds the tail in. The
 * tail is counted from indexes on every status read, so this bounds that read's cost.
 */
const FOLD_EVERY_POSITIONS = 4096;
/** Versions removed per walk when a stream is deleted or truncated: a multiple of ANCHOR_EVERY. */
const REMOVE_CHUNK = 4096;

interface Counters {
  lastPosition: number;
  countedThrough: number;
  eventCount: number;
  streamCount: number;
}

/** A stream's head row. */
interface HeadRow extends StreamHead {
  lastEpochUs: number;
  /** The lowest version still stored; above `version` when none is. */
  firstVersion: number;
  createdPosition: number;
}

function toRecord(row: EventRow): EventRecord {
  return decodeEvent(...row);
}

/**
 * The log of one store file. A stream's events are chained by `prev_position`, and only every
 * 64th version is indexed (statements.ts): reads, time queries and removals walk the chain back
 * from the anchor at or after the versions they need.
 */
export class SqliteLog implements EventLog {
  readonly capabilities: BackendCapabilities;
  private readonly statements: LogStatements;
  private readonly eventIds: EventIds;
  private readonly tagQueries = new Map<number, Database.Statement>();
  /** Built once: better-sqlite3 transaction functions are costly to create per commit. */
  private readonly commitTransaction;
  readonly snapshots: SqliteSnapshots;
  private readonly featureStatements: FeatureStatements;
  /**
   * True for a store whose times went back in some stream before commits kept them in version
   * order (migrations.ts): its time queries use the time index it kept.
   */
  private readonly timeIndexed: boolean;

  constructor(
    private readonly db: Database.Database,
    synchronous: SqliteSynchronous,
  ) {
    this.capabilities = {
      multiProcess: false,
      pushNotifications: false,
      durable: synchronous !== 'off',
    };
    this.statements = logStatements(db);
    this.featureStatements = featureStatements(db);
    this.eventIds = new EventIds(db);
    this.commitTransaction = db.transaction(this.runCommit.bind(this));
    this.timeIndexed =
      db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?")
        .get(LEGACY_TIME_INDEX) !== undefined;
    this.snapshots = new SqliteSnapshots(db, guard);
  }

  /**
   * The view reads lazily inside the transaction, so the keys need no prefetch here. Once the
   * transaction is committed, the ids it stored join the ids held in memory (event-ids.ts).
   */
  commit<T>(
    _keys: CommitKeys,
    plan: (view: CommitView) => { plan: CommitPlan; result: T },
  ): Promise<T> {
    return guard(() => {
      const done = this.commitTransaction.immediate(plan);
      this.eventIds.committed(done.events, done.folded);
      return done.result as T;
    });
  }

  private runCommit(plan: (view: CommitView) => { plan: CommitPlan; result: unknown }): CommitDone {
    const s = this.statements;
    const counters = s.counters.get() as Counters;
    const view: CommitView = {
      lastPosition: counters.lastPosition,
      head: (streamId) => s.head.get(streamId) as StreamHead | undefined,
      findEvent: (eventId) => {
        const at = this.eventIds.positionOf(eventId);
        if (at === undefined) return undefined;
        const row = s.eventAt.get(at) as FoundEventRow;
        const { streamId, version, position, ...content } = row;
        return { streamId, version, position, content };
      },
    };
    const decided = plan(view);
    const { events, heads } = decided.plan;
    for (const e of events) {
      s.insertEvent.run(...encodeEvent(e), e.prevPosition < 0 ? null : e.prevPosition);
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
    const folded =
      last !== undefined && last.position - counters.countedThrough >= FOLD_EVERY_POSITIONS;
    if (folded) this.foldCounters(counters, last.position);
    return { result: decided.result, events, folded };
  }

  streamHead(streamId: string): Promise<StreamHead | undefined> {
    return guard(() => this.statements.head.get(streamId) as StreamHead | undefined);
  }

  readStream(
    streamId: string,
    fromVersion: number,
    count: number,
    direction: 'forward' | 'backward',
  ): Promise<EventRecord[]> {
    return guard(() => {
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
    return guard(() =>
      (this.statements.readAll.all(fromPosition, count) as EventRow[]).map(toRecord),
    );
  }

  readIndex(query: IndexQuery, fromPosition: number, count: number): Promise<EventRecord[]> {
    return guard(() => {
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

  /** The all-tags statement for `otherCount` tags besides the first, prepared once per count. */
  private allTagsQuery(otherCount: number): Database.Statement {
    let statement = this.tagQueries.get(otherCount);
    if (statement === undefined) {
      statement = allTagsStatement(this.db, otherCount);
      this.tagQueries.set(otherCount, statement);
    }
    return statement;
  }

  listStreams(range: KeyRange, count: number): Promise<string[]> {
    const { from, before } = range;
    const exclusive = range.fromExclusive ? 1 : 0;
    return guard(
      () =>
        (before === undefined
          ? this.statements.listStreams.all({ from, exclusive, count })
          : this.statements.listStreamsBefore.all({ from, exclusive, before, count })) as string[],
    );
  }

  /** Runs a removal; the ids held in memory are read again afterwards, whatever it removed. */
  private removing(remove: () => number): number {
    try {
      return remove();
    } finally {
      this.eventIds.forget();
    }
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
    return guard(() => this.removing(() => run.immediate()));
  }

  /**
   * Removes a stream's events below `beforeVersion` with their tag entries, and takes what the
   * folded counters had counted of them out of the per-type counts and their ids out of the id
   * index. The caller's transaction adjusts the store counters by `counted`. Walks the stream
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
    const indexesIds = !isLinkStream(streamId);
    let deleted = 0;
    const last = Math.min(beforeVersion - 1, head.version);
    for (let low = head.firstVersion; low <= last;) {
      // Up to the end of a block, so that the walk starts at an anchor that is still stored.
      const high = Math.min(last, low - (low % ANCHOR_EVERY) + REMOVE_CHUNK - 1);
      const rows = f.chainRemovals.all(this.anchorAt(streamId, head, high), low, high) as [
        number,
        string,
        string,
        string | null,
      ][];
      for (const [position, eventId, eventType, tags] of rows) {
        if (position <= counters.countedThrough) {
          countedByType.set(eventType, (countedByType.get(eventType) ?? 0) + 1);
          if (indexesIds) this.eventIds.removeIndexed(eventId);
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
    return guard(() => this.removing(() => run.immediate()));
  }

  readStreamByTime(
    streamId: string,
    fromUs: number,
    toUs: number,
    count: number,
    direction: 'forward' | 'backward',
  ): Promise<EventRecord[]> {
    const f = this.featureStatements;
    return guard(() => {
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
    return guard(() => {
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
    return guard(() => read());
  }

  readEventsById(eventIds: string[]): Promise<EventRecord[]> {
    const f = this.featureStatements;
    return guard(() => {
      const positions = new Set<number>();
      for (const eventId of eventIds) {
        const position = this.eventIds.positionOf(eventId);
        if (position !== undefined) positions.add(position);
      }
      return [...positions]
        .sort((a, b) => a - b)
        .map((position) => toRecord(f.eventAt.get(position) as EventRow));
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
    return guard(() => {
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
    this.eventIds.fold(counters.countedThrough, through);
    s.foldCounters.run(through, through, events, streams);
  }

  config(): Promise<StoreConfig> {
    return guard(() => {
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

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
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

/** A row of the eventAt statement: where an event is, and its content. */
type FoundEventRow = Omit<EventLocation, 'content'> & StoredContent;

/** What a commit's transaction did: the planner's result, the events it stored, whether it folded. */
interface CommitDone {
  result: unknown;
  events: readonly PlannedEvent[];
  folded: boolean;
}
