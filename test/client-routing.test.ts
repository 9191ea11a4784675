import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContext, runInContext } from 'node:vm';
import { build } from 'esbuild';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_RETRY,
  EvdbError,
  backoffDelay,
  connect,
  isLoopbackHost,
  pickWorker,
  uuidv7,
} from '../src/client.js';
import { OPERATION_NAMES } from '../src/protocol/operations.js';
import { failureKind, resolveRetry } from '../src/client/retry.js';
import { memory } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';
import { rejectsWith } from './conformance/index.js';

describe('pickWorker', () => {
  const workers = [
    { node: 'a', id: 0 },
    { node: 'b', id: 1 },
    { node: 'c', id: 2 },
    { node: 'b', id: 3 },
  ];

  it("prefers workers on the caller's host, round robin among them", () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => pickWorker(workers, 'b', i).id),
      [1, 3, 1, 3],
    );
  });

  it('round robins over all workers when none is local', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((i) => pickWorker(workers, 'z', i).id),
      [0, 1, 2, 3, 0, 1],
    );
  });

  it('handles large and negative indexes', () => {
    assert.equal(pickWorker(workers, 'z', Number.MAX_SAFE_INTEGER).id, 3);
    assert.equal(pickWorker(workers, 'z', -1).id, 3);
  });

  it('throws a retriable no_workers for an empty list', () => {
    assert.throws(
      () => pickWorker([], 'a', 0),
      (error: unknown) =>
        error instanceof EvdbError && error.code === 'no_workers' && error.retriable,
    );
  });

  it('knows loopback names', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1']) {
      assert.ok(isLoopbackHost(host), host);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.internal', '128.0.0.1']) {
      assert.ok(!isLoopbackHost(host), host);
    }
  });
});

describe('backoff', () => {
  it('is base·2^attempt plus 1–25 % jitter, capped at max', () => {
    const low = (): number => 0;
    const high = (): number => 0.999999;
    assert.equal(backoffDelay(0, { base: 100, max: 30_000 }, low), 101);
    assert.ok(Math.abs(backoffDelay(0, { base: 100, max: 30_000 }, high) - 125) < 0.001);
    assert.equal(backoffDelay(3, { base: 100, max: 30_000 }, low), 808);
    assert.equal(backoffDelay(10, { base: 100, max: 30_000 }, low), 30_000);
    assert.equal(backoffDelay(60, {}, high), 30_000);
    for (let attempt = 0; attempt < 12; attempt++) {
      const exponential = 100 * 2 ** attempt;
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(attempt);
        assert.ok(delay <= 30_000);
        if (exponential * 1.25 < 30_000) {
          assert.ok(delay >= exponential * 1.01 && delay <= exponential * 1.25, `${delay}`);
        }
      }
    }
  });

  it('defaults to base 100 ms, max 30 s, 10 retries; layers override in order', () => {
    assert.deepEqual(DEFAULT_RETRY, { base: 100, max: 30_000, retries: 10 });
    assert.deepEqual(resolveRetry({ base: 5 }, undefined, { retries: 2 }), {
      base: 5,
      max: 30_000,
      retries: 2,
    });
    assert.throws(() => resolveRetry({ retries: -1 }), /retry.retries/);
  });

  it('classifies failures: transient codes retry, caller errors never', () => {
    const error = (code: ConstructorParameters<typeof EvdbError>[0], transport?: string) =>
      new EvdbError(code, 'x', { details: transport === undefined ? {} : { transport } });
    assert.equal(failureKind(error('overloaded')), 'unsent');
    assert.equal(failureKind(error('no_workers')), 'unsent');
    assert.equal(failureKind(error('unavailable', 'unsent')), 'unsent');
    const draining = new EvdbError('unavailable', 'x', { details: { reason: 'shutting_down' } });
    assert.equal(failureKind(draining), 'unsent');
    // A transient failure while the call ran, or a broken connection: it may have happened.
    assert.equal(failureKind(error('unavailable')), 'unknown');
    assert.equal(failureKind(error('timeout')), 'unknown');
    assert.equal(failureKind(error('unavailable', 'unknown')), 'unknown');
    for (const code of [
      'wrong_expected_version',
      'stream_not_found',
      'not_found',
      'invalid_argument',
      'unauthorized',
      'no_snapshot',
      'already_exists',
      'internal',
    ] as const) {
      assert.equal(failureKind(error(code)), 'final', code);
    }
    const closed = new EvdbError('unavailable', 'closed', { retriable: false });
    assert.equal(failureKind(closed), 'final');
    assert.equal(failureKind(new Error('not ours')), 'final');
  });
});

