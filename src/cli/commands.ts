// Over 400 lines: the table of the client commands (one entry each, with its help text and its
// argument parsing) reads best as one list; the helpers below it are shared by those entries.

import { ARCHIVES_COMMAND } from './archives.js';
import { CLUSTER_COMMAND } from './cluster.js';
import { printPagedList } from './paged-list.js';
import { readFileSync } from 'node:fs';
import type { RemoteApi } from '../protocol/operations.js';
import { EvdbError } from '../core/errors.js';
import {
  ANY_VERSION,
  NO_STREAM,
  STREAM_EXISTS,
  type EventRecord,
  type NewEvent,
} from '../core/types.js';
import { encodeWire } from '../protocol/wire.js';
import { UsageError, int, parse, positionals, str, type OptionSpec, type Parsed } from './args.js';
import { TARGET_HELP, TARGET_OPTIONS, openTarget } from './target.js';

export interface Io {
  out(line: string): void;
  /** Progress for people (stderr), never data. */
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  /** Resolves when the user asks to stop (Ctrl-C, SIGTERM): what `tail` waits on. */
  stopped: Promise<void>;
}

interface Command {
  summary: string;
  usage: string;
  options: OptionSpec;
  run(parsed: Parsed, store: RemoteApi, io: Io, help: string): Promise<void>;
}

const JSON_OPTION: OptionSpec = { json: { type: 'boolean' } };
const PAGE = 1000;
const MIN_IDLE_MS = 25;
const MAX_IDLE_MS = 500;

