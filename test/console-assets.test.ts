// The console's static files as the gateway serves them: the page, hashed assets with their
// content types and caching, the Content-Security-Policy, and nothing else under /ui.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { memory } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';
import { ConsoleAssets, CONSOLE_CSP } from '../src/gateway/console-assets.js';

describe('the console files at /ui', () => {
  let server: EvdbServer;
  let page: string;
  let script: string;

  before(async () => {
    server = await startServer({
      port: 0,
      backend: memory(),
      tokens: [{ token: 'console-assets-token-0123456789', role: 'read', stores: '*' }],
    });
    const response = await fetch(`${server.url}/ui`);
    page = await response.text();
    const match = /src="(\/ui\/assets\/main-[A-Z0-9]+\.js)"/.exec(page);
    assert.ok(match, `the page names no hashed script (was the console built?):\n${page}`);
    script = match[1] as string;
  });

  after(() => server.close());

  it('serves the page without a token, revalidated, under a CSP that forbids inline scripts', async () => {
    for (const path of ['/ui', '/ui/']) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(response.headers.get('cache-control'), 'no-cache');
      assert.equal(response.headers.get('content-security-policy'), CONSOLE_CSP);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(response.headers.get('x-frame-options'), 'DENY');
      await response.arrayBuffer();
    }
    const directives = new Map(
      CONSOLE_CSP.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]),
    );
    assert.deepEqual(directives.get('script-src'), ["'self'"]);
    assert.deepEqual(directives.get('style-src'), ["'self'"]);
    assert.deepEqual(directives.get('default-src'), ["'none'"]);
    assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
    // No inline script or style in the page itself.
    assert.doesNotMatch(page, /<script(?![^>]*\ssrc=)[^>]*>/);
    assert.doesNotMatch(page, /<style|style=/);
  });

  it('serves hashed assets with their content type, cached for good, gzipped when asked', async () => {
    const plain = await fetch(`${server.url}${script}`, {
      headers: { 'accept-encoding': 'identity' },
    });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const body = Buffer.from(await plain.arrayBuffer());
    assert.ok(body.length > 1000);

    // fetch would decompress by itself: ask with node:http semantics through a raw request.
    const { request } = await import('node:http');
    const gzipped = await new Promise<{ encoding: string | undefined; body: Buffer }>(
      (resolve, reject) => {
        request(`${server.url}${script}`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }),
          );
        })
          .on('error', reject)
          .end();
      },
    );
    assert.equal(gzipped.encoding, 'gzip');
    assert.ok(gzipped.body.length < body.length);
    assert.deepEqual(gunzipSync(gzipped.body), body);

    const css = /href="(\/ui\/assets\/main-[A-Z0-9]+\.css)"/.exec(page)?.[1];
    assert.ok(css);
    const style = await fetch(`${server.url}${css}`);
    assert.equal(style.headers.get('content-type'), 'text/css; charset=utf-8');
    await style.arrayBuffer();

    const head = await fetch(`${server.url}${script}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it('answers 404 for any other path under /ui, and 405 for other methods', async () => {
    for (const path of [
      '/ui/assets/nope.js',
      '/ui/index.html',
      '/ui/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/ui/assets/..%2f..%2fpackage.json',
      '/ui/streams',
      '/uix',
    ]) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 404, path);
      assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/);
      await response.arrayBuffer();
    }
    const post = await fetch(`${server.url}/ui`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.arrayBuffer();
  });

  it('refuses pages of other origins, as the API does', async () => {
    const response = await fetch(`${server.url}${script}`, {
      headers: { origin: 'https://elsewhere.example' },
    });
    assert.equal(response.status, 403);
    await response.arrayBuffer();
    const same = await fetch(`${server.url}${script}`, { headers: { origin: server.url } });
    assert.equal(same.status, 200);
    await same.arrayBuffer();
  });

  it('says how to build the console when it is not built', () => {
    const empty = new ConsoleAssets(undefined);
    const res = { writeHead: () => assert.fail('answered') } as never;
    assert.throws(
      () => empty.serve({ method: 'GET', headers: {} } as never, res, '/ui'),
      /the console is not built: run `npm run build`/,
    );
  });

  it('holds only the files of the build, read once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'evdb-console-assets-'));
    try {
      await mkdir(join(dir, 'assets'));
      await writeFile(join(dir, 'index.html'), '<!doctype html>');
      await writeFile(join(dir, 'assets', 'app-ABC.js'), 'export {};');
      await writeFile(join(dir, 'assets', 'notes.md'), '# not served');
      const assets = new ConsoleAssets(dir);
      let status = 0;
      const res = {
        writeHead(code: number) {
          status = code;
          return this;
        },
        end() {},
      } as never;
      assets.serve({ method: 'GET', headers: {} } as never, res, '/ui/assets/app-ABC.js');
      assert.equal(status, 200);
      assert.throws(
        () => assets.serve({ method: 'GET', headers: {} } as never, res, '/ui/assets/notes.md'),
        /no console file/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
