// Over 400 lines: one subscription's delivery is one state machine (batches handed out,
// acknowledgements, rewinds, lease activations, the live and the catch-up path); split, its
// invariants would span files.
import { BatchIteration, ackPosition } from '../core/consumption.js';
import { EvdbError } from '../core/errors.js';
import { forwardingOf, type ForwardBatch } from '../core/forwarding.js';
import type { EventRecord, Subscription, SubscriptionHandler } from '../core/types.js';
import { telemetry } from '../telemetry/publish.js';
import type { Checkpoint } from './checkpoint.js';
import type { CompiledFilter } from './filters.js';
import type { LiveFeed } from './live-feed.js';
import { LiveReader, MIN_LIVE_QUEUE } from './live-reader.js';
import { Signal } from './signal.js';

/** Pauses between attempts after a read failed with a transient error. */
const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

export interface DeliveryOptions {
  batchSize: number;
  ackTimeoutMs: number;
  onError: ((error: unknown) => void) | undefined;
}

/** What a persistent subscription runs once it holds its lease. */
export interface Activation {
  filter: CompiledFilter;
  checkpoint: Checkpoint;
}

/** A delivered batch not yet acknowledged (persistent subscriptions). */
interface Delivery {
  /** Position of the batch's last event. */
  last: number;
  /** Everything up to here was examined when the batch was handed out. */
  through: number;
  at: number;
}

/** A batch given to a forwarding handler whose promise has not settled yet. */
interface Forwarded {
  /** Position of the batch's last event, acknowledged when it was handled (persistent). */
  last: number;
  /** Where its read began: where a transient subscription restarts when it failed. */
  from: number;
  /** Undefined while in flight; then true, or the failure. */
  outcome: true | { error: Error } | undefined;
}

type State = 'standby' | 'active' | 'ended';

/**
 * A running subscription: reads its events through a `LiveReader` (from the log while catching
 * up, from the store's shared live feed once caught up) and hands them out in batches, to an
 * async iterator or to a handler, one batch at a time. Behind the live queue's bound the log is
 * the only buffer: a consumer that lets it fill reads from the log again, so memory stays bounded
 * however far behind the consumer is.
 *
 * A transient subscription is active from the start and keeps no checkpoint. A persistent one
 * is driven by its lease (see `PersistentSubscriptions`): `activate` when the lease is taken,
 * `deactivate` when it is lost; it tracks delivered batches, moves its checkpoint as they are
 * acknowledged, and delivers again from the checkpoint when an acknowledgement is overdue.
 */
export class EventSubscription implements Subscription {
  readonly done: Promise<void>;
  private state: State;
  private reader: LiveReader | undefined;
  private checkpoint: Checkpoint | undefined;
  /** Local acknowledged position (may be ahead of what is stored yet). */
  private acked = -1;
  /** Everything up to here was examined and handed out (or matched nothing). */
  private scannedThrough = -1;
  /** The highest `scannedThrough` of this activation, rewinds notwithstanding: what may be acked. */
  private handedOut = -1;
  private outstanding: Delivery[] = [];
  /** Bumped by every rewind or (de)activation: reads begun before it are discarded. */
  private generation = 0;
  private rewindTo: number | undefined;
  private reloadCheckpoint = false;
  /** First position of the last batch read: where a transient handler's failed batch restarts. */
  private batchFrom = 0;
  private readonly signal = new Signal();
  private readonly stopSignal = new Signal();
  private ackTimer: NodeJS.Timeout | undefined;
  private handlerRunning = false;
  private readonly iteration = new BatchIteration(
    () => this.nextBatch(),
    () => this.close(),
  );
  private failure: Error | undefined;
  private failureReported = false;
  private handlerLoop: Promise<void> | undefined;
  /** Forwarding handler: its batches in flight, oldest first, and how many may be. */
  private forwarded: Forwarded[] = [];
  private forwardWindow = 1;
  /** Forwarding handler: a batch failed, delivery waits for its redelivery. */
  private forwardingPaused = false;
  /** Cuts the pause before a forwarded batch's redelivery short on close; made when needed. */
  private pauseSignal: Signal | undefined;
  private closing: Promise<void> | undefined;
  private retryDelay = MIN_RETRY_MS;
  private resolveDone!: () => void;
  private rejectDone!: (error: unknown) => void;
  private readonly beforeClose: (() => Promise<void>)[] = [];

