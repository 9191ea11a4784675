import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { memory, openEvdb, sqlite, type EventRecord, type Evdb } from '../src/index.js';
import { events } from './conformance/harness.js';

// How SQLite finds a stream's events (migrations.ts, the fourth and fifth migrations): only every
// 64th version is indexed and the others are chained to their predecessor, and time queries
// binary-search versions, because commits keep each stream's times from going back. Stores
// written before keep their time index when some stream's times did go back. Streams here run
// to hundreds of events, so that reads cross many anchors.
const dataDir = mkdtempSync(join(tmpdir(), 'evdb-sqlite-chain-'));
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
 * Turns a current store file back into the schema of the third migration (every event indexed
 * by stream, the time index, no `last_epoch_us`, `first_version` or `prev_position`, snapshots
 * indexed by time alone, ids indexed on the events), as a store written by an earlier evdb would be, optionally with one
 * event's time moved back.
 */
function asThirdSchemaVersion(storeId: string, moveBack?: { streamId: string; version: number }) {
  const db = new Database(join(dataDir, `${storeId}.sqlite`));
  try {
    db.exec(`
      CREATE UNIQUE INDEX events_by_stream ON events (stream_id, version);
      DROP INDEX events_by_stream_anchor;
      ALTER TABLE events DROP COLUMN prev_position;
      ALTER TABLE streams DROP COLUMN first_version;
      CREATE INDEX events_by_stream_time ON events (stream_id, epoch_us);
      ALTER TABLE streams DROP COLUMN last_epoch_us;
      CREATE INDEX snapshots_by_time ON snapshots (created_us);
      DROP INDEX snapshots_by_time_key;
      DROP TABLE event_ids;
      CREATE UNIQUE INDEX events_by_id ON events (event_id)
        WHERE substr(stream_id, 1, 6) <> '$link:';
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

/** A small deterministic generator, so that a failure replays. */
function randomInts(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % below;
  };
}

test('stream reads across anchors agree with the memory backend, through scavenges', async () => {
  const random = randomInts(20261122);
  const onSqlite = await open();
  const inMemory = await openEvdb({ backend: memory() });
  const stores = [onSqlite, inMemory];
  try {
    for (const evdb of stores) await evdb.createStore('chain');
    const streams = ['a', 'b', 'c'];
    const compare = async (streamId: string): Promise<void> => {
      const version = await onSqlite.getVersion('chain', streamId);
      for (let probe = 0; probe < 12; probe++) {
        const from = random(version + 70);
        const count = 1 + random(probe % 3 === 0 ? 300 : 70);
        const ids = async (evdb: Evdb, direction: 'forward' | 'backward') =>
          (direction === 'forward'
            ? await evdb.streamForward('chain', streamId, from, count)
            : await evdb.streamBackward('chain', streamId, from, count)
          ).map((e) => `${e.version}:${e.eventId}`);
        for (const direction of ['forward', 'backward'] as const) {
          assert.deepEqual(
            await ids(onSqlite, direction),
            await ids(inMemory, direction),
            `${direction} ${streamId} from ${from}, ${count}`,
          );
        }
      }
      const info = await onSqlite.streamInfo('chain', streamId);
      const expected = await inMemory.streamInfo('chain', streamId);
      assert.equal(info.version, expected.version);
      assert.equal(info.eventCount, expected.eventCount);
      const stored = await onSqlite.streamForward('chain', streamId, 0, 100_000);
      assert.equal(info.firstEventAt, stored[0]?.epochUs ?? null);
      assert.equal(info.lastEventAt, stored.at(-1)?.epochUs ?? null);
    };
    for (let round = 0; round < 40; round++) {
      const streamId = streams[random(streams.length)] as string;
      const batch = events(1 + random(round % 4 === 0 ? 150 : 20)).map((e) => ({
        ...e,
        eventId: crypto.randomUUID(),
      }));
      for (const evdb of stores) await evdb.appendEvents('chain', streamId, batch);
      if (round % 9 === 8) {
        const version = await onSqlite.getVersion('chain', streamId);
        const beforeVersion = random(version + 2);
        for (const evdb of stores) {
          await evdb.scavenge('chain', streamId, { beforeVersion, requireSnapshot: false });
        }
      }
      await compare(streamId);
    }
    for (const streamId of streams) await compare(streamId);

    // Time queries against the times the full read shows.
    for (const streamId of streams) {
      const all = await onSqlite.streamForward('chain', streamId, 0, 100_000);
      for (let probe = 0; probe < 20 && all.length > 0; probe++) {
        const a = (all[random(all.length)] as EventRecord).epochUs - 1 + random(3);
        const b = (all[random(all.length)] as EventRecord).epochUs - 1 + random(3);
        const [fromUs, toUs] = a <= b ? [a, b] : [b, a];
        const inRange = all.filter((e) => e.epochUs >= fromUs && e.epochUs <= toUs);
        assert.deepEqual(
          versions(await onSqlite.readRange('chain', streamId, fromUs, toUs, { limit: 100_000 })),
          versions(inRange),
        );
        assert.deepEqual(
          versions(
            await onSqlite.readRange('chain', streamId, fromUs, toUs, {
              limit: 5,
              direction: 'backward',
            }),
          ),
          versions(inRange).reverse().slice(0, 5),
        );
        const until = all.filter((e) => e.epochUs <= toUs);
        assert.equal(
          await onSqlite.versionAt('chain', streamId, toUs),
          until.at(-1)?.version ?? -1,
        );
      }
    }

    await onSqlite.deleteStream('chain', 'a');
    assert.equal(await onSqlite.streamExists('chain', 'a'), false);
    const status = await onSqlite.getStoreStatus('chain');
    const remaining = (await onSqlite.readAllGlobal('chain', 0, 100_000)).length;
    assert.equal(status.totalEvents, remaining);
    assert.ok(remaining > 0);
  } finally {
    for (const evdb of stores) await evdb.close();
  }
});
