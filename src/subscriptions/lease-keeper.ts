import type { LeaseStore } from '../backends/lease-store.js';

export interface LeaseHolder {
  /** The lease was taken: start work. A throw means the work cannot start (tried again later). */
  acquired(): Promise<void>;
  /** The lease was lost (taken by another process after it expired, or unrenewable): stop. */
  lost(): void;
  /** Asked at each renewal: false when the work should end for good (its definition went). */
  stillWanted(): Promise<boolean>;
  /** The work ended for good (`stillWanted` said no). */
  ended(): void;
}

/**
 * Keeps a lease so that one process at a time runs a persistent subscription or a link. The
 * holder renews every third of the lease time; the others try every quarter, so a dead
 * holder's work is taken over within about 1.25 lease times. A holder that cannot renew (the
 * database is unreachable) stops before its lease could have expired, so two processes never
 * work at once while the clocks agree; if a process stalls past its lease anyway, the worst is a
 * repeated delivery (delivery is at least once) or a link write refused by its expected version.
 */
export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  private stopped = false;
  /** When the last successful acquire or renewal was sent (the lease runs from before it). */
  private renewedAt = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly log: LeaseStore,
    private readonly name: string,
    private readonly owner: string,
    private readonly ttlMs: number,
    private readonly holder: LeaseHolder,
  ) {}

  get isHeld(): boolean {
    return this.held;
  }

  start(): void {
    this.tryNow();
  }

  /** Tries (or renews) now rather than at the next tick: e.g. when a local holder let go. */
  tryNow(): void {
    if (this.stopped || this.running !== undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.tick().finally(() => {
      this.running = undefined;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const delay = this.held ? this.ttlMs / 3 : this.ttlMs / 4;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tryNow();
    }, delay);
  }

  private async tick(): Promise<void> {
    const sentAt = performance.now();
    let held: boolean;
    try {
      held = await this.log.acquireLease(this.name, this.owner, this.ttlMs);
    } catch {
      // Unreachable storage: keep working only while the last renewal surely still holds.
      if (this.held && performance.now() - this.renewedAt > this.ttlMs * 0.8) this.lose();
      return;
    }
    if (this.stopped) return;
    if (!held) {
      if (this.held) this.lose();
      return;
    }
    this.renewedAt = sentAt;
    if (!this.held) {
      this.held = true;
      try {
        await this.holder.acquired();
      } catch {
        this.held = false;
        await this.release();
      }
      return;
    }
    let wanted = true;
    try {
      wanted = await this.holder.stillWanted();
    } catch {
      // Not known now; asked again at the next renewal.
    }
    if (!wanted && !this.stopped) {
      this.stopped = true;
      this.held = false;
      await this.release();
      this.holder.ended();
    }
  }

  private lose(): void {
    this.held = false;
    this.holder.lost();
  }

  private async release(): Promise<void> {
    await this.log.releaseLease(this.name, this.owner).catch(() => undefined);
  }

  /** Stops trying and gives the lease up if held. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.held) {
      this.held = false;
      await this.release();
    }
  }
}
