import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket } from 'ws';
import { connect } from '../src/client.js';
import type { EventStoreApi, SubscriptionApi } from '../src/core/api.js';
import type { Subscription } from '../src/core/types.js';
import { openEvdb, sqlite, type EventRecord } from '../src/index.js';
import { startServer } from '../src/server.js';
import { startServerProcess } from '../test/support/server-harness.js';
import {
  SUBSCRIPTIONS_PER_CONNECTION,
  expectedCounts,
  nth,
  openSelective,
  selective,
} from './fanout-workload.js';
import { progress, scaled, stats, verify, type BenchOptions, type Row, type Stats } from './lib.js';
import type { FleetReply, FleetRequest } from './subscriber-fleet.js';

const SUITE = 'subscriptions fan-out (sqlite, synchronous=full)';
const FLEET = fileURLToPath(new URL('./subscriber-fleet.ts', import.meta.url));
const APPENDERS = 32;
const EMBEDDED_COUNTS = [0, 100, 1000, 10_000];
/** Remote subscriptions, ten per WebSocket connection (2 000 over 200 connections). */
const REMOTE_COUNTS = [0, 100, 1000, 2000];
const LATENCY_EVENTS_PER_SECOND = 1000;
const LATENCY_SUBSCRIPTIONS = 1000;

type Writer = Pick<EventStoreApi, 'appendEvents' | 'createStore'> &
  Pick<SubscriptionApi, 'subscribe'>;

/** Where the selective subscriptions live: in this process (embedded), or in the fleet process. */
interface SubscriberPool {
  open(storeId: string, count: number): Promise<void>;
  received(): Promise<Int32Array>;
  closeAll(): Promise<void>;
}

/**
 * The cost of many live subscriptions, embedded on SQLite and through the server:
 *
 * - append rate (32 appenders, single-event appends) with 0, 100, 1 000 and 10 000 (through the
 *   server 2 000) selective
 *   live subscriptions (by stream, type, stream pattern and payload, each matching 0.1% of the
 *   events, or 0.025% by stream), the counts alternating within each run. Every subscription
 *   must have received exactly its events before the next measurement. Through the server the
 *   subscriptions sit in a process of their own (ten per WebSocket connection), as remote
 *   subscribers would, and the appends come from the bench process over one more connection.
 * - delivery latency at 1 000 appends a second to a subscriber of every event (in the process
 *   that appends), alone and beside 999 selective subscriptions.
 * - memory per idle live subscription.
 */
export async function runFanOutBench(dataDir: string, options: BenchOptions): Promise<Row[]> {
  return [...(await embeddedFanOut(dataDir, options)), ...(await serverFanOut(dataDir, options))];
}

async function embeddedFanOut(dataDir: string, options: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const evdb = await openEvdb({ backend: sqlite({ dataDir: join(dataDir, 'fanout') }) });
  try {
    const pool = embeddedPool(evdb);
    const events = scaled(options, 20_000);
    rows.push(...(await appendRates('embedded', evdb, pool, EMBEDDED_COUNTS, events, options)));
    rows.push(await latencies('embedded', evdb, pool, options));
    await embeddedMemory(evdb, scaled(options, 10_000));
  } finally {
    await evdb.close();
  }
  return rows;
}

/** The rows through the server alone (`npm run bench -- --only subscriptions-server`). */
export async function serverFanOut(dataDir: string, options: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const server = await startServerProcess(join(dataDir, 'fanout-server'));
  const client = await connect(server.url, { transport: 'websocket', WebSocket });
  const fleet = await Fleet.start();
  try {
    const connections = Math.max(...REMOTE_COUNTS) / SUBSCRIPTIONS_PER_CONNECTION;
    progress(`fan-out: the subscriber process opens ${connections} WebSocket connections`);
    await fleet.request({ type: 'connect', url: server.url, connections });
    const where = 'through the server (WebSocket)';
    // Fewer events than embedded: one connection's appends are several times slower.
    const events = scaled(options, 5000);
    rows.push(...(await appendRates(where, client, fleet, REMOTE_COUNTS, events, options)));
    rows.push(await latencies(where, client, fleet, options));
  } finally {
    await fleet.stop();
    await client.close();
    await server.stop();
  }
  await remoteMemory(join(dataDir, 'fanout-memory'), Math.max(...REMOTE_COUNTS));
  return rows;
}

function embeddedPool(evdb: Pick<SubscriptionApi, 'subscribe'>): SubscriberPool {
  let open: { subscriptions: Subscription[]; received: Int32Array } | undefined;
  return {
    async open(storeId, count) {
      open = await openSelective([evdb], storeId, count);
    },
    received: () => Promise.resolve(open?.received ?? new Int32Array(0)),
    async closeAll() {
      await Promise.all((open?.subscriptions ?? []).map((subscription) => subscription.close()));
      open = undefined;
    },
  };
}

