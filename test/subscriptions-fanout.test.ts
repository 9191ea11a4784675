import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  EvdbError,
  memory,
  openEvdb,
  sqlite,
  subscribeTelemetry,
  type Backend,
  type EventRecord,
  type NewEvent,
  type Subscription,
  type SubscriptionFilter,
} from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { dropSchemas, startPostgres, uniqueSchema, type TestPostgres } from './support/postgres.js';

// Many subscriptions with random filters against random appends: each receives exactly the
// events its filter matches from its start, in order, once, although it catches up from the log
// while appends go on, switches to the store's shared live feed, and (for slow consumers) falls
// behind the feed's bounded queue and catches up from the log again. The expectation comes from
// a model of each filter written here, not from the store's own predicates.

const STREAMS = ['order-1', 'order-2', 'order-17', 'cart-1', 'cart-2', 'user-a'] as const;
const TYPES = ['Placed', 'Paid', 'Shipped'] as const;
const TAGS = ['vip', 'eu', 'us'] as const;

interface Shape {
  streamId: string;
  eventType: string;
  tags: string[];
  data: { n: number; kind: string; nested: { k: number } };
}

/** A filter and, independently, what it means. */
interface FilterCase {
  filter: SubscriptionFilter;
  model: (event: Shape) => boolean;
}

const FILTERS: FilterCase[] = [
  { filter: { type: 'by_stream', selector: 'order-1' }, model: (e) => e.streamId === 'order-1' },
  { filter: { type: 'by_stream', selector: 'cart-2' }, model: (e) => e.streamId === 'cart-2' },
  { filter: { type: 'by_stream', selector: '$all' }, model: () => true },
  { filter: { type: 'by_event_type', selector: 'Placed' }, model: (e) => e.eventType === 'Placed' },
  {
    filter: { type: 'by_event_type', selector: 'Shipped' },
    model: (e) => e.eventType === 'Shipped',
  },
  {
    filter: { type: 'by_tags', selector: { tags: ['vip', 'eu'], match: 'any' } },
    model: (e) => e.tags.includes('vip') || e.tags.includes('eu'),
  },
  {
    filter: { type: 'by_tags', selector: { tags: ['vip', 'eu'], match: 'all' } },
    model: (e) => e.tags.includes('vip') && e.tags.includes('eu'),
  },
  {
    filter: { type: 'by_event_pattern', selector: { streamId: 'order-*' } },
    model: (e) => e.streamId.startsWith('order-'),
  },
  {
    filter: { type: 'by_event_pattern', selector: { streamId: 'order-1*' } },
    model: (e) => e.streamId.startsWith('order-1'),
  },
  {
    filter: { type: 'by_event_pattern', selector: { streamId: '*-1' } },
    model: (e) => e.streamId.endsWith('-1'),
  },
  {
    filter: { type: 'by_event_pattern', selector: { eventType: 'Paid', data: { kind: 'x' } } },
    model: (e) => e.eventType === 'Paid' && e.data.kind === 'x',
  },
  {
    filter: { type: 'by_event_pattern', selector: { tags: ['us'] } },
    model: (e) => e.tags.includes('us'),
  },
  { filter: { type: 'by_event_payload', selector: { n: 2 } }, model: (e) => e.data.n === 2 },
  {
    filter: { type: 'by_event_payload', selector: { nested: { k: 1 } } },
    model: (e) => e.data.nested.k === 1,
  },
  {
    filter: { type: 'by_event_payload', selector: { n: { gte: 2 } } },
    model: (e) => e.data.n >= 2,
  },
  {
    filter: { type: 'by_event_payload', selector: { kind: { eq: 'y' } } },
    model: (e) => e.data.kind === 'y',
  },
  {
    filter: { type: 'by_event_payload', selector: { n: { in: [1, 3] } } },
    model: (e) => e.data.n === 1 || e.data.n === 3,
  },
  {
    filter: { type: 'by_event_payload', selector: { kind: 'x', n: 0 } },
    model: (e) => e.data.kind === 'x' && e.data.n === 0,
  },
];

interface SubscriberSpec {
  filter: number;
  /** Where it starts: the first position, the head, or a position part-way (0..1 of the head). */
  start: 'zero' | 'current' | number;
  batchSize: number;
  consumer: 'handler' | 'iterator';
  /** Milliseconds each batch takes: slow consumers fall behind the live feed's queue. */
  delayMs: number;
  persistent: boolean;
}

type Step =
  | { kind: 'append'; streamId: string; events: Shape[] }
  | { kind: 'burst'; appends: { streamId: string; events: Shape[] }[] }
  | { kind: 'bulk'; streamId: string; eventType: string; count: number }
  | { kind: 'pause'; ms: number }
  | { kind: 'subscribe'; spec: SubscriberSpec };

