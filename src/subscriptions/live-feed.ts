import type { EventRecord, JsonValue } from '../core/types.js';
import type { EventLog } from '../backends/event-log.js';
import type { StoreDispatcher } from './store-dispatcher.js';
import { LiveIndex, type LiveRoute } from './live-index.js';

/** Events the feed reads per round trip. */
const FEED_PAGE = 1000;
/**
 * The feed keeps the events it read last (between this many and twice as many), so that a
 * reader finishing its catch-up while the feed reads on joins without reading the log again.
 * A reader further behind than these keeps reading the log on its own.
 */
export const RECENT_EVENTS = 512;

/** A reader the feed hands new events to (see `LiveReader`). */
export interface FeedMember {
  readonly route: LiveRoute;
  /** Offered every new event its route may concern, in position order (maybe twice). */
  offer(event: EventRecord): void;
  /** The feed stopped feeding it (a read failed): it reads the log from `position` on its own. */
  detached(position: number): void;
}

/**
 * The live half of a store's subscriptions and links: one reader of the log per store that
 * reads each new event once, decodes it once, and offers it to the members its route names
 * (see `LiveIndex`), so that a commit costs in proportion to the members it concerns, not to
 * all of them. Catch-up stays with each reader (`LogReader`); a reader joins the feed when its
 * position reaches what the feed has read (or the feed's recent events), and leaves when its
 * own queue fills (a slow consumer), to read the log on its own again.
 *
 * The feed moves past the head the way a `LogReader` does: only after a short read, so that it
 * never skips an event committed below the head it read with. Events it hands out are frozen:
 * one object goes to every member it matches.
 */
export class LiveFeed {
  /** The next position the feed reads: everything before it has been offered to the members. */
  private next = 0;
  /** The last events read, oldest first; together they are all events from `recentFrom` to `next`. */
  private recent: EventRecord[] = [];
  private recentFrom = 0;
  private readonly index = new LiveIndex<FeedMember>();
  private readonly members = new Set<FeedMember>();
  /** Readers catching up from the log, woken when the head moves. */
  private readonly catchingUp = new Set<() => void>();
  private reading = false;
  /** Bumped when an idle feed starts again elsewhere: a read begun before is discarded. */
  private restarts = 0;
  private holders = 0;
  private attached: Promise<() => void> | undefined;
  private closed = false;

  constructor(
    readonly log: EventLog,
    readonly dispatcher: StoreDispatcher,
  ) {}

  /** Where the feed reads next: its members have been offered every event before it. */
  get position(): number {
    return this.next;
  }

  /** Members now (for tests and telemetry). */
  get size(): number {
    return this.members.size;
  }

