import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openEvdb, type Evdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import type { ChannelMessage } from '../src/core/channel-types.js';
import { describeChannels, until } from './conformance/channels.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const secret = 'pg-test-secret';
let pgServer: TestPostgres;
const schema = `ch${randomBytes(4).toString('hex')}`;

before(async () => {
  pgServer = await startPostgres();
});
after(() => pgServer.stop());

function openNode(): Promise<Evdb> {
  return openEvdb({ backend: postgres({ url: pgServer.url, schema }), channels: { secret } });
}

describeChannels({
  name: 'embedded (postgres)',
  secret,
  open: async () => {
    const evdb = await openNode();
    return { channels: evdb.channels, close: () => evdb.close() };
  },
});

describe('channels across processes sharing PostgreSQL (three stores in one process)', () => {
  let nodes: Evdb[];
  before(async () => {
    nodes = await Promise.all([openNode(), openNode(), openNode()]);
  });
  after(() => Promise.all(nodes.map((node) => node.close())));

  it('delivers every message once to every matching subscriber on every node, in order per publisher', async () => {
    const topic = `cluster.${randomBytes(4).toString('hex')}`;
    const received = nodes.map(() => [] as ChannelMessage[]);
    for (const [i, node] of nodes.entries()) {
      await node.channels.subscribe('events', 'cluster.*', (m) => void received[i]?.push(m));
    }
    const perPublisher = 300;
    await Promise.all(
      nodes.map((node, p) =>
        Promise.all(
          Array.from({ length: perPublisher }, (_, n) =>
            node.channels.publish('events', topic, { p, n }),
          ),
        ),
      ),
    );
    const total = perPublisher * nodes.length;
    await until(() => received.every((r) => r.length >= total), 20_000, 'every delivery');
    for (const messages of received) {
      assert.equal(messages.length, total, 'nothing twice');
      assert.equal(new Set(messages.map((m) => m.id)).size, total);
      for (let p = 0; p < nodes.length; p++) {
        const ns = messages
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
  });

  it('carries messages beyond the NOTIFY limit whole, in order with the small ones', async () => {
    const topic = `big.${randomBytes(4).toString('hex')}`;
    const received: ChannelMessage[] = [];
    await nodes[1]?.channels.subscribe('diagnostics', topic, (m) => void received.push(m));
    const big = randomBytes(48 * 1024).toString('base64');
    const sender = nodes[0] as Evdb;
    await Promise.all([
      sender.channels.publish('diagnostics', topic, { n: 0 }),
      sender.channels.publish('diagnostics', topic, { n: 1, big }),
      sender.channels.publish('diagnostics', topic, { n: 2 }),
      sender.channels.publish('diagnostics', topic, { n: 3, big: big + big }),
    ]);
    await until(() => received.length === 4, 10_000, 'four messages');
    assert.deepEqual(
      received.map((m) => (m.message as { n: number }).n),
      [0, 1, 2, 3],
    );
    assert.equal((received[1]?.message as { big: string }).big, big);
    assert.equal((received[3]?.message as { big: string }).big, big + big);
  });

  it('the bus carries a burst whole and in send order, odd payloads included', async () => {
    // Below the channels: payloads are opaque text. Those holding a line break or the character
    // that separates notifications in a round trip go through the table, yet stay in order.
    // A catalog of its own: the stores above would hear these payloads and warn about them.
    const busSchema = `${schema}bus`;
    const from = postgres({ url: pgServer.url, schema: busSchema });
    const to = postgres({ url: pgServer.url, schema: busSchema });
    const sender = from.openMessageBus?.();
    const receiver = to.openMessageBus?.();
    assert.ok(sender !== undefined && receiver !== undefined);
    try {
      const run = randomBytes(4).toString('hex');
      const heard: string[] = [];
      await receiver.listen((payload) => {
        if (payload.startsWith(run)) heard.push(payload);
      });
      const payloads = Array.from({ length: 5_000 }, (_, n) => `${run}:${n}:${'x'.repeat(n % 97)}`);
      payloads[10] = `${run}:line\nbreak`;
      payloads[20] = `${run}:record\u001eseparator`;
      payloads[30] = `${run}:${'\u00e9'.repeat(5_000)}`; // 10 000 bytes in UTF-8
      // One turn: the whole burst goes out in as few round trips as its size allows.
      await Promise.all(payloads.map((payload) => sender.send(payload)));
      await until(() => heard.length >= payloads.length, 20_000, 'the whole burst');
      assert.deepEqual(heard, payloads);
    } finally {
      await Promise.all([sender.close(), receiver.close(), from.close(), to.close()]);
    }
  });
});
