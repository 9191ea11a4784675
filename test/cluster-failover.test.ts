import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import type { EventRecord, Subscription } from '../src/core/types.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startServeNode, type ServeNode } from './support/serve-node.js';

// Failover under load: three `evdb serve` nodes on one PostgreSQL database. Clients append
// through all three (event ids fixed by the caller, the client's retries on), three consumers
// compete for a persistent subscription (one per node), a catch-up subscription reads `$all`,
// and a link copies `$all` into `$link:mirror`. The node that holds the subscription's lease,
// runs the link and serves the catch-up subscription is killed with SIGKILL mid-load. Then:
// every acknowledged append is in the log exactly once; the subscription and the link carry on
// from a survivor within their lease; the catch-up subscription resumes after the last event
// it got; `getWorkers` drops the dead node within its ttl; the cluster checks report it.
// Everything goes through the public client API, whichever node ends up doing the writing.

const WORKER_TTL_MS = 2_000;
const LEASE_MS = 1_500;
/** Time a loaded machine may add to what the ttls promise (scheduling, queries, polling). */
const SLACK_MS = 2_500;
const LOAD_BEFORE_KILL_MS = 2_500;
const LOAD_AFTER_KILL_MS = 3_000;
const STORE = 'failover';

let pg: TestPostgres;
let nodes: ServeNode[] = [];
const clients: EvdbClient[] = [];

before(async () => {
  pg = await startPostgres();
  const args = ['--pg-url', pg.url, '--log-level', 'silent', '--worker-ttl', `${WORKER_TTL_MS}`];
  nodes = await Promise.all([0, 1, 2].map(() => startServeNode(args)));
});
after(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
  await pg.stop();
});

async function client(urls: string[], websocket = false): Promise<EvdbClient> {
  const made = await connect(urls, {
    ...(websocket ? { transport: 'websocket' as const, WebSocket } : {}),
    retry: { retries: 10, base: 50, max: 1_000 },
  });
  clients.push(made);
  return made;
}

async function waitFor<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Delivery {
  consumer: number;
  at: number;
  positions: number[];
}

