import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memory, openEvdb } from '../src/index.js';
import { describeChannels, until } from './conformance/channels.js';
import type { ChannelMessage } from '../src/core/channel-types.js';
import { sign } from '../src/channels/signing.js';

const secret = 'embedded-test-secret';

describeChannels({
  name: 'embedded (memory)',
  secret,
  open: async () => {
    const evdb = await openEvdb({ backend: memory(), channels: { secret } });
    return { channels: evdb.channels, close: () => evdb.close() };
  },
});

describe('channels: priority and slow subscribers (embedded)', () => {
  it('a slow logging subscriber neither delays alerts nor loses one; it loses low-priority messages, counted', async () => {
    const evdb = await openEvdb({ backend: memory(), channels: { secret } });
    const slowHandled: number[] = [];
    const logging = await evdb.channels.subscribe('logging', 'app.*', async (m) => {
      slowHandled.push((m.message as { n: number }).n);
      await new Promise((resolve) => setTimeout(resolve, 2));
    });
    const alerts: ChannelMessage[] = [];
    await evdb.channels.subscribe('alerts', 'ops.*', (m) => void alerts.push(m));
    // A flood beyond what a 2 ms-per-message subscriber can take, with alerts mixed in.
    const published: Promise<unknown>[] = [];
    for (let n = 0; n < 5_000; n++) {
      published.push(evdb.channels.publish('logging', 'app.web', { n }));
      if (n % 100 === 0)
        published.push(evdb.channels.publish('alerts', 'ops.disk', sign({ n }, secret)));
    }
    await Promise.all(published);
    // Every alert arrives while the logging subscriber is still far behind.
    await until(() => alerts.length === 50, 10_000, 'every alert');
    assert.ok(slowHandled.length < 1_000, `logging handled ${slowHandled.length} so far`);
    assert.deepEqual(
      alerts.map((m) => (m.message as { n: number }).n),
      Array.from({ length: 50 }, (_, i) => i * 100),
    );
    // The slow subscriber lost its oldest messages beyond its queue, and counts them.
    assert.ok(
      logging.dropped >= 5_000 - 1_000 - slowHandled.length - 1,
      `dropped ${logging.dropped}`,
    );
    await evdb.close();
  });

  it('when delivery is behind, critical messages go before high, normal and low ones', async () => {
    const evdb = await openEvdb({ backend: memory(), channels: { secret } });
    const order: string[] = [];
    const record = (m: ChannelMessage): void => void order.push(m.channel);
    await evdb.channels.subscribe('logging', 'a', record);
    await evdb.channels.subscribe('system', 'a', record);
    await evdb.channels.subscribe('events', 'a', record);
    await evdb.channels.subscribe('alerts', 'a', record);
    // All queued in one turn, lowest priority first: delivery starts after.
    const published = [
      ...Array.from({ length: 2_000 }, () => evdb.channels.publish('logging', 'a', {})),
      ...Array.from({ length: 300 }, () => evdb.channels.publish('system', 'a', {})),
      ...Array.from({ length: 300 }, () => evdb.channels.publish('events', 'a', {})),
      evdb.channels.publish('alerts', 'a', sign({}, secret)),
    ];
    await Promise.all(published);
    await until(() => order.length === 1_000 + 300 + 300 + 1, 10_000, 'delivery');
    assert.equal(order[0], 'alerts');
    assert.ok(order.slice(1, 301).every((c) => c === 'events'));
    assert.ok(order.slice(301, 601).every((c) => c === 'system'));
    assert.ok(order.slice(601).every((c) => c === 'logging'));
    await evdb.close();
  });

  it('a handler that throws is reported to onError, and the next message still arrives', async () => {
    const evdb = await openEvdb({ backend: memory() });
    const errors: unknown[] = [];
    const received: number[] = [];
    await evdb.channels.subscribe(
      'events',
      'x',
      (m) => {
        const n = (m.message as { n: number }).n;
        if (n === 0) throw new Error('boom');
        received.push(n);
      },
      { onError: (error) => errors.push(error) },
    );
    await evdb.channels.publish('events', 'x', { n: 0 });
    await evdb.channels.publish('events', 'x', { n: 1 });
    await until(() => received.length === 1);
    assert.equal(errors.length, 1);
    await evdb.close();
  });
});
