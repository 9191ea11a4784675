// Telemetry (SPEC §16): channel names and payloads, contained subscriptions, OpenTelemetry.
export { TELEMETRY_CHANNELS } from './channels.js';
export type {
  FeatureEvent,
  NodeEvent,
  RequestEvent,
  RetryEvent,
  StreamReadEvent,
  StreamWriteEvent,
  TelemetryChannelKey,
  TelemetryChannelName,
  TelemetryPayloads,
  WorkerEvent,
} from './channels.js';
export { subscribeTelemetry, telemetryHandlerErrors } from './publish.js';
export { enableOpenTelemetry } from './open-telemetry.js';
export type { OpenTelemetryOptions } from './open-telemetry.js';
export type { LogLevel, LogSink } from './request-log.js';
