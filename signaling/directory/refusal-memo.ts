import { BPS } from "../../protocol/pricing";
import { refusal } from "../matchmaking";
import type { PickRequest, Refused } from "./directory";

/** What Redis last said about a model nobody could be paired with. */
type Known =
  | { readonly kind: "none"; readonly at: number }
  /** The cheapest completion cost (nanoTON per token × BPS) any provider of the model asks. */
  | { readonly kind: "floor"; readonly cost: bigint; readonly at: number };

/**
 * A node's memory of Redis's refusals, so a refusal costs no Redis round trip either (a pooled grant
 * needs none). Pure: the Redis directory feeds it and asks it first.
 *
 * It remembers only what a new registration can undo: "nobody serves this model" and "nobody asks
 * less than this per completion token", learnt from refusals of requests that excluded nobody.
 * Every registration anywhere is announced (published before the registration is acked) and
 * forgets the memo of its models, and a memo learnt from a reply that crossed such an announcement
 * is not kept (`epoch`), so a provider that has registered is never refused. What a departure
 * changes (the last provider leaving turns PRICE_TOO_LOW into NO_MODEL, or the cheapest named
 * was the one that left) shows within `ttlMs`, when the memo is asked of Redis again. ALL_BUSY is
 * never remembered: every session's end undoes it.
 */
export class RefusalMemo {
  private readonly known = new Map<string, Known>();
  /** Bumped by every announcement: a reply to a question asked before it may be stale. */
  private announced = 0;

  constructor(private readonly ttlMs: number) {}

  /** The refusal Redis would give now, when the memo knows it for sure; else undefined (ask Redis). */
  answer(request: PickRequest): Refused | undefined {
    const k = this.known.get(request.model);
    if (!k) return undefined;
    if (request.now - k.at >= this.ttlMs) {
      this.known.delete(request.model);
      return undefined;
    }
    if (k.kind === "none") return refusal("NO_MODEL", request);
    // Excluded providers change which is the cheapest left (or leave nobody): only a request
    // excluding nobody is answered for sure.
    if (request.exclude.size === 0 && request.maxPrice.completionNanoPerToken * BPS < k.cost)
      return refusal("PRICE_TOO_LOW", request, k.cost);
    return undefined;
  }

  /** Taken before asking Redis; passed back to `learn` with the answer. */
  epoch(): number {
    return this.announced;
  }

  /** Redis refused `request` (asked at `epoch`): remember what stays true until a registration. */
  learn(request: PickRequest, epoch: number, code: Refused["code"], cheapest: bigint | undefined): void {
    if (epoch !== this.announced || request.exclude.size > 0) return;
    if (code === "NO_MODEL") this.known.set(request.model, { kind: "none", at: request.now });
    else if (code === "PRICE_TOO_LOW" && cheapest !== undefined)
      this.known.set(request.model, { kind: "floor", cost: cheapest, at: request.now });
  }

  /** Forgets every model (an announcement that could not be read). */
  forgetAll(): void {
    this.announced++;
    this.known.clear();
  }

  /** An announcement as published (a JSON list of models); one not understood forgets everything. */
  hear(message: string): void {
    let models: unknown;
    try {
      models = JSON.parse(message);
    } catch {
      models = undefined;
    }
    // Never a stale refusal: what cannot be read could have undone anything.
    if (Array.isArray(models) && models.every((m) => typeof m === "string")) this.announce(models);
    else this.forgetAll();
  }

  /** Providers of these models registered (here or on another node): forget what they undo. */
  announce(models: readonly string[]): void {
    this.announced++;
    for (const model of models) this.known.delete(model);
  }
}
