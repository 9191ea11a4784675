import type { JsonValue } from '../../core/types.js';
import type { KvEntry, KvStore } from '../kv-store.js';
import type { LeaseHolder, LeaseStore } from '../lease-store.js';
import type { NamedStatement, Run, StoreTables } from './statements.js';

export type KvStatements = ReturnType<typeof kvStatements>;

/**
 * The store's key-value entries and leases. Lease expiry is reckoned on the server's clock, the
 * one clock every process sharing the database agrees on.
 */
export function kvStatements(t: StoreTables, storeKey: number) {
  let n = 0;
  const statement = (text: string): NamedStatement => ({
    name: `evdb_${storeKey}_kv${n++}`,
    text,
  });
  return {
    get: statement(`SELECT value, revision FROM ${t.kv} WHERE namespace = $1 AND key = $2`),
    list: statement(`SELECT key, value, revision FROM ${t.kv} WHERE namespace = $1 ORDER BY key`),
    page: statement(
      `SELECT key, value, revision FROM ${t.kv} WHERE namespace = $1 ORDER BY key LIMIT $2`,
    ),
    pageAfter: statement(
      `SELECT key, value, revision FROM ${t.kv} WHERE namespace = $1 AND key > $2 ` +
        'ORDER BY key LIMIT $3',
    ),
    upsert: statement(
      `INSERT INTO ${t.kv} AS kv (namespace, key, value, revision) VALUES ($1, $2, $3, 1) ` +
        'ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, ' +
        'revision = kv.revision + 1 RETURNING revision',
    ),
    insert: statement(
      `INSERT INTO ${t.kv} (namespace, key, value, revision) VALUES ($1, $2, $3, 1) ` +
        'ON CONFLICT (namespace, key) DO NOTHING RETURNING revision',
    ),
    update: statement(
      `UPDATE ${t.kv} SET value = $3, revision = revision + 1 ` +
        'WHERE namespace = $1 AND key = $2 AND revision = $4 RETURNING revision',
    ),
    delete: statement(`DELETE FROM ${t.kv} WHERE namespace = $1 AND key = $2`),
    deleteAt: statement(`DELETE FROM ${t.kv} WHERE namespace = $1 AND key = $2 AND revision = $3`),
    acquireLease: statement(
      `INSERT INTO ${t.leases} AS l (name, owner, expires_at) ` +
        "VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond') " +
        'ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at ' +
        'WHERE l.owner = excluded.owner OR l.expires_at <= clock_timestamp() RETURNING owner',
    ),
    releaseLease: statement(`DELETE FROM ${t.leases} WHERE name = $1 AND owner = $2`),
    leaseOwners: statement(
      `SELECT name, owner FROM ${t.leases} ` +
        'WHERE starts_with(name, $1) AND expires_at > clock_timestamp()',
    ),
    takeFencedLease: statement(
      `SELECT ${t.takeFencedLease}($1::integer, $2::integer, $3::text, $4::text, $5::bigint)`,
    ),
    leaseHolder: statement(
      `SELECT owner, token FROM ${t.leases} WHERE name = $1 AND expires_at > clock_timestamp()`,
    ),
  };
}

/** The key-value store of a store schema: its `kv` table. */
export class PostgresKv implements KvStore {
  constructor(
    private readonly statements: KvStatements,
    private readonly run: Run,
  ) {}

  async kvGet(namespace: string, key: string): Promise<KvEntry | undefined> {
    const { rows } = await this.run<[string, number]>('kvGet', this.statements.get, [
      namespace,
      key,
    ]);
    const row = rows[0];
    return row && { key, value: JSON.parse(row[0]) as JsonValue, revision: row[1] };
  }

  async kvList(namespace: string): Promise<KvEntry[]> {
    const { rows } = await this.run<[string, string, number]>('kvList', this.statements.list, [
      namespace,
    ]);
    return rows.map(([key, value, revision]) => ({
      key,
      value: JSON.parse(value) as JsonValue,
      revision,
    }));
  }

  async kvPage(namespace: string, after: string | undefined, count: number): Promise<KvEntry[]> {
    const { rows } =
      after === undefined
        ? await this.run<[string, string, number]>('kvList', this.statements.page, [
            namespace,
            count,
          ])
        : await this.run<[string, string, number]>('kvList', this.statements.pageAfter, [
            namespace,
            after,
            count,
          ]);
    return rows.map(([key, value, revision]) => ({
      key,
      value: JSON.parse(value) as JsonValue,
      revision,
    }));
  }

  async kvPut(
    namespace: string,
    key: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number | undefined> {
    const json = JSON.stringify(value);
    const { rows } =
      expectedRevision === undefined
        ? await this.run<[number]>('kvPut', this.statements.upsert, [namespace, key, json])
        : expectedRevision === 0
          ? await this.run<[number]>('kvPut', this.statements.insert, [namespace, key, json])
          : await this.run<[number]>('kvPut', this.statements.update, [
              namespace,
              key,
              json,
              expectedRevision,
            ]);
    return rows[0]?.[0];
  }

  async kvDelete(namespace: string, key: string, expectedRevision?: number): Promise<boolean> {
    const { rowCount } =
      expectedRevision === undefined
        ? await this.run('kvDelete', this.statements.delete, [namespace, key])
        : await this.run('kvDelete', this.statements.deleteAt, [namespace, key, expectedRevision]);
    return (rowCount ?? 0) > 0;
  }
}

/**
 * The lease store of a store schema: its `leases` table, shared by every process using the
 * store, with expiry on the server's clock.
 */
export class PostgresLeases implements LeaseStore {
  constructor(
    private readonly statements: KvStatements,
    private readonly run: Run,
    /** The store's commit lock (`lockKey`, `storeKey`), which fenced leases change under. */
    private readonly commitLock: readonly [number, number],
  ) {}

  async acquireFencedLease(
    name: string,
    owner: string,
    ttlMs: number,
  ): Promise<number | undefined> {
    const { rows } = await this.run<[string | null]>(
      'acquireFencedLease',
      this.statements.takeFencedLease,
      [...this.commitLock, name, owner, ttlMs],
    );
    const token = rows[0]?.[0];
    return token === null || token === undefined ? undefined : Number(token);
  }

  async leaseHolder(name: string): Promise<LeaseHolder | undefined> {
    const { rows } = await this.run<[string, string]>('leaseHolder', this.statements.leaseHolder, [
      name,
    ]);
    const row = rows[0];
    return row && { owner: row[0], token: Number(row[1]) };
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const { rows } = await this.run<[string]>('acquireLease', this.statements.acquireLease, [
      name,
      owner,
      ttlMs,
    ]);
    return rows.length > 0;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.run('releaseLease', this.statements.releaseLease, [name, owner]);
  }

  async leaseOwners(prefix: string): Promise<Map<string, string>> {
    const { rows } = await this.run<[string, string]>('leaseOwners', this.statements.leaseOwners, [
      prefix,
    ]);
    return new Map(rows);
  }
}
