import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'evdb-readme-guide-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it("the README's first example runs twice in a row on the same data", async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const marker = readme.indexOf('<!-- guide example');
  assert.ok(marker >= 0, 'the README marks its first example');
  assert.equal(readme.indexOf('```ts'), readme.indexOf('```ts', marker), 'it is the first one');
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker))?.[1];
  assert.ok(block !== undefined);
  const evdb = pathToFileURL(new URL('../src/index.ts', import.meta.url).pathname).href;
  // .mts: an ES module (top-level await) outside the package. Run from `dir`, so that
  // './data' is where a user's would be: beside the program.
  const file = join(dir, 'guide.mts');
  writeFileSync(file, block.replace("from 'evdb'", `from ${JSON.stringify(evdb)}`));
  const once = async (): Promise<string> =>
    (
      await run(process.execPath, ['--import', import.meta.resolve('tsx'), file], {
        cwd: dir,
        timeout: 60_000,
      })
    ).stdout;
  assert.equal(await once(), '1\n2 2\n');
  assert.equal(await once(), '1\n2 4\n');
});
