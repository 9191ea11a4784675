import { asEvdbError } from './problem.js';

/** What `GET /health` answers. */
export interface HealthReport {
  /**
   * `healthy`: the storage answered; `degraded`: it answered slower than the check allows (the
   * server still takes requests); `unhealthy`: it failed, or the server is shutting down.
   */
  status: 'healthy' | 'degraded' | 'unhealthy';
  /** Why, when not healthy. */
  reason?: string;
  /** The error code of the failed check. */
  code?: string;
  timestamp: number;
}

export interface HealthOptions {
  /** Rejects when the storage cannot be used. */
  check: () => Promise<void>;
  closing: () => boolean;
  /** How long a result is reused; default 1 000 ms, so a busy prober costs one check a second. */
  cacheMs?: number;
  /** A check slower than this reports `degraded`; default 2 000 ms. */
  slowMs?: number;
}

/**
 * The server's health: the storage checked (cheaply, at most once per `cacheMs`, one check at
 * a time however many probes arrive), so that a load balancer stops sending traffic to a node
 * whose storage is broken.
 */
export class Health {
  private last: { report: HealthReport; at: number } | undefined;
  private running: Promise<HealthReport> | undefined;

  constructor(private readonly options: HealthOptions) {}

  async report(): Promise<HealthReport> {
    if (this.options.closing()) {
      return { status: 'unhealthy', reason: 'the server is shutting down', timestamp: Date.now() };
    }
    const cacheMs = this.options.cacheMs ?? 1000;
    if (this.last !== undefined && Date.now() - this.last.at < cacheMs) return this.last.report;
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<HealthReport> {
    const slowMs = this.options.slowMs ?? 2000;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<'slow'>((resolve) => {
      timer = setTimeout(() => resolve('slow'), slowMs);
    });
    let report: HealthReport;
    try {
      const outcome = await Promise.race([this.options.check().then(() => 'ok' as const), slow]);
      report =
        outcome === 'ok'
          ? { status: 'healthy', timestamp: Date.now() }
          : {
              status: 'degraded',
              reason: `the storage did not answer within ${slowMs} ms`,
              timestamp: Date.now(),
            };
    } catch (error) {
      const evdbError = asEvdbError(error);
      report = {
        status: 'unhealthy',
        reason: evdbError.message,
        code: evdbError.code,
        timestamp: Date.now(),
      };
    } finally {
      clearTimeout(timer);
    }
    this.last = { report, at: started };
    return report;
  }
}

export function healthStatusCode(report: HealthReport): number {
  return report.status === 'unhealthy' ? 503 : 200;
}
