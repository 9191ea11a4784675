// Over 400 lines: one class, the group commit of a store on PostgreSQL, whose three paths (exact,
// rebased, locked) share the plan cache and the views they are checked against; split, each
// path would have to reach into the others' state.

import type pg from 'pg';
import { EvdbError } from '../../core/errors.js';
import type {
  CommitFence,
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
  fencedCommitStatement,
  leaseTokenSql,
  prefetchReads,
  prefetchSql,
  rebasedCommitArgs,
  rebasedCommitStatement,
} from './commit-statements.js';
import { CommitNotifier } from './commit-notifier.js';
import { toEvdbError } from './errors.js';
import type { PostgresConnection } from './connection.js';
import type { NamedStatement, StoreTables } from './statements.js';

/** Heads of this many streams at most are cached for the fast commit path. */
const MAX_CACHED_HEADS = 10_000;

/** The store a committer writes to. */
export interface CommitTarget {
  backend: PostgresConnection;
  storeId: string;
  storeKey: number;
  /** The store's schema, also its NOTIFY channel. */
  schema: string;
  tables: StoreTables;
  removedError(): EvdbError;
}

/** What a commit plans against without reading: the state the last commit left. */
interface CommitCache {
  lastPosition: number;
  generation: number;
  /** Heads by stream; null: known to have none. LRU order. */
  heads: Map<string, StreamHead | null>;
  /**
   * Every head here is current as of `lastPosition`: the exact one-statement path may trust
   * them. Otherwise they are hints, which the rebased path has checked under the lock.
   */
  exact: boolean;
}

/** A state to plan against: read without the lock, or the cache. */
interface PlanBase {
  lastPosition: number;
  generation: number;
  head(streamId: string): StreamHead | undefined;
  event(eventId: string): EventLocation | undefined;
}

type Planner<T> = (view: CommitView) => { plan: CommitPlan; result: T };

/**
 * The group commits of one store, in this process, each holding the store's lock for one
 * statement: the exact path while this process seems to be the store's only writer, else the
 * rebased path (against its cache, or a state read without the lock), and only when that finds
 * its plan stale the locked path of two round trips. See docs/postgres.md.
 */
export class Committer {
  private readonly commitCall: NamedStatement;
  private readonly commitOneCall: NamedStatement;
  private readonly rebasedCall: NamedStatement;
  private readonly fencedCall: NamedStatement;
  /** The state this process's last commit left, while nothing says it is wrong. */
  private cache: CommitCache | undefined;
  private readonly notifier: CommitNotifier;

  constructor(private readonly store: CommitTarget) {
    this.commitCall = commitStatement(store.tables, store.storeKey);
    this.commitOneCall = commitOneStatement(store.tables, store.storeKey);
    this.rebasedCall = rebasedCommitStatement(store.tables, store.storeKey);
    this.fencedCall = fencedCommitStatement(store.tables, store.storeKey);
    this.notifier = new CommitNotifier(store.backend.pool, store.schema);
  }

  /** Forgets the cached state: the caller is about to change the store outside a commit. */
  forget(): void {
    this.cache = undefined;
  }

  /**
   * With `fence` (this node is the store's write owner), every path checks the token under the
   * lock: the rebased path through `evdb_commit_fenced`, the locked path by reading the lease.
   */
  async commit<T>(keys: CommitKeys, plan: Planner<T>, fence?: CommitFence): Promise<T> {
    const result = await this.commitAnyPath(keys, plan, fence);
    if (this.cache !== undefined) this.notifier.committed(this.cache.lastPosition);
    return result;
  }

  private async commitAnyPath<T>(
    keys: CommitKeys,
    plan: Planner<T>,
    fence: CommitFence | undefined,
  ): Promise<T> {
    const cache = this.cache;
    if (cache !== undefined) {
      const attempt =
        cache.exact && fence === undefined
          ? await this.commitFast(cache, keys, plan)
          : await this.commitRebased(cacheBase(cache), keys, plan, fence);
      if (attempt.done) return attempt.result;
    }
    const read = await this.readUnlocked(keys);
    const rebased = await this.commitRebased(read, keys, plan, fence);
    if (rebased.done) return rebased.result;
    // Another process changed what this plan read between the read and the commit (a hot
    // stream, or a deleteStream): plan under the lock, which always succeeds.
    return this.commitLocked(keys, plan, fence);
  }

