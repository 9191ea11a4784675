import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MemoryMonitor,
  memory,
  openEvdb,
  subscribeTelemetry,
  type ArchiveBackend,
  type EventRecord,
  type Evdb,
  type MemoryLevel,
} from '../src/index.js';
import { event, events, rejectsWith } from './conformance/harness.js';

/** A budget of 1000 bytes whose use the test sets: 700 is elevated, 850 critical. */
function gauge(): { used: number; measure: () => number; calls: number } {
  const state = {
    used: 100,
    calls: 0,
    measure: () => {
      state.calls++;
      return state.used;
    },
  };
  return state;
}

/** A memory store whose level follows the gauge, checked only when the test calls `check()`. */
function underPressure(g: ReturnType<typeof gauge>): Promise<Evdb> {
  return openEvdb({
    backend: memory(),
    memory: { budgetBytes: 1000, measure: g.measure, checkIntervalMs: 0 },
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The next batch of a subscription, or undefined when none comes within `ms`. */
async function batchWithin(
  iterator: AsyncIterator<EventRecord[]>,
  pending: { next?: Promise<IteratorResult<EventRecord[]>> },
  ms: number,
): Promise<EventRecord[] | undefined> {
  pending.next ??= iterator.next();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  const result = await Promise.race([pending.next, late]);
  clearTimeout(timer);
  if (result === 'late') return undefined;
  pending.next = undefined;
  return result.done === true ? undefined : result.value;
}

describe('memory monitor', () => {
  it('moves between levels at 70 % and 85 % of the budget and tells its listeners', () => {
    const g = gauge();
    const monitor = new MemoryMonitor({
      budgetBytes: 1000,
      measure: g.measure,
      checkIntervalMs: 0,
    });
    const changes: [MemoryLevel, MemoryLevel][] = [];
    monitor.onChange((level, previous) => changes.push([level, previous]));
    assert.equal(monitor.level, 'normal');
    for (const [used, expected] of [
      [699, 'normal'],
      [700, 'elevated'],
      [849, 'elevated'],
      [850, 'critical'],
      [2000, 'critical'],
      [10, 'normal'],
    ] as const) {
      g.used = used;
      assert.equal(monitor.check(), expected, `${used} bytes`);
    }
    assert.deepEqual(changes, [
      ['elevated', 'normal'],
      ['critical', 'elevated'],
      ['normal', 'critical'],
    ]);
    const stats = monitor.stats();
    assert.deepEqual(
      { ...stats, lastCheck: 0 },
      { level: 'normal', used: 10, total: 1000, lastCheck: 0 },
    );
    assert.ok(Math.abs(stats.lastCheck - Date.now()) < 5000);
    assert.equal(monitor.batchSize(1000), 1000);
    g.used = 700;
    monitor.check();
    assert.equal(monitor.batchSize(1000), 250);
    g.used = 900;
    monitor.check();
    assert.equal(monitor.batchSize(1000), 100);
    assert.equal(monitor.batchSize(3), 1);
    monitor.stop();
  });

  it('takes its thresholds and budget from options, and refuses nonsense', () => {
    const g = gauge();
    g.used = 500;
    const monitor = new MemoryMonitor({
      budgetBytes: 1000,
      elevatedAt: 0.4,
      criticalAt: 0.5,
      measure: g.measure,
      checkIntervalMs: 0,
    });
    assert.equal(monitor.level, 'critical');
    monitor.stop();
    assert.throws(() => new MemoryMonitor({ budgetBytes: 0 }), /budgetBytes/);
    assert.throws(() => new MemoryMonitor({ elevatedAt: 0.9, criticalAt: 0.8 }), /thresholds/);
    assert.throws(() => new MemoryMonitor({ checkIntervalMs: -1 }), /checkIntervalMs/);
    const real = new MemoryMonitor({ checkIntervalMs: 0 });
    assert.ok(real.stats().used > 0 && real.stats().total > real.stats().used);
    real.stop();
  });

  it('checks on its own schedule (unref’d) and stops with the store', async () => {
    const g = gauge();
    const evdb = await openEvdb({
      backend: memory(),
      memory: { budgetBytes: 1000, measure: g.measure, checkIntervalMs: 10 },
    });
    const levels: MemoryLevel[] = [];
    evdb.onMemoryLevelChange((level) => levels.push(level));
    g.used = 900;
    for (let i = 0; i < 200 && levels.length === 0; i++) await sleep(10);
    assert.deepEqual(levels, ['critical']);
    assert.equal(await evdb.getMemoryLevel(), 'critical');
    await evdb.close();
    const calls = g.calls;
    await sleep(60);
    assert.equal(g.calls, calls, 'no checks after close');
  });
});

describe('the store under memory pressure', () => {
  it('elevated shrinks read batches; critical refuses bulk reads, appends go on', async () => {
    const g = gauge();
    const evdb = await underPressure(g);
    const published: unknown[] = [];
    const stopTelemetry = subscribeTelemetry('memoryLevelChanged', (p) => published.push(p));
    try {
      await evdb.createStore('shop');
      await evdb.appendEvents('shop', 's', events(6000, 'E', { tags: ['t'], correlationId: 'k' }));
      const pages: number[] = [];
      const counting: ArchiveBackend = {
        async write(range, source) {
          for await (const page of source) pages.push(page.length);
          return `${range.storeId}/${range.streamId}/${range.fromVersion}-${range.toVersion}`;
        },
        read: () => Promise.resolve([]),
        listPage: () => Promise.resolve([]),
      };
      const scavenge = (beforeVersion: number): Promise<unknown> =>
        evdb.scavenge('shop', 's', { beforeVersion, requireSnapshot: false, archive: counting });

      await scavenge(3000);
      assert.deepEqual(pages, [3000]);
      g.used = 750;
      assert.equal(evdb.memory.check(), 'elevated');
      pages.length = 0;
      await scavenge(5000);
      assert.deepEqual(pages, [1250, 750], 'pages of a quarter of the normal size');
      assert.equal((await evdb.readAllGlobal('shop', 0, 10)).length, 10, 'reads still work');

      g.used = 900;
      assert.equal(evdb.memory.check(), 'critical');
      for (const read of [
        evdb.readAllGlobal('shop', 0, 10),
        evdb.readByEventTypes('shop', ['E']),
        evdb.readByTags('shop', ['t']),
        evdb.getCorrelated('shop', 'k'),
        evdb.readRange('shop', 's', 0, Number.MAX_SAFE_INTEGER),
        evdb.listAllSnapshots('shop'),
      ]) {
        const error = await rejectsWith(read, 'overloaded', { level: 'critical', used: 900 });
        assert.equal(error.retriable, true);
      }
      const appended = await evdb.appendEvents('shop', 's', [event('Still', {})]);
      assert.equal(appended.version, 6000);
      assert.equal((await evdb.streamBackward('shop', 's', -1, 1))[0]?.eventType, 'Still');
      assert.equal(await evdb.getVersion('shop', 's'), 6000);
      const stats = await evdb.getMemoryStats();
      assert.deepEqual([stats.level, stats.used, stats.total], ['critical', 900, 1000]);

      g.used = 100;
      evdb.memory.check();
      assert.equal((await evdb.readAllGlobal('shop', 0, 5)).length, 5);
      assert.deepEqual(
        published.map((p) => (p as { level: string }).level),
        ['elevated', 'critical', 'normal'],
      );
    } finally {
      stopTelemetry();
      await evdb.close();
    }
  });

  it('elevated makes subscriptions read smaller batches; normal gives them back', async () => {
    const g = gauge();
    const evdb = await underPressure(g);
    try {
      await evdb.createStore('shop');
      await evdb.appendEvents('shop', 'backlog', events(400));
      const sub = await evdb.subscribe('shop', {
        type: 'by_stream',
        selector: '$all',
        startFrom: 0,
        batchSize: 100,
      });
      const iterator = sub[Symbol.asyncIterator]();
      const sizes: number[] = [];
      const take = async (): Promise<void> => {
        const next = await iterator.next();
        assert.equal(next.done, false);
        sizes.push(next.value.length);
      };
      await take();
      g.used = 750;
      assert.equal(evdb.memory.check(), 'elevated');
      await take();
      await take();
      g.used = 100;
      evdb.memory.check();
      await take();
      assert.deepEqual(sizes, [100, 25, 25, 100]);
      await sub.close();
    } finally {
      await evdb.close();
    }
  });

  it('critical pauses subscription catch-up; live delivery and the level going down resume it', async () => {
    const g = gauge();
    const evdb = await underPressure(g);
    try {
      await evdb.createStore('shop');
      await evdb.appendEvents('shop', 'backlog', events(50));
      g.used = 900;
      evdb.memory.check();

      // At the head: live events are delivered while memory is critical.
      const live = await evdb.subscribe('shop', {
        type: 'by_stream',
        selector: 'live',
        batchSize: 10,
      });
      const liveIterator = live[Symbol.asyncIterator]();
      const livePending = {};
      await evdb.appendEvents('shop', 'live', [event('Now', {})]);
      const now = await batchWithin(liveIterator, livePending, 5000);
      assert.deepEqual(
        now?.map((e) => e.eventType),
        ['Now'],
      );

      // Behind by more than a batch: catch-up waits.
      const behind = await evdb.subscribe('shop', {
        type: 'by_stream',
        selector: '$all',
        startFrom: 0,
        batchSize: 10,
      });
      const iterator = behind[Symbol.asyncIterator]();
      const pending: { next?: Promise<IteratorResult<EventRecord[]>> } = {};
      assert.equal(await batchWithin(iterator, pending, 300), undefined, 'paused at critical');

      g.used = 100;
      evdb.memory.check();
      const received: EventRecord[] = [];
      while (received.length < 51) {
        const batch = await batchWithin(iterator, pending, 5000);
        assert.ok(batch !== undefined, `resumed after the level went down (${received.length})`);
        assert.ok(batch.length <= 10);
        received.push(...batch);
      }
      assert.deepEqual(
        received.map((e) => e.position),
        Array.from({ length: 51 }, (_, i) => i),
      );
      await live.close();
      await behind.close();
    } finally {
      await evdb.close();
    }
  });
});
