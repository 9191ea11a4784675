import type pg from 'pg';
import type { SnapshotStorage, StoredSnapshot, StoredSnapshotSummary } from '../feature-storage.js';
import type { FeatureStatements } from './feature-queries.js';
import type { NamedStatement } from './queries.js';

type Run = <R extends unknown[]>(
  doing: string,
  statement: NamedStatement,
  values: unknown[],
) => Promise<pg.QueryArrayResult<R>>;

type SnapshotRow = [string, string, number, string, string | null, number];

function toSnapshot(row: SnapshotRow): StoredSnapshot {
  const [sourceUuid, streamUuid, version, data, metadata, createdUs] = row;
  return { sourceUuid, streamUuid, version, data, metadata, createdUs };
}

/**
 * The snapshots table of a store schema. Writes that add or remove rows update
 * `store_state.snapshot_count` in the same statement, so counting them reads one row.
 */
export class PostgresSnapshots implements SnapshotStorage {
  constructor(
    private readonly statements: FeatureStatements,
    private readonly run: Run,
  ) {}

  async put(snapshot: StoredSnapshot): Promise<void> {
    await this.run('recordSnapshot', this.statements.snapshotPut, [
      snapshot.sourceUuid,
      snapshot.streamUuid,
      snapshot.version,
      snapshot.data,
      snapshot.metadata,
      snapshot.createdUs,
    ]);
  }

  async get(
    sourceUuid: string,
    streamUuid: string,
    version: number | undefined,
  ): Promise<StoredSnapshot | undefined> {
    const { rows } =
      version === undefined
        ? await this.run<SnapshotRow>('readSnapshot', this.statements.snapshotLatest, [
            sourceUuid,
            streamUuid,
          ])
        : await this.run<SnapshotRow>('readSnapshot', this.statements.snapshotGet, [
            sourceUuid,
            streamUuid,
            version,
          ]);
    const row = rows[0];
    return row && toSnapshot(row);
  }

  async delete(sourceUuid: string, streamUuid: string, version: number): Promise<boolean> {
    const { rows } = await this.run<[number]>('deleteSnapshot', this.statements.snapshotDelete, [
      sourceUuid,
      streamUuid,
      version,
    ]);
    return (rows[0]?.[0] ?? 0) > 0;
  }

  async deleteStream(streamUuid: string): Promise<number> {
    const { rows } = await this.run<[number]>(
      'deleteSnapshots',
      this.statements.snapshotDeleteStream,
      [streamUuid],
    );
    return rows[0]?.[0] ?? 0;
  }

  async list(filter: { sourceUuid?: string; streamUuid?: string }): Promise<StoredSnapshot[]> {
    const { sourceUuid, streamUuid } = filter;
    const s = this.statements;
    const { rows } =
      sourceUuid !== undefined && streamUuid !== undefined
        ? await this.run<SnapshotRow>('listSnapshots', s.snapshotListBoth, [sourceUuid, streamUuid])
        : sourceUuid !== undefined
          ? await this.run<SnapshotRow>('listSnapshots', s.snapshotListSource, [sourceUuid])
          : streamUuid !== undefined
            ? await this.run<SnapshotRow>('listSnapshots', s.snapshotListStream, [streamUuid])
            : await this.run<SnapshotRow>('listSnapshots', s.snapshotListAll, []);
    return rows.map(toSnapshot);
  }

  async summaries(): Promise<StoredSnapshotSummary[]> {
    const { rows } = await this.run<[string, string, number, number]>(
      'listAllSnapshots',
      this.statements.snapshotSummaries,
      [],
    );
    return rows.map(([sourceUuid, streamUuid, version, createdUs]) => ({
      sourceUuid,
      streamUuid,
      version,
      createdUs,
    }));
  }

  async streamStats(
    streamUuid: string,
  ): Promise<{ count: number; latestVersion: number | undefined }> {
    const { rows } = await this.run<[number, number | null]>(
      'streamInfo',
      this.statements.snapshotStreamStats,
      [streamUuid],
    );
    const [count, latest] = rows[0] ?? [0, null];
    return { count, latestVersion: latest ?? undefined };
  }

  async count(): Promise<number> {
    const { rows } = await this.run<[number]>('storeStats', this.statements.snapshotCount, []);
    return rows[0]?.[0] ?? 0;
  }
}
