/**
 * What the store features (snapshots, temporal queries, scavenging, inspection) need from a
 * backend: storage shapes only. The rules live above, in src/features/.
 */

/** What a stream's indexes say about it, without reading its events. */
export interface StreamFacts {
  /** The head: the stream's version, which scavenging never lowers. */
  version: number;
  lastPosition: number;
  /** The lowest-versioned event still stored; undefined when none is (all scavenged). */
  first: { version: number; epochUs: number } | undefined;
  /** The highest-versioned event still stored. */
  last: { version: number; epochUs: number } | undefined;
}

export interface EventTypeCount {
  eventType: string;
  count: number;
}

/** A snapshot as stored. */
export interface StoredSnapshot {
  sourceUuid: string;
  streamUuid: string;
  version: number;
  /** JSON text of the state. */
  data: string;
  /** JSON text of the metadata object, or null for none. */
  metadata: string | null;
  /** When it was recorded, µs since the epoch (strictly increasing within a process). */
  createdUs: number;
}

/** A snapshot without its data. */
export type StoredSnapshotSummary = Omit<StoredSnapshot, 'data' | 'metadata'>;

/**
 * A store's snapshots, keyed by (source, stream, version). Writing the same key again replaces
 * it. The store keeps a count of them.
 */
export interface SnapshotStorage {
  put(snapshot: StoredSnapshot): Promise<void>;
  /** One snapshot; `version` undefined: the highest version of that source and stream. */
  get(
    sourceUuid: string,
    streamUuid: string,
    version: number | undefined,
  ): Promise<StoredSnapshot | undefined>;
  /** Returns false when there was no such snapshot. */
  delete(sourceUuid: string, streamUuid: string, version: number): Promise<boolean>;
  /** Removes every snapshot of a stream (any source); returns how many. */
  deleteStream(streamUuid: string): Promise<number>;
  /** Snapshots matching the given parts, ascending by version (ties by source, then stream). */
  list(filter: { sourceUuid?: string; streamUuid?: string }): Promise<StoredSnapshot[]>;
  /**
   * Up to `count` snapshots without data, newest first (by `createdUs`, ties by stream, source,
   * then version, all descending), after `after` in that order when given: a page of the index
   * on those columns.
   */
  summaries(
    after: StoredSnapshotSummary | undefined,
    count: number,
  ): Promise<StoredSnapshotSummary[]>;
  /** How many snapshots a stream has (any source) and the highest version among them. */
  streamStats(streamUuid: string): Promise<{ count: number; latestVersion: number | undefined }>;
  /** How many snapshots the store has, from a maintained counter. */
  count(): Promise<number>;
}
