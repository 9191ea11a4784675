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
import { postgres } from '../src/backends/postgres/index.js';
import { openEvdb, sqlite, type EventRecord, type NewEvent } from '../src/index.js';
import { startPostgres } from '../test/support/postgres.js';
import {
  measurePair,
  progress,
  scaled,
  verify,
  wants,
  type BenchOptions,
  type Row,
} from './lib.js';
import { newEvent, withIds, type IdKind } from './workload.js';

const SUITE = 'remote (client → local server, SQLite)';
const PG_SUITE = 'remote (client → local server, PostgreSQL)';
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/**
 * `evdb serve` on a data directory (SQLite) or a PostgreSQL server, in its own process; resolves
 * once it listens.
 */
async function startServe(
  backend: { dataDir: string } | { pgUrl: string },
): Promise<{ url: string; child: ChildProcess }> {
  const where =
    'dataDir' in backend ? ['--data-dir', backend.dataDir] : ['--pg-url', backend.pgUrl];
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'serve', '--port', '0', ...where, '--log-level', 'silent'],
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
  const rows: Row[] = [];
  if (wants(options, 'sqlite')) rows.push(...(await sqliteRows(options)));
  if (wants(options, 'postgres')) rows.push(...(await postgresRows(options)));
  return rows;
}

/** Over HTTP and WebSocket against SQLite: appends (ids as the client gives them) and reads. */
async function sqliteRows(options: BenchOptions): Promise<Row[]> {
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
  const server = await startServe({ dataDir: serverDir });
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
      rows.push(...(await appendWorkloads(SUITE, name, client, embedded, options)));
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

/**
 * 64 appenders through one `evdb serve` node on PostgreSQL against the embedded PostgreSQL
 * backend with the same appenders and ids (UUIDv7, as the client gives them, and random
 * UUIDv4), on one throwaway cluster, alternating in one run.
 */
async function postgresRows(options: BenchOptions): Promise<Row[]> {
  const cluster = await startPostgres();
  const embedded = await openEvdb({
    backend: postgres({ url: cluster.url, schema: 'evdb_embedded' }),
  });
  const server = await startServe({ pgUrl: cluster.url });
  const http = await connect(server.url, { retry: { retries: 0 } });
  const ws = await connect(server.url, {
    transport: 'websocket',
    WebSocket,
    retry: { retries: 0 },
  });
  const rows: Row[] = [];
  try {
    for (const [name, client] of [
      ['websocket', ws],
      ['http', http],
    ] as const) {
      for (const ids of ['v7', 'v4'] as const) {
        rows.push(await concurrentWorkload(PG_SUITE, name, client, embedded, options, ids, 0.7));
      }
    }
  } finally {
    await http.close();
    await ws.close();
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
    await embedded.close();
    await cluster.stop();
  }
  return rows;
}

/**
 * One event with an id of `ids`: the client gives UUIDv7 ids itself, so the embedded side gets
 * them too; UUIDv4 ids are given on both sides, as KurrentDB's clients send them.
 */
function idEvent(n: number, ids: IdKind, remote: boolean): NewEvent[] {
  return ids === 'v7' && remote ? [newEvent(n)] : withIds([newEvent(n)], ids);
}

async function appendWorkloads(
  suite: string,
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
        await store.appendEvents(storeId, `order-${i % 100}`, idEvent(i, 'v7', store === client));
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

  return [
    {
      suite,
      workload: `${transport}: sequential single-event appends, UUIDv7 ids`,
      unit: 'events/s',
      evdb: seqRemote,
      baselineName: 'embedded, same workload',
      baseline: seqEmbedded,
    },
    await concurrentWorkload(suite, transport, client, embedded, options, 'v7'),
  ];
}

/**
 * 64 appenders on streams of their own, single events with exact expected versions, remote
 * against embedded with the same ids. Without `ratioTarget`, the target is the absolute rate.
 */
async function concurrentWorkload(
  suite: string,
  transport: string,
  client: EvdbClient,
  embedded: EventStoreApi,
  options: BenchOptions,
  ids: IdKind,
  ratioTarget?: number,
): Promise<Row> {
  const appenders = 64;
  const perAppender = scaled(options, 400);
  progress(
    `${transport}: ${appenders} concurrent appenders x ${perAppender} single-event appends, UUID${ids} ids`,
  );
  const concurrentRun =
    (store: EventStoreApi, prefix: string) =>
    async (run: number): Promise<number> => {
      const storeId = `${prefix}-conc-${transport}-${ids}-${run}`;
      await store.createStore(storeId);
      await Promise.all(
        Array.from({ length: appenders }, async (_, a) => {
          for (let i = 0; i < perAppender; i++) {
            const events = idEvent(i, ids, store === client);
            await store.appendEvents(storeId, `order-${a}`, events, i - 1);
          }
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
  return {
    suite,
    workload: `${transport}: ${appenders} concurrent appenders, single events, UUID${ids} ids`,
    unit: 'events/s',
    evdb: concRemote,
    baselineName: 'embedded, same workload and ids',
    baseline: concEmbedded,
    target:
      ratioTarget === undefined
        ? { rate: 20_000, label: '≥ 20 000 events/s' }
        : { ratio: ratioTarget, label: `≥ ${ratioTarget.toFixed(2)} of embedded` },
  };
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
