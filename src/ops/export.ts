import { once } from 'node:events';
import type { EventStoreApi } from '../core/api.js';
import { invalidArgument } from '../core/errors.js';
import { globMatcher } from '../core/glob.js';
import type { EventRecord } from '../core/types.js';
import { encodeWire } from '../protocol/wire.js';

/** What `exportStore` reads: the public API, so it exports from an embedded store or a server. */
export type ExportableStore = Pick<EventStoreApi, 'readAllGlobal' | 'getEvents' | 'getStoreStatus'>;

export interface ExportOptions {
  /** Only this stream (read through its own index). */
  streamId?: string;
  /** Only streams whose id matches, `*` matching any run of characters (e.g. `order-*`). */
  streamPattern?: string;
  /** First global position to export (inclusive). Default 0. */
  fromPosition?: number;
  /** Last global position to export (inclusive). Default: the store's last position when the export starts. */
  toPosition?: number;
  /** Events read per call. Default 2 000. */
  pageSize?: number;
  /** Called after each page with the position reached and the last one to export. */
  onProgress?: (progress: { position: number; toPosition: number; events: number }) => void;
}

export interface ExportResult {
  storeId: string;
  events: number;
  /** The range exported: `toPosition` is fixed when the export starts, so it is one point of the log. */
  fromPosition: number;
  toPosition: number;
}

/** Something to write lines to with back-pressure: a file stream, stdout. */
export interface LineSink {
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Writes a store's events as NDJSON: one JSON object per line, the event record in the wire
 * form of the HTTP API (`eventId`, `streamId`, `version`, `position`, `eventType`, `data`,
 * `metadata`, `tags`, `causationId`, `correlationId`, `epochUs`, content types; bytes as
 * `{"$bytes": "<base64>"}`), in global order. Reads one page at a time and waits for the sink
 * to drain, so memory stays bounded whatever the size of the store.
 *
 * @example
 * await exportStore(evdb, 'shop', createWriteStream('shop.ndjson'), { streamPattern: 'order-*' });
 */
export async function exportStore(
  store: ExportableStore,
  storeId: string,
  sink: LineSink,
  options: ExportOptions = {},
): Promise<ExportResult> {
  if (options.streamId !== undefined && options.streamPattern !== undefined) {
    throw invalidArgument('give a stream or a stream pattern, not both');
  }
  const pageSize = options.pageSize ?? 2000;
  const fromPosition = options.fromPosition ?? 0;
  const toPosition = options.toPosition ?? (await store.getStoreStatus(storeId)).lastPosition;
  const matches =
    options.streamPattern === undefined ? () => true : globMatcher(options.streamPattern);
  let events = 0;
  const emit = async (event: EventRecord): Promise<void> => {
    events++;
    if (!sink.write(JSON.stringify(encodeWire(event, 'event')) + '\n'))
      await once(sink as never, 'drain');
  };
  if (options.streamId !== undefined) {
    for (let from = 0; ;) {
      const page = await store.getEvents(storeId, options.streamId, from, pageSize, 'forward');
      for (const event of page) {
        if (event.position > toPosition) return { storeId, events, fromPosition, toPosition };
        if (event.position >= fromPosition) await emit(event);
      }
      const last = page[page.length - 1];
      if (last !== undefined) options.onProgress?.({ position: last.position, toPosition, events });
      if (last === undefined || page.length < pageSize) break;
      from = last.version + 1;
    }
    return { storeId, events, fromPosition, toPosition };
  }
  for (let from = fromPosition; from <= toPosition;) {
    const page = await store.readAllGlobal(
      storeId,
      from,
      Math.min(pageSize, toPosition - from + 1),
    );
    for (const event of page) {
      if (event.position > toPosition) break;
      if (matches(event.streamId)) await emit(event);
    }
    const last = page[page.length - 1];
    if (last === undefined) break;
    options.onProgress?.({ position: last.position, toPosition, events });
    from = last.position + 1;
  }
  return { storeId, events, fromPosition, toPosition };
}
