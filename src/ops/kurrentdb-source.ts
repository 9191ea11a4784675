// Reading a running KurrentDB (or EventStoreDB) through its official Node client,
// `@kurrent/kurrentdb-client`: an optional peer dependency, loaded only when an import from
// KurrentDB runs, so evdb itself never needs the client's native half.
import type {
  Filter,
  KurrentDBClient,
  Position,
  ResolvedEvent,
  AllStreamRecordedEvent,
} from '@kurrent/kurrentdb-client';
import type * as KurrentClientModule from '@kurrent/kurrentdb-client';
import { EvdbError, invalidArgument } from '../core/errors.js';

type ClientModule = typeof KurrentClientModule;

/** Which events of the source are copied. Stream filters and event-type filters combine. */
export interface KurrentImportFilter {
  /** Only streams whose name starts with one of these. */
  streamPrefixes?: string[];
  /** Only streams whose name matches this regular expression (RE2 syntax). */
  streamRegex?: string;
  /** Only events whose type starts with one of these. */
  eventTypePrefixes?: string[];
  /** Only events whose type matches this regular expression (RE2 syntax). */
  eventTypeRegex?: string;
  /**
   * Copy events of `$` types (link events `$>`, …) found in ordinary streams too. `$` streams
   * (`$$…` metadata, projections' `$ce-…`, …) are never copied: in an evdb store, `$` stream
   * ids belong to evdb.
   */
  includeSystemEvents?: boolean;
}

/** The connection-string schemes the KurrentDB and EventStoreDB clients accept. */
const SCHEMES = /^(kurrentdb|kurrent|kdb|esdb)(\+discover)?:\/\//i;

/** Streams whose first readable revision is remembered at once; past it the memo starts over. */
const MAX_REMEMBERED_STREAMS = 100_000;

/** A stream that cannot be read at all: every event of it is left out. */
const UNREADABLE = Number.POSITIVE_INFINITY;

export interface SourceEvent {
  streamId: string;
  revision: number;
  position: Position;
  record: AllStreamRecordedEvent;
}

/** The connection string without its credentials, to show and to name a checkpoint by. */
export function describeSource(connectionString: string): string {
  return connectionString.replace(/^([a-z+]+:\/\/)[^@/]*@/i, '$1');
}

export function assertSourceUrl(connectionString: string): void {
  if (!SCHEMES.test(connectionString)) {
    throw invalidArgument(
      `a KurrentDB source is a connection string (kurrentdb://, kurrent://, kdb:// or esdb://), got ${describeSource(connectionString)}`,
    );
  }
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

async function loadClient(): Promise<ClientModule> {
  try {
    return await import('@kurrent/kurrentdb-client');
  } catch (error) {
    throw new EvdbError(
      'unavailable',
      'importing from KurrentDB needs its official client: npm install @kurrent/kurrentdb-client',
      { cause: error, retriable: false, details: { reason: 'kurrentdb_client_missing' } },
    );
  }
}

/**
 * One KurrentDB server as an import reads it: `$all` forwards in pages, and which revisions of
 * each stream a reader of that stream still sees (its metadata's `$tb`, `$maxCount` and
 * `$maxAge`, a soft delete, a tombstone).
 */
export class KurrentDbSource {
  private readonly firstReadable = new Map<string, number>();
  /** Streams found tombstoned (hard-deleted). */
  readonly tombstoned = new Set<string>();

  private constructor(
    private readonly lib: ClientModule,
    private readonly client: KurrentDBClient,
    readonly description: string,
  ) {}

  static async connect(connectionString: string): Promise<KurrentDbSource> {
    assertSourceUrl(connectionString);
    const lib = await loadClient();
    const description = describeSource(connectionString);
    try {
      return new KurrentDbSource(
        lib,
        lib.KurrentDBClient.connectionString(connectionString),
        description,
      );
    } catch (error) {
      throw sourceError(description, error);
    }
  }

  /** The position of the last event of `$all` (undefined when it is empty). */
  async lastPosition(): Promise<Position | undefined> {
    const [last] = await this.page({ direction: 'backwards', fromPosition: 'end', maxCount: 1 });
    return last?.position;
  }

  /**
   * Up to `count` events of `$all` from `from` (included) forwards, kept to the filter the
   * server can apply (one expression: the stream names, else the event types, else no system
   * event types); the caller checks the rest.
   */
  async readPage(
    from: Position | undefined,
    count: number,
    filter: KurrentImportFilter,
  ): Promise<SourceEvent[]> {
    return this.page({
      direction: 'forwards',
      fromPosition: from ?? 'start',
      maxCount: count,
      filter: this.serverFilter(filter),
    });
  }

  /** The first revision of the stream a reader sees; Infinity when it cannot be read at all. */
  async firstReadableRevision(streamId: string): Promise<number> {
    const known = this.firstReadable.get(streamId);
    if (known !== undefined) return known;
    let first = UNREADABLE;
    try {
      for await (const resolved of this.client.readStream(streamId, { maxCount: 1 })) {
        if (resolved.event !== undefined) first = Number(resolved.event.revision);
      }
    } catch (error) {
      if (error instanceof this.lib.StreamDeletedError) this.tombstoned.add(streamId);
      else if (!(error instanceof this.lib.StreamNotFoundError)) {
        throw sourceError(this.description, error);
      }
    }
    if (this.firstReadable.size >= MAX_REMEMBERED_STREAMS) this.firstReadable.clear();
    this.firstReadable.set(streamId, first);
    return first;
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }

  private serverFilter(filter: KurrentImportFilter): Filter | undefined {
    const { streamNameFilter, eventTypeFilter, excludeSystemEvents } = this.lib;
    if (filter.streamRegex !== undefined) return streamNameFilter({ regex: filter.streamRegex });
    if (filter.streamPrefixes !== undefined && filter.streamPrefixes.length > 0) {
      return streamNameFilter({ prefixes: filter.streamPrefixes });
    }
    if (filter.eventTypeRegex !== undefined) {
      return eventTypeFilter({ regex: filter.eventTypeRegex });
    }
    if (filter.eventTypePrefixes !== undefined && filter.eventTypePrefixes.length > 0) {
      return eventTypeFilter({ prefixes: filter.eventTypePrefixes });
    }
    return filter.includeSystemEvents === true ? undefined : excludeSystemEvents();
  }

  private async page(options: {
    direction: 'forwards' | 'backwards';
    fromPosition: Position | 'start' | 'end';
    maxCount: number;
    filter?: Filter;
  }): Promise<SourceEvent[]> {
    const events: SourceEvent[] = [];
    try {
      const reading = this.client.readAll({
        direction: options.direction,
        fromPosition: options.fromPosition,
        maxCount: options.maxCount,
        ...(options.filter === undefined ? {} : { filter: options.filter }),
      });
      for await (const resolved of reading as AsyncIterable<ResolvedEvent>) {
        const record = resolved.event as AllStreamRecordedEvent | undefined;
        if (record === undefined || record.position === undefined) continue;
        events.push({
          streamId: record.streamId,
          revision: Number(record.revision),
          position: record.position,
          record,
        });
      }
    } catch (error) {
      throw sourceError(this.description, error);
    }
    return events;
  }
}

function sourceError(source: string, error: unknown): EvdbError {
  if (error instanceof EvdbError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new EvdbError('unavailable', `reading the KurrentDB source ${source}: ${message}`, {
    cause: error,
    details: { reason: 'kurrentdb_source' },
  });
}
