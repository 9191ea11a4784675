import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, cleanEnv } from './support/cli-process.js';
import { startPostgres } from './support/postgres.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'evdb-examples-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Runs an example as a user would, in a process of its own; returns what it printed. */
async function example(name: string, arg: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${name}.ts`, arg], {
    cwd: ROOT,
    env: cleanEnv(),
    timeout: 120_000,
  });
  return stdout;
}

// Each example runs twice on the same data, as someone trying it out would.
describe('examples', () => {
  it('server-and-client: a server and a client in one program', async () => {
    const dir = join(root, 'server');
    assert.match(await example('server-and-client', dir), /the store holds 2 events in 1 streams/);
    const second = await example('server-and-client', dir);
    assert.match(second, /read back: OrderPlaced, OrderPaid/);
    assert.match(second, /the store holds 4 events in 2 streams/);
  });

  it('subscriptions: a persistent subscription resumes from its checkpoint', async () => {
    const dir = join(root, 'subscriptions');
    assert.match(await example('subscriptions', dir), /^mailed 1 new order\(s\): order-\w+$/m);
    const second = await example('subscriptions', dir);
    assert.match(second, /^mailed 1 new order\(s\): order-\w+$/m);
    assert.match(second, /^mailer checkpoint 1, lag 0$/m);
  });

  it('projection: a read model in a table, each event applied once', async () => {
    const dir = join(root, 'projection');
    const first = await example('projection', dir);
    assert.equal(first, 'ann: 2 order(s), total 15\nbob: 1 order(s), total 4\n');
    const second = await example('projection', dir);
    assert.equal(second, 'ann: 4 order(s), total 30\nbob: 2 order(s), total 8\n');
  });

  it('postgres: the same store on PostgreSQL', async () => {
    const server = await startPostgres();
    try {
      assert.match(
        await example('postgres', server.url),
        /1 order\(s\) tagged eu\nbackend postgres/,
      );
      assert.match(await example('postgres', server.url), /2 order\(s\) tagged eu/);
    } finally {
      await server.stop();
    }
  });
});
