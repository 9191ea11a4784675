import type { EventRecord } from '../core/types.js';
import type { EventLog } from '../backends/event-log.js';
import type { CompiledFilter } from './filters.js';
import { freezeEvent } from './live-feed.js';

/** Events read per round trip when the source also holds events the predicate rejects. */
const SCAN_PAGE = 1000;
/** Most events one `read` examines before it returns (maybe with nothing), so callers stay responsive. */
const SCAN_LIMIT = 20_000;

/**
 * Reads a filter's events from the log in global order, from a position on. Catch-up and live
 * delivery are the same reads: the reader never holds more than one page, so a slow consumer
 * simply reads later.
 *
 * `position` is the next position to examine; everything before it has been examined. A read
 * goes past `head` (the highest position known to be committed) when the log already holds
 * more, but only moves `position` to `head + 1` on a short read: every event at or below `head`
 * was committed before the read began, so a short read has seen all of them.
 */
export class LogReader {
  /** For stream sources: the version where `position` starts, when known. */
  private nextVersion: number | undefined;

  constructor(
    private readonly log: EventLog,
    private readonly filter: CompiledFilter,
    public position: number,
  ) {}

  /** Moves to another position (a rewind, or a jump after an acknowledgement). */
  seek(position: number): void {
    this.position = position;
    this.nextVersion = undefined;
  }

  /**
   * Up to `max` matching events from `position` on. May return fewer (even none) while events
   * up to `head` remain: call again while `position <= head`.
   */
  async read(max: number, head: number): Promise<EventRecord[]> {
    const out: EventRecord[] = [];
    let scanned = 0;
    while (out.length < max && this.position <= head && scanned < SCAN_LIMIT) {
      const want = max - out.length;
      const page = this.filter.exact ? want : Math.max(want, SCAN_PAGE);
      const events = await this.readPage(page);
      scanned += events.length;
      let full = events.length === page;
      for (const event of events) {
        if (event.position < this.position) continue;
        if (this.filter.matches(event)) {
          // Frozen like the live feed's events, so that what a consumer may do does not depend
          // on whether it is catching up.
          freezeEvent(event);
          out.push(event);
          if (out.length === max) {
            this.advanceTo(event);
            full = true;
            break;
          }
        }
        this.advanceTo(event);
      }
      if (!full) {
        // A short read saw everything committed up to `head`.
        this.position = Math.max(this.position, head + 1);
        this.nextVersion = undefined;
        break;
      }
    }
    return out;
  }

  private advanceTo(event: EventRecord): void {
    this.position = event.position + 1;
    if (this.filter.source.kind === 'stream') this.nextVersion = event.version + 1;
  }

  private async readPage(count: number): Promise<EventRecord[]> {
    const source = this.filter.source;
    switch (source.kind) {
      case 'all':
        return this.log.readAll(this.position, count);
      case 'index':
        return this.log.readIndex(source.query, this.position, count);
      case 'stream':
        return this.readStream(source.streamId, count);
    }
  }

  /**
   * A stream's events from a global position: versions and positions grow together within a
   * stream, so the first version at or after `position` is found by a binary search (once, or
   * again when the stream was deleted and written anew), then the stream is read by version.
   */
  private async readStream(streamId: string, count: number): Promise<EventRecord[]> {
    const streamHead = await this.log.streamHead(streamId);
    if (streamHead === undefined || streamHead.lastPosition < this.position) {
      // Nothing at or after `position` yet; let the caller treat it as a short read.
      return [];
    }
    if (this.nextVersion !== undefined) {
      const events = await this.log.readStream(streamId, this.nextVersion, count, 'forward');
      const first = events[0];
      if (first !== undefined && first.position >= this.position) return events;
      // The hint is stale (the stream was deleted and written again): search.
    }
    this.nextVersion = await this.firstVersionFrom(streamId, streamHead.version);
    return this.log.readStream(streamId, this.nextVersion, count, 'forward');
  }

  private async firstVersionFrom(streamId: string, lastVersion: number): Promise<number> {
    if (this.position === 0) return 0;
    let low = 0;
    let high = lastVersion;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const [event] = await this.log.readStream(streamId, mid, 1, 'forward');
      if (event === undefined) return lastVersion;
      if (event.position >= this.position) high = mid;
      else low = event.version + 1;
    }
    return low;
  }
}
