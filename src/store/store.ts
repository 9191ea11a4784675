import { EvdbError } from '../core/errors.js';
import type { AppendResult, EventRecord, StreamWrite } from '../core/types.js';
import type { CommitFence, IndexQuery, StreamHead } from '../backends/event-log.js';
import type { LogBackend } from '../backends/log-backend.js';
import { commitKeys, planGroupCommit, type AppendUnit } from './append-planner.js';
import { prepareSystemWrite } from './prepare-writes.js';

/** A group commit takes queued appends until one of these is reached; the rest wait for the next. */
const MAX_UNITS_PER_COMMIT = 2_000;
const MAX_EVENTS_PER_COMMIT = 20_000;
/** The longest a commit waits for the appenders of the previous one (see `gatherFor`). */
const MAX_GATHER_MS = 10;

interface PendingAppend {
  unit: AppendUnit;
  /** The write owner's token when it was queued (see `setFenceSource`). */
  fence: CommitFence | undefined;
  resolve: (results: AppendResult[]) => void;
  reject: (error: unknown) => void;
}

/**
 * One open store: its log and the group commit in front of it. Appends that arrive while the
 * store is busy (or in the same event-loop turn) are committed together in one transaction with
 * one fsync; each keeps its own checks and result.
 */
export class Store {
  private queue: PendingAppend[] = [];
  private scheduled = false;
  private committing: Promise<void> | undefined;
  private lastEpochUs = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly committedListeners = new Set<(lastPosition: number) => void>();
  private readonly closers: (() => Promise<void>)[] = [];
  private fenceSource: (() => CommitFence | undefined) | undefined;
  /**
   * Appends in flight when the last commit ended: those it carried and those queued meanwhile.
   * And how long it took (ms).
   */
  private lastInFlight = 0;
  private lastCommitMs = 0;
  /** The last commit let the event loop turn while it ran (its backend waits on I/O). */
  private commitYields = false;
  /** A commit waiting for more appends: starts it at once (see `gatherFor`). */
  private gathered: { start: () => void; timer: NodeJS.Timeout } | undefined;

  constructor(
    readonly storeId: string,
    readonly log: LogBackend,
  ) {}

  /**
   * Runs `closer` when the store closes, while it still takes appends (what runs on the store,
   * such as subscriptions and links, stores checkpoints and may append on its way out).
   */
  onClose(closer: () => Promise<void>): void {
    this.assertOpen();
    this.closers.push(closer);
  }

  /**
   * Calls `listener` after every commit that wrote events, with the last position written: the
   * local "committed up to P" signal that wakes subscriptions without polling.
   */
  onCommitted(listener: (lastPosition: number) => void): () => void {
    this.committedListeners.add(listener);
    return () => this.committedListeners.delete(listener);
  }

  /** Appends to a stream evdb owns (`$link:<name>`); the public operations refuse `$` ids. */
  async appendSystem(write: StreamWrite): Promise<AppendResult> {
    const [result] = await this.append(prepareSystemWrite(write));
    return result as AppendResult;
  }

  /**
   * Makes each append take the fence `source` gives when it is queued (this node is the
   * store's write owner, see write-owners.ts): a group commits only appends with the same
   * fence, and the backend refuses it once the fence's token is stale.
   */
  setFenceSource(source: () => CommitFence | undefined): void {
    this.fenceSource = source;
  }