  constructor(
    readonly storeId: string,
    readonly name: string | undefined,
    private readonly feed: LiveFeed,
    private readonly options: DeliveryOptions,
    private readonly handler: SubscriptionHandler | undefined,
    private readonly onEnd: (subscription: EventSubscription) => void,
  ) {
    this.state = 'standby';
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // `done` is optional to watch: an unobserved failure must not crash the process.
    this.done.catch(() => undefined);
  }

  /** Runs `work` during close, before the subscription ends (the lease's release). */
  onClose(work: () => Promise<void>): void {
    this.beforeClose.push(work);
  }

  /** Starts a transient subscription at `from`. */
  startTransient(filter: CompiledFilter, from: number): void {
    this.reader = this.newReader(filter, from);
    this.scannedThrough = from - 1;
    this.state = 'active';
    this.startHandler();
  }

  /** Starts a persistent subscription in standby; its lease keeper activates it. */
  startPersistent(): void {
    this.startHandler();
  }

  get isPersistent(): boolean {
    return this.name !== undefined;
  }

  /** The lease was taken: deliver from the stored checkpoint. */
  activate({ filter, checkpoint }: Activation): void {
    if (this.state === 'ended') return;
    this.checkpoint = checkpoint;
    this.acked = checkpoint.stored;
    this.scannedThrough = checkpoint.stored;
    this.handedOut = checkpoint.stored;
    this.reader?.close();
    this.reader = this.newReader(filter, checkpoint.stored + 1);
    this.outstanding = [];
    this.rewindTo = undefined;
    this.generation++;
    this.state = 'active';
    this.signal.notify();
  }

  /** The lease was lost: stop delivering (another process takes over from the checkpoint). */
  deactivate(): void {
    if (this.state !== 'active') return;
    this.state = 'standby';
    this.generation++;
    this.outstanding = [];
    this.clearAckTimer();
    this.reader?.close();
  }

  private newReader(filter: CompiledFilter, from: number): LiveReader {
    return new LiveReader(
      this.feed,
      filter,
      from,
      () => this.signal.notify(),
      Math.max(MIN_LIVE_QUEUE, 2 * this.options.batchSize),
      (position) => this.fellBehind(position),
    );
  }

  /** The consumer let the live queue fill: it reads from the log again, from `position`. */
  private fellBehind(position: number): void {
    if (telemetry.subscriptionFellBehind.hasSubscribers) {
      telemetry.subscriptionFellBehind.publish({
        storeId: this.storeId,
        name: this.name,
        position,
        lagPositions: Math.max(0, this.feed.dispatcher.head - position + 1),
      });
    }
  }

  // ---- consumption ---------------------------------------------------------------------------

  [Symbol.asyncIterator](): AsyncIterator<EventRecord[]> {
    return this.iteration.iterator(this.handler !== undefined);
  }

  private async nextBatch(): Promise<IteratorResult<EventRecord[]>> {
    for (;;) {
      if (this.state === 'ended') {
        if (this.failure !== undefined && !this.failureReported) {
          this.failureReported = true;
          throw this.failure;
        }
        return { done: true, value: undefined };
      }
      if (this.state === 'active') {
        const batch = this.takeQueued() ?? (await this.readBatch());
        if (batch === 'again') continue;
        if (batch !== 'wait') return { done: false, value: batch };
      }
      await this.signal.wait();
    }
  }

  private startHandler(): void {
    if (this.handler === undefined) return;
    const forwarding = forwardingOf(this.handler);
    this.handlerLoop =
      forwarding === undefined
        ? this.runHandler(this.handler)
        : this.runForwarding(forwarding.forward, forwarding.window);
  }

