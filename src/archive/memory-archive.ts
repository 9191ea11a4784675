import { EvdbError } from '../core/errors.js';
import type { EventRecord } from '../core/types.js';
import {
  archiveKey,
  compareArchiveRanges,
  parseArchiveKey,
  type ArchiveBackend,
  type ArchiveListQuery,
  type ArchiveRange,
} from './archive-backend.js';
import { SmallestItems } from './smallest-items.js';

/**
 * An archive in this process's memory, as lasting as the memory backend it goes with: the
 * default archive of stores that keep nothing on disk.
 */
export function memoryArchive(): ArchiveBackend {
  return new MemoryArchive();
}

class MemoryArchive implements ArchiveBackend {
  private readonly ranges = new Map<string, { range: ArchiveRange; events: EventRecord[] }>();

  async write(range: ArchiveRange, pages: AsyncIterable<EventRecord[]>): Promise<string> {
    const events: EventRecord[] = [];
    for await (const page of pages) events.push(...page.map((event) => structuredClone(event)));
    const expected = range.toVersion - range.fromVersion + 1;
    if (events.length !== expected || events.some((e, i) => e.version !== range.fromVersion + i)) {
      throw new EvdbError(
        'unavailable',
        `archiving ${archiveKey(range)}: the stream changed meanwhile; nothing was deleted`,
      );
    }
    const key = archiveKey(range);
    this.ranges.set(key, { range, events });
    return Promise.resolve(key);
  }

  read(key: string): Promise<EventRecord[]> {
    parseArchiveKey(key);
    const found = this.ranges.get(key);
    if (found === undefined) {
      return Promise.reject(
        new EvdbError('not_found', `no archive ${JSON.stringify(key)}`, { details: { key } }),
      );
    }
    return Promise.resolve(found.events.map((event) => structuredClone(event)));
  }

  /** Looks at every range of the archive once a page (they are all in memory already). */
  listPage(storeId: string, query: ArchiveListQuery): Promise<ArchiveRange[]> {
    const page = new SmallestItems(query.limit, compareArchiveRanges);
    for (const { range } of this.ranges.values()) {
      if (range.storeId !== storeId) continue;
      if (query.streamId !== undefined && range.streamId !== query.streamId) continue;
      if (query.after !== undefined && compareArchiveRanges(range, query.after) <= 0) continue;
      page.offer(range);
    }
    return Promise.resolve([...page.items]);
  }
}
