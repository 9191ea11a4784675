import type * as OtelApi from '@opentelemetry/api';
import type { RequestEvent } from './channels.js';
import { subscribeTelemetry } from './publish.js';

export interface OpenTelemetryOptions {
  /** Spans for the requests a server answers (kind SERVER). Default true. */
  requests?: boolean;
  /**
   * Spans for stream writes and reads (kind INTERNAL), children of the active span: what an
   * embedded store shows inside the application's own traces. Default true.
   */
  streams?: boolean;
}

/** The package name, in a variable so that bundlers do not try to resolve the optional import. */
const OTEL_API = '@opentelemetry/api';

/**
 * Turns evdb's telemetry events into OpenTelemetry spans, through the tracer provider the
 * application registered (`@opentelemetry/api` is an optional peer dependency: without it this
 * resolves to undefined and nothing happens). Resolves to the function that stops it.
 *
 * Servers do this by themselves for requests (`startServer({ openTelemetry: false })` opts
 * out); an embedded store does it when asked.
 *
 * @example
 * import { enableOpenTelemetry } from 'evdb';
 * const stop = await enableOpenTelemetry(); // after registering your tracer provider
 */
export async function enableOpenTelemetry(
  options: OpenTelemetryOptions = {},
): Promise<(() => void) | undefined> {
  let api: typeof OtelApi;
  try {
    api = (await import(OTEL_API)) as typeof OtelApi;
  } catch {
    return undefined;
  }
  const tracer = (): OtelApi.Tracer => api.trace.getTracer('evdb');
  const stops: (() => void)[] = [];

  if (options.requests !== false) {
    const spans = new WeakMap<RequestEvent, OtelApi.Span>();
    const end = (event: RequestEvent, failed: boolean): void => {
      const span = spans.get(event);
      if (span === undefined) return;
      spans.delete(event);
      span.setAttribute('http.response.status_code', event.status ?? 0);
      if (event.storeId !== undefined) span.setAttribute('evdb.store_id', event.storeId);
      if (failed) {
        span.setAttribute('evdb.error_code', event.code ?? 'internal');
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: event.message });
      }
      span.end();
    };
    stops.push(
      subscribeTelemetry('requestStart', (event) => {
        const parent =
          event.traceparent === undefined
            ? api.ROOT_CONTEXT
            : api.propagation.extract(api.ROOT_CONTEXT, { traceparent: event.traceparent });
        const attributes: OtelApi.Attributes = {
          'rpc.system': 'evdb',
          'rpc.method': event.operation,
          'evdb.node_id': event.nodeId,
          'evdb.transport': event.transport,
        };
        if (event.storeId !== undefined) attributes['evdb.store_id'] = event.storeId;
        spans.set(
          event,
          tracer().startSpan(
            `evdb ${event.operation}`,
            { kind: api.SpanKind.SERVER, attributes },
            parent,
          ),
        );
      }),
      subscribeTelemetry('requestStop', (event) => end(event, false)),
      subscribeTelemetry('requestError', (event) => end(event, true)),
    );
  }

  if (options.streams !== false) {
    // The events are published when the work is done, with its duration: the span is recorded
    // with its real start and end.
    const record = (name: string, durationMs: number, attributes: OtelApi.Attributes): void => {
      const endTime = Date.now();
      tracer()
        .startSpan(name, {
          kind: api.SpanKind.INTERNAL,
          startTime: endTime - durationMs,
          attributes,
        })
        .end(endTime);
    };
    stops.push(
      subscribeTelemetry('streamWrite', (event) =>
        record('evdb append', event.durationMs, {
          'evdb.store_id': event.storeId,
          'evdb.stream_ids': event.streamIds,
          'evdb.events': event.events,
          'evdb.position': event.position,
        }),
      ),
      subscribeTelemetry('streamRead', (event) =>
        record('evdb read', event.durationMs, {
          'evdb.store_id': event.storeId,
          'evdb.source': event.source,
          'evdb.events': event.events,
        }),
      ),
    );
  }
  return () => {
    for (const stop of stops.splice(0)) stop();
  };
}
