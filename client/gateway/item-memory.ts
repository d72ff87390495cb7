/**
 * The output items this gateway answered with lately (messages and function calls, by their ids),
 * so a later request may send one back as an `item_reference`, as the Vercel AI SDK's OpenAI
 * provider does for an earlier turn's text (it assumes OpenAI's default `store: true`). Responses
 * are still never stored: this is the gateway's own memory of its own answers, in this process
 * only, never written anywhere, the last `max` items for `ttlMs` at most.
 */
export type RememberedItem = Readonly<Record<string, unknown>> & { readonly type: string };

/** What a request that references items may recall. */
export type RecallItem = (id: string) => RememberedItem | undefined;

/** Recalls items, and says how many it keeps (a refused reference names that bound). */
export interface ItemRecall {
  readonly recall: RecallItem;
  readonly max: number;
}

/** Nothing to recall: a request checked apart from any gateway's memory. */
export const NO_ITEMS: ItemRecall = { recall: () => undefined, max: 0 };

export const REMEMBERED_ITEMS = 1_000;
export const REMEMBERED_FOR_MS = 60 * 60_000;

export class ItemMemory implements ItemRecall {
  private readonly items = new Map<string, { readonly item: RememberedItem; readonly at: number }>();

  constructor(
    readonly max = REMEMBERED_ITEMS,
    private readonly ttlMs = REMEMBERED_FOR_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A response's output items, as a later request would send them whole. */
  remember(output: readonly unknown[]): void {
    for (const o of output) {
      const item = asInput(o);
      if (!item) continue;
      this.items.delete(item.id);
      this.items.set(item.id, { item: item.input, at: this.now() });
    }
    // Oldest first (each is set anew when remembered): past the count or the hour, it goes.
    const now = this.now();
    for (const [id, entry] of this.items) {
      if (this.items.size <= this.max && now - entry.at <= this.ttlMs) break;
      this.items.delete(id);
    }
  }

  /** Items held now (what the gateway's memory of its answers costs). */
  get size(): number {
    return this.items.size;
  }

  recall: RecallItem = (id) => {
    const entry = this.items.get(id);
    if (!entry) return undefined;
    if (this.now() - entry.at > this.ttlMs) {
      this.items.delete(id);
      return undefined;
    }
    return entry.item;
  };
}

/** An output item as an input item: an assistant message's text, or a function call. */
function asInput(o: unknown): { id: string; input: RememberedItem } | undefined {
  if (typeof o !== "object" || o === null) return undefined;
  const item = o as Record<string, unknown>;
  if (typeof item.id !== "string") return undefined;
  if (item.type === "function_call")
    return {
      id: item.id,
      input: { type: "function_call", call_id: item.call_id, name: item.name, arguments: item.arguments },
    };
  if (item.type !== "message" || !Array.isArray(item.content)) return undefined;
  const content = item.content.map((p: { text?: unknown }) => ({ type: "output_text", text: p.text }));
  return { id: item.id, input: { type: "message", role: "assistant", content } };
}