  append(unit: AppendUnit): Promise<AppendResult[]> {
    if (this.closed) return Promise.reject(closedError(this.storeId));
    return new Promise((resolve, reject) => {
      this.queue.push({ unit, fence: this.fenceSource?.(), resolve, reject });
      if (this.gathered !== undefined && this.queue.length >= this.lastInFlight) {
        this.gathered.start();
      }
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.committing !== undefined) return;
    this.scheduled = true;
    const start = (): void => {
      if (this.gathered !== undefined) clearTimeout(this.gathered.timer);
      this.gathered = undefined;
      this.scheduled = false;
      this.committing = this.commitQueued().finally(() => {
        this.committing = undefined;
        if (this.queue.length > 0) this.schedule();
      });
    };
    // setImmediate, not a microtask: appenders woken by the previous commit get to queue their
    // next append first, so they share the next commit.
    setImmediate(() => {
      const wait = this.gatherFor();
      if (wait === 0) start();
      else this.gathered = { start, timer: setTimeout(start, wait) };
    });
  }

  /**
   * How long (ms) the next commit waits for more appends before it starts: 0, unless the
   * backend's commits wait on I/O (PostgreSQL) and fewer appends are queued than were in flight
   * when the last commit ended. Then the appenders of the last commit are on their way back —
   * through the network when they are a server's clients, whose calls arrive over some time —
   * and a commit started now would make those arriving after it wait for the whole of it, then
   * commit on their own: the appenders would split into groups taking turns, each commit
   * carrying a part of them. So the commit waits until as many appends are queued as were in
   * flight, or at most as long as the last commit took (what the late ones would have waited
   * anyway), capped. A lone appender never waits; commits that block the thread (SQLite) never
   * wait, since no append can arrive during them.
   */
  private gatherFor(): number {
    if (!this.commitYields || this.closing !== undefined) return 0;
    if (this.queue.length >= this.lastInFlight) return 0;
    return Math.min(Math.ceil(this.lastCommitMs), MAX_GATHER_MS);
  }

  private async commitQueued(): Promise<void> {
    const group = this.takeGroup();
    const units = group.map((pending) => pending.unit);
    // Whether the event loop turns while the backend commits (see `gatherFor`).
    let turned = false;
    const probe = setImmediate(() => {
      turned = true;
    });
    const started = performance.now();
    try {
      const epochUs = this.nextEpochUs();
      let written = -1;
      const outcomes = await this.log.commit(
        commitKeys(units),
        (view) => {
          const decided = planGroupCommit(view, units, epochUs);
          written = decided.plan.events[decided.plan.events.length - 1]?.position ?? -1;
          return decided;
        },
        group[0]?.fence,
      );
      clearImmediate(probe);
      this.commitYields = turned;
      this.lastCommitMs = performance.now() - started;
      this.lastInFlight = group.length + this.queue.length;
      if (written >= 0) this.committed(written);
      group.forEach((pending, i) => {
        const outcome = outcomes[i];
        if (outcome === undefined)
          pending.reject(new EvdbError('internal', 'group commit lost an outcome'));
        else if (outcome.ok) pending.resolve(outcome.results);
        else pending.reject(outcome.error);
      });
    } catch (error) {
      clearImmediate(probe);
      for (const pending of group) pending.reject(error);
    }
  }

  private committed(lastPosition: number): void {
    for (const listener of [...this.committedListeners]) {
      try {
        listener(lastPosition);
      } catch (error) {
        // A listener's failure must not fail the appends that were committed.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  private takeGroup(): PendingAppend[] {
    let events = 0;
    let taken = 0;
    const fence = this.queue[0]?.fence;
    while (taken < this.queue.length && taken < MAX_UNITS_PER_COMMIT) {
      const { unit, fence: itsFence } = this.queue[taken] as PendingAppend;
      if (itsFence !== fence) break;
      const size = unit.writes.reduce((sum, write) => sum + write.events.length, 0);
      if (taken > 0 && events + size > MAX_EVENTS_PER_COMMIT) break;
      events += size;
      taken += 1;
    }
    return this.queue.splice(0, taken);
  }

  /** Wall-clock microseconds, never repeating or going back within this process. */
  private nextEpochUs(): number {
    this.lastEpochUs = Math.max(Date.now() * 1000, this.lastEpochUs + 1);
    return this.lastEpochUs;
  }

  async head(streamId: string): Promise<StreamHead | undefined> {
    this.assertOpen();
    return this.log.streamHead(streamId);
  }

  async readStream(
    streamId: string,
    startVersion: number,
    count: number,
    direction: 'forward' | 'backward',
  ): Promise<EventRecord[]> {
    const head = await this.head(streamId);
    if (head === undefined) {
      throw new EvdbError(
        'stream_not_found',
        `stream '${streamId}' does not exist in store '${this.storeId}'`,
        {
          details: { storeId: this.storeId, streamId },
        },
      );
    }
    if (count === 0) return [];
    if (direction === 'forward') {
      if (startVersion > head.version) return [];
      return this.log.readStream(streamId, startVersion, count, 'forward');
    }
    const from = startVersion === -1 ? head.version : Math.min(startVersion, head.version);
    return this.log.readStream(streamId, from, count, 'backward');
  }

  readAll(fromPosition: number, count: number): Promise<EventRecord[]> {
    this.assertOpen();
    return count === 0 ? Promise.resolve([]) : this.log.readAll(fromPosition, count);
  }

  readIndex(query: IndexQuery, fromPosition: number, count: number): Promise<EventRecord[]> {
    this.assertOpen();
    const noKeys =
      (query.kind === 'type' && query.eventTypes.length === 0) ||
      (query.kind === 'tag' && query.tags.length === 0);
    if (count === 0 || noKeys) return Promise.resolve([]);
    return this.log.readIndex(query, fromPosition, count);
  }

  /** Finishes queued appends, then closes the log. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // What runs on the store first: subscriptions store checkpoints, and links may append.
      for (const closer of this.closers) await closer();
      this.closed = true;
      this.gathered?.start();
      while (this.committing !== undefined || this.scheduled || this.queue.length > 0) {
        await (this.committing ?? new Promise((resolve) => setImmediate(resolve)));
      }
      await this.log.close();
    })();
    return this.closing;
  }

  /** Nothing queued or committing, and not closing: closing it now interrupts nothing. */
  get isIdle(): boolean {
    return (
      this.closing === undefined &&
      !this.scheduled &&
      this.committing === undefined &&
      this.queue.length === 0
    );
  }

  assertOpen(): void {
    if (this.closed) throw closedError(this.storeId);
  }
}

function closedError(storeId: string): EvdbError {
  return new EvdbError('unavailable', `store '${storeId}' is closed`, {
    retriable: false,
    details: { storeId },
  });
}
