import { BPS, type MaxPrice, type ModelPrice, scaledCosts } from "../../protocol";
import type { ProviderState } from "./directory";
import { usedCapacity } from "./directory";
import { SortedList } from "./sorted-list";

/**
 * The in-memory matchmaking index: per model, the providers with capacity left, kept sorted in
 * matchmaking order (matchmaking.ts) and updated on every change to a provider, so a pick reads
 * the front of a list instead of ranking every provider.
 *
 * Two lists per model: `clean` (no recent failure) sorted by completion price, prompt price,
 * utilisation, turn; `penalised` sorted by failure count first. A full provider is in neither.
 * `turn` is the order of last assignment (0 = never), a counter rather than a clock so equals
 * rotate strictly even within one millisecond; registration order breaks the remaining ties.
 */

/** One provider's place in one model's lists. Key fields are a snapshot, changed only while unlisted. */
interface Slot {
  readonly entry: Entry;
  readonly price: ModelPrice;
  readonly completion: bigint;
  readonly prompt: bigint;
  readonly list: ModelLists;
  penalty: number;
  utilisation: number;
  turn: number;
  listed: SortedList<Slot> | undefined;
}

interface Entry {
  readonly state: ProviderState;
  readonly registration: number;
  readonly slots: Slot[];
  turn: number;
  penalised: boolean;
  removed: boolean;
}

interface ModelLists {
  readonly clean: SortedList<Slot>;
  readonly penalised: SortedList<Slot>;
  /** Every provider of the model, busy or not, by price alone: why nobody fits, from its front. */
  readonly all: SortedList<Slot>;
}

/** Price, then registration: a total order on one model's slots that never changes while listed. */
function compareByPrice(a: Slot, b: Slot): number {
  if (a.completion !== b.completion) return a.completion < b.completion ? -1 : 1;
  if (a.prompt !== b.prompt) return a.prompt < b.prompt ? -1 : 1;
  return a.entry.registration - b.entry.registration;
}

/** 1 when the slot's prompt price is within the maximum and its provider is not excluded. */
function fits(slot: Slot, maxPrompt: bigint, exclude: ReadonlySet<string>): 0 | 1 {
  return slot.prompt > maxPrompt || exclude.has(slot.entry.state.identityKey) ? 0 : 1;
}

function compareSlots(a: Slot, b: Slot): number {
  if (a.penalty !== b.penalty) return a.penalty - b.penalty;
  if (a.completion !== b.completion) return a.completion < b.completion ? -1 : 1;
  if (a.prompt !== b.prompt) return a.prompt < b.prompt ? -1 : 1;
  if (a.utilisation !== b.utilisation) return a.utilisation - b.utilisation;
  if (a.turn !== b.turn) return a.turn - b.turn;
  return a.entry.registration - b.entry.registration;
}

