import {
  CHANNELS,
  QUEUE_LIMITS,
  assertChannel,
  assertTopic,
  type ChannelApi,
  type ChannelHandler,
  type ChannelMessage,
  type ChannelName,
  type ChannelPublishOptions,
  type ChannelPublishResult,
  type ChannelSubscribeOptions,
  type ChannelSubscription,
} from '../core/channel-types.js';
import { EvdbError, invalidArgument } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import type { JsonValue } from '../core/types.js';
import { backoffDelay, failureKind, sleep, type RetryOptions } from './retry.js';
import type { WebSocketTransport } from './websocket-transport.js';

/** What the client's channels need of the client. */
export interface ChannelRoute {
  /** How calls travel: subscribing needs the WebSocket. */
  transport: 'http' | 'websocket';
  /** `publishToChannel`, as an ordinary call (with the client's routing and retries). */
  publish(
    channel: ChannelName,
    topic: string,
    message: JsonValue,
    options: ChannelPublishOptions | undefined,
  ): Promise<ChannelPublishResult>;
  /** The transport of a server node to subscribe on, picked afresh for every attempt. */
  pick(): Promise<WebSocketTransport>;
  retry: Required<RetryOptions>;
  timeoutMs: number;
}

/**
 * Channels through the client. Publishing is a call over either transport; subscriptions live
 * on one server node's WebSocket (frames in `src/gateway/ws-channels.ts`) and move to another
 * node when the connection drops, with the client's retry policy. Messages published while a
 * subscription moves are not delivered to it: channels keep nothing.
 */
export class RemoteChannels implements ChannelApi {
  private readonly open = new Map<string, RemoteChannelSubscription>();
  private numbers = 0;

  constructor(private readonly route: ChannelRoute) {}

  publish(
    channel: ChannelName,
    topic: string,
    message: JsonValue,
    options?: ChannelPublishOptions,
  ): Promise<ChannelPublishResult> {
    return this.route.publish(channel, topic, message, options);
  }

  async subscribe(
    channel: ChannelName,
    topic: string,
    handler: ChannelHandler,
    options: ChannelSubscribeOptions = {},
  ): Promise<ChannelSubscription> {
    assertChannel(channel);
    assertTopic(topic, true);
    if (typeof handler !== 'function') throw invalidArgument('subscribe needs a handler function');
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument('options must be an object');
    }
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw invalidArgument('onError must be a function');
    }
    if (this.route.transport !== 'websocket') {
      throw invalidArgument(
        "channel subscriptions need the WebSocket transport: connect with { transport: 'websocket' }",
        { reason: 'needs_websocket', transport: this.route.transport },
      );
    }
    const subscription = new RemoteChannelSubscription(
      this.route,
      ++this.numbers,
      channel,
      topic,
      handler,
      options,
      () => this.open.delete(subscription.id),
    );
    await subscription.attach();
    this.open.set(subscription.id, subscription);
    return subscription;
  }

  async unsubscribe(subscription: ChannelSubscription | string): Promise<void> {
    const id = typeof subscription === 'string' ? subscription : subscription?.id;
    const found = typeof id === 'string' ? this.open.get(id) : undefined;
    if (found === undefined) {
      throw new EvdbError('not_found', `no channel subscription ${JSON.stringify(id)}`);
    }
    await found.close();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.open.values()].map((subscription) => subscription.close()));
  }
}

class RemoteChannelSubscription implements ChannelSubscription {
  readonly id = uuidv7();
  dropped = 0;
  private transport: WebSocketTransport | undefined;
  private connection: number | undefined;
  private stopListening: (() => void) | undefined;
  private readonly queue: ChannelMessage[] = [];
  private handling = false;
  private closed = false;

  constructor(
    private readonly route: ChannelRoute,
    private readonly number: number,
    readonly channel: ChannelName,
    readonly topic: string,
    private readonly handler: ChannelHandler,
    private readonly options: ChannelSubscribeOptions,
    private readonly forget: () => void,
  ) {}

  /** Subscribes on a server node, retrying transient failures within the call budget. */
  async attach(): Promise<void> {
    const deadline = Date.now() + this.route.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const transport = await this.route.pick();
        this.listen(transport);
        const frame: Record<string, unknown> = {
          type: 'channelSubscribe',
          subscription: this.number,
          channel: this.channel,
          topic: this.topic,
        };
        if (this.options.capability !== undefined) frame.capability = this.options.capability;
        const { connection } = await transport.send(
          frame,
          AbortSignal.timeout(Math.max(1, deadline - Date.now())),
        );
        this.connection = connection;
        return;
      } catch (error) {
        const delay = backoffDelay(attempt, this.route.retry);
        const final =
          failureKind(error) === 'final' ||
          attempt >= this.route.retry.retries ||
          Date.now() + delay > deadline;
        if (final || this.closed) {
          this.stopListening?.();
          throw error;
        }
        await sleep(delay);
      }
    }
  }

  private listen(transport: WebSocketTransport): void {
    if (this.transport === transport) return;
    this.stopListening?.();
    this.transport = transport;
    const stopFrames = transport.onFrame((frame, connection) => {
      if (
        frame.type === 'channelMessage' &&
        frame.subscription === this.number &&
        connection === this.connection
      ) {
        this.enqueue(frame.message as ChannelMessage);
      }
    }, this.number);
    const stopDrops = transport.onDrop((connection) => {
      if (connection !== this.connection || this.closed) return;
      this.connection = undefined;
      this.attach().catch((error: unknown) => this.report(error, undefined));
    });
    this.stopListening = () => {
      stopFrames();
      stopDrops();
    };
  }

  private enqueue(message: ChannelMessage): void {
    if (this.closed) return;
    const priority = CHANNELS[this.channel].priority;
    if (this.queue.length >= QUEUE_LIMITS[priority]) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(message);
    if (!this.handling) void this.drain();
  }

  /** One handler call at a time, in arrival order. */
  private async drain(): Promise<void> {
    this.handling = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const message = this.queue.shift() as ChannelMessage;
        try {
          await this.handler(message);
        } catch (error) {
          this.report(error, message);
        }
      }
    } finally {
      this.handling = false;
    }
  }

  private report(error: unknown, message: ChannelMessage | undefined): void {
    if (this.options.onError !== undefined) {
      this.options.onError(error, message);
      return;
    }
    console.error(
      `evdb: channel subscription ${this.channel} ${JSON.stringify(this.topic)} ` +
        (message === undefined ? 'could not be opened again' : 'handler failed'),
      error,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.forget();
    const transport = this.transport;
    const connection = this.connection;
    this.stopListening?.();
    if (transport === undefined || connection === undefined) return;
    try {
      await transport.send(
        { type: 'channelUnsubscribe', subscription: this.number },
        AbortSignal.timeout(this.route.timeoutMs),
        connection,
      );
    } catch (error) {
      // The connection ended: the server dropped the subscription with it.
      if (failureKind(error) === 'final') throw error;
    }
  }
}