  private async commitFast<T>(
    cache: CommitCache,
    keys: CommitKeys,
    plan: Planner<T>,
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
    const one = commitOneArgs(lockKey, this.store.storeKey, expect, decided.plan);
    const call =
      one === undefined
        ? {
            ...this.commitCall,
            values: commitArgs(lockKey, this.store.storeKey, expect, decided.plan),
          }
        : { ...this.commitOneCall, values: one };
    this.cache = undefined;
    const answer = await this.call<string>(call);
    if (answer === 'ok') {
      this.remember(cache, cache.generation, keys, view, decided.plan, true);
      return { done: true, result: decided.result };
    }
    if (answer === 'removed') throw this.store.removedError();
    if (answer !== 'stale') {
      throw new EvdbError('internal', `evdb_commit answered ${String(answer)}`);
    }
    // Another process committed (or deleted) since: the cache is no guide any more.
    return { done: false };
  }

  /**
   * One statement, `evdb_commit_rebased`: plans against `base`, and the function checks under
   * the lock what the plan depends on, then writes it shifted past the positions other
   * processes added meanwhile. See rebased-commit.ts.
   */
  private async commitRebased<T>(
    base: PlanBase,
    keys: CommitKeys,
    plan: Planner<T>,
    fence: CommitFence | undefined,
  ): Promise<{ done: true; result: T } | { done: false }> {
    const absentStreams = new Set<string>();
    const knownHeads = new Map<string, number>();
    const decided = plan(baseView(base, base.lastPosition, keys, absentStreams, knownHeads));
    const args = rebasedCommitArgs(
      this.store.backend.lockKey,
      this.store.storeKey,
      {
        lastPosition: base.lastPosition,
        generation: base.generation,
        absentStreams: [...absentStreams],
        absentIds: keys.eventIds.filter((id) => base.event(id) === undefined),
      },
      knownHeads,
      decided.plan,
    );
    const previous = this.cache;
    this.cache = undefined;
    const call =
      fence === undefined
        ? { ...this.rebasedCall, values: args }
        : { ...this.fencedCall, values: [fence.lease, fence.token, ...args] };
    const shift = Number(await this.call<number | string>(call));
    if (shift === -3) throw notWriteOwner(this.store.storeId);
    if (shift === -2) throw this.store.removedError();
    if (shift === -1) return { done: false };
    if (!Number.isSafeInteger(shift) || shift < 0) {
      throw new EvdbError('internal', `evdb_commit_rebased answered ${String(shift)}`);
    }
    // The planner is pure: planned from the shifted last position, it gives the rows written.
    const view = baseView(base, base.lastPosition + shift, keys, new Set(), new Map());
    const final = shift === 0 ? decided : plan(view);
    const nobodyElse =
      shift === 0 &&
      previous?.exact === true &&
      previous.lastPosition === base.lastPosition &&
      previous.generation === base.generation;
    // After a commit by this process alone its heads stay exact; after others wrote, the
    // heads this commit checked and wrote are exact only with nothing else beside them.
    const fresh = new Map<string, StreamHead | null>();
    const heads = nobodyElse || shift > 0 ? (previous?.heads ?? fresh) : fresh;
    this.remember(
      { lastPosition: base.lastPosition + shift, generation: base.generation, heads, exact: true },
      base.generation,
      keys,
      view,
      final.plan,
      nobodyElse || shift === 0,
    );
    return { done: true, result: final.result };
  }

