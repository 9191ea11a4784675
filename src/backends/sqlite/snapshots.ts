import type Database from 'better-sqlite3';
import type { SnapshotStorage, StoredSnapshot, StoredSnapshotSummary } from '../feature-storage.js';
import { preparedOnUse } from './statements.js';

const COLUMNS =
  'source_uuid AS sourceUuid, stream_uuid AS streamUuid, version, data, metadata, created_us AS createdUs';
const SUMMARY_COLUMNS =
  'source_uuid AS sourceUuid, stream_uuid AS streamUuid, version, created_us AS createdUs';
const ORDER = 'ORDER BY version, source_uuid, stream_uuid';
const SUMMARY_ORDER = 'ORDER BY created_us DESC, stream_uuid DESC, source_uuid DESC, version DESC';

/**
 * The snapshots table of a store file. Writes that add or remove rows update
 * `store_state.snapshot_count` in the same transaction, so counting them reads one row.
 */
export class SqliteSnapshots implements SnapshotStorage {
  private readonly s;
  private readonly putTransaction;
  private readonly deleteTransaction;
  private readonly deleteStreamTransaction;

  constructor(
    db: Database.Database,
    private readonly guard: <T>(work: () => T) => Promise<T>,
  ) {
    this.s = preparedOnUse({
      exists: () =>
        db
          .prepare(
            'SELECT 1 FROM snapshots WHERE stream_uuid = ? AND source_uuid = ? AND version = ?',
          )
          .pluck(),
      upsert: () =>
        db.prepare(
          'INSERT INTO snapshots (stream_uuid, source_uuid, version, data, metadata, created_us) ' +
            'VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (stream_uuid, source_uuid, version) DO UPDATE ' +
            'SET data = excluded.data, metadata = excluded.metadata, created_us = excluded.created_us',
        ),
      count: () => db.prepare('SELECT snapshot_count FROM store_state WHERE id = 1').pluck(),
      addCount: () =>
        db.prepare('UPDATE store_state SET snapshot_count = snapshot_count + ? WHERE id = 1'),
      get: () =>
        db.prepare(
          `SELECT ${COLUMNS} FROM snapshots WHERE stream_uuid = ? AND source_uuid = ? AND version = ?`,
        ),
      latest: () =>
        db.prepare(
          `SELECT ${COLUMNS} FROM snapshots WHERE stream_uuid = ? AND source_uuid = ? ` +
            'ORDER BY version DESC LIMIT 1',
        ),
      delete: () =>
        db.prepare(
          'DELETE FROM snapshots WHERE stream_uuid = ? AND source_uuid = ? AND version = ?',
        ),
      deleteStream: () => db.prepare('DELETE FROM snapshots WHERE stream_uuid = ?'),
      listAll: () => db.prepare(`SELECT ${COLUMNS} FROM snapshots ${ORDER}`),
      listStream: () =>
        db.prepare(`SELECT ${COLUMNS} FROM snapshots WHERE stream_uuid = ? ${ORDER}`),
      listSource: () =>
        db.prepare(`SELECT ${COLUMNS} FROM snapshots WHERE source_uuid = ? ${ORDER}`),
      listBoth: () =>
        db.prepare(
          `SELECT ${COLUMNS} FROM snapshots WHERE stream_uuid = ? AND source_uuid = ? ${ORDER}`,
        ),
      summaries: () =>
        db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM snapshots ${SUMMARY_ORDER} LIMIT ?`),
      summariesAfter: () =>
        db.prepare(
          `SELECT ${SUMMARY_COLUMNS} FROM snapshots ` +
            'WHERE (created_us, stream_uuid, source_uuid, version) < (?, ?, ?, ?) ' +
            `${SUMMARY_ORDER} LIMIT ?`,
        ),
      streamStats: () =>
        db.prepare(
          'SELECT count(*) AS count, max(version) AS latestVersion FROM snapshots WHERE stream_uuid = ?',
        ),
    });
    const s = this.s;
    this.putTransaction = db.transaction((snapshot: StoredSnapshot) => {
      const existed = s.exists.get(snapshot.streamUuid, snapshot.sourceUuid, snapshot.version);
      s.upsert.run(
        snapshot.streamUuid,
        snapshot.sourceUuid,
        snapshot.version,
        snapshot.data,
        snapshot.metadata,
        snapshot.createdUs,
      );
      if (existed === undefined) s.addCount.run(1);
    });
    this.deleteTransaction = db.transaction(
      (sourceUuid: string, streamUuid: string, version: number) => {
        const removed = s.delete.run(streamUuid, sourceUuid, version).changes;
        if (removed > 0) s.addCount.run(-removed);
        return removed > 0;
      },
    );
    this.deleteStreamTransaction = db.transaction((streamUuid: string) => {
      const removed = s.deleteStream.run(streamUuid).changes;
      if (removed > 0) s.addCount.run(-removed);
      return removed;
    });
  }

  put(snapshot: StoredSnapshot): Promise<void> {
    return this.guard(() => this.putTransaction.immediate(snapshot));
  }

  get(
    sourceUuid: string,
    streamUuid: string,
    version: number | undefined,
  ): Promise<StoredSnapshot | undefined> {
    return this.guard(
      () =>
        (version === undefined
          ? this.s.latest.get(streamUuid, sourceUuid)
          : this.s.get.get(streamUuid, sourceUuid, version)) as StoredSnapshot | undefined,
    );
  }

  delete(sourceUuid: string, streamUuid: string, version: number): Promise<boolean> {
    return this.guard(() => this.deleteTransaction.immediate(sourceUuid, streamUuid, version));
  }

  deleteStream(streamUuid: string): Promise<number> {
    return this.guard(() => this.deleteStreamTransaction.immediate(streamUuid));
  }

  list(filter: { sourceUuid?: string; streamUuid?: string }): Promise<StoredSnapshot[]> {
    const { sourceUuid, streamUuid } = filter;
    return this.guard(
      () =>
        (sourceUuid !== undefined && streamUuid !== undefined
          ? this.s.listBoth.all(streamUuid, sourceUuid)
          : streamUuid !== undefined
            ? this.s.listStream.all(streamUuid)
            : sourceUuid !== undefined
              ? this.s.listSource.all(sourceUuid)
              : this.s.listAll.all()) as StoredSnapshot[],
    );
  }

  summaries(
    after: StoredSnapshotSummary | undefined,
    count: number,
  ): Promise<StoredSnapshotSummary[]> {
    return this.guard(
      () =>
        (after === undefined
          ? this.s.summaries.all(count)
          : this.s.summariesAfter.all(
              after.createdUs,
              after.streamUuid,
              after.sourceUuid,
              after.version,
              count,
            )) as StoredSnapshotSummary[],
    );
  }

  streamStats(streamUuid: string): Promise<{ count: number; latestVersion: number | undefined }> {
    return this.guard(() => {
      const row = this.s.streamStats.get(streamUuid) as {
        count: number;
        latestVersion: number | null;
      };
      return { count: row.count, latestVersion: row.latestVersion ?? undefined };
    });
  }

  count(): Promise<number> {
    return this.guard(() => this.s.count.get() as number);
  }
}
