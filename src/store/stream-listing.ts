import { invalidArgument } from '../core/errors.js';
import { compileGlob } from '../core/glob.js';
import { LIMITS } from '../core/limits.js';
import {
  encodeCursor,
  filterText,
  keyRange,
  pagingOptions,
  type KeyRange,
} from '../core/paging.js';
import type { ListStreamsOptions, StreamPage } from '../core/types.js';
import { optionsObject } from '../core/validation.js';
import type { EventLog } from '../backends/event-log.js';

/** Ids asked of the backend at a time while a pattern filters them. */
const SCAN_CHUNK = 1000;

/**
 * One page of a store's stream ids (`listStreams`). A prefix, and the part of a pattern before
 * its first `*`, bound the key range the backend reads from its index; the rest of a pattern is
 * checked here, over at most `LIMITS.maxListScan` ids a page.
 */
export async function listStreamPage(
  log: EventLog,
  options: ListStreamsOptions | undefined,
): Promise<StreamPage> {
  const given = optionsObject(options);
  const { after, limit } = pagingOptions(options, LIMITS.maxStreamIdBytes);
  const prefix = filterText('prefix', given.prefix, LIMITS.maxStreamIdBytes);
  const pattern = filterText('pattern', given.pattern, LIMITS.maxStreamIdBytes);
  if (prefix !== undefined && pattern !== undefined) {
    throw invalidArgument('give either prefix or pattern, not both');
  }
  if (pattern === undefined) {
    // One index range: ask for one id more than the page to know whether another follows.
    const ids = await log.listStreams(keyRange(prefix ?? '', after), limit + 1);
    const streams = ids.slice(0, limit);
    return {
      streams,
      next: ids.length > limit ? encodeCursor(streams[limit - 1] as string) : null,
    };
  }
  if (!pattern.includes('*')) {
    // One id: if it is there, it is the first of the ids that start with it.
    const [first] = await log.listStreams(keyRange(pattern, after), 1);
    return { streams: first === pattern ? [first] : [], next: null };
  }
  const matches = compileGlob(pattern);
  let range = keyRange(pattern.slice(0, pattern.indexOf('*')), after);
  const streams: string[] = [];
  let scanned = 0;
  for (;;) {
    const chunk = Math.min(SCAN_CHUNK, LIMITS.maxListScan - scanned);
    const ids = await log.listStreams(range, chunk + 1);
    const looked = ids.slice(0, chunk);
    for (const id of looked) {
      if (!matches(id)) continue;
      streams.push(id);
      if (streams.length === limit) {
        // The page is full: the next one starts after its last id, which may be mid-chunk.
        const more = id !== ids[ids.length - 1];
        return { streams, next: more ? encodeCursor(id) : null };
      }
    }
    scanned += looked.length;
    const last = looked[looked.length - 1];
    if (ids.length <= chunk || last === undefined) return { streams, next: null };
    if (scanned >= LIMITS.maxListScan) return { streams, next: encodeCursor(last) };
    range = { ...range, from: last, fromExclusive: true };
  }
}

/**
 * Every stream id of the store that starts with `prefix`, read a page at a time from the index (for
 * maintenance over many streams: memory follows the page, not the store).
 */
export async function* eachStreamId(log: EventLog, prefix: string): AsyncGenerator<string> {
  let range: KeyRange = keyRange(prefix, undefined);
  for (;;) {
    const ids = await log.listStreams(range, SCAN_CHUNK);
    yield* ids;
    const last = ids[ids.length - 1];
    if (ids.length < SCAN_CHUNK || last === undefined) return;
    range = { ...range, from: last, fromExclusive: true };
  }
}
