import type { ArchivePage, ListArchivesOptions } from '../core/feature-types.js';
import { invalidArgument } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { encodeCursor, pagingOptions } from '../core/paging.js';
import { assertStreamId, optionsObject } from '../core/validation.js';
import {
  archiveKey,
  parseArchiveKey,
  type ArchiveBackend,
  type ArchiveRange,
} from '../archive/archive-backend.js';

/** The longest key: a store id, a stream id and two versions of at most 16 digits, with `/`, `-`. */
const MAX_KEY_BYTES = LIMITS.maxStoreIdLength + LIMITS.maxStreamIdBytes + 2 * 16 + 3;

/**
 * One page of a store's archived ranges (`listArchivePage`). The cursor is the key of the page's
 * last range; the archive answers one range more than the page, to know whether another follows.
 */
export async function listArchivePage(
  archive: ArchiveBackend,
  storeId: string,
  options: ListArchivesOptions | undefined,
): Promise<ArchivePage> {
  const { streamId } = optionsObject(options);
  if (streamId !== undefined) assertStreamId(streamId);
  const { after, limit } = pagingOptions(options, MAX_KEY_BYTES);
  const ranges = await archive.listPage(storeId, {
    streamId,
    after: after === undefined ? undefined : cursorRange(storeId, after),
    limit: limit + 1,
  });
  const archives = ranges.slice(0, limit).map(archiveKey);
  return {
    archives,
    next: ranges.length > limit ? encodeCursor(archives[limit - 1] as string) : null,
  };
}

/** Every archived range of a store, up to `LIMITS.maxUnpagedArchives` (the deprecated whole list). */
export async function listAllArchives(
  archive: ArchiveBackend,
  storeId: string,
  streamId: string | undefined,
): Promise<string[]> {
  if (streamId !== undefined) assertStreamId(streamId);
  const max = LIMITS.maxUnpagedArchives;
  const keys: string[] = [];
  let after: ArchiveRange | undefined;
  for (;;) {
    const limit = Math.min(LIMITS.maxListLimit, max + 1 - keys.length);
    const ranges = await archive.listPage(storeId, { streamId, after, limit });
    keys.push(...ranges.map(archiveKey));
    if (keys.length > max) {
      throw invalidArgument(
        `store ${storeId} has more than ${max} archived ranges, too many for one array: page through them with listArchivePage(storeId, { after, limit })`,
      );
    }
    after = ranges[ranges.length - 1];
    if (ranges.length < limit || after === undefined) return keys;
  }
}

function cursorRange(storeId: string, key: string): ArchiveRange {
  let range: ArchiveRange | undefined;
  try {
    range = parseArchiveKey(key);
  } catch {
    range = undefined;
  }
  if (range?.storeId !== storeId) {
    throw invalidArgument('after must be the next cursor of a previous page of listArchivePage');
  }
  return range;
}
