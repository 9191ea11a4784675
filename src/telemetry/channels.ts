/**
 * The names of evdb's telemetry channels and the shape of what each carries: the one place they
 * are defined. Events are published on `node:diagnostics_channel` under these names (see
 * `subscribeTelemetry` in `evdb` for a subscription that can never break the store).
 *
 * This module imports nothing, so the browser-safe client can name its channels too.
 *
 * @example
 * import diagnosticsChannel from 'node:diagnostics_channel';
 * import { TELEMETRY_CHANNELS } from 'evdb';
 * diagnosticsChannel.subscribe(TELEMETRY_CHANNELS.streamWrite, (event) => console.log(event));
 */
export const TELEMETRY_CHANNELS = {
  /** A server began serving a request ({@link RequestEvent}). */
  requestStart: 'evdb:request:start',
  /** The request succeeded ({@link RequestEvent} with `durationMs` and `status`). */
  requestStop: 'evdb:request:stop',
  /** The request failed ({@link RequestEvent} with `durationMs`, `status`, `code`, `message`). */
  requestError: 'evdb:request:error',
  /** The client retries a call after a transient failure ({@link RetryEvent}). */
  clientRetry: 'evdb:client:retry',
  /** The client gave up on a call after its retries ({@link RetryExhaustedEvent}). */
  clientRetryExhausted: 'evdb:client:retry-exhausted',
  /** The client looked up a store's workers ({@link WorkerLookupEvent}). */
  workerLookup: 'evdb:worker:lookup',
  workerRegistered: 'evdb:worker:registered',
  workerUnregistered: 'evdb:worker:unregistered',
  /** A server node started listening ({@link NodeEvent}). */
  nodeUp: 'evdb:node:up',
  /** A server node is shutting down ({@link NodeEvent}). */
  nodeDown: 'evdb:node:down',
  /** Events were committed ({@link StreamWriteEvent}). */
  streamWrite: 'evdb:stream:write',
  /** Events were read ({@link StreamReadEvent}). */
  streamRead: 'evdb:stream:read',
  // Published by the features of SPEC §3–§15 as they land; the names are fixed here.
  subscriptionCreated: 'evdb:subscription:created',
  subscriptionDeleted: 'evdb:subscription:deleted',
  subscriptionDelivered: 'evdb:subscription:delivered',
  subscriptionCheckpoint: 'evdb:subscription:checkpoint',
  /**
   * A live subscription's consumer fell behind its bounded queue: it reads from the log again
   * from `position`, `lagPositions` behind the head (a `FeatureEvent` with `name`).
   */
  subscriptionFellBehind: 'evdb:subscription:fell-behind',
  snapshotCreated: 'evdb:snapshot:created',
  snapshotRead: 'evdb:snapshot:read',
  scavengeComplete: 'evdb:scavenge:complete',
  schemaRegistered: 'evdb:schema:registered',
  schemaUpcasted: 'evdb:schema:upcasted',
  memoryLevelChanged: 'evdb:memory:level-changed',
  linkStarted: 'evdb:link:started',
  linkStopped: 'evdb:link:stopped',
  /** A channel message was queued for this node's subscriptions ({@link ChannelBroadcastEvent}). */
  channelBroadcast: 'evdb:channel:broadcast',
  /** A subscription that could not keep up lost a channel message ({@link ChannelDroppedEvent}). */
  channelDropped: 'evdb:channel:dropped',
} as const;

export type TelemetryChannelKey = keyof typeof TELEMETRY_CHANNELS;
export type TelemetryChannelName = (typeof TELEMETRY_CHANNELS)[TelemetryChannelKey];

/**
 * One request served by a server node. The same object is published on `requestStart` and then
 * on exactly one of `requestStop` or `requestError`, with the outcome fields filled in.
 */
export interface RequestEvent {
  /** The server node (its worker id). */
  nodeId: string;
  /** Unique per node, increasing. */
  requestId: number;
  /** The operation name (`appendEvents`, …), or `unknown` when the request named none. */
  operation: string;
  /** The store the request addresses, when it names one. */
  storeId?: string;
  transport: 'http' | 'websocket';
  /** `performance.now()` when the request started. */
  startedAt: number;
  /** The W3C `traceparent` header of the HTTP request, if any. */
  traceparent?: string;
  /** Set on stop and error. */
  durationMs?: number;
  /** The HTTP status of the answer (WebSocket answers: the status the same outcome has over HTTP). */
  status?: number;
  /** Set on error: the `EvdbError` code and message. */
  code?: string;
  message?: string;
}

