import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentials as grpcCredentials, loadPackageDefinition, type Client } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import {
  AccessDeniedError,
  KurrentDBClient,
  jsonEvent,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { memory, sqlite } from '../src/index.js';
import { collect } from './support/kurrent-client.js';
import { startServer, type EvdbServer } from '../src/server.js';

// The KurrentDB endpoint beyond the stream operations: discovery, choosing a store, and
// authentication over TLS. (The legacy client has its own file: the two clients' generated
// protobuf code shares one global namespace, so they cannot be loaded in one process.)

const PROTOS = new URL('../src/gateway/kurrent/protos', import.meta.url).pathname;

interface FeaturesClient extends Client {
  GetSupportedMethods(
    request: object,
    callback: (
      error: Error | null,
      response: {
        event_store_server_version: string;
        methods: { method_name: string; service_name: string; features: string[] }[];
      },
    ) => void,
  ): void;
}

interface GossipClient extends Client {
  Read(
    request: object,
    callback: (
      error: Error | null,
      response: {
        members: { state: string; is_alive: boolean; http_end_point: { port: number } }[];
      },
    ) => void,
  ): void;
}

function rawClients(port: number): { features: FeaturesClient; gossip: GossipClient } {
  const definition = loadSync(
    ['kurrentdb/protocols/v1/serverfeatures.proto', 'kurrentdb/protocols/v1/gossip.proto'],
    { includeDirs: [PROTOS], keepCase: true, longs: String, enums: String },
  );
  const tree = loadPackageDefinition(definition) as never as {
    event_store: {
      client: {
        server_features: { ServerFeatures: new (...args: unknown[]) => FeaturesClient };
        gossip: { Gossip: new (...args: unknown[]) => GossipClient };
      };
    };
  };
  const address = `127.0.0.1:${port}`;
  const insecure = grpcCredentials.createInsecure();
  return {
    features: new tree.event_store.client.server_features.ServerFeatures(address, insecure),
    gossip: new tree.event_store.client.gossip.Gossip(address, insecure),
  };
}

describe('KurrentDB endpoint', () => {
  let dataDir: string;
  let server: EvdbServer;
  let port: number;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'evdb-kurrent-'));
    server = await startServer({ port: 0, backend: sqlite({ dataDir }), kurrent: { port: 0 } });
    port = Number(
      new URL((server.kurrentConnectionString as string).replace('kurrentdb', 'http')).port,
    );
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists exactly the methods it implements, with a semver version, and gossips itself as leader', async () => {
    const { features, gossip } = rawClients(port);
    try {
      const supported = await new Promise<
        Parameters<Parameters<FeaturesClient['GetSupportedMethods']>[1]>[1]
      >((resolve, reject) =>
        features.GetSupportedMethods({}, (error, response) =>
          error ? reject(error) : resolve(response),
        ),
      );
      assert.match(supported.event_store_server_version, /^\d+\.\d+\.\d+$/);
      const names = supported.methods.map((m) => `${m.service_name}/${m.method_name}`).sort();
      assert.deepEqual(names, [
        'event_store.client.gossip.gossip/read',
        ...[
          'create',
          'delete',
          'getinfo',
          'list',
          'read',
          'replayparked',
          'restartsubsystem',
          'update',
        ].map((m) => `event_store.client.persistent_subscriptions.persistentsubscriptions/${m}`),
        'event_store.client.server_features.serverfeatures/getsupportedmethods',
        'event_store.client.streams.streams/append',
        'event_store.client.streams.streams/batchappend',
        'event_store.client.streams.streams/delete',
        'event_store.client.streams.streams/read',
        'event_store.client.streams.streams/tombstone',
      ]);
      const members = await new Promise<Parameters<Parameters<GossipClient['Read']>[1]>[1]>(
        (resolve, reject) =>
          gossip.Read({}, (error, response) => (error ? reject(error) : resolve(response))),
      );
      const persistent = supported.methods.filter((m) => m.service_name.includes('persistent'));
      assert.ok(persistent.every((m) => m.features.join() === 'stream,all'));
      assert.equal(members.members.length, 1);
      assert.equal(members.members[0]?.state, 'Leader');
      assert.equal(members.members[0]?.is_alive, true);
      assert.equal(members.members[0]?.http_end_point.port, port);
    } finally {
      features.close();
      gossip.close();
    }
  });

  it('discovers the node through gossip when given as a cluster', async () => {
    // Two seeds make both client halves call Gossip.Read first; both seeds are this node.
    const seeds = `127.0.0.1:${port},localhost:${port}`;
    const client = KurrentDBClient.connectionString(`kurrentdb://${seeds}?tls=false`);
    try {
      const stream = `gossip-${randomUUID()}`;
      await client.appendToStream(stream, jsonEvent({ type: 'Found', data: {} }));
      const read = await collect(client.readStream(stream));
      assert.equal(read.length, 1);
    } finally {
      await client.dispose();
    }
  });

  it('picks the store named by connectionName=store:<id>, and the default store otherwise', async () => {
    await server.evdb.createStore('shop');
    const base = server.kurrentConnectionString as string;
    const shop = KurrentDBClient.connectionString(`${base}&connectionName=store:shop`);
    const plain = KurrentDBClient.connectionString(base);
    const missing = KurrentDBClient.connectionString(`${base}&connectionName=store:nowhere`);
    try {
      const stream = `placed-${randomUUID()}`;
      await shop.appendToStream(stream, jsonEvent({ type: 'InShop', data: {} }));
      assert.equal(await server.evdb.getVersion('shop', stream), 0);
      assert.equal(await server.evdb.getVersion('default', stream), -1);
      const [read] = await collect<ResolvedEvent>(shop.readStream(stream));
      assert.equal(read?.event?.type, 'InShop');
      await assert.rejects(() => collect(plain.readStream(stream)));
      await assert.rejects(() =>
        missing.appendToStream(stream, jsonEvent({ type: 'Lost', data: {} })),
      );
    } finally {
      await Promise.all([shop.dispose(), plain.dispose(), missing.dispose()]);
    }
  });
});

