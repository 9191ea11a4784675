import assert from 'node:assert/strict';
import { subscribe as onChannel, unsubscribe as offChannel } from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import type { EventRecord } from '../src/index.js';
import { TELEMETRY_CHANNELS, type WorkerLookupEvent } from '../src/telemetry/channels.js';
import { startServeNode, type ServeNode } from './support/serve-node.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

// Three `evdb serve` nodes on one PostgreSQL database. The first node asked to append to a store
// becomes its write owner; the others forward appends to it. These tests kill and pause the owner
// while appenders write through the other nodes, and check that every acknowledged append is in
// the log exactly once, that a reader saw every position, and that another node took over.
const TTL_MS = 1_500;
let pg: TestPostgres;
const nodes: ServeNode[] = [];
const clients: EvdbClient[] = [];

before(async () => {
  pg = await startPostgres();
  // Four nodes, started at once (each takes seconds on a loaded machine): the first test kills
  // one, the second uses the other three.
  nodes.push(...(await Promise.all([0, 1, 2, 3].map(() => startNode()))));
});
after(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  for (const node of nodes) {
    if (node.child.signalCode === null && node.child.exitCode === null) node.child.kill('SIGCONT');
    await node.stop('SIGKILL');
  }
  await pg.stop();
});

function startNode(): Promise<ServeNode> {
  return startServeNode([
    '--pg-url',
    pg.url,
    '--log-level',
    'silent',
    '--worker-ttl',
    String(TTL_MS),
  ]);
}

async function client(url: string): Promise<EvdbClient> {
  const opened = await connect(url, {
    transport: 'websocket',
    WebSocket,
    retry: { retries: 30, base: 50, max: 500 },
    timeoutMs: 60_000,
  });
  clients.push(opened);
  return opened;
}

async function readAll(reader: EvdbClient, storeId: string): Promise<EventRecord[]> {
  const all: EventRecord[] = [];
  for (;;) {
    const page = await reader.readAllGlobal(storeId, (all.at(-1)?.position ?? -1) + 1, 1000);
    if (page.length === 0) return all;
    all.push(...page);
  }
}

async function ownerOf(reader: EvdbClient, storeId: string): Promise<string | undefined> {
  const workers = await reader.getWorkers(storeId);
  return workers.find((worker) => worker.writeOwner === true)?.nodeId;
}

async function waitFor(check: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Appenders on their own streams (exact versions), recording every acknowledged event id. */
function appenders(
  targets: EvdbClient[],
  storeId: string,
  count: number,
  acknowledged: Map<string, string>,
  running: () => boolean,
): Promise<void[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const writer = targets[i % targets.length] as EvdbClient;
      const streamId = `appender-${i}`;
      for (let version = 0; running(); version++) {
        const eventId = crypto.randomUUID();
        await writer.appendEvents(
          storeId,
          streamId,
          [{ eventId, eventType: 'Counted', data: { version } }],
          version - 1,
        );
        acknowledged.set(eventId, streamId);
      }
    }),
  );
}

function assertExactlyOnce(events: EventRecord[], acknowledged: Map<string, string>): void {
  const ids = new Set(events.map((e) => e.eventId));
  assert.equal(ids.size, events.length, 'no event id twice in the log');
  for (const [eventId] of acknowledged) assert.ok(ids.has(eventId), `acknowledged ${eventId}`);
  const versions = new Map<string, number>();
  for (const e of events) {
    assert.equal(e.version, (versions.get(e.streamId) ?? -1) + 1, `${e.streamId} has no gap`);
    versions.set(e.streamId, e.version);
  }
  assert.deepEqual(
    events.map((e) => e.position),
    events.map((_, i) => i),
    'positions without a gap',
  );
}

