import { EvdbError, invalidArgument } from '../core/errors.js';
import type {
  ScavengeMatchingEntry,
  ScavengeMatchingOptions,
  ScavengeOptions,
  ScavengeResult,
} from '../core/feature-types.js';
import type { EventRecord } from '../core/types.js';
import type { ArchiveBackend } from '../archive/archive-backend.js';
import type { Store } from '../store/store.js';
import { eachStreamId } from '../store/stream-listing.js';
import {
  assertInteger,
  assertMicros,
  assertStreamId,
  optionalBoolean,
  optionsObject,
} from '../core/validation.js';
import { globMatcher } from '../core/glob.js';
import type { MemoryMonitor } from './memory-monitor.js';
import { existingStream, latestVersionAt } from './temporal.js';

/** Events read per page while archiving. */
const ARCHIVE_PAGE = 5000;

/** Scavenge options as the embedded store takes them: `archive` may be an archive backend. */
export type EmbeddedScavengeOptions = Omit<ScavengeOptions, 'archive'> & {
  archive?: boolean | ArchiveBackend;
};

export interface ScavengeContext {
  store: Store;
  memory: MemoryMonitor;
  /** The archive `archive: true` means. */
  defaultArchive: ArchiveBackend;
  /** Runs scavenges of one stream one at a time within this process. */
  exclusive<T>(key: string, work: () => Promise<T>): Promise<T>;
}

interface Plan {
  from: number;
  to: number;
}

/**
 * Deletes a stream's oldest events: those below `beforeVersion`, else those up to
 * `versionAt(before)`, never the newest `keepVersions`. The head stays, so the stream's version
 * and the store's positions never move back and appends continue after the last version.
 * With an archive, the events are written there (durably) before anything is deleted.
 */
export async function scavenge(
  context: ScavengeContext,
  streamId: string,
  rawOptions: EmbeddedScavengeOptions | undefined,
  dryRun: boolean,
): Promise<ScavengeResult> {
  assertStreamId(streamId);
  const options = scavengeOptions(rawOptions);
  const archive =
    options.archive === true
      ? context.defaultArchive
      : options.archive === false
        ? undefined
        : options.archive;
  const { store } = context;
  return context.exclusive(`${store.storeId}\u0000${streamId}`, async () => {
    const plan = await planScavenge(store, streamId, options);
    const base: ScavengeResult = {
      streamId,
      deletedCount: 0,
      deletedVersions: null,
      archived: false,
    };
    if (dryRun) base.dryRun = true;
    if (plan === undefined) return base;
    const range: [number, number] = [plan.from, plan.to];
    if (dryRun) return { ...base, deletedCount: plan.to - plan.from + 1, deletedVersions: range };
    let archiveKey: string | undefined;
    if (archive !== undefined) {
      archiveKey = await archive.write(
        { storeId: store.storeId, streamId, fromVersion: plan.from, toVersion: plan.to },
        pages(context, streamId, plan),
      );
    }
    store.assertOpen();
    const deletedCount = await store.log.truncateStream(streamId, plan.to + 1);
    const result: ScavengeResult = { ...base, deletedCount, deletedVersions: range };
    if (archiveKey !== undefined) {
      result.archived = true;
      result.archiveKey = archiveKey;
    }
    return result;
  });
}

/**
 * Scavenges every stream whose id matches `pattern` (`*` matches any run of characters).
 * `$`-prefixed (system) streams match only a pattern that itself starts with `$`. A stream that
 * fails is reported with its error; the others go on.
 */
