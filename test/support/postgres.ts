import { execFile, spawn } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** A PostgreSQL server for tests: either the one `EVDB_TEST_PG_URL` names, or a throwaway cluster. */
export interface TestPostgres {
  /** Connection URL (`postgres://…`). */
  url: string;
  /** True when this harness started the server, so it can restart and stop it. */
  owned: boolean;
  /** Restarts the server; `immediate` crashes it (no checkpoint, recovery from WAL on start). */
  restart(mode: 'fast' | 'immediate'): Promise<void>;
  /** Stops the cluster and removes its files (no-op on a server given by `EVDB_TEST_PG_URL`). */
  stop(): Promise<void>;
}

/**
 * Starts a throwaway PostgreSQL cluster in a temp dir on a random loopback port, or uses the
 * server `EVDB_TEST_PG_URL` names (tests then isolate themselves with unique schema names).
 *
 * The cluster keeps `fsync` and `synchronous_commit` on: the crash tests rely on durability.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const external = process.env.EVDB_TEST_PG_URL;
  if (external !== undefined && external !== '') {
    return {
      url: external,
      owned: false,
      restart: () => Promise.reject(new Error('cannot restart the server EVDB_TEST_PG_URL names')),
      stop: () => Promise.resolve(),
    };
  }
  const bin = findPostgresBin();
  const root = mkdtempSync(join(tmpdir(), 'evdb-pg-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'sock');
  const logFile = join(root, 'server.log');
  mkdirSync(socketDir);
  // initdb refuses to run as root: hand the directory to the postgres user and run as it.
  const asUser = process.getuid?.() === 0 ? await postgresUser() : undefined;
  if (asUser !== undefined) {
    for (const path of [root, socketDir]) chownSync(path, asUser.uid, asUser.gid);
  }
  const exec = (program: string, args: string[]): Promise<{ stdout: string; stderr: string }> => {
    const path = join(bin, program);
    return asUser === undefined
      ? run(path, args, { timeout: 120_000 })
      : run('runuser', ['-u', asUser.name, '--', path, ...args], { timeout: 120_000 });
  };

  // If this process dies without calling stop() (a test runner's timeout, a SIGKILL), the
  // lifeline's pipe closes and it stops this cluster, by its data dir, and removes its files.
  const lifeline = startLifeline(bin, asUser?.name, dataDir, root);
  let started = false;
  const stop = async (): Promise<void> => {
    if (started) {
      started = false;
      await stopCluster(exec, dataDir);
    }
    rmSync(root, { recursive: true, force: true });
    lifeline.end();
  };
  try {
    // --no-sync only skips initdb's own flush of the template files; the server fsyncs its WAL.
    await exec('initdb', [
      '-D',
      dataDir,
      '--auth=trust',
      '--username=postgres',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    const port = await freePort();
    appendFileSync(
      join(dataDir, 'postgresql.conf'),
      [
        '',
        '# evdb test cluster',
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${socketDir}'`,
        'fsync = on',
        'synchronous_commit = on',
        'full_page_writes = on',
        'max_connections = 300',
        'shared_buffers = 64MB',
        'max_wal_size = 1GB',
        'checkpoint_timeout = 30min',
        'log_min_messages = warning',
        'log_min_error_statement = panic',
        '',
      ].join('\n'),
    );
    await exec('pg_ctl', ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile]);
    started = true;
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await waitReady(url);
    return {
      url,
      owned: true,
      restart: async (mode) => {
        await exec('pg_ctl', [
          'restart',
          '-w',
          '-t',
          '60',
          '-m',
          mode,
          '-D',
          dataDir,
          '-l',
          logFile,
        ]);
        await waitReady(url);
      },
      stop,
    };
  } catch (error) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4000) : '';
    await stop().catch(() => undefined);
    throw new Error(`could not start a test PostgreSQL cluster: ${String(error)}\n${log}`, {
      cause: error,
    });
  }
}

/**
 * A detached shell that waits for its stdin to close (this process ended it, or died), then
 * stops the cluster of `dataDir` (a no-op once stop() did) and removes `root`.
 */
function startLifeline(
  bin: string,
  user: string | undefined,
  dataDir: string,
  root: string,
): { end(): void } {
  const pgCtl = join(bin, 'pg_ctl');
  const script =
    'read _ignored; ' +
    (user === undefined ? '"$1"' : 'runuser -u "$4" -- "$1"') +
    ' stop -D "$2" -m immediate -w -t 30 >/dev/null 2>&1; rm -rf "$3"';
  const child = spawn('sh', ['-c', script, 'evdb-pg-lifeline', pgCtl, dataDir, root, user ?? ''], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.unref();
  // The pipe must not keep this process alive either.
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  child.stdin.on('error', () => undefined);
  return { end: () => child.stdin.end() };
}

/** `initdb`, `pg_ctl`: from PATH, else the newest /usr/lib/postgresql/<version>/bin. */
export function findPostgresBin(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')))
      return dir;
  }
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new Error(
      'PostgreSQL is not installed (no initdb on PATH or under /usr/lib/postgresql/*/bin); ' +
        'install it (apt-get install postgresql) or set EVDB_TEST_PG_URL',
    );
  }
  return join(base, newest, 'bin');
}

async function postgresUser(): Promise<{ name: string; uid: number; gid: number }> {
  const name = 'postgres';
  const uid = Number((await run('id', ['-u', name])).stdout.trim());
  const gid = Number((await run('id', ['-g', name])).stdout.trim());
  return { name, uid, gid };
}

/** Stops the cluster of this data dir only: pg_ctl by data dir, else its postmaster's own pid. */
async function stopCluster(
  exec: (program: string, args: string[]) => Promise<unknown>,
  dataDir: string,
): Promise<void> {
  try {
    await exec('pg_ctl', ['stop', '-w', '-t', '30', '-m', 'fast', '-D', dataDir]);
    return;
  } catch {
    // Fall through: kill the postmaster named in this cluster's own pid file.
  }
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      // Already gone.
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Waits until the server accepts queries (after a start or a crash recovery). */
export async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** A catalog schema name no other test uses, for `postgres({ schema })`. */
export function uniqueSchema(prefix = 't'): string {
  return `${prefix}${Math.random().toString(36).slice(2, 10)}`;
}

/** Drops a catalog schema and every store schema under it (for runs on a shared server). */
export async function dropSchemas(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname = $1 OR starts_with(nspname, $1 || '-')",
      [schema],
    );
    for (const { nspname } of rows) {
      await client.query(`DROP SCHEMA ${client.escapeIdentifier(nspname)} CASCADE`);
    }
  } finally {
    await client.end();
  }
}