it('SIGKILL of a node under load: nothing acknowledged lost or doubled, work moves to survivors', async () => {
  const urls = nodes.map((node) => node.url);
  const [doomed, ...survivors] = nodes as [ServeNode, ServeNode, ServeNode];
  const admin = await client(survivors.map((node) => node.url));
  await admin.createStore(STORE);
  // Every node lists itself as a worker of the new store at its next heartbeat.
  const workers = await waitFor('three workers', 10_000, async () => {
    const listed = await admin.getWorkers(STORE);
    return listed.length === 3 ? listed : undefined;
  });
  const doomedId = workers.find((worker) => worker.url === doomed.url)?.nodeId as string;
  assert.ok(doomedId !== undefined, 'the doomed node is listed by its URL');

  // The work the doomed node holds: created through it first, so it takes the leases first.
  const onDoomed = await client([doomed.url], true);
  await onDoomed.appendEvents(STORE, 'seed', [{ eventType: 'Seed', data: {} }]);
  await onDoomed.saveSubscription(STORE, { name: 'audit', type: 'by_stream', selector: '$all' });
  await onDoomed.createLink(STORE, { name: 'mirror', source: { type: 'all' }, leaseMs: LEASE_MS });
  const deliveries: Delivery[] = [];
  const consume = async (consumer: number, on: EvdbClient): Promise<Subscription> => {
    const subscription = await on.subscribe(
      STORE,
      { name: 'audit', leaseMs: LEASE_MS, batchSize: 50 },
      (batch) => {
        deliveries.push({ consumer, at: Date.now(), positions: batch.map((e) => e.position) });
      },
    );
    // The consumer on the killed node ends when its only server is gone; that is expected.
    subscription.done.catch(() => undefined);
    return subscription;
  };
  await consume(0, onDoomed);
  await waitFor('the first consumer holding the lease', 10_000, () =>
    Promise.resolve(deliveries.length > 0 ? true : undefined),
  );
  for (const [i, node] of survivors.entries()) {
    await consume(i + 1, await client([node.url], true));
  }
  // The catch-up subscription's first call goes to the first URL given: the doomed node. When
  // it dies, the client subscribes again on another and resumes after the last event it got.
  const catchUpClient = await client(urls, true);
  const caughtUp: EventRecord[] = [];
  const catchUp = await catchUpClient.subscribe(
    STORE,
    { type: 'by_stream', selector: '$all', startFrom: 0 },
    (batch) => void caughtUp.push(...batch),
  );

  // The load: three clients, each starting at another node, round robin over all three.
  const appenders = await Promise.all(
    urls.map((_, i) => client([...urls.slice(i), ...urls.slice(0, i)])),
  );
  const attempted = new Set<string>();
  const acknowledged = new Set<string>();
  const failures: unknown[] = [];
  let loading = true;
  const load = Promise.all(
    appenders.flatMap((appender, a) =>
      [0, 1].map(async (lane) => {
        for (let n = 0; loading; n++) {
          const events = [0, 1, 2].map((k) => ({
            eventId: randomUUID(),
            eventType: 'Tick',
            data: { a, lane, n, k },
          }));
          for (const event of events) attempted.add(event.eventId);
          try {
            await appender.appendEvents(STORE, `s-${a}-${n % 5}`, events);
            for (const event of events) acknowledged.add(event.eventId);
          } catch (error) {
            failures.push(error);
          }
          await sleep(10);
        }
      }),
    ),
  );

  await sleep(LOAD_BEFORE_KILL_MS);
  assert.ok(acknowledged.size > 0, 'appends went through before the kill');
  doomed.child.kill('SIGKILL');
  const killedAt = Date.now();
  await doomed.stop('SIGKILL'); // waits for the exit
  const acknowledgedAtKill = acknowledged.size;
  const linkVersionAtKill = (await admin.linkInfo(STORE, 'mirror')).linkStreamVersion;

  // Right after the kill the dead node is still listed but does not answer the checks.
  const checkAfterKill = admin.verifyMembershipConsensus();
  const workersDroppedAfter = waitFor('getWorkers to drop the dead node', 30_000, async () => {
    const listed = await admin.getWorkers(STORE);
    return listed.some((worker) => worker.nodeId === doomedId) ? undefined : Date.now() - killedAt;
  });
  const linkResumedAfter = waitFor('the link to resume', 30_000, async () => {
    const { linkStreamVersion } = await admin.linkInfo(STORE, 'mirror');
    return linkStreamVersion > linkVersionAtKill ? Date.now() - killedAt : undefined;
  });
  const subscriptionResumedAfter = waitFor('a survivor consumer', 30_000, () => {
    const first = deliveries.find((d) => d.consumer !== 0 && d.at >= killedAt);
    return Promise.resolve(first === undefined ? undefined : first.at - killedAt);
  });

  await sleep(LOAD_AFTER_KILL_MS);
  loading = false;
  await load;
  assert.ok(acknowledged.size > acknowledgedAtKill, 'appends went on after the kill');
  assert.deepEqual(failures, [], 'with its retries, every append succeeded');

  // 1. No acknowledged append lost, none written twice.
  const log = (await admin.readAllGlobal(STORE, 0, 100_000)).filter(
    (event) => !event.streamId.startsWith('$'),
  );
  const counts = new Map<string, number>();
  for (const event of log) counts.set(event.eventId, (counts.get(event.eventId) ?? 0) + 1);
  for (const id of acknowledged) assert.equal(counts.get(id), 1, `acknowledged ${id} once`);
  for (const [id, count] of counts) {
    assert.equal(count, 1, `${id} written once`);
    assert.ok(id === log[0]?.eventId || attempted.has(id), `${id} was appended by a client`);
  }
  const positions = log.map((event) => event.position);
  const lastPosition = positions[positions.length - 1] as number;

  // 2. The persistent subscription moved to a survivor within its lease and delivered every event.
  const subscriptionMs = await subscriptionResumedAfter;
  assert.ok(
    subscriptionMs <= LEASE_MS * 1.25 + SLACK_MS,
    `a survivor consumer took over ${subscriptionMs} ms after the kill (lease ${LEASE_MS} ms)`,
  );
  await waitFor('the subscription to catch up', 30_000, async () =>
    (await admin.getSubscription(STORE, 'audit')).checkpoint >= lastPosition ? true : undefined,
  );
  const delivered = new Set(deliveries.flatMap((d) => d.positions));
  assert.deepEqual(
    positions.filter((position) => !delivered.has(position)),
    [],
    'every event reached a consumer',
  );

  // 3. The catch-up subscription resumed on a survivor after the last event it got.
  await waitFor('the catch-up subscription', 30_000, () =>
    Promise.resolve(caughtUp.length >= log.length ? true : undefined),
  );
  assert.deepEqual(
    caughtUp.map((event) => event.eventId),
    log.map((event) => event.eventId),
    'each event once, in order',
  );

  // 4. The link moved to a survivor within its lease and links every event once, in order.
  const linkMs = await linkResumedAfter;
  assert.ok(
    linkMs <= LEASE_MS * 1.25 + SLACK_MS,
    `a survivor resumed the link ${linkMs} ms after the kill (lease ${LEASE_MS} ms)`,
  );
  // The link was created after the seed event, without backfill: it links what came after.
  const linkable = log.filter((event) => event.streamId !== 'seed');
  const mirrored = await waitFor('the link to catch up', 30_000, async () => {
    const events = await admin.streamForward(STORE, '$link:mirror', 0, 100_000);
    return events.length >= linkable.length ? events : undefined;
  });
  assert.deepEqual(
    mirrored.map((event) => event.eventId),
    linkable.map((event) => event.eventId),
    'the link stream holds every event once, in source order',
  );

  // 5. getWorkers dropped the dead node within its ttl.
  const droppedMs = await workersDroppedAfter;
  assert.ok(
    droppedMs <= WORKER_TTL_MS + SLACK_MS,
    `getWorkers dropped the dead node ${droppedMs} ms after the kill (ttl ${WORKER_TTL_MS} ms)`,
  );
  assert.deepEqual(
    new Set((await admin.getWorkers(STORE)).map((worker) => worker.url)),
    new Set(survivors.map((node) => node.url)),
  );

  // 6. The cluster checks: the dead node named while listed, gone once its entry expired.
  const during = await checkAfterKill;
  assert.equal(during.consistent, false);
  const dead = during.nodes.find((node) => node.nodeId === doomedId);
  assert.deepEqual(
    { reachable: dead?.reachable, differences: dead?.differences },
    { reachable: false, differences: ['did not answer'] },
  );
  const cluster = await admin.verifyClusterConsistency();
  assert.equal(cluster.consistent, true, JSON.stringify(cluster.nodes, null, 2));
  assert.deepEqual(
    new Set(cluster.nodes.map((node) => node.url)),
    new Set(survivors.map((node) => node.url)),
  );
  const heads = await admin.checkLogConsistency(STORE);
  assert.equal(heads.consistent, true, JSON.stringify(heads.nodes, null, 2));
  const head = (await admin.readAllGlobal(STORE, 0, 100_000)).at(-1)?.position;
  assert.ok(heads.nodes.every((node) => node.view?.heads[STORE] === head));

  await catchUp.close();
  console.log(
    `failover: ${acknowledged.size} events acknowledged (${acknowledgedAtKill} before the kill); ` +
      `subscription resumed after ${subscriptionMs} ms, link after ${linkMs} ms ` +
      `(lease ${LEASE_MS} ms); getWorkers dropped the node after ${droppedMs} ms ` +
      `(ttl ${WORKER_TTL_MS} ms)`,
  );
});
