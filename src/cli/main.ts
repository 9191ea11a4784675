#!/usr/bin/env node
// The `evdb` command. Exit codes: 0 done, 1 the store or server refused (the error code is
// printed), 2 usage error, 3 the server or the storage could not be reached or used.
import { EvdbError } from '../core/errors.js';
import { UsageError } from './args.js';
import { CLIENT_COMMANDS, runClientCommand } from './commands.js';
import { OPS_COMMANDS, runOpsCommand } from './ops-commands.js';
import { SERVE_HELP, resolveServeConfig, serve } from './serve.js';
import { runTokenCommand } from './token.js';

export const EXIT = { ok: 0, error: 1, usage: 2, unreachable: 3 } as const;

const HELP = `evdb — an event store for TypeScript

Usage: evdb <command> [options]       evdb <command> --help for a command's options

Commands:
  serve           start a server (HTTP API, WebSocket, /health, /metrics)
  token           capability tokens: keygen, issue, delegate, inspect, revoke
${Object.entries({ ...CLIENT_COMMANDS, ...OPS_COMMANDS })
  .map(([name, command]) => `  ${name.padEnd(16)}${command.summary}`)
  .join('\n')}

Every command but serve works against a server (--url, --token) or directly on a data
directory (--data-dir) or PostgreSQL database (--pg-url).

Every failure is one line on stderr: evdb: <code>: <message>.
Exit codes: 0 ok, 1 the store or server answered with an error (its code is printed),
2 usage error, 3 the server or the storage could not be reached or used (unavailable,
timeout, no_workers): a server that is down, a busy port, a data directory that is a file
or held by another process, an unreachable PostgreSQL.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const out = (line: string): void => {
    process.stdout.write(line + '\n');
  };
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(HELP);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  try {
    if (name === 'serve') {
      const config = resolveServeConfig(args, process.env);
      if (config === 'help') out(SERVE_HELP);
      else await serve(config, out);
      return EXIT.ok;
    }
    if (name === 'token') {
      runTokenCommand(args, process.env, out);
      return EXIT.ok;
    }
    if (!(name in CLIENT_COMMANDS) && !(name in OPS_COMMANDS))
      throw new UsageError(`unknown command ${JSON.stringify(name)}`, HELP);
    const stopped = new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    const err = (line: string): void => {
      process.stderr.write(line + '\n');
    };
    const io = { out, err, env: process.env, stopped };
    if (name in OPS_COMMANDS) await runOpsCommand(name, args, io);
    else await runClientCommand(name, args, io);
    return EXIT.ok;
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`evdb: ${error.message}\n`);
    if (error.help !== undefined) process.stderr.write(`\n${error.help}\n`);
    return EXIT.usage;
  }
  if (error instanceof EvdbError) {
    const hint =
      error.details.reason === 'data_dir_locked'
        ? ' (use --url to go through the server that holds it)'
        : '';
    process.stderr.write(`evdb: ${error.code}: ${oneLine(error.message)}${hint}\n`);
    return isUnreachable(error) ? EXIT.unreachable : EXIT.error;
  }
  // Not an evdb error: a defect. One line still; EVDB_DEBUG=1 shows where it came from.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`evdb: internal: ${oneLine(message)}\n`);
  if (process.env.EVDB_DEBUG === '1' && error instanceof Error && error.stack !== undefined) {
    process.stderr.write(`${error.stack}\n`);
  }
  return EXIT.error;
}

/** The storage or the server could not be reached or used: what a retry later may fix. */
function isUnreachable(error: EvdbError): boolean {
  return error.code === 'unavailable' || error.code === 'timeout' || error.code === 'no_workers';
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

process.exitCode = await main(process.argv.slice(2));
