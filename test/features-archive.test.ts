import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  fileArchive,
  memory,
  openEvdb,
  type ArchiveBackend,
  type ArchiveRange,
  type EventRecord,
} from '../src/index.js';
import { events, rejectsWith } from './conformance/harness.js';

const root = mkdtempSync(join(tmpdir(), 'evdb-archive-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

function record(streamId: string, version: number, data: EventRecord['data']): EventRecord {
  return {
    eventId: `0190a000-0000-7000-8000-${String(version).padStart(12, '0')}`,
    eventType: 'E',
    streamId,
    version,
    position: 100 + version,
    data,
    metadata: version % 2 === 0 ? {} : { v: version },
    tags: version % 3 === 0 ? ['t'] : [],
    dataContentType: data instanceof Uint8Array ? 'application/octet-stream' : 'application/json',
    metadataContentType: 'application/json',
    timestamp: 1_700_000_000_000 + version,
    epochUs: 1_700_000_000_000_000 + version * 1000,
  };
}

/** Pages as a scavenge hands them over: produced asynchronously, one at a time. */
async function* pagesOf(list: EventRecord[], size: number): AsyncGenerator<EventRecord[]> {
  for (let i = 0; i < list.length; i += size) {
    await new Promise((resolve) => setImmediate(resolve));
    yield list.slice(i, i + size);
  }
}

describe('file archive', () => {
  it('round-trips ranges of awkward stream ids, lists them, and survives a new instance', async () => {
    const dir = join(root, 'ids');
    const archive = fileArchive({ dir });
    const ids = ['plain', 'a/b', '..', '.', 'ünï cödé %41', 'x'.repeat(400), '$link:x'];
    for (const streamId of ids) {
      const list = [
        record(streamId, 3, { n: 3 }),
        record(streamId, 4, new Uint8Array([9, 8, 7])),
        record(streamId, 5, [1, 'two', null]),
      ];
      const key = await archive.write(
        { storeId: 'shop', streamId, fromVersion: 3, toVersion: 5 },
        pagesOf(list, 2),
      );
      assert.equal(key, `shop/${streamId}/3-5`);
      assert.deepEqual(await archive.read(key), list);
    }
    // Nothing escaped the archive's directory, whatever the ids held.
    assert.deepEqual(readdirSync(dir), ['shop']);
    const again = fileArchive({ dir });
    const listed = await again.list('shop');
    assert.deepEqual([...listed].sort(), ids.map((id) => `shop/${id}/3-5`).sort());
    assert.deepEqual(await again.list('shop', 'a/b'), ['shop/a/b/3-5']);
    assert.deepEqual(await again.list('shop', 'a'), []);
    assert.deepEqual(await again.list('other'), []);
    assert.equal((await again.read(`shop/${'x'.repeat(400)}/3-5`)).length, 3);
  });

  it('refuses a range whose events are not the versions it names, and writes no file', async () => {
    const dir = join(root, 'short');
    const archive = fileArchive({ dir });
    const range: ArchiveRange = { storeId: 's', streamId: 'x', fromVersion: 0, toVersion: 3 };
    const gap = [record('x', 0, 1), record('x', 2, 2)];
    await rejectsWith(archive.write(range, pagesOf(gap, 1)), 'unavailable');
    const short = [record('x', 0, 1), record('x', 1, 2)];
    await rejectsWith(archive.write(range, pagesOf(short, 1)), 'unavailable');
    assert.deepEqual(await archive.list('s'), []);
    assert.deepEqual(readdirSync(join(dir, 's', 'x')), []);
    await rejectsWith(archive.read('s/x/0-3'), 'not_found');
  });

  it('reports a damaged archive as internal, not as events', async () => {
    const dir = join(root, 'damaged');
    const archive = fileArchive({ dir });
    await archive.write(
      { storeId: 's', streamId: 'y', fromVersion: 0, toVersion: 0 },
      pagesOf([record('y', 0, 1)], 1),
    );
    writeFileSync(join(dir, 's', 'y', '0-0.jsonl.gz'), 'not gzip');
    await rejectsWith(archive.read('s/y/0-0'), 'internal');
  });
});

describe('scavenge with an archive backend', () => {
  it('deletes nothing when the archive fails, and writes to a given backend', async () => {
    const written: string[] = [];
    const failing: ArchiveBackend = {
      write: () => Promise.reject(new Error('disk full')),
      read: () => Promise.resolve([]),
      list: () => Promise.resolve([]),
    };
    const recording: ArchiveBackend = {
      async write(range, pages) {
        let count = 0;
        for await (const page of pages) count += page.length;
        written.push(`${range.streamId}:${range.fromVersion}-${range.toVersion}:${count}`);
        return `${range.storeId}/${range.streamId}/${range.fromVersion}-${range.toVersion}`;
      },
      read: () => Promise.resolve([]),
      list: () => Promise.resolve([]),
    };
    const evdb = await openEvdb({ backend: memory() });
    try {
      await evdb.createStore('shop');
      await evdb.appendEvents('shop', 's', events(6000));
      await evdb.appendEvents('shop', 's', events(6000));
      const options = { beforeVersion: 11_000, requireSnapshot: false };
      await assert.rejects(
        evdb.scavenge('shop', 's', { ...options, archive: failing }),
        /disk full/,
      );
      assert.equal((await evdb.streamInfo('shop', 's')).eventCount, 12_000);
      const result = await evdb.scavenge('shop', 's', { ...options, archive: recording });
      assert.equal(result.archiveKey, 'shop/s/0-10999');
      // Read in pages (5000 each at the normal memory level), all of them handed over.
      assert.deepEqual(written, ['s:0-10999:11000']);
      assert.equal((await evdb.streamInfo('shop', 's')).eventCount, 1000);
      // The default archive of the memory backend lives in memory.
      await evdb.scavenge('shop', 's', {
        beforeVersion: 11_500,
        requireSnapshot: false,
        archive: true,
      });
      assert.deepEqual(await evdb.listArchives('shop'), ['shop/s/11000-11499']);
      assert.equal((await evdb.readArchive('shop', 'shop/s/11000-11499')).length, 500);
    } finally {
      await evdb.close();
    }
  });

  it('keeps archives under the SQLite data directory across reopen', async () => {
    const dataDir = join(root, 'sqlite');
    const { sqlite } = await import('../src/index.js');
    let evdb = await openEvdb({ backend: sqlite({ dataDir }) });
    await evdb.createStore('shop');
    await evdb.appendEvents('shop', 'order-1', events(5));
    const original = await evdb.streamForward('shop', 'order-1', 0, 5);
    await evdb.scavenge('shop', 'order-1', {
      beforeVersion: 3,
      requireSnapshot: false,
      archive: true,
    });
    await evdb.close();
    assert.deepEqual(readdirSync(join(dataDir, 'archive', 'shop')), ['order-1']);
    evdb = await openEvdb({ backend: sqlite({ dataDir }) });
    try {
      assert.deepEqual(await evdb.listArchives('shop', 'order-1'), ['shop/order-1/0-2']);
      assert.deepEqual(await evdb.readArchive('shop', 'shop/order-1/0-2'), original.slice(0, 3));
      assert.equal(await evdb.getVersion('shop', 'order-1'), 4);
    } finally {
      await evdb.close();
    }
  });
});
