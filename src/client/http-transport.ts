import { EvdbError } from '../core/errors.js';
import type { OperationName } from '../protocol/operations.js';
import {
  PARTS_HEADER,
  PARTS_LAYOUT,
  PROBLEM_CONTENT_TYPE,
  PartedAnswerReader,
  decodeWire,
  fromProblem,
  mayHoldMarkers,
  type Problem,
} from '../protocol/wire.js';
import { CALLS_PATH, type Frame } from '../protocol/frames.js';
import { connectionError, isRefused, type Transport } from './transport.js';

/** What one HTTP exchange gives back. */
interface HttpAnswer {
  status: number;
  contentType: string;
  text: string;
  /** The result, already read, of an answer given in parts (`text` is then empty). */
  parted?: unknown[];
}

// The RPC answer in parts: `{"result":[`, the parts, `]}`.
const RPC_PARTS_OPEN = '{"result":[';
const RPC_PARTS_CLOSE = ']}';

/**
 * Sends one POST. `fetch` everywhere; in Node, `node:http(s)` with a keep-alive agent when the
 * runtime hands it out (`process.getBuiltinModule`), which costs a fraction of Node 20's `fetch`
 * per call. Failures to connect throw the runtime's error; a broken answer throws
 * {@link BrokenAnswer}.
 */
type Sender = (
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
) => Promise<HttpAnswer>;

/** The connection broke after the request was sent (the call may have run). */
class BrokenAnswer extends Error {
  constructor(override readonly cause: unknown) {
    super('the answer broke off');
  }
}

const fetchSender: Sender = async (url, headers, body, signal) => {
  const response = await fetch(url, { method: 'POST', headers, body, signal });
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new BrokenAnswer(error);
  }
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    text,
  };
};

/** The parts of `node:http` this transport uses. */
interface NodeHttpModule {
  Agent: new (options: { keepAlive: boolean; maxSockets?: number }) => { destroy(): void };
  request(
    url: string,
    options: { method: string; headers: Record<string, string | number>; agent: unknown },
    onResponse: (response: NodeResponse) => void,
  ): NodeRequest;
}

interface NodeResponse {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  setEncoding(encoding: 'utf8'): void;
  on(event: 'data', listener: (chunk: string) => void): void;
  on(event: 'end', listener: () => void): void;
  on(event: 'error' | 'aborted', listener: (error?: unknown) => void): void;
}

interface NodeRequest {
  on(event: 'error', listener: (error: unknown) => void): void;
  end(body: string): void;
  destroy(error?: unknown): void;
}

function nodeHttpModule(url: string): NodeHttpModule | undefined {
  const runtime = globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } };
  const id = url.startsWith('https:') ? 'node:https' : 'node:http';
  return runtime.process?.getBuiltinModule?.(id) as NodeHttpModule | undefined;
}

