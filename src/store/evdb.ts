import type { EventStoreApi } from '../core/api.js';
import { EvdbError } from '../core/errors.js';
import type {
  AppendResult,
  BatchAppendResult,
  DeleteStreamResult,
  Direction,
  EventRecord,
  ExpectedVersion,
  JsonObject,
  NewEvent,
  ReadByTagsOptions,
  ReadPageOptions,
  StoreConfig,
  StoreStatus,
  StreamWrite,
} from '../core/types.js';
import type { Backend } from '../backends/log-backend.js';
import { sqlite } from '../backends/sqlite/sqlite-backend.js';
import { Store } from './store.js';
import {
  DEFAULT_PAGE_SIZE,
  LIMITS,
  assertCount,
  assertInteger,
  assertKeyList,
  assertStoreId,
  assertStreamId,
  assertWritableStreamId,
  prepareWrites,
} from './validation.js';
import { invalidArgument } from '../core/errors.js';

export interface OpenEvdbOptions {
  /** Where the default SQLite backend keeps its files. Default `./evdb-data`. */
  dataDir?: string;
  /** Storage backend; default `sqlite({ dataDir })`. */
  backend?: Backend;
}

/**
 * Opens the embedded event store.
 *
 * @example
 * import { openEvdb, NO_STREAM } from 'evdb';
 * const evdb = await openEvdb({ dataDir: './data' });
 * await evdb.createStore('shop');
 * await evdb.appendEvents('shop', 'order-1', [{ eventType: 'OrderPlaced', data: { total: 5 } }], NO_STREAM);
 * const events = await evdb.streamForward('shop', 'order-1', 0, 100);
 * await evdb.close();
 */
export function openEvdb(options: OpenEvdbOptions = {}): Promise<Evdb> {
  if (options.backend !== undefined && options.dataDir !== undefined) {
    throw invalidArgument(
      'give either dataDir (for the default SQLite backend) or backend, not both',
    );
  }
  return Promise.resolve(new Evdb(options.backend ?? sqlite({ dataDir: options.dataDir })));
}

/** The embedded store: every `EventStoreApi` operation, in this process. */
export class Evdb implements EventStoreApi {
  private readonly stores = new Map<string, Promise<Store>>();
  private closing: Promise<void> | undefined;

  constructor(readonly backend: Backend) {}

  /** Opens a store once and keeps it open until `close` or `removeStore`. */
  private store(storeId: string): Promise<Store> {
    if (this.closing !== undefined) return Promise.reject(closedError());
    assertStoreId(storeId);
    let opening = this.stores.get(storeId);
    if (opening === undefined) {
      opening = this.backend.openStore(storeId).then((log) => {
        if (log === undefined) {
          this.stores.delete(storeId);
          throw new EvdbError(
            'not_found',
            `store '${storeId}' does not exist; create it with createStore`,
            {
              details: { storeId },
            },
          );
        }
        return new Store(storeId, log);
      });
      opening.catch(() => this.stores.delete(storeId));
      this.stores.set(storeId, opening);
    }
    return opening;
  }

  async createStore(storeId: string, settings: JsonObject = {}): Promise<StoreConfig> {
    if (this.closing !== undefined) throw closedError();
    assertStoreId(storeId);
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
      throw invalidArgument('store settings must be a JSON object');
    }
    const log = await this.backend.createStore(storeId, structuredClone(settings));
    if (log === undefined) {
      throw new EvdbError('already_exists', `store '${storeId}' already exists`, {
        details: { storeId },
      });
    }
    const store = new Store(storeId, log);
    this.stores.set(storeId, Promise.resolve(store));
    return log.config();
  }

  async removeStore(storeId: string): Promise<void> {
    const store = await this.store(storeId);
    this.stores.delete(storeId);
    await store.close();
    await this.backend.removeStore(storeId);
  }

  async listStores(): Promise<string[]> {
    if (this.closing !== undefined) throw closedError();
    return this.backend.listStores();
  }

  async getStoreConfig(storeId: string): Promise<StoreConfig> {
    return (await this.store(storeId)).log.config();
  }

  async getStoreStatus(storeId: string): Promise<StoreStatus> {
    const store = await this.store(storeId);
    const status = await store.log.status();
    return { storeId, status: 'open', backend: this.backend.name, ...status };
  }

  async appendEvents(
    storeId: string,
    streamId: string,
    events: NewEvent[],
    expectedVersion?: ExpectedVersion,
  ): Promise<AppendResult> {
    assertWritableStreamId(streamId);
    const { writes } = prepareWrites([{ streamId, events, expectedVersion }]);
    const store = await this.store(storeId);
    const [result] = await store.append({ writes });
    return result as AppendResult;
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
    const store = await this.store(storeId);
    if (prepared.writes.length === 0) return { results: [] };
    const results = await store.append(prepared);
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
    const store = await this.store(storeId);
    return store.readStream(streamId, startVersion, count, direction);
  }

  streamForward(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
  ): Promise<EventRecord[]> {
    return this.getEvents(storeId, streamId, startVersion, count, 'forward');
  }

  streamBackward(
    storeId: string,
    streamId: string,
    startVersion: number,
    count: number,
  ): Promise<EventRecord[]> {
    return this.getEvents(storeId, streamId, startVersion, count, 'backward');
  }

  async getVersion(storeId: string, streamId: string): Promise<number> {
    assertStreamId(streamId);
    const head = await (await this.store(storeId)).head(streamId);
    return head?.version ?? -1;
  }

  async streamExists(storeId: string, streamId: string): Promise<boolean> {
    assertStreamId(streamId);
    return (await (await this.store(storeId)).head(streamId)) !== undefined;
  }

  async getStreams(storeId: string): Promise<string[]> {
    const store = await this.store(storeId);
    store.assertOpen();
    return store.log.listStreams();
  }

  async deleteStream(storeId: string, streamId: string): Promise<DeleteStreamResult> {
    assertWritableStreamId(streamId);
    const store = await this.store(storeId);
    store.assertOpen();
    const deletedCount = await store.log.deleteStream(streamId);
    return { streamId, deleted: deletedCount > 0, deletedCount };
  }

  async hasEvents(storeId: string): Promise<boolean> {
    const status = await (await this.store(storeId)).log.status();
    return status.totalEvents > 0;
  }

  async readAllGlobal(
    storeId: string,
    fromPosition: number,
    count: number,
  ): Promise<EventRecord[]> {
    assertInteger('fromPosition', fromPosition, 0);
    assertCount(count);
    return (await this.store(storeId)).readAll(fromPosition, count);
  }

  async readByEventTypes(
    storeId: string,
    eventTypes: string[],
    options: ReadPageOptions = {},
  ): Promise<EventRecord[]> {
    const types = assertKeyList('eventTypes', eventTypes);
    const { fromPosition, count } = pageOptions(options);
    return (await this.store(storeId)).readIndex(
      { kind: 'type', eventTypes: types },
      fromPosition,
      count,
    );
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
    return (await this.store(storeId)).readIndex(
      { kind: 'tag', tags: keys, match },
      fromPosition,
      count,
    );
  }

  /** Finishes queued appends and closes every store. Calling it twice is harmless. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const opened = await Promise.allSettled(this.stores.values());
      this.stores.clear();
      for (const result of opened) {
        if (result.status === 'fulfilled') await result.value.close();
      }
      await this.backend.close();
    })();
    return this.closing;
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

function closedError(): EvdbError {
  return new EvdbError('unavailable', 'evdb is closed', { retriable: false });
}
