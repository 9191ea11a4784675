import { readFileSync } from 'node:fs';
import type { Backend } from '../backends/log-backend.js';
import type { TokenSpec } from '../gateway/auth.js';
import type { CapabilityMode } from '../channels/capability-tokens.js';
import { DEFAULT_PORT, startServer, type StartServerOptions } from '../gateway/server.js';
import { LOG_LEVELS, type LogLevel } from '../telemetry/request-log.js';
import { UsageError, parse, str } from './args.js';

export const SERVE_HELP = `evdb serve [options]

Starts an evdb server: the HTTP API, the WebSocket endpoint, /health, /metrics and the
console (a web UI) at /ui. Prints "evdb listening on <url>", then one JSON log line per
request. SIGINT or SIGTERM shut it down gracefully: requests in flight (writes included)
finish, then it exits 0.

Options (each also an environment variable, and a key of the --config file):
  --port <n>            EVDB_PORT         port      default ${DEFAULT_PORT}; 0 picks a free one
  --host <addr>         EVDB_HOST         host      default 127.0.0.1; beyond loopback needs
                                                    a token or --insecure
  --data-dir <dir>      EVDB_DATA_DIR     dataDir   SQLite files (default ./evdb-data)
  --pg-url <url>        EVDB_PG_URL       pgUrl     PostgreSQL instead of SQLite
  --token <token>       EVDB_TOKEN        tokens    an admin token for every store (repeatable);
                                                    the file takes [{token, role, stores}]
  --insecure            EVDB_INSECURE=1   insecure  listen beyond loopback without tokens
  --tls-cert <file>     EVDB_TLS_CERT     tlsCert   serve HTTPS with this PEM certificate
  --tls-key <file>      EVDB_TLS_KEY      tlsKey    and this PEM key
  --kurrent-port <n>    EVDB_KURRENT_PORT kurrentPort  also serve the KurrentDB/EventStoreDB gRPC
                                                    API on this port (see docs/kurrentdb.md)
  --advertise-url <u>   EVDB_ADVERTISE_URL advertiseUrl  the URL other nodes list (getWorkers)
  --log-level <l>       EVDB_LOG_LEVEL    logLevel  info (default), warn, error or silent
  --max-open-stores <n> EVDB_MAX_OPEN_STORES maxOpenStores  SQLite stores kept open at once;
                                                    idle ones beyond it close, and open again
                                                    on use (default: half of ulimit -n over 3,
                                                    from 8 to 1000)
  --worker-ttl <ms>     EVDB_WORKER_TTL   workerTtlMs  on a shared database (PostgreSQL), how long
                                                    this node stays listed without a heartbeat
                                                    (default 10000; heartbeats every third of it),
                                                    and the lease of a store's write owner
  --peer-token <token>  EVDB_PEER_TOKEN   peerToken  the token this node presents when it
                                                    forwards appends to a store's write owner
  --channel-secret <s>  EVDB_CHANNEL_SECRET channelSecret  the shared secret signed channel
                                                    messages are checked with (alerts, security)
  --capability-mode <m> EVDB_CAPABILITY_MODE capabilityMode  disabled, optional (default) or
                                                    required: every request needs a capability
  --capability-issuer=<pub>  EVDB_CAPABILITY_ISSUERS capabilityIssuers  a trusted issuer's public
                                                    key (repeatable; the variable: comma-separated)
  --capability-revocations <f> EVDB_CAPABILITY_REVOCATIONS capabilityRevocations  a JSON list
                                                    of revoked token ids, watched for changes
  --config <file>       EVDB_CONFIG                 a JSON file with the keys above

Precedence: flags, then environment, then the config file, then the defaults.`;

interface ServeConfig {
  port?: number;
  host?: string;
  dataDir?: string;
  pgUrl?: string;
  tokens?: TokenSpec[];
  insecure?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  advertiseUrl?: string;
  logLevel?: LogLevel;
  corsOrigins?: string[];
  workerTtlMs?: number;
  maxOpenStores?: number;
  peerToken?: string;
  kurrentPort?: number;
  channelSecret?: string;
  capabilityMode?: CapabilityMode;
  capabilityIssuers?: string[];
  capabilityRevocations?: string;
}

const CONFIG_KEYS = new Set([
  'port',
  'host',
  'dataDir',
  'pgUrl',
  'tokens',
  'insecure',
  'tlsCert',
  'tlsKey',
  'advertiseUrl',
  'logLevel',
  'corsOrigins',
  'workerTtlMs',
  'maxOpenStores',
  'peerToken',
  'kurrentPort',
  'channelSecret',
  'capabilityMode',
  'capabilityIssuers',
  'capabilityRevocations',
]);

