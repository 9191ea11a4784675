import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  ANY_VERSION,
  openEvdb,
  sqlite,
  type AppendResult,
  type Evdb,
  type NewEvent,
} from '../src/index.js';
import type { LogBackend } from '../src/backends/log-backend.js';
import { events, rejectsWith } from './conformance/harness.js';

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

// A write reusing a stored id after its first is refused alone: the appends committed beside it
// in the same group commit, and replays, answer as if each had been committed on its own.
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

/** Turns a store file back into the sixth schema version: ids indexed on the events table. */
function asSixthSchemaVersion(storeId: string): void {
  const db = new Database(join(dataDir, `${storeId}.sqlite`));
  try {
    db.exec(`
      DROP TABLE event_ids;
      CREATE UNIQUE INDEX events_by_id ON events (event_id)
        WHERE substr(stream_id, 1, 6) <> '$link:';
      PRAGMA user_version = 6;
    `);
  } finally {
    db.close();
  }
}

// Ids up to the fold point are in event_ids, the ids after it are held in memory and read from
// the log when the store is opened (event-ids.ts). A resend or a reused id must be recognised
// on both sides of the fold point, after reopening, after a removal, and in a store migrated
// from the schema that indexed ids on the events table.
test('event ids are found on both sides of the fold point, after reopen, removal and migration', async () => {
  const storeId = 'id-fold';
  const batches = Array.from({ length: 10 }, () =>
    Array.from({ length: 500 }, (_, i) => ({
      eventId: randomUUID(),
      eventType: 'Placed',
      data: { i },
    })),
  );
  let evdb = await openEvdb({ backend: sqlite({ dataDir }) });
  await evdb.createStore(storeId);
  const results: AppendResult[] = [];
  for (const [i, batch] of batches.entries()) {
    results.push(await evdb.appendEvents(storeId, `s-${i}`, batch, -1));
  }
  const [early, late] = [batches[0] as NewEvent[], batches[9] as NewEvent[]];
  const expectIds = async (label: string): Promise<void> => {
    // A resend is a replay, with ANY_VERSION too; a reused id with other content is refused.
    assert.deepEqual(await evdb.appendEvents(storeId, 's-0', early, -1), results[0], label);
    assert.deepEqual(await evdb.appendEvents(storeId, 's-9', late, ANY_VERSION), results[9], label);
    for (const reused of [early[250], late[250]] as NewEvent[]) {
      await rejectsWith(
        evdb.appendEvents(storeId, 'other', [{ ...reused, data: { other: true } }]),
        'already_exists',
        { eventId: reused.eventId },
      );
    }
    assert.equal((await evdb.getStoreStatus(storeId)).totalEvents, 5000, label);
  };
  await expectIds('before reopening');
  await evdb.close();

  evdb = await openEvdb({ backend: sqlite({ dataDir }) });
  await expectIds('after reopening');
  // Removed events free their ids, on both sides of the fold point.
  await evdb.deleteStream(storeId, 's-0');
  await evdb.deleteStream(storeId, 's-9');
  assert.equal((await evdb.appendEvents(storeId, 'again', early.slice(0, 1), -1)).version, 0);
  assert.equal((await evdb.appendEvents(storeId, 'again', late.slice(0, 1), 0)).version, 1);
  await evdb.close();

  const db = new Database(join(dataDir, `${storeId}.sqlite`), { readonly: true });
  const indexed = db.prepare('SELECT count(*) FROM event_ids').pluck().get() as number;
  db.close();
  // The fold at position 4499 indexed the ids of s-0..s-8; those of s-0 were removed with it.
  assert.equal(indexed, 4000);

  asSixthSchemaVersion(storeId);
  const backend = sqlite({ dataDir });
  const log = (await backend.openStore(storeId)) as LogBackend;
  try {
    const wanted = [
      batches[1]?.[7],
      batches[8]?.[499],
      early[0],
      late[0],
      { eventId: randomUUID() },
    ];
    const found = await log.readEventsById(wanted.map((e) => e?.eventId as string));
    assert.deepEqual(
      found.map((e) => [e.streamId, e.version]),
      [
        ['s-1', 7],
        ['s-8', 499],
        ['again', 0],
        ['again', 1],
      ],
    );
  } finally {
    await log.close();
    await backend.close();
  }
});
