// The console's bundle size and first-load time: `npm run bench:console [-- --runs N]`.
// Each run starts a fresh headless Chromium (new profile: cold cache) against a server on
// loopback, and times (a) opening /ui until the sign-in form shows, and (b) signing in until the
// overview shows the store; the baseline, in the same browser before it, is opening /health
// (a tiny JSON answer): what any first request costs there.
import { gzipSync } from 'node:zlib';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildConsole } from '../scripts/build-console.js';
import { connect } from '../src/client.js';
import { memory } from '../src/index.js';
import { startServer } from '../src/server.js';
import { launchChromium } from '../test/support/chromium.js';
import { stats, type Stats } from './lib.js';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;

const build = await buildConsole();
console.log('| file | bytes | gzip bytes | loaded |');
console.log('| --- | --- | --- | --- |');
let firstLoad = 0;
let firstLoadGzip = 0;
for (const file of build.files) {
  const body = await readFile(join(build.outDir, file.path));
  const gzip = gzipSync(body).length;
  // The causation page's chunk loads only when that page opens; LEGAL notes never.
  const onFirstLoad = !file.path.includes('causation-graph');
  if (onFirstLoad) {
    firstLoad += body.length;
    firstLoadGzip += gzip;
  }
  console.log(
    `| ${file.path} | ${body.length} | ${gzip} | ${onFirstLoad ? 'first load' : 'on demand'} |`,
  );
}
console.log(`\nfirst load: ${firstLoad} bytes, ${firstLoadGzip} gzipped\n`);

const server = await startServer({ port: 0, backend: memory() });
const admin = await connect(server.url);
await admin.createStore('shop');
await admin.appendEvents('shop', 'order-1', [{ eventType: 'OrderPlaced', data: { total: 5 } }]);

const baseline: number[] = [];
const signInForm: number[] = [];
const overview: number[] = [];
const transferred: number[] = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      let start = performance.now();
      await page.goto(`${server.url}/health`);
      baseline.push(performance.now() - start);

      start = performance.now();
      await page.goto(`${server.url}/ui`);
      await page.getByLabel('Token').waitFor();
      signInForm.push(performance.now() - start);
      transferred.push(
        Number(
          await page.evaluate(
            `performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation')).reduce((sum, e) => sum + e.transferSize, 0)`,
          ),
        ),
      );

      start = performance.now();
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('tr[data-store="shop"]').waitFor();
      overview.push(performance.now() - start);
    } finally {
      await browser.close();
    }
  }
} finally {
  await admin.close();
  await server.close();
}

const show = (s: Stats): string => `${s.median.toFixed(0)} ms (±${(s.spreadPct / 2).toFixed(0)}%)`;
const base = stats(baseline);
const form = stats(signInForm);
const signedIn = stats(overview);
console.log(`| measure (median of ${RUNS} cold runs, ±half-spread) | time | ratio to baseline |`);
console.log('| --- | --- | --- |');
console.log(`| baseline: open /health (tiny JSON) | ${show(base)} | 1 |`);
console.log(
  `| open /ui until the sign-in form shows | ${show(form)} | ${(form.median / base.median).toFixed(1)} |`,
);
console.log(
  `| sign in until the overview lists the store | ${show(signedIn)} | ${(signedIn.median / base.median).toFixed(1)} |`,
);
console.log(`\nbytes transferred for /ui (gzip): ${stats(transferred).median}`);
