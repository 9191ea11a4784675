import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { connect } from '../src/client.js';
import type { EventStoreApi, SubscriptionApi } from '../src/core/api.js';
import { openEvdb, sqlite, type EventRecord } from '../src/index.js';
import { startServerProcess } from '../test/support/server-harness.js';
import {
  measurePair,
  progress,
  scaled,
  stats,
  verify,
  type BenchOptions,
  type Row,
  type Stats,
} from './lib.js';
import { runFanOutBench, serverFanOut } from './subscriptions-fanout.js';
import { payload } from './workload.js';

const SUITE = 'subscriptions (sqlite, synchronous=full)';
/** The write load of the latency workload. */
const EVENTS_PER_SECOND = 1000;
/** Catch-up reads and deliveries use pages / batches of this size. */
const PAGE = 1000;

/**
 * Subscriptions on the embedded SQLite store:
 *
 * - latency: a live subscriber under a steady load of 1 000 appends a second, one event each;
 *   each event carries the time its append was called, the subscriber takes the difference on
 *   delivery. Baseline in the same run: the append's own latency (call to acknowledgement).
 *   The same again through the network client over WebSocket (appends and subscription) against
 *   a server in its own process, alternating runs with the embedded one, which is its baseline.
 *   Latencies are not rates, so they are printed in a table of their own.
 * - fan-out: append rates and latency with up to 10 000 live subscriptions, embedded and through
 *   the server (see `subscriptions-fanout.ts`).
 * - catch-up: a persistent subscription from position 0 over 1 000 000 events (a handler, batches
 *   of 1000, checkpoints stored as it goes) against paging through the same events with
 *   `readAllGlobal` (pages of 1000), alternating runs.
 */
