// The network client: `import { connect } from 'evdb/client'`. Runs in Node and in browsers, so
// nothing reachable from here may import Node built-ins or native modules.
export { connect } from './client/evdb-client.js';
export type { CallOptions, ConnectOptions, EvdbClient } from './client/evdb-client.js';
export { pickWorker, isLoopbackHost } from './client/routing.js';
export type { Worker } from './client/routing.js';
export { backoffDelay, DEFAULT_RETRY } from './client/retry.js';
export type { RetryOptions } from './client/retry.js';
export type {
  WebSocketConstructor,
  WebSocketLike,
  FrameListener,
} from './client/websocket-transport.js';
export { EvdbError, ERROR_CODES, isEvdbError, isRetriableCode } from './core/errors.js';
export type { ErrorCode, EvdbErrorOptions } from './core/errors.js';
export type {
  HealthReport,
  HealthStatus,
  StoreHealth,
  WorkerInfo,
  WorkerRegistration,
} from './core/workers.js';
export { TELEMETRY_CHANNELS } from './telemetry/channels.js';
export type { RetryEvent } from './telemetry/channels.js';
export { uuidv7 } from './core/ids.js';
export { CHANNELS } from './core/channel-types.js';
export type {
  ChannelApi,
  ChannelHandler,
  ChannelMessage,
  ChannelName,
  ChannelPriority,
  ChannelPublishOptions,
  ChannelPublishResult,
  ChannelSpec,
  ChannelSubscribeOptions,
  ChannelSubscription,
} from './core/channel-types.js';
export {
  NO_STREAM,
  ANY_VERSION,
  STREAM_EXISTS,
  JSON_CONTENT_TYPE,
  BYTES_CONTENT_TYPE,
} from './core/types.js';
export type {
  AppendResult,
  BatchAppendResult,
  DeleteStreamResult,
  Direction,
  EventRecord,
  EventRecordFields,
  ExpectedVersion,
  JsonObject,
  JsonValue,
  NewEvent,
  NewEventFields,
  ReadByTagsOptions,
  ReadPageOptions,
  ListOptions,
  ListStreamsOptions,
  StreamPage,
  StoreConfig,
  StoreStatus,
  StreamWrite,
  Subscription,
  SubscriptionHandler,
  SubscribeOptions,
  SubscriptionInfo,
  SubscriptionPage,
  SubscriptionLag,
  LinkDefinition,
  LinkInfo,
  LinkPage,
} from './core/types.js';
export type {
  ArchivePage,
  CausationGraph,
  CausationNode,
  ListArchivesOptions,
  MemoryStats,
  ScavengeResult,
  SchemaInfo,
  SchemaPage,
  SnapshotPage,
  SnapshotSummary,
  StreamInfo,
} from './core/feature-types.js';
export type {
  EventData,
  EventShape,
  EventUnion,
  JsonSafe,
  TypedEvent,
} from './core/typed-events.js';
export type { EventStoreApi } from './core/api.js';
