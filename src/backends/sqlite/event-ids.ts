import type Database from 'better-sqlite3';
import { isLinkStream, type PlannedEvent } from '../event-log.js';
import { preparedOnUse, type Statement } from './statements.js';

/**
 * Where the event ids of a store file are found (outside link streams, which repeat their
 * source events' ids and have their own index).
 *
 * Ids are indexed in `event_ids` only up to the store's fold point (`counted_through`, moved
 * every few thousand positions with the counters, migrations.ts, the seventh migration); the
 * ids of the events after it, the tail, are held here in memory, read from the tail of the log
 * on first use. A random id indexed at each commit lands on its own leaf of the index, so a
 * group commit of 64 events wrote tens of index pages to the write-ahead log; the fold inserts a
 * few thousand ids in one transaction, each leaf written once. This is exact because one process
 * writes a store file (`multiProcess: false`, the data directory lock): nothing else adds events
 * behind this map, and a new process reads the tail again.
 *
 * Ids are unique in a store: each commit looks every caller-chosen id up here before it is
 * written (the planner), and `event_ids` is keyed by the id, so a fold would fail rather than
 * store one twice.
 */
export class EventIds {
  private readonly statements;
  /** Ids of the events after the fold point, and their positions; read on first use. */
  private tail: Map<string, number> | undefined;
  /**
   * The greatest id in `event_ids` ('' for none), read on first use. An id above it that the
   * tail does not hold is not stored, and needs no lookup: time-ordered ids (UUIDv7) mostly are.
   * Ids compare as their text: lower-case hex in fixed places, so text order is byte order.
   */
  private greatestIndexed: string | undefined;

  constructor(db: Database.Database) {
    const prepare = (sql: string): Statement => db.prepare(sql);
    this.statements = preparedOnUse({
      foldPoint: () => prepare('SELECT counted_through FROM store_state WHERE id = 1').pluck(),
      tailIds: () =>
        prepare(
          'SELECT event_id, position FROM events WHERE position > ? ' +
            "AND substr(stream_id, 1, 6) <> '$link:'",
        ).raw(),
      greatest: () => prepare('SELECT lower(hex(max(id))) FROM event_ids').pluck(),
      positionOf: () =>
        prepare("SELECT position FROM event_ids WHERE id = unhex(replace(?, '-', ''))").pluck(),
      // (from, through): the ids of the events at positions in (from, through].
      fold: () =>
        prepare(
          "INSERT INTO event_ids (id, position) SELECT unhex(replace(event_id, '-', '')), " +
            'position FROM events WHERE position > ? AND position <= ? ' +
            "AND substr(stream_id, 1, 6) <> '$link:'",
        ),
      remove: () => prepare("DELETE FROM event_ids WHERE id = unhex(replace(?, '-', ''))"),
    });
  }

  /** The position of the event with this id, if it is stored (as of the last commit). */
  positionOf(eventId: string): number | undefined {
    const inTail = this.tailIds().get(eventId);
    if (inTail !== undefined) return inTail;
    this.greatestIndexed ??= this.readGreatest();
    if (eventId > this.greatestIndexed) return undefined;
    return this.statements.positionOf.get(eventId) as number | undefined;
  }

  /** Indexes the ids of the events at positions in (`from`, `through`]: inside the fold's transaction. */
  fold(from: number, through: number): void {
    this.statements.fold.run(from, through);
  }

  /** Takes an indexed id out: inside the transaction that removes its event. */
  removeIndexed(eventId: string): void {
    this.statements.remove.run(eventId);
  }

  /**
   * After a commit: its events' ids join the tail, or, when it folded, the tail is empty and the
   * greatest indexed id is read again when next needed.
   */
  committed(events: readonly PlannedEvent[], folded: boolean): void {
    if (folded) {
      this.tail = new Map();
      this.greatestIndexed = undefined;
      return;
    }
    const tail = this.tail;
    if (tail === undefined) return;
    for (const e of events) if (!isLinkStream(e.streamId)) tail.set(e.eventId, e.position);
  }

  /** After events were removed, or a commit failed midway: read everything again when needed. */
  forget(): void {
    this.tail = undefined;
    this.greatestIndexed = undefined;
  }

  private tailIds(): Map<string, number> {
    if (this.tail === undefined) {
      const through = this.statements.foldPoint.get() as number;
      const rows = this.statements.tailIds.all(through) as [string, number][];
      this.tail = new Map(rows);
    }
    return this.tail;
  }

  private readGreatest(): string {
    const hex = (this.statements.greatest.get() as string | null) ?? '';
    if (hex === '') return '';
    return (
      `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-` +
      `${hex.slice(16, 20)}-${hex.slice(20)}`
    );
  }
}
