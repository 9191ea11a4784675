import type pg from 'pg';

/**
 * Notifications of one store leave at most this often: the first after a quiet spell at once,
 * later ones gathered into one per gap. A notification per commit cost a lone sequential writer
 * about as much CPU, in this process and in the server, as the commit itself; the gap bounds
 * that to a few hundred statements a second at the price of this much wake-up delay in other
 * processes, which a busy store's subscribers absorb in their next read anyway.
 */
export const NOTIFY_GAP_MS = 10;

/** Named, so each pooled connection parses and plans it once. */
const NOTIFY = { name: 'evdb_notify', text: 'SELECT pg_notify($1, $2)' };

/**
 * Tells other processes about this process's commits to one store, after they committed: one
 * `pg_notify` statement of its own, outside the commit. A NOTIFY inside the commit would hold
 * PostgreSQL's cluster-wide notify lock until the commit's WAL flush, so commits of different
 * stores would queue on it. Notifications while one is in flight coalesce into the next (only
 * the highest position matters: it means "events up to here exist"), and so do those of one
 * `NOTIFY_GAP_MS`.
 *
 * No reader can skip a position for it: a notification is only a wake-up, sent after the
 * commit is visible, and readers read by position. If this process dies between its commit and
 * the notification, or the notification fails, other processes' commit watchers learn of the
 * commit from their poll (commit-watcher.ts), a little later.
 */
export class CommitNotifier {
  private sent = -1;
  private wanted = -1;
  private sending = false;
  private lastSentAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly pool: pg.Pool,
    private readonly channel: string,
  ) {}

  /** The store's events up to `lastPosition` are committed. */
  committed(lastPosition: number): void {
    if (lastPosition <= this.wanted) return;
    this.wanted = lastPosition;
    if (!this.sending) void this.send();
  }

  private async send(): Promise<void> {
    this.sending = true;
    try {
      while (this.wanted > this.sent) {
        const wait = this.lastSentAt + NOTIFY_GAP_MS - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const position = this.wanted;
        this.lastSentAt = performance.now();
        try {
          await this.pool.query({ ...NOTIFY, values: [this.channel, String(position)] });
        } catch {
          // The server is unreachable or the pool closed: the watchers' poll is the backstop,
          // and the next commit (which would fail the same way) reports the failure to its
          // caller. Retrying here would only queue behind a dead server.
          return;
        } finally {
          this.sent = Math.max(this.sent, position);
        }
      }
    } finally {
      this.sending = false;
    }
  }
}
