import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { postgres } from '../src/backends/postgres/index.js';
import { sign } from '../src/channels/signing.js';
import type { ChannelMessage } from '../src/core/channel-types.js';
import { memory, openEvdb, type Evdb } from '../src/index.js';
import { startPostgres } from '../test/support/postgres.js';
import {
  measureRate,
  progress,
  scaled,
  stats,
  verify,
  type BenchOptions,
  type Row,
} from './lib.js';

/**
 * Channels: publish → deliver latency at a steady 10 000 messages a second (paced on the clock;
 * a publish does not wait for the previous one), on one node (in process; and on PostgreSQL,
 * where the message goes to the cluster bus first) and across two nodes sharing PostgreSQL (two
 * stores in this process, each with its own connections; the subscriber on the other one).
 * Priority: alerts at 100 a second during a flood of 10 000 logging messages a second whose
 * subscriber takes 1 ms per message, against the same alerts without the flood. Throughput: one
 * publisher as fast as it can.
 */

const SUITE = 'channels';
const RATE = 10_000;
const SECONDS = 3;
const secret = 'bench-secret';

interface Latency {
  p50: number;
  p99: number;
  delivered: number;
}

export async function runChannelsBench(options: BenchOptions): Promise<Row[]> {
  const pg = await startPostgres();
  const schema = `bench${randomBytes(3).toString('hex')}`;
  const onPostgres = (): Promise<Evdb> =>
    openEvdb({ backend: postgres({ url: pg.url, schema }), channels: { secret } });
  const lines: string[] = [];
  const rows: Row[] = [];
  try {
    const messages = scaled(options, RATE * SECONDS);
    const runs = { local: [] as Latency[], pgLocal: [] as Latency[], remote: [] as Latency[] };
    const alerts = { calm: [] as Latency[], flood: [] as Latency[] };
    for (let run = 0; run < options.runs; run++) {
      progress(
        `${SUITE} latency run ${run + 1}/${options.runs}: ${messages} messages at ${RATE}/s`,
      );
      const local = await openEvdb({ backend: memory(), channels: { secret } });
      runs.local.push(await pacedLatency(local, local, messages));
      await local.close();
      const [a, b] = await Promise.all([onPostgres(), onPostgres()]);
      runs.pgLocal.push(await pacedLatency(a, a, messages));
      runs.remote.push(await pacedLatency(a, b, messages));
      await Promise.all([a.close(), b.close()]);
      const node = await openEvdb({ backend: memory(), channels: { secret } });
      alerts.calm.push(await alertLatency(node, false, options));
      alerts.flood.push(await alertLatency(node, true, options));
      await node.close();
    }
    const ms = (values: number[]): string => {
      const s = stats(values);
      return `${s.median.toFixed(2)} ms (±${(s.spreadPct / 2).toFixed(0)}%)`;
    };
    const delivered = (result: Latency[], sent: number): string =>
      `${((stats(result.map((r) => r.delivered)).median / sent) * 100).toFixed(1)}%`;
    const row = (
      name: string,
      load: string,
      result: Latency[],
      baseline: string,
      sent: number,
    ): string =>
      `| ${name} | ${load} | ${delivered(result, sent)} | ${ms(result.map((r) => r.p50))} | ${ms(result.map((r) => r.p99))} | ${baseline} |`;
    const pair = (result: Latency[]): string =>
      `${ms(result.map((r) => r.p50))} / ${ms(result.map((r) => r.p99))}`;
    lines.push(
      `${SUITE}: publish called → subscriber handed the message (median of ${options.runs} runs)`,
      '',
      '| workload | load | delivered | p50 | p99 | baseline in the same run: p50 / p99 |',
      '| --- | --- | --- | --- | --- | --- |',
      row('one node, in process (memory)', `${RATE} msg/s`, runs.local, '—', messages),
      row(
        'one node on PostgreSQL (cluster bus first)',
        `${RATE} msg/s`,
        runs.pgLocal,
        `in process: ${pair(runs.local)}`,
        messages,
      ),
      row(
        'across two nodes on PostgreSQL',
        `${RATE} msg/s`,
        runs.remote,
        `same node: ${pair(runs.pgLocal)}`,
        messages,
      ),
      row(
        'alerts during a logging flood, slow logging subscriber',
        `100 alerts/s + ${RATE} logging/s`,
        alerts.flood,
        `alerts alone: ${pair(alerts.calm)}`,
        scaled(options, 100 * SECONDS),
      ),
    );

    const throughput = scaled(options, 100_000);
    const local = await openEvdb({ backend: memory() });
    const inProcess = await measureRate(options.runs, async () => {
      await publishAll(local, local, throughput);
      return throughput;
    });
    const [a, b] = await Promise.all([onPostgres(), onPostgres()]);
    await warmUp(a, b);
    const acrossNodes = await measureRate(options.runs, async () => {
      await publishAll(a, b, scaled(options, 30_000));
      return scaled(options, 30_000);
    });
    await Promise.all([a.close(), b.close()]);
    await local.close();
    rows.push({
      suite: SUITE,
      workload: 'one publisher, as fast as it can, subscriber on another node (PostgreSQL)',
      unit: 'msg/s',
      evdb: acrossNodes,
      baselineName: 'in process (memory)',
      baseline: inProcess,
    });
  } finally {
    await pg.stop();
  }
  console.log(`\n${lines.join('\n')}\n`);
  return rows;
}

