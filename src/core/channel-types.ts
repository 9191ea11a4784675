import { invalidArgument } from './errors.js';
import type { JsonValue } from './types.js';

/**
 * The ten channels for messages between nodes (not stored as events), with what each promises:
 * its delivery priority, how many messages per second one topic may carry (per node; see
 * docs/channels.md), and whether messages must be signed.
 */
export const CHANNELS = Object.freeze({
  alerts: { priority: 'critical', maxPerSecond: Infinity, signature: 'required' },
  security: { priority: 'critical', maxPerSecond: Infinity, signature: 'required' },
  events: { priority: 'high', maxPerSecond: Infinity, signature: 'optional' },
  health: { priority: 'high', maxPerSecond: 100, signature: 'optional' },
  system: { priority: 'normal', maxPerSecond: 1_000, signature: 'optional' },
  metrics: { priority: 'normal', maxPerSecond: 100_000, signature: 'optional' },
  audit: { priority: 'normal', maxPerSecond: 10_000, signature: 'optional' },
  lifecycle: { priority: 'normal', maxPerSecond: 1_000, signature: 'optional' },
  logging: { priority: 'low', maxPerSecond: 10_000, signature: 'optional' },
  diagnostics: { priority: 'low', maxPerSecond: 50_000, signature: 'optional' },
} as const satisfies Record<string, ChannelSpec>);

export type ChannelName = keyof typeof CHANNELS;
export type ChannelPriority = 'critical' | 'high' | 'normal' | 'low';

export interface ChannelSpec {
  priority: ChannelPriority;
  maxPerSecond: number;
  signature: 'required' | 'optional';
}

/** Priorities from first served to last. */
export const PRIORITY_ORDER: readonly ChannelPriority[] = ['critical', 'high', 'normal', 'low'];

/**
 * Messages a subscription may have waiting before it loses its oldest, by priority. Lower
 * priorities hold fewer, so a subscriber that cannot keep up loses low-priority messages first;
 * critical messages are never dropped (their channels carry few messages, and losing an alert
 * is worse than holding it).
 */
export const QUEUE_LIMITS: Readonly<Record<ChannelPriority, number>> = Object.freeze({
  critical: Infinity,
  high: 50_000,
  normal: 10_000,
  low: 1_000,
});

export const CHANNEL_LIMITS = Object.freeze({
  maxTopicLength: 255,
  maxTopicSegments: 16,
  /** Serialised size of one message: large enough for the 64 KiB documents tests send. */
  maxMessageBytes: 1024 * 1024,
});

/** A delivered message. */
export interface ChannelMessage {
  /** Unique per message (a UUIDv7 given by the publishing node). */
  id: string;
  channel: ChannelName;
  /** The topic it was published on (never a pattern). */
  topic: string;
  /** What the publisher sent; for signed messages including `signedAt` and `signature`. */
  message: JsonValue;
  /** Milliseconds since epoch, on the publishing node's clock. */
  publishedAt: number;
  /** The node id of the publishing node. */
  origin: string;
}

export type ChannelHandler = (message: ChannelMessage) => void | Promise<void>;

export interface ChannelPublishOptions {
  /** A capability token granting `channel/publish` (see `issueCapability`). */
  capability?: string;
}

export interface ChannelSubscribeOptions {
  /** A capability token granting `channel/subscribe`. */
  capability?: string;
  /**
   * Called when the handler throws or rejects (the message is not delivered again), or, with
   * no message, when a client's subscription could not be opened again after its connection
   * dropped. Default: a warning, so that a failure is never silent.
   */
  onError?: (error: unknown, message: ChannelMessage | undefined) => void;
}

export interface ChannelPublishResult {
  id: string;
  /** Subscriptions on the publishing node the message was queued for (other nodes count theirs). */
  localRecipients: number;
}

