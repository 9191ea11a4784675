import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import {
  KurrentDBClient,
  binaryEvent,
  excludeSystemEvents,
  jsonEvent,
  type AllStreamRecordedEvent,
} from '@kurrent/kurrentdb-client';
import { openEvdb, sqlite, type EventRecord } from '../src/index.js';
import type { Evdb } from '../src/embedded/evdb.js';
import { startServer, type EvdbServer } from '../src/server.js';
import {
  checkpointKey,
  importFromKurrentDb,
  storeCheckpoint,
} from '../src/ops/import-kurrentdb.js';
import { runEvdb, spawnEvdb } from './support/ops-cli.js';
import { collect } from './support/kurrent-client.js';

// `evdb import --from kurrentdb://…` and `importFromKurrentDb`. No KurrentDB server exists on
// this machine, so the source is an evdb node's KurrentDB endpoint, which speaks the same
// protocol; it is written and read by the official client (@kurrent/kurrentdb-client 1.3.1),
// as a real KurrentDB would be.

/** What the source's `$all` holds of user events, in order, as the official client reads it. */
async function sourceEvents(client: KurrentDBClient): Promise<AllStreamRecordedEvent[]> {
  const all = await collect(client.readAll({ filter: excludeSystemEvents() }));
  return all.flatMap((resolved) => (resolved.event === undefined ? [] : [resolved.event]));
}

/** The event's version in the copy: how many events of its stream come before it there. */
function versionIn(copied: AllStreamRecordedEvent[], event: AllStreamRecordedEvent): number {
  return copied.filter((e) => e.streamId === event.streamId && e.revision < event.revision).length;
}

async function targetEvents(evdb: Evdb, storeId: string): Promise<EventRecord[]> {
  return evdb.readAllGlobal(storeId, 0, 100_000);
}

