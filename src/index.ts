export { openEvdb, Evdb } from './embedded/evdb.js';
export type { OpenEvdbOptions } from './embedded/evdb.js';
export type {
  HealthReport,
  HealthStatus,
  StoreHealth,
  WorkerInfo,
  WorkerRegistration,
} from './core/workers.js';
export type { WorkerRegistryOptions } from './store/worker-registry.js';
export {
  TELEMETRY_CHANNELS,
  subscribeTelemetry,
  telemetryHandlerErrors,
  enableOpenTelemetry,
} from './telemetry/index.js';
export type {
  FeatureEvent,
  NodeEvent,
  OpenTelemetryOptions,
  RequestEvent,
  RetryEvent,
  StreamReadEvent,
  StreamWriteEvent,
  TelemetryChannelKey,
  TelemetryChannelName,
  TelemetryPayloads,
  WorkerEvent,
} from './telemetry/index.js';
export { memory } from './backends/memory/memory-backend.js';
export { sqlite } from './backends/sqlite/sqlite-backend.js';
export type { SqliteBackendOptions, SqliteSynchronous } from './backends/sqlite/sqlite-backend.js';
export { EvdbError, ERROR_CODES, isEvdbError, isRetriableCode } from './core/errors.js';
export type { ErrorCode, EvdbErrorOptions } from './core/errors.js';
export { uuidv7 } from './core/ids.js';
export { LIMITS } from './core/limits.js';
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
  SubscriptionType,
  EventPattern,
  PayloadSelector,
  PayloadOperators,
  TagsSelector,
  SubscriptionFilter,
  SubscriptionSelector,
  StartFrom,
  SaveSubscriptionOptions,
  SubscriptionDefinition,
  SubscriptionInfo,
  SubscriptionPage,
  SubscriptionLag,
  ConsumeOptions,
  PersistentSubscribeOptions,
  TransientSubscribeOptions,
  SubscribeOptions,
  SubscriptionHandler,
  Subscription,
  LinkSource,
  LinkedEvent,
  CreateLinkOptions,
  LinkDefinition,
  LinkInfo,
  LinkPage,
} from './core/types.js';
export type {
  EventData,
  EventShape,
  EventUnion,
  JsonSafe,
  TypedEvent,
} from './core/typed-events.js';
export type { EventStoreApi, SubscriptionApi, LinkApi } from './core/api.js';
export type { Backend, LogBackend } from './backends/log-backend.js';
export type {
  BackendCapabilities,
  CommitView,
  CommitPlan,
  CommitKeys,
  IndexQuery,
  LogStatus,
  StreamHead,
  EventLocation,
  PreparedEvent,
  PlannedEvent,
} from './backends/event-log.js';
export type { KvEntry } from './backends/kv-store.js';
export { LINK_STREAM_PREFIX } from './backends/event-log.js';
export type { FeatureApi } from './core/feature-api.js';
export type {
  ArchivePage,
  CausationGraph,
  CausationGraphOptions,
  CausationNode,
  EventTypeCount,
  ListArchivesOptions,
  MemoryLevel,
  MemoryStats,
  ScavengeMatchingEntry,
  ScavengeMatchingOptions,
  ScavengeOptions,
  ScavengeResult,
  SchemaDescription,
  SchemaInfo,
  SchemaPage,
  SchemaRegistration,
  SchemaValidator,
  Snapshot,
  SnapshotRecord,
  SnapshotPage,
  SnapshotSummary,
  StoreStats,
  StreamInfo,
  TemporalReadOptions,
  Upcaster,
} from './core/feature-types.js';
export type { FeatureOptions } from './features/feature-service.js';
export type { EmbeddedScavengeOptions } from './features/scavenge.js';
export { MemoryMonitor } from './features/memory-monitor.js';
export type { MemoryLevelListener, MemoryPressureOptions } from './features/memory-monitor.js';
export { causationGraphToDot } from './features/causation.js';
export { aggregate, finalize } from './features/aggregate.js';
export type { AggregateOptions, OverwriteTag, SumTag } from './features/aggregate.js';
export { bitFlags } from './features/bit-flags.js';
export type { FlagNames } from './features/bit-flags.js';
export { fileArchive } from './archive/file-archive.js';
export type { FileArchiveOptions } from './archive/file-archive.js';
export { memoryArchive } from './archive/memory-archive.js';
export { compareArchiveRanges } from './archive/archive-backend.js';
export type { ArchiveBackend, ArchiveListQuery, ArchiveRange } from './archive/archive-backend.js';
export type {
  SnapshotStorage,
  StoredSnapshot,
  StoredSnapshotSummary,
  StreamFacts,
} from './backends/feature-storage.js';
export { backupStore, backupAllStores, restoreStore, BACKUP_SUFFIX } from './ops/backup.js';
export type { BackupOptions, BackupSource } from './ops/backup.js';
export type { BackupResult, CopyProgress, BackupCapability } from './backends/log-backend.js';
export { verifyStore } from './ops/verify.js';
export type {
  VerifiableStore,
  VerifyCheck,
  VerifyOptions,
  VerifyProblem,
  VerifyReport,
} from './ops/verify.js';
export { exportStore } from './ops/export.js';
export type { ExportOptions, ExportResult, ExportableStore, LineSink } from './ops/export.js';
export { importStore } from './ops/import.js';
export type { ImportOptions, ImportResult, ImportableStore } from './ops/import.js';
export { importFromKurrentDb, storeCheckpoint, checkpointKey } from './ops/import-kurrentdb.js';
export type {
  ImportCheckpoint,
  KurrentImportFilter,
  KurrentImportOptions,
  KurrentImportResult,
  KurrentPosition,
} from './ops/import-kurrentdb.js';
