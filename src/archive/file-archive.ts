import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, type Dirent } from 'node:fs';
import { mkdir, open, opendir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip, gunzip } from 'node:zlib';
import { EvdbError, invalidArgument } from '../core/errors.js';
import type { EventRecord, JsonValue } from '../core/types.js';
import { compareUtf8 } from '../core/paging.js';
import {
  archiveKey,
  compareArchiveRanges,
  parseArchiveKey,
  type ArchiveBackend,
  type ArchiveListQuery,
  type ArchiveRange,
} from './archive-backend.js';
import { SmallestItems } from './smallest-items.js';

export interface FileArchiveOptions {
  /** The archive's root directory; created when the first range is written. */
  dir: string;
}

const gunzipAsync = promisify(gunzip);
const FORMAT = 'evdb-archive';
const FORMAT_VERSION = 1;
const SUFFIX = '.jsonl.gz';
/** Directory names longer than this are replaced by a hash (file names stop at 255 bytes). */
const MAX_DIR_NAME = 200;
/** Beside a hashed stream directory: the stream id it holds. */
const STREAM_ID_FILE = 'stream-id';

/**
 * The built-in archive: one gzip-compressed JSON-lines file per scavenged range, at
 * `<dir>/<store>/<stream>/<from>-<to>.jsonl.gz`. The first line describes the range, each
 * further line is one event. Files are written to a temporary name, fsynced, then renamed, so a
 * range is either fully archived or absent.
 *
 * @example
 * import { openEvdb, fileArchive } from 'evdb';
 * const evdb = await openEvdb({ archive: fileArchive({ dir: './archive' }) });
 */
export function fileArchive(options: FileArchiveOptions): ArchiveBackend {
  if (typeof options?.dir !== 'string' || options.dir === '') {
    throw invalidArgument('fileArchive({ dir }) needs a directory');
  }
  return new FileArchive(options.dir);
}

interface Header {
  format: typeof FORMAT;
  formatVersion: number;
  storeId: string;
  streamId: string;
  fromVersion: number;
  toVersion: number;
}

class FileArchive implements ArchiveBackend {
  constructor(private readonly dir: string) {}

