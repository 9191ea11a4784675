import type pg from 'pg';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import { ANY_VERSION } from '../src/index.js';
import { startServeNode, type ServeNode } from '../test/support/serve-node.js';
import type { TestPostgres } from '../test/support/postgres.js';
import { progress, stats, verify, wants, type BenchOptions, type Row } from './lib.js';

/**
 * `evdb serve` nodes on one PostgreSQL database: 1, 2 and 3 nodes alternated in one run, each
 * round in new stores. 64 appenders, each on a WebSocket client of its own node (appender i on
 * node i mod n), append single events for the round's seconds: (a) each on a stream of its own
 * with exact versions, one store; (b) on 8 hot streams with ANY_VERSION; (c) 4 stores of 16
 * appenders, each store's first append made through a different node (so that, with several
 * nodes, the stores' write owners are spread). Appends reaching a node that does not own the
 * store are forwarded to its owner. With 2 and 3 nodes each workload runs twice: with the
 * clients spread over the nodes as above (most appends forwarded), and with clients that learn
 * the owner (`discoverWorkers`) and send appends straight to it. Every acknowledged event is
 * read back exactly once.
 *
 * `EVDB_BENCH_PROFILE_DIR=<dir>` writes each node's CPU profile there when the nodes stop
 * (`--cpu-prof`); the wait events of PostgreSQL's sessions are printed after each measure.
 */
const APPENDERS = 64;
const WORKLOADS = ['a', 'b', 'c'] as const;
type Workload = (typeof WORKLOADS)[number];

/** How the appenders' clients reach the store's write owner. */
type Routes = 'forward' | 'owner';

interface Round {
  rate: number;
  eventsPerCommit: number;
  meanLockWaiters: number;
}

/** Sessions per wait, summed over the samples (`Lock:advisory`, `IO:WALSync`, `CPU` …). */
const WAITS_SQL =
  "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait, count(*)::int AS n " +
  "FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'active' " +
  'AND pid <> pg_backend_pid() GROUP BY 1';

const LABELS: Record<Workload, string> = {
  a: `${APPENDERS} appenders on own streams of one store, exact versions`,
  b: `${APPENDERS} appenders on 8 hot streams, ANY_VERSION`,
  c: `4 stores × 16 appenders on own streams`,
};

