import {
  TELEMETRY_CHANNELS,
  type RetryEvent,
  type RetryExhaustedEvent,
  type WorkerLookupEvent,
} from '../telemetry/channels.js';

interface ChannelLike {
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
}

interface DiagnosticsChannelModule {
  channel(name: string): ChannelLike;
}

/**
 * The client's diagnostics channel for retries, when the runtime has one. The client runs in
 * browsers too, so it cannot import `node:diagnostics_channel`: it asks the runtime for the
 * module instead (`process.getBuiltinModule`, Node >= 20.16), and publishes nothing elsewhere.
 */
const diagnostics: DiagnosticsChannelModule | undefined = (() => {
  const runtime = globalThis as {
    process?: { getBuiltinModule?: (id: string) => unknown };
  };
  return runtime.process?.getBuiltinModule?.('node:diagnostics_channel') as
    DiagnosticsChannelModule | undefined;
})();
const retryChannel = diagnostics?.channel(TELEMETRY_CHANNELS.clientRetry);
const exhaustedChannel = diagnostics?.channel(TELEMETRY_CHANNELS.clientRetryExhausted);
const lookupChannel = diagnostics?.channel(TELEMETRY_CHANNELS.workerLookup);

export function publishRetry(event: () => RetryEvent): void {
  if (retryChannel?.hasSubscribers === true) retryChannel.publish(event());
}

export function publishRetryExhausted(event: () => RetryExhaustedEvent): void {
  if (exhaustedChannel?.hasSubscribers === true) exhaustedChannel.publish(event());
}

export function publishWorkerLookup(event: () => WorkerLookupEvent): void {
  if (lookupChannel?.hasSubscribers === true) lookupChannel.publish(event());
}
