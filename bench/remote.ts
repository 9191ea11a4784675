// Remote workloads: the client against a local `evdb serve` in its own process, each measured
// against the same workload on the embedded store in the same run.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import type { EventStoreApi } from '../src/core/api.js';
import { openEvdb, sqlite, type EventRecord } from '../src/index.js';
import { measurePair, progress, scaled, verify, type BenchOptions, type Row } from './lib.js';
import { newEvent } from './workload.js';

const SUITE = 'remote (client → local server, SQLite)';
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/** `evdb serve` on a data directory, in its own process; resolves once it listens. */
async function startServe(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CLI,
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'silent',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const match = /^evdb listening on (\S+)$/.exec(line);
    if (match !== null) return { url: match[1] as string, child };
  }
  throw new Error('evdb serve exited before listening');
}

export async function runRemoteBench(options: BenchOptions): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'evdb-bench-remote-'));
  const localDir = join(dir, 'local');
  const serverDir = join(dir, 'server');
  mkdirSync(serverDir, { recursive: true });
  const rows: Row[] = [];
  const reads = scaled(options, 1_000_000);
  // One store of `reads` events, written once embedded and copied for the server, so that both
  // read the same file contents.
  progress(`populating a store of ${reads} events`);
  const seed = await openEvdb({ backend: sqlite({ dataDir: localDir }) });
  await seed.createStore('reads');
  for (let i = 0; i < reads; i += 5000) {
    const events = Array.from({ length: Math.min(5000, reads - i) }, (_, k) => newEvent(i + k));
    await seed.appendEvents('reads', `order-${(i / 5000) % 1000}`, events);
  }
  await seed.close();
  copyFileSync(join(localDir, 'reads.sqlite'), join(serverDir, 'reads.sqlite'));

  const embedded = await openEvdb({ backend: sqlite({ dataDir: localDir }) });
  const server = await startServe(serverDir);
  const http = await connect(server.url, { retry: { retries: 0 } });
  const ws = await connect(server.url, {
    transport: 'websocket',
    WebSocket,
    retry: { retries: 0 },
  });
  try {
    for (const [name, client] of [
      ['http', http],
      ['websocket', ws],
    ] as const) {
      rows.push(...(await appendWorkloads(name, client, embedded, options)));
    }
    for (const [name, client] of [
      ['http', http],
      ['websocket', ws],
    ] as const) {
      rows.push(await readWorkload(name, client, embedded, reads, options));
    }
  } finally {
    await http.close();
    await ws.close();
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
    await embedded.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

async function appendWorkloads(
  transport: string,
  client: EvdbClient,
  embedded: EventStoreApi,
  options: BenchOptions,
): Promise<Row[]> {
  const sequential = scaled(options, 1000);
  progress(`${transport}: ${sequential} sequential single-event appends, remote vs embedded`);
  const sequentialRun =
    (store: EventStoreApi, prefix: string) =>
    async (run: number): Promise<number> => {
      const storeId = `${prefix}-seq-${transport}-${run}`;
      await store.createStore(storeId);
      for (let i = 0; i < sequential; i++)
        await store.appendEvents(storeId, `order-${i % 100}`, [newEvent(i)]);
      verify(
        (await store.getStoreStatus(storeId)).totalEvents === sequential,
        'sequential appends stored',
      );
      return sequential;
    };
  const [seqRemote, seqEmbedded] = await measurePair(
    options.runs,
    sequentialRun(client, 'r'),
    sequentialRun(embedded, 'e'),
  );

  const appenders = 64;
  const perAppender = scaled(options, 400);
  progress(`${transport}: ${appenders} concurrent appenders x ${perAppender} single-event appends`);
  const concurrentRun =
    (store: EventStoreApi, prefix: string) =>
    async (run: number): Promise<number> => {
      const storeId = `${prefix}-conc-${transport}-${run}`;
      await store.createStore(storeId);
      await Promise.all(
        Array.from({ length: appenders }, async (_, a) => {
          for (let i = 0; i < perAppender; i++)
            await store.appendEvents(storeId, `order-${a}`, [newEvent(i)], i - 1);
        }),
      );
      verify(
        (await store.getStoreStatus(storeId)).totalEvents === appenders * perAppender,
        'concurrent appends stored',
      );
      return appenders * perAppender;
    };
  const [concRemote, concEmbedded] = await measurePair(
    options.runs,
    concurrentRun(client, 'r'),
    concurrentRun(embedded, 'e'),
  );
  return [
    {
      suite: SUITE,
      workload: `${transport}: sequential single-event appends`,
      unit: 'events/s',
      evdb: seqRemote,
      baselineName: 'embedded, same workload',
      baseline: seqEmbedded,
    },
    {
      suite: SUITE,
      workload: `${transport}: ${appenders} concurrent appenders, single events`,
      unit: 'events/s',
      evdb: concRemote,
      baselineName: 'embedded, same workload',
      baseline: concEmbedded,
      target: { rate: 20_000, label: '≥ 20 000 events/s' },
    },
  ];
}

async function readWorkload(
  transport: string,
  client: EvdbClient,
  embedded: EventStoreApi,
  total: number,
  options: BenchOptions,
): Promise<Row> {
  const page = 10_000;
  progress(`${transport}: readAllGlobal over ${total} events, pages of ${page}`);
  const readAll = (store: EventStoreApi) => async (): Promise<number> => {
    let count = 0;
    let from = 0;
    let last = -1;
    for (;;) {
      const events: EventRecord[] = await store.readAllGlobal('reads', from, page);
      if (events.length === 0) break;
      for (const event of events) {
        verify(event.position > last, 'strictly increasing positions');
        last = event.position;
      }
      count += events.length;
      from = last + 1;
    }
    verify(count === total, `read ${count} of ${total}`);
    return count;
  };
  const [remote, local] = await measurePair(options.runs, readAll(client), readAll(embedded));
  return {
    suite: SUITE,
    workload: `${transport}: readAllGlobal over ${total} events, pages of ${page}`,
    unit: 'events/s',
    evdb: remote,
    baselineName: 'embedded, same pages',
    baseline: local,
    target: { ratio: 0.4, rate: 150_000, label: '≥ 150 000 events/s and ≥ 0.40 of embedded' },
  };
}
