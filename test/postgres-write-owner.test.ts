import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ANY_VERSION, openEvdb, type Evdb, type EventRecord } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import type { LogBackend } from '../src/backends/log-backend.js';
import { prepareWrites } from '../src/store/prepare-writes.js';
import { Store } from '../src/store/store.js';
import { WRITE_OWNER_LEASE } from '../src/store/write-owners.js';
import { rejectsWith, uniqueStoreId } from './conformance/index.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

// The write owner's fencing, forced: two writers (two backends, as two nodes are) both believe
// they own a store, because the first held the lease past its expiry while the second took it.
// The fencing token the commit function checks under the store's lock decides: every commit
// under the old token is ordered before the new owner's first, and none comes after.
const server = await startPostgres();
const schema = uniqueSchema('owner');
const evdb: Evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
const nodeA = postgres({ url: server.url, schema });
const nodeB = postgres({ url: server.url, schema });
after(async () => {
  await evdb.close();
  await nodeA.close();
  await nodeB.close();
  if (!server.owned) await dropSchemas(server.url, schema);
  await server.stop();
});

async function readAll(storeId: string): Promise<EventRecord[]> {
  const all: EventRecord[] = [];
  for (;;) {
    const page = await evdb.readAllGlobal(storeId, (all.at(-1)?.position ?? -1) + 1, 500);
    if (page.length === 0) return all;
    all.push(...page);
  }
}

function append(store: Store, streamId: string, n: number) {
  const unit = prepareWrites([
    { streamId, events: [{ eventType: 'Counted', data: { n } }], expectedVersion: ANY_VERSION },
  ]);
  return store.append(unit);
}

async function openAs(backend: ReturnType<typeof postgres>, storeId: string): Promise<Store> {
  return new Store(storeId, (await backend.openStore(storeId)) as LogBackend);
}

describe('postgres: the write owner fencing', () => {
  it('a token grows when the lease changes hands and stays while its owner renews it', async () => {
    const storeId = uniqueStoreId('tokens');
    await evdb.createStore(storeId);
    const a = (await nodeA.openStore(storeId)) as LogBackend;
    const b = (await nodeB.openStore(storeId)) as LogBackend;
    // Long enough for the calls below to run before it expires, on a loaded machine too.
    const ttlMs = 5_000;
    const first = await a.acquireFencedLease?.(WRITE_OWNER_LEASE, 'A', ttlMs);
    assert.equal(typeof first, 'number');
    assert.equal(await a.acquireFencedLease?.(WRITE_OWNER_LEASE, 'A', ttlMs), first);
    assert.equal(await b.acquireFencedLease?.(WRITE_OWNER_LEASE, 'B', ttlMs), undefined);
    assert.deepEqual(await b.leaseHolder?.(WRITE_OWNER_LEASE), { owner: 'A', token: first });
    // Renewed with a short ttl, then left to expire.
    assert.equal(await a.acquireFencedLease?.(WRITE_OWNER_LEASE, 'A', 100), first);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await b.leaseHolder?.(WRITE_OWNER_LEASE), undefined);
    const second = await b.acquireFencedLease?.(WRITE_OWNER_LEASE, 'B', 200);
    assert.ok((second as number) > (first as number));
    // Released and taken again by the first owner: a new token still, never an old one.
    await b.releaseLease(WRITE_OWNER_LEASE, 'B');
    const third = await a.acquireFencedLease?.(WRITE_OWNER_LEASE, 'A', 200);
    assert.ok((third as number) > (second as number));
  });

  it('two writers that both believe they own a store never both commit', async () => {
    const storeId = uniqueStoreId('fenced');
    await evdb.createStore(storeId);
    const a = await openAs(nodeA, storeId);
    const b = await openAs(nodeB, storeId);
    const tokenA = (await a.log.acquireFencedLease?.(WRITE_OWNER_LEASE, 'A', 300)) as number;
    a.setFenceSource(() => ({ lease: WRITE_OWNER_LEASE, token: tokenA }));
    await append(a, 'a-0', 0);
    await new Promise((resolve) => setTimeout(resolve, 400));
    // A still believes it owns the store (it has not renewed); B takes the expired lease.
    const tokenB = (await b.log.acquireFencedLease?.(WRITE_OWNER_LEASE, 'B', 60_000)) as number;
    b.setFenceSource(() => ({ lease: WRITE_OWNER_LEASE, token: tokenB }));
    // Both write as hard as they can: A's commits are refused from the takeover on.
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0 ? append(a, `a-${i}`, i) : append(b, `b-${i}`, i),
      ),
    );
    results.forEach((result, i) => {
      if (i % 2 === 1) assert.equal(result.status, 'fulfilled');
      else {
        assert.equal(result.status, 'rejected');
        const error = result.reason as { code: string; details: object };
        assert.equal(error.code, 'unavailable');
        assert.equal((error.details as { reason?: string }).reason, 'not_write_owner');
      }
    });
    await rejectsWith(append(a, 'a-late', 99), 'unavailable');
    const events = await readAll(storeId);
    const byA = events.filter((e) => e.streamId.startsWith('a-'));
    const byB = events.filter((e) => e.streamId.startsWith('b-'));
    assert.deepEqual(
      byA.map((e) => e.streamId),
      ['a-0'],
    );
    assert.equal(byB.length, 20);
    assert.ok(Math.max(...byA.map((e) => e.position)) < Math.min(...byB.map((e) => e.position)));
    await a.close();
    await b.close();
  });

  it('unfenced writers (embedded processes) keep committing beside an owner', async () => {
    const storeId = uniqueStoreId('beside');
    await evdb.createStore(storeId);
    const owner = await openAs(nodeA, storeId);
    const token = (await owner.log.acquireFencedLease?.(WRITE_OWNER_LEASE, 'A', 60_000)) as number;
    owner.setFenceSource(() => ({ lease: WRITE_OWNER_LEASE, token }));
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        i % 2 === 0
          ? append(owner, `hot`, i)
          : evdb.appendEvents(
              storeId,
              'hot',
              [{ eventType: 'Counted', data: { n: i } }],
              ANY_VERSION,
            ),
      ),
    );
    const events = await readAll(storeId);
    assert.equal(events.length, 30);
    assert.deepEqual(
      events.map((e) => e.version),
      Array.from({ length: 30 }, (_, i) => i),
    );
    await owner.close();
  });
});