  /** The state a plan needs, read in one round trip without the lock. */
  private async readUnlocked(keys: CommitKeys): Promise<PlanBase> {
    const context = {
      doing: `commit to store '${this.store.storeId}'`,
      storeId: this.store.storeId,
    };
    let results: pg.QueryResult<unknown[]>[];
    try {
      results = (await this.store.backend.pool.query({
        text: prefetchReads(this.store.tables, keys).join(';\n'),
        rowMode: 'array',
      })) as unknown as pg.QueryResult<unknown[]>[];
    } catch (error) {
      throw toEvdbError(error, context);
    }
    const state = results[0]?.rows[0] as [number, number, number] | undefined;
    if (state === undefined || state[0] !== this.store.storeKey) throw this.store.removedError();
    const view = prefetchedView(
      state[1],
      keys,
      results[1]?.rows as [string, number, number][],
      results[2]?.rows as FoundEventRow[],
    );
    return {
      lastPosition: state[1],
      generation: state[2],
      head: (streamId) => view.head(streamId),
      event: (eventId) => view.findEvent(eventId),
    };
  }

  /** Runs a commit statement that commits when it returns, and answers its one value. */
  private async call<R>(call: pg.QueryConfig): Promise<R | undefined> {
    try {
      const { rows } = await this.store.backend.pool.query<[R]>({ ...call, rowMode: 'array' });
      return rows[0]?.[0];
    } catch (error) {
      // The call commits when it returns: if the answer is lost, so is the outcome.
      throw toEvdbError(error, {
        doing: `commit to store '${this.store.storeId}'`,
        storeId: this.store.storeId,
        outcomeUnknown: true,
      });
    }
  }

  private commitLocked<T>(
    keys: CommitKeys,
    plan: Planner<T>,
    fence: CommitFence | undefined,
  ): Promise<T> {
    const prefetch = [
      prefetchSql(this.store.tables, this.store.backend.lockKey, this.store.storeKey, keys),
      ...(fence === undefined ? [] : [leaseTokenSql(this.store.tables, fence.lease)]),
    ].join(';\n');
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
        if (fence !== undefined) {
          const token = results[5]?.rows[0]?.[0];
          // Leaving by an error rolls the transaction back: nothing is written.
          if (token === undefined || Number(token) !== fence.token) {
            throw notWriteOwner(this.store.storeId);
          }
        }
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
        // heads are still exact; otherwise only this commit's are.
        const nobodyElse =
          previous?.exact === true &&
          previous.lastPosition === lastPosition &&
          previous.generation === generation;
        this.remember(
          nobodyElse ? previous : { lastPosition, generation, heads: new Map(), exact: true },
          generation,
          keys,
          view,
          decided.plan,
          true,
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
    exact: boolean,
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
      exact,
    };
  }
}

function cacheBase(cache: CommitCache): PlanBase {
  return {
    lastPosition: cache.lastPosition,
    generation: cache.generation,
    head: (streamId) => cache.heads.get(streamId) ?? undefined,
    // Caller-chosen ids are planned as absent, which the function checks.
    event: () => undefined,
  };
}

/**
 * The planner's view of `base` from `lastPosition`, recording which streams it planned as
 * absent and the versions of those it found, for the function to check.
 */
function baseView(
  base: PlanBase,
  lastPosition: number,
  keys: CommitKeys,
  absentStreams: Set<string>,
  knownHeads: Map<string, number>,
): CommitView {
  const streamKeys = new Set(keys.streamIds);
  const eventKeys = new Set(keys.eventIds);
  return {
    lastPosition,
    head(streamId) {
      if (!streamKeys.has(streamId)) throw notPrefetched('stream', streamId);
      const head = base.head(streamId);
      if (head === undefined) absentStreams.add(streamId);
      else knownHeads.set(streamId, head.version);
      return head;
    },
    findEvent(eventId) {
      if (!eventKeys.has(eventId)) throw notPrefetched('event id', eventId);
      return base.event(eventId);
    },
  };
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

/** A fenced commit refused: another node owns the store's writes now. Nothing was written. */
function notWriteOwner(storeId: string): EvdbError {
  return new EvdbError(
    'unavailable',
    `this node is no longer the write owner of store '${storeId}'; nothing was written`,
    { details: { storeId, reason: 'not_write_owner' } },
  );
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
