import { spawn, type ChildProcess } from 'node:child_process';
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** A child script under test/support, run as its own OS process through tsx. */
export interface Child<M> {
  process: ChildProcess;
  /** Every JSON line the child printed so far, in order. */
  messages: M[];
  /** Resolves with the exit code (or the signal) once the child has exited and its output is read. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when a message satisfying `match` has arrived (or at once if it already has). */
  waitFor(match: (message: M) => boolean, timeoutMs?: number): Promise<M>;
  /** Sends one JSON line to the child's stdin. */
  send(message: unknown): void;
  stderr(): string;
}

export function spawnChild<M>(script: string, config: unknown): Child<M> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', path, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const messages: M[] = [];
  const waiters: { match: (m: M) => boolean; resolve: (m: M) => void }[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    let message: M;
    try {
      message = JSON.parse(line) as M;
    } catch {
      // A line cut short by a SIGKILL: it was never acknowledged as a whole, so it does not count.
      return;
    }
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.match(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  const outputDone = new Promise<void>((resolve) => lines.once('close', resolve));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      void outputDone.then(() => resolve({ code, signal }));
    });
  });
  return {
    process: child,
    messages,
    exited,
    waitFor(match, timeoutMs = 30_000) {
      const found = messages.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(`child ${script} did not print the awaited message; stderr:\n${stderr}`),
          );
        }, timeoutMs);
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`child ${script} exited first; stderr:\n${stderr}`));
        });
      });
    },
    send(message) {
      child.stdin.write(JSON.stringify(message) + '\n');
    },
    stderr: () => stderr,
  };
}

/** For child scripts: prints one JSON line synchronously, so it is out before the next step. */
export function emit(message: unknown): void {
  writeSync(1, JSON.stringify(message) + '\n');
}

/** For child scripts: the JSON config given as the first argument. */
export function childConfig<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('missing JSON config argument');
  return JSON.parse(raw) as T;
}

/** For child scripts: JSON lines from the parent, one at a time. */
export function parentMessages(): AsyncIterable<unknown> {
  const lines = createInterface({ input: process.stdin });
  return (async function* () {
    for await (const line of lines) {
      if (line.trim() !== '') yield JSON.parse(line) as unknown;
    }
  })();
}