/** The server's settings: flags > environment > config file > defaults. */
export function resolveServeConfig(args: string[], env: NodeJS.ProcessEnv): ServeConfig | 'help' {
  const parsed = parse(
    args,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'pg-url': { type: 'string' },
      token: { type: 'string', multiple: true },
      insecure: { type: 'boolean' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'advertise-url': { type: 'string' },
      'log-level': { type: 'string' },
      'worker-ttl': { type: 'string' },
      'max-open-stores': { type: 'string' },
      'peer-token': { type: 'string' },
      'kurrent-port': { type: 'string' },
      'channel-secret': { type: 'string' },
      'capability-mode': { type: 'string' },
      'capability-issuer': { type: 'string', multiple: true },
      'capability-revocations': { type: 'string' },
      config: { type: 'string' },
    },
    SERVE_HELP,
  );
  if (parsed.values.help === true) return 'help';
  if (parsed.positionals.length > 0) {
    throw new UsageError(
      `serve takes no arguments, got ${parsed.positionals.join(' ')}`,
      SERVE_HELP,
    );
  }
  const configFile = str(parsed, 'config') ?? env.EVDB_CONFIG;
  const file = configFile === undefined ? {} : readConfigFile(configFile);
  const flagTokens = parsed.values.token as string[] | undefined;
  const adminTokens = (tokens: string[]): TokenSpec[] =>
    tokens.map((token) => ({ token, role: 'admin', stores: '*' }));
  const pick = <T>(
    flag: T | undefined,
    envValue: T | undefined,
    fileValue: T | undefined,
  ): T | undefined => flag ?? envValue ?? fileValue;
  const config: ServeConfig = {
    port: pick(
      portOf(str(parsed, 'port'), '--port'),
      portOf(env.EVDB_PORT, 'EVDB_PORT'),
      file.port,
    ),
    host: pick(str(parsed, 'host'), env.EVDB_HOST, file.host),
    dataDir: pick(str(parsed, 'data-dir'), env.EVDB_DATA_DIR, file.dataDir),
    pgUrl: pick(str(parsed, 'pg-url'), env.EVDB_PG_URL, file.pgUrl),
    tokens: pick(
      flagTokens === undefined ? undefined : adminTokens(flagTokens),
      env.EVDB_TOKEN === undefined ? undefined : adminTokens([env.EVDB_TOKEN]),
      file.tokens,
    ),
    insecure: pick(
      parsed.values.insecure === true ? true : undefined,
      env.EVDB_INSECURE === undefined ? undefined : /^(1|true|yes)$/i.test(env.EVDB_INSECURE),
      file.insecure,
    ),
    tlsCert: pick(str(parsed, 'tls-cert'), env.EVDB_TLS_CERT, file.tlsCert),
    tlsKey: pick(str(parsed, 'tls-key'), env.EVDB_TLS_KEY, file.tlsKey),
    advertiseUrl: pick(str(parsed, 'advertise-url'), env.EVDB_ADVERTISE_URL, file.advertiseUrl),
    logLevel: pick(
      str(parsed, 'log-level') as LogLevel | undefined,
      env.EVDB_LOG_LEVEL as LogLevel | undefined,
      file.logLevel,
    ),
    corsOrigins: file.corsOrigins,
    maxOpenStores: pick(
      countOf(str(parsed, 'max-open-stores'), '--max-open-stores'),
      countOf(env.EVDB_MAX_OPEN_STORES, 'EVDB_MAX_OPEN_STORES'),
      file.maxOpenStores,
    ),
    workerTtlMs: pick(
      ttlOf(str(parsed, 'worker-ttl'), '--worker-ttl'),
      ttlOf(env.EVDB_WORKER_TTL, 'EVDB_WORKER_TTL'),
      file.workerTtlMs,
    ),
    peerToken: pick(
      str(parsed, 'peer-token'),
      env.EVDB_PEER_TOKEN === '' ? undefined : env.EVDB_PEER_TOKEN,
      file.peerToken,
    ),
    kurrentPort: pick(
      portOf(str(parsed, 'kurrent-port'), '--kurrent-port'),
      portOf(env.EVDB_KURRENT_PORT, 'EVDB_KURRENT_PORT'),
      file.kurrentPort,
    ),
    channelSecret: pick(
      str(parsed, 'channel-secret'),
      env.EVDB_CHANNEL_SECRET === '' ? undefined : env.EVDB_CHANNEL_SECRET,
      file.channelSecret,
    ),
    capabilityMode: pick(
      str(parsed, 'capability-mode') as CapabilityMode | undefined,
      (env.EVDB_CAPABILITY_MODE || undefined) as CapabilityMode | undefined,
      file.capabilityMode,
    ),
    capabilityIssuers: pick(
      parsed.values['capability-issuer'] as string[] | undefined,
      env.EVDB_CAPABILITY_ISSUERS ? env.EVDB_CAPABILITY_ISSUERS.split(',') : undefined,
      file.capabilityIssuers,
    ),
    capabilityRevocations: pick(
      str(parsed, 'capability-revocations'),
      env.EVDB_CAPABILITY_REVOCATIONS || undefined,
      file.capabilityRevocations,
    ),
  };
  const modes = ['disabled', 'optional', 'required'];
  if (config.capabilityMode !== undefined && !modes.includes(config.capabilityMode)) {
    throw new UsageError(
      `the capability mode must be one of ${modes.join(', ')}, got ${config.capabilityMode}`,
      SERVE_HELP,
    );
  }
  if (config.logLevel !== undefined && !LOG_LEVELS.includes(config.logLevel)) {
    throw new UsageError(
      `the log level must be one of ${LOG_LEVELS.join(', ')}, got ${config.logLevel}`,
      SERVE_HELP,
    );
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new UsageError('give both --tls-cert and --tls-key, or neither', SERVE_HELP);
  }
  if (config.dataDir !== undefined && config.pgUrl !== undefined) {
    throw new UsageError('give --data-dir (SQLite) or --pg-url (PostgreSQL), not both', SERVE_HELP);
  }
  return config;
}

