import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { connect } from '../src/client.js';
import { memory } from '../src/index.js';
import { startServer, type EvdbServer, type TokenSpec } from '../src/server.js';
import { rejectsWith } from './conformance/index.js';
import { ADMIN, OTHER, READER, WRITER, startTokenServer } from './support/token-server.js';

interface Answer {
  status: number;
  contentType: string;
  problem: { code?: string; status?: number; detail?: string; retriable?: boolean };
  headers: Headers;
}

describe('server security', () => {
  let server: EvdbServer;
  before(async () => {
    server = await startTokenServer();
  });
  after(async () => {
    await server.close();
  });

  const send = async (
    method: string,
    path: string,
    options: { token?: string; body?: string; authorization?: string } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.authorization !== undefined) headers.authorization = options.authorization;
    const response = await fetch(server.url + path, { method, headers, body: options.body });
    const text = await response.text();
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      problem: text === '' ? {} : (JSON.parse(text) as Answer['problem']),
      headers: response.headers,
    };
  };
  const append = (store: string, token?: string): Promise<Answer> =>
    send('POST', `/stores/${store}/streams/s`, {
      token,
      body: JSON.stringify({ events: [{ eventType: 'E', data: 1 }] }),
    });
  const assertProblem = (answer: Answer, status: number, code: string): void => {
    assert.equal(answer.status, status, JSON.stringify(answer.problem));
    assert.match(answer.contentType, /^application\/problem\+json/);
    assert.equal(answer.problem.code, code);
    assert.equal(answer.problem.status, status);
    assert.equal(answer.problem.retriable, false);
  };
  const assertNothingWritten = async (): Promise<void> => {
    for (const store of ['shop', 'other']) {
      const status = await send('GET', `/stores/${store}/status`, { token: ADMIN });
      assert.equal((status.problem as { totalEvents?: number }).totalEvents, 0, store);
    }
    const stores = await send('GET', '/stores', { token: ADMIN });
    assert.deepEqual((stores.problem as { stores?: string[] }).stores, ['other', 'shop']);
  };

  it('needs a valid token: missing, wrong or malformed → 401 unauthorized', async () => {
    const missing = await append('shop');
    assertProblem(missing, 401, 'unauthorized');
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
    assertProblem(await append('shop', 'not-a-token'), 401, 'unauthorized');
    assertProblem(await append('shop', `${WRITER}x`), 401, 'unauthorized');
    assertProblem(
      await send('POST', '/stores/shop/streams/s', {
        authorization: `Basic ${WRITER}`,
        body: '{"events":[]}',
      }),
      401,
      'unauthorized',
    );
    assertProblem(
      await send('POST', '/rpc/listStores', { token: 'nope', body: '{}' }),
      401,
      'unauthorized',
    );
    await assertNothingWritten();
  });

  it('refuses under-privileged tokens with 403 unauthorized', async () => {
    assertProblem(await append('shop', READER), 403, 'unauthorized');
    assertProblem(await append('shop', OTHER), 403, 'unauthorized');
    assertProblem(await append('other', WRITER), 403, 'unauthorized');
    assertProblem(await send('PUT', '/stores/third', { token: WRITER }), 403, 'unauthorized');
    assertProblem(await send('DELETE', '/stores/shop', { token: WRITER }), 403, 'unauthorized');
    assertProblem(
      await send('POST', '/rpc/appendBatch', {
        token: OTHER,
        body: JSON.stringify({ storeId: 'shop', writes: [{ streamId: 's', events: [] }] }),
      }),
      403,
      'unauthorized',
    );
    assertProblem(await send('GET', '/stores/other/all', { token: READER }), 403, 'unauthorized');
    await assertNothingWritten();
  });

  it('lets each role do what it may, and lists only the stores a token may see', async () => {
    const reads = await send('GET', '/stores/shop/all', { token: READER });
    assert.equal(reads.status, 200);
    const listed = await send('GET', '/stores', { token: READER });
    assert.deepEqual((listed.problem as { stores?: string[] }).stores, ['shop']);
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'healthy');
  });

  it('the client rebuilds unauthorized errors over HTTP and WebSocket', async () => {
    for (const transport of ['http', 'websocket'] as const) {
      const anonymous = await connect(server.url, { transport, WebSocket });
      await rejectsWith(anonymous.getVersion('shop', 's'), 'unauthorized');
      await anonymous.close();
      const wrong = await connect(server.url, { transport, WebSocket, token: 'wrong' });
      await rejectsWith(wrong.getVersion('shop', 's'), 'unauthorized');
      await wrong.close();
      const reader = await connect(server.url, { transport, WebSocket, token: READER });
      assert.equal(await reader.getVersion('shop', 's'), -1);
      const refused = await rejectsWith(
        reader.appendEvents('shop', 's', [{ eventType: 'E', data: 1 }]),
        'unauthorized',
      );
      assert.equal(refused.details.reason, 'forbidden');
      await reader.close();
    }
    await assertNothingWritten();
  });

  it('refuses a WebSocket upgrade with a bad Authorization header', async () => {
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
      headers: { authorization: 'Bearer wrong' },
    });
    const status = await new Promise<number>((resolve) => {
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => resolve(101));
      socket.on('error', () => undefined);
    });
    assert.equal(status, 401);
  });

  it('refuses bodies over the limit with 413 invalid_argument, with or without a length', async () => {
    const big = JSON.stringify({
      events: [{ eventType: 'E', data: 'x'.repeat(64 * 1024) }],
    });
    assertProblem(
      await send('POST', '/stores/shop/streams/s', { token: WRITER, body: big }),
      413,
      'invalid_argument',
    );
    // Chunked, so the server cannot refuse from the Content-Length header alone.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        `${server.url}/stores/shop/streams/s`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${WRITER}`,
            'content-type': 'application/json',
            'transfer-encoding': 'chunked',
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      for (let i = 0; i < big.length; i += 8192) req.write(big.slice(i, i + 8192));
      req.end();
    });
    assert.equal(chunked.status, 413);
    assert.equal((JSON.parse(chunked.body) as { code: string }).code, 'invalid_argument');
    // The client over WebSocket refuses before sending, with the same code.
    const ws = await connect(server.url, { transport: 'websocket', WebSocket, token: WRITER });
    const error = await rejectsWith(
      ws.appendEvents('shop', 's', [{ eventType: 'E', data: 'x'.repeat(64 * 1024) }]),
      'invalid_argument',
    );
    assert.equal(error.details.reason, 'payload_too_large');
    await ws.close();
    await assertNothingWritten();
  });

  it('refuses malformed JSON and bodies of the wrong shape with 400', async () => {
    const bad = ['{"events": [', 'not json', '[1,2]', '"text"', '{"events": {"0": 1}}'];
    for (const body of bad) {
      assertProblem(
        await send('POST', '/stores/shop/streams/s', { token: WRITER, body }),
        400,
        'invalid_argument',
      );
    }
    assertProblem(
      await send('POST', '/rpc/appendEvents', { token: WRITER, body: '{"storeId": "shop",' }),
      400,
      'invalid_argument',
    );
    const wrongType = await fetch(`${server.url}/stores/shop/streams/s`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITER}`, 'content-type': 'text/plain' },
      body: '{"events": []}',
    });
    assert.equal(wrongType.status, 400);
    await assertNothingWritten();
  });

  it('refuses invalid store ids, stream ids and versions with 400', async () => {
    const events = [{ eventType: 'E', data: 1 }];
    const cases: [string, string, unknown][] = [
      ['upper-case store id', '/stores/SHOP/streams/s', { events }],
      ['store id with a slash', '/stores/..%2Fetc/streams/s', { events }],
      ['store id too long', `/stores/${'a'.repeat(49)}/streams/s`, { events }],
      ['reserved stream id', '/stores/shop/streams/%24all', { events }],
      ['stream id too long', `/stores/shop/streams/${'x'.repeat(1025)}`, { events }],
      ['NUL in stream id', '/stores/shop/streams/a%00b', { events }],
      ['expected version -3', '/stores/shop/streams/s', { events, expectedVersion: -3 }],
      ['fractional version', '/stores/shop/streams/s', { events, expectedVersion: 1.5 }],
      ['version as text', '/stores/shop/streams/s', { events, expectedVersion: '0' }],
      ['unknown body field', '/stores/shop/streams/s', { events, expected: 0 }],
      ['event without type', '/stores/shop/streams/s', { events: [{ data: 1 }] }],
      ['bad event id', '/stores/shop/streams/s', { events: [{ eventType: 'E', eventId: 'x' }] }],
      [
        'bad bytes',
        '/stores/shop/streams/s',
        { events: [{ eventType: 'E', data: { $bytes: '*' } }] },
      ],
    ];
    for (const [name, path, body] of cases) {
      const answer = await send('POST', path, { token: ADMIN, body: JSON.stringify(body) });
      assert.equal(answer.status, 400, `${name}: ${JSON.stringify(answer.problem)}`);
      assert.equal(answer.problem.code, 'invalid_argument', name);
    }
    const rpc: [string, unknown][] = [
      ['empty stream id', { storeId: 'shop', streamId: '', events }],
      ['numeric stream id', { storeId: 'shop', streamId: 42, events }],
      ['missing events', { storeId: 'shop', streamId: 's' }],
      ['events not an array', { storeId: 'shop', streamId: 's', events: {} }],
    ];
    for (const [name, body] of rpc) {
      const answer = await send('POST', '/rpc/appendEvents', {
        token: ADMIN,
        body: JSON.stringify(body),
      });
      assert.equal(answer.status, 400, name);
      assert.equal(answer.problem.code, 'invalid_argument', name);
    }
    for (const query of ['from=-1', 'count=-1', 'count=100001', 'from=x', 'direction=up']) {
      const answer = await send('GET', `/stores/shop/streams/s?${query}`, { token: ADMIN });
      assert.equal(answer.status, 400, query);
    }
    await assertNothingWritten();
  });
});

describe('binding beyond loopback', () => {
  it('refuses 0.0.0.0 without tokens unless insecure', async () => {
    await rejectsWith(
      startServer({ host: '0.0.0.0', port: 0, backend: memory() }),
      'invalid_argument',
    );
    await rejectsWith(startServer({ host: '::', port: 0, backend: memory() }), 'invalid_argument');
    const insecure = await startServer({
      host: '0.0.0.0',
      port: 0,
      backend: memory(),
      insecure: true,
    });
    const { port } = new URL(insecure.url);
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
    await insecure.close();
    const withTokens = await startServer({
      host: '0.0.0.0',
      port: 0,
      backend: memory(),
      tokens: [{ token: ADMIN, stores: '*', role: 'admin' }],
    });
    const tokenPort = new URL(withTokens.url).port;
    const refused = await fetch(`http://127.0.0.1:${tokenPort}/stores`);
    assert.equal(refused.status, 401);
    await withTokens.close();
  });

  it('refuses malformed token lists', async () => {
    for (const tokens of [
      [{ token: '', stores: '*', role: 'admin' }],
      [{ token: 'x', stores: '*', role: 'root' }],
      [{ token: 'x', stores: 'shop', role: 'read' }],
    ]) {
      await rejectsWith(
        startServer({ port: 0, backend: memory(), tokens: tokens as TokenSpec[] }),
        'invalid_argument',
      );
    }
  });
});

