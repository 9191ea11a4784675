import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./server-process.ts', import.meta.url));

/** An evdb server in a child process, started with `process.execPath --import tsx`. */
export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** SIGKILL, then wait for the process to be gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful close), then wait for the exit. */
  stop(): Promise<void>;
}

export async function startServerProcess(
  dataDir: string,
  options: { port?: number; tokens?: unknown[] } = {},
): Promise<ServerProcess> {
  const args = ['--import', 'tsx', SCRIPT, dataDir, String(options.port ?? 0)];
  if (options.tokens !== undefined) args.push(JSON.stringify(options.tokens));
  // The IPC channel is only a lifeline: the server exits when this process goes away.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout as Readable });
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => line as string),
    exited.then(([code]) => {
      throw new Error(`the server process exited with ${String(code)} before listening`);
    }),
  ]);
  const { url } = JSON.parse(first) as { url: string };
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exited;
    }
  };
  return {
    url,
    port: Number(new URL(url).port),
    child,
    kill: () => stopWith('SIGKILL'),
    stop: () => stopWith('SIGTERM'),
  };
}
