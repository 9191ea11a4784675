import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

// The README's subscriptions example runs as written (with `evdb` pointing at the sources).
test("the README's subscriptions and links example runs", () => {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('### Subscriptions and links'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code !== undefined, 'the section has a TypeScript example');
  const dir = mkdtempSync(join(tmpdir(), 'evdb-readme-'));
  try {
    const file = join(dir, 'example.mts');
    const source = resolve('src/index.ts');
    writeFileSync(file, code.replaceAll("from 'evdb'", `from ${JSON.stringify(source)}`));
    const output = execFileSync(process.execPath, ['--import', 'tsx', file], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.match(output, /bill order-1 \{ total: 250 \}/);
    assert.match(output, /audit \[ 'OrderPlaced' \]/);
    assert.match(output, /linked 2/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
