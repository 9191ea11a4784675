import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { EventStoreApi } from '../core/api.js';
import { EvdbError, invalidArgument } from '../core/errors.js';
import { ANY_VERSION, type NewEvent, type StreamWrite } from '../core/types.js';
import { decodeWire } from '../protocol/wire.js';
import { LIMITS } from '../core/limits.js';

/** What `importStore` writes through: the public API, so it imports into a store or a server. */
export type ImportableStore = Pick<
  EventStoreApi,
  'appendBatch' | 'appendEvents' | 'createStore' | 'listStores' | 'getStoreStatus'
>;

export interface ImportOptions {
  /** Events per atomic batch. Default 5 000. */
  batchEvents?: number;
  /** Called after each batch. `bytes` counts the input read so far. */
  onProgress?: (progress: { events: number; bytes: number }) => void;
}

export interface ImportResult {
  storeId: string;
  /** Events read from the input. */
  read: number;
  /** Events the store did not hold yet, now written. */
  written: number;
  /** Events the store already held (same id, same stream): a re-run after an interruption. */
  alreadyPresent: number;
  /** Events of link streams (`$link:…`): not imported, a link rebuilds its stream itself. */
  skippedLinkEvents: number;
  batches: number;
}

/**
 * A batch is sent once it holds this much input too: under a server's default request body
 * limit (16 MiB) and the store's limit per append, whatever the size of the events.
 */
const MAX_BATCH_CHARS = 8 * 1024 * 1024;
/** A line longer than this cannot be one event (events are at most LIMITS.maxEventBytes). */
const MAX_LINE_CHARS = LIMITS.maxEventBytes * 2 + 64 * 1024;

/**
 * Reads NDJSON as `exportStore` writes it into a store (created if missing), keeping every
 * event's id, type, data, metadata, tags, causation and correlation ids and content types. The
 * log assigns new positions and times; streams keep their versions when they are new in the
 * store. Events go in atomic batches that keep the input's order, each run of one stream's
 * events one write with `ANY_VERSION`: a run already stored is recognised by its ids and
 * answered without writing, so a re-run after an interruption writes nothing twice. Reads the
 * input line by line: memory follows the batch size, not the input's.
 *
 * @example
 * await importStore(evdb, 'shop', createReadStream('shop.ndjson'));
 */
export async function importStore(
  store: ImportableStore,
  storeId: string,
  input: Readable,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const batchEvents = Math.max(1, options.batchEvents ?? 5000);
  if (!(await store.listStores()).includes(storeId)) {
    try {
      await store.createStore(storeId);
    } catch (error) {
      if (!(error instanceof EvdbError && error.code === 'already_exists')) throw error;
    }
  }
  // A write answered with a position at or below what the store (or this import) had already
  // reached was stored before: a replay. New events always get higher positions.
  let reached = (await store.getStoreStatus(storeId)).lastPosition;
  const result: ImportResult = {
    storeId,
    read: 0,
    written: 0,
    alreadyPresent: 0,
    skippedLinkEvents: 0,
    batches: 0,
  };
  let bytes = 0;
  let writes: StreamWrite[] = [];
  let pending = 0;
  let pendingChars = 0;

  const account = (events: number, position: number): void => {
    if (position > reached) {
      result.written += events;
      reached = position;
    } else result.alreadyPresent += events;
  };
  const flush = async (): Promise<void> => {
    if (pending === 0) return;
    const batch = writes;
    writes = [];
    pending = 0;
    pendingChars = 0;
    result.batches++;
    try {
      const { results } = await store.appendBatch(storeId, batch);
      results.forEach((r, i) => account(batch[i]?.events.length ?? 0, r.position));
    } catch (error) {
      // A run that is partly stored (an earlier import cut its batches differently): event by
      // event, each either recognised or written.
      if (!(error instanceof EvdbError && error.code === 'already_exists')) throw error;
      for (const write of batch) {
        for (const event of write.events) {
          const r = await store.appendEvents(storeId, write.streamId, [event], ANY_VERSION);
          account(1, r.position);
        }
      }
    }
    options.onProgress?.({ events: result.read, bytes });
  };

  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    bytes += Buffer.byteLength(line) + 1;
    if (line.trim() === '') continue;
    if (line.length > MAX_LINE_CHARS) {
      throw invalidArgument(`line ${lineNumber} is longer than any event can be`);
    }
    const { streamId, event } = parseLine(line, lineNumber);
    result.read++;
    if (streamId.startsWith('$')) {
      result.skippedLinkEvents++;
      continue;
    }
    const last = writes[writes.length - 1];
    if (
      last !== undefined &&
      last.streamId === streamId &&
      last.events.length < LIMITS.maxEventsPerAppend
    ) {
      last.events.push(event);
    } else {
      if (writes.length >= LIMITS.maxWritesPerBatch) await flush();
      writes.push({ streamId, expectedVersion: ANY_VERSION, events: [event] });
    }
    pendingChars += line.length;
    if (++pending >= batchEvents || pendingChars >= MAX_BATCH_CHARS) await flush();
  }
  await flush();
  return result;
}

const COPIED_FIELDS = [
  'eventId',
  'causationId',
  'correlationId',
  'dataContentType',
  'metadataContentType',
] as const;

function parseLine(line: string, lineNumber: number): { streamId: string; event: NewEvent } {
  let record: Record<string, unknown>;
  try {
    record = decodeWire(JSON.parse(line)) as Record<string, unknown>;
  } catch (error) {
    throw invalidArgument(`line ${lineNumber} is not JSON: ${(error as Error).message}`);
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw invalidArgument(`line ${lineNumber} is not an event object`);
  }
  const { streamId, eventId, eventType } = record;
  if (
    typeof streamId !== 'string' ||
    typeof eventId !== 'string' ||
    typeof eventType !== 'string'
  ) {
    throw invalidArgument(`line ${lineNumber} lacks a streamId, eventId or eventType`);
  }
  const event: NewEvent = { eventType, data: record.data ?? null };
  if (record.metadata !== undefined && record.metadata !== null) {
    event.metadata = record.metadata as NewEvent['metadata'];
  }
  if (Array.isArray(record.tags) && record.tags.length > 0) event.tags = record.tags as string[];
  for (const field of COPIED_FIELDS) {
    const value = record[field];
    if (typeof value === 'string') event[field] = value;
  }
  return { streamId, event };
}
