// Over 400 lines: one class, a subscription held over the network, whose states (pulling,
// handing out batches, acknowledging, resuming after a dropped connection) share its position
// and must change together.

import { BatchIteration, ackPosition } from '../core/consumption.js';
import { EvdbError, invalidArgument } from '../core/errors.js';
import type {
  EventRecord,
  SubscribeOptions,
  Subscription,
  SubscriptionHandler,
} from '../core/types.js';
import type { Frame } from '../protocol/frames.js';
import { describe } from '../core/validation.js';
import { decodeWire, encodeWire, fromProblem, type Problem } from '../protocol/wire.js';
import { backoffDelay, failureKind, sleep, type RetryOptions } from './retry.js';
import { connectionError, isConnectionFailure } from './transport.js';
import type { WebSocketTransport } from './websocket-transport.js';

/** What a remote subscription needs of the client that opened it. */
export interface SubscriptionRoute {
  /** The transport of the server node to subscribe on, picked afresh for every attempt. */
  pick(): Promise<WebSocketTransport>;
  retry: Required<RetryOptions>;
  /** The budget of one attempt series (subscribing, or resuming after a drop). */
  timeoutMs: number;
  /** Stores a checkpoint through the ordinary `ackEvent` call, with the client's retries. */
  ackEvent(storeId: string, name: string, position: number): Promise<number>;
}

/**
 * Batches the client asks for ahead of its consumer: while the consumer works on one batch, the
 * next is on its way, so catch-up overlaps the round trip. More would only buffer.
 */
const PREFETCH_BATCHES = 1;

/**
 * Batches a handler asks the server to have in flight: while the handler works on one, the
 * next are on their way, and the `handled` of several batches leave as one frame (see
 * `acknowledge`), so a delivery costs about one frame instead of two.
 */
const HANDLER_WINDOW = 4;

type State = 'open' | 'resuming' | 'closing' | 'ended';

/**
 * A subscription consumed over the WebSocket transport (the frames are described in
 * `src/gateway/ws-subscriptions.ts`). The server runs the in-process `Subscription`; this side
 * asks for batches as its consumer takes them (one batch ahead), runs the handler and sends its
 * verdict, and forwards acknowledgements.
 *
 * When the connection drops it subscribes again, with the client's retry policy: a persistent
 * subscription from its stored checkpoint (events delivered and not acknowledged come again: at
 * least once), a transient one after the last event it received. When that fails for good,
 * `done` rejects with the error.
 */
export class RemoteSubscription implements Subscription {
  readonly done: Promise<void>;
  private state: State = 'open';
  private transport: WebSocketTransport | undefined;
  /** The connection the server side lives on; undefined while (re)subscribing. */
  private connection: number | undefined;
  private readonly listening = new Map<WebSocketTransport, () => void>();
  private readonly buffered: EventRecord[][] = [];
  /** Batches asked of the server and not received yet. */
  private requested = 0;
  private wakeConsumer: (() => void) | undefined;
  private readonly iteration = new BatchIteration(
    () => this.nextBatch(),
    () => this.close(),
  );
  /** The handler's run over the batches received (`drain`); awaited before resuming and ending. */
  private handling: Promise<void> | undefined;
  private handlerRunning = false;
  private draining = false;
  /** Handler mode: batches received and not handled yet, with the connection each came by. */
  private readonly received: { events: EventRecord[]; connection: number }[] = [];
  /** Handler mode: the batches the server side may have in flight (1 for a server without windows). */
  private window = 1;
  /** After a failed batch: the batches the server sent after it are void until its `discard`. */
  private discarding = false;
  /** Batches handled and acknowledged here whose `handled` has not been sent yet, and their connection. */
  private unacked = 0;
  private unackedOver: number | undefined;
  /** Transient: the first position to deliver when subscribing again. */
  private resumeFrom: number | undefined;
  /** The highest position handed to the consumer, and the highest from the current server side. */
  private handedOut = -1;
  private handedOutHere = -1;
  /**
   * Persistent: the last batch its handler finished, and the highest position this side stored
   * itself. `handled` is not answered, so after a drop the client cannot tell whether the server
   * side stored the last ones: it stores them (see `storeHandled`).
   */
  private handledOk = -1;
  private handledStored = -1;
  private resuming: Promise<void> | undefined;
  /** Stops the attempts of a resume when the subscription is closed meanwhile. */
  private attempts: AbortController | undefined;
  private closing: Promise<void> | undefined;
  private failure: Error | undefined;
  private failureReported = false;
  private resolveDone!: () => void;
  private rejectDone!: (error: unknown) => void;