export async function runSubscriptionsBench(options: BenchOptions): Promise<Row[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'evdb-bench-subs-'));
  try {
    const fanOut = await runFanOutBench(dataDir, options);
    await latency(dataDir, options);
    return [...fanOut, await catchUp(dataDir, options)];
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The fan-out rows through the server alone: append rates, latency, memory per subscription. */
export async function runSubscriptionsServerBench(options: BenchOptions): Promise<Row[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'evdb-bench-subs-server-'));
  try {
    return await serverFanOut(dataDir, options);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface LatencyRun {
  deliveryP50: number;
  deliveryP99: number;
  appendP50: number;
  appendP99: number;
  rate: number;
}

/** What a latency run needs: the embedded store, or the network client. */
type LiveApi = Pick<EventStoreApi, 'appendEvents'> & Pick<SubscriptionApi, 'subscribe'>;

async function latency(dataDir: string, options: BenchOptions): Promise<void> {
  const events = scaled(options, 5 * EVENTS_PER_SECOND);
  const evdb = await openEvdb({ backend: sqlite({ dataDir: join(dataDir, 'embedded') }) });
  const server = await startServerProcess(join(dataDir, 'server'));
  const client = await connect(server.url, { transport: 'websocket', WebSocket });
  const embedded: LatencyRun[] = [];
  const remote: LatencyRun[] = [];
  try {
    for (const api of [evdb, client]) {
      await api.createStore('latency');
      await api.appendEvents('latency', 'warm-up', [{ eventType: 'Warm', data: payload(0) }]);
    }
    for (let run = 0; run < options.runs; run++) {
      progress(
        `latency run ${run + 1}/${options.runs}: ${events} events at ${EVENTS_PER_SECOND}/s, embedded then remote`,
      );
      embedded.push(await latencyRun(evdb, events));
      remote.push(await latencyRun(client, events));
    }
  } finally {
    await client.close();
    await server.stop();
    await evdb.close();
  }
  const median = (runs: LatencyRun[], pick: (run: LatencyRun) => number): Stats =>
    stats(runs.map(pick));
  const ms = (s: Stats): string => `${s.median.toFixed(2)} ms (±${(s.spreadPct / 2).toFixed(0)}%)`;
  const p50And99 = (runs: LatencyRun[], p50: keyof LatencyRun, p99: keyof LatencyRun): string =>
    `${ms(median(runs, (r) => r[p50]))} / ${ms(median(runs, (r) => r[p99]))}`;
  const load = (runs: LatencyRun[]): string =>
    `${median(runs, (r) => r.rate).median.toFixed(0)} events/s`;
  const p99 = median(embedded, (r) => r.deliveryP99);
  console.log(
    [
      '',
      `${SUITE}: end-to-end latency, append called → live subscriber handed the event (median of ${options.runs} runs)`,
      '',
      '| workload | achieved load | p50 | p99 | baseline in the same run: p50 / p99 | target |',
      '| --- | --- | --- | --- | --- | --- |',
      `| live subscriber (by_stream), 1 event per append | ${load(embedded)} | ` +
        `${ms(median(embedded, (r) => r.deliveryP50))} | ${ms(p99)} | ` +
        `append → acknowledged: ${p50And99(embedded, 'appendP50', 'appendP99')} | ` +
        `p99 < 5 ms: ${p99.median < 5 ? 'met' : '**not met**'} |`,
      `| the same through the WebSocket client, server in its own process (appends through the client too) | ${load(remote)} | ` +
        `${ms(median(remote, (r) => r.deliveryP50))} | ${ms(median(remote, (r) => r.deliveryP99))} | ` +
        `embedded subscriber: ${p50And99(embedded, 'deliveryP50', 'deliveryP99')}; remote append → acknowledged: ${p50And99(remote, 'appendP50', 'appendP99')} | — |`,
      '',
    ].join('\n'),
  );
}

async function latencyRun(evdb: LiveApi, events: number): Promise<LatencyRun> {
  const deliveries: number[] = [];
  const appends: number[] = [];
  let done: () => void = () => undefined;
  const allDelivered = new Promise<void>((resolve) => {
    done = resolve;
  });
  const sub = await evdb.subscribe(
    'latency',
    { type: 'by_stream', selector: 'load', batchSize: 100 },
    (batch) => {
      const now = performance.now();
      for (const event of batch) deliveries.push(now - (event.data as { sentAt: number }).sentAt);
      if (deliveries.length >= events) done();
    },
  );
  const started = performance.now();
  const appending: Promise<void>[] = [];
  for (let i = 0; i < events; i++) {
    // Paced on the clock, not on the previous append (which is not awaited): a slow append
    // does not lower the load.
    const due = started + (i * 1000) / EVENTS_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sentAt = performance.now();
    appending.push(
      evdb
        .appendEvents('latency', 'load', [{ eventType: 'Tick', data: { sentAt, i } }])
        .then(() => {
          appends.push(performance.now() - sentAt);
        }),
    );
  }
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(appending);
  await allDelivered;
  await sub.close();
  verify(deliveries.length === events, `${deliveries.length} of ${events} events delivered`);
  return {
    deliveryP50: percentile(deliveries, 0.5),
    deliveryP99: percentile(deliveries, 0.99),
    appendP50: percentile(appends, 0.5),
    appendP99: percentile(appends, 0.99),
    rate: events / elapsed,
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

async function catchUp(dataDir: string, options: BenchOptions): Promise<Row> {
  const total = scaled(options, 1_000_000);
  progress(`catch-up: writing ${total} events`);
  // Written without fsync to save time; the measured runs reopen the store with the default.
  const writer = await openEvdb({ backend: sqlite({ dataDir, synchronous: 'off' }) });
  await writer.createStore('catchup');
  for (let n = 0; n < total; n += 5000) {
    const count = Math.min(5000, total - n);
    await writer.appendEvents(
      'catchup',
      `order-${(n / 5000) % 100}`,
      Array.from({ length: count }, (_, i) => ({ eventType: 'OrderPlaced', data: payload(n + i) })),
    );
  }
  await writer.close();

  const evdb = await openEvdb({ backend: sqlite({ dataDir }) });
  try {
    const [subscription, readAll] = await measurePair(
      options.runs,
      async (run) => {
        const name = `catch-up-${run}`;
        await evdb.saveSubscription('catchup', {
          name,
          type: 'by_stream',
          selector: '$all',
          startFrom: 0,
        });
        let delivered = 0;
        let next = 0;
        let done: () => void = () => undefined;
        const finished = new Promise<void>((resolve) => {
          done = resolve;
        });
        const sub = await evdb.subscribe('catchup', { name, batchSize: PAGE }, (batch) => {
          for (const event of batch) {
            verify(event.position === next, `position ${event.position}, expected ${next}`);
            next++;
          }
          delivered += batch.length;
          if (delivered >= total) done();
        });
        await finished;
        await sub.close();
        const { checkpoint } = await evdb.getSubscription('catchup', name);
        verify(checkpoint === total - 1, `checkpoint ${checkpoint}, expected ${total - 1}`);
        return delivered;
      },
      async () => {
        let read = 0;
        let from = 0;
        for (;;) {
          const page = await evdb.readAllGlobal('catchup', from, PAGE);
          if (page.length === 0) break;
          read += page.length;
          from = (page[page.length - 1] as EventRecord).position + 1;
        }
        verify(read === total, `read ${read} of ${total}`);
        return read;
      },
    );
    return {
      suite: SUITE,
      workload: `catch-up of a persistent subscription over ${total} events (batches of ${PAGE})`,
      unit: 'events/s',
      evdb: subscription,
      baselineName: `readAllGlobal pages of ${PAGE}`,
      baseline: readAll,
      target: { ratio: 0.7, label: '≥ 70% of readAllGlobal' },
    };
  } finally {
    await evdb.close();
  }
}
