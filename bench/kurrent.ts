// The KurrentDB endpoint: the official KurrentDB Node client (@kurrent/kurrentdb-client, its
// grpc-js half for appends and subscriptions, its Rust half for reads) against a local
// `evdb serve --kurrent-port`, beside evdb's own client (WebSocket) on the same server doing the
// same work, in alternating runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  KurrentDBClient,
  NO_STREAM,
  START,
  jsonEvent,
  type AppendStreamState,
} from '@kurrent/kurrentdb-client';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import { measurePair, progress, scaled, verify, type BenchOptions, type Row } from './lib.js';
import { newEvent, payload } from './workload.js';

const SUITE = 'kurrent (KurrentDB client → evdb, SQLite)';
const BASELINE = 'evdb client (WebSocket)';
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

interface Serve {
  url: string;
  kurrent: string;
  child: ChildProcess;
}

async function startServe(dataDir: string): Promise<Serve> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'serve', '--port', '0', '--kurrent-port', '0', '--data-dir', dataDir],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, EVDB_LOG_LEVEL: 'silent' } },
  );
  let url: string | undefined;
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    const listening = /^evdb listening on (\S+)$/.exec(line);
    if (listening !== null) url = listening[1];
    const kurrent = /^KurrentDB clients: (\S+)$/.exec(line);
    if (kurrent !== null && url !== undefined) return { url, kurrent: kurrent[1] as string, child };
  }
  throw new Error('evdb serve exited before listening');
}

/** The same operations through either client, on one store. */
interface Side {
  append(stream: string, events: number, expected: number): Promise<void>;
  readAll(): Promise<number>;
  catchUp(total: number): Promise<number>;
}

function kurrentSide(client: KurrentDBClient): Side {
  return {
    async append(stream, events, expected) {
      const streamState: AppendStreamState = expected < 0 ? NO_STREAM : BigInt(expected);
      await client.appendToStream(
        stream,
        Array.from({ length: events }, (_, n) =>
          jsonEvent({ type: 'OrderPlaced', data: payload(n) }),
        ),
        { streamState },
      );
    },
    async readAll() {
      let count = 0;
      for await (const event of client.readAll({ fromPosition: START })) {
        if (event.event !== undefined) count++;
      }
      return count;
    },
    async catchUp(total) {
      const subscription = client.subscribeToAll({ fromPosition: START });
      let count = 0;
      for await (const event of subscription) {
        if (event.event !== undefined) count++;
        if (count === total) break;
      }
      await subscription.unsubscribe();
      return count;
    },
  };
}

function evdbSide(client: EvdbClient, storeId: () => string): Side {
  return {
    async append(stream, events, expected) {
      await client.appendEvents(
        storeId(),
        stream,
        Array.from({ length: events }, (_, n) => newEvent(n)),
        expected,
      );
    },
    async readAll() {
      let count = 0;
      let from = 0;
      for (;;) {
        const page = await client.readAllGlobal(storeId(), from, 10_000);
        const last = page.at(-1);
        if (last === undefined) return count;
        count += page.length;
        from = last.position + 1;
      }
    },
    async catchUp(total) {
      const subscription = await client.subscribe(storeId(), {
        type: 'by_stream',
        selector: '$all',
        startFrom: 0,
      });
      let count = 0;
      for await (const batch of subscription) {
        count += batch.length;
        if (count >= total) break;
      }
      await subscription.close();
      return count;
    },
  };
}

