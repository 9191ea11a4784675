import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { openEvdb, type Evdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { spawnChild, type Child } from './support/pg-process.js';
import { dropSchemas, startPostgres, uniqueSchema, type TestPostgres } from './support/postgres.js';
import type { FailoverConsumerConfig, FailoverMessage } from './support/sub-failover-consumer.js';

// Two processes consume one persistent subscription on PostgreSQL; one holds the lease and
// delivers. It is killed with SIGKILL while events keep coming: the other takes over within
// the lease time and resumes from the checkpoint. Nothing is lost, and what is delivered again
// is only what the dead process had not acknowledged (its `ack` had not resolved).

const LEASE_MS = 2_000;
const TOTAL_APPENDS = 150;
const EVENTS_PER_APPEND = 10;

let server: TestPostgres;
const schema = uniqueSchema('fail');
before(async () => {
  server = await startPostgres();
});
after(async () => {
  if (!server.owned) await dropSchemas(server.url, schema);
  await server.stop();
});

it('SIGKILL of the dispatching process: another takes over within the lease, nothing lost', async () => {
  const evdb: Evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
  const storeId = 'failover';
  const children: Child<FailoverMessage>[] = [];
  try {
    await evdb.createStore(storeId);
    await evdb.saveSubscription(storeId, { name: 'fo', type: 'by_stream', selector: '$all' });
    const config: FailoverConsumerConfig = {
      url: server.url,
      schema,
      storeId,
      name: 'fo',
      leaseMs: LEASE_MS,
    };
    for (let i = 0; i < 2; i++) {
      children.push(spawnChild<FailoverMessage>('./sub-failover-consumer.ts', config));
    }
    await Promise.all(children.map((child) => child.waitFor((m) => m.kind === 'ready')));

    let appended = 0;
    const writer = (async () => {
      for (let i = 0; i < TOTAL_APPENDS; i++) {
        await evdb.appendEvents(
          storeId,
          `s-${i % 7}`,
          Array.from({ length: EVENTS_PER_APPEND }, (_, n) => ({
            eventType: 'Tick',
            data: { i, n },
          })),
        );
        appended += EVENTS_PER_APPEND;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const holder = await Promise.race(
      children.map((child) => child.waitFor((m) => m.kind === 'batch').then(() => child)),
    );
    const standby = children.find((child) => child !== holder) as Child<FailoverMessage>;
    const some = await holder.waitFor((m) => m.kind === 'acked' && m.position >= 300);
    // Kill it while it works on a batch it got but has not acknowledged.
    await holder.waitFor(
      (m) => m.kind === 'batch' && m.positions[0] === (some as { position: number }).position + 1,
    );
    assert.ok(appended < TOTAL_APPENDS * EVENTS_PER_APPEND, 'events keep coming after the kill');
    holder.process.kill('SIGKILL');
    const killedAt = Date.now();
    await holder.exited;

    const acked = holder.messages.filter((m) => m.kind === 'acked').map((m) => m.position);
    const lastAcked = Math.max(...acked);
    const holderDelivered = holder.messages.flatMap((m) => (m.kind === 'batch' ? m.positions : []));
    assert.equal(
      standby.messages.filter((m) => m.kind === 'batch').length,
      0,
      'the standby delivered nothing while the holder lived',
    );

    const first = await standby.waitFor((m) => m.kind === 'batch', 30_000);
    assert.equal(first.kind, 'batch');
    const takeoverMs = first.at - killedAt;
    // The dead holder's lease runs out at most LEASE_MS after its last renewal; the standby
    // tries every LEASE_MS / 4. The slack covers a slow machine.
    assert.ok(
      takeoverMs <= LEASE_MS * 1.25 + 1_500,
      `taken over ${takeoverMs} ms after the kill (lease ${LEASE_MS} ms)`,
    );
    assert.ok(
      (first.positions[0] as number) > lastAcked,
      `the standby resumes after the last acknowledged event (${lastAcked}), ` +
        `at ${first.positions[0]}`,
    );

    await writer;
    const total = TOTAL_APPENDS * EVENTS_PER_APPEND;
    await standby.waitFor((m) => m.kind === 'acked' && m.position === total - 1, 30_000);
    const standbyDelivered = standby.messages.flatMap((m) =>
      m.kind === 'batch' ? m.positions : [],
    );

    // The standby's own deliveries: in order, each once, none acknowledged by the holder.
    const from = first.positions[0] as number;
    assert.deepEqual(
      standbyDelivered,
      Array.from({ length: total - from }, (_, i) => from + i),
    );
    // Nothing lost: every position reached one consumer or the other.
    const seen = new Set([...holderDelivered, ...standbyDelivered]);
    assert.equal(seen.size, total);
    // Repeats are only events the holder got but had not acknowledged.
    const repeated = standbyDelivered.filter((position) => holderDelivered.includes(position));
    assert.ok(repeated.every((position) => position > lastAcked));
    assert.equal((await evdb.getSubscription(storeId, 'fo')).checkpoint, total - 1);
    console.log(
      `failover: taken over ${takeoverMs} ms after SIGKILL (lease ${LEASE_MS} ms); ` +
        `${repeated.length} unacknowledged events delivered again`,
    );

    standby.send({ kind: 'stop' });
    const exit = await standby.exited;
    assert.equal(exit.code, 0, standby.stderr());
  } finally {
    for (const child of children) {
      if (child.process.exitCode === null && child.process.signalCode === null) {
        child.process.kill('SIGKILL');
      }
    }
    await evdb.close();
  }
});
