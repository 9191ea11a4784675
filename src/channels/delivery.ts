import {
  PRIORITY_ORDER,
  QUEUE_LIMITS,
  type ChannelHandler,
  type ChannelMessage,
  type ChannelPriority,
} from '../core/channel-types.js';

/**
 * How long one turn of the event loop hands out messages before I/O (and new arrivals) get a
 * turn. Bounded by time, not by count: when turns are long (a busy process, a burst from the
 * cluster bus), more arrives per turn, and a fixed count per turn would let the queues grow
 * until subscribers that keep up easily lose messages.
 */
const DELIVERY_BUDGET_MS = 5;
/** Deliveries between two looks at the clock. */
const DELIVERIES_PER_CLOCK_CHECK = 128;

/** One subscription's side of delivery: its queue, and whether its handler is running. */
export class Receiver {
  private queue: ChannelMessage[] = [];
  private head = 0;
  busy = false;
  closed = false;
  dropped = 0;

  constructor(
    readonly priority: ChannelPriority,
    readonly handler: ChannelHandler,
    readonly onError: (error: unknown, message: ChannelMessage) => void,
    readonly onDrop: (message: ChannelMessage) => void,
  ) {}

  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Queues a message; when the queue is full its oldest message is lost (and reported). */
  push(message: ChannelMessage): void {
    if (this.waiting >= QUEUE_LIMITS[this.priority]) {
      const lost = this.shift() as ChannelMessage;
      this.dropped++;
      this.onDrop(lost);
    }
    this.queue.push(message);
  }

  shift(): ChannelMessage | undefined {
    if (this.head >= this.queue.length) return undefined;
    const message = this.queue[this.head] as ChannelMessage;
    this.head++;
    // Compact once the consumed prefix dominates, so a long-lived queue stays O(waiting).
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return message;
  }

  clear(): void {
    this.queue = [];
    this.head = 0;
  }
}

/**
 * Hands queued messages to their subscriptions' handlers, highest priority first: whenever
 * delivery is behind, every waiting critical message goes before any high one, and so on.
 * Each subscription has its own queue and at most one handler call running, so its messages
 * arrive in order and a slow handler holds up only itself; publishers never wait.
 */
export class DeliveryScheduler {
  /** Subscriptions with messages waiting and no handler running, per priority, in turn order. */
  private readonly ready = new Map<ChannelPriority, Set<Receiver>>(
    PRIORITY_ORDER.map((priority) => [priority, new Set<Receiver>()]),
  );
  private scheduled = false;

  deliver(receiver: Receiver, message: ChannelMessage): void {
    if (receiver.closed) return;
    receiver.push(message);
    this.markReady(receiver);
  }

  remove(receiver: Receiver): void {
    receiver.closed = true;
    receiver.clear();
    this.ready.get(receiver.priority)?.delete(receiver);
  }

  private markReady(receiver: Receiver): void {
    if (receiver.busy || receiver.closed || receiver.waiting === 0) return;
    this.ready.get(receiver.priority)?.add(receiver);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private nextReceiver(): Receiver | undefined {
    for (const priority of PRIORITY_ORDER) {
      const set = this.ready.get(priority) as Set<Receiver>;
      for (const receiver of set) {
        set.delete(receiver);
        return receiver;
      }
    }
    return undefined;
  }

  private drain(): void {
    this.scheduled = false;
    const until = performance.now() + DELIVERY_BUDGET_MS;
    for (let i = 1; ; i++) {
      const receiver = this.nextReceiver();
      if (receiver === undefined) return;
      const message = receiver.shift();
      if (message !== undefined) this.run(receiver, message);
      // Back at the end of its priority's turn order: subscriptions of one priority take turns.
      this.markReady(receiver);
      if (i % DELIVERIES_PER_CLOCK_CHECK === 0 && performance.now() >= until) return;
    }
  }

  private run(receiver: Receiver, message: ChannelMessage): void {
    let outcome: void | Promise<void>;
    try {
      outcome = receiver.handler(message);
    } catch (error) {
      receiver.onError(error, message);
      return;
    }
    if (outcome === undefined || typeof (outcome as { then?: unknown }).then !== 'function') {
      return;
    }
    receiver.busy = true;
    outcome.then(
      () => this.settled(receiver),
      (error: unknown) => {
        receiver.onError(error, message);
        this.settled(receiver);
      },
    );
  }

  private settled(receiver: Receiver): void {
    receiver.busy = false;
    this.markReady(receiver);
  }
}
