import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import { sign } from '../src/channels/signing.js';
import type { ChannelMessage } from '../src/core/channel-types.js';
import { until } from './conformance/channels.js';
import { runClientCommand } from '../src/cli/commands.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startServeNode, type ServeNode } from './support/serve-node.js';

// Three `evdb serve` nodes on one PostgreSQL database, a WebSocket client on each: what is
// published through any node reaches the subscribers on every node, once each.
const secret = 'cluster-secret';

describe('channels across three evdb serve nodes on one PostgreSQL', () => {
  let pg: TestPostgres;
  let nodes: ServeNode[] = [];
  let clients: EvdbClient[] = [];
  before(async () => {
    pg = await startPostgres();
    const args = ['--pg-url', pg.url, '--log-level', 'silent', '--channel-secret', secret];
    nodes = await Promise.all([0, 1, 2].map(() => startServeNode(args)));
    clients = await Promise.all(
      nodes.map((node) =>
        connect(node.url, { transport: 'websocket', WebSocket, retry: { retries: 2 } }),
      ),
    );
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
    await pg.stop();
  });

  it('delivers every message exactly once to every matching subscriber, in order per publisher', async () => {
    const run = randomBytes(4).toString('hex');
    // Two subscriptions per node: one by wildcard, one exact; a third that matches nothing.
    const inboxes: ChannelMessage[][] = [];
    const unmatched: ChannelMessage[] = [];
    for (const client of clients) {
      for (const pattern of [`orders.${run}.*`, `orders.${run}.eu`]) {
        const inbox: ChannelMessage[] = [];
        inboxes.push(inbox);
        await client.channels.subscribe('events', pattern, (m) => void inbox.push(m));
      }
      await client.channels.subscribe('events', `orders.${run}.us`, (m) => void unmatched.push(m));
    }
    const perPublisher = 200;
    await Promise.all(
      clients.map((client, p) =>
        Promise.all(
          Array.from({ length: perPublisher }, (_, n) =>
            client.channels.publish('events', `orders.${run}.eu`, { p, n }),
          ),
        ),
      ),
    );
    const total = perPublisher * clients.length;
    await until(() => inboxes.every((inbox) => inbox.length >= total), 30_000, 'deliveries');
    await sleep(300); // anything delivered twice would have arrived by now
    for (const inbox of inboxes) {
      assert.equal(inbox.length, total);
      assert.equal(new Set(inbox.map((m) => m.id)).size, total, 'each message once');
      for (let p = 0; p < clients.length; p++) {
        const ns = inbox
          .map((m) => m.message as { p: number; n: number })
          .filter((m) => m.p === p)
          .map((m) => m.n);
        assert.deepEqual(
          ns,
          Array.from({ length: perPublisher }, (_, n) => n),
          `publisher ${p}`,
        );
      }
    }
    assert.equal(unmatched.length, 0);
    const origins = new Set(inboxes[0]?.map((m) => m.origin));
    assert.equal(origins.size, 3, 'messages from the three nodes');
  });

  it('carries a 64 KiB message and a signed alert whole to the other nodes', async () => {
    const topic = `big.${randomBytes(4).toString('hex')}`;
    const got: ChannelMessage[][] = [[], []];
    await clients[1]?.channels.subscribe('diagnostics', topic, (m) => void got[0]?.push(m));
    await clients[2]?.channels.subscribe('alerts', topic, (m) => void got[1]?.push(m));
    const blob = randomBytes(48 * 1024).toString('base64');
    await clients[0]?.channels.publish('diagnostics', topic, { blob });
    const alert = sign({ blob: blob.slice(0, 100) }, secret);
    await clients[0]?.channels.publish('alerts', topic, alert);
    await until(() => got.every((inbox) => inbox.length === 1), 10_000, 'both messages');
    assert.equal((got[0]?.[0]?.message as { blob: string }).blob, blob);
    assert.deepEqual(got[1]?.[0]?.message, alert);
  });

  it('cluster checks: every node answers, through the client and `evdb cluster check`', async () => {
    const client = clients[0] as EvdbClient;
    await client.createStore('checked');
    await client.appendEvents('checked', 's', [{ eventType: 'E', data: {} }]);
    // Nodes list themselves as workers of a new store at their next heartbeat: until then the
    // check truthfully reports that they disagree.
    let result = await client.verifyClusterConsistency();
    for (let tries = 0; !result.consistent && tries < 20; tries++) {
      await sleep(500);
      result = await client.verifyClusterConsistency();
    }
    assert.equal(result.consistent, true, JSON.stringify(result.nodes, null, 2));
    assert.equal(result.nodes.length, 3);
    assert.ok(result.nodes.every((node) => node.reachable && node.view?.heads.checked === 0));
    assert.deepEqual(
      new Set(result.nodes.map((node) => node.url)),
      new Set(nodes.map((node) => node.url)),
    );
    assert.equal((await clients[2]?.checkLogConsistency('checked'))?.consistent, true);
    const lines: string[] = [];
    await runClientCommand('cluster', ['check', 'membership', '--url', nodes[1]?.url as string], {
      out: (line) => void lines.push(line),
      err: () => undefined,
      env: {},
      stopped: new Promise(() => undefined),
    });
    assert.match(lines[0] as string, /^consistent/);
    assert.equal(lines.filter((line) => line.includes('agrees')).length, 3);
  });

  it('limits rates per node: each node lets a topic carry its own 100 health messages a second', async () => {
    const topic = `node.${randomBytes(4).toString('hex')}`;
    await sleep(1000 - (Date.now() % 1000) + 5);
    const outcomes = await Promise.all(
      clients
        .slice(0, 2)
        .map((client) =>
          Promise.allSettled(
            Array.from({ length: 101 }, (_, n) => client.channels.publish('health', topic, { n })),
          ),
        ),
    );
    for (const perNode of outcomes) {
      const refused = perNode.filter((o) => o.status === 'rejected');
      assert.equal(refused.length, 1);
      assert.equal(
        ((refused[0] as PromiseRejectedResult).reason as { code?: string }).code,
        'rate_limited',
      );
    }
  });
});
