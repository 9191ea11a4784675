import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openEvdb, sqlite, type EventRecord, type NewEvent } from '../src/index.js';
import type { Ack, CrashMetadata } from './support/crash-writer.js';

/**
 * Crash test for the SQLite backend: a child process appends from many concurrent loops and
 * reports each acknowledged append; it is SIGKILLed at a random moment, and the store must then
 * hold every acknowledged append in full, no append in part, and still accept appends. The data
 * directory is reused, so later rounds crash a store that already holds data.
 */

/** Kill rounds; set EVDB_CRASH_ROUNDS for a longer soak (each round is one to three seconds). */
const ROUNDS = Number(process.env.EVDB_CRASH_ROUNDS ?? 4);
assert.ok(
  Number.isSafeInteger(ROUNDS) && ROUNDS > 0,
  'EVDB_CRASH_ROUNDS must be a positive integer',
);
const STORE = 'crash';
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const writerScript = fileURLToPath(new URL('./support/crash-writer.ts', import.meta.url));

interface ChildRun {
  lines: string[];
  stderr: string;
  signal: NodeJS.Signals | null;
  code: number | null;
  /** Milliseconds the child wrote for before it was killed. */
  ranMs: number;
}

describe('crash: SIGKILL during concurrent appends (sqlite, synchronous full)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'evdb-crash-'));
  let child: ChildProcess | undefined;
  after(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Every append acknowledged so far, in every round (and after it). */
  const acknowledged: Ack[] = [];

  /** Starts the writer, kills it 300-1500 ms after it is ready, and returns its full lines. */
  const runWriter = async (): Promise<ChildRun> => {
    const proc = spawn(process.execPath, ['--import', 'tsx', writerScript, dataDir, STORE], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        proc.once('error', reject);
        proc.once('close', (code, signal) => resolve({ code, signal }));
      },
    );
    let exited = false;
    void closed.then(() => (exited = true));

    const deadline = Date.now() + 20_000;
    while (!stdout.startsWith('ready\n')) {
      if (exited || Date.now() > deadline) {
        proc.kill('SIGKILL');
        await closed;
        assert.fail(`the writer did not get ready:\n${stdout}\n${stderr}`);
      }
      await sleep(10);
    }
    const runFor = 300 + Math.floor(Math.random() * 1200);
    await sleep(runFor);
    if (exited) {
      const errors = stdout.split('\n').filter((line) => line.startsWith('error'));
      assert.fail(`the writer stopped on its own:\n${errors.join('\n')}\n${stderr}`);
    }
    assert.ok(proc.kill('SIGKILL'), 'SIGKILL was delivered');
    const { code, signal } = await closed;
    // Everything up to the last newline was written whole; a trailing fragment is dropped.
    const lines = stdout.split('\n').slice(0, -1);
    return { lines, stderr, code, signal, ranMs: runFor };
  };

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: acknowledged appends survive in full, none is partial, appends go on`, async (t) => {
      const run = await runWriter();
      assert.equal(run.signal, 'SIGKILL', `the writer was killed, not exited (${run.code})`);
      const errors = run.lines.filter((line) => line.startsWith('error'));
      assert.deepEqual(errors, [], `the writer reported errors:\n${run.stderr}`);
      const acks = run.lines
        .filter((line) => line.startsWith('ack '))
        .map((line) => JSON.parse(line.slice(4)) as Ack);
      assert.equal(run.lines.length, 1 + acks.length, 'only ready and ack lines');
      assert.ok(acks.length > 0, `the writer acknowledged appends in ${run.ranMs} ms`);
      acknowledged.push(...acks);

      // The file the kill left behind is a sound SQLite database (once its WAL is replayed).
      const db = new Database(join(dataDir, `${STORE}.sqlite`));
      try {
        assert.deepEqual(db.pragma('integrity_check', { simple: true }), 'ok');
      } finally {
        db.close();
      }

      const evdb = await openEvdb({ backend: sqlite({ dataDir }) });
      try {
        const all = await readAll(evdb.readAllGlobal.bind(evdb));
        assert.ok(all.length > 0);

        // $all: strictly increasing positions, so no duplicates; unique event ids.
        for (let i = 1; i < all.length; i++) {
          const [prev, next] = [all[i - 1] as EventRecord, all[i] as EventRecord];
          assert.ok(next.position > prev.position, `positions ${prev.position}, ${next.position}`);
        }
        const byId = new Map(all.map((e) => [e.eventId, e]));
        assert.equal(byId.size, all.length, 'event ids are unique');

        // Every stream: versions contiguous from 0, in position order; heads agree.
        const streams = new Map<string, EventRecord[]>();
        for (const e of all) streams.set(e.streamId, [...(streams.get(e.streamId) ?? []), e]);
        for (const [streamId, events] of streams) {
          assert.deepEqual(
            events.map((e) => e.version),
            events.map((_, i) => i),
            `stream ${streamId} versions are contiguous from 0`,
          );
          assert.equal(await evdb.getVersion(STORE, streamId), events.length - 1, streamId);
          const read = await evdb.streamForward(STORE, streamId, 0, events.length + 10);
          assert.deepEqual(
            read.map((e) => [e.eventId, e.version, e.position]),
            events.map((e) => [e.eventId, e.version, e.position]),
            `stream ${streamId} reads as in $all`,
          );
        }
        assert.deepEqual(await evdb.getStreams(STORE), [...streams.keys()].sort());
        const status = await evdb.getStoreStatus(STORE);
        assert.equal(status.totalEvents, all.length, 'status counts every event');
        assert.equal(status.streamCount, streams.size, 'status counts every stream');
        assert.equal(status.lastPosition, (all[all.length - 1] as EventRecord).position);

        // All or nothing: each append's events are all there (and only once each).
        const appends = new Map<string, EventRecord[]>();
        for (const e of all) {
          const { appendId } = e.metadata as unknown as CrashMetadata;
          appends.set(appendId, [...(appends.get(appendId) ?? []), e]);
        }
        for (const [appendId, events] of appends) {
          const meta = events.map((e) => e.metadata as unknown as CrashMetadata);
          assert.deepEqual(
            meta.map((m) => m.index).sort((a, b) => a - b),
            Array.from({ length: (meta[0] as CrashMetadata).events }, (_, i) => i),
            `append ${appendId} is whole`,
          );
          const epochs = new Set(events.map((e) => e.epochUs));
          assert.equal(epochs.size, 1, `append ${appendId} shares one timestamp`);
        }

        // Every acknowledged append, from every round, is there as acknowledged.
        for (const ack of acknowledged) {
          for (const write of ack.writes) {
            const first = write.version - write.eventIds.length + 1;
            write.eventIds.forEach((eventId, i) => {
              const stored = byId.get(eventId);
              assert.ok(stored !== undefined, `acknowledged event ${eventId} (${ack.appendId})`);
              assert.equal(stored.streamId, write.streamId, eventId);
              assert.equal(stored.version, first + i, eventId);
              assert.equal((stored.metadata as unknown as CrashMetadata).appendId, ack.appendId);
              if (i === write.eventIds.length - 1) assert.equal(stored.position, write.position);
            });
          }
        }

        const ackedIds = new Set(acknowledged.map((ack) => ack.appendId));
        const unacked = [...appends.keys()].filter((id) => !ackedIds.has(id)).length;
        t.diagnostic(
          `killed after ${run.ranMs} ms, ${acks.length} appends acknowledged; the store holds ` +
            `${all.length} events in ${streams.size} streams from ${appends.size} appends, of ` +
            `which ${unacked} were committed but not acknowledged before a kill (all rounds)`,
        );

        // The store takes appends again, right after the crash, and positions go on.
        const afterCrash = (count: number): { appendId: string; events: NewEvent[] } => {
          const appendId = randomUUID();
          const events = Array.from({ length: count }, (_, index) => ({
            eventType: 'AfterCrash',
            data: { round },
            metadata: { appendId, events: count, index },
            eventId: randomUUID(),
          }));
          return { appendId, events };
        };
        const ids = (events: NewEvent[]): string[] => events.map((e) => e.eventId as string);
        const one = afterCrash(3);
        const newStream = `after-crash-${round}`;
        const fresh = await evdb.appendEvents(STORE, newStream, one.events, -1);
        assert.deepEqual(fresh, { version: 2, position: status.lastPosition + 3 });
        acknowledged.push({
          appendId: one.appendId,
          writes: [{ streamId: newStream, eventIds: ids(one.events), ...fresh }],
        });
        const [oldStream, oldEvents] = [...streams][0] as [string, EventRecord[]];
        const two = afterCrash(2);
        const { results } = await evdb.appendBatch(STORE, [
          { streamId: oldStream, expectedVersion: oldEvents.length - 1, events: two.events },
        ]);
        const expected = { version: oldEvents.length + 1, position: fresh.position + 2 };
        assert.deepEqual(results, [{ streamId: oldStream, ...expected }]);
        acknowledged.push({
          appendId: two.appendId,
          writes: [{ streamId: oldStream, eventIds: ids(two.events), ...expected }],
        });
      } finally {
        await evdb.close();
      }
    });
  }
});

async function readAll(
  readAllGlobal: (storeId: string, from: number, count: number) => Promise<EventRecord[]>,
): Promise<EventRecord[]> {
  const all: EventRecord[] = [];
  for (let from = 0; ;) {
    const page = await readAllGlobal(STORE, from, 5000);
    const last = page[page.length - 1];
    if (last === undefined) return all;
    all.push(...page);
    from = last.position + 1;
  }
}
