import { createReadStream, createWriteStream, readdirSync, statSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';
import type { Backend } from '../backends/log-backend.js';
import { sqlite } from '../backends/sqlite/sqlite-backend.js';
import { EvdbError } from '../core/errors.js';
import {
  BACKUP_SUFFIX,
  backupAllStores,
  backupStore,
  restoreStore,
  type BackupResult,
} from '../ops/backup.js';
import { exportStore } from '../ops/export.js';
import { importStore } from '../ops/import.js';
import {
  KURRENT_IMPORT_HELP,
  KURRENT_IMPORT_OPTIONS,
  importFromKurrentCommand,
} from './import-kurrent.js';
import { verifyStore } from '../ops/verify.js';
import { UsageError, int, parse, positionals, str, type OptionSpec, type Parsed } from './args.js';
import type { Io } from './commands.js';
import { progress } from './progress.js';
import { TARGET_HELP, TARGET_OPTIONS, openTarget } from './target.js';

/** Commands that copy, check or move a whole store. */
interface OpsCommand {
  summary: string;
  usage: string;
  options: OptionSpec;
  /** Whether the command takes any target (a server too) or storage only. */
  target: 'any' | 'storage';
  run(parsed: Parsed, io: Io, help: string): Promise<void>;
}

const STORAGE_OPTIONS: OptionSpec = {
  'data-dir': { type: 'string' },
  'pg-url': { type: 'string' },
  url: { type: 'string' },
};

const STORAGE_HELP = `Where (one of):
  --data-dir <dir>    the SQLite data directory (env EVDB_DATA_DIR); safe while a server runs on it
  --pg-url <url>      the PostgreSQL database (env EVDB_PG_URL); safe while servers run on it`;

const COMMANDS: Record<string, OpsCommand> = {
  backup: {
    summary: 'back a store (or every store) up while it stays in use',
    usage: `evdb backup <store> <dest-file> [--data-dir <dir> | --pg-url <url>]
evdb backup --all <dest-dir>

Writes a backup of the store as of one instant (one point of its log) while servers and other
processes keep reading and writing it. SQLite: a copy of the store's file (SQLite's online
backup API). PostgreSQL: the store's rows from one snapshot. --all writes one
<store>${BACKUP_SUFFIX} file per store into <dest-dir>. The destination must not exist.

Options:
  --all           every store of the data directory or database
  --json          print the result as JSON`,
    options: { all: { type: 'boolean' }, json: { type: 'boolean' } },
    target: 'storage',
    async run(parsed, io, help) {
      const backend = await openStorage(parsed, io, help);
      try {
        let results: BackupResult[];
        if (parsed.values.all === true) {
          const [destDir] = positionals(parsed, ['dest-dir'], help) as [string];
          let bar = progress('backup', (line) => io.err(line));
          results = await backupAllStores(backend, destDir, {
            onStore: (storeId) => {
              bar.stop();
              bar = progress(`backup ${storeId}`, (line) => io.err(line));
            },
            onProgress: (p) => bar.update(p.done, p.total, p.unit),
          });
          bar.stop();
        } else {
          const [storeId, dest] = positionals(parsed, ['store', 'dest-file'], help) as [
            string,
            string,
          ];
          const bar = progress(`backup ${storeId}`, (line) => io.err(line));
          results = [
            await backupStore(backend, storeId, dest, {
              onProgress: (p) => bar.update(p.done, p.total, p.unit),
            }),
          ];
          bar.stop();
        }
        for (const r of results) {
          if (parsed.values.json === true) io.out(JSON.stringify(r));
          else
            io.out(
              `backed up ${r.storeId}: ${r.totalEvents} event(s) up to position ${r.lastPosition}, ${r.bytes} bytes`,
            );
        }
      } finally {
        await backend.close();
      }
    },
  },
  restore: {
    summary: 'create a store from a backup',
    usage: `evdb restore <store> <backup-file> [--data-dir <dir> | --pg-url <url>]
evdb restore --all <backup-dir>

Creates the store from a backup taken by the same kind of backend (SQLite or PostgreSQL). The
store must not exist: remove it first (evdb stores remove) or restore under another name. The
store appears whole or not at all. --all restores every <store>${BACKUP_SUFFIX} file of the directory.
Run evdb verify on the store afterwards.

Options:
  --all           every backup file of the directory
  --json          print the result as JSON`,
    options: { all: { type: 'boolean' }, json: { type: 'boolean' } },
    target: 'storage',
    async run(parsed, io, help) {
      const backend = await openStorage(parsed, io, help);
      try {
        const jobs: [string, string][] = [];
        if (parsed.values.all === true) {
          const [dir] = positionals(parsed, ['backup-dir'], help) as [string];
          for (const name of readdirSync(dir).sort()) {
            if (name.endsWith(BACKUP_SUFFIX)) {
              jobs.push([name.slice(0, -BACKUP_SUFFIX.length), join(dir, name)]);
            }
          }
          if (jobs.length === 0)
            throw new UsageError(`${dir} holds no *${BACKUP_SUFFIX} file`, help);
        } else {
          jobs.push(positionals(parsed, ['store', 'backup-file'], help) as [string, string]);
        }
        for (const [storeId, src] of jobs) {
          const bar = progress(`restore ${storeId}`, (line) => io.err(line));
          const r = await restoreStore(backend, storeId, src, {
            onProgress: (p) => bar.update(p.done, p.total, p.unit),
          });
          bar.stop();
          if (parsed.values.json === true) io.out(JSON.stringify(r));
          else
            io.out(
              `restored ${r.storeId}: ${r.totalEvents} event(s) up to position ${r.lastPosition}`,
            );
        }
      } finally {
        await backend.close();
      }
    },
  },
  verify: {
    summary: "check a store's integrity; exits 1 when it is not sound",
    usage: `evdb verify <store> [--json]

Reads the whole store, through its log and through every index, and checks that positions
strictly increase, each stream's versions follow one another without a gap, each stream's head
is its last event, reading a stream, an event type or a tag returns exactly the log's events,
and the counters agree with the log. Prints each problem with what is wrong and where, then a
summary. Exits 0 when the store is sound, 1 when it is not.

Options:
  --json          print the report as JSON`,
    options: { json: { type: 'boolean' } },
    target: 'any',
    async run(parsed, io, help) {
      const [storeId] = positionals(parsed, ['store'], help) as [string];
      const store = await openTarget(parsed, io.env, help);
      try {
        const report = await verifyStore(store, storeId, {
          onPhase: (phase) => io.err(`verify ${storeId}: ${phase}`),
        });
        if (parsed.values.json === true) io.out(JSON.stringify(report));
        else {
          for (const p of report.problems) io.out(`${p.check}  ${p.where}: ${p.message}`);
          io.out(
            `${storeId} is ${report.sound ? 'sound' : `NOT sound (${report.problems.length} problem(s))`}: ` +
              `${report.events} event(s), ${report.streams} stream(s), ${report.eventTypes} event type(s), ` +
              `${report.tags} tag(s), last position ${report.lastPosition}`,
          );
        }
        if (!report.sound) {
          throw new EvdbError('internal', `store '${storeId}' failed verification`, {
            details: { problems: report.problems.length },
            retriable: false,
          });
        }
      } finally {
        await store.close();
      }
    },
  },
  export: {
    summary: 'write a store (or some streams, or a position range) as NDJSON',
    usage: `evdb export <store> [--out <file>] [--stream <id> | --streams <pattern>] [--from P] [--to P]

Writes one JSON object per line, each event with everything that identifies it: eventId,
streamId, version, position, eventType, data, metadata, tags, causationId, correlationId,
epochUs (µs since the epoch) and content types (bytes as {"$bytes": "<base64>"}), in global
order. The range ends at the store's last position when the export starts. Memory stays bounded:
one page is read at a time. Progress goes to stderr, the events to --out or stdout.

Options:
  --out <file>          write to this file (must not exist) instead of stdout
  --stream <id>         only this stream
  --streams <pattern>   only streams matching the pattern, * matching anything (e.g. order-*)
  --from <position>     first global position (default 0)
  --to <position>       last global position (default: the store's last position)`,
    options: {
      out: { type: 'string' },
      stream: { type: 'string' },
      streams: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
    },
    target: 'any',
    async run(parsed, io, help) {
      const [storeId] = positionals(parsed, ['store'], help) as [string];
      if (parsed.values.stream !== undefined && parsed.values.streams !== undefined) {
        throw new UsageError('give --stream or --streams, not both', help);
      }
      const outPath = str(parsed, 'out');
      const fromPosition = int(parsed, 'from', help, 0);
      const toPosition = int(parsed, 'to', help, 0);
      const store = await openTarget(parsed, io.env, help);
      const sink =
        outPath === undefined ? process.stdout : createWriteStream(outPath, { flags: 'wx' });
      const bar = progress(`export ${storeId}`, (line) => io.err(line));
      try {
        const result = await exportStore(store, storeId, sink, {
          streamId: str(parsed, 'stream'),
          streamPattern: str(parsed, 'streams'),
          fromPosition,
          toPosition,
          onProgress: (p) => bar.update(p.position + 1, p.toPosition + 1, 'positions'),
        });
        bar.stop();
        if (sink !== process.stdout) {
          sink.end();
          await finished(sink);
        }
        io.err(
          `exported ${result.events} event(s) of ${storeId}, positions ${result.fromPosition}..${result.toPosition}`,
        );
      } finally {
        await store.close();
      }
    },
  },
  import: {
    summary: 'read NDJSON (as export writes it), or a running KurrentDB, into a store',
    usage: `evdb import <store> <file | -> [--batch N]

Appends the events of an export file ("-": stdin) to the store, created if missing, in atomic
batches that keep the file's order. Event ids, types, data, metadata, tags, causation and
correlation ids are kept; positions and times are the store's own. Events already in the store
(a re-run after an interruption) are recognised by their ids and not written again. Link streams
($link:...) are skipped: a link rebuilds its stream. Prints a summary.

${KURRENT_IMPORT_HELP}

Options:
  --batch <n>     events per atomic batch (default 5000)
  --json          print the summary as JSON`,
    options: { batch: { type: 'string' }, json: { type: 'boolean' }, ...KURRENT_IMPORT_OPTIONS },
    target: 'any',
    async run(parsed, io, help) {
      const from = str(parsed, 'from');
      const batchEvents = int(parsed, 'batch', help, 1);
      if (from !== undefined) {
        const [storeId] = positionals(parsed, ['store'], help) as [string];
        const store = await openTarget(parsed, io.env, help, true);
        try {
          await importFromKurrentCommand(parsed, io, store, storeId, from, batchEvents);
        } finally {
          await store.close();
        }
        return;
      }
      const [storeId, file] = positionals(parsed, ['store', 'file'], help) as [string, string];
      const total = file === '-' ? 0 : statSync(file).size;
      const input = file === '-' ? process.stdin : createReadStream(file);
      const store = await openTarget(parsed, io.env, help, true);
      const bar = progress(`import ${storeId}`, (line) => io.err(line));
      try {
        const result = await importStore(store, storeId, input, {
          batchEvents,
          onProgress: (p) => bar.update(p.bytes, Math.max(total, p.bytes), 'bytes'),
        });
        bar.stop();
        if (parsed.values.json === true) io.out(JSON.stringify(result));
        else
          io.out(
            `imported into ${storeId}: ${result.read} event(s) read, ${result.written} written, ` +
              `${result.alreadyPresent} already present, ${result.skippedLinkEvents} link event(s) skipped, ` +
              `${result.batches} batch(es)`,
          );
      } finally {
        await store.close();
      }
    },
  },
};

export const OPS_COMMANDS: Readonly<Record<string, { summary: string }>> = COMMANDS;

/** Runs one of the commands above. */
export async function runOpsCommand(name: string, args: string[], io: Io): Promise<void> {
  const command = COMMANDS[name] as OpsCommand;
  const help = `${command.usage}\n\n${command.target === 'any' ? TARGET_HELP : STORAGE_HELP}`;
  const parsed = parse(
    args,
    { ...command.options, ...(command.target === 'any' ? TARGET_OPTIONS : STORAGE_OPTIONS) },
    help,
  );
  if (parsed.values.help === true) {
    io.out(help);
    return;
  }
  await command.run(parsed, io, help);
}

/** The storage a backup or restore works on: a data directory or a PostgreSQL database. */
async function openStorage(parsed: Parsed, io: Io, help: string): Promise<Backend> {
  if (str(parsed, 'url') !== undefined) {
    throw new UsageError(
      'backup and restore work on storage, beside a running server: give --data-dir or --pg-url',
      help,
    );
  }
  const dataDir = str(parsed, 'data-dir');
  const pgUrl = str(parsed, 'pg-url');
  if (dataDir !== undefined && pgUrl !== undefined) {
    throw new UsageError('give one of --data-dir and --pg-url', help);
  }
  const dir = dataDir ?? (pgUrl === undefined ? io.env.EVDB_DATA_DIR : undefined);
  const url = pgUrl ?? (dir === undefined ? io.env.EVDB_PG_URL : undefined);
  if (dir !== undefined) return sqlite({ dataDir: dir });
  if (url !== undefined) {
    const { postgres } = await import('../backends/postgres/index.js');
    return postgres({ url });
  }
  throw new UsageError('give --data-dir or --pg-url', help);
}
