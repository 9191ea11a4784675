import type { EventRecord, StoreConfig } from '../../core/types.js';
import { decodeEvent, encodeEvent, storedContent } from '../event-codec.js';
import type {
  BackendCapabilities,
  CommitKeys,
  CommitPlan,
  CommitView,
  EventLocation,
  EventLog,
  IndexQuery,
  LogStatus,
  PlannedEvent,
} from '../event-log.js';
import { isLinkStream } from '../event-log.js';
import type { EventTypeCount, StreamFacts } from '../feature-storage.js';
import { MemorySnapshots } from './snapshots.js';
import { compareUtf8, type KeyRange } from '../../core/paging.js';

export const MEMORY_CAPABILITIES: BackendCapabilities = {
  multiProcess: false,
  pushNotifications: false,
  durable: false,
};

/** First index in a position-sorted list whose position is >= `position`. */
function lowerBound(list: readonly PlannedEvent[], position: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((list[mid] as PlannedEvent).position < position) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** First index in a UTF-8-sorted list whose id is >= `key`. */
function lowerBoundKey(ids: readonly string[], key: string): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareUtf8(ids[mid] as string, key) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Two UTF-8-sorted lists without common ids, as one. */
function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  if (b.length === 0) return a.slice();
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    out.push(
      compareUtf8(a[i] as string, b[j] as string) <= 0 ? (a[i++] as string) : (b[j++] as string),
    );
  }
  while (i < a.length) out.push(a[i++] as string);
  while (j < b.length) out.push(b[j++] as string);
  return out;
}

interface MemoryStream {
  version: number;
  lastPosition: number;
  lastEpochUs: number;
  /** The stream's events in version order, which is also time order (see `lastEpochUs`). */
  events: PlannedEvent[];
}

export class MemoryLog implements EventLog {
  readonly capabilities = MEMORY_CAPABILITIES;
  private all: PlannedEvent[] = [];
  private readonly streams = new Map<string, MemoryStream>();
  private readonly byId = new Map<string, PlannedEvent>();
  private readonly byType = new Map<string, PlannedEvent[]>();
  private readonly byTag = new Map<string, PlannedEvent[]>();
  /** Causation and correlation ids → events outside link streams, in position order. */
  private readonly byCausation = new Map<string, PlannedEvent[]>();
  private readonly byCorrelation = new Map<string, PlannedEvent[]>();
  readonly snapshots = new MemorySnapshots();
  private lastPosition = -1;
  private totalEvents = 0;
  /**
   * The stream ids in UTF-8 order, for paged listing: streams created since it was sorted wait
   * in `createdStreams` and are merged in by the next listing or deletion (one sort of the new
   * ids and one merge, not a sort of every id).
   */
  private sortedStreams: string[] = [];
  private createdStreams: string[] = [];

  constructor(private readonly storeConfig: StoreConfig) {}

  commit<T>(
    _keys: CommitKeys,
    plan: (view: CommitView) => { plan: CommitPlan; result: T },
  ): Promise<T> {
    const view: CommitView = {
      lastPosition: this.lastPosition,
      head: (streamId) => this.streams.get(streamId),
      findEvent: (eventId): EventLocation | undefined => {
        const event = this.byId.get(eventId);
        return event === undefined ? undefined : { ...event, content: storedContent(event) };
      },
    };
    const decided = plan(view);
    for (const event of decided.plan.events) {
      this.all.push(event);
      // Link streams repeat their source events' ids: only other events are found by id.
      if (!isLinkStream(event.streamId)) this.byId.set(event.eventId, event);
      append(this.byType, event.eventType, event);
      for (const tag of event.tags) append(this.byTag, tag, event);
      if (!isLinkStream(event.streamId)) {
        if (event.causationId !== null) append(this.byCausation, event.causationId, event);
        if (event.correlationId !== null) append(this.byCorrelation, event.correlationId, event);
      }
      let stream = this.streams.get(event.streamId);
      if (stream === undefined) {
        stream = { version: -1, lastPosition: -1, lastEpochUs: 0, events: [] };
        this.streams.set(event.streamId, stream);
        this.createdStreams.push(event.streamId);
      }
      stream.events.push(event);
      this.lastPosition = event.position;
      this.totalEvents += 1;
    }
    for (const [streamId, head] of decided.plan.heads) {
      const stream = this.streams.get(streamId);
      if (stream !== undefined) {
        stream.version = head.version;
        stream.lastPosition = head.lastPosition;
        stream.lastEpochUs = head.lastEpochUs ?? stream.lastEpochUs;
      }
    }
    return Promise.resolve(decided.result);
  }

