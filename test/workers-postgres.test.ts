import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { connect } from '../src/client.js';
import { cleanEnv } from './support/cli-process.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
/** Short enough to keep the test quick; heartbeats go out every third of it. */
const TTL_MS = 3000;

interface Node {
  url: string;
  nodeId: string;
  child: ChildProcess;
}

/** `evdb serve --pg-url` in its own process, with an IPC lifeline to this one. */
async function startNode(pgUrl: string): Promise<Node> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CLI,
      'serve',
      '--port',
      '0',
      '--pg-url',
      pgUrl,
      '--worker-ttl',
      String(TTL_MS),
    ],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let nodeId: string | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith('{')) nodeId ??= (JSON.parse(line) as { nodeId?: string }).nodeId;
    const match = /^evdb listening on (\S+)$/.exec(line);
    if (match !== null) return { url: match[1] as string, nodeId: nodeId as string, child };
  }
  throw new Error('evdb serve exited before listening');
}

async function stopNode(node: Node, signal: NodeJS.Signals): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = once(node.child, 'exit');
  node.child.kill(signal);
  await exited;
}

/** Polls until `check` holds; returns how long it took. */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

describe('workers of servers sharing one PostgreSQL database', () => {
  let pg: TestPostgres;
  const nodes: Node[] = [];
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    for (const node of nodes) await stopNode(node, 'SIGKILL');
    await pg.stop();
  });

  it('see each other; a killed node leaves the list within the ttl, a stopped one at once', async () => {
    const [a, b, c] = await Promise.all([startNode(pg.url), startNode(pg.url), startNode(pg.url)]);
    nodes.push(a, b, c);
    const viaA = await connect(a.url);
    const viaB = await connect(b.url);
    await viaA.createStore('cluster');
    const ids = async (client: typeof viaA): Promise<string[]> =>
      (await client.getWorkers('cluster')).map((w) => w.nodeId);
    const all = [a.nodeId, b.nodeId, c.nodeId].sort();
    // The other nodes pick the new store up at their next heartbeat.
    await until(async () => (await ids(viaA)).join() === all.join(), 5_000);
    // Each node learns of the others at its own heartbeat, so B may see the last one later.
    await until(async () => (await ids(viaB)).join() === all.join(), 5_000);
    const listed = await viaB.getWorkers('cluster');
    assert.deepEqual(listed.map((w) => w.url).sort(), [a.url, b.url, c.url].sort());
    const health = await viaA.health();
    assert.equal(health.status, 'healthy');
    assert.deepEqual(health.workers.map((w) => w.nodeId).sort(), all);

    // A killed node stops heart-beating and leaves within the ttl.
    await stopNode(b, 'SIGKILL');
    const left = await until(async () => !(await ids(viaA)).includes(b.nodeId), TTL_MS + 3_000);
    assert.ok(left <= TTL_MS + 1_500, `left after ${left} ms`);
    assert.deepEqual(await ids(viaA), [a.nodeId, c.nodeId].sort());

    // The CLI opens the same database directly, as a worker of its own (no URL).
    const cli = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'workers', 'cluster', '--json', '--pg-url', pg.url],
      { env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let printed = '';
    cli.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    assert.deepEqual(await once(cli, 'exit'), [0, null]);
    const seen = JSON.parse(printed) as { nodeId: string; url?: string }[];
    assert.deepEqual(
      seen.filter((w) => w.url !== undefined).map((w) => w.nodeId),
      [a.nodeId, c.nodeId].sort(),
    );
    assert.equal(seen.filter((w) => w.url === undefined).length, 1);

    // A node shut down gracefully removes its entries: gone at once.
    await stopNode(c, 'SIGTERM');
    assert.deepEqual(await ids(viaA), [a.nodeId]);

    await viaA.close();
    await viaB.close().catch(() => undefined);
  });
});
