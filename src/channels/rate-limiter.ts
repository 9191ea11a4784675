/**
 * Per-topic rate limits in fixed one-second windows: a topic may carry `limit` messages in each
 * wall-clock second. The counts are this process's own (see docs/channels.md for why limits are
 * per node). Memory stays bounded by the topics used within one second: a new window forgets
 * the previous one.
 */
export class RateLimiter {
  private window = -1;
  private counts = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** Counts one message for `key` if it is within `limit` this second; false when it is not. */
  take(key: string, limit: number): boolean {
    if (limit === Infinity) return true;
    const window = Math.floor(this.clock() / 1000);
    if (window !== this.window) {
      this.window = window;
      this.counts = new Map();
    }
    const used = this.counts.get(key) ?? 0;
    if (used >= limit) return false;
    this.counts.set(key, used + 1);
    return true;
  }

  /** Milliseconds until the current window ends (what a refused publisher should wait). */
  retryAfterMs(): number {
    return 1000 - (this.clock() % 1000);
  }
}
