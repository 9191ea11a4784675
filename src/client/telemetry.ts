import { TELEMETRY_CHANNELS, type RetryEvent } from '../telemetry/channels.js';

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
const retryChannel: ChannelLike | undefined = (() => {
  const runtime = globalThis as {
    process?: { getBuiltinModule?: (id: string) => unknown };
  };
  const module = runtime.process?.getBuiltinModule?.('node:diagnostics_channel') as
    DiagnosticsChannelModule | undefined;
  return module?.channel(TELEMETRY_CHANNELS.clientRetry);
})();

export function publishRetry(event: () => RetryEvent): void {
  if (retryChannel?.hasSubscribers === true) retryChannel.publish(event());
}
