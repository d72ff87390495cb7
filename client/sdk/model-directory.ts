import { type DirectorySnapshot, perTokenPrice } from "../../protocol";
import type { ModelEntry } from "./openai-shapes";

/**
 * The network's models as `models.list()` answers them, from one subscription to the server's
 * directory (`directory:update` pushes every change) instead of a signaling event per call: a
 * gateway answering a thousand `/v1/models` at once asks the server nothing more than once.
 * Concurrent first calls share one request; a snapshot not refreshed for `maxAgeMs` (an update
 * lost with a reconnect) is fetched again, once for all callers, and served as it is if that
 * fetch fails. `start()` subscribes ahead of the first call, so a burst finds a snapshot ready.
 */
export interface DirectorySource {
  directory(onUpdate?: (d: DirectorySnapshot) => void): Promise<DirectorySnapshot>;
}

export class ModelDirectory {
  private snapshot: { at: number; value: DirectorySnapshot } | undefined;
  private fetching: Promise<DirectorySnapshot> | undefined;
  private subscribed = false;
  private closed = false;

  constructor(
    private readonly source: DirectorySource,
    private readonly maxAgeMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Subscribes now, in the background; a failure is retried by the first `list()`. */
  start(): void {
    this.current().catch(() => undefined);
  }

  async list(): Promise<{ object: "list"; data: ModelEntry[] }> {
    return { object: "list", data: toModelEntries(await this.current(), this.now()) };
  }

  close(): void {
    this.closed = true;
  }

  private current(): Promise<DirectorySnapshot> {
    const s = this.snapshot;
    if (s && this.now() - s.at < this.maxAgeMs) return Promise.resolve(s.value);
    this.fetching ??= this.fetch()
      .catch((err: unknown) => {
        if (s) return s.value; // stale beats an error: the next call tries again
        throw err;
      })
      .finally(() => {
        this.fetching = undefined;
      });
    return this.fetching;
  }

  private async fetch(): Promise<DirectorySnapshot> {
    const onUpdate = (d: DirectorySnapshot) => {
      if (!this.closed) this.snapshot = { at: this.now(), value: d };
    };
    // Subscribe once; later refreshes only read (a second subscription would add a second listener).
    const value = await this.source.directory(this.subscribed ? undefined : onUpdate);
    this.subscribed = true;
    this.snapshot = { at: this.now(), value };
    return value;
  }
}

/** OpenAI's model list from a directory snapshot, with Silk's provider count and cheapest prices. */
export function toModelEntries(dir: DirectorySnapshot, nowMs: number): ModelEntry[] {
  const created = Math.floor(nowMs / 1000);
  return dir.models.map((m) => {
    const cheapest = m.prices[0]?.price;
    return {
      id: m.model,
      object: "model",
      created,
      owned_by: "silk",
      providers: m.providers,
      features: [...(m.features ?? [])],
      context_window: m.contextWindow ?? null,
      price: cheapest
        ? {
            prompt_nanoton: perTokenPrice(cheapest).promptNanoPerToken.toString(),
            completion_nanoton: perTokenPrice(cheapest).completionNanoPerToken.toString(),
          }
        : null,
    };
  });
}
