import { RE2JS } from 're2js';
import { invalidArgument } from '../core/errors.js';
import type { Evdb } from '../embedded/evdb.js';
import { BYTES_CONTENT_TYPE, JSON_CONTENT_TYPE } from '../core/types.js';
import { kurrentEventToEvdb } from '../protocol/kurrent-event.js';
import { BatchWriter, type ImportableStore } from './batch-writer.js';
import {
  KurrentDbSource,
  comparePositions,
  type KurrentImportFilter,
  type SourceEvent,
} from './kurrentdb-source.js';

export type { KurrentImportFilter } from './kurrentdb-source.js';

/** A position in KurrentDB's `$all`, as its clients give it. */
export interface KurrentPosition {
  commit: bigint;
  prepare: bigint;
}

/** Where an import stands: the source position of the last event it has dealt with. */
export interface ImportCheckpoint {
  load(): Promise<KurrentPosition | undefined>;
  save(position: KurrentPosition): Promise<void>;
}

export interface KurrentImportOptions extends KurrentImportFilter {
  /** Events per atomic batch. Default 5 000. */
  batchEvents?: number;
  /**
   * Where to keep the checkpoint (saved after every batch), so that a re-run after an
   * interruption starts where the last one stopped; `storeCheckpoint` keeps it with the target
   * store. Without one, a re-run reads the source from the start (and writes nothing twice).
   */
  checkpoint?: ImportCheckpoint;
  /** Called after each batch stored: the source position reached, of the last one at the start. */
  onProgress?: (progress: { events: number; position: bigint; lastPosition: bigint }) => void;
}

export interface KurrentImportResult {
  storeId: string;
  /** The source's connection string, without credentials. */
  source: string;
  /** The commit position the import resumed after (a checkpoint of an earlier run), if any. */
  resumedAfter?: string;
  /** Events read from the source. */
  read: number;
  /** Events the store did not hold yet, now written. */
  written: number;
  /** Events the store already held (same id, same stream): a re-run after an interruption. */
  alreadyPresent: number;
  /** Events of `$` streams, or of `$` types without `includeSystemEvents`. */
  skippedSystem: number;
  /** Events outside the filter. */
  skippedFiltered: number;
  /**
   * Events a reader of their stream no longer sees: before its `$tb`, beyond its `$maxCount`
   * or `$maxAge`, of a deleted or tombstoned stream (KurrentDB drops them when it scavenges).
   */
  skippedDeleted: number;
  /** Streams of the source that are tombstoned (hard-deleted); none of their events is copied. */
  tombstonedStreams: number;
  /** Events refused because the store holds their id in another stream (ids are unique in evdb). */
  conflicts: number;
  /** Some of those ids. */
  conflictIds: string[];
  batches: number;
}

/** Events read from the source at a time. */
const PAGE = 2048;
const MAX_PREFIXES = 100;
const MAX_REGEX_LENGTH = 1024;

/**
 * The checkpoint kept with the target store, in its key-value facility (as durable as its
 * events), under `key`. The store is looked up when the import first loads the checkpoint,
 * after creating the store if it was missing.
 */
export function storeCheckpoint(evdb: Evdb, storeId: string, key: string): ImportCheckpoint {
  const NAMESPACE = 'import:kurrentdb';
  return {
    async load() {
      const entry = await (await evdb.keyValues(storeId)).kvGet(NAMESPACE, key);
      const value = entry?.value as { commit?: unknown; prepare?: unknown } | undefined;
      if (typeof value?.commit !== 'string' || typeof value.prepare !== 'string') return undefined;
      return { commit: BigInt(value.commit), prepare: BigInt(value.prepare) };
    },
    async save(position) {
      await (
        await evdb.keyValues(storeId)
      ).kvPut(NAMESPACE, key, {
        commit: position.commit.toString(),
        prepare: position.prepare.toString(),
        savedAt: new Date().toISOString(),
      });
    },
  };
}

/** A name for the checkpoint of one source and one filter: another filter starts over. */
export function checkpointKey(source: string, filter: KurrentImportFilter): string {
  const { streamPrefixes, streamRegex, eventTypePrefixes, eventTypeRegex, includeSystemEvents } =
    filter;
  return JSON.stringify({
    source,
    streamPrefixes,
    streamRegex,
    eventTypePrefixes,
    eventTypeRegex,
    includeSystemEvents,
  });
}

/**
 * Copies the events of a running KurrentDB (or EventStoreDB) into an evdb store (created if
 * missing), reading `$all` forwards through the official client: every event keeps its id,
 * type, data, metadata and its stream, and the events keep their order. Events a reader of the
 * source no longer sees (deleted, truncated, tombstoned streams) and system events are left
 * out. Writes go in atomic batches in source order; after each, the checkpoint (if any) is
 * saved. A re-run resumes after the checkpoint, and an event already stored is recognised by
 * its id and not written again, so an interrupted import re-run copies every event exactly
 * once. Positions and times are the store's own.
 *
 * @example
 * const evdb = await openEvdb({ dataDir: './data' });
 * const checkpoint = storeCheckpoint(evdb, 'shop', 'from-kurrent');
 * await importFromKurrentDb(evdb, 'shop', 'kurrentdb://host:2113?tls=false', { checkpoint });
 */
