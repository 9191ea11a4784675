import { invalidArgument } from '../core/errors.js';
import type {
  AppendResult,
  BatchAppendResult,
  DeleteStreamResult,
  Direction,
  EventRecord,
  ExpectedVersion,
  ListStreamsOptions,
  NewEvent,
  ReadByTagsOptions,
  ReadPageOptions,
  StreamPage,
  StreamWrite,
} from '../core/types.js';
import { telemetry } from '../telemetry/publish.js';
import type { StoreRegistry } from './store-registry.js';
import type { Store } from './store.js';
import { DEFAULT_PAGE_SIZE, LIMITS } from '../core/limits.js';
import {
  assertCount,
  assertInteger,
  assertKeyList,
  assertStreamId,
  assertWritableStreamId,
} from '../core/validation.js';
import { prepareWrites } from './prepare-writes.js';
import { keyRange } from '../core/paging.js';
import { listStreamPage } from './stream-listing.js';

/**
 * The stream operations: appends and reads, validated at the boundary, through the store's
 * group commit and the pipeline the features registered into.
 */
export class StreamService {
  constructor(
    private readonly stores: StoreRegistry,
    /** This process's node id, named in the telemetry events. */
    private readonly nodeId: string,
  ) {}

  async appendEvents(
    storeId: string,
    streamId: string,
    events: NewEvent[],
    expectedVersion?: ExpectedVersion,
  ): Promise<AppendResult> {
    // prepareWrites checks the stream id too (reserved ids included).
    const { writes } = prepareWrites([{ streamId, events, expectedVersion }]);
    return this.stores.use(storeId, async (store) => {
      const { pipeline } = this.stores;
      if (pipeline.validatesAppends) pipeline.validateAppend(store, [{ streamId, events }]);
      const started = telemetry.streamWrite.hasSubscribers ? performance.now() : -1;
      const [result] = await store.append({ writes });
      if (started >= 0) this.publishWrite(storeId, [streamId], writes, result, started);
      return result as AppendResult;
    });
  }

  async appendBatch(storeId: string, writes: StreamWrite[]): Promise<BatchAppendResult> {
    if (!Array.isArray(writes))
      throw invalidArgument('writes must be an array of {streamId, expectedVersion, events}');
    if (writes.length > LIMITS.maxWritesPerBatch) {
      throw invalidArgument(
        `a batch takes at most ${LIMITS.maxWritesPerBatch} writes, got ${writes.length}`,
      );
    }
    const prepared = prepareWrites(writes);
    const started = telemetry.streamWrite.hasSubscribers ? performance.now() : -1;
    const results = await this.stores.use(storeId, (store) => {
      this.stores.pipeline.validateAppend(store, writes);
      return prepared.writes.length === 0 ? [] : store.append(prepared);
    });
    if (prepared.writes.length === 0) return { results: [] };
    if (started >= 0) {
      const streamIds = writes.map((write) => write.streamId);
      this.publishWrite(storeId, streamIds, prepared.writes, results.at(-1), started);
    }
    return {
      results: results.map((result, i) => ({
        streamId: (writes[i] as StreamWrite).streamId,
        ...result,
      })),
    };
  }

  async getEvents(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
    direction: Direction = 'forward',
  ): Promise<EventRecord[]> {
    if (direction !== 'forward' && direction !== 'backward') {
      throw invalidArgument(
        `direction must be 'forward' or 'backward', got ${JSON.stringify(direction)}`,
      );
    }
    assertStreamId(streamId);
    assertInteger('startVersion', startVersion, direction === 'forward' ? 0 : -1);
    assertCount(count);
    return this.stores.use(storeId, (store) =>
      this.read(store, streamId, store.readStream(streamId, startVersion, count, direction)),
    );
  }

  async getVersion(storeId: string, streamId: string): Promise<number> {
    assertStreamId(streamId);
    const head = await this.stores.use(storeId, (store) => store.head(streamId));
    return head?.version ?? -1;
  }

  async streamExists(storeId: string, streamId: string): Promise<boolean> {
    assertStreamId(streamId);
    return (await this.stores.use(storeId, (store) => store.head(streamId))) !== undefined;
  }

