import type { EvdbError } from '../core/errors.js';
import type { RequestEvent } from '../telemetry/channels.js';
import { telemetry } from '../telemetry/publish.js';

/**
 * Publishes the start and the outcome of each request a node serves. The same event object
 * goes out on `requestStart` and then on `requestStop` or `requestError`, so a subscriber can
 * pair them by identity (the OpenTelemetry bridge keeps its span in a WeakMap).
 */
export class RequestTelemetry {
  private nextId = 1;

  constructor(private readonly nodeId: string) {}

  start(
    transport: RequestEvent['transport'],
    operation: string,
    storeId: unknown,
    traceparent?: string | string[],
  ): RequestEvent {
    const event: RequestEvent = {
      nodeId: this.nodeId,
      requestId: this.nextId++,
      operation,
      transport,
      startedAt: performance.now(),
    };
    if (typeof storeId === 'string') event.storeId = storeId;
    if (typeof traceparent === 'string') event.traceparent = traceparent;
    if (telemetry.requestStart.hasSubscribers) telemetry.requestStart.publish(event);
    return event;
  }

  stop(event: RequestEvent, status: number): void {
    event.durationMs = performance.now() - event.startedAt;
    event.status = status;
    if (telemetry.requestStop.hasSubscribers) telemetry.requestStop.publish(event);
  }

  fail(event: RequestEvent, error: EvdbError, status: number): void {
    event.durationMs = performance.now() - event.startedAt;
    event.status = status;
    event.code = error.code;
    event.message = error.message;
    if (telemetry.requestError.hasSubscribers) telemetry.requestError.publish(event);
  }
}
