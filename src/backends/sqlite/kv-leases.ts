import type Database from 'better-sqlite3';
import type { JsonValue } from '../../core/types.js';
import type { KvEntry, KvStore } from '../kv-store.js';
import { guard } from './errors.js';
import { preparedOnUse } from './statements.js';

/**
 * The key-value store of a store file: the `kv` table, written in autocommit transactions that
 * are as durable as commits. Leases need no table here: a store file is opened by one process
 * (`multiProcess: false`), so they live in that process (`ProcessLeases`, ../process-leases.ts).
 */
export class SqliteKv implements KvStore {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = preparedOnUse({
      kvGet: () => db.prepare('SELECT value, revision FROM kv WHERE namespace = ? AND key = ?'),
      kvList: () =>
        db.prepare('SELECT key, value, revision FROM kv WHERE namespace = ? ORDER BY key'),
      kvPage: () =>
        db.prepare('SELECT key, value, revision FROM kv WHERE namespace = ? ORDER BY key LIMIT ?'),
      kvPageAfter: () =>
        db.prepare(
          'SELECT key, value, revision FROM kv WHERE namespace = ? AND key > ? ' +
            'ORDER BY key LIMIT ?',
        ),
      kvUpsert: () =>
        db
          .prepare(
            'INSERT INTO kv (namespace, key, value, revision) VALUES (?, ?, ?, 1) ' +
              'ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, ' +
              'revision = kv.revision + 1 RETURNING revision',
          )
          .pluck(),
      kvInsert: () =>
        db
          .prepare(
            'INSERT INTO kv (namespace, key, value, revision) VALUES (?, ?, ?, 1) ' +
              'ON CONFLICT (namespace, key) DO NOTHING RETURNING revision',
          )
          .pluck(),
      kvUpdate: () =>
        db
          .prepare(
            'UPDATE kv SET value = ?, revision = revision + 1 WHERE namespace = ? AND key = ? ' +
              'AND revision = ? RETURNING revision',
          )
          .pluck(),
      kvDelete: () => db.prepare('DELETE FROM kv WHERE namespace = ? AND key = ?'),
      kvDeleteAt: () =>
        db.prepare('DELETE FROM kv WHERE namespace = ? AND key = ? AND revision = ?'),
    });
  }

  kvGet(namespace: string, key: string): Promise<KvEntry | undefined> {
    return guard(() => {
      const row = this.s.kvGet.get(namespace, key) as
        { value: string; revision: number } | undefined;
      return row && { key, value: JSON.parse(row.value) as JsonValue, revision: row.revision };
    });
  }

  kvList(namespace: string): Promise<KvEntry[]> {
    return guard(() =>
      (this.s.kvList.all(namespace) as { key: string; value: string; revision: number }[]).map(
        (row) => ({
          key: row.key,
          value: JSON.parse(row.value) as JsonValue,
          revision: row.revision,
        }),
      ),
    );
  }

  kvPage(namespace: string, after: string | undefined, count: number): Promise<KvEntry[]> {
    return guard(() =>
      (
        (after === undefined
          ? this.s.kvPage.all(namespace, count)
          : this.s.kvPageAfter.all(namespace, after, count)) as {
          key: string;
          value: string;
          revision: number;
        }[]
      ).map((row) => ({
        key: row.key,
        value: JSON.parse(row.value) as JsonValue,
        revision: row.revision,
      })),
    );
  }

  kvPut(
    namespace: string,
    key: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number | undefined> {
    const s = this.s;
    const json = JSON.stringify(value);
    return guard(() => {
      if (expectedRevision === undefined) return s.kvUpsert.get(namespace, key, json) as number;
      if (expectedRevision === 0) return s.kvInsert.get(namespace, key, json) as number | undefined;
      return s.kvUpdate.get(json, namespace, key, expectedRevision) as number | undefined;
    });
  }

  kvDelete(namespace: string, key: string, expectedRevision?: number): Promise<boolean> {
    const s = this.s;
    return guard(
      () =>
        (expectedRevision === undefined
          ? s.kvDelete.run(namespace, key)
          : s.kvDeleteAt.run(namespace, key, expectedRevision)
        ).changes > 0,
    );
  }
}
