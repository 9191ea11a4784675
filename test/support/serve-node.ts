import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from './cli-process.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** An `evdb serve` node in its own process (from the sources, through tsx). */
export interface ServeNode {
  url: string;
  /** With `--kurrent-port`: the connection string it printed for KurrentDB clients. */
  kurrentConnectionString: string | undefined;
  /** Read from its first JSON log line; undefined when it logs nothing (`--log-level silent`). */
  nodeId: string | undefined;
  child: ChildProcess;
  /** Sends `signal` (SIGTERM: graceful, SIGKILL: crash) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `evdb serve --port 0 <args>` with `env` added to a clean environment, and `nodeFlags`
 * given to Node itself (e.g. `--cpu-prof`, which `NODE_OPTIONS` does not take).
 */
export async function startServeNode(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeFlags: string[] = [],
): Promise<ServeNode> {
  const child = spawn(
    process.execPath,
    [...nodeFlags, '--import', 'tsx', CLI, 'serve', '--port', '0', ...args],
    { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit');
  const withKurrent = args.includes('--kurrent-port');
  let nodeId: string | undefined;
  let url: string | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith('{')) nodeId ??= (JSON.parse(line) as { nodeId?: string }).nodeId;
    url ??= /^evdb listening on (\S+)$/.exec(line)?.[1];
    // With --kurrent-port, the endpoint's connection string is printed next.
    const kurrent = /^KurrentDB clients: (\S+)$/.exec(line)?.[1];
    if (url !== undefined && (!withKurrent || kurrent !== undefined)) {
      // Keep reading (the node logs a line per request), or its stdout pipe fills up.
      child.stdout.resume();
      return {
        url,
        kurrentConnectionString: kurrent,
        nodeId,
        child,
        stop: async (signal = 'SIGTERM') => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill(signal);
          await exited;
        },
      };
    }
  }
  throw new Error('evdb serve exited before listening');
}
