import type { EventStoreApi } from '../core/api.js';
import type { FeatureApi } from '../core/feature-api.js';
import { LIMITS } from '../core/limits.js';
import type { EventRecord } from '../core/types.js';

/** What `verifyStore` reads: the public API, so it checks an embedded store or a server alike. */
export type VerifiableStore = Pick<
  EventStoreApi,
  | 'readAllGlobal'
  | 'listStreams'
  | 'getVersion'
  | 'getEvents'
  | 'readByEventTypes'
  | 'readByTags'
  | 'getStoreStatus'
> &
  Pick<FeatureApi, 'storeStats' | 'eventTypeSummary'>;

export type VerifyCheck =
  'positions' | 'versions' | 'heads' | 'stream-index' | 'type-index' | 'tag-index' | 'counters';

export interface VerifyProblem {
  check: VerifyCheck;
  /** Where: a stream, an event type, a tag, a position, or the store. */
  where: string;
  message: string;
}

export interface VerifyReport {
  storeId: string;
  /** True when no problem was found. */
  sound: boolean;
  problems: VerifyProblem[];
  events: number;
  streams: number;
  eventTypes: number;
  tags: number;
  lastPosition: number;
}

export interface VerifyOptions {
  /** Events read per call. Default 5 000. */
  pageSize?: number;
  /** Called at the start of each pass, for progress output. */
  onPhase?: (phase: string) => void;
  /** Most problems reported; past it the report says how many more were found. Default 1 000. */
  maxProblems?: number;
}

/** The same events, read by another index, in the same order: a count and a rolling hash. */
interface Digest {
  count: number;
  hash: number;
}

interface StreamSeen {
  firstVersion: number;
  lastVersion: number;
  lastPosition: number;
  digest: Digest;
}

const fold = (digest: Digest, position: number): void => {
  digest.count++;
  // Order-sensitive, so that an index returning the same events in another order differs.
  digest.hash = (Math.imul(digest.hash, 31) + (position % 0x7fffffff)) | 0;
};

/**
 * Checks that a store is sound: in the global log positions strictly increase and stay within
 * the store's last position; each stream's versions follow one another without a gap; each
 * stream's head (its version) is its last event's; reading a stream, an event type or a tag
 * through its index returns exactly the events of the log, in order; and the counters (events,
 * streams, events per type) agree with the log. Reads everything once through the log and once
 * through every index; memory grows with the number of streams, types and tags, not events.
 *
 * A stream whose first stored version is above 0 is accepted: scavenging removes the oldest
 * events of a stream and keeps its head.
 *
 * @example
 * const report = await verifyStore(evdb, 'shop');
 * if (!report.sound) for (const p of report.problems) console.log(p.where, p.message);
 */