const COMMANDS: Record<string, Command> = {
  append: {
    summary: 'append events to a stream',
    usage: `evdb append <store> <stream> --type <eventType> [--data <json>] [options]
evdb append <store> <stream> --file <events.json | ->

Appends one event (--type, --data, --metadata, --tags) or the events of a file: a JSON array of
{eventType, data, metadata?, tags?, eventId?, ...}, or one such object per line ("-" reads stdin).
All events of one call are appended atomically. Prints the stream's new version and position.

Options:
  --type <eventType>            the event's type
  --data <json>                 its data (default null)
  --metadata <json>             a JSON object
  --tags <a,b,...>              tags, comma-separated
  --file <path | ->             events from a file or stdin
  --expected-version <v>        no-stream, exists, any (default) or an exact version
  --json                        print the result as JSON`,
    options: {
      type: { type: 'string' },
      data: { type: 'string' },
      metadata: { type: 'string' },
      tags: { type: 'string' },
      file: { type: 'string' },
      'expected-version': { type: 'string' },
      ...JSON_OPTION,
    },
    async run(parsed, store, io, help) {
      const [storeId, streamId] = positionals(parsed, ['store', 'stream'], help) as [
        string,
        string,
      ];
      const events = eventsOf(parsed, help);
      const expected = expectedVersionOf(str(parsed, 'expected-version'), help);
      const result = await store.appendEvents(storeId, streamId, events, expected);
      if (parsed.values.json === true) io.out(JSON.stringify(result));
      else
        io.out(
          `appended ${events.length} event(s): version ${result.version}, position ${result.position}`,
        );
    },
  },
  read: {
    summary: 'read a stream, or $all in global order',
    usage: `evdb read <store> <stream | $all> [--from N] [--count N] [--backward] [--json]

Prints one event per line: "#<position> <stream>@<version> <eventType> <data>", or with --json
one JSON event per line. A stream reads from version --from (default 0; --backward: from the
end); $all from global position --from (default 0).

Options:
  --from <n>      first version (stream) or position ($all)
  --count <n>     most events to print (default: all)
  --backward      newest first (streams only)
  --json          one JSON object per event`,
    options: {
      from: { type: 'string' },
      count: { type: 'string' },
      backward: { type: 'boolean' },
      ...JSON_OPTION,
    },
    async run(parsed, store, io, help) {
      const [storeId, source] = positionals(parsed, ['store', 'stream'], help) as [string, string];
      const backward = parsed.values.backward === true;
      if (backward && source === '$all')
        throw new UsageError('--backward reads streams only', help);
      let left = int(parsed, 'count', help, 0) ?? Number.POSITIVE_INFINITY;
      let from = int(parsed, 'from', help, backward ? -1 : 0) ?? (backward ? -1 : 0);
      const print = printer(parsed, io);
      while (left > 0) {
        const count = Math.min(PAGE, left);
        const page =
          source === '$all'
            ? await store.readAllGlobal(storeId, from, count)
            : await store.getEvents(
                storeId,
                source,
                from,
                count,
                backward ? 'backward' : 'forward',
              );
        for (const event of page) print(event);
        left -= page.length;
        if (page.length < count) break;
        const last = page[page.length - 1] as EventRecord;
        if (backward) {
          if (last.version === 0) break;
          from = last.version - 1;
        } else from = source === '$all' ? last.position + 1 : last.version + 1;
      }
    },
  },
  tail: {
    summary: 'follow a stream or $all, printing new events until Ctrl-C',
    usage: `evdb tail <store> <stream | $all> [--from N] [--json]

Prints events as they are appended, until interrupted (Ctrl-C or SIGTERM; exits 0). Starts after
the current end, or at version/position --from. Polls by position: right away while events keep
coming, backing off to ${MAX_IDLE_MS} ms when idle. A stream that does not exist yet is waited for.

Options:
  --from <n>      first version (stream) or position ($all) to print
  --json          one JSON object per event`,
    options: { from: { type: 'string' }, ...JSON_OPTION },
    async run(parsed, store, io, help) {
      const [storeId, source] = positionals(parsed, ['store', 'stream'], help) as [string, string];
      const all = source === '$all';
      let from =
        int(parsed, 'from', help, 0) ??
        (all
          ? (await store.getStoreStatus(storeId)).lastPosition + 1
          : (await store.getVersion(storeId, source)) + 1);
      const print = printer(parsed, io);
      io.err(`evdb: following ${storeId}/${source} from ${all ? 'position' : 'version'} ${from}`);
      let stopped = false;
      void io.stopped.then(() => (stopped = true));
      let idleMs = 0;
      while (!stopped) {
        let page: EventRecord[];
        try {
          page = all
            ? await store.readAllGlobal(storeId, from, PAGE)
            : await store.streamForward(storeId, source, from, PAGE);
        } catch (error) {
          if (!(error instanceof EvdbError && error.code === 'stream_not_found')) throw error;
          page = [];
        }
        for (const event of page) print(event);
        const last = page[page.length - 1];
        if (last !== undefined) from = all ? last.position + 1 : last.version + 1;
        if (page.length === PAGE) {
          idleMs = 0;
          continue;
        }
        idleMs = Math.min(MAX_IDLE_MS, Math.max(MIN_IDLE_MS, idleMs * 2));
        if (page.length > 0) idleMs = MIN_IDLE_MS;
        await Promise.race([io.stopped, new Promise((resolve) => setTimeout(resolve, idleMs))]);
      }
    },
  },
  streams: {
    summary: 'list the streams of a store, a page at a time',
    usage: `evdb streams <store> [--prefix <p> | --pattern <glob>] [--limit <n>] [--after <cursor>] [--json]

Prints the stream ids of the store in UTF-8 byte order, one per line, fetched 1 000 at a time, so
a store of millions of streams prints with bounded memory (--json: one JSON array, written as it
is fetched).

Options:
  --prefix <p>        only ids that start with <p>
  --pattern <glob>    only ids matching <glob> (* matches any run of characters)
  --limit <n>         print one page of at most <n> ids (1 to 10 000), then the cursor of the
                      next page on stderr (--json: one {streams, next} object)
  --after <cursor>    start after the page that gave this cursor
  --json              print JSON`,
    options: {
      prefix: { type: 'string' },
      pattern: { type: 'string' },
      limit: { type: 'string' },
      after: { type: 'string' },
      ...JSON_OPTION,
    },
    async run(parsed, store, io, help) {
      const [storeId] = positionals(parsed, ['store'], help) as [string];
      const json = parsed.values.json === true;
      const filter = { prefix: str(parsed, 'prefix'), pattern: str(parsed, 'pattern') };
      await printPagedList(io, {
        name: 'streams',
        json,
        limit: int(parsed, 'limit', help, 1),
        after: str(parsed, 'after'),
        fetch: async (after, limit) => {
          const page = await store.listStreams(storeId, { ...filter, after, limit });
          return { items: page.streams, next: page.next };
        },
      });
    },
  },
  archives: ARCHIVES_COMMAND,
  stats: {
    summary: "a store's counts: streams, events, snapshots, subscriptions, bytes on disk",
    usage: `evdb stats <store> [--json]

Prints the store's backend, stream, event, snapshot and subscription counts, last global
position and bytes on disk (storeStats and getStoreStatus).`,
    options: JSON_OPTION,
    async run(parsed, store, io, help) {
      const [storeId] = positionals(parsed, ['store'], help) as [string];
      const [status, stats] = await Promise.all([
        store.getStoreStatus(storeId),
        store.storeStats(storeId),
      ]);
      const all = { ...stats, backend: status.backend, lastPosition: status.lastPosition };
      if (parsed.values.json === true) io.out(JSON.stringify(all));
      else {
        io.out(`store          ${all.storeId}`);
        io.out(`backend        ${all.backend}`);
        io.out(`streams        ${all.streamCount}`);
        io.out(`events         ${all.totalEvents}`);
        io.out(`last position  ${all.lastPosition}`);
        io.out(`snapshots      ${all.snapshotCount}`);
        io.out(`subscriptions  ${all.subscriptionCount}`);
        io.out(`disk bytes     ${all.diskBytes}`);
      }
    },
  },
  subscriptions: {
    summary: "a store's persistent subscriptions, their checkpoints and lag",
    usage: `evdb subscriptions <store> [--limit <n>] [--after <cursor>] [--json]

Prints each persistent subscription of the store by name, fetched 1 000 at a time: name, type,
selector, checkpoint (the global position acknowledged so far, -1: none), lag (matching events
after it; "≤" when it is an upper bound) and, while a consumer runs it, the node holding its
lease ("held by <node>"). --json prints one JSON object per subscription, with its lag.

Options:
  --limit <n>         print one page of at most <n> subscriptions (1 to 10 000), then the cursor
                      of the next page on stderr
  --after <cursor>    start after the page that gave this cursor
  --json              print JSON`,
    options: {
      limit: { type: 'string' },
      after: { type: 'string' },
      ...JSON_OPTION,
    },
    async run(parsed, store, io, help) {
      const [storeId] = positionals(parsed, ['store'], help) as [string];
      const json = parsed.values.json === true;
      const limit = int(parsed, 'limit', help, 1);
      let after = str(parsed, 'after');
      let printed = 0;
      do {
        const page = await store.listSubscriptionPage(storeId, { after, limit: limit ?? PAGE });
        for (const sub of page.subscriptions) {
          const lag = await store.subscriptionLag(storeId, sub.name);
          printed++;
          if (json) io.out(JSON.stringify({ ...sub, lag }));
          else {
            io.out(
              `${sub.name}  ${sub.type} ${JSON.stringify(sub.selector)}  checkpoint ${sub.checkpoint}  lag ${lag.exact ? '' : '≤'}${lag.lagEvents}${sub.leaseHolder === null ? '' : `  held by ${sub.leaseHolder}`}`,
            );
          }
        }
        after = page.next ?? undefined;
        if (limit !== undefined) {
          if (after !== undefined) io.err(`evdb: more after this page: --after ${after}`);
          break;
        }
      } while (after !== undefined);
      if (printed === 0 && !json) io.err(`evdb: store ${storeId} has no persistent subscriptions`);
    },
  },
  stores: {
    summary: 'list, create or remove stores',
    usage: `evdb stores [--json]
evdb stores create <store>
evdb stores remove <store>

Without a subcommand, prints the store ids, one per line (--json: one JSON array).`,
    options: JSON_OPTION,
    async run(parsed, store, io, help) {
      const [action, storeId, ...rest] = parsed.positionals;
      if (action === undefined) {
        const stores = await store.listStores();
        if (parsed.values.json === true) io.out(JSON.stringify(stores));
        else if (stores.length === 0) io.err('evdb: there are no stores yet');
        else for (const id of stores) io.out(id);
        return;
      }
      if (
        (action !== 'create' && action !== 'remove') ||
        storeId === undefined ||
        rest.length > 0
      ) {
        throw new UsageError(
          `expected "stores", "stores create <store>" or "stores remove <store>"`,
          help,
        );
      }
      if (action === 'create') await store.createStore(storeId);
      else await store.removeStore(storeId);
      io.out(`${action === 'create' ? 'created' : 'removed'} store ${storeId}`);
    },
  },
  workers: {
    summary: 'list the live workers (server nodes) of a store',
    usage: `evdb workers <store> [--json]

Prints each live worker of the store: node id, host, URL and start time.`,
    options: JSON_OPTION,
    async run(parsed, store, io, help) {
      const [storeId] = positionals(parsed, ['store'], help) as [string];
      const workers = await store.getWorkers(storeId);
      if (parsed.values.json === true) io.out(JSON.stringify(workers));
      else {
        for (const w of workers) {
          io.out(
            `${w.nodeId}  ${w.host}  ${w.url ?? '-'}  since ${new Date(w.startedAt).toISOString()}`,
          );
        }
      }
    },
  },
  health: {
    summary: 'the health of a node and its stores',
    usage: `evdb health [--json]

Prints the node's status (healthy, degraded, unhealthy) and each store's. Exits 1 when not healthy.`,
    options: JSON_OPTION,
    async run(parsed, store, io) {
      const report = await store.health();
      if (parsed.values.json === true) io.out(JSON.stringify(report));
      else {
        io.out(`${report.status}  node ${report.node.nodeId}  workers ${report.workers.length}`);
        for (const s of report.stores) {
          io.out(
            `  ${s.storeId}  ${s.status}${s.error === undefined ? '' : `  ${s.error.code}: ${s.error.message}`}`,
          );
        }
      }
      if (report.status !== 'healthy') {
        throw new EvdbError('unavailable', `the node is ${report.status}`, { retriable: false });
      }
    },
  },
  cluster: CLUSTER_COMMAND,
};

