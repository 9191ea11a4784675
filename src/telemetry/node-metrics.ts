import {
  Counter,
  Gauge,
  Histogram,
  MetricsRegistry,
  Sampled,
  type StoreFilter,
} from './metrics.js';
import { subscribeTelemetry, telemetryHandlerErrors } from './publish.js';

/** Seconds; from half a millisecond (an in-memory read) to 10 s (a stalled commit). */
const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * The Prometheus metrics of one server node, fed by its own telemetry events (a process may run
 * several nodes, e.g. in tests: each counts only the events carrying its node id).
 */
export class NodeMetrics {
  readonly registry = new MetricsRegistry();
  private readonly stops: (() => void)[] = [];

  constructor(readonly nodeId: string) {
    const r = this.registry;
    const requests = r.register(
      new Counter('evdb_requests_total', 'Requests answered, by operation and HTTP status.', [
        'operation',
        'status',
      ]),
    );
    const durations = r.register(
      new Histogram(
        'evdb_request_duration_seconds',
        'Time to answer a request, by operation and HTTP status.',
        ['operation', 'status'],
        DURATION_BUCKETS,
      ),
    );
    const inFlight = r.register(
      new Gauge('evdb_requests_in_flight', 'Requests being served right now.'),
    );
    const errors = r.register(
      new Counter('evdb_errors_total', 'Failed requests, by error code.', ['code']),
    );
    const appends = r.register(
      new Counter('evdb_appends_total', 'Appends committed (an appendBatch counts once).', [
        'store',
      ]),
    );
    const written = r.register(
      new Counter('evdb_events_written_total', 'Events in committed appends.', ['store']),
    );
    const reads = r.register(new Counter('evdb_reads_total', 'Read operations.', ['store']));
    const read = r.register(
      new Counter('evdb_events_read_total', 'Events returned by reads.', ['store']),
    );
    r.register(
      new Sampled(
        'evdb_telemetry_handler_errors_total',
        'Telemetry handlers that threw in this process (contained: the store went on).',
        'counter',
        telemetryHandlerErrors,
      ),
    );
    r.register(
      new Sampled('process_resident_memory_bytes', 'Resident memory in bytes.', 'gauge', () =>
        process.memoryUsage.rss(),
      ),
    );
    r.register(
      new Sampled(
        'nodejs_heap_used_bytes',
        'V8 heap in use, in bytes.',
        'gauge',
        () => process.memoryUsage().heapUsed,
      ),
    );
    const startTime = Date.now() / 1000;
    r.register(
      new Sampled(
        'process_start_time_seconds',
        'When the node started, in seconds since the Unix epoch.',
        'gauge',
        () => startTime,
      ),
    );

    const own = <T extends { nodeId?: string }>(handle: (event: T) => void) => {
      return (event: T) => {
        if (event.nodeId === nodeId) handle(event);
      };
    };
    this.stops.push(
      subscribeTelemetry(
        'requestStart',
        own(() => inFlight.inc()),
      ),
      subscribeTelemetry(
        'requestStop',
        own((event) => {
          inFlight.dec();
          const labels = { operation: event.operation, status: String(event.status ?? 200) };
          requests.inc(labels);
          durations.observe((event.durationMs ?? 0) / 1000, labels);
        }),
      ),
      subscribeTelemetry(
        'requestError',
        own((event) => {
          inFlight.dec();
          const labels = { operation: event.operation, status: String(event.status ?? 500) };
          requests.inc(labels);
          durations.observe((event.durationMs ?? 0) / 1000, labels);
          errors.inc({ code: event.code ?? 'internal' });
        }),
      ),
      subscribeTelemetry(
        'streamWrite',
        own((event) => {
          appends.inc({ store: event.storeId });
          written.inc({ store: event.storeId }, event.events);
        }),
      ),
      subscribeTelemetry(
        'streamRead',
        own((event) => {
          reads.inc({ store: event.storeId });
          read.inc({ store: event.storeId }, event.events);
        }),
      ),
    );
  }

  render(stores?: StoreFilter): string {
    return this.registry.render(stores);
  }

  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }
}
