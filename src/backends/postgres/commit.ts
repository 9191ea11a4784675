import type pg from 'pg';
import { EvdbError } from '../../core/errors.js';
import type {
  CommitKeys,
  CommitPlan,
  CommitView,
  EventLocation,
  StreamHead,
} from '../event-log.js';
import {
  commitArgs,
  commitCallSql,
  commitOneArgs,
  commitOneStatement,
  commitStatement,
  prefetchSql,
} from './commit-statements.js';
import { toEvdbError } from './errors.js';
import type { PostgresBackend } from './postgres-backend.js';
import type { NamedStatement, StoreTables } from './statements.js';

/** Heads of this many streams at most are cached for the fast commit path. */
const MAX_CACHED_HEADS = 10_000;

/** The store a committer writes to. */
export interface CommitTarget {
  backend: PostgresBackend;
  storeId: string;
  storeKey: number;
  /** The store's schema, also its NOTIFY channel. */
  schema: string;
  tables: StoreTables;
  removedError(): EvdbError;
}

/** What a commit plans against on the fast path: the state the last commit left. */
interface CommitCache {
  lastPosition: number;
  generation: number;
  /** Heads by stream; null: known to have none. LRU order. */
  heads: Map<string, StreamHead | null>;
}

/**
 * The group commits of one store, in this process: a fast path of one round trip while this
 * process seems to be the store's only writer, else a locked path of two. See docs/postgres.md.
 */
export class Committer {
  private readonly commitCall: NamedStatement;
  private readonly commitOneCall: NamedStatement;
  /** The state this process's last commit left, while nothing says it changed. */
  private cache: CommitCache | undefined;
  /**
   * Whether this process seems to be the store's only writer: its last commit found nothing
   * written by others since the one before. Only then is the fast path worth a try.
   */
  private alone = false;

  constructor(private readonly store: CommitTarget) {
    this.commitCall = commitStatement(store.tables, store.storeKey);
    this.commitOneCall = commitOneStatement(store.tables, store.storeKey);
  }

  /** Forgets the cached state: the caller is about to change the store outside a commit. */
  forget(): void {
    this.cache = undefined;
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
    const lockKey = this.store.backend.lockKey;
    const one = commitOneArgs(
      lockKey,
      this.store.storeKey,
      expect,
      decided.plan,
      this.store.schema,
    );
    const call =
      one === undefined
        ? {
            ...this.commitCall,
            values: commitArgs(
              lockKey,
              this.store.storeKey,
              expect,
              decided.plan,
              this.store.schema,
            ),
          }
        : { ...this.commitOneCall, values: one };
    this.cache = undefined;
    let answer: string | undefined;
    try {
      const { rows } = await this.store.backend.pool.query<[string]>({ ...call, rowMode: 'array' });
      answer = rows[0]?.[0];
    } catch (error) {
      // The call commits when it returns: if the answer is lost, so is the outcome.
      throw toEvdbError(error, {
        doing: `commit to store '${this.store.storeId}'`,
        storeId: this.store.storeId,
        outcomeUnknown: true,
      });
    }
    if (answer === 'ok') {
      this.remember(cache, cache.generation, keys, view, decided.plan);
      return { done: true, result: decided.result };
    }
    if (answer === 'removed') throw this.store.removedError();
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
    const prefetch = prefetchSql(
      this.store.tables,
      this.store.backend.lockKey,
      this.store.storeKey,
      keys,
    );
    const previous = this.cache;
    this.cache = undefined;
    let sent = false;
    const context = {
      doing: `commit to store '${this.store.storeId}'`,
      storeId: this.store.storeId,
    };
    return this.store.backend.withClient(context, async (client) => {
      try {
        const results = (await client.query({
          text: prefetch,
          rowMode: 'array',
        })) as unknown as pg.QueryResult<unknown[]>[];
        const state = results[2]?.rows[0] as [number, number, number] | undefined;
        if (state === undefined || state[0] !== this.store.storeKey)
          throw this.store.removedError();
        const [, lastPosition, generation] = state;
        const eventRows = results[4]?.rows as FoundEventRow[];
        const view = prefetchedView(
          lastPosition,
          keys,
          results[3]?.rows as [string, number, number][],
          eventRows,
        );
        const decided = plan(view);
        const found = new Set(eventRows.map((row) => row[0]));
        const args = commitArgs(
          this.store.backend.lockKey,
          this.store.storeKey,
          {
            lastPosition,
            generation,
            absentStreams: keys.streamIds.filter((id) => view.head(id) === undefined),
            absentIds: keys.eventIds.filter((id) => !found.has(id)),
          },
          decided.plan,
          this.store.schema,
        );
        sent = true;
        const written = (await client.query({
          text: commitCallSql(this.store.tables, args),
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
}

/**
 * The planner's view of the prefetched state. It may only ask for the keys that were fetched;
 * anything else is a bug, reported as one rather than answered with a silent "absent".
 */
function prefetchedView(
  lastPosition: number,
  keys: CommitKeys,
  headRows: [string, number, number][],
  eventRows: FoundEventRow[],
): CommitView {
  const heads = new Map<string, StreamHead>();
  for (const [streamId, version, last] of headRows) {
    heads.set(streamId, { version, lastPosition: last });
  }
  const events = new Map<string, EventLocation>();
  for (const row of eventRows) {
    const [eventId, streamId, version, position, eventType, data, bytes, metadata, tags] = row;
    const [, , , , , , , , , dataContentType, metadataContentType] = row;
    const content = {
      eventType,
      data: data ?? (bytes as Buffer),
      metadata,
      tags,
      dataContentType,
      metadataContentType,
    };
    events.set(eventId, { streamId, version, position, content });
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

/** A row of the prefetch's event-id query (commit-statements.ts): where, then the content. */
type FoundEventRow = [
  string,
  string,
  number,
  number,
  string,
  string | null,
  Buffer | null,
  string | null,
  string | null,
  string | null,
  string | null,
];