export const CLIENT_COMMANDS = COMMANDS;

/** Runs a command that works on a store (through a server or a data directory). */
export async function runClientCommand(name: string, args: string[], io: Io): Promise<void> {
  const command = COMMANDS[name] as Command;
  const help = `${command.usage}\n\n${TARGET_HELP}`;
  const parsed = parse(args, { ...command.options, ...TARGET_OPTIONS }, help);
  if (parsed.values.help === true) {
    io.out(help);
    return;
  }
  // Only `stores create` (and `import`) make a data directory; any other command on one that
  // does not exist (a typo) says so instead of answering with nothing.
  const createsStore = name === 'stores' && parsed.positionals[0] === 'create';
  const store = await openTarget(parsed, io.env, help, createsStore);
  try {
    await command.run(parsed, store, io, help);
  } finally {
    await store.close();
  }
}

function printer(parsed: Parsed, io: Io): (event: EventRecord) => void {
  if (parsed.values.json === true) {
    return (event) => io.out(JSON.stringify(encodeWire(event, 'event')));
  }
  return (event) =>
    io.out(
      `#${event.position} ${event.streamId}@${event.version} ${event.eventType} ${JSON.stringify(encodeWire(event.data, 'data'))}`,
    );
}

function eventsOf(parsed: Parsed, help: string): NewEvent[] {
  const file = str(parsed, 'file');
  const type = str(parsed, 'type');
  if ((file === undefined) === (type === undefined)) {
    throw new UsageError('give --type (one event) or --file (events from a file)', help);
  }
  if (file !== undefined) {
    for (const flag of ['data', 'metadata', 'tags']) {
      if (parsed.values[flag] !== undefined)
        throw new UsageError(`--${flag} goes with --type, not --file`, help);
    }
    const text = readFileSync(file === '-' ? 0 : file, 'utf8').trim();
    if (text === '') throw new UsageError(`${file === '-' ? 'stdin' : file} holds no events`, help);
    try {
      const parsedJson = text.startsWith('[')
        ? (JSON.parse(text) as NewEvent[])
        : text
            .split('\n')
            .filter((line) => line.trim() !== '')
            .map((line) => JSON.parse(line) as NewEvent);
      return parsedJson;
    } catch (error) {
      throw new UsageError(
        `${file === '-' ? 'stdin' : file} is not JSON: ${(error as Error).message}`,
        help,
      );
    }
  }
  const event: NewEvent = {
    eventType: type as string,
    data: jsonOption(parsed, 'data', help) ?? null,
  };
  const metadata = jsonOption(parsed, 'metadata', help);
  if (metadata !== undefined) event.metadata = metadata as NewEvent['metadata'];
  const tags = str(parsed, 'tags');
  if (tags !== undefined) event.tags = tags.split(',').filter((tag) => tag !== '');
  return [event];
}

function jsonOption(parsed: Parsed, name: string, help: string): NewEvent['data'] | undefined {
  const raw = str(parsed, name);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as NewEvent['data'];
  } catch (error) {
    throw new UsageError(`--${name} is not JSON: ${(error as Error).message}`, help);
  }
}

function expectedVersionOf(raw: string | undefined, help: string): number | undefined {
  if (raw === undefined) return undefined;
  const named: Record<string, number> = {
    'no-stream': NO_STREAM,
    any: ANY_VERSION,
    exists: STREAM_EXISTS,
  };
  if (raw in named) return named[raw];
  if (/^\d+$/.test(raw)) return Number(raw);
  throw new UsageError(
    `--expected-version must be no-stream, exists, any or a version >= 0, got ${raw}`,
    help,
  );
}