  private async runHandler(handler: SubscriptionHandler): Promise<void> {
    while (this.state !== 'ended') {
      if (this.state !== 'active') {
        await this.signal.wait();
        continue;
      }
      const batch = this.takeQueued() ?? (await this.readBatch());
      if (batch === 'again') continue;
      if (batch === 'wait') {
        await this.signal.wait();
        continue;
      }
      const generation = this.generation;
      const last = (batch[batch.length - 1] as EventRecord).position;
      this.handlerRunning = true;
      try {
        // A handler that returns no promise costs no extra turn (one per delivery adds up over
        // thousands of live subscriptions).
        const handled = handler(batch);
        if (handled !== undefined) await handled;
      } catch (error) {
        this.handlerRunning = false;
        this.report(error);
        if ((this.state as State) === 'ended') break;
        // Delivered again after ackTimeoutMs (close cuts the pause short).
        await this.stopSignal.wait(this.options.ackTimeoutMs);
        if (generation === this.generation) this.rewind();
        continue;
      }
      this.handlerRunning = false;
      // Processed: acknowledge even when closing meanwhile (the work is done).
      if (this.isPersistent) void this.ack(last).catch((error: unknown) => this.report(error));
    }
  }

  /**
   * A forwarding handler (see `forwardingHandler`): up to `window` batches given to it and not
   * settled, so that a remote consumer's round trips overlap its deliveries. Their settlements
   * come as they come (`settleForwarded`), not awaited here: an acknowledgement is stored even
   * while nothing new is read.
   */
  private async runForwarding(forward: ForwardBatch, window: number): Promise<void> {
    this.forwardWindow = window;
    while (this.state !== 'ended') {
      if (this.state !== 'active' || this.forwardingPaused || this.forwarded.length >= window) {
        await this.signal.wait();
        continue;
      }
      const batch = this.takeQueued() ?? (await this.readBatch());
      if (batch === 'again') continue;
      if (batch === 'wait') {
        await this.signal.wait();
        continue;
      }
      // A batch read while a failure came in is not given: the redelivery reads it again.
      if (this.forwardingPaused) continue;
      const entry: Forwarded = {
        last: (batch[batch.length - 1] as EventRecord).position,
        from: this.batchFrom,
        outcome: undefined,
      };
      this.forwarded.push(entry);
      forward(batch, (error) =>
        this.settleForwarded(entry, error === undefined ? true : { error }),
      );
    }
  }

  /**
   * Takes the settled batches at the head of the forwarded ones: a handled one is acknowledged
   * (persistent) and frees its place in the window; a failed one voids those given after it
   * (the consumer drops them) and, after `ackTimeoutMs`, delivers again from itself. Runs in
   * the consumer's verdict, so that nothing is forwarded between a failure and the pause.
   */
  private settleForwarded(entry: Forwarded, outcome: NonNullable<Forwarded['outcome']>): void {
    entry.outcome = outcome;
    for (let head = this.forwarded[0]; head?.outcome !== undefined; head = this.forwarded[0]) {
      this.forwarded.shift();
      if (head.outcome !== true) {
        this.forwarded = [];
        this.forwardingPaused = true;
        void this.redeliverForwarded(head, head.outcome.error);
        return;
      }
      // Processed: acknowledge even when closing meanwhile (the work is done).
      if (this.isPersistent) void this.ack(head.last).catch((error: unknown) => this.report(error));
      // Only a full window holds the loop up: otherwise it waits for new events, not for this.
      if (this.forwarded.length === this.forwardWindow - 1) this.signal.notify();
    }
  }

  private async redeliverForwarded(failed: Forwarded, error: Error): Promise<void> {
    this.report(error);
    // Delivered again after ackTimeoutMs (close cuts the pause short).
    this.pauseSignal ??= new Signal();
    await this.pauseSignal.wait(this.options.ackTimeoutMs);
    this.forwardingPaused = false;
    // Whatever rewinds or lease changes came meanwhile, the batches after the failed one were
    // voided: a transient subscription restarts at the failed batch, a persistent one at its
    // checkpoint (never past the failed batch, which was not acknowledged).
    this.batchFrom = failed.from;
    this.rewind();
    this.signal.notify();
  }

