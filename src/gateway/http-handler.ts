import type { IncomingMessage, ServerResponse } from 'node:http';
import { EvdbError, invalidArgument } from '../core/errors.js';
import type { EventRecord } from '../core/types.js';
import {
  PARTS_HEADER,
  PARTS_LAYOUT,
  PROBLEM_CONTENT_TYPE,
  decodeWire,
  encodeWire,
} from '../protocol/wire.js';
import { parseJsonText } from '../protocol/json-text.js';
import { assertRole, canSeeStore, type Authenticator, type Principal } from './auth.js';
import { runCalls } from './calls.js';
import { ConsoleAssets } from './console-assets.js';
import { CALLS_PATH } from '../protocol/frames.js';
import type { Dispatcher } from './dispatcher.js';
import type { OriginPolicy } from './origins.js';
import { asEvdbError, httpStatusOf, payloadTooLarge, problemOf } from './problem.js';
import { healthStatusCode, type Health } from './health.js';
import { OPENAPI_PATH, openApiDocument, packageVersion } from './openapi.js';
import type { RequestTelemetry } from './request-telemetry.js';
import {
  matchRoute,
  methodNotAllowed,
  partedEnvelope,
  pathSegments,
  restParams,
  routeResponse,
  rpcParams,
  type Route,
  type RouteMatch,
} from './routes.js';
import { PROMETHEUS_CONTENT_TYPE, type StoreFilter } from '../telemetry/metrics.js';

export interface HttpHandlerOptions {
  routes: readonly Route[];
  dispatcher: Dispatcher;
  auth: Authenticator;
  bodyLimitBytes: number;
  origins: OriginPolicy;
  requests: RequestTelemetry;
  health: Health;
  /** The text of `/metrics`; with `stores`, only the series of the stores it accepts. */
  metrics: (stores?: StoreFilter) => string;
  /** True when `/metrics` answers without a token (the server listens on loopback only). */
  metricsOpen: boolean;
  /** The console's static files, served at `/ui`. */
  console: ConsoleAssets;
}

/** Serves one HTTP request: route, authenticate, read and validate, run, answer. */
export function createHttpHandler(
  options: HttpHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { routes, dispatcher, auth, bodyLimitBytes, origins, requests } = options;
  // Built on first request: most servers are never asked for it.
  let openApiText: string | undefined;

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://evdb');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      origins.preflight(req, res);
      return;
    }
    origins.decorate(req, res);
    if (url.pathname === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      void options.health.report().then((report) => {
        sendJson(res, healthStatusCode(report), report);
      });
      return;
    }
    // Public like /health: the document describes the API (as docs/http-api.md does), no store.
    if (url.pathname === OPENAPI_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      openApiText ??= JSON.stringify(openApiDocument(routes, packageVersion()));
      sendJsonText(res, 200, openApiText);
      return;
    }
    if (url.pathname === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      serveMetrics(req, res, options);
      return;
    }
    if (ConsoleAssets.handles(url.pathname)) {
      try {
        origins.assertAllowed(req);
        options.console.serve(req, res, url.pathname);
      } catch (error) {
        sendProblem(req, res, error);
      }
      return;
    }
    if (url.pathname === CALLS_PATH) {
      serveCalls(req, res, options);
      return;
    }
    // Routing first, so that the request's telemetry names its operation and store.
    let match: RouteMatch;
    let routingError: Error | undefined;
    try {
      match = matchRoute(routes, req.method ?? 'GET', pathSegments(url.pathname));
    } catch (error) {
      routingError = error instanceof Error ? error : new Error(String(error));
    }
    const routed = match !== undefined && 'route' in match ? match : undefined;
    const event = requests.start(
      'http',
      routed?.route.op ?? 'unknown',
      routed?.pathParams.storeId,
      req.headers.traceparent,
    );
    // Everything that can throw runs inside `track`, so a shutdown waits for it and the answer
    // is always a problem document.
    dispatcher
      .track(async (): Promise<Answer> => {
        origins.assertAllowed(req);
        if (routingError !== undefined) throw routingError;
        if (match === undefined) {
          throw new EvdbError('not_found', `no route for ${req.method} ${url.pathname}`, {
            details: { reason: 'no_route' },
          });
        }
        if ('allowed' in match) throw methodNotAllowed(match.allowed);
        const { route, pathParams } = match;
        // Authentication and the role come first: a body is read only for a caller allowed to
        // call this operation at all.
        const principal = auth.authenticateHeader(req.headers.authorization);
        assertRole(principal, route.op, route.spec);
        const body = await readJsonBody(req, bodyLimitBytes);
        const params =
          route.binding === undefined
            ? rpcParams(route, body)
            : restParams(route, route.binding, pathParams, url.searchParams, body);
        if (event.storeId === undefined && typeof params.storeId === 'string') {
          event.storeId = params.storeId;
        }
        // Set once a read answered in parts has written its first part.
        const parted: { answer?: PartedAnswer } = {};
        const onPart = (events: EventRecord[]): void => {
          parted.answer ??= new PartedAnswer(res, route);
          parted.answer.write(events);
        };
        const result = await dispatcher.execute(route.op, params, principal, onPart);
        if (parted.answer !== undefined) {
          return { parted: parted.answer, last: result as EventRecord[] };
        }
        const answer = routeResponse(route, result);
        const text =
          answer.body === undefined ? undefined : JSON.stringify(encodeWire(answer.body, 'result'));
        return { status: answer.status, text };
      })
      .then(
        (answer) => {
          let status: number;
          if ('parted' in answer) status = answer.parted.end(answer.last);
          else {
            status = answer.status;
            if (answer.text === undefined) res.writeHead(status).end();
            else sendJsonText(res, status, answer.text);
          }
          requests.stop(event, status);
        },
        (error: unknown) => {
          const evdbError = asEvdbError(error);
          sendProblem(req, res, evdbError);
          requests.fail(event, evdbError, httpStatusOf(evdbError));
        },
      );
  };
}