  async getStreams(storeId: string): Promise<string[]> {
    return this.stores.use(storeId, async (store) => {
      store.assertOpen();
      const max = LIMITS.maxUnpagedStreams;
      const streams = await store.log.listStreams(keyRange('', undefined), max + 1);
      if (streams.length > max) {
        throw invalidArgument(
          `store ${storeId} has more than ${max} streams, too many for one array: page through them with listStreams(storeId, { after, limit, prefix })`,
          { limit: max },
        );
      }
      return streams;
    });
  }

  async listStreams(storeId: string, options?: ListStreamsOptions): Promise<StreamPage> {
    return this.stores.use(storeId, (store) => {
      store.assertOpen();
      return listStreamPage(store.log, options);
    });
  }

  async deleteStream(storeId: string, streamId: string): Promise<DeleteStreamResult> {
    assertWritableStreamId(streamId);
    return this.stores.use(storeId, async (store) => {
      store.assertOpen();
      const deletedCount = await store.log.deleteStream(streamId);
      await this.stores.pipeline.afterDeleteStream(store, streamId);
      return { streamId, deleted: deletedCount > 0, deletedCount };
    });
  }

  async hasEvents(storeId: string): Promise<boolean> {
    const status = await this.stores.use(storeId, (store) => store.log.status());
    return status.totalEvents > 0;
  }

  async readAllGlobal(
    storeId: string,
    fromPosition: number,
    count: number,
  ): Promise<EventRecord[]> {
    assertInteger('fromPosition', fromPosition, 0);
    assertCount(count);
    this.stores.pipeline.beforeBulkRead('readAllGlobal');
    return this.stores.use(storeId, (store) =>
      this.read(store, '$all', store.readAll(fromPosition, count)),
    );
  }

  async readByEventTypes(
    storeId: string,
    eventTypes: string[],
    options: ReadPageOptions = {},
  ): Promise<EventRecord[]> {
    const types = assertKeyList('eventTypes', eventTypes);
    const { fromPosition, count } = pageOptions(options);
    this.stores.pipeline.beforeBulkRead('readByEventTypes');
    return this.stores.use(storeId, (store) => {
      const reading = store.readIndex({ kind: 'type', eventTypes: types }, fromPosition, count);
      return this.read(store, '$types', reading);
    });
  }

  async readByTags(
    storeId: string,
    tags: string[],
    options: ReadByTagsOptions = {},
  ): Promise<EventRecord[]> {
    const keys = assertKeyList('tags', tags);
    const match = options.match ?? 'any';
    if (match !== 'any' && match !== 'all') {
      throw invalidArgument(`match must be 'any' or 'all', got ${JSON.stringify(match)}`);
    }
    const { fromPosition, count } = pageOptions(options);
    this.stores.pipeline.beforeBulkRead('readByTags');
    return this.stores.use(storeId, (store) => {
      const reading = store.readIndex({ kind: 'tag', tags: keys, match }, fromPosition, count);
      return this.read(store, '$tags', reading);
    });
  }

  private publishWrite(
    storeId: string,
    streamIds: string[],
    writes: { events: unknown[] }[],
    last: AppendResult | undefined,
    started: number,
  ): void {
    telemetry.streamWrite.publish({
      nodeId: this.nodeId,
      storeId,
      streamIds,
      events: writes.reduce((sum, write) => sum + write.events.length, 0),
      position: last?.position ?? -1,
      durationMs: performance.now() - started,
    });
  }

  /** A read through the pipeline's read hooks; publishes a `streamRead` event when anyone listens. */
  private read(
    store: Store,
    source: string,
    reading: Promise<EventRecord[]>,
  ): Promise<EventRecord[]> {
    const events = this.stores.pipeline.afterRead(store, reading);
    if (!telemetry.streamRead.hasSubscribers) return events;
    const started = performance.now();
    return events.then((read) => {
      telemetry.streamRead.publish({
        nodeId: this.nodeId,
        storeId: store.storeId,
        source,
        events: read.length,
        durationMs: performance.now() - started,
      });
      return read;
    });
  }
}

function pageOptions(options: ReadPageOptions): { fromPosition: number; count: number } {
  if (typeof options !== 'object' || options === null)
    throw invalidArgument('options must be an object');
  return {
    fromPosition: assertInteger('fromPosition', options.fromPosition ?? 0, 0),
    count: assertCount(options.count ?? DEFAULT_PAGE_SIZE),
  };
}
