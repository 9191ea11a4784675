// The fast tier: every test file that needs no PostgreSQL and kills no process, so that a
// developer gets an answer in well under a minute. `npm test` runs everything (as CI does).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const NEEDS_POSTGRES = /support\/postgres\.js/;
const KILLS_A_PROCESS = /SIGKILL|\.kill\(/;

const files = readdirSync('test')
  .filter((name) => name.endsWith('.test.ts'))
  .filter((name) => {
    const source = readFileSync(`test/${name}`, 'utf8');
    return !NEEDS_POSTGRES.test(source) && !KILLS_A_PROCESS.test(source);
  })
  .map((name) => `test/${name}`);

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-timeout=300000', '--test-concurrency=4', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
