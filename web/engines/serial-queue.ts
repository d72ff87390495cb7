/**
 * Runs tasks one at a time, in arrival order. WebLLM (and most single-GPU servers) cannot overlap
 * two generations on one loaded model: the second must wait, not interleave.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  get length(): number {
    return this.pending;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(task);
    this.tail = result.then(
      () => this.pending--,
      () => this.pending--,
    );
    return result;
  }
}