export async function importFromKurrentDb(
  store: ImportableStore,
  storeId: string,
  connectionString: string,
  options: KurrentImportOptions = {},
): Promise<KurrentImportResult> {
  const wanted = compileFilter(options);
  const source = await KurrentDbSource.connect(connectionString);
  try {
    const result: KurrentImportResult = {
      storeId,
      source: source.description,
      read: 0,
      written: 0,
      alreadyPresent: 0,
      skippedSystem: 0,
      skippedFiltered: 0,
      skippedDeleted: 0,
      tombstonedStreams: 0,
      conflicts: 0,
      conflictIds: [],
      batches: 0,
    };
    const writer = await BatchWriter.open<KurrentPosition>(store, storeId, {
      batchEvents: Math.max(1, options.batchEvents ?? 5000),
      conflicts: 'count',
      onFlushed: async (mark) => {
        if (mark === undefined) return;
        await options.checkpoint?.save(mark);
        report(mark);
      },
    });
    const resumedAfter = await options.checkpoint?.load();
    if (resumedAfter !== undefined) result.resumedAfter = resumedAfter.commit.toString();
    let lastPosition = (await source.lastPosition())?.commit ?? 0n;
    const report = (at: KurrentPosition): void => {
      if (at.commit > lastPosition) lastPosition = at.commit;
      options.onProgress?.({ events: result.read, position: at.commit, lastPosition });
    };
    let after = resumedAfter;
    for (;;) {
      const page = await source.readPage(after, PAGE, options);
      const fresh =
        after === undefined
          ? page
          : page.filter((e) => comparePositions(e.position, after as KurrentPosition) > 0);
      for (const event of fresh) {
        result.read++;
        const skip = await whySkipped(event, wanted, source);
        if (skip !== undefined) {
          result[skip]++;
          continue;
        }
        const { streamId, record } = event;
        const newEvent = kurrentEventToEvdb({
          eventId: record.id.toLowerCase(),
          eventType: record.type,
          contentType: record.isJson ? JSON_CONTENT_TYPE : BYTES_CONTENT_TYPE,
          data: bytesOfData(record.data, record.isJson),
          customMetadata: bytesOfMetadata(record.metadata),
        });
        const chars = byteLengthOf(newEvent.data) + streamId.length + record.type.length;
        await writer.add(streamId, newEvent, chars, event.position);
      }
      const last = page.at(-1);
      if (last !== undefined) after = last.position;
      if (page.length < PAGE || fresh.length === 0) break;
    }
    await writer.flush();
    // Events after the last one written (all skipped) need not be looked at again either.
    if (after !== undefined) await options.checkpoint?.save(after);
    const { written, alreadyPresent, batches, conflicts, conflictIds } = writer.counts;
    Object.assign(result, { written, alreadyPresent, batches, conflicts, conflictIds });
    result.tombstonedStreams = source.tombstoned.size;
    return result;
  } finally {
    await source.close();
  }
}

type SkipReason = 'skippedSystem' | 'skippedFiltered' | 'skippedDeleted';

interface CompiledFilter {
  stream(streamId: string): boolean;
  eventType(eventType: string): boolean;
  includeSystemEvents: boolean;
}

async function whySkipped(
  event: SourceEvent,
  wanted: CompiledFilter,
  source: KurrentDbSource,
): Promise<SkipReason | undefined> {
  const { streamId, record } = event;
  if (streamId.startsWith('$')) return 'skippedSystem';
  if (record.type.startsWith('$') && !wanted.includeSystemEvents) return 'skippedSystem';
  if (!wanted.stream(streamId) || !wanted.eventType(record.type)) return 'skippedFiltered';
  if (event.revision < (await source.firstReadableRevision(streamId))) return 'skippedDeleted';
  return undefined;
}

function compileFilter(filter: KurrentImportFilter): CompiledFilter {
  return {
    stream: matcher('stream', filter.streamPrefixes, filter.streamRegex),
    eventType: matcher('event type', filter.eventTypePrefixes, filter.eventTypeRegex),
    includeSystemEvents: filter.includeSystemEvents === true,
  };
}

function matcher(
  what: string,
  prefixes: string[] | undefined,
  regex: string | undefined,
): (value: string) => boolean {
  if (prefixes !== undefined && prefixes.length > 0 && regex !== undefined) {
    throw invalidArgument(`give ${what} prefixes or a ${what} regex, not both`);
  }
  if (regex !== undefined) {
    if (regex.length > MAX_REGEX_LENGTH) {
      throw invalidArgument(`a ${what} regex takes at most ${MAX_REGEX_LENGTH} characters`);
    }
    let compiled: RE2JS;
    try {
      compiled = RE2JS.compile(regex);
    } catch (error) {
      throw invalidArgument(`the ${what} regex is not valid: ${(error as Error).message}`);
    }
    return (value) => compiled.matcher(value).find();
  }
  if (prefixes !== undefined && prefixes.length > 0) {
    if (prefixes.length > MAX_PREFIXES) {
      throw invalidArgument(`at most ${MAX_PREFIXES} ${what} prefixes are allowed`);
    }
    return (value) => prefixes.some((prefix) => value.startsWith(prefix));
  }
  return () => true;
}

/** The client parses JSON data; written back as JSON it reads as the same value. */
function bytesOfData(data: unknown, isJson: boolean): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (isJson) return Buffer.from(JSON.stringify(data) ?? 'null', 'utf8');
  return Buffer.from(String(data), 'utf8');
}

/** The client parses JSON metadata and hands other metadata over as bytes. */
function bytesOfMetadata(metadata: unknown): Uint8Array {
  if (metadata === undefined || metadata === null) return new Uint8Array(0);
  if (metadata instanceof Uint8Array) return metadata;
  return Buffer.from(JSON.stringify(metadata), 'utf8');
}

function byteLengthOf(data: unknown): number {
  return data instanceof Uint8Array ? data.byteLength : JSON.stringify(data).length;
}
