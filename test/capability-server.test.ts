import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import {
  generateCapabilityKeys,
  inspectCapability,
  issueCapability,
} from '../src/channels/capability-tokens.js';
import { runTokenCommand } from '../src/cli/token.js';
import { connect } from '../src/client.js';
import { memory } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';
import { rejectsWith } from './conformance/harness.js';
import { until } from './conformance/channels.js';

const issuer = generateCapabilityKeys();
const admin = 'admin-token';
const dir = mkdtempSync(join(tmpdir(), 'evdb-capabilities-'));
const revocations = join(dir, 'revoked.json');
const noRetry = { retry: { retries: 0 } };

function capability(...grants: [string, string][]): string {
  return issueCapability({
    privateKey: issuer.privateKey,
    grants: grants.map(([resource, action]) => ({ resource, action })),
  });
}

describe('capability tokens on the server, beside static bearer tokens', () => {
  let server: EvdbServer;
  before(async () => {
    writeFileSync(revocations, '[]');
    server = await startServer({
      port: 0,
      backend: memory(),
      tokens: [{ token: admin, role: 'admin', stores: '*' }],
      capabilities: { trustedIssuers: [issuer.publicKey], revocationsFile: revocations },
    });
    const root = await connect(server.url, { token: admin });
    await root.createStore('a');
    await root.createStore('b');
    await root.appendEvents('a', 's', [{ eventType: 'E', data: {} }]);
    await root.appendEvents('b', 's', [{ eventType: 'E', data: {} }]);
    await root.close();
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a stream/read capability on store a reads store a and nothing else', async () => {
    for (const transport of ['http', 'websocket'] as const) {
      const client = await connect(server.url, {
        token: capability(['store:a', 'stream/read']),
        transport,
        WebSocket,
        ...noRetry,
      });
      assert.equal((await client.streamForward('a', 's', 0, 10)).length, 1);
      assert.deepEqual(await client.listStores(), ['a']);
      await rejectsWith(client.streamForward('b', 's', 0, 10), 'unauthorized', {
        reason: 'wrong_resource',
      });
      await rejectsWith(
        client.appendEvents('a', 's', [{ eventType: 'E', data: {} }]),
        'unauthorized',
        { reason: 'wrong_action' },
      );
      await rejectsWith(client.createStore('c'), 'unauthorized', { reason: 'wrong_action' });
      await client.close();
    }
  });

  it('refuses an expired, untrusted or malformed capability before anything runs', async () => {
    const expired = issueCapability({
      privateKey: issuer.privateKey,
      grants: [{ resource: '*', action: '*' }],
      now: Math.floor(Date.now() / 1000) - 1000,
    });
    const client = await connect(server.url, { token: expired, ...noRetry });
    await rejectsWith(client.getVersion('a', 's'), 'unauthorized', { reason: 'expired' });
    await client.close();
    const stranger = issueCapability({
      privateKey: generateCapabilityKeys().privateKey,
      grants: [{ resource: '*', action: '*' }],
    });
    const other = await connect(server.url, { token: stranger, ...noRetry });
    await rejectsWith(other.getVersion('a', 's'), 'unauthorized', { reason: 'untrusted_issuer' });
    await other.close();
  });

  it('guards channels: a capability to publish on logging cannot publish on alerts', async () => {
    const token = capability(
      ['channel:logging', 'channel/publish'],
      ['channel:*', 'channel/subscribe'],
    );
    const client = await connect(server.url, {
      token,
      transport: 'websocket',
      WebSocket,
      ...noRetry,
    });
    const got: unknown[] = [];
    await client.channels.subscribe('logging', 'x', (m) => void got.push(m.message));
    await rejectsWith(client.channels.publish('system', 'x', {}), 'unauthorized', {
      reason: 'wrong_resource',
    });
    await client.channels.publish('logging', 'x', { ok: true });
    await until(() => got.length === 1);
    const reader = await connect(server.url, {
      token: capability(['store:a', 'stream/read']),
      transport: 'websocket',
      WebSocket,
      ...noRetry,
    });
    await rejectsWith(
      reader.channels.subscribe('logging', 'x', () => undefined),
      'unauthorized',
      {
        reason: 'wrong_action',
      },
    );
    await Promise.all([client.close(), reader.close()]);
  });

  it('refuses a revoked capability once `evdb token revoke` lists it, on a live connection too', async () => {
    const token = capability(['store:a', 'stream/read']);
    const client = await connect(server.url, {
      token,
      transport: 'websocket',
      WebSocket,
      ...noRetry,
    });
    await client.getVersion('a', 's');
    const out: string[] = [];
    runTokenCommand(['revoke', token, '--file', revocations], {}, (line) => out.push(line));
    assert.equal(out[0], `revoked ${inspectCapability(token).jti}`);
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await client.getVersion('a', 's');
      } catch (error) {
        assert.equal((error as { details?: { reason?: string } }).details?.reason, 'revoked');
        break;
      }
      assert.ok(Date.now() < deadline, 'revoked within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await client.close();
  });
});

describe('capability mode required', () => {
  it('refuses static tokens and requests without a capability; accepts a capability', async () => {
    const server = await startServer({
      port: 0,
      backend: memory(),
      tokens: [{ token: admin, role: 'admin', stores: '*' }],
      capabilities: { mode: 'required', trustedIssuers: [issuer.publicKey] },
    });
    const withStatic = await connect(server.url, { token: admin, ...noRetry });
    await rejectsWith(withStatic.listStores(), 'unauthorized', { reason: 'missing' });
    const anonymous = await connect(server.url, noRetry);
    await rejectsWith(anonymous.listStores(), 'unauthorized');
    const holder = await connect(server.url, { token: capability(['*', '*']), ...noRetry });
    await holder.createStore('x');
    assert.deepEqual(await holder.listStores(), ['x']);
    await Promise.all([withStatic.close(), anonymous.close(), holder.close()]);
    await server.close();
  });
});

describe('evdb token', () => {
  it('keygen, issue, delegate and inspect', () => {
    const lines: string[] = [];
    const out = (line: string): void => void lines.push(line);
    runTokenCommand(['keygen'], {}, out);
    const keys = JSON.parse(lines.pop() as string) as { publicKey: string; privateKey: string };
    const holderKeys = generateCapabilityKeys();
    runTokenCommand(
      [
        'issue',
        '--grant',
        'store:*=stream/read',
        '--ttl',
        '600',
        `--holder=${holderKeys.publicKey}`,
      ],
      { EVDB_CAPABILITY_KEY: keys.privateKey },
      out,
    );
    const root = lines.pop() as string;
    runTokenCommand(
      ['delegate', root, '--key', holderKeys.privateKey, '--grant', 'store:a=stream/read'],
      {},
      out,
    );
    const child = lines.pop() as string;
    runTokenCommand(['inspect', child], {}, out);
    const shown = JSON.parse(lines.pop() as string) as {
      grants: unknown;
      chain: { iss: string }[];
      exp: number;
      nbf: number;
    };
    assert.deepEqual(shown.grants, [{ resource: 'store:a', action: 'stream/read' }]);
    assert.equal(shown.chain[0]?.iss, keys.publicKey);
    assert.ok(shown.exp - shown.nbf <= 600);
  });
});
