import { parseArgs } from 'node:util';
import { formatTable, progress, type BenchOptions, type Row } from './lib.js';
import { runPostgresBench } from './postgres.js';
import { runKurrentBench } from './kurrent.js';
import { runRemoteBench } from './remote.js';
import { runSqliteBench } from './sqlite.js';
import { runScaleOutBench } from './scale-out.js';
import { runSubscriptionsBench, runSubscriptionsServerBench } from './subscriptions.js';
import { runChannelsBench } from './channels.js';
import { runFeaturesBench, runFeaturesPostgresBench } from './features.js';
import { runOpsBench } from './ops.js';
import { runListingBench } from './listing.js';
import { runOpsLargeBench } from './ops-large.js';
import { runStoresBench } from './stores.js';

const USAGE = `Usage: npm run bench -- [--quick] [--runs N] [--only sqlite|postgres|remote|features|features-postgres|subscriptions|subscriptions-server|kurrent|ops|ops-large|stores|scale-out|channels|listing]

Runs the evdb benchmarks and prints a Markdown table (the format of BENCHMARKS.md).
  --quick     small sizes, to check that the benchmarks themselves work
  --runs N    runs per workload (default 5); the table shows median and spread
  --only X    run one suite (ops-large, a 10 000 000-event export/import round trip, runs
              only when named)
  --parts A,B the parts of a suite to run: appends, ids, realistic, reads (sqlite, postgres);
              sqlite, postgres (remote); embedded, a, b, c (scale-out)`;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    only: { type: 'string' },
    parts: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const runs = values.runs === undefined ? 5 : Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs must be a positive integer\n\n${USAGE}`);
  process.exit(2);
}
const options: BenchOptions = {
  scale: values.quick ? 0.02 : 1,
  runs,
  ...(values.parts === undefined ? {} : { parts: values.parts.split(',') }),
};

const suites: Record<string, (options: BenchOptions) => Promise<Row[]>> = {
  sqlite: runSqliteBench,
  remote: runRemoteBench,
  postgres: runPostgresBench,
  features: runFeaturesBench,
  'features-postgres': runFeaturesPostgresBench,
  subscriptions: runSubscriptionsBench,
  'subscriptions-server': runSubscriptionsServerBench,
  kurrent: runKurrentBench,
  ops: runOpsBench,
  'ops-large': runOpsLargeBench,
  stores: runStoresBench,
  'scale-out': runScaleOutBench,
  channels: runChannelsBench,
  listing: runListingBench,
};
// Suites that take the better part of an hour run only when named with --only.
const ONLY_WHEN_ASKED = new Set(['ops-large']);
if (values.only !== undefined && !(values.only in suites)) {
  console.error(`unknown suite '${values.only}'; known: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}

const rows: Row[] = [];
for (const [name, run] of Object.entries(suites)) {
  if (values.only === undefined ? ONLY_WHEN_ASKED.has(name) : values.only !== name) continue;
  progress(`suite ${name}`);
  rows.push(...(await run(options)));
}
console.log(
  `\nnode ${process.version}, ${runs} runs per workload${values.quick ? ', --quick sizes' : ''}\n`,
);
console.log(formatTable(rows));