/** Connects both nodes to the bus first: what is measured is delivery, not connection setup. */
async function warmUp(from: Evdb, to: Evdb): Promise<void> {
  let arrived = false;
  const sub = await to.channels.subscribe('metrics', 'warm', () => void (arrived = true));
  await from.channels.publish('metrics', 'warm', {});
  while (!arrived) await sleep(5);
  await sub.close();
}

/** Publishes `count` messages paced at RATE on `from`; latency as `to`'s subscriber sees it. */
async function pacedLatency(from: Evdb, to: Evdb, count: number): Promise<Latency> {
  await warmUp(from, to);
  const topic = `bench.${randomBytes(4).toString('hex')}`;
  const latencies: number[] = [];
  const sub = await to.channels.subscribe('metrics', topic, (m: ChannelMessage) => {
    latencies.push(performance.now() - (m.message as { t: number }).t);
  });
  const start = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let sent = 0; sent < count;) {
    const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * RATE) + 1);
    for (; sent < due; sent++) {
      pending.push(from.channels.publish('metrics', topic, { t: performance.now(), n: sent }));
    }
    await sleep(1);
  }
  await Promise.all(pending);
  const deadline = Date.now() + 30_000;
  while (latencies.length + sub.dropped < count && Date.now() < deadline) await sleep(10);
  // A subscriber that falls behind loses its oldest messages (counted), never silently.
  verify(
    latencies.length + sub.dropped === count,
    `delivered ${latencies.length} and dropped ${sub.dropped} of ${count}`,
  );
  await sub.close();
  return { ...percentiles(latencies), delivered: latencies.length };
}

/** Alerts at 100/s for the run's length, with or without the logging flood beside them. */
async function alertLatency(node: Evdb, flood: boolean, options: BenchOptions): Promise<Latency> {
  const alerts: number[] = [];
  const alertSub = await node.channels.subscribe('alerts', 'ops.*', (m) => {
    alerts.push(performance.now() - (m.message as { t: number }).t);
  });
  const logSub = await node.channels.subscribe('logging', 'app.*', () => sleep(1));
  const total = scaled(options, 100 * SECONDS);
  const start = performance.now();
  let logged = 0;
  for (let sent = 0; sent < total;) {
    const elapsed = (performance.now() - start) / 1000;
    if (flood) {
      const due = Math.floor(elapsed * RATE);
      // Ten topics, so that the flood stays under logging's limit of 10 000 a second per topic.
      for (; logged < due; logged++) {
        node.channels.publish('logging', `app.web${logged % 10}`, { n: logged }).catch(fail);
      }
    }
    if (elapsed * 100 >= sent) {
      const alert = sign({ t: performance.now(), n: sent }, secret);
      await node.channels.publish('alerts', 'ops.disk', alert);
      sent++;
    }
    await sleep(1);
  }
  const deadline = Date.now() + 30_000;
  while (alerts.length < total && Date.now() < deadline) await sleep(10);
  verify(
    alerts.length === total,
    `alerts delivered ${alerts.length} of ${total}: none may be lost`,
  );
  await Promise.all([alertSub.close(), logSub.close()]);
  return { ...percentiles(alerts), delivered: alerts.length };
}

/** Publishes `count` messages (1 000 in flight at most) over 8 topics and waits until all are delivered. */
async function publishAll(from: Evdb, to: Evdb, count: number): Promise<void> {
  let delivered = 0;
  // Spread over topics: a topic takes at most 100 000 messages a second (its rate limit), which
  // one publisher on a quiet machine exceeds.
  const sub = await to.channels.subscribe('metrics', 'rate.*', () => void delivered++);
  for (let sent = 0; sent < count; sent += 1000) {
    const batch = Math.min(1000, count - sent);
    // A turn of the event loop between batches, so that delivery keeps up with the publisher.
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all(
      Array.from({ length: batch }, (_, i) =>
        from.channels.publish('metrics', `rate.${(sent + i) % 8}`, { n: sent + i }),
      ),
    );
  }
  const deadline = Date.now() + 60_000;
  while (delivered + sub.dropped < count && Date.now() < deadline) await sleep(5);
  // A subscriber the publisher outruns loses its oldest messages (counted), never silently.
  verify(delivered + sub.dropped === count, `delivered ${delivered} of ${count}`);
  await sub.close();
}

function fail(error: unknown): never {
  throw error instanceof Error ? error : new Error(String(error));
}

function percentiles(values: number[]): { p50: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { p50: at(0.5), p99: at(0.99) };
}
