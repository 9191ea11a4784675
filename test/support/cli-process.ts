import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The built binary, as `npm install` links it (`bin.evdb` in package.json). */
export const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

const run = promisify(execFile);

/** Builds the package (`npm run build`), as `prepare` does on install. */
export async function buildPackage(): Promise<void> {
  await run(
    process.execPath,
    [
      fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)),
      '-p',
      'tsconfig.build.json',
    ],
    {
      cwd: ROOT,
      timeout: 120_000,
    },
  );
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `evdb` with arguments and returns its exit code and output. */
export async function evdb(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(options.input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** The environment without EVDB_* variables, so the caller's shell cannot change a test. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('EVDB_')),
  );
}

/** A long-running `evdb` (serve, tail): its lines as they come, and signals by pid. */
export interface CliProcess {
  child: ChildProcess;
  lines: string[];
  errors: string[];
  /** Resolves with the first stdout line matching `pattern`. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<string>;
  /** Sends the signal to the process's pid and resolves with its exit code. */
  signal(signal: NodeJS.Signals): Promise<number | null>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const lines: string[] = [];
  const errors: string[] = [];
  const waiters: { pattern: RegExp; stream: string; resolve(line: string): void }[] = [];
  const watch = (input: Readable, stream: string, into: string[]): void => {
    createInterface({ input }).on('line', (line) => {
      into.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.stream === stream && waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
  };
  watch(child.stdout, 'stdout', lines);
  watch(child.stderr, 'stderr', errors);
  return {
    child,
    lines,
    errors,
    waitFor(pattern, stream = 'stdout', timeoutMs = 15_000) {
      const seen = (stream === 'stdout' ? lines : errors).find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no ${stream} line matching ${pattern} within ${timeoutMs} ms; stderr: ${errors.join('\n')}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          pattern,
          stream,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(
            new Error(
              `evdb exited with ${code} before printing ${pattern}; stderr: ${errors.join('\n')}`,
            ),
          );
        });
      });
    },
    async signal(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