/** The subscriber process (`subscriber-fleet.ts`), one request at a time. */
class Fleet implements SubscriberPool {
  private readonly exited: Promise<never>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = once(child, 'exit').then(() => {
      throw new Error('the subscriber process exited');
    });
    this.exited.catch(() => undefined);
  }

  static async start(): Promise<Fleet> {
    const child = fork(FLEET, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    await once(child, 'spawn');
    return new Fleet(child);
  }

  async request(request: FleetRequest): Promise<FleetReply & { type: 'ok' }> {
    const replied = once(this.child, 'message') as Promise<[FleetReply]>;
    this.child.send(request);
    const [reply] = await Promise.race([replied, this.exited]);
    if (reply.type === 'error') throw new Error(`subscriber process: ${reply.message}`);
    return reply;
  }

  async open(storeId: string, count: number): Promise<void> {
    await this.request({ type: 'open', storeId, count });
  }

  async received(): Promise<Int32Array> {
    return Int32Array.from((await this.request({ type: 'received' })).received ?? []);
  }

  async closeAll(): Promise<void> {
    await this.request({ type: 'close' });
  }

  /** The subscriber process's heap after full collections, in bytes. */
  async heapUsed(): Promise<number> {
    return (await this.request({ type: 'heap' })).heapUsed ?? 0;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.send({ type: 'exit' } satisfies FleetRequest);
    await this.exited.catch(() => undefined);
  }
}

async function appendRates(
  where: string,
  writer: Writer,
  pool: SubscriberPool,
  counts: number[],
  events: number,
  options: BenchOptions,
): Promise<Row[]> {
  const rates = new Map<number, number[]>(counts.map((count) => [count, []]));
  let store = 0;
  for (let run = 0; run < options.runs; run++) {
    for (const count of counts) {
      progress(`fan-out ${where}, run ${run + 1}/${options.runs}: ${count} live subscriptions`);
      const storeId = `fanout-${store++}`;
      await writer.createStore(storeId);
      await pool.open(storeId, count);
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: APPENDERS }, async () => {
          for (let n = next++; n < events; n = next++) {
            const { streamId, event } = nth(n);
            await writer.appendEvents(storeId, streamId, [event]);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      (rates.get(count) as number[]).push(events / seconds);
      await allReceived(pool, expectedCounts(count, events));
      await pool.closeAll();
    }
  }
  const baseline = stats(rates.get(0) as number[]);
  return counts
    .filter((count) => count > 0)
    .map((count) => ({
      suite: SUITE,
      workload: `${where}: append rate, ${APPENDERS} appenders of 1 event (${events} events), ${count} selective live subscriptions${
        where === 'embedded'
          ? ''
          : ` over ${Math.ceil(count / SUBSCRIPTIONS_PER_CONNECTION)} connections`
      }`,
      unit: 'events/s',
      evdb: stats(rates.get(count) as number[]),
      baselineName: 'no subscriptions',
      baseline,
      target: count === 1000 ? { ratio: 0.8, label: '≥ 0.8× of no subscriptions' } : undefined,
    }));
}

/** Waits until every subscription received what it must, and checks it got no more. */
async function allReceived(pool: SubscriberPool, expected: Int32Array): Promise<void> {
  const deadline = performance.now() + 120_000;
  let received = await pool.received();
  const done = (): boolean => received.every((count, i) => count >= (expected[i] as number));
  while (!done() && performance.now() < deadline) {
    await sleep(20);
    received = await pool.received();
  }
  await sleep(50);
  received = await pool.received();
  verify(received.length === expected.length, `${received.length} subscriptions reported`);
  for (let i = 0; i < received.length; i++) {
    verify(
      received[i] === expected[i],
      `subscription ${i} (${JSON.stringify(selective(i))}) received ${received[i]} events, expected ${expected[i]}`,
    );
  }
}

async function latencies(
  where: string,
  writer: Writer,
  pool: SubscriberPool,
  options: BenchOptions,
): Promise<Row> {
  const events = scaled(options, 5 * LATENCY_EVENTS_PER_SECOND);
  const alone: number[] = [];
  const crowded: number[] = [];
  let store = 0;
  for (let run = 0; run < options.runs; run++) {
    for (const others of [0, LATENCY_SUBSCRIPTIONS - 1]) {
      progress(
        `fan-out latency ${where}, run ${run + 1}/${options.runs}: ${events} events at ${LATENCY_EVENTS_PER_SECOND}/s, ${others + 1} subscriptions`,
      );
      const storeId = `latency-${store++}`;
      await writer.createStore(storeId);
      await pool.open(storeId, others);
      const p99 = await latencyRun(writer, storeId, events);
      await allReceived(pool, expectedCounts(others, events));
      await pool.closeAll();
      (others === 0 ? alone : crowded).push(p99);
    }
  }
  // Latencies: lower is better, so the row's figure is the inverse (ratio ≥ 0.5 ⇔ p99 ≤ 2×).
  const inverse = (values: number[]): Stats => stats(values.map((ms) => 1000 / ms));
  const crowdedMs = stats(crowded).median;
  const aloneMs = stats(alone).median;
  return {
    suite: SUITE,
    workload: `${where}: delivery latency p99 at ${LATENCY_EVENTS_PER_SECOND} appends/s to a subscriber of every event, beside ${LATENCY_SUBSCRIPTIONS - 1} selective subscriptions: p99 ${crowdedMs.toFixed(2)} ms (shown as 1000/p99)`,
    unit: '/s',
    evdb: inverse(crowded),
    baselineName: `the subscriber alone, p99 ${aloneMs.toFixed(2)} ms`,
    baseline: inverse(alone),
    target: { ratio: 0.5, label: 'p99 within 2× of one subscription' },
  };
}

/** p99 of append called → handed to a subscriber of every event (in this process), in ms. */
async function latencyRun(writer: Writer, storeId: string, events: number): Promise<number> {
  const deliveries: number[] = [];
  const measured = await writer.subscribe(
    storeId,
    { type: 'by_stream', selector: '$all', batchSize: 100 },
    (batch: EventRecord[]) => {
      const now = wallClock();
      for (const event of batch) deliveries.push(now - (event.data as { sentAt: number }).sentAt);
    },
  );
  const started = performance.now();
  const appending: Promise<unknown>[] = [];
  for (let n = 0; n < events; n++) {
    // Paced on the clock, not on the previous append (not awaited): a slow append does not
    // lower the load.
    const wait = started + (n * 1000) / LATENCY_EVENTS_PER_SECOND - performance.now();
    if (wait > 0) await sleep(wait);
    const { streamId, event } = nth(n, wallClock());
    appending.push(writer.appendEvents(storeId, streamId, [event]));
  }
  await Promise.all(appending);
  const deadline = performance.now() + 60_000;
  while (deliveries.length < events && performance.now() < deadline) await sleep(5);
  verify(deliveries.length === events, `${deliveries.length} of ${events} events delivered`);
  await measured.close();
  const sorted = deliveries.sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] as number;
}

