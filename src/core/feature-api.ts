import type {
  ArchivePage,
  CausationGraph,
  CausationGraphOptions,
  EventTypeCount,
  ListArchivesOptions,
  MemoryLevel,
  MemoryStats,
  ScavengeMatchingEntry,
  ScavengeMatchingOptions,
  ScavengeOptions,
  ScavengeResult,
  SchemaDescription,
  SchemaInfo,
  SchemaPage,
  Snapshot,
  SnapshotRecord,
  SnapshotPage,
  SnapshotSummary,
  StoreStats,
  StreamInfo,
  TemporalReadOptions,
} from './feature-types.js';
import type { EventRecord, ListOptions } from './types.js';

/**
 * The store features (SPEC §4-8, §11, §15): snapshots, temporal queries, scavenging and
 * archives, causation and correlation, the schema registry, inspection and memory pressure.
 * Every method takes and returns JSON, so each works remotely too; what takes code (upcasters,
 * validators, archive backends, level callbacks) is on the embedded store only.
 */
export interface FeatureApi {
  /**
   * Records the state of `streamUuid` at `version`, as seen by `sourceUuid`. Recording the same
   * source, stream and version again replaces it.
   *
   * @example
   * await evdb.recordSnapshot('shop', 'cart', 'cart-1', 41, { data: { items: 3 } });
   */
  recordSnapshot(
    storeId: string,
    sourceUuid: string,
    streamUuid: string,
    version: number,
    record: SnapshotRecord,
  ): Promise<SnapshotSummary>;
  /** One snapshot; without `version` (or `'latest'`) the highest. `not_found` if missing. */
  readSnapshot(
    storeId: string,
    sourceUuid: string,
    streamUuid: string,
    version?: number | 'latest',
  ): Promise<Snapshot>;
  /** Deletes one snapshot; `not_found` if missing. */
  deleteSnapshot(
    storeId: string,
    sourceUuid: string,
    streamUuid: string,
    version: number,
  ): Promise<void>;
  /** Snapshots (of a source, of a stream, or both), ascending by version. */
  listSnapshots(storeId: string, sourceUuid?: string, streamUuid?: string): Promise<Snapshot[]>;
  /**
   * Every snapshot of the store without its data, newest first. A store with more than 100 000
   * snapshots answers `invalid_argument`; page through it with `listSnapshotPage`.
   *
   * @deprecated Use `listSnapshotPage`, which pages.
   */
  listAllSnapshots(storeId: string): Promise<SnapshotSummary[]>;
  /**
   * One page of the store's snapshots without their data, newest first (ties by stream, source,
   * then version, descending). Pass the page's `next` as `after` to go on; `next` is null on the
   * last page.
   */
  listSnapshotPage(storeId: string, options?: ListOptions): Promise<SnapshotPage>;

  /**
   * A stream's events written at or before `timestampUs` (µs since the epoch), from its time
   * index. `stream_not_found` for a missing stream.
   *
   * @example
   * const asOfNewYear = await evdb.readUntil('shop', 'order-1', Date.UTC(2025, 0, 1) * 1000);
   */
  readUntil(
    storeId: string,
    streamId: string,
    timestampUs: number,
    options?: TemporalReadOptions,
  ): Promise<EventRecord[]>;
  /** A stream's events written from `fromUs` to `toUs`, both included (from > to: `[]`). */
  readRange(
    storeId: string,
    streamId: string,
    fromUs: number,
    toUs: number,
    options?: TemporalReadOptions,
  ): Promise<EventRecord[]>;
  /** The version of the stream's last event written at or before `timestampUs`; -1 if none. */
  versionAt(storeId: string, streamId: string, timestampUs: number): Promise<number>;

