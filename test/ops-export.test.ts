import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import {
  exportStore,
  importStore,
  openEvdb,
  verifyStore,
  type EventRecord,
  type Evdb,
} from '../src/index.js';
import { runEvdb, spawnEvdb } from './support/ops-cli.js';

const root = mkdtempSync(join(tmpdir(), 'evdb-export-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function readAll(evdb: Evdb, storeId: string): Promise<EventRecord[]> {
  const events: EventRecord[] = [];
  for (let from = 0; ;) {
    const page = await evdb.readAllGlobal(storeId, from, 5000);
    events.push(...page);
    const last = page[page.length - 1];
    if (last === undefined || page.length < 5000) return events;
    from = last.position + 1;
  }
}

/** What an import keeps of an event: everything but its position and time. */
const identity = (e: EventRecord) => ({
  eventId: e.eventId,
  streamId: e.streamId,
  version: e.version,
  eventType: e.eventType,
  data: e.data,
  metadata: e.metadata,
  tags: e.tags,
  causationId: e.causationId,
  correlationId: e.correlationId,
  dataContentType: e.dataContentType,
});

describe('export and import', () => {
  it('round-trips every field of every event, in order, and a re-run writes nothing', async () => {
    const source = await openEvdb({ dataDir: join(root, 'source') });
    await source.createStore('shop');
    const first = await source.appendEvents('shop', 'order-1', [
      { eventType: 'Placed', data: { total: 10 }, metadata: { by: 'ann' }, tags: ['vip', 'eu'] },
      { eventType: 'Blob', data: new Uint8Array([0, 1, 254, 255]) },
    ]);
    const placed = (await source.getEvents('shop', 'order-1', 0, 1))[0] as EventRecord;
    await source.appendEvents('shop', 'invoice-1', [
      {
        eventType: 'Invoiced',
        data: { $bytes: 'looks like a marker' },
        causationId: placed.eventId,
        correlationId: 'corr-1',
      },
    ]);
    await source.appendEvents('shop', 'order-2', [{ eventType: 'Placed', data: [1, 'two'] }]);
    assert.equal(first.version, 1);

    const file = join(root, 'shop.ndjson');
    const out = createWriteStream(file);
    const exported = await exportStore(source, 'shop', out);
    out.end();
    await finished(out);
    assert.equal(exported.events, 4);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 4);
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    for (const field of ['eventId', 'streamId', 'version', 'position', 'eventType', 'data']) {
      assert.ok(field in line, `the line carries ${field}`);
    }
    for (const field of ['metadata', 'tags', 'epochUs']) assert.ok(field in line);

    const target = await openEvdb({ dataDir: join(root, 'target') });
    const imported = await importStore(target, 'copy', createReadStream(file), { batchEvents: 2 });
    assert.deepEqual(
      { read: imported.read, written: imported.written, already: imported.alreadyPresent },
      { read: 4, written: 4, already: 0 },
    );
    const again = await importStore(target, 'copy', createReadStream(file), { batchEvents: 3 });
    assert.deepEqual(
      { read: again.read, written: again.written, already: again.alreadyPresent },
      { read: 4, written: 0, already: 4 },
    );
    assert.deepEqual(
      (await readAll(target, 'copy')).map(identity),
      (await readAll(source, 'shop')).map(identity),
    );
    assert.equal((await verifyStore(target, 'copy')).sound, true);

    const linkLine = JSON.stringify({ ...line, streamId: '$link:x', eventId: crypto.randomUUID() });
    const skipped = await importStore(target, 'copy', Readable.from([linkLine + '\n']));
    assert.equal(skipped.skippedLinkEvents, 1);
    await assert.rejects(importStore(target, 'copy', Readable.from(['{"oops": 1}\n'])), {
      code: 'invalid_argument',
      message: /line 1 lacks a streamId/,
    });
    await source.close();
    await target.close();
  });

  it('exports a stream pattern and a position range from the command line', async () => {
    const dir = join(root, 'cli');
    const evdb = await openEvdb({ dataDir: dir });
    await evdb.createStore('s');
    for (let i = 0; i < 10; i++) {
      await evdb.appendEvents('s', i % 2 === 0 ? `order-${i}` : `user-${i}`, [
        { eventType: 'E', data: { i } },
      ]);
    }
    await evdb.close();
    const orders = await runEvdb(['export', 's', '--streams', 'order-*', '--data-dir', dir]);
    assert.equal(orders.code, 0, orders.stderr);
    const streams = orders.stdout
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as EventRecord).streamId);
    assert.deepEqual(streams, ['order-0', 'order-2', 'order-4', 'order-6', 'order-8']);
    const range = await runEvdb(['export', 's', '--from', '3', '--to', '5', '--data-dir', dir]);
    assert.deepEqual(
      range.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as EventRecord).position),
      [3, 4, 5],
    );
    assert.match(range.stderr, /exported 3 event\(s\) of s, positions 3\.\.5/);
    const one = await runEvdb(['export', 's', '--stream', 'user-3', '--data-dir', dir]);
    assert.equal(one.stdout.trimEnd().split('\n').length, 1);
  });

  it('an import killed halfway (SIGKILL) and run again holds every event exactly once', async () => {
    const sourceDir = join(root, 'kill-source');
    const source = await openEvdb({ dataDir: sourceDir });
    await source.createStore('big');
    const total = 20_000;
    for (let b = 0; b < total / 1000; b++) {
      await source.appendBatch(
        'big',
        Array.from({ length: 10 }, (_, s) => ({
          streamId: `stream-${s}`,
          events: Array.from({ length: 100 }, (_, i) => ({
            eventType: 'Counted',
            data: { b, s, i, pad: 'x'.repeat(200) },
          })),
        })),
      );
    }
    const file = join(root, 'big.ndjson');
    const out = createWriteStream(file);
    await exportStore(source, 'big', out);
    out.end();
    await finished(out);
    const expected = (await readAll(source, 'big')).map(identity);
    await source.close();

    const targetDir = join(root, 'kill-target');
    const child = spawnEvdb(['import', 'big', file, '--batch', '250', '--data-dir', targetDir]);
    const exited = once(child, 'exit');
    const progress = createInterface({ input: child.stderr! });
    for await (const line of progress) {
      const percent = /: (\d+)% /.exec(line)?.[1];
      if (percent !== undefined && Number(percent) >= 40) break;
    }
    child.kill('SIGKILL');
    const [, signal] = (await exited) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL');

    const partial = await openEvdb({ dataDir: targetDir });
    const halfway = (await readAll(partial, 'big')).length;
    await partial.close();
    assert.ok(halfway > 0 && halfway < total, `killed halfway: ${halfway} of ${total} imported`);

    const rerun = await runEvdb([
      'import',
      'big',
      file,
      '--batch',
      '250',
      '--json',
      '--data-dir',
      targetDir,
    ]);
    assert.equal(rerun.code, 0, rerun.stderr);
    const summary = JSON.parse(rerun.stdout) as { written: number; alreadyPresent: number };
    assert.equal(summary.alreadyPresent, halfway);
    assert.equal(summary.written, total - halfway);

    const target = await openEvdb({ dataDir: targetDir });
    const events = await readAll(target, 'big');
    assert.equal(new Set(events.map((e) => e.eventId)).size, total);
    assert.deepEqual(events.map(identity), expected);
    assert.equal((await verifyStore(target, 'big')).sound, true);
    await target.close();
  });
});
