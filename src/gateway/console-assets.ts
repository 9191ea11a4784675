import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { EvdbError } from '../core/errors.js';
import { methodNotAllowed } from './routes.js';

/** Where the console lives: `/ui` (its page) and `/ui/assets/…` (its scripts, styles, icon). */
export const CONSOLE_PATH = '/ui';

/**
 * The page's Content-Security-Policy: scripts, styles and connections from this origin only,
 * no inline script or style, no plugins, no framing (the console has write buttons).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** Asset names carry a content hash (`main-4EJYQSJ7.js`): they never change, so cache them for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The page names the current assets: revalidate it every time. */
const REVALIDATE = 'no-cache';

interface Asset {
  body: Buffer;
  /** Compressed on first request, kept. */
  gzipped?: Buffer;
  contentType: string;
  cacheControl: string;
}

/**
 * The console's static files (built by `npm run build` into `dist/console`), held in memory: the
 * whole set is a few hundred KiB. A request can only name a file of that set, so no path from
 * the URL ever reaches the file system. The files carry no data: everything the console shows
 * comes from API calls with the token the user types in, under the API's own checks.
 */
export class ConsoleAssets {
  private readonly files = new Map<string, Asset>();

  /** `dir` undefined (not built): `/ui` answers 404 with how to build it. */
  constructor(dir: string | undefined) {
    if (dir === undefined) return;
    for (const name of readdirSync(join(dir, 'assets'))) {
      const type = CONTENT_TYPES[extension(name)];
      if (type === undefined) continue;
      const body = readFileSync(join(dir, 'assets', name));
      this.files.set(`${CONSOLE_PATH}/assets/${name}`, {
        body,
        contentType: type,
        cacheControl: name === 'favicon.svg' ? 'public, max-age=86400' : IMMUTABLE,
      });
    }
    const page = {
      body: readFileSync(join(dir, 'index.html')),
      contentType: CONTENT_TYPES['.html'] as string,
      cacheControl: REVALIDATE,
    };
    this.files.set(CONSOLE_PATH, page);
    this.files.set(`${CONSOLE_PATH}/`, page);
  }

  /** The console as built beside this module (`dist/console`), if it was built. */
  static fromPackage(): ConsoleAssets {
    // Compiled: dist/src/gateway → dist/console. From source (tsx): src/gateway → dist/console.
    const candidates = ['../../console', '../../dist/console'].map((path) =>
      fileURLToPath(new URL(path, import.meta.url)),
    );
    // A build (`npm run build:console`) swaps the directory for a new one, possibly while a
    // server starts (tests run side by side): a file gone between listing and reading belongs
    // to the build just replaced, so read the new one.
    for (let attempt = 1; ; attempt++) {
      try {
        return new ConsoleAssets(candidates.find((dir) => existsSync(join(dir, 'index.html'))));
      } catch (error) {
        if (attempt === 3 || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }

  static handles(pathname: string): boolean {
    return pathname === CONSOLE_PATH || pathname.startsWith(`${CONSOLE_PATH}/`);
  }

  /** Answers a request for a console path; throws an `EvdbError` for the caller to send. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
    const asset = this.files.get(pathname);
    if (asset === undefined) {
      throw new EvdbError(
        'not_found',
        this.files.size === 0
          ? 'the console is not built: run `npm run build`'
          : `no console file at ${pathname}`,
        { details: { reason: 'no_route' } },
      );
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? (asset.gzipped ??= gzipSync(asset.body)) : asset.body;
    const headers: Record<string, string | number> = {
      'content-type': asset.contentType,
      'content-length': body.length,
      'cache-control': asset.cacheControl,
      'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
      vary: 'Origin, Accept-Encoding',
    };
    if (gzip) headers['content-encoding'] = 'gzip';
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot);
}
