// What a person reads when the CLI fails: one line `evdb: <code>: <message>` and the documented
// exit code; and the lock that keeps a second process off a SQLite data directory.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openEvdb } from '../src/index.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const ONE_LINE = /^evdb: [a-z_]+: [^\n]+\n$/;

describe('CLI errors and the data-directory lock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'evdb-cli-errors-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a data directory that is a file: one line, exit 3', async () => {
    const file = join(dir, 'afile');
    writeFileSync(file, 'x');
    const result = await cli(['stats', 'shop', '--data-dir', file]);
    assert.equal(result.code, 3);
    assert.match(result.stderr, ONE_LINE);
    assert.match(result.stderr, /^evdb: unavailable: the data directory .* is not a directory/);
  });

  it('a data directory that does not exist is named, not listed as empty', async () => {
    const result = await cli(['stores', '--data-dir', join(dir, 'does-not-exist')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^evdb: not_found: the data directory .* does not exist\n$/);
  });

  it('empty results say so', async () => {
    const dataDir = join(dir, 'empty');
    assert.equal((await cli(['stores', 'create', 'shop', '--data-dir', dataDir])).code, 0);
    const subscriptions = await cli(['subscriptions', 'shop', '--data-dir', dataDir]);
    assert.equal(subscriptions.code, 0);
    assert.match(subscriptions.stderr, /has no persistent subscriptions/);
  });

  it('serve on a busy port: one line naming it, exit 3', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    try {
      const result = await cli(['serve', '--port', String(port), '--data-dir', join(dir, 'busy')]);
      assert.equal(result.code, 3);
      assert.match(result.stderr, ONE_LINE);
      assert.match(result.stderr, /port is in use/);
    } finally {
      blocker.close();
    }
  });

  it('unreachable PostgreSQL: exit 3, one line', async () => {
    const result = await cli(['stores', '--pg-url', 'postgres://evdb@127.0.0.1:9/evdb']);
    assert.equal(result.code, 3);
    assert.match(result.stderr, ONE_LINE);
  });

  it('a second process on a held data directory gets unavailable naming the holder; a dead holder is taken over', async () => {
    const dataDir = join(dir, 'held');
    // A holder in another process: opens the directory, then waits to be killed.
    const holder = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `const { openEvdb } = await import(${JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))});
         const evdb = await openEvdb({ dataDir: ${JSON.stringify(dataDir)} });
         await evdb.createStore('shop');
         console.log('held');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [line] = (await once(holder.stdout, 'data')) as [Buffer];
      assert.equal(line.toString().trim(), 'held');
      const second = await openEvdb({ dataDir });
      await assert.rejects(
        second.appendEvents('shop', 's', [{ eventType: 'T', data: {} }]),
        (error: Error & { code: string; details: { pid?: number } }) => {
          assert.equal(error.code, 'unavailable');
          assert.equal(error.details.pid, holder.pid);
          assert.match(error.message, new RegExp(`process ${holder.pid}`));
          return true;
        },
      );
      await second.close();
      const viaCli = await cli(['stats', 'shop', '--data-dir', dataDir]);
      assert.equal(viaCli.code, 3);
      assert.match(viaCli.stderr, ONE_LINE);
      assert.match(viaCli.stderr, /use --url/);
    } finally {
      holder.kill('SIGKILL');
      await once(holder, 'exit');
    }
    // The holder died without releasing: the lock is taken over at once.
    const after = await openEvdb({ dataDir });
    await after.appendEvents('shop', 's', [{ eventType: 'T', data: {} }]);
    await after.close();
  });
});