/** A live channel subscription; `close()` is `unsubscribe`. */
export interface ChannelSubscription {
  readonly id: string;
  readonly channel: ChannelName;
  readonly topic: string;
  /** Messages this subscription lost because it could not keep up (never on critical channels). */
  readonly dropped: number;
  close(): Promise<void>;
}

/** Channels (pub/sub between nodes), on the embedded store and the client alike. */
export interface ChannelApi {
  /**
   * Publishes `message` to every subscription of `channel` whose topic pattern matches `topic`,
   * on every node of the cluster. Resolves once the message is accepted (never waits for
   * subscribers). `rate_limited`, `signature_required`, `invalid_signature`, `message_expired`
   * or `unauthorized` when refused; a refused message reaches no one.
   *
   * @example
   * await evdb.channels.publish('events', 'stream.order-1', { kind: 'appended' });
   */
  publish(
    channel: ChannelName,
    topic: string,
    message: JsonValue,
    options?: ChannelPublishOptions,
  ): Promise<ChannelPublishResult>;
  /**
   * Calls `handler` for each message of `channel` whose topic matches `topic`, in which `*`
   * stands for one dot-separated segment (`events.stream.*`).
   *
   * @example
   * const sub = await evdb.channels.subscribe('logging', 'app.*', (m) => console.log(m.message));
   */
  subscribe(
    channel: ChannelName,
    topic: string,
    handler: ChannelHandler,
    options?: ChannelSubscribeOptions,
  ): Promise<ChannelSubscription>;
  /** Stops a subscription (by the object or its id); unknown ids are `not_found`. */
  unsubscribe(subscription: ChannelSubscription | string): Promise<void>;
}

/**
 * The call that carries `channels.publish` over the network, HTTP and WebSocket alike (as
 * `POST /channels/{channel}/{topic}` for curl). The embedded store has it too.
 */
export interface ChannelCallApi {
  publishToChannel(
    channel: ChannelName,
    topic: string,
    message: JsonValue,
    options?: ChannelPublishOptions,
  ): Promise<ChannelPublishResult>;
}

export function assertChannel(channel: unknown): asserts channel is ChannelName {
  if (typeof channel !== 'string' || !Object.hasOwn(CHANNELS, channel)) {
    throw invalidArgument(
      `unknown channel ${JSON.stringify(channel)}: use one of ${Object.keys(CHANNELS).join(', ')}`,
      { reason: 'unknown_channel' },
    );
  }
}

const SEGMENT = /^[A-Za-z0-9_:$-]+$/;

/**
 * A topic: dot-separated segments of letters, digits, `_`, `-`, `:` and `$`. Patterns (for
 * subscribe) may also have `*` segments, each standing for exactly one segment.
 */
export function assertTopic(topic: unknown, pattern: boolean): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw invalidArgument('a topic is a non-empty string');
  }
  if (topic.length > CHANNEL_LIMITS.maxTopicLength) {
    throw invalidArgument(`a topic has at most ${CHANNEL_LIMITS.maxTopicLength} characters`);
  }
  const segments = topic.split('.');
  if (segments.length > CHANNEL_LIMITS.maxTopicSegments) {
    throw invalidArgument(`a topic has at most ${CHANNEL_LIMITS.maxTopicSegments} segments`);
  }
  for (const segment of segments) {
    if (segment === '*' && pattern) continue;
    if (!SEGMENT.test(segment)) {
      throw invalidArgument(
        `invalid topic ${JSON.stringify(topic)}: segments are letters, digits, '_', '-', ':' or '$'` +
          (pattern ? ", or '*' for any one segment" : ' (wildcards only when subscribing)'),
      );
    }
  }
}

/** Whether `topic` matches `pattern` (`*` matches exactly one segment). */
export function topicMatches(pattern: string, topic: string): boolean {
  if (!pattern.includes('*')) return pattern === topic;
  const want = pattern.split('.');
  const have = topic.split('.');
  if (want.length !== have.length) return false;
  return want.every((segment, i) => segment === '*' || segment === have[i]);
}