describe('uuidv7 without node:crypto', () => {
  it('makes RFC 9562 version-7 ids in creation order with the current time', () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7());
    assert.equal(new Set(ids).size, ids.length);
    for (let i = 1; i < ids.length; i++) assert.ok((ids[i - 1] as string) < (ids[i] as string));
    for (const id of ids.slice(0, 100)) {
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    const ms = parseInt((ids.at(-1) as string).replace(/-/g, '').slice(0, 12), 16);
    assert.ok(Math.abs(ms - Date.now()) < 5_000);
  });
});

/** Source without block comments and whole-line comments (JSDoc examples name packages). */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

describe('browser safety', () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

  /** Every module the client entry reaches, by following relative imports. */
  const reachable = (entry: string): Map<string, string[]> => {
    const found = new Map<string, string[]>();
    const visit = (file: string): void => {
      if (found.has(file)) return;
      const source = withoutComments(readFileSync(file, 'utf8'));
      // Static imports and re-exports (`import … from '…'`, `export … from '…'`, `import '…'`)
      // and dynamic `import('…')`; text inside other strings does not count.
      const specifiers = [
        ...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*'([^']+)'/gm),
        ...source.matchAll(/^\s*import\s*'([^']+)'/gm),
        ...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
      ].map((m) => m[1] as string);
      found.set(file, specifiers);
      for (const specifier of specifiers) {
        if (specifier.startsWith('.'))
          visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      }
    };
    visit(entry);
    return found;
  };

  // TypeBox (the protocol's schemas) is the one package the client may import: it has no
  // dependencies and runs in browsers.
  const isBrowserSafePackage = (specifier: string): boolean =>
    specifier === '@sinclair/typebox' || specifier.startsWith('@sinclair/typebox/');

  it('the client reaches only src/client, src/protocol, src/core and the telemetry channel names, and nothing but relative imports and TypeBox', () => {
    const modules = reachable(join(root, 'src/client.ts'));
    assert.ok(modules.size > 5);
    for (const [file, specifiers] of modules) {
      const where = relative(root, file);
      assert.ok(
        where === 'src/client.ts' ||
          where === 'src/telemetry/channels.ts' ||
          where.startsWith('src/client/') ||
          where.startsWith('src/protocol/') ||
          where.startsWith('src/core/'),
        `${where} is reachable from the client`,
      );
      for (const specifier of specifiers) {
        assert.ok(
          specifier.startsWith('.') || isBrowserSafePackage(specifier),
          `${where} imports ${specifier}`,
        );
      }
    }
  });

  it('src/client, src/protocol and src/core use no Node globals', () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts')) files.push(path);
      }
    };
    walk(join(root, 'src/client'));
    walk(join(root, 'src/protocol'));
    walk(join(root, 'src/core'));
    files.push(join(root, 'src/telemetry/channels.ts'));
    for (const file of files) {
      // Words inside string literals ("the serving process") are not references.
      const code = withoutComments(readFileSync(file, 'utf8')).replace(
        /'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g,
        "''",
      );
      for (const name of ['Buffer', 'process', 'require', '__dirname', 'setImmediate']) {
        // A bare reference to the global. A property of globalThis, declared optional and looked
        // up with `?.` (`runtime.process?.getBuiltinModule`), is fine in a browser.
        assert.ok(
          !new RegExp(`(?<![.\\w])${name}\\b(?!\\?:)`).test(code),
          `${relative(root, file)} uses ${name}`,
        );
      }
    }
  });
});