export async function runKurrentBench(options: BenchOptions): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'evdb-bench-kurrent-'));
  const server = await startServe(dir);
  const evdb = await connect(server.url, {
    transport: 'websocket',
    WebSocket,
    retry: { retries: 0 },
  });
  const kurrentClients: KurrentDBClient[] = [];
  /**
   * A fresh store per run and side, set up before the measured part: its KurrentDB client has
   * connected and made one append (its discovery and BatchAppend stream are open), and so has
   * the evdb side, so each store starts with one warm-up event.
   */
  let storeCount = 0;
  const fresh = async (): Promise<{ kurrent: Side; evdb: Side; storeId: string }> => {
    const storeId = `bench-${storeCount++}`;
    await evdb.createStore(storeId);
    const client = KurrentDBClient.connectionString(
      `${server.kurrent}&connectionName=store:${storeId}`,
    );
    kurrentClients.push(client);
    return { kurrent: kurrentSide(client), evdb: evdbSide(evdb, () => storeId), storeId };
  };
  const warmStore = async (side: 'kurrent' | 'evdb') => {
    const store = await fresh();
    await store[side].append('warm-up', 1, -1);
    return { side: store[side], storeId: store.storeId };
  };
  const rows: Row[] = [];
  const pair = async (
    workload: string,
    work: (side: Side, storeId: string) => Promise<number>,
  ): Promise<void> => {
    progress(`kurrent: ${workload}`);
    const kurrentStores: { side: Side; storeId: string }[] = [];
    const evdbStores: { side: Side; storeId: string }[] = [];
    for (let run = 0; run < options.runs; run++) {
      kurrentStores.push(await warmStore('kurrent'));
      evdbStores.push(await warmStore('evdb'));
    }
    const [kurrent, own] = await measurePair(
      options.runs,
      (run) => work(kurrentStores[run]!.side, kurrentStores[run]!.storeId),
      (run) => work(evdbStores[run]!.side, evdbStores[run]!.storeId),
    );
    rows.push({
      suite: SUITE,
      workload,
      unit: 'events/s',
      evdb: kurrent,
      baselineName: BASELINE,
      baseline: own,
    });
  };
  const stored = async (storeId: string, expected: number): Promise<void> => {
    // Plus the warm-up event.
    const total = (await evdb.getStoreStatus(storeId)).totalEvents - 1;
    verify(total === expected, `${total} of ${expected} events stored`);
  };

  try {
    const sequential = scaled(options, 500);
    await pair(`${sequential} sequential appends of 1 event`, async (side, storeId) => {
      for (let i = 0; i < sequential; i++) await side.append(`order-${i}`, 1, -1);
      await stored(storeId, sequential);
      return sequential;
    });
    const batches = scaled(options, 100);
    await pair(`${batches} sequential appends of 100 events`, async (side, storeId) => {
      for (let i = 0; i < batches; i++) await side.append(`order-${i}`, 100, -1);
      await stored(storeId, batches * 100);
      return batches * 100;
    });
    const appenders = 64;
    const perAppender = scaled(options, 50);
    await pair(
      `${appenders} concurrent appenders x ${perAppender} single events`,
      async (side, storeId) => {
        await Promise.all(
          Array.from({ length: appenders }, async (_, a) => {
            for (let i = 0; i < perAppender; i++) await side.append(`order-${a}`, 1, i - 1);
          }),
        );
        await stored(storeId, appenders * perAppender);
        return appenders * perAppender;
      },
    );

    // Reads and catch-up run on one populated store, the same for both clients.
    const total = scaled(options, 100_000);
    const { evdb: filler, storeId } = await fresh();
    progress(`kurrent: populating a store of ${total} events`);
    for (let i = 0; i < total; i += 1000)
      await filler.append(`order-${i / 1000}`, Math.min(1000, total - i), -1);
    const kurrentReader = KurrentDBClient.connectionString(
      `${server.kurrent}&connectionName=store:${storeId}`,
    );
    kurrentClients.push(kurrentReader);
    const readers = { kurrent: kurrentSide(kurrentReader), evdb: evdbSide(evdb, () => storeId) };
    // Connected (both halves of the KurrentDB client) before anything is measured.
    for await (const event of kurrentReader.readAll({ maxCount: 1 }))
      verify(event.event !== undefined, 'warm-up read');
    await kurrentReader.appendToStream('warm-up', jsonEvent({ type: 'WarmUp', data: {} }));
    const all = total + 1;
    for (const [workload, work] of [
      [`$all read of ${total} events`, (side: Side) => side.readAll()],
      [`subscription catch-up over ${total} events`, (side: Side) => side.catchUp(all)],
    ] as const) {
      progress(`kurrent: ${workload}`);
      const check = (side: Side) => async () => {
        const count = await work(side);
        verify(count === all, `${workload}: ${count} of ${all}`);
        return count;
      };
      const [kurrent, own] = await measurePair(
        options.runs,
        check(readers.kurrent),
        check(readers.evdb),
      );
      rows.push({
        suite: SUITE,
        workload,
        unit: 'events/s',
        evdb: kurrent,
        baselineName: BASELINE,
        baseline: own,
      });
    }
  } finally {
    await Promise.all(kurrentClients.map((client) => client.dispose()));
    await evdb.close();
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