function ttlOf(raw: string | undefined, where: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 300) {
    throw new UsageError(
      `${where} must be a number of milliseconds >= 300, got ${raw}`,
      SERVE_HELP,
    );
  }
  return Number(raw);
}

function countOf(raw: string | undefined, where: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new UsageError(`${where} must be a positive integer, got ${raw}`, SERVE_HELP);
  }
  return Number(raw);
}

function portOf(raw: string | undefined, where: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) {
    throw new UsageError(`${where} must be a port number from 0 to 65535, got ${raw}`, SERVE_HELP);
  }
  return Number(raw);
}

function readConfigFile(path: string): ServeConfig {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (error) {
    throw new UsageError(
      `cannot read the config file ${path}: ${(error as Error).message}`,
      SERVE_HELP,
    );
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new UsageError(`the config file ${path} must hold a JSON object`, SERVE_HELP);
  }
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.has(key)) {
      throw new UsageError(
        `unknown key ${JSON.stringify(key)} in ${path}; known: ${[...CONFIG_KEYS].join(', ')}`,
        SERVE_HELP,
      );
    }
  }
  return config;
}

/** Runs `evdb serve` until SIGINT or SIGTERM. */
export async function serve(config: ServeConfig, out: (line: string) => void): Promise<void> {
  let backend: Backend | undefined;
  if (config.pgUrl !== undefined) {
    const { postgres } = await import('../backends/postgres/index.js');
    backend = postgres({ url: config.pgUrl });
  }
  const options: StartServerOptions = {
    port: config.port ?? DEFAULT_PORT,
    host: config.host,
    backend,
    dataDir: backend === undefined ? (config.dataDir ?? './evdb-data') : undefined,
    tokens: config.tokens,
    insecure: config.insecure,
    advertiseUrl: config.advertiseUrl,
    logLevel: config.logLevel ?? 'info',
    corsOrigins: config.corsOrigins,
    node: config.workerTtlMs === undefined ? undefined : { ttlMs: config.workerTtlMs },
    maxOpenStores: config.maxOpenStores,
    peerToken: config.peerToken,
    kurrent: config.kurrentPort === undefined ? undefined : { port: config.kurrentPort },
    channelSecret: config.channelSecret,
    capabilities: {
      mode: config.capabilityMode,
      trustedIssuers: config.capabilityIssuers,
      revocationsFile: config.capabilityRevocations,
    },
  };
  if (config.tlsCert !== undefined && config.tlsKey !== undefined) {
    options.tls = { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) };
  }
  const server = await startServer(options);
  out(`evdb listening on ${server.url}`);
  if (server.kurrentConnectionString !== undefined) {
    out(`KurrentDB clients: ${server.kurrentConnectionString}`);
  }
  await new Promise<void>((resolve) => {
    let signals = 0;
    const stop = (): void => {
      signals++;
      // A second signal while draining: stop waiting.
      if (signals > 1) process.exit(1);
      void server.close().then(resolve, (error: unknown) => {
        console.error('evdb: the shutdown failed:', error);
        process.exit(1);
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
