import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { connect } from '../src/client.js';
import {
  backupStore,
  openEvdb,
  restoreStore,
  sqlite,
  verifyStore,
  type EventRecord,
  type EventStoreApi,
} from '../src/index.js';
import { startServerProcess } from './support/server-harness.js';
import { runEvdb } from './support/ops-cli.js';

const root = mkdtempSync(join(tmpdir(), 'evdb-ops-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Appenders that keep writing until stopped; every acknowledged event is recorded. */
function writeLoad(
  store: Pick<EventStoreApi, 'appendEvents'>,
  storeId: string,
  appenders = 4,
): { acked: Set<string>; stop(): Promise<void> } {
  const acked = new Set<string>();
  let stopped = false;
  let n = 0;
  const loops = Array.from({ length: appenders }, async (_, a) => {
    while (!stopped) {
      const i = n++;
      const eventId = crypto.randomUUID();
      await store.appendEvents(storeId, `load-${a}-${i % 7}`, [
        { eventId, eventType: i % 2 === 0 ? 'Even' : 'Odd', data: { i }, tags: [`t${i % 3}`] },
      ]);
      acked.add(eventId);
    }
  });
  return {
    acked,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

async function readAll(store: Pick<EventStoreApi, 'readAllGlobal'>, storeId: string) {
  const events: EventRecord[] = [];
  for (let from = 0; ;) {
    const page = await store.readAllGlobal(storeId, from, 5000);
    events.push(...page);
    const last = page[page.length - 1];
    if (last === undefined || page.length < 5000) return events;
    from = last.position + 1;
  }
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** The backup holds a prefix of the live log: the same events at the same positions. */
function assertPrefix(restored: EventRecord[], live: EventRecord[], lastPosition: number): void {
  const livePrefix = live.filter((e) => e.position <= lastPosition);
  assert.deepEqual(
    restored.map((e) => [e.position, e.eventId, e.streamId, e.version]),
    livePrefix.map((e) => [e.position, e.eventId, e.streamId, e.version]),
  );
}

describe('backup and restore of a SQLite data directory', () => {
  it('backs an open store up while it is written, restores it, and verify passes', async () => {
    const live = join(root, 'api-live');
    const evdb = await openEvdb({ dataDir: live });
    await evdb.createStore('shop');
    for (let s = 0; s < 20; s++) {
      await evdb.appendEvents(
        'shop',
        `order-${s}`,
        Array.from({ length: 100 }, (_, i) => ({
          eventType: `T${i % 4}`,
          data: { s, i },
          tags: i % 5 === 0 ? ['five'] : [],
        })),
      );
    }
    const load = writeLoad(evdb, 'shop');
    await waitFor(() => load.acked.size >= 200);
    const ackedBefore = [...load.acked];
    const dest = join(root, 'api.evdb-backup');
    const progress: number[] = [];
    const result = await backupStore(evdb, 'shop', dest, {
      onProgress: (p) => progress.push(p.done),
    });
    await load.stop();
    assert.ok(progress.length > 0, 'progress was reported');

    await assert.rejects(backupStore(evdb, 'shop', dest), { code: 'already_exists' });
    const target = sqlite({ dataDir: join(root, 'api-restored') });
    const restoredResult = await restoreStore(target, 'copy', dest);
    assert.equal(restoredResult.lastPosition, result.lastPosition);
    await assert.rejects(restoreStore(target, 'copy', dest), { code: 'already_exists' });
    await target.close();

    const restored = await openEvdb({ dataDir: join(root, 'api-restored') });
    const report = await verifyStore(restored, 'copy');
    assert.deepEqual(report.problems, []);
    assert.equal(report.sound, true);
    assert.equal(report.events, result.totalEvents);
    const events = await readAll(restored, 'copy');
    const ids = new Set(events.map((e) => e.eventId));
    for (const id of ackedBefore)
      assert.ok(ids.has(id), `event ${id} acknowledged before the backup`);
    assertPrefix(events, await readAll(evdb, 'shop'), result.lastPosition);
    assert.equal((await restored.getStoreConfig('copy')).storeId, 'copy');
    await restored.close();
    await evdb.close();
  });

  it('refuses a file that is not a backup', async () => {
    const junk = join(root, 'junk.evdb-backup');
    writeFileSync(junk, 'not a database at all, just text'.repeat(200));
    const target = sqlite({ dataDir: join(root, 'junk-restored') });
    await assert.rejects(restoreStore(target, 'x', junk), { code: 'invalid_argument' });
    assert.deepEqual(await target.listStores(), []);
    await target.close();
  });
});

describe('backup of a running server under write load (CLI)', () => {
  it('holds every event acknowledged before the backup and restores to a sound store', async () => {
    const serverDir = join(root, 'server');
    const server = await startServerProcess(serverDir);
    const client = await connect(server.url);
    try {
      await client.createStore('shop');
      const load = writeLoad(client, 'shop', 8);
      await waitFor(() => load.acked.size >= 500);
      const ackedBefore = [...load.acked];
      const dest = join(root, 'server.evdb-backup');
      const backup = await runEvdb(['backup', 'shop', dest, '--data-dir', serverDir, '--json']);
      assert.equal(backup.code, 0, backup.stderr);
      const taken = JSON.parse(backup.stdout) as { lastPosition: number; totalEvents: number };
      await waitFor(() => load.acked.size >= ackedBefore.length + 200);
      await load.stop();
      assert.ok(taken.totalEvents >= ackedBefore.length);
      assert.ok(taken.totalEvents < load.acked.size, 'the server kept writing during the backup');

      const restoredDir = join(root, 'server-restored');
      const restore = await runEvdb(['restore', 'shop', dest, '--data-dir', restoredDir]);
      assert.equal(restore.code, 0, restore.stderr);
      assert.match(restore.stdout, /^restored shop: \d+ event\(s\) up to position \d+/);
      const verify = await runEvdb(['verify', 'shop', '--data-dir', restoredDir]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /^shop is sound: /m);
      const live = await runEvdb(['verify', 'shop', '--url', server.url]);
      assert.equal(live.code, 0, live.stdout + live.stderr);

      const restored = await openEvdb({ dataDir: restoredDir });
      const events = await readAll(restored, 'shop');
      await restored.close();
      const ids = new Set(events.map((e) => e.eventId));
      for (const id of ackedBefore)
        assert.ok(ids.has(id), `event ${id} acknowledged before the backup`);
      assert.equal(events.length, taken.totalEvents);
      assertPrefix(events, await readAll(client, 'shop'), taken.lastPosition);
    } finally {
      await client.close();
      await server.stop();
    }
  });

  it('backs every store up with --all and restores them with --all', async () => {
    const dir = join(root, 'all');
    const evdb = await openEvdb({ dataDir: dir });
    for (const id of ['a', 'b']) {
      await evdb.createStore(id);
      await evdb.appendEvents(id, 's', [{ eventType: 'E', data: id }]);
    }
    await evdb.close();
    const backups = join(root, 'all-backups');
    const backup = await runEvdb(['backup', '--all', backups, '--data-dir', dir]);
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /backed up a: 1 event/);
    assert.match(backup.stdout, /backed up b: 1 event/);
    const restoredDir = join(root, 'all-restored');
    const restore = await runEvdb(['restore', '--all', backups, '--data-dir', restoredDir]);
    assert.equal(restore.code, 0, restore.stderr);
    const again = await runEvdb(['restore', '--all', backups, '--data-dir', restoredDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already_exists: store 'a' already exists/);
    const refused = await runEvdb(['backup', 'a', join(root, 'x'), '--url', 'http://127.0.0.1:1']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /give --data-dir or --pg-url/);
  });
});

describe('verify finds damage done behind evdb', () => {
  it('names a deleted event, a head that disagrees, a broken stream read and a counter, and exits 1', async () => {
    const dir = join(root, 'damaged');
    const evdb = await openEvdb({ dataDir: dir });
    await evdb.createStore('bad');
    await evdb.appendEvents(
      'bad',
      'order-a',
      Array.from({ length: 10 }, (_, i) => ({ eventType: 'Placed', data: { i }, tags: ['vip'] })),
    );
    await evdb.appendEvents(
      'bad',
      'order-b',
      Array.from({ length: 5 }, (_, i) => ({ eventType: 'Paid', data: { i } })),
    );
    await evdb.close();
    const sound = await runEvdb(['verify', 'bad', '--data-dir', dir]);
    assert.equal(sound.code, 0, sound.stdout + sound.stderr);

    const raw = new Database(join(dir, 'bad.sqlite'));
    raw.prepare("DELETE FROM events WHERE stream_id = 'order-a' AND version = 4").run();
    raw.prepare("UPDATE streams SET version = 7 WHERE stream_id = 'order-b'").run();
    raw.prepare('UPDATE store_state SET event_count = event_count + 2').run();
    raw.close();

    const damaged = await runEvdb(['verify', 'bad', '--data-dir', dir]);
    assert.equal(damaged.code, 1);
    assert.match(
      damaged.stdout,
      /^versions {2}stream order-a: version 4 is missing: version 3 is at position 3, version 5 at position 5$/m,
    );
    assert.match(
      damaged.stdout,
      /^heads {2}stream order-b: the head says version 7, the stream's last event is version 4 \(position 14\)$/m,
    );
    assert.match(
      damaged.stdout,
      /^stream-index {2}stream order-a: reading the stream returns 5 event\(s\), the log holds 9 \(versions 0\.\.9\)$/m,
    );
    assert.match(
      damaged.stdout,
      /^counters {2}store: the counter says 16 event\(s\), the log holds 14$/m,
    );
    assert.match(damaged.stdout, /^bad is NOT sound \(4 problem\(s\)\)/m);
    assert.match(damaged.stderr, /internal: store 'bad' failed verification/);
  });
});
