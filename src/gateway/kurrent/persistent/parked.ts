// Parked events: each is a `$>` link (`<revision>@<stream>`) in the group's parked stream.
// Replaying takes them off the stream (by its `$tb`, as KurrentDB does) and returns the events
// they point to.
import { isEvdbError } from '../../../core/errors.js';
import type { EventRecord } from '../../../core/types.js';
import type { Evdb } from '../../../embedded/evdb.js';
import { streamLimits } from '../stream-metadata.js';

/** The parked events (at most `limit`), taken off the parked stream. */
export async function takeParked(
  evdb: Evdb,
  storeId: string,
  parked: string,
  limit: number,
): Promise<EventRecord[]> {
  const head = await evdb.getVersion(storeId, parked);
  if (head < 0) return [];
  const first = (await streamLimits(evdb, storeId, parked))?.firstVisible ?? 0;
  const links = await evdb.getEvents(storeId, parked, first, Math.min(limit, 100_000), 'forward');
  const events: EventRecord[] = [];
  for (const link of links) {
    const target = new TextDecoder().decode(link.data as Uint8Array);
    const at = target.indexOf('@');
    const [event] = await evdb
      .getEvents(storeId, target.slice(at + 1), Number(target.slice(0, at)), 1, 'forward')
      .catch((error: unknown) => {
        // A parked event whose stream was deleted since has nothing to replay.
        if (isEvdbError(error, 'stream_not_found')) return [];
        throw error;
      });
    if (event !== undefined) events.push(event);
  }
  const last = links.at(-1);
  if (last !== undefined) {
    // Replayed links are cut off the parked stream, as KurrentDB does with $tb.
    await evdb.appendSystem(storeId, {
      streamId: `$$${parked}`,
      events: [{ eventType: '$metadata', data: { $tb: last.version + 1 } }],
    });
  }
  return events;
}
