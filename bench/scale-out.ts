import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { postgres } from '../src/backends/postgres/index.js';
import { openEvdb } from '../src/index.js';
import { startPostgres } from '../test/support/postgres.js';
import { progress, stats, verify, wants, type BenchOptions, type Row, type Stats } from './lib.js';
import { runScaleOutNodesBench } from './scale-out-nodes.js';

/**
 * Several processes writing one store of one PostgreSQL database, against one process doing the
 * same work, alternated in one run: 64 appenders on streams of their own with exact expected
 * versions, split evenly over the processes. Every acknowledged event is read back exactly once.
 * Beside each rate: events per commit (events over distinct committing transactions, from the
 * rows' xmin) and how many sessions waited on an advisory lock, sampled every 50 ms.
 */
const APPENDERS = 64;

interface Round {
  rate: number;
  eventsPerCommit: number;
  meanLockWaiters: number;
}

async function runChild(config: object): Promise<Record<string, number>> {
  const script = fileURLToPath(new URL('./scale-out-appender.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  verify(code === 0, `an appender process exited with ${String(code)}`);
  return JSON.parse(out) as Record<string, number>;
}

export async function runScaleOutBench(options: BenchOptions): Promise<Row[]> {
  const server = await startPostgres();
  const schema = `scale${process.pid}`;
  const seconds = Math.max(1, Math.round(10 * options.scale));
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
  try {
    const measure = async (processes: number, round: number): Promise<Round> => {
      const storeId = `p${processes}-r${round}`;
      await evdb.createStore(storeId);
      const storeSchema = `${schema}-${storeId}`;
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
      const results = await Promise.all(
        Array.from({ length: processes }, (_, p) =>
          runChild({
            url: server.url,
            schema,
            storeId,
            streamPrefix: `w${p}`,
            // 22 + 21 + 21 for three: every configuration runs all 64.
            appenders: Math.floor(APPENDERS / processes) + (p < APPENDERS % processes ? 1 : 0),
            seconds,
          }),
        ),
      );
      clearInterval(sampler);
      const acked = Object.assign({}, ...results) as Record<string, number>;
      const total = Object.values(acked).reduce((a, b) => a + b, 0);
      // Read back: every acknowledged event exactly once, nothing else.
      const { rows } = await admin.query<{ n: number; commits: number; ids: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS commits, ` +
          `count(DISTINCT event_id)::int AS ids FROM "${storeSchema}".events`,
      );
      const stored = rows[0];
      verify(stored !== undefined && stored.n === total, `stored ${stored?.n} of ${total}`);
      verify(stored.ids === total, 'an event was stored twice');
      const seen = new Map<string, number>();
      let from = 0;
      for (;;) {
        const page = await evdb.readAllGlobal(storeId, from, 1000);
        for (const event of page) seen.set(event.streamId, (seen.get(event.streamId) ?? 0) + 1);
        const last = page[page.length - 1];
        if (last === undefined) break;
        from = last.position + 1;
      }
      for (const [streamId, count] of Object.entries(acked)) {
        verify(seen.get(streamId) === count, `${streamId}: read ${seen.get(streamId)} of ${count}`);
      }
      // The appenders ran for `seconds` each; process start-up is not counted.
      return {
        rate: total / seconds,
        eventsPerCommit: total / stored.commits,
        meanLockWaiters: samples === 0 ? 0 : waiters / samples,
      };
    };
    const served = await runScaleOutNodesBench(options, server, admin);
    if (!wants(options, 'embedded')) return served;
    const one: Round[] = [];
    const three: Round[] = [];
    for (let round = 0; round < options.runs; round++) {
      one.push(await measure(1, round));
      three.push(await measure(3, round));
      progress(
        `scale-out round ${round}: 1 process ${one[round]?.rate.toFixed(0)} ev/s, 3 processes ${three[round]?.rate.toFixed(0)} ev/s`,
      );
    }
    const describe = (rounds: Round[]): string =>
      rounds
        .map(
          (r) =>
            `${r.eventsPerCommit.toFixed(1)} ev/commit, ${r.meanLockWaiters.toFixed(1)} waiting`,
        )
        .join('; ');
    progress(`1 process: ${describe(one)}`);
    progress(`3 processes: ${describe(three)}`);
    const rate = (rounds: Round[]): Stats => stats(rounds.map((r) => r.rate));
    return [
      {
        suite: 'scale-out',
        workload: `embedded, ${APPENDERS} appenders on own streams, 3 processes`,
        unit: 'ev/s',
        evdb: rate(three),
        baselineName: '1 process',
        baseline: rate(one),
        target: { ratio: 0.9, label: '≥ 0.9× of one process' },
      },
      ...served,
    ];
  } finally {
    await evdb.close();
    await admin.end();
    await server.stop();
  }
}
