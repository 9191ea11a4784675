import type { EventRecord } from '../../src/index.js';

/**
 * What a reader tailing `$all` checks as it goes, in a store that never deletes (so positions
 * are gapless): every page continues exactly where the previous one stopped. A skipped event
 * shows up as a gap, a duplicate as a position seen twice.
 */
export class TailChecker {
  /** The next position the reader must see. */
  next = 0;
  readonly eventIds: string[] = [];
  readonly violations: string[] = [];

  accept(page: readonly EventRecord[]): void {
    for (const event of page) {
      if (event.position !== this.next) {
        this.violations.push(
          event.position > this.next
            ? `skipped positions ${this.next}..${event.position - 1}`
            : `saw position ${event.position} again (or out of order) after ${this.next - 1}`,
        );
      }
      this.eventIds.push(event.eventId);
      this.next = event.position + 1;
    }
  }
}
