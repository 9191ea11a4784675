import { invalidArgument } from '../core/errors.js';
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
  /** Keys of a store's archived ranges (of one stream if given), by stream, then version. */
  list(storeId: string, streamId?: string): Promise<string[]>;
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
