import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { KurrentDBClient, jsonEvent } from '@kurrent/kurrentdb-client';
import type { WorkerInfo } from '../src/index.js';
import { collect, portOf, readGossip } from './support/kurrent-client.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startServeNode, type ServeNode } from './support/serve-node.js';

// Several `evdb serve` nodes on one PostgreSQL database, two of them with a KurrentDB endpoint
// and one without: the endpoint's gossip lists the nodes that serve one, all agreeing on one
// leader (the write owner of the default store), and a client given both nodes follows it.

let pg: TestPostgres;
let first: ServeNode;
let second: ServeNode;
let plain: ServeNode;

before(async () => {
  pg = await startPostgres();
  const serve = (kurrent: boolean) =>
    startServeNode([
      '--pg-url',
      pg.url,
      '--log-level',
      'silent',
      ...(kurrent ? ['--kurrent-port', '0'] : []),
    ]);
  [first, second, plain] = await Promise.all([serve(true), serve(true), serve(false)]);
});
after(async () => {
  await Promise.allSettled([first, second, plain].map((node) => node?.stop('SIGKILL')));
  await pg?.stop();
});

async function workersOf(node: ServeNode): Promise<WorkerInfo[]> {
  const response = await fetch(`${node.url}/stores/default/workers`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { workers: WorkerInfo[] }).workers;
}

describe('KurrentDB gossip with several evdb nodes', () => {
  it('lists every node serving a KurrentDB endpoint, with one leader that every node reports', async () => {
    const ports = [first, second].map((node) => portOf(node.kurrentConnectionString as string));
    const answers = await Promise.all(ports.map((port) => readGossip(port)));
    for (const members of answers) {
      assert.deepEqual(
        members.map((member) => member.http_end_point.port).sort(),
        [...ports].sort(),
        'both KurrentDB nodes, and not the node without an endpoint',
      );
      assert.ok(members.every((member) => member.is_alive));
      assert.ok(members.every((member) => member.http_end_point.address === '127.0.0.1'));
      assert.deepEqual(members.map((member) => member.state).sort(), ['Follower', 'Leader']);
    }
    const leaders = answers.map(
      (members) => members.find((member) => member.state === 'Leader')?.http_end_point.port,
    );
    assert.equal(leaders[0], leaders[1], 'both nodes name the same leader');
    // Each member keeps its instance id from one answer to the next.
    assert.deepEqual(
      answers.map((members) => members.map((m) => JSON.stringify(m.instance_id)).sort()),
      [0, 1].map(() => answers[0]!.map((m) => JSON.stringify(m.instance_id)).sort()),
    );
    // The leader is the default store's write owner, and the workers list the endpoints.
    const workers = await workersOf(plain);
    const owner = workers.find((worker) => worker.writeOwner === true);
    assert.equal(owner?.kurrentEndpoint, `127.0.0.1:${leaders[0]}`);
    assert.deepEqual(
      workers
        .map((worker) => worker.kurrentEndpoint)
        .filter((endpoint) => endpoint !== undefined)
        .sort(),
      ports.map((port) => `127.0.0.1:${port}`).sort(),
    );
    assert.equal(workers.length, 3);
  });

  it('sends a client given both nodes to the leader, which serves it when the follower stops', async () => {
    const members = await readGossip(portOf(first.kurrentConnectionString as string));
    const leaderPort = members.find((member) => member.state === 'Leader')?.http_end_point.port;
    const [leader, follower] =
      portOf(first.kurrentConnectionString as string) === leaderPort
        ? [first, second]
        : [second, first];
    // The follower first, so that discovery starts there at least half the time.
    const seeds = [follower, leader]
      .map((node) => `127.0.0.1:${portOf(node.kurrentConnectionString as string)}`)
      .join(',');
    const client = KurrentDBClient.connectionString(`kurrentdb://${seeds}?tls=false`);
    try {
      const stream = `cluster-${randomUUID()}`;
      await client.appendToStream(stream, jsonEvent({ type: 'Before', data: {} }));
      assert.equal((await collect(client.readStream(stream))).length, 1);
      await follower.stop('SIGTERM');
      // Both halves of the client were connected to the leader: nothing notices the follower go.
      await client.appendToStream(stream, jsonEvent({ type: 'After', data: {} }));
      const read = await collect(client.readStream(stream));
      assert.deepEqual(
        read.map((event) => event.event?.type),
        ['Before', 'After'],
      );
      // A node that stops leaves the gossip at once (it removes its entries on the way out).
      const left = await readGossip(portOf(leader.kurrentConnectionString as string));
      assert.deepEqual(
        left.map((member) => [member.http_end_point.port, member.state]),
        [[leaderPort, 'Leader']],
      );
    } finally {
      await client.dispose();
    }
  });
});
