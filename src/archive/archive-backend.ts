import { invalidArgument } from '../core/errors.js';
import { compareUtf8 } from '../core/paging.js';
import type { EventRecord } from '../core/types.js';

/** A scavenged range of one stream: the versions `fromVersion..toVersion`, both included. */
export interface ArchiveRange {
  storeId: string;
  streamId: string;
  fromVersion: number;
  toVersion: number;
}

/**
 * Where scavenged events go before they are deleted. `scavenge` deletes nothing until `write`
 * has resolved, so `write` must be durable when it resolves.
 *
 * Keys are `<store>/<stream>/<from>-<to>` (the stream id as it is, slashes included).
 *
 * @example
 * const evdb = await openEvdb({ archive: fileArchive({ dir: '/backups/evdb' }) });
 * await evdb.scavenge('shop', 'order-1', { beforeVersion: 100, archive: true });
 */
export interface ArchiveBackend {
  /**
   * Stores the range's events, given in version order and in pages, and returns the key. Writing
   * a range that is already archived replaces it.
   */
  write(range: ArchiveRange, pages: AsyncIterable<EventRecord[]>): Promise<string>;
  /** The events of an archived range, in version order; `not_found` if there is none. */
  read(key: string): Promise<EventRecord[]>;
  /**
   * Up to `query.limit` of a store's archived ranges (of one stream if `query.streamId` is
   * given), in listing order (`compareArchiveRanges`), starting after `query.after` if given.
   * The store's listing is paged over this: an archive answers what a page needs, not its whole
   * list, as far as its storage lets it (say in its docs what a page costs).
   */
  listPage(storeId: string, query: ArchiveListQuery): Promise<ArchiveRange[]>;
}

/** What `ArchiveBackend.listPage` is asked for. */
export interface ArchiveListQuery {
  /** Only the ranges of this stream. */
  streamId?: string;
  /** Only ranges after this one in listing order (a range of the same store). */
  after?: ArchiveRange;
  /** The most ranges to answer, at least 1. */
  limit: number;
}

/**
 * The listing order of archived ranges: by stream id in UTF-8 byte order, then by first
 * version, then by last version (a range archived again after an interrupted scavenge may
 * start where an older one did).
 */
export function compareArchiveRanges(a: ArchiveRange, b: ArchiveRange): number {
  return (
    compareUtf8(a.streamId, b.streamId) ||
    a.fromVersion - b.fromVersion ||
    a.toVersion - b.toVersion
  );
}

export function archiveKey(range: ArchiveRange): string {
  return `${range.storeId}/${range.streamId}/${range.fromVersion}-${range.toVersion}`;
}

/** The range a key names; `invalid_argument` when it is not a key. */
export function parseArchiveKey(key: unknown): ArchiveRange {
  if (typeof key !== 'string') throw invalidArgument('an archive key must be a string');
  const firstSlash = key.indexOf('/');
  const lastSlash = key.lastIndexOf('/');
  const range = /^(\d+)-(\d+)$/.exec(key.slice(lastSlash + 1));
  if (firstSlash <= 0 || lastSlash <= firstSlash + 1 || range === null) {
    throw invalidArgument(
      `${JSON.stringify(key)} is not an archive key (<store>/<stream>/<from>-<to>)`,
    );
  }
  const fromVersion = Number(range[1]);
  const toVersion = Number(range[2]);
  if (!Number.isSafeInteger(toVersion) || fromVersion > toVersion) {
    throw invalidArgument(`${JSON.stringify(key)} names no range of versions`);
  }
  return {
    storeId: key.slice(0, firstSlash),
    streamId: key.slice(firstSlash + 1, lastSlash),
    fromVersion,
    toVersion,
  };
}
