import type { EventRecord, JsonObject, JsonValue, StoreConfig } from '../../core/types.js';
import {
  decodeEvent,
  encodeDataContentType,
  encodeMetadataContentType,
  encodeTags,
} from '../event-codec.js';
import type {
  Backend,
  BackendCapabilities,
  CommitKeys,
  CommitPlan,
  CommitView,
  EventLocation,
  IndexQuery,
  KvEntry,
  LogBackend,
  LogStatus,
  PlannedEvent,
} from '../log-backend.js';
import { isLinkStream } from '../log-backend.js';
import { ProcessLeases } from '../process-leases.js';

const CAPABILITIES: BackendCapabilities = {
  multiProcess: false,
  pushNotifications: false,
  durable: false,
};

/**
 * Keeps every store in this process's memory: for tests and throwaway data. Events are stored
 * in their encoded form, as on disk, so reads return fresh objects that callers may mutate.
 */
export function memory(): Backend {
  return new MemoryBackend();
}

class MemoryBackend implements Backend {
  readonly name = 'memory';
  readonly capabilities = CAPABILITIES;
  private readonly stores = new Map<string, MemoryLog>();

  listStores(): Promise<string[]> {
    return Promise.resolve([...this.stores.keys()].sort());
  }

  createStore(storeId: string, settings: JsonObject): Promise<LogBackend | undefined> {
    if (this.stores.has(storeId)) return Promise.resolve(undefined);
    const log = new MemoryLog({ storeId, createdAt: new Date().toISOString(), settings });
    this.stores.set(storeId, log);
    return Promise.resolve(log);
  }

  openStore(storeId: string): Promise<LogBackend | undefined> {
    return Promise.resolve(this.stores.get(storeId));
  }

  removeStore(storeId: string): Promise<boolean> {
    return Promise.resolve(this.stores.delete(storeId));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Compares strings by their UTF-8 bytes, the order SQLite and PostgreSQL (`COLLATE "C"`) use. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

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

interface MemoryStream {
  version: number;
  lastPosition: number;
  /** The stream's events in version order. */
  events: PlannedEvent[];
}

class MemoryLog implements LogBackend {
  readonly capabilities = CAPABILITIES;
  private all: PlannedEvent[] = [];
  private readonly streams = new Map<string, MemoryStream>();
  private readonly byId = new Map<string, PlannedEvent>();
  private readonly byType = new Map<string, PlannedEvent[]>();
  private readonly byTag = new Map<string, PlannedEvent[]>();
  private lastPosition = -1;
  private totalEvents = 0;
  /** Namespace → key → JSON text and revision. */
  private readonly kv = new Map<string, Map<string, { json: string; revision: number }>>();
  private readonly leases = new ProcessLeases();

  constructor(private readonly storeConfig: StoreConfig) {}

  commit<T>(
    _keys: CommitKeys,
    plan: (view: CommitView) => { plan: CommitPlan; result: T },
  ): Promise<T> {
    const view: CommitView = {
      lastPosition: this.lastPosition,
      head: (streamId) => this.streams.get(streamId),
      findEvent: (eventId): EventLocation | undefined => this.byId.get(eventId),
    };
    const decided = plan(view);
    for (const event of decided.plan.events) {
      this.all.push(event);
      // Link streams repeat their source events' ids: only other events are found by id.
      if (!isLinkStream(event.streamId)) this.byId.set(event.eventId, event);
      append(this.byType, event.eventType, event);
      for (const tag of event.tags) append(this.byTag, tag, event);
      let stream = this.streams.get(event.streamId);
      if (stream === undefined) {
        stream = { version: -1, lastPosition: -1, events: [] };
        this.streams.set(event.streamId, stream);
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

  listStreams(): Promise<string[]> {
    return Promise.resolve([...this.streams.keys()].sort(compareUtf8));
  }

  deleteStream(streamId: string): Promise<number> {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return Promise.resolve(0);
    this.streams.delete(streamId);
    this.totalEvents -= stream.events.length;
    const gone = new Set(stream.events);
    if (!isLinkStream(streamId)) {
      for (const event of stream.events) this.byId.delete(event.eventId);
    }
    const keep = (list: PlannedEvent[]): PlannedEvent[] => list.filter((event) => !gone.has(event));
    this.all = keep(this.all);
    for (const [key, list] of this.byType) this.byType.set(key, keep(list));
    for (const [key, list] of this.byTag) this.byTag.set(key, keep(list));
    return Promise.resolve(stream.events.length);
  }

  status(): Promise<LogStatus> {
    return Promise.resolve({
      streamCount: this.streams.size,
      totalEvents: this.totalEvents,
      lastPosition: this.lastPosition,
    });
  }

  config(): Promise<StoreConfig> {
    return Promise.resolve(structuredClone(this.storeConfig));
  }

  kvGet(namespace: string, key: string): Promise<KvEntry | undefined> {
    const entry = this.kv.get(namespace)?.get(key);
    return Promise.resolve(entry && toKvEntry(key, entry));
  }

  kvList(namespace: string): Promise<KvEntry[]> {
    const entries = [...(this.kv.get(namespace) ?? [])].sort(([a], [b]) => compareUtf8(a, b));
    return Promise.resolve(entries.map(([key, entry]) => toKvEntry(key, entry)));
  }

  kvPut(
    namespace: string,
    key: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number | undefined> {
    let entries = this.kv.get(namespace);
    const current = entries?.get(key)?.revision ?? 0;
    if (expectedRevision !== undefined && expectedRevision !== current) {
      return Promise.resolve(undefined);
    }
    if (entries === undefined) {
      entries = new Map();
      this.kv.set(namespace, entries);
    }
    entries.set(key, { json: JSON.stringify(value), revision: current + 1 });
    return Promise.resolve(current + 1);
  }

  kvDelete(namespace: string, key: string, expectedRevision?: number): Promise<boolean> {
    const entries = this.kv.get(namespace);
    const entry = entries?.get(key);
    if (entries === undefined || entry === undefined) return Promise.resolve(false);
    if (expectedRevision !== undefined && expectedRevision !== entry.revision) {
      return Promise.resolve(false);
    }
    entries.delete(key);
    return Promise.resolve(true);
  }

  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return Promise.resolve(this.leases.acquire(name, owner, ttlMs));
  }

  releaseLease(name: string, owner: string): Promise<void> {
    this.leases.release(name, owner);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function toKvEntry(key: string, entry: { json: string; revision: number }): KvEntry {
  return { key, value: JSON.parse(entry.json) as JsonValue, revision: entry.revision };
}

function append(index: Map<string, PlannedEvent[]>, key: string, event: PlannedEvent): void {
  const list = index.get(key);
  if (list === undefined) index.set(key, [event]);
  else list.push(event);
}

function toRecord(event: PlannedEvent): EventRecord {
  return decodeEvent(
    event.position,
    event.streamId,
    event.version,
    event.eventId,
    event.eventType,
    typeof event.data === 'string' ? event.data : event.data.slice(),
    event.metadata,
    encodeTags(event.tags),
    event.causationId,
    event.correlationId,
    encodeDataContentType(event.data, event.dataContentType),
    encodeMetadataContentType(event.metadataContentType),
    event.epochUs,
  );
}
