/**
 * The `limit` smallest items offered, in order, holding no more than `limit` of them: how an
 * archive that cannot read its entries in order (a directory, a map) answers one page of them
 * with memory that follows the page, not the list.
 */
export class SmallestItems<T> {
  private readonly kept: T[] = [];
  private dropped = false;

  constructor(
    private readonly limit: number,
    private readonly compare: (a: T, b: T) => number,
  ) {}

  offer(item: T): void {
    const kept = this.kept;
    if (kept.length === this.limit) {
      this.dropped = true;
      if (this.compare(item, kept[kept.length - 1] as T) >= 0) return;
      kept.pop();
    }
    // Binary search for the first kept item above this one.
    let low = 0;
    let high = kept.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.compare(kept[middle] as T, item) <= 0) low = middle + 1;
      else high = middle;
    }
    kept.splice(low, 0, item);
  }

  /** The items kept, smallest first. */
  get items(): readonly T[] {
    return this.kept;
  }

  /** Whether an item was left out for the bound (more may follow the last one kept). */
  get truncated(): boolean {
    return this.dropped;
  }
}