describe('the client bundled for browsers', () => {
  let server: EvdbServer;
  before(async () => {
    server = await startServer({ port: 0, backend: memory() });
  });
  after(async () => {
    await server.close();
  });

  it('bundles with no Node built-ins and works with only web globals', async () => {
    // esbuild fails a browser bundle that imports a Node built-in.
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL('../src/client.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'evdbClient',
      write: false,
      logLevel: 'silent',
    });
    const code = bundle.outputFiles[0]?.text ?? '';
    // A realm with the web platform's globals only: no process, Buffer, require or module.
    const web = {
      fetch,
      URL,
      AbortController,
      TextEncoder,
      setTimeout,
      clearTimeout,
      queueMicrotask,
      crypto: globalThis.crypto,
      SERVER_URL: server.url,
    };
    const context = createContext(web);
    runInContext(code, context);
    const outcome = (await runInContext(
      `(async () => {
        const client = await evdbClient.connect(SERVER_URL);
        await client.createStore('browser');
        const appended = await client.appendEvents('browser', 'tab-1', [
          { eventType: 'Clicked', data: new Uint8Array([1, 2, 3]) },
        ], evdbClient.NO_STREAM);
        const [event] = await client.streamForward('browser', 'tab-1', 0, 1);
        let code = '';
        try {
          await client.appendEvents('browser', 'tab-1', [{ eventType: 'X', data: 1 }], evdbClient.NO_STREAM);
        } catch (error) {
          code = error instanceof evdbClient.EvdbError ? error.code : 'not an EvdbError';
        }
        await client.close();
        return JSON.stringify({
          appended,
          bytes: event.data instanceof Uint8Array ? Array.from(event.data) : null,
          v7: /^[0-9a-f]{8}-[0-9a-f]{4}-7/.test(event.eventId),
          code,
        });
      })()`,
      context,
    )) as string;
    assert.deepEqual(JSON.parse(outcome), {
      appended: { version: 0, position: 0 },
      bytes: [1, 2, 3],
      v7: true,
      code: 'wrong_expected_version',
    });
  });
});

describe('client with several servers', () => {
  let a: EvdbServer;
  let b: EvdbServer;
  let dead: string;
  before(async () => {
    a = await startServer({ port: 0, backend: memory() });
    b = await startServer({ port: 0, backend: memory() });
    // A port that was just free: nothing listens there, so connecting is refused.
    const probe: Server = createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    dead = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((done) => probe.close(done));
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it('rotates calls over the servers', async () => {
    const client = await connect([a.url, b.url]);
    // Each server has its own memory store: a round-robin client sees both.
    const results = await Promise.allSettled([0, 1, 2, 3].map(() => client.createStore('rr')));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'rejected'],
    );
    await client.close();
  });

  it('moves past a server that refuses connections', async () => {
    const client = await connect([dead, a.url], { retry: { base: 10, max: 50, retries: 3 } });
    await client.createStore('failover');
    for (let i = 0; i < 6; i++) assert.equal(await client.getVersion('failover', 's'), -1);
    await client.close();
  });

  it('gives every operation a method, and refuses calls after close', async () => {
    const client = await connect(a.url);
    for (const op of OPERATION_NAMES) assert.equal(typeof client[op], 'function', op);
    await client.close();
    await rejectsWith(client.listStores(), 'unavailable');
  });

  it('validates its options', async () => {
    await rejectsWith(connect([]), 'invalid_argument');
    await rejectsWith(connect('ftp://x'), 'invalid_argument');
    await rejectsWith(connect('not a url'), 'invalid_argument');
    await rejectsWith(connect(a.url, { token: '' }), 'invalid_argument');
    await rejectsWith(connect(a.url, { retry: { base: -1 } }), 'invalid_argument');
    await rejectsWith(connect(a.url, { timeoutMs: 0 }), 'invalid_argument');
    await rejectsWith(connect(a.url, { timeoutMs: 2 ** 40 }), 'invalid_argument');
    const client = await connect(a.url);
    assert.throws(() => client.withOptions({ timeoutMs: -5 }), /timeoutMs/);
    assert.throws(() => client.withOptions({ retry: { retries: NaN } }), /retry.retries/);
    await client.close();
    if ((globalThis as { WebSocket?: unknown }).WebSocket === undefined) {
      await rejectsWith(connect(a.url, { transport: 'websocket' }), 'invalid_argument');
    }
  });
});
