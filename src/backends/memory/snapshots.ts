import type { SnapshotStorage, StoredSnapshot, StoredSnapshotSummary } from '../feature-storage.js';
import { compareUtf8 } from '../../core/paging.js';

/** Snapshots of one memory store, kept as JSON text like the other backends keep them. */
export class MemorySnapshots implements SnapshotStorage {
  /** stream → source → version → snapshot */
  private readonly byStream = new Map<string, Map<string, Map<number, StoredSnapshot>>>();
  private total = 0;

  put(snapshot: StoredSnapshot): Promise<void> {
    let sources = this.byStream.get(snapshot.streamUuid);
    if (sources === undefined) {
      sources = new Map();
      this.byStream.set(snapshot.streamUuid, sources);
    }
    let versions = sources.get(snapshot.sourceUuid);
    if (versions === undefined) {
      versions = new Map();
      sources.set(snapshot.sourceUuid, versions);
    }
    if (!versions.has(snapshot.version)) this.total++;
    versions.set(snapshot.version, { ...snapshot });
    return Promise.resolve();
  }

  get(
    sourceUuid: string,
    streamUuid: string,
    version: number | undefined,
  ): Promise<StoredSnapshot | undefined> {
    const versions = this.byStream.get(streamUuid)?.get(sourceUuid);
    if (versions === undefined) return Promise.resolve(undefined);
    const at = version ?? Math.max(-1, ...versions.keys());
    const found = versions.get(at);
    return Promise.resolve(found && { ...found });
  }

  delete(sourceUuid: string, streamUuid: string, version: number): Promise<boolean> {
    const sources = this.byStream.get(streamUuid);
    const versions = sources?.get(sourceUuid);
    if (versions === undefined || !versions.delete(version)) return Promise.resolve(false);
    this.total--;
    if (versions.size === 0) sources?.delete(sourceUuid);
    if (sources?.size === 0) this.byStream.delete(streamUuid);
    return Promise.resolve(true);
  }

  deleteStream(streamUuid: string): Promise<number> {
    let removed = 0;
    for (const versions of this.byStream.get(streamUuid)?.values() ?? []) removed += versions.size;
    this.byStream.delete(streamUuid);
    this.total -= removed;
    return Promise.resolve(removed);
  }

  list(filter: { sourceUuid?: string; streamUuid?: string }): Promise<StoredSnapshot[]> {
    const found = this.all().filter(
      (s) =>
        (filter.sourceUuid === undefined || s.sourceUuid === filter.sourceUuid) &&
        (filter.streamUuid === undefined || s.streamUuid === filter.streamUuid),
    );
    found.sort(
      (a, b) =>
        a.version - b.version ||
        compareUtf8(a.sourceUuid, b.sourceUuid) ||
        compareUtf8(a.streamUuid, b.streamUuid),
    );
    return Promise.resolve(found.map((s) => ({ ...s })));
  }

  summaries(
    after: StoredSnapshotSummary | undefined,
    count: number,
  ): Promise<StoredSnapshotSummary[]> {
    // Newest first: a memory store is small enough to sort whole for each page.
    const all = this.all()
      .filter((s) => after === undefined || compareSummaries(s, after) > 0)
      .sort(compareSummaries)
      .slice(0, count);
    return Promise.resolve(
      all.map(({ sourceUuid, streamUuid, version, createdUs }) => ({
        sourceUuid,
        streamUuid,
        version,
        createdUs,
      })),
    );
  }

  streamStats(streamUuid: string): Promise<{ count: number; latestVersion: number | undefined }> {
    let count = 0;
    let latestVersion: number | undefined;
    for (const versions of this.byStream.get(streamUuid)?.values() ?? []) {
      count += versions.size;
      for (const version of versions.keys())
        latestVersion = Math.max(latestVersion ?? version, version);
    }
    return Promise.resolve({ count, latestVersion });
  }

  count(): Promise<number> {
    return Promise.resolve(this.total);
  }

  private all(): StoredSnapshot[] {
    const all: StoredSnapshot[] = [];
    for (const sources of this.byStream.values()) {
      for (const versions of sources.values()) all.push(...versions.values());
    }
    return all;
  }
}

/** The order of `summaries`: newest first, ties by stream, source, then version, descending. */
function compareSummaries(a: StoredSnapshotSummary, b: StoredSnapshotSummary): number {
  return (
    b.createdUs - a.createdUs ||
    compareUtf8(b.streamUuid, a.streamUuid) ||
    compareUtf8(b.sourceUuid, a.sourceUuid) ||
    b.version - a.version
  );
}
