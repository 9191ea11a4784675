import type { RemoteApi } from '../protocol/operations.js';
import { Evdb } from '../embedded/evdb.js';
import {
  checkpointKey,
  importFromKurrentDb,
  storeCheckpoint,
  type KurrentImportFilter,
} from '../ops/import-kurrentdb.js';
import { describeSource } from '../ops/kurrentdb-source.js';
import { str, type OptionSpec, type Parsed } from './args.js';
import type { Io } from './commands.js';
import { progress } from './progress.js';

/** The options of `evdb import --from kurrentdb://…`. */
export const KURRENT_IMPORT_OPTIONS: OptionSpec = {
  from: { type: 'string' },
  'stream-prefix': { type: 'string', multiple: true },
  'stream-regex': { type: 'string' },
  'event-type-prefix': { type: 'string', multiple: true },
  'event-type-regex': { type: 'string' },
  'include-system-events': { type: 'boolean' },
};

export const KURRENT_IMPORT_HELP = `evdb import <store> --from <kurrentdb://…> [filters] [--batch N]

Copies the events of a running KurrentDB or EventStoreDB (a client connection string:
kurrentdb://, kurrent://, kdb:// or esdb://) into the store, created if missing, reading $all
forwards: ids, types, data, metadata, streams and order are kept. Needs the official client:
npm install @kurrent/kurrentdb-client. System events ($ types, $ streams) and events the
source no longer shows (deleted, truncated, tombstoned streams) are left out. A re-run after an
interruption resumes from a checkpoint kept in the store (when the store is opened directly,
with --data-dir or --pg-url) and writes nothing twice.

Filters (stream filters and event-type filters combine):
  --stream-prefix <p>       only streams starting with <p> (repeatable)
  --stream-regex <re>       only streams matching <re>
  --event-type-prefix <p>   only event types starting with <p> (repeatable)
  --event-type-regex <re>   only event types matching <re>
  --include-system-events   also events of $ types (link events $>) in ordinary streams`;

function filterOf(parsed: Parsed): KurrentImportFilter {
  const list = (name: string): string[] | undefined => {
    const value = parsed.values[name];
    return Array.isArray(value) ? value : undefined;
  };
  return {
    streamPrefixes: list('stream-prefix'),
    streamRegex: str(parsed, 'stream-regex'),
    eventTypePrefixes: list('event-type-prefix'),
    eventTypeRegex: str(parsed, 'event-type-regex'),
    includeSystemEvents: parsed.values['include-system-events'] === true,
  };
}

/** Runs `evdb import <store> --from <connection string>` into an opened target. */
export async function importFromKurrentCommand(
  parsed: Parsed,
  io: Io,
  store: RemoteApi,
  storeId: string,
  from: string,
  batchEvents: number | undefined,
): Promise<void> {
  const filter = filterOf(parsed);
  const checkpoint =
    store instanceof Evdb
      ? storeCheckpoint(store, storeId, checkpointKey(describeSource(from), filter))
      : undefined;
  if (checkpoint === undefined) {
    io.err(
      'import: through a server no checkpoint is kept; a re-run reads the source from the start (and writes nothing twice)',
    );
  }
  const bar = progress(`import ${storeId}`, (line) => io.err(line));
  const result = await importFromKurrentDb(store, storeId, from, {
    ...filter,
    batchEvents,
    checkpoint,
    onProgress: (p) => bar.update(Number(p.position), Number(p.lastPosition), 'positions'),
  });
  bar.stop();
  if (parsed.values.json === true) {
    io.out(JSON.stringify(result));
    return;
  }
  const resumed =
    result.resumedAfter === undefined ? '' : ` (resumed after position ${result.resumedAfter})`;
  io.out(
    `imported ${result.source} into ${storeId}${resumed}: ${result.read} event(s) read, ` +
      `${result.written} written, ${result.alreadyPresent} already present, ` +
      `${result.skippedSystem} system, ${result.skippedFiltered} filtered out, ` +
      `${result.skippedDeleted} deleted or truncated, ${result.tombstonedStreams} tombstoned stream(s), ` +
      `${result.batches} batch(es)`,
  );
  if (result.conflicts > 0) {
    io.err(
      `import: ${result.conflicts} event(s) not copied: the store holds their id in another stream ` +
        `(event ids are unique in an evdb store), e.g. ${result.conflictIds.join(', ')}`,
    );
  }
}
