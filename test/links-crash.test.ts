import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { openEvdb, sqlite, type EventRecord } from '../src/index.js';
import { spawnChild } from './support/pg-process.js';
import { linkOptions } from './support/sub-link-options.js';

// A process backfilling a link is killed with SIGKILL twice, mid-way; the store is then opened
// again and the link resumed (with live appends meanwhile): the link stream holds every
// matching source event exactly once, in source order, with the source ids.

const dataDir = mkdtempSync(join(tmpdir(), 'evdb-links-crash-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const SOURCE_EVENTS = 20_000;

it('a link killed mid-backfill resumes and links every source event exactly once', async () => {
  const storeId = 'links';
  let evdb = await openEvdb({ backend: sqlite({ dataDir, synchronous: 'off' }) });
  await evdb.createStore(storeId);
  for (let from = 0; from < SOURCE_EVENTS; from += 2_000) {
    await evdb.appendEvents(
      storeId,
      `src-${from % 3}`,
      Array.from({ length: 2_000 }, (_, i) => ({ eventType: 'N', data: { n: from + i } })),
    );
  }
  await evdb.close();

  const killedAt: number[] = [];
  for (const stopAfter of [2_000, 6_000]) {
    const child = spawnChild<{ processed: number }>('./sub-link-runner.ts', { dataDir, storeId });
    const seen = await child.waitFor((m) => m.processed >= stopAfter, 60_000);
    child.process.kill('SIGKILL');
    await child.exited;
    killedAt.push(seen.processed);
  }
  assert.ok(
    (killedAt[1] as number) < SOURCE_EVENTS / 2,
    `killed mid-backfill (at ${killedAt.join(', ')} linked events)`,
  );

  evdb = await openEvdb({ backend: sqlite({ dataDir }) });
  try {
    await evdb.createLink(storeId, linkOptions);
    await evdb.appendEvents(
      storeId,
      'src-live',
      Array.from({ length: 100 }, (_, i) => ({ eventType: 'N', data: { n: SOURCE_EVENTS + i } })),
    );
    const expected = (SOURCE_EVENTS + 100) / 2;
    let linked: EventRecord[] = [];
    const deadline = Date.now() + 60_000;
    while (linked.length < expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      linked = await evdb.streamForward(storeId, '$link:odd', 0, 100_000);
    }
    const sources = (await readAll(evdb, storeId)).filter(
      (e) => e.streamId.startsWith('src-') && (e.data as { n: number }).n % 2 === 1,
    );
    assert.equal(sources.length, expected);
    assert.equal(linked.length, expected, 'each matching source event linked once');
    linked.forEach((copy, i) => {
      const source = sources[i] as EventRecord;
      assert.equal(copy.eventId, source.eventId);
      assert.equal(copy.version, i);
      assert.equal(copy.metadata.sourcePosition, source.position);
      assert.deepEqual(copy.data, { n: (source.data as { n: number }).n });
    });
    const writers = new Set(linked.map((e) => e.metadata.copiedBy));
    assert.ok(writers.size >= 3, 'the two killed processes and this one each linked a part');
    console.log(
      `links crash: killed at ${killedAt.join(' and ')} linked events; all ${expected} linked once`,
    );
  } finally {
    await evdb.close();
  }
});

async function readAll(evdb: Awaited<ReturnType<typeof openEvdb>>, storeId: string) {
  const all: EventRecord[] = [];
  for (let from = 0; ;) {
    const page = await evdb.readAllGlobal(storeId, from, 10_000);
    if (page.length === 0) return all;
    all.push(...page);
    from = (page[page.length - 1] as EventRecord).position + 1;
  }
}