export async function runScaleOutNodesBench(
  options: BenchOptions,
  server: TestPostgres,
  admin: pg.Client,
): Promise<Row[]> {
  const seconds = Math.max(1, Math.round(10 * options.scale));
  const nodes: ServeNode[] = [];
  const profileDir = process.env.EVDB_BENCH_PROFILE_DIR;
  const flags = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  for (let i = 0; i < 3; i++) {
    nodes.push(await startServeNode(['--pg-url', server.url, '--log-level', 'silent'], {}, flags));
  }
  const workloads = WORKLOADS.filter((workload) => wants(options, workload));
  const clients: EvdbClient[] = [];
  const ownerClients: EvdbClient[] = [];
  try {
    // One WebSocket client per appender, as 64 separate client processes would have.
    for (let i = 0; i < APPENDERS * 3; i++) {
      clients.push(
        await connect((nodes[i % 3] as ServeNode).url, {
          transport: 'websocket',
          WebSocket,
          timeoutMs: 60_000,
        }),
      );
    }
    for (let i = 0; i < APPENDERS; i++) {
      ownerClients.push(
        await connect((nodes[i % 3] as ServeNode).url, {
          transport: 'websocket',
          WebSocket,
          timeoutMs: 60_000,
          discoverWorkers: true,
        }),
      );
    }
    const clientOf = (nodeCount: number, appender: number): EvdbClient =>
      clients[(appender % nodeCount) + 3 * Math.floor(appender / nodeCount)] as EvdbClient;

    const measure = async (
      workload: Workload,
      nodeCount: number,
      routes: Routes,
      round: number,
    ): Promise<Round> => {
      const stores = Array.from(
        { length: workload === 'c' ? 4 : 1 },
        (_, k) => `${workload}${nodeCount}${routes}r${round}s${k}`,
      );
      for (const [k, storeId] of stores.entries()) {
        const via = clientOf(nodeCount, k % nodeCount);
        await via.createStore(storeId);
        // The first append makes the node it reaches the store's write owner.
        await via.appendEvents(storeId, 'owner', [{ eventType: 'Started', data: {} }]);
      }
      const acknowledged = new Map<string, Set<string>>(stores.map((s) => [s, new Set(['-'])]));
      // Which node owns each store (the node of its first append), as the nodes list it.
      const owners = await Promise.all(
        stores.map(async (storeId) => {
          const workers = await clientOf(1, 0).getWorkers(storeId);
          const url = workers.find((worker) => worker.writeOwner === true)?.url;
          return nodes.findIndex((node) => node.url === url);
        }),
      );
      let samples = 0;
      let waiters = 0;
      const waits = new Map<string, number>();
      const sampler = setInterval(() => {
        void admin.query<{ wait: string; n: number }>(WAITS_SQL).then(({ rows }) => {
          samples += 1;
          for (const { wait, n } of rows) {
            waits.set(wait, (waits.get(wait) ?? 0) + n);
            if (wait.startsWith('Lock:')) waiters += n;
          }
        });
      }, 50);
      const deadline = Date.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: APPENDERS }, async (_, i) => {
          const client =
            routes === 'owner' ? (ownerClients[i] as EvdbClient) : clientOf(nodeCount, i);
          const storeId = stores[i % stores.length] as string;
          const ids = acknowledged.get(storeId) as Set<string>;
          const hot = workload === 'b';
          const streamId = hot ? `hot-${i % 8}` : `own-${i}`;
          for (let version = 0; Date.now() < deadline; version++) {
            const eventId = crypto.randomUUID();
            await client.appendEvents(
              storeId,
              streamId,
              [{ eventId, eventType: 'Counted', data: { i, version } }],
              hot ? ANY_VERSION : version - 1,
            );
            ids.add(eventId);
          }
        }),
      );
      clearInterval(sampler);
      let total = 0;
      let commits = 0;
      const perStore: string[] = [];
      for (const storeId of stores) {
        const ids = acknowledged.get(storeId) as Set<string>;
        ids.delete('-');
        const { rows } = await admin.query<{ n: number; commits: number; ids: number }>(
          `SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS commits, ` +
            `count(DISTINCT event_id)::int AS ids FROM "evdb-${storeId}".events ` +
            "WHERE stream_id <> 'owner'",
        );
        const stored = rows[0];
        verify(stored?.n === ids.size, `${storeId}: stored ${stored?.n} of ${ids.size}`);
        verify(stored.ids === ids.size, `${storeId}: an event was stored twice`);
        // Read back through a node: every acknowledged id exactly once.
        const reader = clientOf(1, 0);
        const seen = new Set<string>();
        for (let from = 0; ;) {
          const page = await reader.readAllGlobal(storeId, from, 1000);
          for (const event of page) {
            if (event.streamId === 'owner') continue;
            verify(ids.has(event.eventId) && !seen.has(event.eventId), 'read back once');
            seen.add(event.eventId);
          }
          const last = page[page.length - 1];
          if (last === undefined) break;
          from = last.position + 1;
        }
        verify(seen.size === ids.size, `${storeId}: read ${seen.size} of ${ids.size}`);
        total += ids.size;
        commits += stored.commits;
        perStore.push((ids.size / stored.commits).toFixed(1));
      }
      const mean = (n: number): string => (samples === 0 ? '0' : (n / samples).toFixed(2));
      progress(
        `  owner node per store: ${owners.join(' ')}; events per commit per store: ` +
          `${perStore.join(' ')}; active sessions by wait: ` +
          [...waits]
            .sort((x, y) => y[1] - x[1])
            .map(([wait, n]) => `${wait} ${mean(n)}`)
            .join(', '),
      );
      return {
        rate: total / seconds,
        eventsPerCommit: total / commits,
        meanLockWaiters: samples === 0 ? 0 : waiters / samples,
      };
    };

    const rounds = new Map<string, Round[]>();
    const configurations: [number, Routes][] = [
      [1, 'forward'],
      [2, 'forward'],
      [2, 'owner'],
      [3, 'forward'],
      [3, 'owner'],
    ];
    for (let round = 0; round < options.runs; round++) {
      for (const workload of workloads) {
        for (const [nodeCount, routes] of configurations) {
          const result = await measure(workload, nodeCount, routes, round);
          const key = `${workload}${nodeCount}${routes}`;
          rounds.set(key, [...(rounds.get(key) ?? []), result]);
          progress(
            `scale-out nodes round ${round} (${workload}) ${nodeCount} node(s), ${routes}: ` +
              `${result.rate.toFixed(0)} ev/s, ${result.eventsPerCommit.toFixed(1)} ev/commit, ` +
              `${result.meanLockWaiters.toFixed(2)} waiting on a lock`,
          );
        }
      }
    }
    const rows: Row[] = [];
    for (const workload of workloads) {
      const one = stats((rounds.get(`${workload}1forward`) ?? []).map((r) => r.rate));
      for (const [nodeCount, routes] of configurations.slice(1)) {
        const target =
          workload === 'c'
            ? nodeCount === 3
              ? { ratio: 1.0, label: '≥ 1.0× of one node' }
              : undefined
            : { ratio: 0.9, label: '≥ 0.9× of one node' };
        rows.push({
          suite: 'scale-out',
          workload:
            `serve, (${workload}) ${LABELS[workload]}, ${nodeCount} nodes, ` +
            (routes === 'owner' ? 'clients to the owner' : 'forwarded'),
          unit: 'ev/s',
          evdb: stats((rounds.get(`${workload}${nodeCount}${routes}`) ?? []).map((r) => r.rate)),
          baselineName: '1 node',
          baseline: one,
          ...(target === undefined ? {} : { target }),
        });
      }
    }
    return rows;
  } finally {
    await Promise.allSettled([...clients, ...ownerClients].map((client) => client.close()));
    for (const node of nodes) await node.stop();
  }
}