  /**
   * Deletes a stream's old events (see `ScavengeOptions`), archiving them first with `archive`.
   * The stream keeps its version: appends continue after it and positions never move back.
   * Reads of deleted versions return what remains (a forward read from 0 starts at the first
   * event still stored).
   *
   * @example
   * await evdb.scavenge('shop', 'order-1', { beforeVersion: 1000, archive: true });
   */
  scavenge(storeId: string, streamId: string, options?: ScavengeOptions): Promise<ScavengeResult>;
  /** What `scavenge` would delete, deleting nothing. */
  scavengeDryRun(
    storeId: string,
    streamId: string,
    options?: ScavengeOptions,
  ): Promise<ScavengeResult>;
  /** Scavenges each stream whose id matches `pattern` (`*` wildcards), reporting each outcome. */
  scavengeMatching(
    storeId: string,
    pattern: string,
    options?: ScavengeMatchingOptions,
  ): Promise<ScavengeMatchingEntry[]>;
  /**
   * Keys of the store's archived ranges (of one stream if given). A store with more than
   * 100 000 answers `invalid_argument`; page through them with `listArchivePage`.
   *
   * @deprecated Use `listArchivePage`, which pages.
   */
  listArchives(storeId: string, streamId?: string): Promise<string[]>;
  /**
   * One page of the keys of the store's archived ranges (of one stream with `streamId`), by
   * stream id in UTF-8 byte order, then by version. Pass the page's `next` as `after` to go on;
   * `next` is null on the last page.
   *
   * @example
   * let after: string | undefined;
   * do {
   *   const page = await evdb.listArchivePage('shop', { after, limit: 500 });
   *   for (const key of page.archives) console.log(key);
   *   after = page.next ?? undefined;
   * } while (after !== undefined);
   */
  listArchivePage(storeId: string, options?: ListArchivesOptions): Promise<ArchivePage>;
  /** The events of an archived range; `not_found` if there is none. */
  readArchive(storeId: string, key: string): Promise<EventRecord[]>;

  /** Events whose `causationId` is `eventId`, in global order. */
  getEffects(storeId: string, eventId: string): Promise<EventRecord[]>;
  /** The event named by `eventId`'s `causationId`, or null; `not_found` if `eventId` is missing. */
  getCause(storeId: string, eventId: string): Promise<EventRecord | null>;
  /** Causes from the root down to `eventId`; stops at the first repeat on a cycle. */
  getCausationChain(storeId: string, eventId: string): Promise<EventRecord[]>;
  /** Events with this `correlationId`, in global order. */
  getCorrelated(storeId: string, correlationId: string): Promise<EventRecord[]>;
  /**
   * The causation graph of a correlation id, or around an event id; `causationGraphToDot`
   * renders it for Graphviz.
   */
  buildCausationGraph(
    storeId: string,
    id: string,
    options?: CausationGraphOptions,
  ): Promise<CausationGraph>;

  /**
   * Registers (or updates) an event type's schema description. The embedded store also takes
   * upcasters and a validator here.
   *
   * @example
   * await evdb.registerSchema('shop', 'OrderPlaced', { version: 2, description: 'total in cents' });
   */
  registerSchema(
    storeId: string,
    eventType: string,
    schema: SchemaDescription,
  ): Promise<SchemaInfo>;
  /** `not_found` if the type has no schema. */
  getSchema(storeId: string, eventType: string): Promise<SchemaInfo>;
  /**
   * Every schema of the store, by event type. A store with more than 100 000 answers
   * `invalid_argument`; page through them with `listSchemaPage`.
   *
   * @deprecated Use `listSchemaPage`, which pages.
   */
  listSchemas(storeId: string): Promise<SchemaInfo[]>;
  /**
   * One page of the store's schemas, by event type in UTF-8 byte order. Pass the page's `next`
   * as `after` to go on; `next` is null on the last page.
   */
  listSchemaPage(storeId: string, options?: ListOptions): Promise<SchemaPage>;
  /** The registered version of a type; `not_found` if it has no schema. */
  getSchemaVersion(storeId: string, eventType: string): Promise<number>;
  /** Removes a type's schema (and this process's code for it); `not_found` if missing. */
  unregisterSchema(storeId: string, eventType: string): Promise<void>;
  /**
   * Brings events to their types' registered versions, one upcaster at a time; a missing step
   * is a `not_found` error. An event's version is `metadata.schemaVersion` (default 1).
   */
  upcastEvents(storeId: string, events: EventRecord[]): Promise<EventRecord[]>;

  /** Counts of the store, from maintained counters. */
  storeStats(storeId: string): Promise<StoreStats>;
  /** A stream's version, stored events, first and last times and snapshots. */
  streamInfo(storeId: string, streamId: string): Promise<StreamInfo>;
  /** Events per type, most frequent first. */
  eventTypeSummary(storeId: string): Promise<EventTypeCount[]>;

  /** The memory pressure level of the process serving the store. */
  getMemoryLevel(): Promise<MemoryLevel>;
  getMemoryStats(): Promise<MemoryStats>;
}