  /**
   * The live path, without a read: the batch the feed queued, or `'wait'` when none is queued.
   * Undefined when the reader is not live, or a rewind or a reload is pending: `readBatch` then.
   */
  private takeQueued(): EventRecord[] | 'wait' | undefined {
    const reader = this.reader;
    if (reader?.live !== true || this.rewindTo !== undefined || this.reloadCheckpoint) {
      return undefined;
    }
    this.batchFrom = reader.position;
    const events = reader.takeQueued(this.feed.dispatcher.readBatchSize(this.options.batchSize));
    const through = reader.position - 1;
    const last = events[events.length - 1];
    if (last === undefined) {
      this.scannedThrough = through;
      this.handedOut = Math.max(this.handedOut, through);
      return 'wait';
    }
    this.delivered(events.length, last.position, through);
    return events;
  }

  /**
   * Reads the next batch: events, `'wait'` when there is nothing to read until the head moves,
   * or `'again'` when the read was overtaken (rewind, lost lease) or failed transiently.
   */
  private async readBatch(): Promise<EventRecord[] | 'wait' | 'again'> {
    const reader = this.reader as LiveReader;
    const generation = this.generation;
    try {
      if (this.reloadCheckpoint && this.checkpoint !== undefined) {
        this.reloadCheckpoint = false;
        const stored = await this.checkpoint.reload();
        if (generation !== this.generation) return 'again';
        if (stored > this.acked) {
          this.acked = stored;
          if (this.rewindTo !== undefined) this.rewindTo = Math.max(this.rewindTo, stored + 1);
        }
      }
      if (this.rewindTo !== undefined) {
        reader.seek(this.rewindTo);
        this.rewindTo = undefined;
      }
      this.batchFrom = reader.position;
      const dispatcher = this.feed.dispatcher;
      const head = dispatcher.head;
      if (
        dispatcher.catchUpPaused &&
        !reader.live &&
        head - reader.position >= this.options.batchSize
      ) {
        return 'wait'; // catching up while memory is critical: woken when the level changes
      }
      const events = await reader.read(dispatcher.readBatchSize(this.options.batchSize), head);
      if (generation !== this.generation || this.state !== 'active') return 'again';
      this.retryDelay = MIN_RETRY_MS;
      const through = reader.position - 1;
      const last = events[events.length - 1];
      if (last === undefined) {
        this.scannedThrough = through;
        this.handedOut = Math.max(this.handedOut, through);
        return reader.hasMore(dispatcher.head) ? 'again' : 'wait';
      }
      this.delivered(events.length, last.position, through);
      return events;
    } catch (error) {
      if (generation !== this.generation || this.state === 'ended') return 'again';
      if (error instanceof EvdbError && error.code === 'not_found' && this.isPersistent) {
        // The checkpoint belongs to another definition now: this subscription was removed.
        void this.close();
        return 'again';
      }
      if (!isTransient(error)) {
        this.fail(error);
        return 'again';
      }
      this.report(error);
      await this.stopSignal.wait(this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
      return 'again';
    }
  }

  private delivered(events: number, last: number, through: number): void {
    this.scannedThrough = through;
    this.handedOut = Math.max(this.handedOut, through);
    if (telemetry.subscriptionDelivered.hasSubscribers) {
      telemetry.subscriptionDelivered.publish({
        storeId: this.storeId,
        name: this.name,
        events,
        position: last,
      });
    }
    if (!this.isPersistent) return;
    this.outstanding.push({ last, through, at: performance.now() });
    this.armAckTimer();
  }

  /**
   * Acknowledges up to `position` (clamped to what was handed out). When every delivered batch
   * is acknowledged, the checkpoint moves to the end of what was examined, past events that did
   * not match, so a restart does not read them again.
   */
  async ack(eventOrPosition: EventRecord | number): Promise<void> {
    const position = ackPosition(eventOrPosition);
    const checkpoint = this.checkpoint;
    if (!this.isPersistent || checkpoint === undefined) return;
    const upTo = Math.min(position, this.handedOut);
    if (upTo > this.acked) {
      this.outstanding = this.outstanding.filter((delivery) => delivery.last > upTo);
      const allAcked = this.outstanding.length === 0 && this.rewindTo === undefined;
      this.skipTo(allAcked ? Math.max(upTo, this.scannedThrough) : upTo);
    }
    await checkpoint.advance(this.acked);
  }

  /** `ackEvent` moved the checkpoint from outside: forget what it covers, skip ahead if behind. */
  acknowledged(position: number): void {
    if (!this.isPersistent || this.state !== 'active' || position <= this.acked) return;
    this.outstanding = this.outstanding.filter((delivery) => delivery.last > position);
    this.skipTo(position);
  }

  /** Moves the acknowledged position on; a reader still behind it (after a rewind) jumps ahead. */
  private skipTo(acked: number): void {
    this.acked = acked;
    this.handedOut = Math.max(this.handedOut, acked);
    if (this.rewindTo !== undefined) {
      this.rewindTo = Math.max(this.rewindTo, acked + 1);
    } else if (this.reader !== undefined && this.reader.position <= acked) {
      this.rewindTo = acked + 1;
      this.generation++;
      this.signal.notify();
    }
    this.scannedThrough = Math.max(this.scannedThrough, acked);
    this.clearAckTimer();
    this.armAckTimer();
  }

  private armAckTimer(): void {
    if (this.handler !== undefined || this.ackTimer !== undefined) return;
    const oldest = this.outstanding[0];
    if (oldest === undefined) return;
    const due = oldest.at + this.options.ackTimeoutMs - performance.now();
    this.ackTimer = setTimeout(
      () => {
        this.ackTimer = undefined;
        const first = this.outstanding[0];
        if (first === undefined) return;
        if (first.at + this.options.ackTimeoutMs <= performance.now() + 1) this.rewind();
        else this.armAckTimer();
      },
      Math.max(0, due),
    );
  }

  private clearAckTimer(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  /**
   * Delivers again what was not acknowledged: persistent subscriptions from the checkpoint
   * (reading the stored one again, which another process may have moved on), transient ones
   * from the failed batch.
   */
  private rewind(): void {
    if (this.state !== 'active') return;
    this.outstanding = [];
    this.clearAckTimer();
    if (this.isPersistent) {
      this.rewindTo = this.acked + 1;
      this.scannedThrough = this.acked;
      this.reloadCheckpoint = true;
    } else {
      this.rewindTo = this.batchFrom;
      this.scannedThrough = this.batchFrom - 1;
    }
    this.generation++;
    this.signal.notify();
  }

  private report(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // A failing error callback must not stop delivery.
    }
  }

  private fail(error: unknown): void {
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.report(error);
    void this.close();
  }

  /**
   * Stops delivery, stores the acknowledged position, gives the lease up. While the handler is
   * running (close may be called from inside it, where waiting for the handler would wait for
   * itself) it resolves at once, and the rest happens when the handler returns (see `done`).
   */
  close(): Promise<void> {
    const running = this.handlerRunning;
    const closing = this.shutDown();
    return running ? Promise.resolve() : closing;
  }

  /** Ends the subscription; resolves when everything has stopped (what the store's close waits for). */
  shutDown(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this.state = 'ended';
    this.generation++;
    this.clearAckTimer();
    this.signal.notify();
    this.stopSignal.notify();
    this.pauseSignal?.notify();
    this.reader?.close();
    await this.handlerLoop;
    await this.checkpoint?.flush();
    for (const work of this.beforeClose) await work().catch(() => undefined);
    this.checkpoint?.abandon(closedError(this.name));
    this.onEnd(this);
    if (this.failure !== undefined) this.rejectDone(this.failure);
    else this.resolveDone();
  }
}

function isTransient(error: unknown): boolean {
  return error instanceof EvdbError ? error.retriable : false;
}

function closedError(name: string | undefined): EvdbError {
  return new EvdbError(
    'unavailable',
    `subscription${name === undefined ? '' : ` '${name}'`} is closed`,
    { retriable: false },
  );
}