export async function verifyStore(
  store: VerifiableStore,
  storeId: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const pageSize = options.pageSize ?? 5000;
  const maxProblems = options.maxProblems ?? 1000;
  const problems: VerifyProblem[] = [];
  let dropped = 0;
  const report = (check: VerifyCheck, where: string, message: string): void => {
    if (problems.length < maxProblems) problems.push({ check, where, message });
    else dropped++;
  };
  const phase = options.onPhase ?? (() => undefined);

  const status = await store.getStoreStatus(storeId);
  const streams = new Map<string, StreamSeen>();
  const types = new Map<string, Digest>();
  const tags = new Map<string, Digest>();
  let events = 0;
  let previous = -1;

  phase('reading the log');
  for (let from = 0; ;) {
    const page = await store.readAllGlobal(storeId, from, pageSize);
    for (const event of page) {
      events++;
      if (event.position <= previous) {
        report(
          'positions',
          `position ${event.position}`,
          `position ${event.position} (${event.streamId}@${event.version}) follows position ${previous}: positions must strictly increase`,
        );
      }
      if (event.position > status.lastPosition) {
        report(
          'positions',
          `position ${event.position}`,
          `event at position ${event.position} lies beyond the store's last position ${status.lastPosition}`,
        );
      }
      previous = Math.max(previous, event.position);
      seeVersion(streams, event, report);
      fold(digestOf(types, event.eventType), event.position);
      for (const tag of event.tags) fold(digestOf(tags, tag), event.position);
    }
    const last = page[page.length - 1];
    if (last === undefined || page.length < pageSize) break;
    from = last.position + 1;
  }

  phase('checking stream heads and reads');
  const headSet = new Set<string>();
  let after: string | undefined;
  do {
    const page = await store.listStreams(storeId, { after, limit: LIMITS.maxListLimit });
    for (const streamId of page.streams) headSet.add(streamId);
    after = page.next ?? undefined;
  } while (after !== undefined);
  for (const streamId of headSet) {
    const seen = streams.get(streamId);
    const read = await readStreamDigest(store, storeId, streamId, pageSize);
    if (seen === undefined) {
      // Scavenging may remove every event of a stream and keep its head.
      if (read.digest.count > 0) {
        report(
          'stream-index',
          `stream ${streamId}`,
          `reading the stream returns ${read.digest.count} event(s), the log holds none`,
        );
      }
      continue;
    }
    if (read.version !== seen.lastVersion) {
      report(
        'heads',
        `stream ${streamId}`,
        `the head says version ${read.version}, the stream's last event is version ${seen.lastVersion} (position ${seen.lastPosition})`,
      );
    }
    if (read.digest.count !== seen.digest.count || read.digest.hash !== seen.digest.hash) {
      report(
        'stream-index',
        `stream ${streamId}`,
        `reading the stream returns ${read.digest.count} event(s), the log holds ${seen.digest.count} (versions ${seen.firstVersion}..${seen.lastVersion})` +
          (read.digest.count === seen.digest.count ? ', at other positions' : ''),
      );
    }
  }
  for (const [streamId, seen] of streams) {
    if (!headSet.has(streamId)) {
      report(
        'heads',
        `stream ${streamId}`,
        `the log holds ${seen.digest.count} event(s) of the stream (versions ${seen.firstVersion}..${seen.lastVersion}) but it has no head`,
      );
    }
  }

  phase('checking the event type index');
  const summary = new Map(
    (await store.eventTypeSummary(storeId)).map((entry) => [entry.eventType, entry.count]),
  );
  for (const type of new Set([...types.keys(), ...summary.keys()])) {
    const expected = types.get(type) ?? { count: 0, hash: 0 };
    const found = await indexDigest(pageSize, (fromPosition, count) =>
      store.readByEventTypes(storeId, [type], { fromPosition, count }),
    );
    if (found.count !== expected.count || found.hash !== expected.hash) {
      report(
        'type-index',
        `event type ${type}`,
        `the type index returns ${found.count} event(s), the log holds ${expected.count}` +
          (found.count === expected.count ? ', at other positions' : ''),
      );
    }
    const counted = summary.get(type) ?? 0;
    if (counted !== expected.count) {
      report(
        'counters',
        `event type ${type}`,
        `the counter says ${counted} event(s), the log holds ${expected.count}`,
      );
    }
  }

  phase('checking the tag index');
  for (const [tag, expected] of tags) {
    const found = await indexDigest(pageSize, (fromPosition, count) =>
      store.readByTags(storeId, [tag], { match: 'any', fromPosition, count }),
    );
    if (found.count !== expected.count || found.hash !== expected.hash) {
      report(
        'tag-index',
        `tag ${tag}`,
        `the tag index returns ${found.count} event(s), the log holds ${expected.count}` +
          (found.count === expected.count ? ', at other positions' : ''),
      );
    }
  }

  phase('checking the counters');
  const stats = await store.storeStats(storeId);
  if (stats.totalEvents !== events) {
    report(
      'counters',
      'store',
      `the counter says ${stats.totalEvents} event(s), the log holds ${events}`,
    );
  }
  if (stats.streamCount !== headSet.size) {
    report(
      'counters',
      'store',
      `the counter says ${stats.streamCount} stream(s), the store has ${headSet.size} stream head(s)`,
    );
  }
  if (dropped > 0) {
    problems.push({
      check: 'counters',
      where: 'store',
      message: `${dropped} more problem(s) not listed`,
    });
  }
  return {
    storeId,
    sound: problems.length === 0,
    problems,
    events,
    streams: headSet.size,
    eventTypes: types.size,
    tags: tags.size,
    lastPosition: status.lastPosition,
  };
}

function seeVersion(
  streams: Map<string, StreamSeen>,
  event: EventRecord,
  report: (check: VerifyCheck, where: string, message: string) => void,
): void {
  const seen = streams.get(event.streamId);
  if (seen === undefined) {
    const digest = { count: 0, hash: 0 };
    fold(digest, event.position);
    streams.set(event.streamId, {
      firstVersion: event.version,
      lastVersion: event.version,
      lastPosition: event.position,
      digest,
    });
    return;
  }
  const where = `stream ${event.streamId}`;
  if (event.version <= seen.lastVersion) {
    report(
      'versions',
      where,
      `version ${event.version} at position ${event.position} repeats or goes back from version ${seen.lastVersion} at position ${seen.lastPosition}`,
    );
  } else if (event.version > seen.lastVersion + 1) {
    const missing =
      event.version - seen.lastVersion === 2
        ? `version ${seen.lastVersion + 1} is missing`
        : `versions ${seen.lastVersion + 1}..${event.version - 1} are missing`;
    report(
      'versions',
      where,
      `${missing}: version ${seen.lastVersion} is at position ${seen.lastPosition}, version ${event.version} at position ${event.position}`,
    );
  }
  seen.lastVersion = Math.max(seen.lastVersion, event.version);
  seen.lastPosition = event.position;
  fold(seen.digest, event.position);
}

function digestOf(map: Map<string, Digest>, key: string): Digest {
  let digest = map.get(key);
  if (digest === undefined) {
    digest = { count: 0, hash: 0 };
    map.set(key, digest);
  }
  return digest;
}

async function indexDigest(
  pageSize: number,
  read: (fromPosition: number, count: number) => Promise<EventRecord[]>,
): Promise<Digest> {
  const digest = { count: 0, hash: 0 };
  for (let from = 0; ;) {
    const page = await read(from, pageSize);
    for (const event of page) fold(digest, event.position);
    const last = page[page.length - 1];
    if (last === undefined || page.length < pageSize) return digest;
    from = last.position + 1;
  }
}

/** Reads a stream through its own index, oldest first, and its version from its head. */
async function readStreamDigest(
  store: VerifiableStore,
  storeId: string,
  streamId: string,
  pageSize: number,
): Promise<{ version: number; digest: Digest }> {
  const digest = { count: 0, hash: 0 };
  const version = await store.getVersion(storeId, streamId);
  for (let from = 0; ;) {
    const page = await store.getEvents(storeId, streamId, from, pageSize, 'forward');
    for (const event of page) fold(digest, event.position);
    const last = page[page.length - 1];
    if (last === undefined || page.length < pageSize) break;
    from = last.version + 1;
  }
  return { version, digest };
}