describe('import from KurrentDB', () => {
  let sourceDir: string;
  let source: EvdbServer;
  let url: string;
  let client: KurrentDBClient;
  const work: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'evdb-kimport-'));
    work.push(dir);
    return dir;
  };

  before(async () => {
    sourceDir = mkdtempSync(join(tmpdir(), 'evdb-ksource-'));
    source = await startServer({
      port: 0,
      backend: sqlite({ dataDir: sourceDir }),
      kurrent: { port: 0 },
    });
    url = source.kurrentConnectionString as string;
    client = KurrentDBClient.connectionString(url);
    // Interleaved streams, JSON and binary data, JSON and binary custom metadata.
    for (let i = 0; i < 6; i++) {
      await client.appendToStream(`order-${i % 3}`, [
        jsonEvent({ type: 'OrderPlaced', data: { n: i }, metadata: { $correlationId: `c-${i}` } }),
        jsonEvent({ type: 'OrderPriced', data: { n: i, total: i * 10 } }),
      ]);
      await client.appendToStream(`cart-${i % 2}`, [
        binaryEvent({
          type: 'CartBlob',
          data: Buffer.from([i, 0, 255]),
          metadata: Buffer.from([1, 2, 3]),
        }),
      ]);
    }
    // What a reader of the source no longer sees: truncated and tombstoned streams.
    await client.appendToStream('truncated', [
      jsonEvent({ type: 'Old', data: {} }),
      jsonEvent({ type: 'Old', data: {} }),
      jsonEvent({ type: 'Kept', data: {} }),
    ]);
    await client.setStreamMetadata('truncated', { truncateBefore: 2 });
    await client.appendToStream('gone', [jsonEvent({ type: 'Gone', data: {} })]);
    await client.tombstoneStream('gone');
  });
  after(async () => {
    await client.dispose();
    await source.close();
    for (const dir of [sourceDir, ...work]) rmSync(dir, { recursive: true, force: true });
  });

  it('copies every visible event with its id, type, data, metadata and stream, in order', async () => {
    const evdb = await openEvdb({ dataDir: tempDir() });
    try {
      const checkpoint = storeCheckpoint(evdb, 'copy', checkpointKey(url, {}));
      const result = await importFromKurrentDb(evdb, 'copy', url, { checkpoint, batchEvents: 7 });
      const expected = (await sourceEvents(client)).filter(
        (e) => e.streamId !== 'gone' && !(e.streamId === 'truncated' && e.revision < 2n),
      );
      assert.equal(result.written, expected.length);
      assert.equal(result.skippedDeleted, 3, 'two truncated events and the tombstoned one');
      assert.equal(result.tombstonedStreams, 1);
      assert.equal(result.alreadyPresent, 0);
      assert.equal(result.conflicts, 0);
      const copied = await targetEvents(evdb, 'copy');
      assert.deepEqual(
        copied.map((e) => [e.eventId, e.streamId, e.version, e.eventType]),
        // A stream whose first events are gone starts at version 0 in evdb.
        expected.map((e) => [e.id, e.streamId, versionIn(expected, e), e.type]),
      );
      const placed = copied.find((e) => e.eventType === 'OrderPlaced') as EventRecord;
      assert.deepEqual(placed.data, { n: 0 });
      assert.deepEqual(placed.metadata, { $correlationId: 'c-0' });
      assert.equal(placed.correlationId, 'c-0');
      const blob = copied.find((e) => e.eventType === 'CartBlob') as EventRecord;
      assert.deepEqual([...(blob.data as Uint8Array)], [0, 0, 255]);
      assert.equal(blob.dataContentType, 'application/octet-stream');

      // A re-run resumes after the checkpoint: nothing more to read, nothing written.
      const again = await importFromKurrentDb(evdb, 'copy', url, { checkpoint });
      const lastRead = (await sourceEvents(client)).at(-1);
      assert.equal(again.resumedAfter, String(lastRead?.position?.commit));
      assert.equal(again.written, 0);
      assert.equal((await targetEvents(evdb, 'copy')).length, expected.length);
    } finally {
      await evdb.close();
    }
  });

  it('reads back through the endpoint as the source wrote it', async () => {
    const dataDir = tempDir();
    const evdb = await openEvdb({ dataDir });
    await importFromKurrentDb(evdb, 'default', url, {});
    await evdb.close();
    const target = await startServer({
      port: 0,
      backend: sqlite({ dataDir }),
      kurrent: { port: 0 },
    });
    const targetClient = KurrentDBClient.connectionString(target.kurrentConnectionString as string);
    try {
      for (const stream of ['order-1', 'cart-1']) {
        const strip = (events: Awaited<ReturnType<typeof collect>>) =>
          events.map((r) => {
            const e = (r as { event: AllStreamRecordedEvent }).event;
            return [e.id, e.type, e.revision, e.isJson, e.data, e.metadata];
          });
        assert.deepEqual(
          strip(await collect(targetClient.readStream(stream))),
          strip(await collect(client.readStream(stream))),
        );
      }
    } finally {
      await targetClient.dispose();
      await target.close();
    }
  });

  it('keeps to stream and event-type filters', async () => {
    const evdb = await openEvdb({ dataDir: tempDir() });
    try {
      const orders = await importFromKurrentDb(evdb, 'orders', url, {
        streamPrefixes: ['order-'],
        eventTypeRegex: '^OrderPl',
      });
      const copied = await targetEvents(evdb, 'orders');
      assert.equal(copied.length, 6);
      assert.ok(copied.every((e) => e.eventType === 'OrderPlaced'));
      assert.equal(orders.skippedFiltered, 6, 'the OrderPriced events');
      await assert.rejects(
        () => importFromKurrentDb(evdb, 'x', url, { streamRegex: '(' }),
        /regex is not valid/,
      );
    } finally {
      await evdb.close();
    }
  });

  it('refuses a connection string of another kind', async () => {
    const evdb = await openEvdb({ dataDir: tempDir() });
    try {
      await assert.rejects(
        () => importFromKurrentDb(evdb, 'x', 'http://127.0.0.1:2113'),
        /kurrentdb:\/\/, kurrent:\/\/, kdb:\/\/ or esdb:\/\//,
      );
    } finally {
      await evdb.close();
    }
  });

  it('resumes after the import process is killed: every event exactly once, in order', async () => {
    // Enough events, and small batches, that the import is killed halfway.
    const big = `bulk-${Date.now()}`;
    for (let i = 0; i < 40; i++) {
      await client.appendToStream(
        `${big}-${i % 7}`,
        Array.from({ length: 100 }, (_, j) => jsonEvent({ type: 'Bulk', data: { i, j } })),
      );
    }
    const expected = (await sourceEvents(client)).filter((e) => e.streamId.startsWith(big));
    const dataDir = tempDir();
    const args = ['import', 'bulk', '--from', url, '--data-dir', dataDir, '--batch', '20'];
    const filter = ['--stream-prefix', `${big}-`];

    const first = spawnEvdb([...args, ...filter]);
    const lines = createInterface({ input: first.stderr as NonNullable<typeof first.stderr> });
    const exited = once(first, 'exit');
    for await (const line of lines) {
      const percent = /: (\d+)% /.exec(line);
      if (percent !== null && Number(percent[1]) >= 30) break;
    }
    first.kill('SIGKILL');
    const [, signal] = (await exited) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL', 'the first import was killed before it finished');

    const partial = await openEvdb({ dataDir });
    const before = (await targetEvents(partial, 'bulk')).length;
    await partial.close();
    assert.ok(before > 0 && before < expected.length, `killed halfway: ${before} events stored`);

    const second = await runEvdb([...args, ...filter, '--json']);
    assert.equal(second.code, 0, second.stderr);
    const summary = JSON.parse(second.stdout) as { written: number; resumedAfter?: string };
    assert.ok(summary.resumedAfter !== undefined, 'the re-run resumed from the checkpoint');
    assert.equal(summary.written, expected.length - before);

    const evdb = await openEvdb({ dataDir });
    try {
      const copied = await targetEvents(evdb, 'bulk');
      assert.deepEqual(
        copied.map((e) => e.eventId),
        expected.map((e) => e.id),
      );
    } finally {
      await evdb.close();
    }
  });
});