const shapeArb = (streamId: string): fc.Arbitrary<Shape> =>
  fc.record({
    streamId: fc.constant(streamId),
    eventType: fc.constantFrom(...TYPES),
    tags: fc.subarray([...TAGS]),
    data: fc.record({
      n: fc.integer({ min: 0, max: 3 }),
      kind: fc.constantFrom('x', 'y'),
      nested: fc.record({ k: fc.integer({ min: 0, max: 2 }) }),
    }),
  });

const appendArb = fc.constantFrom(...STREAMS).chain((streamId) =>
  fc.record({
    streamId: fc.constant(streamId),
    events: fc.array(shapeArb(streamId), { minLength: 1, maxLength: 5 }),
  }),
);

const specArb: fc.Arbitrary<SubscriberSpec> = fc
  .record({
    filter: fc.integer({ min: 0, max: FILTERS.length - 1 }),
    start: fc.oneof(
      fc.constant<'zero'>('zero'),
      fc.constant<'current'>('current'),
      fc.double({ min: 0, max: 1, noNaN: true }),
    ),
    slow: fc.boolean(),
    batchSize: fc.integer({ min: 1, max: 50 }),
    consumer: fc.constantFrom<'handler' | 'iterator'>('handler', 'iterator'),
    persistent: fc.boolean(),
  })
  .map(({ slow, batchSize, ...rest }) => ({
    ...rest,
    // A slow consumer takes big batches, so that the run stays short.
    batchSize: slow ? Math.max(batchSize, 20) : batchSize,
    delayMs: slow ? 2 : 0,
  }));

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: appendArb.map((a) => ({ kind: 'append' as const, ...a })) },
  {
    weight: 2,
    arbitrary: fc
      .array(appendArb, { minLength: 2, maxLength: 6 })
      .map((appends) => ({ kind: 'burst' as const, appends })),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('bulk' as const),
      streamId: fc.constantFrom(...STREAMS),
      eventType: fc.constantFrom(...TYPES),
      // More than a live queue holds (1 000), so slow matching consumers fall behind.
      count: fc.integer({ min: 1200, max: 2600 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 0, max: 5 }).map((ms) => ({ kind: 'pause' as const, ms })),
  },
  { weight: 4, arbitrary: specArb.map((spec) => ({ kind: 'subscribe' as const, spec })) },
);

interface Scenario {
  prefix: { streamId: string; events: Shape[] }[];
  steps: Step[];
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  prefix: fc.array(appendArb, { maxLength: 8 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 30 }),
});

function toNew(shape: Shape): NewEvent {
  return { eventType: shape.eventType, data: shape.data, tags: shape.tags };
}

function bulkEvents(step: { eventType: string; count: number }): NewEvent[] {
  return Array.from({ length: step.count }, (_, i) => ({
    eventType: step.eventType,
    // Mostly alike, so that many filters match most of a bulk append.
    data: { n: i % 10 === 0 ? 0 : 2, kind: i % 10 === 1 ? 'y' : 'x', nested: { k: i % 2 } },
    tags: i % 10 === 2 ? [] : ['vip', 'eu', 'us'],
  }));
}

/** A running subscriber: what it received, and the position from which it expects events. */
interface Running {
  spec: SubscriberSpec;
  from: number;
  received: number[];
  subscription: Subscription;
  iterating: Promise<void> | undefined;
}

type Evdb = Awaited<ReturnType<typeof openEvdb>>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function subscribe(
  evdb: Evdb,
  storeId: string,
  spec: SubscriberSpec,
  n: number,
): Promise<Running> {
  const { lastPosition } = await evdb.getStoreStatus(storeId);
  const from =
    spec.start === 'zero'
      ? 0
      : spec.start === 'current'
        ? lastPosition + 1
        : Math.floor(spec.start * (lastPosition + 1));
  const received: number[] = [];
  const { filter } = FILTERS[spec.filter] as FilterCase;
  const consume = async (batch: EventRecord[]): Promise<void> => {
    for (const event of batch) received.push(event.position);
    if (spec.delayMs > 0) await sleep(spec.delayMs);
  };
  const options = spec.persistent
    ? { name: `sub-${n}`, batchSize: spec.batchSize }
    : { ...filter, startFrom: from, batchSize: spec.batchSize };
  if (spec.persistent) {
    await evdb.saveSubscription(storeId, { name: `sub-${n}`, ...filter, startFrom: from });
  }
  if (spec.consumer === 'handler') {
    const subscription = await evdb.subscribe(storeId, options, consume);
    return { spec, from, received, subscription, iterating: undefined };
  }
  const subscription = await evdb.subscribe(storeId, options);
  const iterating = (async () => {
    for await (const batch of subscription) {
      await consume(batch);
      if (spec.persistent) await ackUnlessClosing(subscription, batch[batch.length - 1]!);
    }
  })();
  return { spec, from, received, subscription, iterating };
}

