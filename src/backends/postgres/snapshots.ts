import type { SnapshotStorage, StoredSnapshot, StoredSnapshotSummary } from '../feature-storage.js';
import type { FeatureTables, NamedStatement, Run, StoreTables } from './statements.js';

const SNAPSHOT = 'source_uuid, stream_uuid, version, data, metadata, created_us';
const SNAPSHOT_ORDER = 'ORDER BY version, source_uuid, stream_uuid';
const SUMMARY_ORDER = 'ORDER BY created_us DESC, stream_uuid DESC, source_uuid DESC, version DESC';

export type SnapshotStatements = ReturnType<typeof snapshotStatements>;

/**
 * The snapshot statements of a store, named like its reads. Writes that add or remove rows
 * update `store_state.snapshot_count` in the same statement.
 */
export function snapshotStatements(t: StoreTables, f: FeatureTables, storeKey: number) {
  let n = 0;
  const statement = (text: string): NamedStatement => ({
    name: `evdb_${storeKey}_s${n++}`,
    text,
  });
  return {
    snapshotPut: statement(
      `WITH up AS (INSERT INTO ${f.snapshots} AS s (${SNAPSHOT}) VALUES ($1, $2, $3, $4, $5, $6) ` +
        'ON CONFLICT (stream_uuid, source_uuid, version) DO UPDATE SET data = excluded.data, ' +
        'metadata = excluded.metadata, created_us = excluded.created_us ' +
        'RETURNING (xmax = 0) AS inserted) ' +
        `UPDATE ${t.state} SET snapshot_count = snapshot_count + 1 ` +
        'WHERE id = 1 AND (SELECT inserted FROM up)',
    ),
    snapshotGet: statement(
      `SELECT ${SNAPSHOT} FROM ${f.snapshots} ` +
        'WHERE stream_uuid = $2 AND source_uuid = $1 AND version = $3',
    ),
    snapshotLatest: statement(
      `SELECT ${SNAPSHOT} FROM ${f.snapshots} WHERE stream_uuid = $2 AND source_uuid = $1 ` +
        'ORDER BY version DESC LIMIT 1',
    ),
    snapshotDelete: statement(
      `WITH d AS (DELETE FROM ${f.snapshots} WHERE stream_uuid = $2 AND source_uuid = $1 ` +
        'AND version = $3 RETURNING 1) ' +
        `UPDATE ${t.state} SET snapshot_count = snapshot_count - (SELECT count(*) FROM d) ` +
        'WHERE id = 1 RETURNING (SELECT count(*) FROM d)',
    ),
    snapshotDeleteStream: statement(
      `WITH d AS (DELETE FROM ${f.snapshots} WHERE stream_uuid = $1 RETURNING 1) ` +
        `UPDATE ${t.state} SET snapshot_count = snapshot_count - (SELECT count(*) FROM d) ` +
        'WHERE id = 1 RETURNING (SELECT count(*) FROM d)',
    ),
    snapshotListAll: statement(`SELECT ${SNAPSHOT} FROM ${f.snapshots} ${SNAPSHOT_ORDER}`),
    snapshotListSource: statement(
      `SELECT ${SNAPSHOT} FROM ${f.snapshots} WHERE source_uuid = $1 ${SNAPSHOT_ORDER}`,
    ),
    snapshotListStream: statement(
      `SELECT ${SNAPSHOT} FROM ${f.snapshots} WHERE stream_uuid = $1 ${SNAPSHOT_ORDER}`,
    ),
    snapshotListBoth: statement(
      `SELECT ${SNAPSHOT} FROM ${f.snapshots} WHERE source_uuid = $1 AND stream_uuid = $2 ` +
        SNAPSHOT_ORDER,
    ),
    snapshotSummaries: statement(
      `SELECT source_uuid, stream_uuid, version, created_us FROM ${f.snapshots} ` +
        `${SUMMARY_ORDER} LIMIT $1`,
    ),
    snapshotSummariesAfter: statement(
      `SELECT source_uuid, stream_uuid, version, created_us FROM ${f.snapshots} ` +
        'WHERE (created_us, stream_uuid, source_uuid, version) < ($1, $2, $3, $4) ' +
        `${SUMMARY_ORDER} LIMIT $5`,
    ),
    snapshotStreamStats: statement(
      `SELECT count(*), max(version) FROM ${f.snapshots} WHERE stream_uuid = $1`,
    ),
    snapshotCount: statement(`SELECT snapshot_count FROM ${t.state} WHERE id = 1`),
  };
}

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
    private readonly statements: SnapshotStatements,
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

  async summaries(
    after: StoredSnapshotSummary | undefined,
    count: number,
  ): Promise<StoredSnapshotSummary[]> {
    const { rows } =
      after === undefined
        ? await this.run<[string, string, number, number]>(
            'listSnapshotPage',
            this.statements.snapshotSummaries,
            [count],
          )
        : await this.run<[string, string, number, number]>(
            'listSnapshotPage',
            this.statements.snapshotSummariesAfter,
            [after.createdUs, after.streamUuid, after.sourceUuid, after.version, count],
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