  private constructor(
    private readonly route: SubscriptionRoute,
    /** This subscription's number in the frames; unique within the client. */
    private readonly number: number,
    readonly storeId: string,
    readonly name: string | undefined,
    private readonly wireOptions: Record<string, unknown>,
    private readonly handler: SubscriptionHandler | undefined,
    private readonly onError: ((error: unknown) => void) | undefined,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // `done` is optional to watch: an unobserved failure must not crash the process.
    this.done.catch(() => undefined);
  }

  /** Checks the options, subscribes (with retries) and returns the running subscription. */
  static async open(
    route: SubscriptionRoute,
    number: number,
    storeId: string,
    options: SubscribeOptions,
    handler: SubscriptionHandler | undefined,
  ): Promise<RemoteSubscription> {
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument(
        'subscribe takes { name } (a saved subscription) or { type, selector, startFrom? } (transient)',
      );
    }
    if (handler !== undefined && typeof handler !== 'function') {
      throw invalidArgument(`the handler must be a function, got ${describe(handler)}`);
    }
    const { onError, ...rest } = options;
    if (onError !== undefined && typeof onError !== 'function') {
      throw invalidArgument(`onError must be a function, got ${describe(onError)}`);
    }
    let wireOptions: Record<string, unknown>;
    try {
      wireOptions = encodeWire(rest, 'options') as Record<string, unknown>;
    } catch (error) {
      if (!(error instanceof EvdbError)) throw error;
      throw invalidArgument(
        `${error.message}: subscribe options travel to the server as JSON; only the handler and onError stay in the client`,
        error.details,
      );
    }
    const name = typeof wireOptions.name === 'string' ? wireOptions.name : undefined;
    const subscription = new RemoteSubscription(
      route,
      number,
      storeId,
      name,
      wireOptions,
      handler,
      onError,
    );
    try {
      await subscription.attach();
    } catch (error) {
      subscription.stopListening();
      throw error;
    }
    return subscription;
  }

  // ---- subscribing ----------------------------------------------------------------------------

  /** Opens the server side, retrying transient failures; the connection it lives on is noted. */
  private async attach(): Promise<void> {
    const controller = new AbortController();
    this.attempts = controller;
    const timer = setTimeout(() => {
      controller.abort(
        new EvdbError('timeout', `subscribe did not succeed within ${this.route.timeoutMs} ms`, {
          details: { operation: 'subscribe', timeoutMs: this.route.timeoutMs },
        }),
      );
    }, this.route.timeoutMs);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const transport = await this.route.pick();
          this.listen(transport);
          const options =
            this.resumeFrom === undefined
              ? this.wireOptions
              : { ...this.wireOptions, startFrom: this.resumeFrom };
          this.transport = transport;
          const { result, connection } = await transport.send(
            {
              type: 'subscribe',
              subscription: this.number,
              storeId: this.storeId,
              options,
              handler: this.handler !== undefined,
              ...(this.handler === undefined ? {} : { window: HANDLER_WINDOW }),
            },
            controller.signal,
          );
          this.connection = connection;
          this.handedOutHere = -1;
          if (this.name === undefined) {
            this.resumeFrom ??= (result as { startFrom: number }).startFrom;
          }
          // A server that knows no windows (an older one) sends one batch at a time.
          const { window } = result as { window?: unknown };
          this.window =
            typeof window === 'number' && Number.isSafeInteger(window) && window >= 1 ? window : 1;
          this.discarding = false;
          this.unacked = 0;
          if (this.handler !== undefined) this.drainFrom(this.handler, connection);
          return;
        } catch (error) {
          if (controller.signal.aborted) throw controller.signal.reason;
          if (failureKind(error) === 'final' || attempt >= this.route.retry.retries) throw error;
          await sleep(backoffDelay(attempt, this.route.retry), controller.signal);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private listen(transport: WebSocketTransport): void {
    if (this.listening.has(transport)) return;
    const stopFrames = transport.onFrame(
      (frame, connection) => this.receive(frame, connection),
      this.number,
    );
    const stopDrops = transport.onDrop((connection) => this.dropped(connection));
    this.listening.set(transport, () => {
      stopFrames();
      stopDrops();
    });
  }

  private stopListening(): void {
    for (const stop of this.listening.values()) stop();
    this.listening.clear();
  }

  /** The connection of the server side ended: subscribe again, after the handler finished. */
  private dropped(connection: number): void {
    if (connection !== this.connection) return;
    if (this.state === 'closing') {
      this.end(undefined); // the server closed its side with the connection
      return;
    }
    if (this.state !== 'open') return;
    this.connection = undefined;
    this.requested = 0;
    // A persistent subscription delivers again from its checkpoint: what is buffered comes again.
    if (this.name !== undefined) this.buffered.length = 0;
    // Not handled yet: they come again (from the checkpoint, or after the last batch handled).
    this.received.length = 0;
    // Their `handled` cannot be sent: a persistent subscription stores them (`storeHandled`).
    this.unacked = 0;
    this.state = 'resuming';
    this.resuming = this.resume();
  }

  private async resume(): Promise<void> {
    // One batch at a time reaches the handler, across connections too.
    await this.handling;
    // Not delivered again what was handled, if the `handled` was lost with the connection.
    await this.storeHandled();
    if (this.state !== 'resuming') return;
    try {
      await this.attach();
    } catch (error) {
      // Closed while resuming: the attempts were stopped on purpose.
      if ((this.state as State) === 'closing') this.end(undefined);
      else this.end(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.state === 'resuming') {
      this.state = 'open';
      this.wakeConsumer?.();
    }
  }

  /** A frame of this subscription, from the server, over connection number `connection`. */
  private receive(frame: Frame, connection: number): void {
    if (frame.subscription !== this.number) return;
    if (frame.type === 'error') {
      // A notification of this subscription's the server could not match to it.
      const problem = frame.problem as Problem;
      this.fail(fromProblem(problem, problem.status));
    } else if (frame.type === 'batch') {
      if (this.handler !== undefined) {
        if (this.discarding) return;
        this.received.push({ events: decodeWire(frame.events) as EventRecord[], connection });
        this.drainFrom(this.handler, connection);
        return;
      }
      const events = decodeWire(frame.events) as EventRecord[];
      this.requested = Math.max(0, this.requested - 1);
      this.buffered.push(events);
      const last = events[events.length - 1];
      if (this.name === undefined && last !== undefined) this.resumeFrom = last.position + 1;
      this.wakeConsumer?.();
    } else if (frame.type === 'discard') {
      this.discarding = false;
    } else if (frame.type === 'end') {
      const problem = frame.problem as Problem | undefined;
      this.end(problem === undefined ? undefined : fromProblem(problem, problem.status));
    }
  }

  // ---- consumption ----------------------------------------------------------------------------

  [Symbol.asyncIterator](): AsyncIterator<EventRecord[]> {
    return this.iteration.iterator(this.handler !== undefined);
  }

  private async nextBatch(): Promise<IteratorResult<EventRecord[]>> {
    for (;;) {
      if (this.state === 'ended' || this.state === 'closing') {
        if (this.failure !== undefined && !this.failureReported) {
          this.failureReported = true;
          throw this.failure;
        }
        return { done: true, value: undefined };
      }
      const batch = this.buffered.shift();
      if (batch !== undefined) {
        this.handOut(batch);
        this.demand();
        return { done: false, value: batch };
      }
      this.demand();
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      this.wakeConsumer = undefined;
    }
  }

  /** Keeps one batch asked for or buffered beyond what the consumer holds. */
  private demand(): void {
    if (this.state !== 'open' || this.requested + this.buffered.length >= PREFETCH_BATCHES) {
      return;
    }
    // Not sent: the connection is gone, and resuming asks again.
    const sent = this.notifyOver(this.connection, {
      type: 'pull',
      subscription: this.number,
      batches: 1,
    });
    if (sent) this.requested++;
  }

  private handOut(batch: EventRecord[]): void {
    const last = batch[batch.length - 1];
    if (last === undefined) return;
    this.handedOut = Math.max(this.handedOut, last.position);
    this.handedOutHere = Math.max(this.handedOutHere, last.position);
  }

  /**
   * Runs the handler on the batches received, one at a time, in order, when they came over
   * `connection`, the connection the server side is known to live on: a batch may come before
   * the answer to `subscribe`, and waits for it (the answer says the window, which decides how
   * a failure is told).
   */
  private drainFrom(handler: SubscriptionHandler, connection: number): void {
    if (this.draining || connection !== this.connection) return;
    this.handling = this.drain(handler);
  }

  private async drain(handler: SubscriptionHandler): Promise<void> {
    this.draining = true;
    try {
      for (;;) {
        if (this.state === 'closing' || this.state === 'ended') return;
        const next = this.received[0];
        if (next === undefined || next.connection !== this.connection) return;
        this.received.shift();
        await this.handle(handler, next.events, next.connection);
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Runs the handler on a batch and tells the server side, over the connection the batch came
   * by, how it went (resolved: acknowledged).
   */
  private async handle(
    handler: SubscriptionHandler,
    events: EventRecord[],
    connection: number,
  ): Promise<void> {
    this.handOut(events);
    this.handlerRunning = true;
    let ok = true;
    try {
      await handler(events);
    } catch (error) {
      ok = false;
      this.report(error);
    }
    this.handlerRunning = false;
    const last = events[events.length - 1];
    if (ok && last !== undefined) {
      if (this.name === undefined) this.resumeFrom = last.position + 1;
      else this.handledOk = Math.max(this.handledOk, last.position);
    }
    if (ok) {
      this.acknowledge(connection);
      return;
    }
    // The batches handled before it are told first: the failure is the oldest one in flight.
    this.sendAcknowledged();
    const sent = this.notifyOver(connection, {
      type: 'handled',
      subscription: this.number,
      ok: false,
    });
    if (this.window > 1) {
      // The server voids what it sent after the failed batch and sends it again later.
      this.received.length = 0;
      this.discarding = sent;
    }
    // The connection dropped meanwhile: store the checkpoint the server side could not.
    if (!sent) await this.storeHandled();
  }

  /**
   * A batch handled: its `handled` waits to leave with others (of this subscription, or of the
   * other subscriptions of the connection, in one message) unless half the window is waiting,
   * so that the server side never runs out of batches to send while the handler keeps up.
   */
  private acknowledge(connection: number): void {
    if (this.unacked > 0 && this.unackedOver !== connection) this.sendAcknowledged();
    this.unacked++;
    this.unackedOver = connection;
    if (this.unacked * 2 >= this.window || this.state !== 'open') {
      this.sendAcknowledged();
      return;
    }
    this.transport?.later(this);
  }

  /** The gathering timer of the transport fired (see `acknowledge`). */
  sendGathered(): void {
    this.sendAcknowledged();
  }

  /** Sends the gathered `handled`; when the connection is gone, stores the checkpoint instead. */
  private sendAcknowledged(): void {
    const batches = this.unacked;
    if (batches === 0) return;
    this.unacked = 0;
    const sent = this.notifyOver(this.unackedOver, {
      type: 'handled',
      subscription: this.number,
      ok: true,
      ...(batches === 1 ? {} : { batches }),
    });
    if (!sent) void this.storeHandled();
  }

  /**
   * Persistent: stores the checkpoint of the last batch the handler finished, through the
   * ordinary `ackEvent` call, when this side has not stored it yet. After a drop the server
   * side may not have got its `handled`; a checkpoint never moves back, so storing it again
   * costs nothing wrong.
   */
  private async storeHandled(): Promise<void> {
    const position = this.handledOk;
    if (this.name === undefined || position <= this.handledStored) return;
    this.handledStored = position;
    await this.route
      .ackEvent(this.storeId, this.name, position)
      .catch((error: unknown) => this.report(error));
  }

  async ack(eventOrPosition: EventRecord | number): Promise<void> {
    const position = ackPosition(eventOrPosition);
    if (this.name === undefined) return;
    if (this.state === 'ended') throw closedError(this.name);
    // Like in-process, only what was handed out can be acknowledged.
    const upTo = Math.min(position, this.handedOut);
    if (upTo < 0) return;
    if (this.state === 'open' && upTo <= this.handedOutHere) {
      try {
        await this.sendHere({ type: 'ack', subscription: this.number, position: upTo });
        return;
      } catch (error) {
        if (!isConnectionFailure(error)) throw error;
      }
    }
    // Handed out by an earlier connection's server side: store the checkpoint directly.
    await this.route.ackEvent(this.storeId, this.name, upTo);
  }

  // ---- ending ---------------------------------------------------------------------------------

  close(): Promise<void> {
    const running = this.handlerRunning;
    this.closing ??= this.shutDown();
    return running ? Promise.resolve() : this.closing;
  }

  private async shutDown(): Promise<void> {
    if (this.state === 'ended') return;
    const wasResuming = this.state === 'resuming';
    this.state = 'closing';
    this.wakeConsumer?.();
    if (wasResuming) this.attempts?.abort(closedError(this.name ?? 'transient'));
    // A resume that got through meanwhile opened a server side: close that.
    await this.resuming;
    // The batch being handled finishes, and what was handled is told before the server side
    // closes (and stores its checkpoint).
    await this.handling;
    this.sendAcknowledged();
    if (this.connection === undefined) {
      this.end(undefined);
      return;
    }
    try {
      await this.sendHere({ type: 'unsubscribe', subscription: this.number });
    } catch (error) {
      // A dropped connection closed the server side already.
      this.end(isConnectionFailure(error) ? undefined : (error as Error));
      return;
    }
    // The server's `end` frame follows once its side has stored its checkpoint.
    await this.done.catch(() => undefined);
  }

  private end(error: Error | undefined): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.connection = undefined;
    if (error !== undefined) this.failure = error;
    this.stopListening();
    this.wakeConsumer?.();
    // Like in-process, `done` settles once the handler has returned.
    void Promise.resolve(this.handling).then(() => {
      if (this.failure !== undefined) this.rejectDone(this.failure);
      else this.resolveDone();
    });
  }

  private fail(error: unknown): void {
    this.report(error);
    this.end(error instanceof Error ? error : new Error(String(error)));
  }

  private report(error: unknown): void {
    try {
      this.onError?.(error);
    } catch {
      // A failing error callback must not stop delivery.
    }
  }

  /** Sends a notification over `connection`; false when that connection is gone. */
  private notifyOver(connection: number | undefined, frame: Omit<Frame, 'id'>): boolean {
    const transport = this.transport;
    if (transport === undefined || connection === undefined) return false;
    return transport.notify(frame, connection);
  }

  /** Sends a frame over the connection the server side lives on, never a newer one. */
  private sendHere(frame: Omit<Frame, 'id'>): Promise<unknown> {
    return this.sendOver(this.connection, frame);
  }

  private sendOver(connection: number | undefined, frame: Omit<Frame, 'id'>): Promise<unknown> {
    const transport = this.transport;
    if (transport === undefined || connection === undefined) {
      const url = transport?.url ?? '';
      return Promise.reject(
        connectionError(`${url}: the subscription is not connected`, url, 'unsent'),
      );
    }
    // Not abortable: the server answers each frame, or the connection's end fails it.
    return transport
      .send(frame, new AbortController().signal, connection)
      .then(({ result }) => result);
  }
}

function closedError(name: string): EvdbError {
  return new EvdbError('unavailable', `subscription '${name}' is closed`, { retriable: false });
}