// Subscriptions the scenario is closing. An ack racing that close is refused as `unavailable`
// (the lease is given up, so the checkpoint cannot move): the events would come again, which is
// at-least-once, and not what these scenarios check.
const closing = new WeakSet<Subscription>();

async function ackUnlessClosing(subscription: Subscription, last: EventRecord): Promise<void> {
  try {
    await subscription.ack(last);
  } catch (error) {
    if (!(
      closing.has(subscription) &&
      error instanceof EvdbError &&
      error.code === 'unavailable'
    )) {
      throw error;
    }
  }
}

async function runScenario(evdb: Evdb, scenario: Scenario, storeId: string): Promise<void> {
  await evdb.createStore(storeId);
  const running: Running[] = [];
  try {
    for (const append of scenario.prefix) {
      await evdb.appendEvents(storeId, append.streamId, append.events.map(toNew));
    }
    for (const step of scenario.steps) {
      switch (step.kind) {
        case 'append':
          await evdb.appendEvents(storeId, step.streamId, step.events.map(toNew));
          break;
        case 'burst':
          await Promise.all(
            step.appends.map((a) => evdb.appendEvents(storeId, a.streamId, a.events.map(toNew))),
          );
          break;
        case 'bulk':
          await evdb.appendEvents(storeId, step.streamId, bulkEvents(step));
          break;
        case 'pause':
          await sleep(step.ms);
          break;
        case 'subscribe':
          running.push(await subscribe(evdb, storeId, step.spec, running.length));
          break;
      }
    }
    const all = await readAll(evdb, storeId);
    for (const subscriber of running) {
      const { model } = FILTERS[subscriber.spec.filter] as FilterCase;
      const expected = all
        .filter((event) => event.position >= subscriber.from && model(asShape(event)))
        .map((event) => event.position);
      const deadline = Date.now() + 60_000;
      while (subscriber.received.length < expected.length && Date.now() < deadline) await sleep(5);
      // Anything extra would arrive now.
      await sleep(1);
      assert.deepEqual(
        subscriber.received,
        expected,
        `subscriber ${JSON.stringify(subscriber.spec)} from ${subscriber.from}`,
      );
    }
  } finally {
    for (const subscriber of running) closing.add(subscriber.subscription);
    await Promise.all(running.map((subscriber) => subscriber.subscription.close()));
    for (const subscriber of running) await subscriber.iterating;
    await evdb.removeStore(storeId);
  }
}

async function readAll(evdb: Evdb, storeId: string): Promise<EventRecord[]> {
  const events: EventRecord[] = [];
  for (;;) {
    const page = await evdb.readAllGlobal(
      storeId,
      events.length === 0 ? 0 : (events.at(-1) as EventRecord).position + 1,
      1000,
    );
    if (page.length === 0) return events;
    events.push(...page);
  }
}

function asShape(event: EventRecord): Shape {
  return event as unknown as Shape;
}

let pg: TestPostgres;
const schema = uniqueSchema('fanout');
const dataDir = mkdtempSync(join(tmpdir(), 'evdb-fanout-'));
before(async () => {
  pg = await startPostgres();
});
after(async () => {
  if (!pg.owned) await dropSchemas(pg.url, schema);
  await pg.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const targets: [string, () => Backend, number][] = [
  ['memory', () => memory(), 30],
  ['sqlite', () => sqlite({ dataDir, synchronous: 'off' }), 15],
  ['postgres', () => postgres({ url: pg.url, schema }), 6],
];

for (const [name, backend, numRuns] of targets) {
  describe(`subscriptions on the shared live feed: ${name}`, () => {
    it('each of many random subscriptions receives exactly its events, in order, across catch-up, live and falling behind', async () => {
      const evdb = await openEvdb({ backend: backend() });
      let fellBehind = 0;
      const stop = subscribeTelemetry('subscriptionFellBehind', () => fellBehind++);
      let run = 0;
      try {
        await fc.assert(
          fc.asyncProperty(scenarioArb, (scenario) =>
            runScenario(evdb, scenario, `fanout-${name}-${run++}`),
          ),
          { numRuns },
        );
      } finally {
        stop();
        await evdb.close();
      }
      console.log(
        `# ${name}: ${numRuns} runs, ${fellBehind} subscribers fell behind the live feed`,
      );
    });
  });
}