function nodeSender(http: NodeHttpModule): { send: Sender; close(): void } {
  const agent = new http.Agent({ keepAlive: true });
  const send: Sender = (url, headers, body, signal) =>
    new Promise((resolve, reject) => {
      let answered = false;
      // A refusal the server sends before reading the whole body (413) may be followed by a
      // reset of the upload: the status it arrived with is the answer, not the broken socket.
      let refusal: HttpAnswer | undefined;
      const chunks: string[] = [];
      const request = http.request(
        url,
        { method: 'POST', headers: { ...headers, 'content-length': byteLength(body) }, agent },
        (response) => {
          answered = true;
          const status = response.statusCode ?? 0;
          const type = response.headers['content-type'];
          const contentType = typeof type === 'string' ? type : '';
          if (status >= 400 && status < 500) refusal = { status, contentType, text: '' };
          // An answer in parts is read part by part as it arrives, while the server reads on.
          const reader =
            status === 200 && response.headers[PARTS_HEADER] === PARTS_LAYOUT
              ? new PartedAnswerReader(RPC_PARTS_OPEN)
              : undefined;
          let failure: Error | undefined;
          response.setEncoding('utf8');
          response.on('data', (chunk) => {
            if (reader === undefined) chunks.push(chunk);
            else if (failure === undefined) {
              try {
                reader.push(chunk);
              } catch (error) {
                failure = asError(error);
              }
            }
          });
          response.on('aborted', () => reject(new BrokenAnswer(new Error('aborted'))));
          response.on('error', (error) => reject(new BrokenAnswer(error)));
          response.on('end', () => {
            signal.removeEventListener('abort', onAbort);
            if (reader === undefined) {
              resolve({ status, contentType, text: chunks.join('') });
              return;
            }
            if (failure !== undefined) {
              reject(failure);
              return;
            }
            try {
              resolve({ status, contentType, text: '', parted: reader.end(RPC_PARTS_CLOSE) });
            } catch (error) {
              reject(asError(error));
            }
          });
        },
      );
      const onAbort = (): void => request.destroy(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      request.on('error', (error) => {
        signal.removeEventListener('abort', onAbort);
        if (refusal !== undefined) resolve({ ...refusal, text: chunks.join('') });
        else reject(answered ? new BrokenAnswer(error) : asError(error));
      });
      request.end(body);
    });
  return { send, close: () => agent.destroy() };
}

const encoder = new TextEncoder();

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function byteLength(text: string): number {
  // Exact for ASCII, which JSON of plain data mostly is; otherwise count.
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return encoder.encode(text).length;
  }
  return text.length;
}

/**
 * Calls made at once leave together, up to this many per `POST /calls`: enough that concurrent
 * appends cost a fraction of a request each, few enough that the server starts on the first
 * calls while the client still makes the rest (as for WebSocket messages).
 */
const CALLS_PER_REQUEST = 16;
const RPC_PATH = '/rpc/';
/** A call whose parameters are larger than this always travels alone (body size limits). */
const MAX_BATCHED_PARAMS_CHARS = 64 * 1024;