export interface RetryEvent {
  operation: string;
  /** The server URL of the failed attempt. */
  url: string | undefined;
  /** 0 for the first retry. */
  attempt: number;
  delayMs: number;
  /** The code of the failure being retried. */
  code: string;
}

export interface WorkerEvent {
  /** The node that registered or unregistered the worker, or saw it come or go. */
  nodeId: string;
  storeId: string;
  worker: { nodeId: string; host: string; url?: string };
  /**
   * How: `call` (registerWorker, unregisterWorker, a node closing), or as another node saw it
   * at its heartbeat: `heartbeat` (a node registered itself), `expired` (its ttl ran out
   * without a heartbeat), `left` (its entry was removed).
   */
  via?: 'call' | 'heartbeat' | 'expired' | 'left';
}

export interface NodeEvent {
  /** The node that went up or down. */
  nodeId: string;
  host: string;
  url?: string;
  /** Set when another node saw it (at its heartbeat): that node's id. */
  observedBy?: string;
}

/** A client gave up on a call: its retries are used up, or its time ran out. */
export interface RetryExhaustedEvent {
  operation: string;
  /** The server URL of the last attempt. */
  url: string | undefined;
  attempts: number;
  /** The code of the last failure. */
  code: string;
}

/** The client looked up the workers of a store (to route its calls). */
export interface WorkerLookupEvent {
  storeId: string;
  /** The worker URLs found. */
  workers: string[];
  /** The URL of the worker listed as the store's write owner, when one is. */
  writeOwner?: string;
  durationMs: number;
}

export interface StreamWriteEvent {
  nodeId: string;
  storeId: string;
  /** The streams written, in the order of the append's writes. */
  streamIds: string[];
  /** Events in the append (a replayed retry counts its events too; none are written again). */
  events: number;
  /** The global position of the append's last event. */
  position: number;
  durationMs: number;
}

export interface StreamReadEvent {
  nodeId: string;
  storeId: string;
  /** A stream id, or `$all`, `$types`, `$tags` for the cross-stream reads. */
  source: string;
  events: number;
  durationMs: number;
}

/** What each channel carries. Channels of features not built yet carry at least a `storeId`. */
export interface TelemetryPayloads {
  requestStart: RequestEvent;
  requestStop: RequestEvent;
  requestError: RequestEvent;
  clientRetry: RetryEvent;
  clientRetryExhausted: RetryExhaustedEvent;
  workerLookup: WorkerLookupEvent;
  workerRegistered: WorkerEvent;
  workerUnregistered: WorkerEvent;
  nodeUp: NodeEvent;
  nodeDown: NodeEvent;
  streamWrite: StreamWriteEvent;
  streamRead: StreamReadEvent;
  subscriptionCreated: FeatureEvent;
  subscriptionDeleted: FeatureEvent;
  subscriptionDelivered: FeatureEvent;
  subscriptionCheckpoint: FeatureEvent;
  subscriptionFellBehind: FeatureEvent;
  snapshotCreated: FeatureEvent;
  snapshotRead: FeatureEvent;
  scavengeComplete: FeatureEvent;
  schemaRegistered: FeatureEvent;
  schemaUpcasted: FeatureEvent;
  memoryLevelChanged: FeatureEvent;
  linkStarted: FeatureEvent;
  linkStopped: FeatureEvent;
  channelBroadcast: ChannelBroadcastEvent;
  channelDropped: ChannelDroppedEvent;
}

/** Published by every node that queues a message for its subscriptions (the publisher's too). */
export interface ChannelBroadcastEvent {
  nodeId: string;
  channel: string;
  topic: string;
  messageId: string;
  /** The node that published the message. */
  origin: string;
  /** Subscriptions on this node the message was queued for. */
  recipients: number;
}

export interface ChannelDroppedEvent {
  nodeId: string;
  channel: string;
  topic: string;
  priority: string;
}

/** The common part of the events the later features publish; they add their own fields. */
export interface FeatureEvent {
  nodeId?: string;
  storeId?: string;
  [field: string]: unknown;
}
