import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { memory, sqlite, type Backend, type LogBackend } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { uniqueStoreId } from './conformance/harness.js';
import { dropSchemas, startPostgres, uniqueSchema, type TestPostgres } from './support/postgres.js';

// The storage primitives subscriptions and links rest on, on every backend: the store's
// key-value facility (compare-and-set by revision) and leases.

const sqliteDir = mkdtempSync(join(tmpdir(), 'evdb-sub-storage-'));
let server: TestPostgres | undefined;
const pgSchema = uniqueSchema('subst');

before(async () => {
  server = await startPostgres();
});
after(async () => {
  if (server !== undefined && !server.owned) await dropSchemas(server.url, pgSchema);
  await server?.stop();
  rmSync(sqliteDir, { recursive: true, force: true });
});

const backends: [string, () => Backend][] = [
  ['memory', () => memory()],
  ['sqlite', () => sqlite({ dataDir: sqliteDir })],
  [
    'postgres',
    () => postgres({ url: (server as TestPostgres).url, schema: pgSchema, poolSize: 2 }),
  ],
];

for (const [name, make] of backends) {
  describe(`storage primitives: ${name}`, () => {
    let backend: Backend;
    let log: LogBackend;
    before(async () => {
      backend = make();
      log = (await backend.createStore(uniqueStoreId(), {})) as LogBackend;
    });
    after(async () => {
      await log.close();
      await backend.close();
    });

    it('kv entries: put, get, list by namespace in key order, delete', async () => {
      assert.equal(await log.kvGet('a', 'x'), undefined);
      assert.equal(await log.kvPut('a', 'y', { n: 1 }), 1);
      assert.equal(await log.kvPut('a', 'x', [1, 'two', null]), 1);
      assert.equal(await log.kvPut('b', 'x', 'other namespace'), 1);
      assert.equal(await log.kvPut('a', 'y', { n: 2 }), 2, 'each write adds a revision');
      assert.deepEqual(await log.kvGet('a', 'y'), { key: 'y', value: { n: 2 }, revision: 2 });
      assert.deepEqual(await log.kvList('a'), [
        { key: 'x', value: [1, 'two', null], revision: 1 },
        { key: 'y', value: { n: 2 }, revision: 2 },
      ]);
      const read = await log.kvGet('a', 'y');
      (read?.value as { n: number }).n = 99;
      assert.deepEqual((await log.kvGet('a', 'y'))?.value, { n: 2 }, 'values are fresh copies');
      assert.equal(await log.kvDelete('a', 'x'), true);
      assert.equal(await log.kvDelete('a', 'x'), false);
      assert.deepEqual(
        (await log.kvList('a')).map((e) => e.key),
        ['y'],
      );
      assert.deepEqual(await log.kvList('none'), []);
    });

    it('kv compare-and-set: writes only at the expected revision', async () => {
      assert.equal(await log.kvPut('cas', 'k', 1, 0), 1, 'revision 0: create');
      assert.equal(await log.kvPut('cas', 'k', 2, 0), undefined, 'exists already');
      assert.equal(await log.kvPut('cas', 'k', 3, 5), undefined, 'wrong revision');
      assert.deepEqual(await log.kvGet('cas', 'k'), { key: 'k', value: 1, revision: 1 });
      assert.equal(await log.kvPut('cas', 'k', 4, 1), 2);
      assert.equal(await log.kvPut('cas', 'missing', 4, 1), undefined);
      assert.equal(await log.kvGet('cas', 'missing'), undefined);
      assert.equal(await log.kvDelete('cas', 'k', 1), false, 'stale revision');
      assert.equal(await log.kvDelete('cas', 'k', 2), true);
      // Racing writers at one revision: exactly one wins.
      await log.kvPut('cas', 'race', 0, 0);
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) => log.kvPut('cas', 'race', i, 1)),
      );
      assert.equal(outcomes.filter((r) => r === 2).length, 1);
      assert.equal(outcomes.filter((r) => r === undefined).length, 7);
    });

    it('leases: one owner at a time, renewable, released, taken over when expired', async () => {
      assert.equal(await log.acquireLease('job', 'a', 60_000), true);
      assert.equal(await log.acquireLease('job', 'b', 60_000), false);
      assert.equal(await log.acquireLease('job', 'a', 60_000), true, 'renewal');
      assert.equal(await log.acquireLease('other', 'b', 60_000), true, 'leases are by name');
      await log.releaseLease('job', 'b');
      assert.equal(await log.acquireLease('job', 'b', 60_000), false, 'only the owner releases');
      await log.releaseLease('job', 'a');
      assert.equal(await log.acquireLease('job', 'b', 200), true);
      assert.equal(await log.acquireLease('job', 'a', 200), false);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(await log.acquireLease('job', 'a', 60_000), true, 'expired: taken over');
      assert.equal(await log.acquireLease('job', 'b', 60_000), false);
    });

    it('leaseOwners: the live leases of a name prefix and their owners', async () => {
      assert.equal(await log.acquireLease('sub:one', 'a@node-1', 60_000), true);
      assert.equal(await log.acquireLease('sub:two', 'b@node-2', 60_000), true);
      assert.equal(await log.acquireLease('sub:gone', 'c@node-3', 100), true);
      assert.equal(await log.acquireLease('link:one', 'd@node-1', 60_000), true);
      await log.releaseLease('sub:two', 'b@node-2');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(
        [...(await log.leaseOwners('sub:'))],
        [['sub:one', 'a@node-1']],
        'released and expired leases are not listed',
      );
      assert.deepEqual([...(await log.leaseOwners('nothing:'))], []);
    });
  });
}

describe('ids of link streams: the lookups use the partial indexes', () => {
  it('sqlite: the id lookup of a commit is an index search', async () => {
    const backend = sqlite({ dataDir: sqliteDir });
    const storeId = uniqueStoreId();
    const log = (await backend.createStore(storeId, {})) as LogBackend;
    await log.close();
    const db = new Database(join(sqliteDir, `${storeId}.sqlite`), { readonly: true });
    try {
      // Ids up to the fold point are in event_ids (the ids after it are held in memory).
      const plan = db
        .prepare(
          "EXPLAIN QUERY PLAN SELECT position FROM event_ids WHERE id = unhex(replace(?, '-', ''))",
        )
        .all('x') as { detail: string }[];
      assert.match(plan.map((row) => row.detail).join('\n'), /SEARCH event_ids USING PRIMARY KEY/);
    } finally {
      db.close();
    }
  });

  it('postgres: the id lookup of a commit is an index scan', async () => {
    const url = (server as TestPostgres).url;
    const schema = uniqueSchema('subpl');
    const backend = postgres({ url, schema, poolSize: 1 });
    const storeId = uniqueStoreId();
    const log = (await backend.createStore(storeId, {})) as LogBackend;
    await log.close();
    await backend.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT event_id::text, stream_id, version, position FROM "${schema}-${storeId}".events ` +
          "WHERE event_id = ANY(ARRAY['0190a0a0-0000-7000-8000-000000000001']::uuid[]) " +
          "AND left(stream_id, 6) <> '$link:'",
      );
      assert.match(rows.map((row) => row['QUERY PLAN']).join('\n'), /events_by_id/);
    } finally {
      await client.end();
      await dropSchemas(url, schema);
    }
  });
});
