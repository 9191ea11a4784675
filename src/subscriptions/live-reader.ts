import type { EventRecord } from '../core/types.js';
import type { CompiledFilter } from './filters.js';
import type { LiveFeed, FeedMember } from './live-feed.js';
import type { LiveRoute } from './live-index.js';
import { LogReader } from './log-reader.js';

/** Matching events a live reader holds for its consumer at least; more falls back to the log. */
export const MIN_LIVE_QUEUE = 1000;

/**
 * The reader of one subscription or link: it catches up from the log on its own (a
 * `LogReader`, reading its index or stream), then joins the store's `LiveFeed`, which queues
 * the new events it matches. The switch cannot skip or repeat an event: the reader joins at
 * its position, and the feed offers it exactly the events from there on (the ones it already
 * read, then every new one).
 *
 * Back-pressure stays per reader: when its consumer lets `queueLimit` events pile up, it
 * leaves the feed, hands out what it queued, and reads the rest from the log at its own pace,
 * joining again once it has caught up. Neither the feed, the writers nor the other readers
 * wait for it; `fellBehind` reports it.
 *
 * `position` is the next position to examine, as for a `LogReader`: everything before it was
 * examined (and handed out if it matched).
 */
export class LiveReader implements FeedMember {
  readonly route: LiveRoute;
  private readonly logReader: LogReader;
  /** `log`: catching up; `member`: fed by the feed; `draining`: left the feed, queue first. */
  private mode: 'log' | 'member' | 'draining' = 'log';
  /** While a member: where it joined (events before it were examined from the log). */
  private from = 0;
  /** The last position offered: the feed may offer an event twice (several tags). */
  private lastOffered = -1;
  private queue: EventRecord[] = [];
  private queueHead = 0;
  /** While draining: where reading the log resumes once the queue is handed out. */
  private resumeAt = 0;
  private stopWatching: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly feed: LiveFeed,
    private readonly filter: CompiledFilter,
    position: number,
    /** Called when there may be something to read (the head moved, or the feed queued events). */
    private readonly wake: () => void,
    private readonly queueLimit: number,
    private readonly fellBehind?: (position: number) => void,
  ) {
    this.route = filter.route;
    this.logReader = new LogReader(feed.log, filter, position);
    this.stopWatching = feed.watchHead(wake);
  }

  /** True while the feed delivers to it (no catch-up of its own). */
  get live(): boolean {
    return this.mode === 'member';
  }

  get position(): number {
    if (this.mode === 'log') return this.logReader.position;
    const next = this.queue[this.queueHead];
    if (next !== undefined) return next.position;
    return this.mode === 'draining' ? this.resumeAt : Math.max(this.from, this.feed.position);
  }

  /** Whether a `read` now may find something; false means: wait to be woken. */
  hasMore(head: number): boolean {
    switch (this.mode) {
      case 'log':
        return this.logReader.position <= head;
      case 'member':
        return this.queueHead < this.queue.length;
      case 'draining':
        return true;
    }
  }

  /** Moves to another position (a rewind, or a jump after an acknowledgement). */
  seek(position: number): void {
    this.toLog(position);
  }

  /**
   * Up to `max` matching events from `position` on: queued ones while a member, else read
   * from the log. May return none while there is more to read (see `hasMore`).
   */
  async read(max: number, head: number): Promise<EventRecord[]> {
    if (this.mode === 'log') this.tryJoin();
    if (this.mode !== 'log') {
      const events = this.takeQueued(max);
      if (events.length > 0 || this.mode === 'member') return events;
      this.toLog(this.resumeAt);
    }
    const events = await this.logReader.read(max, head);
    if (this.mode === 'log') this.tryJoin();
    return events;
  }

  offer(event: EventRecord): void {
    if (this.mode !== 'member' || event.position < this.from || event.position <= this.lastOffered)
      return;
    this.lastOffered = event.position;
    if (!this.filter.matches(event)) return;
    const queued = this.queue.length - this.queueHead;
    if (queued >= this.queueLimit) {
      // Fell behind: this event and the ones after it stay in the log until asked for.
      this.feed.leave(this);
      this.mode = 'draining';
      this.resumeAt = event.position;
      this.fellBehind?.(event.position);
      return;
    }
    this.queue.push(event);
    if (queued === 0) this.wake();
  }

  detached(position: number): void {
    if (this.mode !== 'member') return;
    this.mode = 'draining';
    this.resumeAt = Math.max(this.from, position);
    this.wake();
  }

  /** Stops reading: leaves the feed and stops being woken. */
  close(): void {
    this.closed = true;
    this.feed.leave(this);
    this.mode = 'log';
    this.stopWatching?.();
    this.stopWatching = undefined;
    this.queue = [];
    this.queueHead = 0;
  }

  private tryJoin(): void {
    if (this.closed) return;
    const from = this.logReader.position;
    this.mode = 'member';
    this.from = from;
    this.lastOffered = from - 1;
    if (!this.feed.join(this, from)) {
      this.mode = 'log';
      return;
    }
    this.stopWatching?.();
    this.stopWatching = undefined;
  }

  private toLog(position: number): void {
    this.feed.leave(this);
    this.mode = 'log';
    this.queue = [];
    this.queueHead = 0;
    this.logReader.seek(position);
    if (!this.closed) this.stopWatching ??= this.feed.watchHead(this.wake);
  }

  /** Up to `max` of the queued events (none unless a member or draining): `read` without a read. */
  takeQueued(max: number): EventRecord[] {
    const end = Math.min(this.queue.length, this.queueHead + max);
    const events = this.queue.slice(this.queueHead, end);
    this.queueHead = end;
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead >= MIN_LIVE_QUEUE) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return events;
  }
}