describe('evdb serve --kurrent-port', () => {
  it('serves KurrentDB clients on the given port and prints their connection string', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'evdb-kurrent-serve-'));
    const cli = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        cli,
        'serve',
        '--port',
        '0',
        '--kurrent-port',
        '0',
        '--data-dir',
        dataDir,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, EVDB_LOG_LEVEL: 'silent' } },
    );
    try {
      let connectionString: string | undefined;
      for await (const line of createInterface({ input: child.stdout })) {
        const match = /^KurrentDB clients: (\S+)$/.exec(line);
        if (match !== null) {
          connectionString = match[1];
          break;
        }
      }
      assert.match(connectionString ?? '', /^kurrentdb:\/\/127\.0\.0\.1:\d+\?tls=false$/);
      const client = KurrentDBClient.connectionString(connectionString as string);
      try {
        await client.appendToStream('served', jsonEvent({ type: 'Served', data: { ok: true } }));
        const [event] = await collect(client.readStream('served'));
        assert.deepEqual(event?.event?.data, { ok: true });
      } finally {
        await client.dispose();
      }
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const noOpenssl =
  openssl.status === 0 ? false : 'the openssl CLI is not installed, so no certificate can be made';

describe('KurrentDB endpoint with TLS and tokens', { skip: noOpenssl }, () => {
  const WRITER = 'writer-token-0123456789';
  const READER = 'reader-token-0123456789';
  let dir: string;
  let server: EvdbServer;
  let base: (user: string, password: string) => string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'evdb-kurrent-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    // A CA and a certificate it signed: the client's Rust half (rustls) refuses a self-signed
    // CA certificate used as the server's own.
    const ca = join(dir, 'ca.pem');
    const caKey = join(dir, 'ca-key.pem');
    const csr = join(dir, 'server.csr');
    const ext = join(dir, 'server.ext');
    const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    run([
      'req',
      '-x509',
      ...ecKey,
      '-keyout',
      caKey,
      '-out',
      ca,
      '-days',
      '1',
      '-subj',
      '/CN=evdb test CA',
    ]);
    run(['req', ...ecKey, '-keyout', key, '-out', csr, '-subj', '/CN=localhost']);
    writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
    run([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '1',
      '-extfile',
      ext,
    ]);
    server = await startServer({
      port: 0,
      backend: memory(),
      tls: { cert: readFileSync(cert), key: readFileSync(key) },
      tokens: [
        { token: WRITER, stores: '*', role: 'write' },
        { token: READER, stores: '*', role: 'read' },
      ],
      kurrent: { port: 0, host: '127.0.0.1' },
    });
    const endpoint = (server.kurrentConnectionString as string).replace('kurrentdb://', '');
    base = (user, password) =>
      `kurrentdb://${user}:${password}@${endpoint}?tlsCAFile=${encodeURIComponent(join(dir, 'ca.pem'))}`;
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the password of Basic credentials as an evdb token', async () => {
    const writer = KurrentDBClient.connectionString(base('app', WRITER));
    const reader = KurrentDBClient.connectionString(base('app', READER));
    const stranger = KurrentDBClient.connectionString(base('admin', 'changeit'));
    try {
      const stream = `secure-${randomUUID()}`;
      await writer.appendToStream(stream, jsonEvent({ type: 'Secure', data: {} }));
      const read = await collect(reader.readStream(stream));
      assert.equal(read.length, 1);
      await assert.rejects(
        () => reader.appendToStream(stream, jsonEvent({ type: 'Refused', data: {} })),
        AccessDeniedError,
      );
      await assert.rejects(
        () => stranger.appendToStream(stream, jsonEvent({ type: 'Refused', data: {} })),
        AccessDeniedError,
      );
      await assert.rejects(() => collect(stranger.readStream(stream)), AccessDeniedError);
    } finally {
      await Promise.all([writer.dispose(), reader.dispose(), stranger.dispose()]);
    }
  });
});
