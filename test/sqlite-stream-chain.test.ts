import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { openEvdb, sqlite, type EventRecord, type Evdb } from '../src/index.js';
import { events } from './conformance/harness.js';

// SQLite answers time queries from the version index: commits keep each stream's times from
// going back, so its time order is its version order. Stores written before that keep their
// time index when some stream's times did go back (schema.ts, the fourth migration).
const dataDir = mkdtempSync(join(tmpdir(), 'evdb-sqlite-time-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const open = (): Promise<Evdb> => openEvdb({ backend: sqlite({ dataDir }) });
const versions = (list: EventRecord[]): number[] => list.map((e) => e.version);
const indexNames = (storeId: string): string[] => {
  const db = new Database(join(dataDir, `${storeId}.sqlite`), { readonly: true });
  try {
    return db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
      .pluck()
      .all() as string[];
  } finally {
    db.close();
  }
};

test('a stream keeps its time order after the wall clock went back between two runs', async (t) => {
  let evdb = await open();
  await evdb.createStore('clock');
  for (let i = 0; i < 3; i++) await evdb.appendEvents('clock', 's', events(2));
  const before = await evdb.streamForward('clock', 's', 0, 100);
  const lastUs = (before.at(-1) as EventRecord).epochUs;
  await evdb.close();

  // The next run's clock is an hour behind the last event.
  const hourAgoMs = Math.floor(lastUs / 1000) - 3_600_000;
  t.mock.method(Date, 'now', () => hourAgoMs);
  evdb = await open();
  try {
    await evdb.appendEvents('clock', 's', events(2));
    await evdb.appendEvents('clock', 'fresh', events(1));
    const after = await evdb.streamForward('clock', 's', 0, 100);
    assert.deepEqual(
      after.slice(6).map((e) => e.epochUs),
      [lastUs, lastUs],
      'events appended to the stream take its last time, not the earlier clock',
    );
    const [fresh] = await evdb.streamForward('clock', 'fresh', 0, 1);
    const freshUs = fresh?.epochUs ?? 0;
    assert.ok(
      freshUs >= hourAgoMs * 1000 && freshUs < hourAgoMs * 1000 + 1000,
      'a new stream takes the clock as it is',
    );
    assert.deepEqual(versions(await evdb.readRange('clock', 's', lastUs, lastUs)), [4, 5, 6, 7]);
    assert.equal(await evdb.versionAt('clock', 's', lastUs), 7);
    assert.deepEqual(versions(await evdb.readUntil('clock', 's', lastUs - 1)).at(-1), 3);
  } finally {
    await evdb.close();
  }
  assert.ok(!indexNames('clock').includes('events_by_stream_time'));
});

/**
 * Turns a current store file back into the schema of the third migration (the time index, no
 * `last_epoch_us`), as a store written by an earlier evdb would be, optionally with one event's
 * time moved back.
 */
function asThirdSchemaVersion(storeId: string, moveBack?: { streamId: string; version: number }) {
  const db = new Database(join(dataDir, `${storeId}.sqlite`));
  try {
    db.exec(`
      CREATE INDEX events_by_stream_time ON events (stream_id, epoch_us);
      ALTER TABLE streams DROP COLUMN last_epoch_us;
      PRAGMA user_version = 3;
    `);
    if (moveBack !== undefined) {
      db.prepare(
        'UPDATE events SET epoch_us = epoch_us - 60000000 WHERE stream_id = ? AND version = ?',
      ).run(moveBack.streamId, moveBack.version);
    }
  } finally {
    db.close();
  }
}

test('migrating a store with data: times in version order drop the time index', async () => {
  let evdb = await open();
  await evdb.createStore('migrate-ordered');
  for (let i = 0; i < 4; i++) await evdb.appendEvents('migrate-ordered', `s-${i % 2}`, events(3));
  const written = await evdb.streamForward('migrate-ordered', 's-1', 0, 100);
  await evdb.close();
  asThirdSchemaVersion('migrate-ordered');

  evdb = await open();
  try {
    const at = (i: number): number => (written[i] as EventRecord).epochUs;
    assert.deepEqual(await evdb.readRange('migrate-ordered', 's-1', at(0), at(5)), written);
    assert.deepEqual(
      versions(await evdb.readUntil('migrate-ordered', 's-1', at(3) - 1)),
      [0, 1, 2],
    );
    // The head's last time was carried over: an earlier clock cannot put a new event before it.
    const db = new Database(join(dataDir, 'migrate-ordered.sqlite'), { readonly: true });
    const lastUs = db
      .prepare("SELECT last_epoch_us FROM streams WHERE stream_id = 's-1'")
      .pluck()
      .get();
    db.close();
    assert.equal(lastUs, at(5));
    assert.equal((await evdb.getStoreStatus('migrate-ordered')).totalEvents, 12);
    assert.ok(!indexNames('migrate-ordered').includes('events_by_stream_time'));
  } finally {
    await evdb.close();
  }
});

test('migrating a store whose times went back keeps its time index and its time order', async () => {
  let evdb = await open();
  await evdb.createStore('migrate-unordered');
  for (let i = 0; i < 4; i++) await evdb.appendEvents('migrate-unordered', 's', events(1));
  await evdb.close();
  asThirdSchemaVersion('migrate-unordered', { streamId: 's', version: 2 });

  evdb = await open();
  try {
    // Version 2 is now a minute before the others: first in time order.
    const all = await evdb.readUntil('migrate-unordered', 's', Number.MAX_SAFE_INTEGER);
    assert.deepEqual(versions(all), [2, 0, 1, 3]);
    const moved = (all[0] as EventRecord).epochUs;
    assert.deepEqual(versions(await evdb.readUntil('migrate-unordered', 's', moved)), [2]);
    assert.equal(await evdb.versionAt('migrate-unordered', 's', moved), 2);
    await evdb.appendEvents('migrate-unordered', 's', events(1));
    const last = await evdb.readUntil('migrate-unordered', 's', Number.MAX_SAFE_INTEGER, {
      direction: 'backward',
      limit: 1,
    });
    assert.deepEqual(versions(last), [4]);
    assert.ok(indexNames('migrate-unordered').includes('events_by_stream_time'));
  } finally {
    await evdb.close();
  }
});