export async function scavengeMatching(
  context: ScavengeContext,
  pattern: string,
  rawOptions: (Omit<ScavengeMatchingOptions, 'archive'> & EmbeddedScavengeOptions) | undefined,
): Promise<ScavengeMatchingEntry[]> {
  if (typeof pattern !== 'string' || pattern === '') {
    throw invalidArgument('pattern must be a non-empty string (`*` matches any characters)');
  }
  const { dryRun: rawDryRun, ...options } = optionsObject(rawOptions);
  const dryRun = optionalBoolean('dryRun', rawDryRun, false);
  scavengeOptions(options); // a bad option fails the call, not every stream
  const matches = globMatcher(pattern);
  const system = pattern.startsWith('$');
  context.store.assertOpen();
  const entries: ScavengeMatchingEntry[] = [];
  const literalStart = pattern.includes('*') ? pattern.slice(0, pattern.indexOf('*')) : pattern;
  for await (const streamId of eachStreamId(context.store.log, literalStart)) {
    if ((!system && streamId.startsWith('$')) || !matches(streamId)) continue;
    try {
      entries.push({ ok: true, ...(await scavenge(context, streamId, options, dryRun)) });
    } catch (error) {
      const failure =
        error instanceof EvdbError
          ? { code: error.code, message: error.message }
          : { code: 'internal' as const, message: String(error) };
      entries.push({ ok: false, streamId, error: failure });
    }
  }
  return entries;
}

interface ResolvedOptions {
  before: number | undefined;
  beforeVersion: number | undefined;
  keepVersions: number;
  requireSnapshot: boolean;
  archive: boolean | ArchiveBackend;
}

function scavengeOptions(raw: EmbeddedScavengeOptions | undefined): ResolvedOptions {
  const options = optionsObject(raw);
  const { before, beforeVersion, keepVersions = 0, archive = false } = options;
  if (typeof archive !== 'boolean' && !isArchiveBackend(archive)) {
    throw invalidArgument(
      'archive must be true, false or an archive backend (write, read and listPage)',
    );
  }
  return {
    before: before === undefined ? undefined : assertMicros('before', before),
    beforeVersion:
      beforeVersion === undefined ? undefined : assertInteger('beforeVersion', beforeVersion, 0),
    keepVersions: assertInteger('keepVersions', keepVersions, 0),
    requireSnapshot: optionalBoolean('requireSnapshot', options.requireSnapshot, true),
    archive,
  };
}

function isArchiveBackend(value: unknown): value is ArchiveBackend {
  const candidate = value as Partial<ArchiveBackend> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.write === 'function' &&
    typeof candidate.read === 'function' &&
    typeof candidate.listPage === 'function'
  );
}

/** The versions to delete, or undefined when there are none. */
async function planScavenge(
  store: Store,
  streamId: string,
  options: ResolvedOptions,
): Promise<Plan | undefined> {
  const facts = await existingStream(store, streamId);
  let cutoff = -1;
  if (options.beforeVersion !== undefined) cutoff = options.beforeVersion - 1;
  else if (options.before !== undefined) {
    cutoff = await latestVersionAt(store, streamId, options.before);
  }
  cutoff = Math.min(cutoff, facts.version - options.keepVersions);
  const first = facts.first?.version;
  if (first === undefined || cutoff < first) return undefined;
  if (options.requireSnapshot) {
    const { latestVersion } = await store.log.snapshots.streamStats(streamId);
    if (latestVersion === undefined || latestVersion < cutoff) {
      throw new EvdbError(
        'no_snapshot',
        `scavenging '${streamId}' up to version ${cutoff} needs a snapshot at version ${cutoff} ` +
          `or later (${latestVersion === undefined ? 'it has none' : `the latest is at ${latestVersion}`}); ` +
          'record one, or pass requireSnapshot: false',
        {
          details: {
            storeId: store.storeId,
            streamId,
            cutoff,
            latestSnapshotVersion: latestVersion ?? null,
          },
        },
      );
    }
  }
  return { from: first, to: cutoff };
}

/** The range's events in pages, sized for the memory level when each page is read. */
async function* pages(
  context: ScavengeContext,
  streamId: string,
  plan: Plan,
): AsyncGenerator<EventRecord[]> {
  let next = plan.from;
  while (next <= plan.to) {
    const count = Math.min(context.memory.batchSize(ARCHIVE_PAGE), plan.to - next + 1);
    context.store.assertOpen();
    const page = await context.store.log.readStream(streamId, next, count, 'forward');
    const inRange = page.filter((event) => event.version <= plan.to);
    if (inRange.length === 0) return;
    yield inRange;
    next = (inRange[inRange.length - 1] as EventRecord).version + 1;
  }
}
