import type { RemoteApi } from '../protocol/operations.js';
import { int, positionals, str, type OptionSpec, type Parsed } from './args.js';
import { printPagedList } from './paged-list.js';

const USAGE = `evdb archives <store> [--stream <id>] [--limit <n>] [--after <cursor>] [--json]

Prints the keys of the store's archived ranges (<store>/<stream>/<from>-<to>, what scavenging with
an archive wrote), by stream id in UTF-8 byte order, then by version, one per line, fetched 1 000
at a time (--json: one JSON array, written as it is fetched).

Options:
  --stream <id>       only the ranges of this stream
  --limit <n>         print one page of at most <n> keys (1 to 10 000), then the cursor of the
                      next page on stderr (--json: one {archives, next} object)
  --after <cursor>    start after the page that gave this cursor
  --json              print JSON`;

/** `evdb archives`: a store's archived ranges, a page at a time. */
export const ARCHIVES_COMMAND = {
  summary: "list a store's archived ranges, a page at a time",
  usage: USAGE,
  options: {
    stream: { type: 'string' },
    limit: { type: 'string' },
    after: { type: 'string' },
    json: { type: 'boolean' },
  } satisfies OptionSpec,
  async run(
    parsed: Parsed,
    store: RemoteApi,
    io: { out(line: string): void; err(line: string): void },
    help: string,
  ): Promise<void> {
    const [storeId] = positionals(parsed, ['store'], help) as [string];
    const streamId = str(parsed, 'stream');
    await printPagedList(io, {
      name: 'archives',
      json: parsed.values.json === true,
      limit: int(parsed, 'limit', help, 1),
      after: str(parsed, 'after'),
      fetch: async (after, limit) => {
        const page = await store.listArchivePage(storeId, { streamId, after, limit });
        return { items: page.archives, next: page.next };
      },
    });
  },
};
