import process from 'node:process';
import {
  CHANNELS,
  CHANNEL_LIMITS,
  assertChannel,
  assertTopic,
  topicMatches,
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
import type { NodeView } from '../core/cluster-types.js';
import type { MessageBus } from '../backends/message-bus.js';
import { assertJson } from '../core/validation.js';
import { telemetry } from '../telemetry/publish.js';
import { DeliveryScheduler, Receiver } from './delivery.js';
import { RateLimiter } from './rate-limiter.js';
import { isSignedShape, verify } from './signing.js';

/** What the hub asks of capability checking: throws `unauthorized` when the token does not allow it. */
export type ChannelAuthorizer = (
  token: string | undefined,
  action: 'channel/publish' | 'channel/subscribe',
  channel: ChannelName,
) => void;

export interface ChannelHubOptions {
  /** This node's id: the `origin` of what it publishes, and the telemetry's node id. */
  nodeId: string;
  /** The shared secret signatures are checked with (`--channel-secret`). */
  secret?: string;
  /** How to reach the other processes of the cluster; none: channels stay in this process. */
  openBus?: () => MessageBus;
  /** Capability checks (the deployment's mode); default: none. */
  authorize?: ChannelAuthorizer;
  /** For tests of windows and expiry. */
  clock?: () => number;
  /** What this node answers when another asks for its view (cluster checks). */
  describeNode?: () => Promise<NodeView>;
}

/** Cluster checks travel on the bus beside channel messages. */
type ControlEnvelope =
  | { kind: 'probe'; hub: string; probe: string }
  | { kind: 'view'; hub: string; probe: string; to: string; view: NodeView };

interface Gathering {
  views: NodeView[];
  expected: Set<string>;
  done(): void;
}

/** What travels on the bus: a message, and the hub that sent it (which delivered it itself). */
interface BusEnvelope extends ChannelMessage {
  hub: string;
}

interface Entry {
  subscription: HubSubscription;
  pattern: string;
  receiver: Receiver;
}

class HubSubscription implements ChannelSubscription {
  constructor(
    readonly id: string,
    readonly channel: ChannelName,
    readonly topic: string,
    private readonly receiver: Receiver,
    private readonly hub: ChannelHub,
  ) {}

  get dropped(): number {
    return this.receiver.dropped;
  }

  close(): Promise<void> {
    return this.hub.unsubscribe(this.id).catch((error: unknown) => {
      // Closing twice is fine; anything else is not.
      if (!(error instanceof EvdbError && error.code === 'not_found')) throw error;
    });
  }
}

/**
 * The ten channels of one node: validation, signatures, capabilities and per-topic rate limits
 * at publish; delivery in priority order to this node's subscriptions; the cluster's other nodes
 * reached through the backend's message bus (PostgreSQL LISTEN/NOTIFY).
 */
export class ChannelHub implements ChannelApi {
  private readonly hubId = uuidv7();
  private readonly scheduler = new DeliveryScheduler();
  private readonly byId = new Map<string, Entry>();
  private readonly byChannel = new Map<ChannelName, Set<Entry>>();
  private readonly limiter: RateLimiter;
  private readonly clock: () => number;
  private bus: MessageBus | undefined;
  private readonly gatherings = new Map<string, Gathering>();
  private listening: Promise<() => void> | undefined;
  private closed = false;

  constructor(private readonly options: ChannelHubOptions) {
    this.clock = options.clock ?? Date.now;
    this.limiter = new RateLimiter(this.clock);
  }

  async publish(
    channel: ChannelName,
    topic: string,
    message: JsonValue,
    options: ChannelPublishOptions = {},
  ): Promise<ChannelPublishResult> {
    this.assertOpen();
    assertChannel(channel);
    assertTopic(topic, false);
    assertOptions(options);
    this.options.authorize?.(options.capability, 'channel/publish', channel);
    assertJson(message, 'message');
    const spec = CHANNELS[channel];
    // A signature is checked wherever one is present, and required where the channel says so.
    if (spec.signature === 'required' || isSignedShape(message)) {
      verify(message, this.options.secret, { now: this.clock() });
    }
    const published: ChannelMessage = {
      id: uuidv7(),
      channel,
      topic,
      message,
      publishedAt: this.clock(),
      origin: this.options.nodeId,
    };
    const bus = this.openBus();
    const text = bus === undefined ? undefined : JSON.stringify({ ...published, hub: this.hubId });
    const size = text?.length ?? JSON.stringify(message).length;
    if (size > CHANNEL_LIMITS.maxMessageBytes) {
      throw invalidArgument(`a message has at most ${CHANNEL_LIMITS.maxMessageBytes} bytes`, {
        reason: 'too_large',
      });
    }
    // Counted last: a message refused for any other reason does not use up the topic's window.
    if (!this.limiter.take(`${channel}\u0000${topic}`, spec.maxPerSecond)) {
      throw new EvdbError(
        'rate_limited',
        `${channel} carries at most ${spec.maxPerSecond} messages per second per topic`,
        {
          details: {
            channel,
            topic,
            limit: spec.maxPerSecond,
            retryAfterMs: this.limiter.retryAfterMs(),
          },
        },
      );
    }
    // The cluster first: if the bus refuses, no one (here either) got the message, and a retry
    // cannot deliver it twice.
    if (bus !== undefined && text !== undefined) await bus.send(text);
    const localRecipients = this.dispatch(published);
    return { id: published.id, localRecipients };
  }

  async subscribe(
    channel: ChannelName,
    topic: string,
    handler: ChannelHandler,
    options: ChannelSubscribeOptions = {},
  ): Promise<ChannelSubscription> {
    this.assertOpen();
    assertChannel(channel);
    assertTopic(topic, true);
    if (typeof handler !== 'function') throw invalidArgument('subscribe needs a handler function');
    assertOptions(options);
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw invalidArgument('onError must be a function');
    }
    this.options.authorize?.(options.capability, 'channel/subscribe', channel);
    await this.join();
    this.assertOpen();
    const spec = CHANNELS[channel];
    const onError =
      options.onError ??
      ((error: unknown, message: ChannelMessage) =>
        process.emitWarning(
          `evdb channel handler for ${message.channel} ${JSON.stringify(topic)} failed: ${String(error)}`,
          'EvdbChannelWarning',
        ));
    const receiver = new Receiver(spec.priority, handler, onError, (lost) => {
      if (telemetry.channelDropped.hasSubscribers) {
        telemetry.channelDropped.publish({
          nodeId: this.options.nodeId,
          channel: lost.channel,
          topic: lost.topic,
          priority: spec.priority,
        });
      }
    });
    const subscription = new HubSubscription(uuidv7(), channel, topic, receiver, this);
    const entry: Entry = { subscription, pattern: topic, receiver };
    this.byId.set(subscription.id, entry);
    let set = this.byChannel.get(channel);
    if (set === undefined) this.byChannel.set(channel, (set = new Set()));
    set.add(entry);
    return subscription;
  }

  unsubscribe(subscription: ChannelSubscription | string): Promise<void> {
    const id = typeof subscription === 'string' ? subscription : subscription?.id;
    const entry = typeof id === 'string' ? this.byId.get(id) : undefined;
    if (entry === undefined) {
      return Promise.reject(
        new EvdbError('not_found', `no channel subscription ${JSON.stringify(id)}`),
      );
    }
    this.byId.delete(entry.subscription.id);
    this.byChannel.get(entry.subscription.channel)?.delete(entry);
    this.scheduler.remove(entry.receiver);
    return Promise.resolve();
  }

  /** Subscriptions open on this node. */
  get subscriptionCount(): number {
    return this.byId.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.byId.values()) this.scheduler.remove(entry.receiver);
    this.byId.clear();
    this.byChannel.clear();
    const bus = this.bus;
    this.bus = undefined;
    if (bus !== undefined) await bus.close();
  }

  /** Queues the message for every matching subscription here; returns how many. */
  private dispatch(message: ChannelMessage): number {
    let recipients = 0;
    for (const entry of this.byChannel.get(message.channel) ?? []) {
      if (!topicMatches(entry.pattern, message.topic)) continue;
      this.scheduler.deliver(entry.receiver, message);
      recipients++;
    }
    if (telemetry.channelBroadcast.hasSubscribers) {
      telemetry.channelBroadcast.publish({
        nodeId: this.options.nodeId,
        channel: message.channel,
        topic: message.topic,
        messageId: message.id,
        origin: message.origin,
        recipients,
      });
    }
    return recipients;
  }

  private openBus(): MessageBus | undefined {
    if (this.bus === undefined && this.options.openBus !== undefined) {
      this.bus = this.options.openBus();
    }
    return this.bus;
  }

  /**
   * Starts hearing the other nodes (once): subscriptions made after this see their messages,
   * and this node answers cluster checks. A server joins when it starts listening.
   */
  async join(): Promise<void> {
    const bus = this.openBus();
    if (bus === undefined) return;
    this.listening ??= bus.listen((text) => this.received(text));
    try {
      await this.listening;
    } catch (error) {
      this.listening = undefined;
      throw error;
    }
  }

  /**
   * Asks every process on the bus for its view of the cluster (this one included); resolves
   * once every other node of `expected` answered, or after `timeoutMs` with those that did.
   */
  async gatherViews(expected: Set<string>, timeoutMs: number): Promise<NodeView[]> {
    this.assertOpen();
    const own = await this.options.describeNode?.();
    const views = own === undefined ? [] : [own];
    const bus = this.openBus();
    if (bus === undefined) return views;
    await this.join();
    const probe = uuidv7();
    const waiting = new Set([...expected].filter((id) => id !== own?.nodeId));
    const othersListed = waiting.size > 0;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
      this.gatherings.set(probe, {
        views,
        expected: waiting,
        done: () => {
          if (othersListed) finish();
        },
      });
      // With nobody else listed, the whole time is left to processes that are not listed (a
      // node serving no store yet) to answer.
      const control: ControlEnvelope = { kind: 'probe', hub: this.hubId, probe };
      bus.send(JSON.stringify(control)).catch(finish);
    });
    this.gatherings.delete(probe);
    return views;
  }

  private control(envelope: ControlEnvelope): void {
    if (envelope.kind === 'probe') {
      const describe = this.options.describeNode;
      if (describe === undefined || this.bus === undefined) return;
      const bus = this.bus;
      void describe()
        .then((view) => {
          const reply: ControlEnvelope = {
            kind: 'view',
            hub: this.hubId,
            probe: envelope.probe,
            to: envelope.hub,
            view,
          };
          return bus.send(JSON.stringify(reply));
        })
        .catch((error: unknown) => {
          // The asking node reports this node as not answering; say why here.
          process.emitWarning(`evdb: could not answer a cluster check: ${String(error)}`);
        });
      return;
    }
    if (envelope.to !== this.hubId) return;
    const gathering = this.gatherings.get(envelope.probe);
    if (gathering === undefined) return;
    gathering.views.push(envelope.view);
    gathering.expected.delete(envelope.view.nodeId);
    if (gathering.expected.size === 0) gathering.done();
  }

  private received(text: string): void {
    if (this.closed) return;
    let envelope: BusEnvelope | ControlEnvelope;
    try {
      envelope = JSON.parse(text) as BusEnvelope | ControlEnvelope;
    } catch (error) {
      // Only evdb nodes write this channel; an unreadable payload is a bug worth hearing about.
      process.emitWarning(`evdb: unreadable channel message on the bus: ${String(error)}`);
      return;
    }
    if (envelope.hub === this.hubId) return;
    if ('kind' in envelope) {
      this.control(envelope);
      return;
    }
    if (!Object.hasOwn(CHANNELS, envelope.channel) || typeof envelope.topic !== 'string') return;
    const { id, channel, topic, message, publishedAt, origin } = envelope;
    this.dispatch({ id, channel, topic, message, publishedAt, origin });
  }

  private assertOpen(): void {
    if (this.closed) throw new EvdbError('unavailable', 'the channels of this store are closed');
  }
}

function assertOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument('options must be an object');
  }
  const { capability } = options as ChannelPublishOptions;
  if (capability !== undefined && (typeof capability !== 'string' || capability.length > 16_384)) {
    throw invalidArgument('capability must be a token string');
  }
}
