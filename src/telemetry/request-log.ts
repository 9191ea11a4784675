import type { RequestEvent } from './channels.js';
import { subscribeTelemetry } from './publish.js';

/** `info`: every request; `warn`: failed requests; `error`: server-side failures (5xx) only. */
export type LogLevel = 'info' | 'warn' | 'error' | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['info', 'warn', 'error', 'silent'];

const RANK: Record<LogLevel, number> = { info: 0, warn: 1, error: 2, silent: 3 };

/** Where log lines go: one JSON object per line. */
export type LogSink = (line: string) => void;

/**
 * Structured JSON logs of one server node: a line per request at `info` (failures at `warn`,
 * or `error` for 5xx, with the error `code` and message), and the node's own lifecycle lines.
 */
export class NodeLog {
  private readonly stops: (() => void)[] = [];
  private readonly rank: number;

  constructor(
    private readonly nodeId: string,
    level: LogLevel,
    private readonly sink: LogSink = (line) => process.stdout.write(line + '\n'),
  ) {
    this.rank = RANK[level];
    if (this.rank >= RANK.silent) return;
    const request = (event: RequestEvent, failed: boolean): void => {
      if (event.nodeId !== nodeId) return;
      const level: LogLevel = !failed ? 'info' : (event.status ?? 500) >= 500 ? 'error' : 'warn';
      this.write(level, 'request', {
        requestId: event.requestId,
        operation: event.operation,
        storeId: event.storeId,
        transport: event.transport,
        status: event.status,
        durationMs: Math.round((event.durationMs ?? 0) * 1000) / 1000,
        code: event.code,
        error: event.message,
      });
    };
    this.stops.push(
      subscribeTelemetry('requestStop', (event) => request(event, false)),
      subscribeTelemetry('requestError', (event) => request(event, true)),
    );
  }

  write(level: Exclude<LogLevel, 'silent'>, msg: string, fields: Record<string, unknown>): void {
    if (RANK[level] < this.rank) return;
    this.sink(
      JSON.stringify({
        time: new Date().toISOString(),
        level,
        msg,
        nodeId: this.nodeId,
        ...fields,
      }),
    );
  }

  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }
}
