import { EvdbError, invalidArgument } from '../core/errors.js';
import type {
  Snapshot,
  SnapshotPage,
  SnapshotRecord,
  SnapshotSummary,
} from '../core/feature-types.js';
import { encodeCursor, pagingOptions } from '../core/paging.js';
import type { JsonObject, JsonValue, ListOptions } from '../core/types.js';
import type { StoredSnapshot, StoredSnapshotSummary } from '../backends/feature-storage.js';
import type { Store } from '../store/store.js';
import { LIMITS } from '../core/limits.js';
import { assertInteger, assertJson, assertName, describe } from '../core/validation.js';

let lastCreatedUs = 0;

/** Wall-clock µs, strictly increasing within the process: orders `listAllSnapshots`. */
function nextCreatedUs(): number {
  lastCreatedUs = Math.max(Date.now() * 1000, lastCreatedUs + 1);
  return lastCreatedUs;
}

export async function recordSnapshot(
  store: Store,
  sourceUuid: string,
  streamUuid: string,
  version: number,
  record: SnapshotRecord,
): Promise<SnapshotSummary> {
  assertName('sourceUuid', sourceUuid);
  assertName('streamUuid', streamUuid);
  assertInteger('version', version, 0);
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw invalidArgument('the snapshot must be an object { data, metadata? }');
  }
  if (!('data' in record) || record.data === undefined) {
    throw invalidArgument('the snapshot needs data (use null for none)');
  }
  assertJson(record.data, 'snapshot.data');
  const { metadata } = record;
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw invalidArgument(`snapshot.metadata must be a JSON object, got ${describe(metadata)}`);
    }
    assertJson(metadata, 'snapshot.metadata');
  }
  const data = JSON.stringify(record.data);
  const storedMetadata =
    metadata === undefined || Object.keys(metadata).length === 0 ? null : JSON.stringify(metadata);
  const bytes =
    Buffer.byteLength(data) + (storedMetadata === null ? 0 : Buffer.byteLength(storedMetadata));
  if (bytes > LIMITS.maxSnapshotBytes) {
    throw invalidArgument(
      `the snapshot is ${bytes} bytes; one snapshot may take at most ${LIMITS.maxSnapshotBytes}`,
    );
  }
  store.assertOpen();
  const stored: StoredSnapshot = {
    sourceUuid,
    streamUuid,
    version,
    data,
    metadata: storedMetadata,
    createdUs: nextCreatedUs(),
  };
  await store.log.snapshots.put(stored);
  return toSummary(stored);
}

export async function readSnapshot(
  store: Store,
  sourceUuid: string,
  streamUuid: string,
  version: number | 'latest' | undefined,
): Promise<Snapshot> {
  assertName('sourceUuid', sourceUuid);
  assertName('streamUuid', streamUuid);
  const exact = version === undefined || version === 'latest' ? undefined : version;
  if (exact !== undefined) assertInteger('version', exact, 0);
  store.assertOpen();
  const found = await store.log.snapshots.get(sourceUuid, streamUuid, exact);
  if (found === undefined) throw missing(store.storeId, sourceUuid, streamUuid, exact);
  return toSnapshot(found);
}

export async function deleteSnapshot(
  store: Store,
  sourceUuid: string,
  streamUuid: string,
  version: number,
): Promise<void> {
  assertName('sourceUuid', sourceUuid);
  assertName('streamUuid', streamUuid);
  assertInteger('version', version, 0);
  store.assertOpen();
  if (!(await store.log.snapshots.delete(sourceUuid, streamUuid, version))) {
    throw missing(store.storeId, sourceUuid, streamUuid, version);
  }
}

export async function listSnapshots(
  store: Store,
  sourceUuid: string | undefined,
  streamUuid: string | undefined,
): Promise<Snapshot[]> {
  if (sourceUuid !== undefined) assertName('sourceUuid', sourceUuid);
  if (streamUuid !== undefined) assertName('streamUuid', streamUuid);
  store.assertOpen();
  const found = await store.log.snapshots.list({ sourceUuid, streamUuid });
  return found.map(toSnapshot);
}

/**
 * Every snapshot summary of the store, newest first, up to `LIMITS.maxUnpagedSnapshots`;
 * `invalid_argument` past it (page with `listSnapshotPage`).
 */
export async function listAllSnapshots(store: Store): Promise<SnapshotSummary[]> {
  store.assertOpen();
  const max = LIMITS.maxUnpagedSnapshots;
  const found = await store.log.snapshots.summaries(undefined, max + 1);
  if (found.length > max) {
    throw invalidArgument(
      `store ${store.storeId} has more than ${max} snapshots, too many for one array: page through them with listSnapshotPage(storeId, { after, limit })`,
    );
  }
  return found.map(toSummary);
}

/** One page of the store's snapshot summaries, newest first (`listSnapshotPage`). */
export async function listSnapshotPage(
  store: Store,
  options: ListOptions | undefined,
): Promise<SnapshotPage> {
  const { after, limit } = pagingOptions(options, MAX_CURSOR_KEY_BYTES);
  store.assertOpen();
  const found = await store.log.snapshots.summaries(
    after === undefined ? undefined : summaryKey(after),
    limit + 1,
  );
  const page = found.slice(0, limit);
  const last = page[limit - 1];
  return {
    snapshots: page.map(toSummary),
    next:
      found.length > limit && last !== undefined
        ? encodeCursor(
            JSON.stringify([last.createdUs, last.streamUuid, last.sourceUuid, last.version]),
          )
        : null,
  };
}

/** A cursor's key: JSON of two names (each escaped to at most 6 bytes a byte) and two numbers. */
const MAX_CURSOR_KEY_BYTES = 12 * LIMITS.maxNameBytes + 64;

/** The snapshot a cursor's key names; `invalid_argument` for anything a page did not write. */
function summaryKey(key: string): StoredSnapshotSummary {
  let parsed: unknown;
  try {
    parsed = JSON.parse(key);
  } catch {
    parsed = undefined;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 4 &&
    Number.isSafeInteger(parsed[0]) &&
    typeof parsed[1] === 'string' &&
    typeof parsed[2] === 'string' &&
    Number.isSafeInteger(parsed[3])
  ) {
    const [createdUs, streamUuid, sourceUuid, version] = parsed as [number, string, string, number];
    return { createdUs, streamUuid, sourceUuid, version };
  }
  throw invalidArgument('after must be the next cursor of a previous page of listSnapshotPage');
}

function toSummary(stored: StoredSnapshotSummary): SnapshotSummary {
  return {
    sourceUuid: stored.sourceUuid,
    streamUuid: stored.streamUuid,
    version: stored.version,
    createdAt: new Date(Math.floor(stored.createdUs / 1000)).toISOString(),
  };
}

function toSnapshot(stored: StoredSnapshot): Snapshot {
  return {
    ...toSummary(stored),
    data: JSON.parse(stored.data) as JsonValue,
    metadata: stored.metadata === null ? {} : (JSON.parse(stored.metadata) as JsonObject),
  };
}

function missing(
  storeId: string,
  sourceUuid: string,
  streamUuid: string,
  version: number | undefined,
): EvdbError {
  const which = version === undefined ? 'no snapshot' : `no snapshot at version ${version}`;
  return new EvdbError(
    'not_found',
    `${which} of source '${sourceUuid}' for stream '${streamUuid}' in store '${storeId}'`,
    { details: { storeId, sourceUuid, streamUuid, version: version ?? 'latest' } },
  );
}
