import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

const dir = mkdtempSync(join(tmpdir(), 'evdb-features-readme-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('README', () => {
  it('the store features example runs and prints what its comments say', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const marker = readme.indexOf('<!-- features example');
    assert.ok(marker >= 0, 'the README has the features example');
    const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker))?.[1];
    assert.ok(block !== undefined);
    const evdb = pathToFileURL(new URL('../src/index.ts', import.meta.url).pathname).href;
    const source = block
      .replace("from 'evdb'", `from ${JSON.stringify(evdb)}`)
      .replace("'./data'", JSON.stringify(join(dir, 'data')));
    // .mts: an ES module (top-level await) outside the package.
    const file = join(dir, 'example.mts');
    writeFileSync(file, source);

    const printed: unknown[][] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => printed.push(args);
    try {
      await import(pathToFileURL(file).href);
    } finally {
      console.log = log;
    }
    assert.deepEqual(printed, [[2, 1], [{ items: 8 }], [['carts/cart-1/0-2']]]);
  });
});
