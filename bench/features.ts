import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { postgres } from '../src/backends/postgres/index.js';
import { uuidv7 } from '../src/core/ids.js';
import { openEvdb, sqlite, type Evdb, type EventRecord, type StreamWrite } from '../src/index.js';
import { startPostgres } from '../test/support/postgres.js';
import { progress, scaled, stats, verify, type BenchOptions, type Row, type Stats } from './lib.js';
import { payload } from './workload.js';

/**
 * The store features' reads must cost what they return, not what the store holds: each read
 * workload runs on a store of 1 000 000 events and, as the baseline in the same run, on one of
 * 100 000 events with the same shape (streams of 1000 events written in commits of 100,
 * correlation groups of 10 events chained by causation). A ratio near 1 means the time does not
 * grow with the store. Scavenging is measured on a 100 000-event stream, archived, against
 * deleting such a stream outright.
 */

const EVENTS_PER_STREAM = 1000;
/** Events of one stream in one commit: what a readRange of one commit's time returns. */
const EVENTS_PER_COMMIT = 100;
const GROUP = 10;
/** Reads per measured run. */
const READS = 500;

interface StoreShape {
  storeId: string;
  streams: number;
  /** A commit time of each stream (`s-<k>`, the commit that wrote versions 300..399). */
  commitTimes: Map<string, number>;
  /** Correlation ids, and the last event id of each group (its causation chain's end). */
  groups: { correlationId: string; lastEventId: string }[];
}

/**
 * Fills a store: streams of 1000 events, each written in 10 commits of 100 (appendBatch of 100
 * streams at a time), correlation groups of 10 consecutive events of a stream, each caused by
 * the one before.
 */
