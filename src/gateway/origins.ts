import type { IncomingMessage, ServerResponse } from 'node:http';
import { EvdbError } from '../core/errors.js';

/**
 * Which web pages may call the server from a browser. Requests without an `Origin` header (curl,
 * Node, other servers) are not affected. Browsers enforce CORS for HTTP; WebSocket upgrades are
 * not covered by CORS, so the gateway checks their origin itself: otherwise any page the user
 * opens could drive a token-less server on localhost.
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;
  private readonly any: boolean;

  /** `origins`: exact origins such as `https://app.example.com`, or `'*'` for any. */
  constructor(origins: readonly string[] | undefined) {
    this.any = origins?.includes('*') ?? false;
    this.allowed = new Set((origins ?? []).map((origin) => origin.replace(/\/+$/, '')));
  }

  /** True for requests without an Origin, same-origin requests and allowed origins. */
  allows(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (this.any || this.allowed.has(origin)) return true;
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }

  /** `unauthorized` (forbidden) for a call from a page whose origin is not allowed. */
  assertAllowed(req: IncomingMessage): void {
    if (this.allows(req)) return;
    throw new EvdbError('unauthorized', `calls from ${req.headers.origin} are not allowed`, {
      details: { reason: 'forbidden', origin: req.headers.origin },
    });
  }

  /** Adds CORS headers for an allowed cross-origin request. */
  decorate(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (origin === undefined || !this.allows(req)) return;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
  }

  /** Answers a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`). */
  preflight(req: IncomingMessage, res: ServerResponse): void {
    if (this.allows(req)) {
      this.decorate(req, res);
      res.setHeader('access-control-allow-methods', 'GET, POST, PUT, DELETE');
      res.setHeader('access-control-allow-headers', 'authorization, content-type');
      res.setHeader('access-control-max-age', '600');
    }
    res.writeHead(204).end();
  }
}