  /**
   * Keeps the store's head watched for a subscription or link, and resolves once the head is
   * known (read from the backend, so it covers every commit finished before the call). Returns
   * the function that gives the hold up.
   */
  async retain(): Promise<() => void> {
    this.holders++;
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      if (--this.holders > 0) return;
      const attached = this.attached;
      this.attached = undefined;
      attached?.then(
        (detach) => detach(),
        () => undefined,
      );
    };
    const first = this.attached === undefined;
    const attaching = (this.attached ??= this.dispatcher.attach(() => this.headMoved()));
    try {
      await attaching;
      if (!first) await this.dispatcher.refresh();
    } catch (error) {
      if (this.attached === attaching) this.attached = undefined;
      release();
      throw error;
    }
    return release;
  }

  /** Wakes `listener` whenever the head moves, while its reader catches up from the log. */
  watchHead(listener: () => void): () => void {
    this.catchingUp.add(listener);
    return () => this.catchingUp.delete(listener);
  }

  /**
   * Makes `member` a member from position `from` on (everything before `from` it has seen),
   * offering it at once the recent events from `from`. False when `from` is older than the
   * recent events the feed keeps: the member catches up from the log first.
   */
  join(member: FeedMember, from: number): boolean {
    if (this.closed) return false;
    if (this.members.size === 0 && !(from >= this.recentFrom && from <= this.next)) {
      // An idle feed starts again where its first member is, if that is near the head: it
      // never catches up from far behind on a member's behalf.
      if (from < this.dispatcher.head + 1 - RECENT_EVENTS) return false;
      this.next = from;
      this.recent = [];
      this.recentFrom = from;
      this.restarts++;
    } else if (from < this.recentFrom) {
      return false;
    }
    this.members.add(member);
    this.index.add(member, member.route);
    for (let i = firstAtOrAfter(this.recent, from); i < this.recent.length; i++) {
      member.offer(this.recent[i] as EventRecord);
    }
    if (this.next <= this.dispatcher.head) this.readNew();
    return true;
  }

  leave(member: FeedMember): void {
    if (!this.members.delete(member)) return;
    this.index.remove(member, member.route);
    if (this.members.size === 0) {
      // Nobody to keep them for.
      this.recent = [];
      this.recentFrom = this.next;
    }
  }

  close(): void {
    this.closed = true;
    this.detachAll();
    this.catchingUp.clear();
  }

  private headMoved(): void {
    if (this.catchingUp.size > 0) for (const wake of [...this.catchingUp]) wake();
    if (this.members.size > 0) this.readNew();
  }

  /**
   * Reads and offers new events until the head is reached. One loop at a time; the loop checks
   * the head again after every read, and stops in the same turn as its last check, so a head
   * that moves meanwhile is always seen.
   */
  private readNew(): void {
    if (this.reading) return;
    this.reading = true;
    void this.readLoop();
  }

  private async readLoop(): Promise<void> {
    try {
      while (!this.closed && this.members.size > 0 && this.next <= this.dispatcher.head) {
        const head = this.dispatcher.head;
        const restarts = this.restarts;
        let events: EventRecord[];
        try {
          events = await this.log.readAll(this.next, FEED_PAGE);
        } catch {
          // Each member reads the log itself from here, and reports and retries the failure
          // as its own (with its own back-off); they join again once reads succeed.
          this.detachAll();
          return;
        }
        if (this.closed) return;
        if (restarts !== this.restarts) continue; // read from where the feed was, not where it is
        for (const event of events) {
          if (event.position < this.next) continue;
          freezeEvent(event);
          this.remember(event);
          this.next = event.position + 1;
          this.index.offer(event, (member) => member.offer(event));
        }
        // A short read saw everything committed up to `head`.
        if (events.length < FEED_PAGE) this.next = Math.max(this.next, head + 1);
      }
    } finally {
      this.reading = false;
    }
  }

  private remember(event: EventRecord): void {
    this.recent.push(event);
    if (this.recent.length >= 2 * RECENT_EVENTS) {
      const dropped = this.recent.length - RECENT_EVENTS;
      this.recentFrom = (this.recent[dropped - 1] as EventRecord).position + 1;
      this.recent = this.recent.slice(dropped);
    }
  }

  private detachAll(): void {
    const members = [...this.members];
    for (const member of members) this.leave(member);
    for (const member of members) member.detached(this.next);
  }
}

/** Index of the first event at or after `position` (events in position order). */
function firstAtOrAfter(events: EventRecord[], position: number): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((events[mid] as EventRecord).position < position) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * Freezes an event handed to several readers, so that one cannot change what the others see.
 * Binary data stays writable (a typed array with elements cannot be frozen).
 */
export function freezeEvent(event: EventRecord): void {
  if (Object.isFrozen(event)) return;
  deepFreeze(event.metadata);
  Object.freeze(event.tags);
  if (!(event.data instanceof Uint8Array)) deepFreeze(event.data);
  Object.freeze(event);
}

function deepFreeze(value: JsonValue): void {
  if (typeof value !== 'object' || value === null) return;
  Object.freeze(value);
  for (const item of Object.values(value)) deepFreeze(item);
}
