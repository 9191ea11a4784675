import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { invalidArgument } from '../core/errors.js';
import type { NewEvent } from '../core/types.js';
import { decodeWire } from '../protocol/wire.js';
import { LIMITS } from '../core/limits.js';
import { BatchWriter, type ImportableStore } from './batch-writer.js';

export type { ImportableStore };

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
  let read = 0;
  let bytes = 0;
  let skippedLinkEvents = 0;
  const writer = await BatchWriter.open(store, storeId, {
    batchEvents: Math.max(1, options.batchEvents ?? 5000),
    conflicts: 'throw',
    onFlushed: () => options.onProgress?.({ events: read, bytes }),
  });
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
    read++;
    if (streamId.startsWith('$')) {
      skippedLinkEvents++;
      continue;
    }
    await writer.add(streamId, event, line.length);
  }
  await writer.flush();
  const { written, alreadyPresent, batches } = writer.counts;
  return { storeId, read, written, alreadyPresent, skippedLinkEvents, batches };
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