export class MatchIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly models = new Map<string, ModelLists>();
  /** Failures in the order they happened, to lift penalties as they age out (checked on each pick). */
  private readonly failures: { entry: Entry; at: number }[] = [];
  private failuresHead = 0;
  private registrations = 0;
  private turns = 0;

  /** Indexes a newly registered provider (replacing any entry for its identity key). */
  add(state: ProviderState): void {
    this.remove(state.identityKey);
    const entry: Entry = {
      state,
      registration: ++this.registrations,
      slots: [],
      turn: 0,
      penalised: false,
      removed: false,
    };
    for (const { model, price } of state.models) {
      let list = this.models.get(model);
      if (!list) {
        list = {
          clean: new SortedList(compareSlots),
          penalised: new SortedList(compareSlots),
          all: new SortedList(compareByPrice),
        };
        this.models.set(model, list);
      }
      const slot: Slot = {
        entry,
        price,
        ...scaledCosts(price),
        list,
        penalty: 0,
        utilisation: 0,
        turn: 0,
        listed: undefined,
      };
      entry.slots.push(slot);
      list.all.add(slot);
    }
    this.entries.set(state.identityKey, entry);
    this.update(state.identityKey);
  }

  remove(identityKey: string): void {
    const entry = this.entries.get(identityKey);
    if (!entry) return;
    for (const slot of entry.slots) {
      this.unlist(slot);
      slot.list.all.delete(slot);
    }
    entry.removed = true;
    this.entries.delete(identityKey);
  }

  /** Call after any change to the provider's load, capacity in use or failures. */
  update(identityKey: string): void {
    const entry = this.entries.get(identityKey);
    if (!entry) return;
    const { state } = entry;
    const used = usedCapacity(state);
    for (const slot of entry.slots) {
      this.unlist(slot);
      if (used >= state.capacity) continue;
      slot.penalty = entry.penalised ? state.failures : 0;
      slot.utilisation = used / state.capacity;
      slot.turn = entry.turn;
      slot.listed = entry.penalised ? slot.list.penalised : slot.list.clean;
      slot.listed.add(slot);
    }
  }

  /** Moves the provider to the back of the rotation among its equals (it was just assigned). */
  assigned(identityKey: string): void {
    const entry = this.entries.get(identityKey);
    if (entry) entry.turn = ++this.turns;
  }

  failed(identityKey: string, at: number): void {
    const entry = this.entries.get(identityKey);
    if (!entry) return;
    entry.penalised = true;
    this.failures.push({ entry, at });
  }

  /** The first provider in matchmaking order that fits, or undefined. Does not reserve. */
  pick(
    model: string,
    maxPrice: MaxPrice,
    exclude: ReadonlySet<string>,
    now: number,
    failureWindowMs: number,
  ): { state: ProviderState; price: ModelPrice } | undefined {
    this.forgive(now, failureWindowMs);
    const lists = this.models.get(model);
    if (!lists) return undefined;
    const maxCompletion = maxPrice.completionNanoPerToken * BPS;
    const maxPrompt = maxPrice.promptNanoPerToken * BPS;
    // Clean providers are sorted by completion price first: past the limit, none of the rest fit.
    const slot =
      lists.clean.find((s) => (s.completion > maxCompletion ? -1 : fits(s, maxPrompt, exclude))) ??
      lists.penalised.find((s) => (s.completion > maxCompletion ? 0 : fits(s, maxPrompt, exclude)));
    return slot && { state: slot.entry.state, price: slot.price };
  }

  /**
   * Why `pick` found nobody: no provider (but the excluded) serves the model, none asks a price
   * within the maximum (with the cheapest completion cost), or all that do are busy. Walks the
   * model's providers by price from the cheapest and stops at the first that settles it.
   */
  whyNot(
    model: string,
    maxPrice: MaxPrice,
    exclude: ReadonlySet<string>,
  ): { code: "NO_MODEL" | "PRICE_TOO_LOW" | "ALL_BUSY"; cheapest?: bigint } {
    const maxCompletion = maxPrice.completionNanoPerToken * BPS;
    const maxPrompt = maxPrice.promptNanoPerToken * BPS;
    let cheapest: bigint | undefined;
    const fitting = this.models.get(model)?.all.find((s) => {
      if (exclude.has(s.entry.state.identityKey)) return 0;
      cheapest ??= s.completion;
      if (s.completion > maxCompletion) return -1;
      return s.prompt <= maxPrompt ? 1 : 0;
    });
    if (fitting) return { code: "ALL_BUSY" };
    return cheapest === undefined ? { code: "NO_MODEL" } : { code: "PRICE_TOO_LOW", cheapest };
  }

  clear(): void {
    this.entries.clear();
    this.models.clear();
    this.failures.length = 0;
    this.failuresHead = 0;
  }

  /** Lifts penalties whose failure is older than the window (only the latest failure counts). */
  private forgive(now: number, windowMs: number): void {
    const queue = this.failures;
    while (this.failuresHead < queue.length) {
      const { entry, at } = queue[this.failuresHead]!;
      if (now - at < windowMs) break;
      this.failuresHead++;
      if (!entry.removed && entry.penalised && entry.state.lastFailureAt === at) {
        entry.penalised = false;
        this.update(entry.state.identityKey);
      }
    }
    if (this.failuresHead > 1024 && this.failuresHead * 2 > queue.length) {
      queue.splice(0, this.failuresHead);
      this.failuresHead = 0;
    }
  }

  private unlist(slot: Slot): void {
    slot.listed?.delete(slot);
    slot.listed = undefined;
  }
}