/**
 * `POST /calls` (see `calls.ts`): answered 200 with each call's result or error frame; a request
 * that cannot be read at all is answered with a problem document. Each call is one request for
 * telemetry.
 */
function serveCalls(req: IncomingMessage, res: ServerResponse, options: HttpHandlerOptions): void {
  const { dispatcher, auth, bodyLimitBytes, origins, requests } = options;
  dispatcher
    .track(async () => {
      if (req.method !== 'POST') throw methodNotAllowed(['POST']);
      origins.assertAllowed(req);
      const principal = auth.authenticateHeader(req.headers.authorization);
      const body = await readJsonBody(req, bodyLimitBytes);
      return JSON.stringify({ result: await runCalls(dispatcher, principal, body, requests) });
    })
    .then(
      (text) => sendJsonText(res, 200, text),
      (error: unknown) => {
        const evdbError = asEvdbError(error);
        sendProblem(req, res, evdbError);
        const event = requests.start('http', 'unknown', undefined, req.headers.traceparent);
        requests.fail(event, evdbError, httpStatusOf(evdbError));
      },
    );
}

/** A whole answer (`text` undefined for none), or one given in parts, to be ended. */
type Answer =
  { status: number; text: string | undefined } | { parted: PartedAnswer; last: EventRecord[] };

/**
 * An answer given in parts (see `Dispatcher.execute`), in the layout of {@link PARTS_LAYOUT}:
 * each part is written as soon as it is read, so the client parses it while the next is read.
 */
class PartedAnswer {
  private readonly envelope: { status: number; open: string; close: string };
  private parts = 0;

  constructor(
    private readonly res: ServerResponse,
    route: Route,
  ) {
    this.envelope = partedEnvelope(route);
  }

  write(events: EventRecord[]): void {
    if (this.res.destroyed) {
      // The caller is gone: reading on would be for nobody.
      throw new EvdbError('unavailable', 'the caller closed the connection', {
        details: { reason: 'caller_gone' },
      });
    }
    if (this.parts === 0) {
      this.res.writeHead(this.envelope.status, {
        'content-type': 'application/json; charset=utf-8',
        [PARTS_HEADER]: PARTS_LAYOUT,
      });
      this.res.write(`${this.envelope.open}\n`);
    }
    this.res.write(`${this.parts === 0 ? '' : ','}${eventsText(events)}\n`);
    this.parts++;
  }

  /** Writes the last part (possibly empty) and ends the answer; returns its status. */
  end(events: EventRecord[]): number {
    const last = events.length === 0 ? '' : `,${eventsText(events)}\n`;
    this.res.end(`${last}${this.envelope.close}`);
    return this.envelope.status;
  }
}

/** The wire JSON of events without the enclosing brackets. */
function eventsText(events: EventRecord[]): string {
  const text = JSON.stringify(encodeWire(events, 'result'));
  return text.slice(1, -1);
}

/**
 * `/metrics` in the Prometheus text format. Open on a loopback-only server; otherwise it needs a
 * bearer token of any role (when the server has tokens at all).
 */
function serveMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  options: HttpHandlerOptions,
): void {
  let principal: Principal | undefined;
  if (!options.metricsOpen || req.headers.authorization !== undefined) {
    try {
      principal = options.auth.authenticateHeader(req.headers.authorization);
    } catch (error) {
      sendProblem(req, res, error);
      return;
    }
  }
  // A token scoped to some stores sees their series only: the names of the others are theirs.
  const text = options.metrics(
    principal === undefined || principal.stores === '*'
      ? undefined
      : (storeId) => canSeeStore(principal, storeId),
  );
  res.writeHead(200, {
    'content-type': PROMETHEUS_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
  });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/** Reads a JSON body of at most `limit` bytes; undefined when there is none. */
function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) return Promise.reject(payloadTooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        // Stop buffering; the answer closes the connection, which discards the rest.
        req.pause();
        reject(payloadTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (error) => {
      if (!failed) reject(error);
      failed = true;
    });
    req.on('end', () => {
      if (failed) return;
      if (size === 0) {
        resolve(undefined);
        return;
      }
      const contentType = req.headers['content-type'] ?? 'application/json';
      if (!/^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
        reject(
          invalidArgument(
            `the body must be JSON (content-type application/json), got ${contentType}`,
          ),
        );
        return;
      }
      try {
        resolve(decodeWire(parseJsonText(utf8Text(Buffer.concat(chunks, size)))));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

/** Refuses, rather than replaces, bytes that are not UTF-8: what is stored is what was sent. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of a body; `invalid_argument` when it is not valid UTF-8. */
export function utf8Text(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw invalidArgument('the body is not valid UTF-8', { reason: 'invalid_utf8' });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendJsonText(res, status, JSON.stringify(body));
}

function sendJsonText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendProblem(req: IncomingMessage, res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const evdbError = asEvdbError(error);
  const problem = problemOf(evdbError);
  const text = JSON.stringify(problem);
  const headers: Record<string, string | number> = {
    'content-type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8`,
    'content-length': Buffer.byteLength(text),
  };
  if (problem.status === 401) headers['www-authenticate'] = 'Bearer';
  if (problem.status === 405) {
    headers.allow = ((evdbError.details.allowed as string[] | undefined) ?? []).join(', ');
  }
  // A request whose body was not read to the end (too large, refused early) leaves the
  // connection in an unknown state: close it after the answer.
  if (!req.complete || httpStatusOf(evdbError) === 413) headers.connection = 'close';
  res.writeHead(problem.status, headers);
  res.end(text);
}