/** Milliseconds on a clock shared by the processes of the benchmark. */
function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Heap per idle live subscription (caught up, filed in the store's live feed). */
async function embeddedMemory(evdb: Writer, count: number): Promise<void> {
  progress(`fan-out memory: ${count} idle subscriptions`);
  await evdb.createStore('memory');
  await evdb.appendEvents('memory', 'warm', [{ eventType: 'Warm', data: {} }]);
  const samples: number[] = [];
  for (let run = 0; run < 3; run++) {
    const before = heapUsed();
    const { subscriptions } = await openSelective([evdb], 'memory', count);
    await sleep(50);
    samples.push((heapUsed() - before) / count);
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
    // Not kept alive into the next sample's baseline by this function's scope.
    subscriptions.length = 0;
  }
  console.log(
    `\n${SUITE}: heap per idle live subscription, embedded, ${count} subscriptions: ` +
      `${(stats(samples).median / 1024).toFixed(1)} KiB (median of 3, after full collections)\n`,
  );
}

/**
 * The server's heap per idle remote subscription: measured on a server in this process (where
 * a full collection can be forced), the subscriptions held by the subscriber process.
 */
async function remoteMemory(dataDir: string, count: number): Promise<void> {
  const connections = count / SUBSCRIPTIONS_PER_CONNECTION;
  progress(`fan-out memory through the server: ${count} idle subscriptions`);
  const server = await startServer({ dataDir, port: 0 });
  const fleet = await Fleet.start();
  try {
    await fleet.request({ type: 'connect', url: server.url, connections });
    const client = await connect(server.url, { transport: 'websocket', WebSocket });
    await client.createStore('memory');
    await client.close();
    const samples: number[] = [];
    const clientSamples: number[] = [];
    for (let run = 0; run < 3; run++) {
      const before = heapUsed();
      const clientBefore = await fleet.heapUsed();
      await fleet.open('memory', count);
      await sleep(100);
      samples.push((heapUsed() - before) / count);
      clientSamples.push(((await fleet.heapUsed()) - clientBefore) / count);
      await fleet.closeAll();
    }
    const kib = (values: number[]): string => (stats(values).median / 1024).toFixed(1);
    console.log(
      `\n${SUITE}: heap per idle remote subscription, ${count} over ${connections} connections: ` +
        `server ${kib(samples)} KiB, client ${kib(clientSamples)} KiB (median of 3, after full collections)\n`,
    );
  } finally {
    await fleet.stop();
    await server.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
