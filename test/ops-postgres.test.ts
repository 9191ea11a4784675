import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { postgres } from '../src/backends/postgres/index.js';
import {
  backupStore,
  openEvdb,
  restoreStore,
  verifyStore,
  type EventRecord,
  type Evdb,
} from '../src/index.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

const server = await startPostgres();
const schema = uniqueSchema('ops');
const root = mkdtempSync(join(tmpdir(), 'evdb-ops-pg-'));
const opened: Evdb[] = [];
after(async () => {
  for (const evdb of opened) await evdb.close();
  if (!server.owned) await dropSchemas(server.url, schema);
  await server.stop();
  rmSync(root, { recursive: true, force: true });
});

async function open(): Promise<Evdb> {
  const evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
  opened.push(evdb);
  return evdb;
}

async function readAll(evdb: Evdb, storeId: string): Promise<EventRecord[]> {
  const events: EventRecord[] = [];
  for (let from = 0; ;) {
    const page = await evdb.readAllGlobal(storeId, from, 5000);
    events.push(...page);
    const last = page[page.length - 1];
    if (last === undefined || page.length < 5000) return events;
    from = last.position + 1;
  }
}

describe('backup and restore on PostgreSQL', () => {
  it('backs a store up from one snapshot while another process-like pool writes', async () => {
    const writer = await open();
    await writer.createStore('shop');
    await writer.appendEvents('shop', 'blob-1', [
      { eventType: 'Bytes', data: new Uint8Array([0, 1, 2, 255, 10, 92]) },
      { eventType: 'Text', data: { text: 'tab\there\nnewline \\ backslash', n: 1 }, tags: ['x'] },
    ]);
    await writer.recordSnapshot('shop', 'src', 'blob-1', 1, { data: { state: 2 } });
    await writer.saveSubscription('shop', {
      type: 'by_event_type',
      selector: 'Text',
      name: 'texts',
      startFrom: 0,
    });
    const acked = new Set<string>();
    let stopped = false;
    const loops = Array.from({ length: 4 }, async (_, a) => {
      for (let i = 0; !stopped; i++) {
        const eventId = crypto.randomUUID();
        await writer.appendEvents('shop', `load-${a}-${i % 5}`, [
          { eventId, eventType: `T${i % 3}`, data: { a, i }, tags: [`t${i % 2}`] },
        ]);
        acked.add(eventId);
      }
    });
    while (acked.size < 300) await new Promise((resolve) => setTimeout(resolve, 10));
    const ackedBefore = [...acked];

    // A backend of its own, as `evdb backup --pg-url` in another process would have.
    const backend = postgres({ url: server.url, schema });
    const dest = join(root, 'shop.evdb-backup');
    const taken = await backupStore(backend, 'shop', dest);
    const ackedAtEnd = acked.size;
    while (acked.size < ackedAtEnd + 100) await new Promise((resolve) => setTimeout(resolve, 10));
    stopped = true;
    await Promise.all(loops);

    const restored = await restoreStore(backend, 'copy', dest);
    assert.equal(restored.lastPosition, taken.lastPosition);
    await assert.rejects(restoreStore(backend, 'copy', dest), { code: 'already_exists' });
    const junk = join(root, 'junk');
    writeFileSync(junk, 'EVDB-POSTGRES-BACKUP 1\n{"storeId":"x"}\n');
    await assert.rejects(restoreStore(backend, 'junk', junk), { code: 'invalid_argument' });
    await backend.close();

    const reader = await open();
    assert.deepEqual(await reader.listStores(), ['copy', 'shop']);
    const report = await verifyStore(reader, 'copy');
    assert.deepEqual(report.problems, []);
    const events = await readAll(reader, 'copy');
    assert.equal(events.length, taken.totalEvents);
    const ids = new Set(events.map((e) => e.eventId));
    for (const id of ackedBefore)
      assert.ok(ids.has(id), `event ${id} acknowledged before the backup`);
    const live = (await readAll(reader, 'shop')).filter((e) => e.position <= taken.lastPosition);
    assert.deepEqual(
      events,
      live.map((e) => ({ ...e })),
    );
    assert.deepEqual((await reader.readSnapshot('copy', 'src', 'blob-1')).data, { state: 2 });
    assert.equal((await reader.getSubscription('copy', 'texts')).name, 'texts');
    // The restored store takes appends at the next position.
    const next = await reader.appendEvents('copy', 'after', [{ eventType: 'E', data: null }]);
    assert.ok(next.position > taken.lastPosition);
    assert.equal((await verifyStore(reader, 'copy')).sound, true);

    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      await client.query(
        `DELETE FROM "${schema}-copy".events WHERE stream_id = 'load-0-0' AND version = 1`,
      );
    } finally {
      await client.end();
    }
    const damaged = await verifyStore(reader, 'copy');
    assert.equal(damaged.sound, false);
    assert.ok(
      damaged.problems.some(
        (p) =>
          p.check === 'versions' &&
          p.where === 'stream load-0-0' &&
          /version 1 is missing/.test(p.message),
      ),
      JSON.stringify(damaged.problems),
    );
  });
});