  async write(range: ArchiveRange, pages: AsyncIterable<EventRecord[]>): Promise<string> {
    const streamDir = join(this.dir, range.storeId, streamDirName(range.streamId));
    await mkdir(streamDir, { recursive: true });
    if (streamDirName(range.streamId).startsWith('#')) {
      await writeFile(join(streamDir, STREAM_ID_FILE), range.streamId);
    }
    const path = join(streamDir, `${range.fromVersion}-${range.toVersion}${SUFFIX}`);
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const header: Header = { format: FORMAT, formatVersion: FORMAT_VERSION, ...range };
    let written = 0;
    async function* lines(): AsyncGenerator<string> {
      yield JSON.stringify(header) + '\n';
      let expected = range.fromVersion;
      for await (const page of pages) {
        let chunk = '';
        for (const event of page) {
          if (event.streamId !== range.streamId || event.version !== expected) {
            throw new EvdbError(
              'unavailable',
              `archiving ${archiveKey(range)}: expected version ${expected}, read ${event.version} ` +
                '(the stream changed meanwhile; nothing was deleted)',
            );
          }
          expected++;
          chunk += JSON.stringify(encodeEvent(event)) + '\n';
        }
        written += page.length;
        if (chunk !== '') yield chunk;
      }
    }
    try {
      await pipeline(Readable.from(lines()), createGzip(), createWriteStream(temporary));
      const expected = range.toVersion - range.fromVersion + 1;
      if (written !== expected) {
        throw new EvdbError(
          'unavailable',
          `archiving ${archiveKey(range)}: read ${written} events, expected ${expected} ` +
            '(the stream changed meanwhile; nothing was deleted)',
        );
      }
      await fsync(temporary);
      await rename(temporary, path);
      await fsyncDirectory(streamDir);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return archiveKey(range);
  }

  async read(key: string): Promise<EventRecord[]> {
    const range = parseArchiveKey(key);
    const path = join(
      this.dir,
      range.storeId,
      streamDirName(range.streamId),
      `${range.fromVersion}-${range.toVersion}${SUFFIX}`,
    );
    let compressed: Buffer;
    try {
      compressed = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      throw new EvdbError('not_found', `no archive ${JSON.stringify(key)}`, { details: { key } });
    }
    const events: EventRecord[] = [];
    let header: Header | undefined;
    try {
      for (const line of (await gunzipAsync(compressed)).toString('utf8').split('\n')) {
        if (line === '') continue;
        if (header === undefined) header = JSON.parse(line) as Header;
        else events.push(decodeEvent(JSON.parse(line) as EncodedEvent));
      }
    } catch (error) {
      throw new EvdbError('internal', `archive ${JSON.stringify(key)} is unreadable`, {
        cause: error,
        details: { key },
      });
    }
    if (
      header?.format !== FORMAT ||
      header.streamId !== range.streamId ||
      events.length !== range.toVersion - range.fromVersion + 1
    ) {
      throw new EvdbError('internal', `archive ${JSON.stringify(key)} is damaged`, {
        details: { key },
      });
    }
    return events;
  }

  /**
   * One page of a store's ranges, read from its directories with `opendir` (entries stream in,
   * never the whole listing at once). A directory's entries come in no useful order, so what a
   * page costs is honest but not small: memory follows the page (the `limit` smallest entries
   * are kept as they stream by), but time follows the store: every page reads every entry of
   * the store's directory (one per stream with archives, plus reading the `stream-id` file of
   * each stream whose id was too long for a directory name), then the entries of the streams
   * the page takes ranges from. Walking all of a store with S archived streams in pages of L
   * reads about S²/L directory entries.
   */
  async listPage(storeId: string, query: ArchiveListQuery): Promise<ArchiveRange[]> {
    const storeDir = join(this.dir, storeId);
    const page: ArchiveRange[] = [];
    const rangesOf = async (streamId: string, dirName: string, after: ArchiveRange | undefined) => {
      const ranges = new SmallestItems(query.limit - page.length, compareArchiveRanges);
      for await (const entry of entriesOf(join(storeDir, dirName))) {
        const match = RANGE_FILE.exec(entry.name);
        if (match === null || !entry.isFile()) continue;
        const range = {
          storeId,
          streamId,
          fromVersion: Number(match[1]),
          toVersion: Number(match[2]),
        };
        if (after === undefined || compareArchiveRanges(range, after) > 0) ranges.offer(range);
      }
      page.push(...ranges.items);
    };
    if (query.streamId !== undefined) {
      await rangesOf(query.streamId, streamDirName(query.streamId), query.after);
      return page;
    }
    // Streams at or after the cursor's, the fewest that can fill the page (each archived stream
    // holds a range), then more of them if some were empty.
    let fromStream = query.after?.streamId;
    let inclusive = true;
    for (;;) {
      const streams = new SmallestItems<{ streamId: string; dirName: string }>(
        query.limit - page.length,
        (a, b) => compareUtf8(a.streamId, b.streamId),
      );
      for await (const entry of entriesOf(storeDir)) {
        if (!entry.isDirectory()) continue;
        const streamId = await streamIdOf(storeDir, entry.name);
        if (streamId === undefined) continue;
        if (fromStream !== undefined) {
          const order = compareUtf8(streamId, fromStream);
          if (order < 0 || (order === 0 && !inclusive)) continue;
        }
        streams.offer({ streamId, dirName: entry.name });
      }
      for (const { streamId, dirName } of streams.items) {
        await rangesOf(streamId, dirName, query.after);
        if (page.length === query.limit) return page;
      }
      const last = streams.items[streams.items.length - 1];
      if (!streams.truncated || last === undefined) return page;
      fromStream = last.streamId;
      inclusive = false;
    }
  }
}

/** An archived range's file name: `<from>-<to>.jsonl.gz`. */
const RANGE_FILE = /^(\d+)-(\d+)\.jsonl\.gz$/;

/**
 * A reversible directory name for a stream id: every byte outside `[A-Za-z0-9_-]` is
 * percent-encoded (so no name is `.`, `..` or holds a slash). Ids whose name would be too long
 * get `#` and a hash instead, with the id kept in a file beside the archives.
 */
function streamDirName(streamId: string): string {
  const encoded = Array.from(Buffer.from(streamId, 'utf8'), (byte) =>
    /[A-Za-z0-9_-]/.test(String.fromCharCode(byte))
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
  ).join('');
  if (encoded.length <= MAX_DIR_NAME) return encoded;
  return '#' + createHash('sha256').update(streamId).digest('hex');
}

/**
 * The stream id a directory holds the ranges of; undefined for a hashed directory without its
 * `stream-id` file (a write stopped before it, so the directory holds no range).
 */
async function streamIdOf(storeDir: string, dirName: string): Promise<string | undefined> {
  if (!dirName.startsWith('#')) return decodeURIComponent(dirName);
  try {
    return await readFile(join(storeDir, dirName, STREAM_ID_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** A directory's entries as they are read (none if it is missing), not all at once. */
async function* entriesOf(dir: string): AsyncGenerator<Dirent> {
  let handle;
  try {
    handle = await opendir(dir, { bufferSize: 256 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  // Iterating a Dir closes it at the end, and when the loop leaves early.
  yield* handle;
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename durable. Some platforms cannot open directories; they need no fsync for it. */
async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw error;
  } finally {
    await handle.close();
  }
}

type EncodedEvent = Omit<EventRecord, 'data'> & { data?: JsonValue; dataBytes?: string };

/** Binary data goes to `dataBytes` (base64), so no JSON value needs escaping. */
function encodeEvent(event: EventRecord): EncodedEvent {
  const { data, ...rest } = event;
  return data instanceof Uint8Array
    ? { ...rest, dataBytes: Buffer.from(data).toString('base64') }
    : { ...rest, data };
}

function decodeEvent(encoded: EncodedEvent): EventRecord {
  const { dataBytes, data, ...rest } = encoded;
  return {
    ...rest,
    metadata: rest.metadata,
    data:
      dataBytes === undefined
        ? (data as JsonValue)
        : new Uint8Array(Buffer.from(dataBytes, 'base64')),
  };
}
