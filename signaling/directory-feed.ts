import type { Feature, ModelPrice } from "../protocol";
import { comparePrices, FEATURES, PROTOCOL_VERSION, priceToWire } from "../protocol";
import type { MarketGroup, ProviderDirectory, ProviderState } from "./directory/directory";
import { marketOf } from "./directory/directory";
import type { Logger } from "./logger";

/** Wire form of the live directory (see `DirectorySnapshot` in protocol/schemas/signaling.ts). */
export interface DirectoryView {
  v: 1;
  providers: number;
  models: {
    model: string;
    providers: number;
    capacity: number;
    inUse: number;
    features?: Feature[];
    contextWindow?: number;
    prices: { price: ReturnType<typeof priceToWire>; providers: number }[];
  }[];
}

const MAX_PRICES_PER_MODEL = 16;

/** Pure: what clients see of the directory. No keys, no payouts, no devices: only the market. */
export function summarize(providers: readonly ProviderState[]): DirectoryView {
  return summarizeMarket(marketOf(providers));
}

/** `summarize` over providers already summed by what they list (see `ProviderDirectory.market`). */
export function summarizeMarket(groups: readonly MarketGroup[]): DirectoryView {
  const byModel = new Map<
    string,
    {
      providers: number;
      capacity: number;
      inUse: number;
      features: Set<Feature>;
      contextWindow: number;
      prices: { price: ModelPrice; n: number }[];
    }
  >();
  let total = 0;
  for (const g of groups) {
    total += g.providers;
    for (const { model, price, features, contextWindow } of g.models) {
      const m = byModel.get(model) ?? {
        providers: 0,
        capacity: 0,
        inUse: 0,
        features: new Set(),
        contextWindow: 0,
        prices: [],
      };
      byModel.set(model, m);
      for (const f of features ?? []) m.features.add(f);
      m.contextWindow = Math.max(m.contextWindow, contextWindow ?? 0);
      m.providers += g.providers;
      m.capacity += g.capacity;
      m.inUse += g.inUse;
      const same = m.prices.find(
        (x) => comparePrices(x.price, price) === 0 && x.price.nanoPerToken === price.nanoPerToken,
      );
      if (same) same.n += g.providers;
      else m.prices.push({ price, n: g.providers });
    }
  }
  const models = [...byModel.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([model, m]) => ({
      model,
      providers: m.providers,
      capacity: m.capacity,
      inUse: m.inUse,
      ...(m.features.size > 0 && { features: FEATURES.filter((f) => m.features.has(f)) }),
      ...(m.contextWindow > 0 && { contextWindow: m.contextWindow }),
      prices: m.prices
        .sort((a, b) => comparePrices(a.price, b.price))
        .slice(0, MAX_PRICES_PER_MODEL)
        .map((x) => ({ price: priceToWire(x.price), providers: x.n })),
    }));
  return { v: PROTOCOL_VERSION, providers: total, models };
}

export const DIRECTORY_ROOM = "directory";

/**
 * Keeps one recent snapshot for `GET /api/models` and `directory:subscribe`, and pushes
 * `directory:update` to subscribers (on every node, through the adapter) when it changes: at most
 * once per `minIntervalMs` after a change here, and on a slower refresh for changes elsewhere.
 * A read costs in proportion to the providers (summed inside one Redis; in a cluster every entry is
 * fetched), so the interval
 * grows to ten times the last read's duration: the feed never takes more than a tenth of the node
 * (10,000 providers registering at once on a Redis node once starved it into a crawl).
 */
export class DirectoryFeed {
  private current: DirectoryView | undefined;
  private currentText = "";
  private readAt = 0;
  private readMs = 0;
  private pending: NodeJS.Timeout | undefined;
  private readonly refresh: NodeJS.Timeout;
  private closed = false;
  private updating: Promise<void> | undefined;

  constructor(
    private readonly directory: ProviderDirectory,
    private readonly publish: (view: DirectoryView) => void,
    private readonly log: Logger,
    private readonly minIntervalMs = 500,
    refreshMs = 10_000,
  ) {
    this.refresh = setInterval(() => void this.update(), refreshMs);
    this.refresh.unref();
  }

  /** The snapshot, at most `minIntervalMs` old. */
  async snapshot(): Promise<DirectoryView> {
    if (!this.current || Date.now() - this.readAt > this.interval()) await this.read();
    return this.current!;
  }

  /** Something changed on this node: publish soon, coalescing bursts (2,000 registrations, one update). */
  changed(): void {
    if (this.pending || this.closed) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.update();
    }, this.interval());
    this.pending.unref();
  }

  /**
   * Publishes nothing more, and resolves once an update in flight has settled: the node closes its
   * Redis clients only after, so no publish ever meets a closed client.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.refresh);
    if (this.pending) clearTimeout(this.pending);
    await this.updating;
  }

  /** One read at a time, in order (`readAndPublish` never rejects). */
  private update(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const run = (this.updating ?? Promise.resolve()).then(() => this.readAndPublish());
    this.updating = run;
    void run.then(() => {
      if (this.updating === run) this.updating = undefined;
    });
    return run;
  }

  private async readAndPublish(): Promise<void> {
    try {
      const before = this.currentText;
      await this.read();
      if (this.currentText !== before && !this.closed) this.publish(this.current!);
    } catch (err) {
      if (!this.closed)
        this.log.warn({ err: err instanceof Error ? err.message : "unknown" }, "directory refresh failed");
    }
  }

  private interval(): number {
    return Math.max(this.minIntervalMs, this.readMs * 10);
  }

  private async read(): Promise<void> {
    const started = performance.now();
    const view = summarizeMarket(
      this.directory.market ? await this.directory.market() : marketOf(await this.directory.all()),
    );
    this.current = view;
    this.currentText = JSON.stringify(view);
    this.readAt = Date.now();
    this.readMs = performance.now() - started;
  }
}
