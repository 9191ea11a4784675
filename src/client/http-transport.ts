import { EvdbError } from '../core/errors.js';
import type { OperationName } from './protocol/operations.js';
import { PROBLEM_CONTENT_TYPE, decodeWire, fromProblem } from './protocol/wire.js';
import { connectionError, isRefused, type Transport } from './transport.js';

/** Calls `POST {baseUrl}/rpc/{operation}` with the global `fetch` (Node 20 and browsers). */
export class HttpTransport implements Transport {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  async call(
    op: OperationName,
    params: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<unknown> {
    const url = `${this.baseUrl}/rpc/${op}`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(params),
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const refused = isRefused(error);
      throw connectionError(
        `cannot reach ${this.baseUrl}: ${describeCause(error)}`,
        this.baseUrl,
        refused ? 'unsent' : 'unknown',
        error,
      );
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw connectionError(
        `the connection to ${this.baseUrl} broke while reading the answer: ${describeCause(error)}`,
        this.baseUrl,
        'unknown',
        error,
      );
    }
    const contentType = response.headers.get('content-type') ?? '';
    if (response.ok) {
      const body = parseJson(text, response.status);
      return decodeWire((body as { result?: unknown }).result);
    }
    if (contentType.startsWith(PROBLEM_CONTENT_TYPE)) {
      return Promise.reject(fromProblem(parseJson(text, response.status), response.status));
    }
    // Not an evdb answer (e.g. a proxy in between): gateways that cannot reach evdb are transient.
    if (response.status === 502 || response.status === 503 || response.status === 504) {
      throw new EvdbError('unavailable', `${this.baseUrl} answered ${response.status}`, {
        details: { url: this.baseUrl, status: response.status },
      });
    }
    throw new EvdbError(
      'internal',
      `${this.baseUrl} answered ${response.status}: ${text.slice(0, 200)}`,
      {
        details: { url: this.baseUrl, status: response.status },
      },
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function parseJson(text: string, status: number): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new EvdbError('internal', `the server answered ${status} with a body that is not JSON`, {
      cause: error,
    });
  }
}

function describeCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code !== undefined) return cause.code;
  if (cause?.message !== undefined) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