  streamHead(streamId: string): Promise<{ version: number; lastPosition: number } | undefined> {
    const stream = this.streams.get(streamId);
    return Promise.resolve(
      stream && { version: stream.version, lastPosition: stream.lastPosition },
    );
  }

  readStream(
    streamId: string,
    fromVersion: number,
    count: number,
    direction: 'forward' | 'backward',
  ): Promise<EventRecord[]> {
    const events = this.streams.get(streamId)?.events ?? [];
    const out: PlannedEvent[] = [];
    // Versions are contiguous from the stream's first stored event.
    const base = events[0]?.version ?? 0;
    if (direction === 'forward') {
      for (let i = Math.max(0, fromVersion - base); i < events.length && out.length < count; i++) {
        out.push(events[i] as PlannedEvent);
      }
    } else {
      for (
        let i = Math.min(events.length - 1, fromVersion - base);
        i >= 0 && out.length < count;
        i--
      ) {
        out.push(events[i] as PlannedEvent);
      }
    }
    return Promise.resolve(out.map(toRecord));
  }

  readAll(fromPosition: number, count: number): Promise<EventRecord[]> {
    const start = lowerBound(this.all, fromPosition);
    return Promise.resolve(this.all.slice(start, start + count).map(toRecord));
  }

  readIndex(query: IndexQuery, fromPosition: number, count: number): Promise<EventRecord[]> {
    if (query.kind === 'causation' || query.kind === 'correlation') {
      const list =
        query.kind === 'causation'
          ? this.byCausation.get(query.causationId)
          : this.byCorrelation.get(query.correlationId);
      const start = lowerBound(list ?? [], fromPosition);
      return Promise.resolve((list ?? []).slice(start, start + count).map(toRecord));
    }
    const keys = query.kind === 'type' ? query.eventTypes : query.tags;
    const index = query.kind === 'type' ? this.byType : this.byTag;
    const lists = keys.map((key) => index.get(key) ?? []);
    let matches: PlannedEvent[];
    if (query.kind === 'tag' && query.match === 'all') {
      const [driver = []] = lists;
      const required = query.tags;
      matches = [];
      for (
        let i = lowerBound(driver, fromPosition);
        i < driver.length && matches.length < count;
        i++
      ) {
        const event = driver[i] as PlannedEvent;
        if (required.every((tag) => event.tags.includes(tag))) matches.push(event);
      }
    } else {
      const seen = new Set<number>();
      matches = [];
      for (const list of lists) {
        const start = lowerBound(list, fromPosition);
        for (const event of list.slice(start, start + count)) {
          if (!seen.has(event.position)) {
            seen.add(event.position);
            matches.push(event);
          }
        }
      }
      matches.sort((a, b) => a.position - b.position);
      matches = matches.slice(0, count);
    }
    return Promise.resolve(matches.map(toRecord));
  }

  listStreams(range: KeyRange, count: number): Promise<string[]> {
    const ids = this.sortedStreamIds();
    let start = lowerBoundKey(ids, range.from);
    if (range.fromExclusive && ids[start] === range.from) start += 1;
    const page: string[] = [];
    for (let i = start; i < ids.length && page.length < count; i++) {
      const id = ids[i] as string;
      if (range.before !== undefined && compareUtf8(id, range.before) >= 0) break;
      page.push(id);
    }
    return Promise.resolve(page);
  }

  private sortedStreamIds(): string[] {
    if (this.createdStreams.length > 0) {
      this.sortedStreams = mergeSorted(this.sortedStreams, this.createdStreams.sort(compareUtf8));
      this.createdStreams = [];
    }
    return this.sortedStreams;
  }

  deleteStream(streamId: string): Promise<number> {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return Promise.resolve(0);
    this.streams.delete(streamId);
    const listed = this.sortedStreamIds();
    listed.splice(lowerBoundKey(listed, streamId), 1);
    this.totalEvents -= stream.events.length;
    const gone = new Set(stream.events);
    if (!isLinkStream(streamId)) {
      for (const event of stream.events) this.byId.delete(event.eventId);
    }
    const keep = (list: PlannedEvent[]): PlannedEvent[] => list.filter((event) => !gone.has(event));
    this.all = keep(this.all);
    for (const [key, list] of this.byType) this.byType.set(key, keep(list));
    for (const [key, list] of this.byTag) this.byTag.set(key, keep(list));
    this.forgetLinks(gone);
    return Promise.resolve(stream.events.length);
  }

