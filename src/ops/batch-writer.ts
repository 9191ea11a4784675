import type { EventStoreApi } from '../core/api.js';
import { EvdbError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { ANY_VERSION, type NewEvent, type StreamWrite } from '../core/types.js';

/** What an import writes through: the public API, so it imports into a store or a server. */
export type ImportableStore = Pick<
  EventStoreApi,
  'appendBatch' | 'appendEvents' | 'createStore' | 'listStores' | 'getStoreStatus'
>;

/**
 * A batch is sent once it holds this much input too: under a server's default request body
 * limit (16 MiB) and the store's limit per append, whatever the size of the events.
 */
const MAX_BATCH_CHARS = 8 * 1024 * 1024;

/** How many sample ids a result keeps of events refused for an id used elsewhere. */
const MAX_CONFLICT_SAMPLES = 10;

export interface BatchWriterCounts {
  /** Events the store did not hold yet, now written. */
  written: number;
  /** Events the store already held (same id, same stream): a re-run after an interruption. */
  alreadyPresent: number;
  batches: number;
  /** Events refused because their id is another stream's event (when conflicts are counted). */
  conflicts: number;
  /** Some of those ids. */
  conflictIds: string[];
}

export interface BatchWriterOptions<Mark> {
  /** Events per atomic batch. */
  batchEvents: number;
  /**
   * An event whose id the store holds in another stream (or with other content): `throw` stops
   * with the store's `already_exists` error; `count` leaves the event out and counts it.
   */
  conflicts: 'throw' | 'count';
  /** Called after each batch is stored, with the mark of its last event. */
  onFlushed?: (mark: Mark | undefined) => Promise<void> | void;
}

/**
 * Writes events in the order given, in atomic batches: each run of one stream's events one write
 * with `ANY_VERSION`, runs of different streams one `appendBatch`. A run already stored is recognised by its
 * ids and answered without writing, so a re-run after an interruption writes nothing twice.
 */
export class BatchWriter<Mark = never> {
  readonly counts: BatchWriterCounts = {
    written: 0,
    alreadyPresent: 0,
    batches: 0,
    conflicts: 0,
    conflictIds: [],
  };
  private writes: StreamWrite[] = [];
  private readonly streams = new Set<string>();
  private pending = 0;
  private pendingChars = 0;
  private mark: Mark | undefined;

  private constructor(
    private readonly store: ImportableStore,
    private readonly storeId: string,
    /** The highest position stored: an answer at or below it is a replay. */
    private reached: number,
    private readonly options: BatchWriterOptions<Mark>,
  ) {}

  /** A writer into the store, created if missing. */
  static async open<Mark = never>(
    store: ImportableStore,
    storeId: string,
    options: BatchWriterOptions<Mark>,
  ): Promise<BatchWriter<Mark>> {
    if (!(await store.listStores()).includes(storeId)) {
      try {
        await store.createStore(storeId);
      } catch (error) {
        if (!(error instanceof EvdbError && error.code === 'already_exists')) throw error;
      }
    }
    // A write answered with a position at or below what the store (or this import) had already
    // reached was stored before: a replay. New events always get higher positions.
    const { lastPosition } = await store.getStoreStatus(storeId);
    return new BatchWriter(store, storeId, lastPosition, options);
  }

  /** Queues an event (`chars`: about its size) and stores the batch when it is full. */
  async add(streamId: string, event: NewEvent, chars: number, mark?: Mark): Promise<void> {
    const last = this.writes[this.writes.length - 1];
    if (
      last !== undefined &&
      last.streamId === streamId &&
      last.events.length < LIMITS.maxEventsPerAppend
    ) {
      last.events.push(event);
    } else {
      // A batch holds one write per stream; a stream met again after another one's events
      // starts the next batch, so that the events keep their order across streams too.
      if (this.writes.length >= LIMITS.maxWritesPerBatch || this.streams.has(streamId)) {
        await this.flush();
      }
      this.writes.push({ streamId, expectedVersion: ANY_VERSION, events: [event] });
      this.streams.add(streamId);
    }
    this.mark = mark;
    this.pendingChars += chars;
    if (++this.pending >= this.options.batchEvents || this.pendingChars >= MAX_BATCH_CHARS) {
      await this.flush();
    }
  }

  /** Stores what is queued. */
  async flush(): Promise<void> {
    if (this.pending === 0) return;
    const batch = this.writes;
    const mark = this.mark;
    this.writes = [];
    this.streams.clear();
    this.pending = 0;
    this.pendingChars = 0;
    this.counts.batches++;
    try {
      const { results } = await this.store.appendBatch(this.storeId, batch);
      results.forEach((r, i) => this.account(batch[i]?.events.length ?? 0, r.position));
    } catch (error) {
      // A run that is partly stored (an earlier import cut its batches differently), or an id
      // used elsewhere: event by event, each either recognised, written or refused.
      if (!isConflict(error)) throw error;
      for (const write of batch) {
        for (const event of write.events) await this.appendOne(write.streamId, event);
      }
    }
    await this.options.onFlushed?.(mark);
  }

  private async appendOne(streamId: string, event: NewEvent): Promise<void> {
    try {
      const r = await this.store.appendEvents(this.storeId, streamId, [event], ANY_VERSION);
      this.account(1, r.position);
    } catch (error) {
      if (this.options.conflicts === 'throw' || !isConflict(error)) throw error;
      this.counts.conflicts++;
      if (this.counts.conflictIds.length < MAX_CONFLICT_SAMPLES && event.eventId !== undefined) {
        this.counts.conflictIds.push(event.eventId);
      }
    }
  }

  private account(events: number, position: number): void {
    if (position > this.reached) {
      this.counts.written += events;
      this.reached = position;
    } else this.counts.alreadyPresent += events;
  }
}

function isConflict(error: unknown): boolean {
  return error instanceof EvdbError && error.code === 'already_exists';
}