async function fillStore(evdb: Evdb, storeId: string, totalEvents: number): Promise<StoreShape> {
  await evdb.createStore(storeId);
  const streams = Math.max(1, Math.round(totalEvents / EVENTS_PER_STREAM));
  const batchStreams = Math.min(100, streams);
  const groups: StoreShape['groups'] = [];
  let n = 0;
  const started = performance.now();
  for (let round = 0; round < EVENTS_PER_STREAM / EVENTS_PER_COMMIT; round++) {
    for (let first = 0; first < streams; first += batchStreams) {
      const writes: StreamWrite[] = [];
      for (let k = first; k < Math.min(first + batchStreams, streams); k++) {
        const events = [];
        let previous: string | undefined;
        for (let i = 0; i < EVENTS_PER_COMMIT; i++) {
          const eventId = uuidv7();
          const group = Math.floor(n / GROUP);
          const correlationId = `corr-${storeId}-${group}`;
          events.push({
            eventType: i % 2 === 0 ? 'OrderPlaced' : 'OrderPaid',
            data: payload(n),
            eventId,
            correlationId,
            ...(n % GROUP === 0 || previous === undefined ? {} : { causationId: previous }),
          });
          previous = eventId;
          if (n % GROUP === GROUP - 1 && groups.length < 10_000) {
            groups.push({ correlationId, lastEventId: eventId });
          }
          n++;
        }
        writes.push({ streamId: `s-${k}`, events });
      }
      await evdb.appendBatch(storeId, writes);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  progress(`  ${storeId}: ${n} events in ${seconds.toFixed(1)} s`);
  const commitTimes = new Map<string, number>();
  for (let k = 0; k < streams; k++) {
    const [event] = await evdb.streamForward(storeId, `s-${k}`, 300, 1);
    commitTimes.set(`s-${k}`, (event as EventRecord).epochUs);
  }
  return { storeId, streams, commitTimes, groups };
}

/** Rates of `reads` calls of `read(i)` per run, `runs` times, the two stores alternating. */
async function measureReads(
  runs: number,
  big: (i: number) => Promise<void>,
  small: (i: number) => Promise<void>,
): Promise<[Stats, Stats]> {
  const rate = async (read: (i: number) => Promise<void>, run: number): Promise<number> => {
    const started = performance.now();
    for (let i = 0; i < READS; i++) await read(run * READS + i);
    return READS / ((performance.now() - started) / 1000);
  };
  const bigRates: number[] = [];
  const smallRates: number[] = [];
  // One warm-up round each (page cache, prepared statements), not counted.
  await rate(big, runs);
  await rate(small, runs);
  for (let run = 0; run < runs; run++) {
    bigRates.push(await rate(big, run));
    smallRates.push(await rate(small, run));
  }
  return [stats(bigRates), stats(smallRates)];
}

async function readWorkloads(
  suite: string,
  evdb: Evdb,
  big: StoreShape,
  small: StoreShape,
  options: BenchOptions,
): Promise<Row[]> {
  const rows: Row[] = [];
  const pick = <T>(list: readonly T[], i: number): T => list[(i * 7919) % list.length] as T;
  const bigLabel = `${Math.round((big.streams * EVENTS_PER_STREAM) / 1000)}k`;
  const smallLabel = `${Math.round((small.streams * EVENTS_PER_STREAM) / 1000)}k`;
  const row = (workload: string, unit: string, result: [Stats, Stats]): Row => ({
    suite,
    workload,
    unit,
    evdb: result[0],
    baselineName: `same on a ${smallLabel}-event store`,
    baseline: result[1],
    target: { ratio: 0.7, label: '≥ 0.70: cost does not grow with the store' },
  });

  progress(`readRange of one commit (${EVENTS_PER_COMMIT} events), ${bigLabel} vs ${smallLabel}`);
  const readRange = (shape: StoreShape) => async (i: number) => {
    const streamId = `s-${(i * 7919) % shape.streams}`;
    const at = shape.commitTimes.get(streamId) as number;
    const events = await evdb.readRange(shape.storeId, streamId, at, at);
    verify(
      events.length === EVENTS_PER_COMMIT &&
        events.every(
          (e, k) => e.epochUs === at && e.version === 300 + k && e.streamId === streamId,
        ),
      'readRange returns the commit, in version order',
    );
  };
  rows.push(
    row(
      `readRange, ${EVENTS_PER_COMMIT} events, ${bigLabel}-event store`,
      'reads/s',
      await measureReads(options.runs, readRange(big), readRange(small)),
    ),
  );

  progress(`getCorrelated (${GROUP} events), ${bigLabel} vs ${smallLabel}`);
  const correlated = (shape: StoreShape) => async (i: number) => {
    const { correlationId } = pick(shape.groups, i);
    const events = await evdb.getCorrelated(shape.storeId, correlationId);
    verify(
      events.length === GROUP && events.every((e) => e.correlationId === correlationId),
      'getCorrelated returns the group',
    );
  };
  rows.push(
    row(
      `getCorrelated, ${GROUP} events, ${bigLabel}-event store`,
      'reads/s',
      await measureReads(options.runs, correlated(big), correlated(small)),
    ),
  );

  progress(`getCausationChain (${GROUP} events), ${bigLabel} vs ${smallLabel}`);
  const chain = (shape: StoreShape) => async (i: number) => {
    const { lastEventId, correlationId } = pick(shape.groups, i);
    const events = await evdb.getCausationChain(shape.storeId, lastEventId);
    verify(
      events.length === GROUP &&
        events[GROUP - 1]?.eventId === lastEventId &&
        events.every(
          (e, k) =>
            e.correlationId === correlationId &&
            (k === 0 || e.causationId === events[k - 1]?.eventId),
        ),
      'getCausationChain returns the chain, root first',
    );
  };
  rows.push(
    row(
      `getCausationChain, ${GROUP} events, ${bigLabel}-event store`,
      'chains/s',
      await measureReads(options.runs, chain(big), chain(small)),
    ),
  );
  return rows;
}

/** Scavenging a 100 000-event stream with the file archive, against deleting such a stream. */
async function scavengeWorkload(suite: string, evdb: Evdb, options: BenchOptions): Promise<Row> {
  const size = scaled(options, 100_000);
  progress(`scavenge of a ${size}-event stream with archive, vs deleteStream`);
  const fill = async (storeId: string, streamId: string): Promise<void> => {
    for (let written = 0; written < size; written += 10_000) {
      const count = Math.min(10_000, size - written);
      await evdb.appendEvents(
        storeId,
        streamId,
        Array.from({ length: count }, (_, i) => ({
          eventType: 'OrderPlaced',
          data: payload(written + i),
        })),
      );
    }
  };
  const scavengeRates: number[] = [];
  const deleteRates: number[] = [];
  for (let run = 0; run < options.runs; run++) {
    const storeId = `scavenge-${run}`;
    await evdb.createStore(storeId);
    await fill(storeId, 'archived');
    await fill(storeId, 'deleted');
    let started = performance.now();
    const result = await evdb.scavenge(storeId, 'archived', {
      beforeVersion: size,
      requireSnapshot: false,
      archive: true,
    });
    scavengeRates.push(result.deletedCount / ((performance.now() - started) / 1000));
    verify(result.deletedCount === size && result.archived, 'scavenge deleted and archived all');
    started = performance.now();
    const deleted = await evdb.deleteStream(storeId, 'deleted');
    deleteRates.push(deleted.deletedCount / ((performance.now() - started) / 1000));
    verify(deleted.deletedCount === size, 'deleteStream deleted all');
    if (run === 0) {
      const archived = await evdb.readArchive(storeId, result.archiveKey as string);
      verify(
        archived.length === size && archived.every((e, i) => e.version === i),
        'the archive holds every scavenged event, in order',
      );
    }
    verify((await evdb.streamInfo(storeId, 'archived')).version === size - 1, 'version kept');
    await evdb.removeStore(storeId);
  }
  return {
    suite,
    workload: `scavenge of a ${size}-event stream, archived (gzip file, fsynced)`,
    unit: 'events/s',
    evdb: stats(scavengeRates),
    baselineName: 'deleteStream of such a stream',
    baseline: stats(deleteRates),
  };
}

async function runSuite(suite: string, evdb: Evdb, options: BenchOptions): Promise<Row[]> {
  progress('filling the stores');
  const big = await fillStore(evdb, 'features-big', scaled(options, 1_000_000));
  const small = await fillStore(evdb, 'features-small', scaled(options, 100_000));
  const rows = await readWorkloads(suite, evdb, big, small, options);
  rows.push(await scavengeWorkload(suite, evdb, options));
  return rows;
}

/** The store features on the default backend (SQLite, synchronous=full). */
export async function runFeaturesBench(options: BenchOptions): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'evdb-bench-features-'));
  const evdb = await openEvdb({ backend: sqlite({ dataDir: dir }) });
  try {
    return await runSuite('features, sqlite', evdb, options);
  } finally {
    await evdb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same on PostgreSQL (a throwaway cluster; archives in a temp directory). */
export async function runFeaturesPostgresBench(options: BenchOptions): Promise<Row[]> {
  const server = await startPostgres();
  const archiveDir = mkdtempSync(join(tmpdir(), 'evdb-bench-features-pg-'));
  const evdb = await openEvdb({
    backend: postgres({ url: server.url, schema: 'evdb_features' }),
    archiveDir,
  });
  try {
    return await runSuite('features, postgres', evdb, options);
  } finally {
    for (const storeId of await evdb.listStores()) await evdb.removeStore(storeId);
    await evdb.close();
    await server.stop();
    rmSync(archiveDir, { recursive: true, force: true });
  }
}
