import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  memory,
  openEvdb,
  subscribeTelemetry,
  type EventRecord,
  type FeatureEvent,
  type NewEvent,
} from '../src/index.js';

// The store's shared live feed: a subscriber that falls behind its bounded queue reads on from
// the log by itself, without holding anyone up; thousands of subscriptions each get their own
// events; events handed out are frozen, since one object goes to every subscriber it matches.

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function ticks(count: number, from: number): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ({ eventType: 'Tick', data: { i: from + i } }));
}

it('a slow subscriber falls behind the live queue, reads on from the log, and holds nobody up', async () => {
  const evdb = await openEvdb({ backend: memory() });
  const fellBehind: FeatureEvent[] = [];
  const stop = subscribeTelemetry('subscriptionFellBehind', (event) => fellBehind.push(event));
  try {
    await evdb.createStore('slow');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: number[] = [];
    const slowSub = await evdb.subscribe(
      'slow',
      { type: 'by_event_type', selector: 'Tick', batchSize: 10 },
      async (batch) => {
        await gate;
        for (const event of batch) slow.push(event.position);
      },
    );
    const fast: number[] = [];
    const fastSub = await evdb.subscribe(
      'slow',
      { type: 'by_stream', selector: 'ticks' },
      (batch) => {
        for (const event of batch) fast.push(event.position);
      },
    );
    const total = 3000;
    for (let n = 0; n < total; n += 500) await evdb.appendEvents('slow', 'ticks', ticks(500, n));
    while (fast.length < total) await sleep(5);
    assert.deepEqual(
      fast,
      Array.from({ length: total }, (_, i) => i),
      'the fast subscriber got everything while the slow one was stuck',
    );
    assert.equal(slow.length, 0);
    assert.equal(fellBehind.length, 1, 'the slow subscriber fell behind once');
    assert.equal(fellBehind[0]?.storeId, 'slow');
    assert.ok((fellBehind[0]?.lagPositions as number) > 0);
    release();
    while (slow.length < total) await sleep(5);
    await evdb.appendEvents('slow', 'ticks', ticks(10, total));
    while (slow.length < total + 10) await sleep(5);
    assert.deepEqual(
      slow,
      Array.from({ length: total + 10 }, (_, i) => i),
      'the slow subscriber got every event once, in order, live again at the end',
    );
    await slowSub.close();
    await fastSub.close();
  } finally {
    stop();
    await evdb.close();
  }
});

it('thousands of live subscriptions each receive their own events', async () => {
  const evdb = await openEvdb({ backend: memory() });
  try {
    await evdb.createStore('many');
    const streams = 2000;
    const received = new Map<string, number[]>();
    const subs = [];
    for (let s = 0; s < streams; s++) {
      const streamId = `account-${s}`;
      const got: number[] = [];
      received.set(streamId, got);
      subs.push(
        await evdb.subscribe('many', { type: 'by_stream', selector: streamId }, (batch) => {
          for (const event of batch) got.push((event.data as { n: number }).n);
        }),
      );
    }
    const byType: number[] = [];
    subs.push(
      await evdb.subscribe('many', { type: 'by_event_type', selector: 'Closed' }, (batch) => {
        for (const event of batch) byType.push(event.position);
      }),
    );
    const expected = new Map<string, number[]>();
    const closed: number[] = [];
    for (let n = 0; n < 6000; n++) {
      const streamId = `account-${(n * 7919) % streams}`;
      const eventType = n % 100 === 0 ? 'Closed' : 'Moved';
      const result = await evdb.appendEvents('many', streamId, [{ eventType, data: { n } }]);
      if (eventType === 'Closed') closed.push(result.position);
      const list = expected.get(streamId) ?? [];
      list.push(n);
      expected.set(streamId, list);
    }
    const done = (): boolean =>
      [...expected].every(([streamId, ns]) => received.get(streamId)?.length === ns.length) &&
      byType.length === closed.length;
    const deadline = Date.now() + 30_000;
    while (!done() && Date.now() < deadline) await sleep(10);
    for (const [streamId, ns] of expected) assert.deepEqual(received.get(streamId), ns, streamId);
    assert.deepEqual(byType, closed);
    await Promise.all(subs.map((sub) => sub.close()));
  } finally {
    await evdb.close();
  }
});

it('events handed to subscribers are frozen: one subscriber cannot change what another sees', async () => {
  const evdb = await openEvdb({ backend: memory() });
  try {
    await evdb.createStore('frozen');
    const batches: EventRecord[][] = [];
    const a = await evdb.subscribe('frozen', { type: 'by_stream', selector: 's' }, (batch) => {
      batches.push(batch);
    });
    const b = await evdb.subscribe('frozen', { type: 'by_event_type', selector: 'E' }, (batch) => {
      batches.push(batch);
    });
    await evdb.appendEvents('frozen', 's', [
      { eventType: 'E', data: { nested: { n: 1 } }, tags: ['t'] },
    ]);
    while (batches.length < 2) await sleep(5);
    for (const [event] of batches) {
      assert.ok(event !== undefined);
      assert.throws(() => {
        (event.data as { nested: { n: number } }).nested.n = 2;
      }, TypeError);
      assert.throws(() => {
        event.tags.push('u');
      }, TypeError);
      assert.deepEqual(event.data, { nested: { n: 1 } });
    }
    await a.close();
    await b.close();
  } finally {
    await evdb.close();
  }
});