  status(): Promise<LogStatus> {
    return Promise.resolve({
      streamCount: this.streams.size,
      totalEvents: this.totalEvents,
      lastPosition: this.lastPosition,
    });
  }

  readStreamByTime(
    streamId: string,
    fromUs: number,
    toUs: number,
    count: number,
    direction: 'forward' | 'backward',
  ): Promise<EventRecord[]> {
    const events = this.streams.get(streamId)?.events ?? [];
    const start = timeBound(events, fromUs, false);
    const end = timeBound(events, toUs, true);
    const range =
      direction === 'forward'
        ? events.slice(start, Math.min(end, start + count))
        : events.slice(Math.max(start, end - count), end).reverse();
    return Promise.resolve(range.map(toRecord));
  }

  streamFacts(streamId: string): Promise<StreamFacts | undefined> {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return Promise.resolve(undefined);
    const first = stream.events[0];
    const last = stream.events[stream.events.length - 1];
    return Promise.resolve({
      version: stream.version,
      lastPosition: stream.lastPosition,
      first: first && { version: first.version, epochUs: first.epochUs },
      last: last && { version: last.version, epochUs: last.epochUs },
    });
  }

  truncateStream(streamId: string, beforeVersion: number): Promise<number> {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return Promise.resolve(0);
    const cut = stream.events.findIndex((event) => event.version >= beforeVersion);
    const removed = cut === -1 ? stream.events.length : cut;
    if (removed === 0) return Promise.resolve(0);
    const gone = new Set(stream.events.slice(0, removed));
    stream.events = stream.events.slice(removed);
    this.totalEvents -= removed;
    if (!isLinkStream(streamId)) {
      for (const event of gone) this.byId.delete(event.eventId);
    }
    const keep = (list: PlannedEvent[]): PlannedEvent[] => list.filter((event) => !gone.has(event));
    this.all = keep(this.all);
    for (const [key, list] of this.byType) this.byType.set(key, keep(list));
    for (const [key, list] of this.byTag) this.byTag.set(key, keep(list));
    this.forgetLinks(gone);
    return Promise.resolve(removed);
  }

  /** Drops removed events from the causation and correlation indexes. */
  private forgetLinks(gone: ReadonlySet<PlannedEvent>): void {
    for (const index of [this.byCausation, this.byCorrelation]) {
      for (const [key, list] of index) {
        const kept = list.filter((event) => !gone.has(event));
        if (kept.length === 0) index.delete(key);
        else index.set(key, kept);
      }
    }
  }

  eventTypeCounts(): Promise<EventTypeCount[]> {
    const counts: EventTypeCount[] = [];
    for (const [eventType, list] of this.byType) {
      if (list.length > 0) counts.push({ eventType, count: list.length });
    }
    return Promise.resolve(counts);
  }

  readEventsById(eventIds: string[]): Promise<EventRecord[]> {
    const found = new Set<PlannedEvent>();
    for (const eventId of eventIds) {
      const event = this.byId.get(eventId);
      if (event !== undefined) found.add(event);
    }
    return Promise.resolve([...found].sort((a, b) => a.position - b.position).map(toRecord));
  }

  /** Nothing is kept on disk. */
  diskBytes(): Promise<number> {
    return Promise.resolve(0);
  }

  config(): Promise<StoreConfig> {
    return Promise.resolve(structuredClone(this.storeConfig));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** First index whose epochUs is >= `us` (`after` false) or > `us` (`after` true). */
function timeBound(list: readonly PlannedEvent[], us: number, after: boolean): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const at = (list[mid] as PlannedEvent).epochUs;
    if (at < us || (after && at === us)) low = mid + 1;
    else high = mid;
  }
  return low;
}

function append(index: Map<string, PlannedEvent[]>, key: string, event: PlannedEvent): void {
  const list = index.get(key);
  if (list === undefined) index.set(key, [event]);
  else list.push(event);
}

/** Events are kept as planned and encoded on the way out, as a disk backend stores them. */
function toRecord(event: PlannedEvent): EventRecord {
  const row = encodeEvent(event);
  // The record's bytes are its own copy: a caller changing them cannot change the store.
  if (typeof row[5] !== 'string') row[5] = Buffer.from(row[5]);
  return decodeEvent(...row);
}
