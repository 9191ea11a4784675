// KurrentDB stream metadata: the last event of `$$<stream>` (type `$metadata`, JSON). The
// adapter keeps metastreams as evdb `$` streams (written with Evdb.appendSystem) and applies
// `$tb` (truncate before), `$maxCount` and `$maxAge` (seconds) to reads of the stream, as
// KurrentDB does; the events stay stored (KurrentDB removes them only when it scavenges; evdb's
// scavenge is separate). Other keys (`$acl`, `$cacheControl`, custom ones) are kept and read
// back as written, but not enforced.
import type { EventRecord } from '../../core/types.js';
import type { Evdb } from '../../embedded/evdb.js';

const METASTREAM_PREFIX = '$$';

/** The stream holding `streamId`'s metadata. */
export function metastreamOf(streamId: string): string {
  return `${METASTREAM_PREFIX}${streamId}`;
}

export function isMetastream(streamId: string): boolean {
  return streamId.startsWith(METASTREAM_PREFIX);
}

export interface StreamLimits {
  /** The first revision a read may return. */
  firstVisible: number;
  /** Events created before this time (ms since the epoch) are hidden; 0 for none. */
  notBefore: number;
}

/** The limits a stream's metadata puts on reading it; undefined when there are none. */
export async function streamLimits(
  evdb: Evdb,
  storeId: string,
  streamId: string,
): Promise<StreamLimits | undefined> {
  if (isMetastream(streamId)) return undefined;
  const metastream = `${METASTREAM_PREFIX}${streamId}`;
  const metaVersion = await evdb.getVersion(storeId, metastream);
  if (metaVersion < 0) return undefined;
  const [event] = await evdb.getEvents(storeId, metastream, metaVersion, 1, 'forward');
  const data = event?.data;
  if (
    typeof data !== 'object' ||
    data === null ||
    Array.isArray(data) ||
    data instanceof Uint8Array
  ) {
    return undefined;
  }
  const metadata = data;
  const truncateBefore = wholeNumber(metadata.$tb);
  const maxCount = wholeNumber(metadata.$maxCount);
  const maxAgeSeconds = wholeNumber(metadata.$maxAge);
  if (truncateBefore === undefined && maxCount === undefined && maxAgeSeconds === undefined) {
    return undefined;
  }
  let firstVisible = truncateBefore ?? 0;
  if (maxCount !== undefined) {
    const head = await evdb.getVersion(storeId, streamId);
    firstVisible = Math.max(firstVisible, head - maxCount + 1);
  }
  return {
    firstVisible,
    notBefore: maxAgeSeconds === undefined ? 0 : Date.now() - maxAgeSeconds * 1000,
  };
}

export function isVisible(limits: StreamLimits | undefined, event: EventRecord): boolean {
  return (
    limits === undefined ||
    (event.version >= limits.firstVisible && event.timestamp >= limits.notBefore)
  );
}

function wholeNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}
