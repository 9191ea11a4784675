import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openEvdb, sqlite, type EventRecord, type NewEvent } from '../src/index.js';

// A consumer 100 times slower than the writer: 200 000 events later the process's heap has not
// grown by more than a few batches (the store reads later from the log instead of buffering),
// and every event still arrives once, in order.
//
// Speed comes from SQLite with synchronous 'off' (durability is not what is tested), appends
// of 5 000 events and batches of 500. The heap is measured after a full collection, so what is
// measured is what is retained, not garbage waiting for the collector.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TOTAL = 200_000;
const APPEND = 5_000;
const BATCH = 500;
/** What a subscription may retain: a batch being handled plus a page being read, with room. */
const HEAP_BOUND_BYTES = 8 * 1024 * 1024;

const dataDir = mkdtempSync(join(tmpdir(), 'evdb-slow-consumer-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function newEvents(from: number): NewEvent[] {
  return Array.from({ length: APPEND }, (_, i) => ({
    eventType: 'Measured',
    data: { n: from + i, reading: (from + i) * 0.5, sensor: `sensor-${(from + i) % 97}` },
    tags: ['load'],
  }));
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

it('a consumer 100x slower than the writer: bounded memory, every event once and in order', async () => {
  const evdb = await openEvdb({ backend: sqlite({ dataDir, synchronous: 'off' }) });
  try {
    await evdb.createStore('slow');
    // What holding the events would cost: the bound must be far below it to mean anything.
    await evdb.appendEvents('slow', 'probe', newEvents(0));
    const before = heapUsed();
    const held: EventRecord[][] = [];
    for (let page = 0; page < 4; page++) held.push(await evdb.readAllGlobal('slow', 0, APPEND));
    const perEvent = (heapUsed() - before) / (4 * APPEND);
    held.length = 0;
    const buffered = perEvent * TOTAL;
    assert.ok(
      HEAP_BOUND_BYTES < buffered / 8,
      `the bound (${mb(HEAP_BOUND_BYTES)}) is far below buffering all events (${mb(buffered)})`,
    );
    await evdb.deleteStream('slow', 'probe');
    const first = (await evdb.getStoreStatus('slow')).lastPosition + 1;

    await evdb.saveSubscription('slow', {
      name: 'slow',
      type: 'by_stream',
      selector: 'load',
      startFrom: 'current',
    });
    let expected = first;
    let delivered = 0;
    let outOfOrder = 0;
    let delayMs = 0;
    const sub = await evdb.subscribe('slow', { name: 'slow', batchSize: BATCH }, async (batch) => {
      for (const event of batch) {
        if (event.position !== expected) outOfOrder++;
        expected = event.position + 1;
      }
      delivered += batch.length;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    });

    const baseline = heapUsed();
    let peak = baseline;
    let written = 0;
    const started = performance.now();
    while (written < TOTAL) {
      const t0 = performance.now();
      await evdb.appendEvents('slow', 'load', newEvents(written));
      written += APPEND;
      if (delayMs === 0) {
        // The consumer takes 100x the writer's time per event.
        delayMs = Math.max(1, ((performance.now() - t0) / APPEND) * BATCH * 100);
      }
      if ((written / APPEND) % 5 === 0) peak = Math.max(peak, heapUsed());
    }
    const writeMs = performance.now() - started;
    const deliveredWhileWriting = delivered;
    assert.ok(
      deliveredWhileWriting <= TOTAL / 20,
      `the consumer was far behind: ${deliveredWhileWriting} of ${TOTAL} while writing`,
    );
    assert.ok(
      peak - baseline < HEAP_BOUND_BYTES,
      `heap grew by ${mb(peak - baseline)} (bound ${mb(HEAP_BOUND_BYTES)}) with ${TOTAL - deliveredWhileWriting} events pending`,
    );

    // Now let the consumer run at full speed and check that nothing was lost or repeated.
    delayMs = 0;
    const deadline = Date.now() + 60_000;
    while (delivered < TOTAL && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await sub.close();
    assert.equal(delivered, TOTAL, 'every event delivered once');
    assert.equal(outOfOrder, 0, 'in order, without gaps or repeats');
    assert.equal(expected, first + TOTAL);
    assert.equal((await evdb.getSubscription('slow', 'slow')).checkpoint, first + TOTAL - 1);
    console.log(
      `slow consumer: wrote ${TOTAL} events in ${writeMs.toFixed(0)} ms, ${deliveredWhileWriting} ` +
        `delivered meanwhile; heap growth ${mb(peak - baseline)} ` +
        `(bound ${mb(HEAP_BOUND_BYTES)}; buffering everything would take ~${mb(buffered)})`,
    );
  } finally {
    await evdb.close();
  }
});

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
