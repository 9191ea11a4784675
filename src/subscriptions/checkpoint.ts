import { EvdbError } from '../core/errors.js';
import type { JsonObject } from '../core/types.js';
import type { KvStore } from '../backends/kv-store.js';

/**
 * Checkpoint writes are spaced by at least this much: acknowledgements arriving meanwhile share
 * the next write, so a fast consumer costs at most ~100 writes a second however small its
 * batches, and an acknowledgement waits at most this long to be stored.
 */
const MIN_WRITE_INTERVAL_MS = 10;

/** What a checkpoint entry holds: the position, and the id of the definition it belongs to. */
export interface StoredCheckpoint extends JsonObject {
  id: string;
  position: number;
}

interface Waiter {
  position: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A stored position that only moves forward: the checkpoint of a persistent subscription or a
 * link. Writes are compare-and-set on the entry's revision, so two processes (or a process and
 * an `ackEvent` call) never move it back; the entry names its definition's id, so a process still
 * running a removed (or replaced) definition cannot write into the new one.
 */
export class Checkpoint {
  private revision: number | undefined;
  private target: number;
  private waiters: Waiter[] = [];
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastWriteAt = 0;
  /** This definition's entry exists (was read or written). */
  private claimed = false;
  /** Told about each position this process stores (telemetry). */
  onStored: ((position: number) => void) | undefined;

  private constructor(
    private readonly log: KvStore,
    private readonly namespace: string,
    private readonly key: string,
    private readonly id: string,
    /** The position known to be stored. */
    public stored: number,
  ) {
    this.target = stored;
  }

  /**
   * Loads the checkpoint of the definition `id`; `fallback` is its position while none is
   * stored (an entry left by an earlier definition of the same name counts as none).
   */
  static async load(
    log: KvStore,
    namespace: string,
    key: string,
    id: string,
    fallback: number,
  ): Promise<Checkpoint> {
    const checkpoint = new Checkpoint(log, namespace, key, id, fallback);
    await checkpoint.reload();
    return checkpoint;
  }

  /**
   * Reads the stored position again (another process may have moved it on). Once this
   * definition's entry was seen, finding it gone or taken by another definition means the
   * definition was removed or replaced: `not_found`.
   */
  async reload(): Promise<number> {
    const entry = await this.log.kvGet(this.namespace, this.key);
    const value = entry?.value as StoredCheckpoint | undefined;
    if (entry === undefined || value?.id !== this.id) {
      if (this.claimed) throw gone(this.key);
      this.revision = entry?.revision ?? 0;
      return this.stored;
    }
    this.claimed = true;
    this.revision = entry.revision;
    this.stored = Math.max(this.stored, value.position);
    this.target = Math.max(this.target, this.stored);
    return this.stored;
  }

  /** Asks for the checkpoint to be at least `position`; resolves once that is stored. */
  advance(position: number): Promise<void> {
    if (position <= this.stored) return Promise.resolve();
    this.target = Math.max(this.target, position);
    const done = new Promise<void>((resolve, reject) => {
      this.waiters.push({ position, resolve, reject });
    });
    this.schedule();
    return done;
  }

  /** Writes what is pending now, and resolves when that is done (or failed). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    // Bounded: a write that fails leaves the rest to the waiters' own error handling.
    for (let round = 0; round < 3; round++) {
      if (this.writing === undefined && this.target <= this.stored) return;
      if (this.writing === undefined) this.startWrite();
      await this.writing;
    }
  }

  /** Drops pending waiters (the owner ends); they reject with `error`. */
  abandon(error: unknown): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.writing !== undefined) return;
    const delay = Math.max(0, this.lastWriteAt + MIN_WRITE_INTERVAL_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.startWrite();
    }, delay);
  }

  private startWrite(): void {
    // write() settles every waiter itself and never rejects.
    this.writing = this.write().finally(() => {
      this.writing = undefined;
      this.lastWriteAt = performance.now();
      if (this.waiters.length > 0) this.schedule();
    });
  }

  private async write(): Promise<void> {
    const target = this.target;
    try {
      while (this.stored < target) {
        if (this.revision === undefined) await this.reload();
        if (this.stored >= target) break;
        const value: StoredCheckpoint = { id: this.id, position: target };
        const revision = await this.log.kvPut(this.namespace, this.key, value, this.revision);
        if (revision === undefined) {
          // Someone else wrote (another process, ackEvent): read again and compare.
          this.revision = undefined;
          continue;
        }
        this.revision = revision;
        this.claimed = true;
        this.stored = target;
        this.onStored?.(target);
      }
    } catch (error) {
      const failed = this.waiters.filter((waiter) => waiter.position <= target);
      this.waiters = this.waiters.filter((waiter) => waiter.position > target);
      for (const waiter of failed) waiter.reject(error);
      this.target = Math.max(this.stored, ...this.waiters.map((waiter) => waiter.position));
      return;
    }
    const done = this.waiters.filter((waiter) => waiter.position <= this.stored);
    this.waiters = this.waiters.filter((waiter) => waiter.position > this.stored);
    for (const waiter of done) waiter.resolve();
  }
}

export function gone(key: string): EvdbError {
  return new EvdbError('not_found', `'${key}' was removed (or replaced by a new definition)`, {
    details: { name: key },
  });
}
