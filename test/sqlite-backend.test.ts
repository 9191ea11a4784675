import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { openEvdb, sqlite, type Evdb } from '../src/index.js';
import { events } from './conformance/harness.js';

const dataDir = mkdtempSync(join(tmpdir(), 'evdb-sqlite-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

async function countAll(evdb: Evdb, storeId: string): Promise<{ events: number; streams: number }> {
  let count = 0;
  const streams = new Set<string>();
  for (let from = 0; ;) {
    const page = await evdb.readAllGlobal(storeId, from, 10_000);
    if (page.length === 0) break;
    count += page.length;
    for (const e of page) streams.add(e.streamId);
    from = (page.at(-1) as { position: number }).position + 1;
  }
  return { events: count, streams: streams.size };
}

// The SQLite store folds its counters every few thousand positions (see migrations.ts); counts must
// stay exact across folds, deletes on both sides of the fold point, and reopening.
test('store counters stay exact across folds, deletes and reopen', async () => {
  let evdb = await openEvdb({ backend: sqlite({ dataDir }) });
  await evdb.createStore('counters');
  const expectExact = async (): Promise<void> => {
    const truth = await countAll(evdb, 'counters');
    const status = await evdb.getStoreStatus('counters');
    assert.equal(status.totalEvents, truth.events);
    assert.equal(status.streamCount, truth.streams);
  };
  for (let i = 0; i < 12; i++) await evdb.appendEvents('counters', `s-${i % 5}`, events(500));
  await expectExact();
  const before = await evdb.getStoreStatus('counters');
  assert.equal(before.lastPosition, 5999);

  await evdb.deleteStream('counters', 's-0'); // all of its events are before the fold point
  await expectExact();
  for (let i = 0; i < 3; i++) await evdb.appendEvents('counters', 'late', events(700));
  await evdb.deleteStream('counters', 'late'); // created after the fold point
  await expectExact();
  await evdb.appendEvents('counters', 's-4', events(1));
  await evdb.deleteStream('counters', 's-4'); // the highest position is deleted: no reuse
  await expectExact();
  const { position } = await evdb.appendEvents('counters', 'after', events(1));
  assert.equal(position, 5999 + 2100 + 1 + 1);

  await evdb.close();
  evdb = await openEvdb({ backend: sqlite({ dataDir }) });
  await expectExact();
  assert.equal((await evdb.getStoreStatus('counters')).lastPosition, position);
  await evdb.close();

  const db = new Database(join(dataDir, 'counters.sqlite'), { readonly: true });
  const state = db.prepare('SELECT counted_through FROM store_state').pluck().get() as number;
  db.close();
  assert.ok(state >= 4096, 'the counters were folded at least once');
});

// A commit leaves a lone write's later event ids to the unique index; when it refuses one, the
// whole group is planned again with every id looked up. The appends committed beside the
// refused one, and replays, must answer exactly as if every id had been looked up at once.
test('a stored id after the first of a write is refused; the appends beside it commit', async () => {
  const evdb = await openEvdb({ backend: sqlite({ dataDir }) });
  await evdb.createStore('later-ids');
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  const first = ids.map((eventId, i) => ({ eventId, eventType: 'Placed', data: { i } }));
  assert.deepEqual(await evdb.appendEvents('later-ids', 'a', first, -1), {
    version: 2,
    position: 2,
  });
  // In one group commit: a replay, a fresh append, and a write reusing the third id second.
  const reused = [{ eventId: randomUUID(), eventType: 'Placed', data: {} }, first[2]];
  const [replay, fresh, refused] = await Promise.allSettled([
    evdb.appendEvents('later-ids', 'a', first, -1),
    evdb.appendEvents('later-ids', 'b', [{ eventType: 'Placed', data: {} }], -1),
    evdb.appendEvents('later-ids', 'c', reused as never, -1),
  ]);
  assert.deepEqual(replay, { status: 'fulfilled', value: { version: 2, position: 2 } });
  assert.deepEqual(fresh, { status: 'fulfilled', value: { version: 0, position: 3 } });
  assert.equal(refused.status, 'rejected');
  assert.equal((refused.reason as { code: string }).code, 'already_exists');
  assert.equal(await evdb.streamExists('later-ids', 'c'), false);
  assert.equal((await evdb.getStoreStatus('later-ids')).totalEvents, 4);
  await evdb.close();
});
