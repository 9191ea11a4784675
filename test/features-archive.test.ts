import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  fileArchive,
  memory,
  memoryArchive,
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

/** Every key of a store's ranges, asked of the archive `limit` at a time. */
async function listAll(
  archive: ArchiveBackend,
  storeId: string,
  limit: number,
  streamId?: string,
): Promise<string[]> {
  const keys: string[] = [];
  let after: ArchiveRange | undefined;
  for (;;) {
    const page = await archive.listPage(storeId, { streamId, after, limit });
    assert.ok(page.length <= limit);
    keys.push(
      ...page.map(
        (range) => `${range.storeId}/${range.streamId}/${range.fromVersion}-${range.toVersion}`,
      ),
    );
    after = page[page.length - 1];
    if (page.length < limit || after === undefined) return keys;
  }
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
    const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    assert.deepEqual(
      await listAll(again, 'shop', 2),
      [...ids].sort(byUtf8).map((id) => `shop/${id}/3-5`),
    );
    assert.deepEqual(await listAll(again, 'shop', 10, 'a/b'), ['shop/a/b/3-5']);
    assert.deepEqual(await listAll(again, 'shop', 10, 'a'), []);
    assert.deepEqual(await listAll(again, 'other', 10), []);
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
    assert.deepEqual(await archive.listPage('s', { limit: 10 }), []);
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

describe('listing an archive a page at a time', () => {
  const archives: [string, () => ArchiveBackend][] = [
    ['file', () => fileArchive({ dir: mkdtempSync(join(root, 'pages-')) })],
    ['memory', () => memoryArchive()],
  ];
  for (const [name, make] of archives) {
    it(`${name}: pages in order by stream (UTF-8 bytes), then first and last version, whatever the page size`, async () => {
      const archive = make();
      const written: ArchiveRange[] = [];
      // Streams written out of order; 'b' holds 0-2 and 0-4 (an archive written again after an
      // interrupted scavenge), long ids go to hashed directories.
      const plan: [string, number, number][] = [
        ['b', 5, 9],
        ['é', 0, 0],
        ['a', 0, 1],
        ['b', 0, 4],
        ['y'.repeat(300), 0, 1],
        ['b', 0, 2],
        ['B', 3, 3],
        ['x'.repeat(300), 2, 2],
        ['a-1', 0, 0],
      ];
      for (const [streamId, fromVersion, toVersion] of plan) {
        const range = { storeId: 'shop', streamId, fromVersion, toVersion };
        const list = Array.from({ length: toVersion - fromVersion + 1 }, (_, i) =>
          record(streamId, fromVersion + i, { i }),
        );
        await archive.write(range, pagesOf(list, 10));
        written.push(range);
      }
      await archive.write(
        { storeId: 'other', streamId: 'a', fromVersion: 0, toVersion: 0 },
        pagesOf([record('a', 0, 1)], 1),
      );
      const expected = [
        'shop/B/3-3',
        'shop/a/0-1',
        'shop/a-1/0-0',
        'shop/b/0-2',
        'shop/b/0-4',
        'shop/b/5-9',
        `shop/${'x'.repeat(300)}/2-2`,
        `shop/${'y'.repeat(300)}/0-1`,
        'shop/é/0-0',
      ];
      for (const limit of [1, 2, 3, 4, 100]) {
        assert.deepEqual(await listAll(archive, 'shop', limit), expected, `limit ${limit}`);
      }
      assert.deepEqual(await listAll(archive, 'shop', 2, 'b'), [
        'shop/b/0-2',
        'shop/b/0-4',
        'shop/b/5-9',
      ]);
      // A cursor from the middle of a stream goes on after it, in that stream and the next.
      const after = { storeId: 'shop', streamId: 'b', fromVersion: 0, toVersion: 2 };
      const next = await archive.listPage('shop', { after, limit: 2 });
      assert.deepEqual(
        next.map((range) => `${range.streamId}/${range.fromVersion}-${range.toVersion}`),
        ['b/0-4', 'b/5-9'],
      );
      // The cursor's range need not exist any more.
      const gone = { storeId: 'shop', streamId: 'a0', fromVersion: 7, toVersion: 8 };
      assert.deepEqual(
        (await archive.listPage('shop', { after: gone, limit: 1 })).map((r) => r.streamId),
        ['b'],
      );
      assert.deepEqual(await archive.listPage('none', { limit: 5 }), []);
    });
  }

  it('file: skips what is not an archived range (a stray file, a stream directory a write left before its first range)', async () => {
    const dir = mkdtempSync(join(root, 'stray-'));
    const archive = fileArchive({ dir });
    await archive.write(
      { storeId: 's', streamId: 'k', fromVersion: 0, toVersion: 0 },
      pagesOf([record('k', 0, 1)], 1),
    );
    writeFileSync(join(dir, 's', 'notes.txt'), 'not a stream');
    writeFileSync(join(dir, 's', 'k', '0-0.jsonl.gz.1234.tmp'), 'half written');
    mkdirSync(join(dir, 's', `#${'0'.repeat(64)}`));
    mkdirSync(join(dir, 's', 'empty'));
    assert.deepEqual(await listAll(archive, 's', 1), ['s/k/0-0']);
  });
});

describe('scavenge with an archive backend', () => {
  it('deletes nothing when the archive fails, and writes to a given backend', async () => {
    const written: string[] = [];
    const failing: ArchiveBackend = {
      write: () => Promise.reject(new Error('disk full')),
      read: () => Promise.resolve([]),
      listPage: () => Promise.resolve([]),
    };
    const recording: ArchiveBackend = {
      async write(range, pages) {
        let count = 0;
        for await (const page of pages) count += page.length;
        written.push(`${range.streamId}:${range.fromVersion}-${range.toVersion}:${count}`);
        return `${range.storeId}/${range.streamId}/${range.fromVersion}-${range.toVersion}`;
      },
      read: () => Promise.resolve([]),
      listPage: () => Promise.resolve([]),
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
