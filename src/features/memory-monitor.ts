import { totalmem } from 'node:os';
import { EvdbError, invalidArgument } from '../core/errors.js';
import type { MemoryLevel, MemoryStats } from '../core/feature-types.js';

export interface MemoryPressureOptions {
  /** The memory budget in bytes. Default: the process's memory limit (cgroup) or the machine's. */
  budgetBytes?: number;
  /** Fraction of the budget at which the level becomes `elevated`; default 0.70. */
  elevatedAt?: number;
  /** Fraction of the budget at which the level becomes `critical`; default 0.85. */
  criticalAt?: number;
  /** How often the level is checked; default 10 000 ms. 0: only when `check()` is called. */
  checkIntervalMs?: number;
  /** Measures the bytes in use; default the process's resident set size. */
  measure?: () => number;
}

export type MemoryLevelListener = (level: MemoryLevel, previous: MemoryLevel) => void;

/** What the store does at each level: how much of a batch it reads at once. */
const BATCH_FRACTION: Record<MemoryLevel, number> = { normal: 1, elevated: 0.25, critical: 0.1 };

/**
 * Watches the process's memory against a budget and says how hard the store should save it:
 * `normal`, `elevated` (at 70 % of the budget: caches and read batches shrink) or `critical`
 * (at 85 %: subscription catch-up pauses and new bulk reads are refused with a retriable
 * `overloaded`; appends keep working). The timer is unref'd, so it never keeps a process alive.
 *
 * @example
 * const evdb = await openEvdb({ memory: { budgetBytes: 512 * 1024 ** 2 } });
 * evdb.memory.onChange((level) => console.log('memory', level));
 */
export class MemoryMonitor {
  private current: MemoryLevel = 'normal';
  private used = 0;
  private lastCheck = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<MemoryLevelListener>();
  readonly budgetBytes: number;
  private readonly elevatedAt: number;
  private readonly criticalAt: number;
  private readonly measure: () => number;

  constructor(options: MemoryPressureOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument('memory options must be an object');
    }
    this.budgetBytes = options.budgetBytes ?? defaultBudget();
    this.elevatedAt = options.elevatedAt ?? 0.7;
    this.criticalAt = options.criticalAt ?? 0.85;
    this.measure = options.measure ?? (() => process.memoryUsage.rss());
    const intervalMs = options.checkIntervalMs ?? 10_000;
    if (!(this.budgetBytes > 0) || !Number.isFinite(this.budgetBytes)) {
      throw invalidArgument(
        `memory budgetBytes must be a positive number, got ${this.budgetBytes}`,
      );
    }
    if (!(this.elevatedAt > 0 && this.elevatedAt <= this.criticalAt && this.criticalAt <= 1)) {
      throw invalidArgument(
        `memory thresholds need 0 < elevatedAt <= criticalAt <= 1, got ${this.elevatedAt} and ${this.criticalAt}`,
      );
    }
    if (!Number.isFinite(intervalMs) || intervalMs < 0) {
      throw invalidArgument(`memory checkIntervalMs must be >= 0, got ${intervalMs}`);
    }
    if (typeof this.measure !== 'function')
      throw invalidArgument('memory measure must be a function');
    this.check();
    if (intervalMs > 0) {
      this.timer = setInterval(() => this.check(), intervalMs);
      this.timer.unref();
    }
  }

  get level(): MemoryLevel {
    return this.current;
  }

  stats(): MemoryStats {
    return {
      level: this.current,
      used: this.used,
      total: this.budgetBytes,
      lastCheck: this.lastCheck,
    };
  }

  /** Measures now, updates the level and tells the listeners if it changed. */
  check(): MemoryLevel {
    let used: number;
    try {
      used = this.measure();
    } catch {
      return this.current; // a failing measurement leaves the level as it was
    }
    this.used = used;
    this.lastCheck = Date.now();
    const ratio = used / this.budgetBytes;
    const level: MemoryLevel =
      ratio >= this.criticalAt ? 'critical' : ratio >= this.elevatedAt ? 'elevated' : 'normal';
    const previous = this.current;
    if (level !== previous) {
      this.current = level;
      for (const listener of [...this.listeners]) {
        try {
          listener(level, previous);
        } catch (error) {
          // A listener's failure must not stop the others, nor the monitor.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    }
    return level;
  }

  /** Calls `listener` on every level change; returns the function that stops it. */
  onChange(listener: MemoryLevelListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `size` scaled for the current level (at least 1): how many events to read at once. */
  batchSize(size: number): number {
    return Math.max(1, Math.floor(size * BATCH_FRACTION[this.current]));
  }

  /** Refuses a new bulk read at the critical level with a retriable `overloaded`. */
  assertBulkReadAllowed(operation: string): void {
    if (this.current !== 'critical') return;
    throw new EvdbError(
      'overloaded',
      `${operation} refused: memory is critical (${this.used} of ${this.budgetBytes} bytes); retry later`,
      { details: { operation, level: this.current, used: this.used, total: this.budgetBytes } },
    );
  }

  /** Stops the periodic check and forgets the listeners. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}

/** The cgroup memory limit when the process has one, else the machine's memory. */
function defaultBudget(): number {
  const constrained = (
    process as { constrainedMemory?: () => number | undefined }
  ).constrainedMemory?.();
  const total = totalmem();
  return constrained !== undefined && constrained > 0 && constrained < total ? constrained : total;
}
