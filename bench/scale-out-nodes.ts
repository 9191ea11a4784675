import type pg from 'pg';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import { ANY_VERSION } from '../src/index.js';
import { startServeNode, type ServeNode } from '../test/support/serve-node.js';
import type { TestPostgres } from '../test/support/postgres.js';
import { progress, stats, verify, type BenchOptions, type Row } from './lib.js';

/**
 * `evdb serve` nodes on one PostgreSQL database: 1, 2 and 3 nodes alternated in one run, each
 * round in new stores. 64 appenders, each on a WebSocket client of its own node (appender i on
 * node i mod n), append single events for the round's seconds: (a) each on a stream of its own
 * with exact versions, one store; (b) on 8 hot streams with ANY_VERSION; (c) 4 stores of 16
 * appenders, each store's first append made through a different node (so that, with several
 * nodes, the stores' write owners are spread). Appends reaching a node that does not own the
 * store are forwarded to its owner. Every acknowledged event is read back exactly once.
 */
const APPENDERS = 64;
const WORKLOADS = ['a', 'b', 'c'] as const;
type Workload = (typeof WORKLOADS)[number];

interface Round {
  rate: number;
  eventsPerCommit: number;
  meanLockWaiters: number;
}

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
  for (let i = 0; i < 3; i++) {
    nodes.push(await startServeNode(['--pg-url', server.url, '--log-level', 'silent']));
  }
  const clients: EvdbClient[] = [];
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
    const clientOf = (nodeCount: number, appender: number): EvdbClient =>
      clients[(appender % nodeCount) + 3 * Math.floor(appender / nodeCount)] as EvdbClient;

    const measure = async (
      workload: Workload,
      nodeCount: number,
      round: number,
    ): Promise<Round> => {
      const stores = Array.from(
        { length: workload === 'c' ? 4 : 1 },
        (_, k) => `${workload}${nodeCount}r${round}s${k}`,
      );
      for (const [k, storeId] of stores.entries()) {
        const via = clientOf(nodeCount, k % nodeCount);
        await via.createStore(storeId);
        // The first append makes the node it reaches the store's write owner.
        await via.appendEvents(storeId, 'owner', [{ eventType: 'Started', data: {} }]);
      }
      const acknowledged = new Map<string, Set<string>>(stores.map((s) => [s, new Set(['-'])]));
      let samples = 0;
      let waiters = 0;
      const sampler = setInterval(() => {
        void admin
          .query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'advisory'",
          )
          .then(({ rows }) => {
            samples += 1;
            waiters += rows[0]?.n ?? 0;
          });
      }, 50);
      const deadline = Date.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: APPENDERS }, async (_, i) => {
          const client = clientOf(nodeCount, i);
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
      }
      return {
        rate: total / seconds,
        eventsPerCommit: total / commits,
        meanLockWaiters: samples === 0 ? 0 : waiters / samples,
      };
    };

    const rounds = new Map<string, Round[]>();
    for (let round = 0; round < options.runs; round++) {
      for (const workload of WORKLOADS) {
        for (const nodeCount of [1, 2, 3]) {
          const result = await measure(workload, nodeCount, round);
          const key = `${workload}${nodeCount}`;
          rounds.set(key, [...(rounds.get(key) ?? []), result]);
          progress(
            `scale-out nodes round ${round} (${workload}) ${nodeCount} node(s): ` +
              `${result.rate.toFixed(0)} ev/s, ${result.eventsPerCommit.toFixed(1)} ev/commit, ` +
              `${result.meanLockWaiters.toFixed(2)} waiting on the lock`,
          );
        }
      }
    }
    const rows: Row[] = [];
    for (const workload of WORKLOADS) {
      const one = stats((rounds.get(`${workload}1`) ?? []).map((r) => r.rate));
      for (const nodeCount of [2, 3]) {
        const target =
          workload === 'c'
            ? nodeCount === 3
              ? { ratio: 1.0, label: '≥ 1.0× of one node' }
              : undefined
            : { ratio: 0.9, label: '≥ 0.9× of one node' };
        rows.push({
          suite: 'scale-out',
          workload: `serve, (${workload}) ${LABELS[workload]}, ${nodeCount} nodes`,
          unit: 'ev/s',
          evdb: stats((rounds.get(`${workload}${nodeCount}`) ?? []).map((r) => r.rate)),
          baselineName: '1 node',
          baseline: one,
          ...(target === undefined ? {} : { target }),
        });
      }
    }
    return rows;
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
    for (const node of nodes) await node.stop();
  }
}
