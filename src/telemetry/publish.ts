import diagnosticsChannel, { type Channel } from 'node:diagnostics_channel';
import {
  TELEMETRY_CHANNELS,
  type TelemetryChannelKey,
  type TelemetryPayloads,
} from './channels.js';

/**
 * The channel objects, held here for the life of the process (diagnostics_channel keeps only
 * weak references to channels nobody subscribed to, and `hasSubscribers` must stay cheap).
 *
 * Publishers check `hasSubscribers` before they build a payload, so telemetry costs one property
 * read when nobody listens:
 *
 * @example
 * if (telemetry.streamWrite.hasSubscribers) telemetry.streamWrite.publish({ ... });
 */
export const telemetry = Object.fromEntries(
  Object.entries(TELEMETRY_CHANNELS).map(([key, name]) => [key, diagnosticsChannel.channel(name)]),
) as { readonly [K in TelemetryChannelKey]: TypedChannel<TelemetryPayloads[K]> };

/** A diagnostics channel whose `publish` only takes its own payload type. */
export interface TypedChannel<T> extends Omit<Channel, 'publish'> {
  publish(message: T): void;
}

/** A handler that failed: counted, and reported once per handler as a process warning. */
let handlerErrors = 0;

/** How many times a telemetry handler threw since the process started. */
export function telemetryHandlerErrors(): number {
  return handlerErrors;
}

/**
 * Subscribes `handler` to one of evdb's channels. Unlike a bare
 * `diagnostics_channel.subscribe` (whose handler errors Node re-raises as an uncaught
 * exception), an error thrown by this handler is contained: the store goes on, the failure is
 * counted (`evdb_telemetry_handler_errors_total`) and reported once as a process warning.
 * Returns the function that unsubscribes.
 *
 * @example
 * const stop = subscribeTelemetry('streamWrite', (event) => console.log(event.storeId, event.events));
 * // later: stop();
 */
export function subscribeTelemetry<K extends TelemetryChannelKey>(
  key: K,
  handler: (payload: TelemetryPayloads[K]) => void,
): () => void {
  const name = TELEMETRY_CHANNELS[key];
  if (name === undefined) throw new TypeError(`unknown telemetry channel ${String(key)}`);
  let warned = false;
  const contained = (message: unknown): void => {
    try {
      handler(message as TelemetryPayloads[K]);
    } catch (error) {
      handlerErrors++;
      if (!warned) {
        warned = true;
        process.emitWarning(
          `an evdb telemetry handler on ${name} threw (further errors of this handler are only counted): ${String(error)}`,
          { code: 'EVDB_TELEMETRY_HANDLER' },
        );
      }
    }
  };
  diagnosticsChannel.subscribe(name, contained);
  return () => {
    diagnosticsChannel.unsubscribe(name, contained);
  };
}