describe('postgres: a write owner per store among serve nodes', () => {
  it('the owner SIGKILLed under load: nothing acknowledged is lost or doubled, another node owns the store within the ttl, a reader skips nothing', async () => {
    const [owner, second, third] = nodes as [ServeNode, ServeNode, ServeNode];
    const [viaOwner, viaSecond, viaThird] = [
      await client(owner.url),
      await client(second.url),
      await client(third.url),
    ];
    const storeId = 'killed-owner';
    await viaOwner.createStore(storeId);
    await viaOwner.appendEvents(storeId, 'first', [{ eventType: 'Counted', data: {} }]);
    const ownerId = await ownerOf(viaOwner, storeId);
    assert.ok(ownerId !== undefined);
    // The other nodes learn the owner's URL from its worker entry, written at its next heartbeat.
    await waitFor(
      async () => (await ownerOf(viaSecond, storeId)) === ownerId,
      'the owner hint',
      TTL_MS * 4,
    );

    const seen: number[] = [];
    const subscription = await viaThird.subscribe(
      storeId,
      { type: 'by_stream', selector: '$all', startFrom: 0 },
      (batch) => {
        seen.push(...batch.map((e) => e.position));
      },
    );
    const acknowledged = new Map<string, string>();
    let running = true;
    const writing = appenders([viaSecond, viaThird], storeId, 16, acknowledged, () => running);
    await waitFor(
      () => Promise.resolve(acknowledged.size >= 200),
      'appends before the kill',
      60_000,
    );
    const killedAt = Date.now();
    await owner.stop('SIGKILL');
    let newOwner: string | undefined;
    await waitFor(
      async () => {
        newOwner = await ownerOf(viaSecond, storeId);
        return newOwner !== undefined && newOwner !== ownerId;
      },
      'a new owner',
      TTL_MS * 4,
    );
    const tookOverMs = Date.now() - killedAt;
    const before = acknowledged.size;
    await waitFor(
      () => Promise.resolve(acknowledged.size >= before + 200),
      'appends after the takeover',
      60_000,
    );
    running = false;
    await writing;
    assert.equal(await ownerOf(viaThird, storeId), newOwner);

    const events = await readAll(viaSecond, storeId);
    assertExactlyOnce(events, acknowledged);
    await waitFor(() => Promise.resolve(seen.length >= events.length), 'the reader', 30_000);
    assert.deepEqual(
      seen,
      events.map((e) => e.position),
    );
    await subscription.close();
    assert.ok(tookOverMs < TTL_MS * 4, `took over after ${tookOverMs} ms`);
  });

  it('an owner paused past its lease: appends forwarded to it (their owner changes mid-flight) and appends it had queued are written exactly once', async () => {
    const [, second, third, owner] = nodes as [ServeNode, ServeNode, ServeNode, ServeNode];
    const [viaOwner, viaSecond, viaThird] = [
      await client(owner.url),
      await client(second.url),
      await client(third.url),
    ];
    const storeId = 'paused-owner';
    await viaOwner.createStore(storeId);
    await viaOwner.appendEvents(storeId, 'first', [{ eventType: 'Counted', data: {} }]);
    const ownerId = await ownerOf(viaOwner, storeId);
    await waitFor(
      async () => (await ownerOf(viaSecond, storeId)) === ownerId,
      'the owner hint',
      TTL_MS * 4,
    );
    const acknowledged = new Map<string, string>();
    let running = true;
    // Appenders on the owner itself and on the others (forwarded to it) when it is paused.
    const writing = appenders(
      [viaOwner, viaSecond, viaThird],
      storeId,
      12,
      acknowledged,
      () => running,
    );
    await waitFor(
      () => Promise.resolve(acknowledged.size >= 150),
      'appends before the pause',
      60_000,
    );
    owner.child.kill('SIGSTOP');
    let newOwner: string | undefined;
    await waitFor(
      async () => {
        newOwner = await ownerOf(viaSecond, storeId);
        return newOwner !== undefined && newOwner !== ownerId;
      },
      'a new owner while the old one is paused',
      TTL_MS * 6,
    );
    const during = acknowledged.size;
    await waitFor(
      () => Promise.resolve(acknowledged.size >= during + 100),
      'appends to the new owner',
      60_000,
    );
    // The old owner wakes up still holding what it queued under its old token.
    owner.child.kill('SIGCONT');
    const woke = acknowledged.size;
    await waitFor(() => Promise.resolve(acknowledged.size >= woke + 150), 'appends after', 60_000);
    running = false;
    await writing;
    assert.equal(await ownerOf(viaOwner, storeId), newOwner);
    assertExactlyOnce(await readAll(viaThird, storeId), acknowledged);
  });

  it('a client with discoverWorkers sends appends straight to the write owner, and finds the next owner when it dies', async () => {
    const [, owner, given, survivor] = nodes as [ServeNode, ServeNode, ServeNode, ServeNode];
    const viaOwner = await client(owner.url);
    const storeId = 'client-routed';
    await viaOwner.createStore(storeId);
    await viaOwner.appendEvents(storeId, 'first', [{ eventType: 'Counted', data: {} }]);
    const ownerId = await ownerOf(viaOwner, storeId);
    const viaGiven = await client(given.url);
    await waitFor(
      async () => (await ownerOf(viaGiven, storeId)) === ownerId,
      'the owner hint',
      TTL_MS * 4,
    );
    // A node lists itself in a new store at its next heartbeat: the client can only turn to the
    // survivor later if the survivor is among the workers it learns now.
    await waitFor(
      async () => (await viaGiven.getWorkers(storeId)).some((w) => w.url === survivor.url),
      'the survivor among the workers',
      TTL_MS * 4,
    );
    const lookups: WorkerLookupEvent[] = [];
    const record = (message: unknown): void => {
      const lookup = message as WorkerLookupEvent;
      if (lookup.storeId === storeId) lookups.push(lookup);
    };
    onChannel(TELEMETRY_CHANNELS.workerLookup, record);
    try {
      // Given only one non-owner node's URL; the owner is learned from `getWorkers`.
      const routed = await connect(given.url, {
        transport: 'websocket',
        WebSocket,
        discoverWorkers: { refreshMs: 500 },
        retry: { retries: 30, base: 50, max: 500 },
        timeoutMs: 60_000,
      });
      clients.push(routed);
      const acknowledged = new Map<string, string>();
      let version = -1;
      const append = async (through: EvdbClient): Promise<void> => {
        const eventId = crypto.randomUUID();
        await through.appendEvents(
          storeId,
          'routed',
          [{ eventId, eventType: 'Counted', data: { version: version + 1 } }],
          version,
        );
        version += 1;
        acknowledged.set(eventId, 'routed');
      };
      await append(routed);
      assert.equal(lookups.at(-1)?.writeOwner, owner.url, 'the lookup names the owner');
      // The node the client was given is gone: appends without retries still all succeed, as
      // they go to the owner and never to it (round robin over the workers would reach it).
      await given.stop('SIGKILL');
      const once = routed.withOptions({ retry: { retries: 0 } });
      for (let i = 0; i < 20; i++) await append(once);

      // The owner dies: the client forgets it, appends reach the survivor (which commits them,
      // and owns the store once the lease runs out), and the next lookups name the survivor.
      await owner.stop('SIGKILL');
      await waitFor(
        async () => {
          await append(routed);
          return lookups.at(-1)?.writeOwner === survivor.url;
        },
        'the new owner in a lookup',
        TTL_MS * 10,
      );
      for (let i = 0; i < 20; i++) await append(once);
      const written = (await readAll(routed, storeId)).filter((e) => e.streamId === 'routed');
      assert.deepEqual(
        written.map((e) => e.eventId),
        [...acknowledged.keys()],
        'every acknowledged append once, in order',
      );
    } finally {
      offChannel(TELEMETRY_CHANNELS.workerLookup, record);
    }
  });
});
