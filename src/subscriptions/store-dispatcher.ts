import type { StoreAccess } from './store-access.js';

/** Poll period when other processes write and the backend cannot push notifications. */
const POLL_INTERVAL_MS = 250;

/**
 * One per open store: knows the highest committed position (`head`) and wakes the store's
 * subscriptions and links when it moves. It carries no events: each reader reads the log from
 * its own position, so catch-up and live delivery are one code path and a slow reader costs
 * nothing but its position.
 *
 * The head moves on this process's own commits (the store's local signal), on the backend's
 * commit notifications when it has `pushNotifications` (PostgreSQL LISTEN/NOTIFY, which polls
 * by itself when LISTEN is unavailable), and by polling when other processes write
 * (`multiProcess`) but nothing pushes.
 */
export class StoreDispatcher {
  /** The highest position known to be committed; -1 when none is. */
  head = -1;
  private readonly listeners = new Set<() => void>();
  private stopLocal: (() => void) | undefined;
  private stopWatching: (() => void) | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private readonly stopMemory: (() => void) | undefined;

  constructor(private readonly access: StoreAccess) {
    // A level change may end (or start) a pause of catch-up: let every reader look again.
    this.stopMemory = access.memory?.onChange(() => {
      for (const listener of [...this.listeners]) listener();
    });
  }

  /**
   * True while memory is critical: readers more than a batch behind the head wait (catch-up
   * pauses), readers at the head go on (live delivery is one batch at a time anyway).
   */
  get catchUpPaused(): boolean {
    return this.access.memory?.level === 'critical';
  }

  /** How many events a reader wanting `size` reads at once: fewer while memory is elevated. */
  readBatchSize(size: number): number {
    return this.access.memory?.batchSize(size) ?? size;
  }

  /**
   * Adds a listener called whenever the head moves, and resolves once the head is known (read
   * from the backend). Returns the function that removes the listener.
   */
  async attach(listener: () => void): Promise<() => void> {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.startWatching();
    const detach = (): void => {
      if (this.listeners.delete(listener) && this.listeners.size === 0) this.stopWatchingAll();
    };
    try {
      await this.refresh();
    } catch (error) {
      detach();
      throw error;
    }
    return detach;
  }

  /** Reads the store's last position from the backend and moves the head to it. */
  async refresh(): Promise<number> {
    const { lastPosition } = await this.access.log.status();
    this.advance(lastPosition);
    return this.head;
  }

  advance(lastPosition: number): void {
    if (lastPosition <= this.head || this.closed) return;
    this.head = lastPosition;
    for (const listener of [...this.listeners]) listener();
  }

  private startWatching(): void {
    if (this.closed) return;
    this.stopLocal = this.access.onCommitted((position) => this.advance(position));
    const log = this.access.log;
    if (log.capabilities.pushNotifications && log.watchCommits !== undefined) {
      this.stopWatching = log.watchCommits((position) => this.advance(position));
    } else if (log.capabilities.multiProcess) {
      this.schedulePoll();
    }
  }

  private schedulePoll(): void {
    this.pollTimer = setTimeout(() => {
      this.refresh()
        .catch(() => undefined) // the readers' own reads report failures
        .finally(() => {
          if (this.pollTimer !== undefined) this.schedulePoll();
        });
    }, POLL_INTERVAL_MS);
  }

  private stopWatchingAll(): void {
    this.stopLocal?.();
    this.stopLocal = undefined;
    this.stopWatching?.();
    this.stopWatching = undefined;
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  close(): void {
    this.closed = true;
    this.stopMemory?.();
    this.listeners.clear();
    this.stopWatchingAll();
  }
}