interface QueuedCall {
  op: OperationName;
  /** The parameters' JSON. */
  body: string;
  signal: AbortSignal;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Calls `POST {baseUrl}/rpc/{operation}`; calls made in the same tick share one
 * `POST {baseUrl}/calls` instead (each still answered, failed and retried on its own).
 */
export class HttpTransport implements Transport {
  private readonly send: Sender;
  private readonly release: () => void;
  private queued: QueuedCall[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {
    const http = nodeHttpModule(baseUrl);
    if (http === undefined) {
      this.send = fetchSender;
      this.release = () => undefined;
    } else {
      const sender = nodeSender(http);
      this.send = sender.send;
      this.release = () => sender.close();
    }
  }

  call(op: OperationName, params: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
    const body = JSON.stringify(params);
    return new Promise((resolve, reject) => {
      const call: QueuedCall = { op, body, signal, resolve, reject };
      if (body.length > MAX_BATCHED_PARAMS_CHARS) {
        this.callOne(call);
        return;
      }
      this.queued.push(call);
      if (this.queued.length >= CALLS_PER_REQUEST) this.flush();
      else if (this.queued.length === 1) queueMicrotask(() => this.flush());
    });
  }

  private callOne({ op, body, signal, resolve, reject }: QueuedCall): void {
    this.post(`${RPC_PATH}${op}`, body, signal)
      .then(({ result, text }) => (mayHoldMarkers(text) ? decodeWire(result) : result))
      .then(resolve, reject);
  }

  private flush(): void {
    const group = this.queued;
    if (group.length === 0) return;
    this.queued = [];
    if (group.length > 1) {
      this.callMany(group);
      return;
    }
    this.callOne(group[0] as QueuedCall);
  }

  /**
   * One `POST /calls` for several calls. A call whose signal aborts settles at once; the request
   * is abandoned only when every call of it has.
   */
  private callMany(group: QueuedCall[]): void {
    const request = new AbortController();
    let abandoned = 0;
    const stops = group.map((call) => {
      const onAbort = (): void => {
        call.reject(call.signal.reason);
        if (++abandoned === group.length) request.abort(call.signal.reason);
      };
      if (call.signal.aborted) onAbort();
      else call.signal.addEventListener('abort', onAbort, { once: true });
      return () => call.signal.removeEventListener('abort', onAbort);
    });
    const body = `[${group
      .map((call, id) => `{"type":"call","id":${id},"op":"${call.op}","params":${call.body}}`)
      .join(',')}]`;
    this.post(CALLS_PATH, body, request.signal)
      .then(({ result, text }) => {
        const markers = mayHoldMarkers(text);
        const answered = new Set<number>();
        for (const frame of Array.isArray(result) ? (result as Frame[]) : []) {
          const call = typeof frame.id === 'number' ? group[frame.id] : undefined;
          if (call === undefined) continue;
          answered.add(frame.id as number);
          if (frame.type === 'result') {
            call.resolve(markers ? decodeWire(frame.result) : frame.result);
          } else {
            const problem = frame.problem as Problem | undefined;
            call.reject(fromProblem(problem, problem?.status ?? 500));
          }
        }
        group.forEach((call, id) => {
          if (!answered.has(id)) {
            call.reject(new EvdbError('internal', `${this.baseUrl} left call ${id} unanswered`));
          }
        });
      })
      .catch((error: unknown) => {
        // A server with a smaller body limit refused the whole request before running any of
        // it: each call fits alone.
        const tooLarge = error instanceof EvdbError && error.details.reason === 'payload_too_large';
        for (const call of group) {
          if (tooLarge && !call.signal.aborted) this.callOne(call);
          else call.reject(error);
        }
      })
      .finally(() => {
        for (const stop of stops) stop();
      });
  }

  /** One POST; resolves with the answer's `result` (not yet decoded) and its text. */
  private async post(
    path: string,
    body: string,
    signal: AbortSignal,
  ): Promise<{ result: unknown; text: string }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    let answer: HttpAnswer;
    try {
      answer = await this.send(`${this.baseUrl}${path}`, headers, body, signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      // An answer in parts that did not read as one.
      if (error instanceof EvdbError) throw error;
      if (error instanceof BrokenAnswer) {
        throw connectionError(
          `the connection to ${this.baseUrl} broke while reading the answer: ${describeCause(error.cause)}`,
          this.baseUrl,
          'unknown',
          error.cause,
        );
      }
      const refused = isRefused(error);
      throw connectionError(
        `cannot reach ${this.baseUrl}: ${describeCause(error)}`,
        this.baseUrl,
        refused ? 'unsent' : 'unknown',
        error,
      );
    }
    const { status, contentType, text } = answer;
    if (answer.parted !== undefined) return { result: answer.parted, text: '' };
    if (status >= 200 && status < 300) {
      return { result: (parseJson(text, status) as { result?: unknown }).result, text };
    }
    if (contentType.startsWith(PROBLEM_CONTENT_TYPE)) {
      let problem: unknown;
      try {
        problem = JSON.parse(text) as unknown;
      } catch {
        problem = undefined;
      }
      if (problem !== undefined) throw fromProblem(problem, status);
    }
    if (status === 413) {
      throw new EvdbError('invalid_argument', `${this.baseUrl} refused the request as too large`, {
        details: { url: this.baseUrl, status, reason: 'payload_too_large' },
      });
    }
    // Not an evdb answer (e.g. a proxy in between): gateways that cannot reach evdb are transient.
    if (status === 502 || status === 503 || status === 504) {
      throw new EvdbError('unavailable', `${this.baseUrl} answered ${status}`, {
        details: { url: this.baseUrl, status },
      });
    }
    throw new EvdbError('internal', `${this.baseUrl} answered ${status}: ${text.slice(0, 200)}`, {
      details: { url: this.baseUrl, status },
    });
  }

  close(): Promise<void> {
    this.release();
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
