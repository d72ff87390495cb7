/**
 * Token buckets: `rate` tokens per second refill up to `burst`. Pure (time is passed in), so the
 * limits are unit-tested without waiting.
 */
export interface BucketSpec {
  readonly rate: number;
  readonly burst: number;
}

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly spec: BucketSpec,
    now: number,
  ) {
    this.tokens = spec.burst;
    this.updatedAt = now;
  }

  /** Takes `cost` tokens if there are enough; false (and nothing taken) otherwise. */
  take(now: number, cost = 1): boolean {
    this.refill(now);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Puts back `cost` tokens taken for something that did not happen after all. */
  giveBack(now: number, cost = 1): void {
    this.refill(now);
    this.tokens = Math.min(this.spec.burst, this.tokens + cost);
  }

  /** True when the bucket is back to full, so a keyed map can forget it. */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.spec.burst;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt) / 1000;
    this.tokens = Math.min(this.spec.burst, this.tokens + elapsed * this.spec.rate);
    this.updatedAt = now;
  }
}

/** One bucket per key (an IP address, a session), forgotten once full again. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly spec: BucketSpec) {}

  take(key: string, now: number, cost = 1): boolean {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.spec, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now, cost);
  }

  giveBack(key: string, now: number, cost = 1): void {
    this.buckets.get(key)?.giveBack(now, cost);
  }

  /** Drops full buckets; call now and then so the map does not grow with every key ever seen. */
  prune(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
  }

  delete(key: string): void {
    this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }
}