const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const noOpenssl =
  openssl.status === 0 ? false : 'the openssl CLI is not installed, so no certificate can be made';

describe('TLS', () => {
  it(
    'serves HTTPS with the given certificate, and the client works over it',
    { skip: noOpenssl },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'evdb-tls-'));
      try {
        const cert = join(dir, 'cert.pem');
        const key = join(dir, 'key.pem');
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-keyout',
            key,
            '-out',
            cert,
            '-days',
            '1',
            '-subj',
            '/CN=localhost',
            '-addext',
            'subjectAltName=IP:127.0.0.1,DNS:localhost',
          ],
          { stdio: 'ignore' },
        );
        const server = await startServer({
          port: 0,
          backend: memory(),
          tls: { cert: readFileSync(cert), key: readFileSync(key) },
          tokens: [{ token: ADMIN, stores: '*', role: 'admin' }],
        });
        try {
          assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
          const health = await new Promise<number>((resolve, reject) => {
            httpsRequest(`${server.url}/health`, { ca: readFileSync(cert) }, (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            })
              .on('error', reject)
              .end();
          });
          assert.equal(health, 200);
          // Without trusting the certificate, TLS refuses the connection.
          await assert.rejects(fetch(`${server.url}/health`));
          // The real client, in a process that trusts the certificate, over HTTPS and WSS (not
          // execFileSync: the server runs in this process and must keep answering).
          const { stdout: output } = await promisify(execFile)(
            process.execPath,
            ['--import', 'tsx', 'test/support/server-tls-client.ts', server.url, ADMIN],
            { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: cert } },
          );
          assert.match(output, /http: version 1, 2 events\nwebsocket: version 1, 2 events/);
        } finally {
          await server.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('browser origins', () => {
  let server: EvdbServer;
  before(async () => {
    server = await startServer({
      port: 0,
      backend: memory(),
      corsOrigins: ['http://app.example'],
    });
  });
  after(async () => {
    await server.close();
  });

  const upgrade = (origin: string): Promise<number> => {
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, { origin });
    return new Promise<number>((resolve) => {
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => {
        socket.close();
        resolve(101);
      });
      socket.on('error', () => undefined);
    });
  };

  const get = (path: string, headers: Record<string, string>, method = 'GET') =>
    new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      httpRequest(`${server.url}${path}`, { method, headers }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      })
        .on('error', reject)
        .end();
    });

  it('refuses WebSocket upgrades from pages of other origins', async () => {
    assert.equal(await upgrade('http://evil.example'), 403);
    assert.equal(await upgrade('http://app.example'), 101);
    assert.equal(await upgrade(server.url), 101, 'same origin');
  });

  it('answers CORS for allowed origins only, and refuses the others', async () => {
    const preflight = await get(
      '/rpc/listStores',
      { origin: 'http://app.example', 'access-control-request-method': 'POST' },
      'OPTIONS',
    );
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'http://app.example');
    assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
    const evilPreflight = await get(
      '/rpc/listStores',
      { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
      'OPTIONS',
    );
    assert.equal(evilPreflight.headers['access-control-allow-origin'], undefined);
    const allowed = await get('/stores', { origin: 'http://app.example' });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers['access-control-allow-origin'], 'http://app.example');
    const refused = await get('/stores', { origin: 'http://evil.example' });
    assert.equal(refused.status, 403);
    assert.equal((await get('/stores', {})).status, 200, 'no Origin: not a browser');
  });
});
