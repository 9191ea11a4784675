// One KurrentDB persistent subscription group while consumers are connected to this node.
//
// KurrentDB groups are competing consumers with per-event acks, retries and parking; evdb's
// persistent subscriptions deliver in position order to one process at a time (it holds the
// subscription's lease) and keep a cumulative checkpoint. The runner bridges the two: it pulls
// events from the evdb subscription as its consumers have free slots, hands each event to one
// consumer (round robin, dispatch-to-single or pinned by stream), tracks it until it is acked,
// skipped or parked, and moves the evdb checkpoint to the end of the longest finished prefix.
// So a restart (or another node taking the lease) delivers again exactly the unfinished events
// and those after them: at least once, as KurrentDB promises.
import { createHash } from 'node:crypto';
import type { EventRecord, Subscription } from '../../../core/types.js';
import type { Evdb } from '../../../embedded/evdb.js';
import { compileFilter, type EventFilter } from '../filters.js';
import { recordedEventToWire } from '../wire.js';
import { evdbSubscriptionName, parkedStreamOf, type GroupConfig } from './group-config.js';
import { readParked, truncateParked } from './parked.js';

export interface Consumer {
  readonly id: string;
  readonly connectionName: string;
  readonly structuredIds: boolean;
  /** How many unacknowledged events it may hold (its buffer size). */
  readonly slots: number;
  /** Sends one event; false when the consumer is gone. */
  send(response: object): boolean;
  /** Ends the consumer's call (the group stopped, or it asked to stop). */
  end(error?: unknown): void;
}

interface Delivery {
  event: EventRecord;
  retryCount: number;
  /**
   * The version of its link in the parked stream when replayed from there: finishing it cuts
   * the link off instead of moving the checkpoint.
   */
  parkedLink?: number;
  consumer?: Consumer;
  timer?: NodeJS.Timeout;
}

export type NackAction = 'Unknown' | 'Park' | 'Retry' | 'Skip' | 'Stop';

export class GroupRunner {
  private readonly consumers: Consumer[] = [];
  private readonly held = new Map<Consumer, Set<string>>();
  private readonly inFlight = new Map<string, Delivery>();
  private readonly queue: Delivery[] = [];
  /** Positions pulled from evdb and not finished yet, ascending. */
  private readonly unfinished: number[] = [];
  private readonly finished = new Set<number>();
  /** Parked links being replayed and not finished yet, ascending; and those finished. */
  private readonly replaying: number[] = [];
  private readonly replayFinished = new Set<number>();
  /** The last parked link read by a replay (the next replay reads after it). */
  private replayReadThrough = -1;
  /** The cuts of the parked stream, one after another so that a later `$tb` never lands first. */
  private cutting: Promise<void> = Promise.resolve();
  private subscription: Subscription | undefined;
  private iterator: AsyncIterator<EventRecord[]> | undefined;
  private pulling = false;
  private stopped = false;
  /** The acks, nacks and parks under way; the runner stops after them. */
  private work: Promise<void> = Promise.resolve();
  private roundRobin = 0;
  private filter: EventFilter | undefined;
  /** Events handed out, for GetInfo. */
  totalItems = 0;

  constructor(
    private readonly evdb: Evdb,
    private readonly storeId: string,
    public config: GroupConfig,
    private readonly onIdle: () => void,
  ) {
    this.filter = compileFilter(config.filter);
  }

