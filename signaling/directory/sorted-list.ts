/**
 * A list kept sorted by a total order, stored as short sorted chunks: insert and delete cost a
 * binary search plus a copy of at most one chunk, so thousands of entries per model stay cheap to
 * update on every reservation, and reading the best few touches only the front.
 */
export class SortedList<T> {
  private readonly chunks: T[][] = [];
  private count = 0;

  /** `compare` must be a total order (no two distinct items equal) and an item's key must not change while listed. */
  constructor(
    private readonly compare: (a: T, b: T) => number,
    private readonly chunkSize = 256,
  ) {}

  get size(): number {
    return this.count;
  }

  add(item: T): void {
    const chunks = this.chunks;
    if (chunks.length === 0) {
      chunks.push([item]);
      this.count = 1;
      return;
    }
    const c = Math.min(this.chunkFor(item), chunks.length - 1);
    const chunk = chunks[c]!;
    chunk.splice(this.lowerBound(chunk, item), 0, item);
    this.count++;
    if (chunk.length > this.chunkSize) chunks.splice(c + 1, 0, chunk.splice(chunk.length >> 1));
  }

  /** Removes `item` (found by its key); false when it is not listed. */
  delete(item: T): boolean {
    const c = this.chunkFor(item);
    const chunk = this.chunks[c];
    if (!chunk) return false;
    const i = this.lowerBound(chunk, item);
    if (chunk[i] !== item) return false;
    chunk.splice(i, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(c, 1);
    return true;
  }

  /**
   * Walks in order: `visit` returns 1 to take the item (returned), 0 to skip it, -1 to stop.
   * The list must not be changed during the walk.
   */
  find(visit: (item: T) => number): T | undefined {
    for (const chunk of this.chunks) {
      for (const item of chunk) {
        const verdict = visit(item);
        if (verdict > 0) return item;
        if (verdict < 0) return undefined;
      }
    }
    return undefined;
  }

  /** Index of the first chunk whose last item is not before `item` (chunks.length if none). */
  private chunkFor(item: T): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const chunk = this.chunks[mid]!;
      if (this.compare(chunk[chunk.length - 1]!, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private lowerBound(chunk: T[], item: T): number {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.compare(chunk[mid]!, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
