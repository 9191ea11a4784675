// Parked events: each is a `$>` link (`<revision>@<stream>`) in the group's parked stream.
// A replay reads links and hands out the events they point to; a link is cut off the parked
// stream (by its `$tb`, as KurrentDB does) only once its event is finished, so a replay cut
// short (its consumers gone, the node killed) leaves the rest parked, never lost.
import { isEvdbError } from '../../../core/errors.js';
import type { EventRecord } from '../../../core/types.js';
import type { Evdb } from '../../../embedded/evdb.js';
import { streamLimits } from '../stream-metadata.js';

export interface ParkedLink {
  /** The link's version in the parked stream. */
  version: number;
  /** The event it points to; undefined when that event's stream was deleted since. */
  event: EventRecord | undefined;
}

/** At most `limit` parked links after version `after` (-1: from the first still parked). */
export async function readParked(
  evdb: Evdb,
  storeId: string,
  parked: string,
  after: number,
  limit: number,
): Promise<ParkedLink[]> {
  const head = await evdb.getVersion(storeId, parked);
  if (head < 0) return [];
  const firstVisible = (await streamLimits(evdb, storeId, parked))?.firstVisible ?? 0;
  const from = Math.max(firstVisible, after + 1);
  if (from > head) return [];
  const links = await evdb.getEvents(storeId, parked, from, Math.min(limit, 100_000), 'forward');
  const parkedLinks: ParkedLink[] = [];
  for (const link of links) {
    const target = new TextDecoder().decode(link.data as Uint8Array);
    const at = target.indexOf('@');
    const [event] = await evdb
      .getEvents(storeId, target.slice(at + 1), Number(target.slice(0, at)), 1, 'forward')
      .catch((error: unknown) => {
        if (isEvdbError(error, 'stream_not_found')) return [];
        throw error;
      });
    parkedLinks.push({ version: link.version, event });
  }
  return parkedLinks;
}

/** Cuts the links before version `before` off the parked stream. */
export async function truncateParked(
  evdb: Evdb,
  storeId: string,
  parked: string,
  before: number,
): Promise<void> {
  await evdb.appendSystem(storeId, {
    streamId: `$$${parked}`,
    events: [{ eventType: '$metadata', data: { $tb: before } }],
  });
}