  get connections(): readonly Consumer[] {
    return this.consumers;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get queued(): number {
    return this.queue.length;
  }

  inFlightOf(consumer: Consumer): number {
    return this.held.get(consumer)?.size ?? 0;
  }

  async addConsumer(consumer: Consumer): Promise<void> {
    this.consumers.push(consumer);
    this.held.set(consumer, new Set());
    if (this.subscription === undefined) {
      this.subscription = await this.evdb.subscribe(this.storeId, {
        name: evdbSubscriptionName(this.config.stream, this.config.group),
        batchSize: Math.max(1, Math.min(this.config.settings.readBatchSize || 20, 1000)),
        // The runner times out events itself (message timeout); evdb's own redelivery would
        // hand out events the runner still tracks.
        ackTimeoutMs: 86_400_000,
      });
      this.iterator = this.subscription[Symbol.asyncIterator]();
    }
    this.pump();
  }

  removeConsumer(consumer: Consumer): void {
    const index = this.consumers.indexOf(consumer);
    if (index < 0) return;
    this.consumers.splice(index, 1);
    for (const id of this.held.get(consumer) ?? []) {
      const delivery = this.inFlight.get(id);
      if (delivery === undefined) continue;
      this.inFlight.delete(id);
      clearTimeout(delivery.timer);
      delivery.consumer = undefined;
      this.queue.unshift(delivery);
    }
    this.held.delete(consumer);
    if (this.consumers.length === 0) void this.stop();
    else this.pump();
  }

  ack(consumer: Consumer, ids: string[]): Promise<void> {
    return this.settle(consumer, ids, (delivery) => this.finish(delivery));
  }

  nack(consumer: Consumer, ids: string[], action: NackAction, reason: string): Promise<void> {
    if (action === 'Stop') {
      consumer.end();
      this.removeConsumer(consumer);
      return Promise.resolve();
    }
    return this.settle(consumer, ids, async (delivery) => {
      if (action === 'Skip') return this.finish(delivery);
      if (action === 'Park') return this.park(delivery, reason);
      return this.retry(delivery);
    });
  }

  /**
   * Queues up to `limit` parked events again. Their links stay in the parked stream until each
   * is finished, so what a replay has not finished when it stops is still parked.
   */
  async replayParked(limit: number): Promise<void> {
    const links = await readParked(
      this.evdb,
      this.storeId,
      this.parkedStream,
      this.replayReadThrough,
      limit,
    );
    for (const { version, event } of links) {
      this.replayReadThrough = version;
      this.replaying.push(version);
      // A link to an event whose stream was deleted has nothing to hand out: finished at once.
      if (event === undefined) this.replayFinished.add(version);
      else this.queue.push({ event, retryCount: 0, parkedLink: version });
    }
    await this.cutReplayed();
    this.pump();
  }

  /** Ends every consumer and the evdb subscription (the group was deleted or changed). */
  async stop(error?: unknown): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const consumer of this.consumers.splice(0)) consumer.end(error);
    for (const delivery of this.inFlight.values()) clearTimeout(delivery.timer);
    this.inFlight.clear();
    this.onIdle();
    await this.work;
    await this.subscription?.close();
  }

  private settle(
    consumer: Consumer,
    ids: string[],
    outcome: (delivery: Delivery) => Promise<void>,
  ): Promise<void> {
    // Taken out of flight at once, so a consumer leaving meanwhile does not hand them out again.
    const mine = this.held.get(consumer);
    const settled: [string, Delivery][] = [];
    for (const id of ids) {
      const delivery = this.inFlight.get(id);
      // Unknown ids (already timed out and handed to someone else) are ignored, as KurrentDB does.
      if (delivery === undefined || delivery.consumer !== consumer) continue;
      this.inFlight.delete(id);
      clearTimeout(delivery.timer);
      delivery.consumer = undefined;
      settled.push([id, delivery]);
    }
    // Outcomes run one after another (and before the runner stops), in the order they came.
    // Each keeps its consumer's slot until it is done, so a retried event is queued (first)
    // before the slot can take another event, as KurrentDB retries before it reads on.
    const work = this.work.then(async () => {
      try {
        for (const [id, delivery] of settled) {
          await outcome(delivery);
          mine?.delete(id);
        }
      } finally {
        for (const [id] of settled) mine?.delete(id);
      }
    });
    this.work = work.catch(() => undefined);
    return work.then(() => this.pump());
  }

  private async retry(delivery: Delivery): Promise<void> {
    delivery.retryCount++;
    if (delivery.retryCount > this.config.settings.maxRetryCount) {
      await this.park(delivery, 'the maximum number of retries was reached');
      return;
    }
    this.queue.unshift(delivery);
  }

  /** Writes a link to the event into the parked stream, then counts the event as finished. */
  private async park(delivery: Delivery, reason: string): Promise<void> {
    const { event } = delivery;
    await this.evdb.appendSystem(this.storeId, {
      streamId: this.parkedStream,
      events: [
        {
          eventType: '$>',
          data: new TextEncoder().encode(`${event.version}@${event.streamId}`),
          dataContentType: 'application/octet-stream',
          metadata: reason === '' ? {} : { reason },
        },
      ],
    });
    await this.finish(delivery);
  }

  private async finish(delivery: Delivery): Promise<void> {
    if (delivery.parkedLink !== undefined) {
      this.replayFinished.add(delivery.parkedLink);
      await this.cutReplayed();
      return;
    }
    this.finished.add(delivery.event.position);
    await this.advance();
  }

  /** Cuts the finished prefix of the replayed links off the parked stream. */
  private async cutReplayed(): Promise<void> {
    const through = takeFinishedPrefix(this.replaying, this.replayFinished);
    if (through === undefined) return;
    const before = through + 1;
    const cut = this.cutting.then(() =>
      truncateParked(this.evdb, this.storeId, this.parkedStream, before),
    );
    this.cutting = cut.catch(() => undefined);
    await cut;
  }

  private get parkedStream(): string {
    return parkedStreamOf(this.config.stream, this.config.group);
  }

  /** Moves the evdb checkpoint to the end of the finished prefix of what was pulled. */
  private async advance(): Promise<void> {
    const through = takeFinishedPrefix(this.unfinished, this.finished);
    if (through !== undefined && this.subscription !== undefined) {
      await this.subscription.ack(through);
    }
  }

  private pump(): void {
    if (this.stopped) return;
    while (this.queue.length > 0) {
      const consumer = this.pick(this.queue[0] as Delivery);
      if (consumer === undefined) return;
      this.dispatch(this.queue.shift() as Delivery, consumer);
    }
    if (!this.pulling && this.freeSlots() > 0) void this.pull();
  }

  private freeSlots(): number {
    let free = 0;
    for (const consumer of this.consumers) free += consumer.slots - this.inFlightOf(consumer);
    return free;
  }

  private async pull(): Promise<void> {
    const iterator = this.iterator;
    if (iterator === undefined) return;
    this.pulling = true;
    try {
      const next = await iterator.next();
      if (next.done === true || this.stopped) return;
      for (const event of next.value) {
        this.unfinished.push(event.position);
        if (this.filter !== undefined && !this.filter.matches(event)) {
          this.finished.add(event.position);
          continue;
        }
        this.queue.push({ event, retryCount: 0 });
      }
      await this.advance();
    } catch (error) {
      await this.stop(error);
      return;
    } finally {
      this.pulling = false;
    }
    this.pump();
  }

  private pick(delivery: Delivery): Consumer | undefined {
    const free = this.consumers.filter((c) => this.inFlightOf(c) < c.slots);
    if (free.length === 0) return undefined;
    const strategy = this.config.settings.consumerStrategy;
    if (strategy === 'DispatchToSingle') return free[0];
    if (strategy === 'Pinned' || strategy === 'PinnedByCorrelation') {
      const hash = createHash('sha1').update(delivery.event.streamId).digest().readUInt32BE(0);
      const preferred = this.consumers[hash % this.consumers.length] as Consumer;
      return free.includes(preferred) ? preferred : undefined;
    }
    this.roundRobin = (this.roundRobin + 1) % free.length;
    return free[this.roundRobin];
  }

  private dispatch(delivery: Delivery, consumer: Consumer): void {
    const { event } = delivery;
    delivery.consumer = consumer;
    this.inFlight.set(event.eventId, delivery);
    this.held.get(consumer)?.add(event.eventId);
    this.totalItems++;
    const sent = consumer.send({
      event: {
        event: recordedEventToWire(event, consumer.structuredIds),
        commit_position: String(event.position),
        ...(delivery.retryCount > 0 ? { retry_count: delivery.retryCount } : { retry_count: 0 }),
      },
    });
    if (!sent) {
      this.removeConsumer(consumer);
      return;
    }
    const timeout = this.config.settings.messageTimeoutMs;
    if (timeout > 0) {
      delivery.timer = setTimeout(() => {
        if (this.inFlight.get(event.eventId) !== delivery) return;
        this.inFlight.delete(event.eventId);
        this.held.get(consumer)?.delete(event.eventId);
        delivery.consumer = undefined;
        void this.retry(delivery).then(
          () => this.pump(),
          (error: unknown) => this.stop(error),
        );
      }, timeout);
      delivery.timer.unref();
    }
  }
}

/**
 * Takes the finished ones off the front of `pending` (ascending) and out of `finished`; returns
 * the last taken, or undefined when the first pending one is not finished.
 */
function takeFinishedPrefix(pending: number[], finished: Set<number>): number | undefined {
  let through: number | undefined;
  for (;;) {
    const first = pending[0];
    if (first === undefined || !finished.has(first)) return through;
    pending.shift();
    finished.delete(first);
    through = first;
  }
}
