import type { ProviderStanding, TrustPolicy } from "../../protocol";
import { identityKeys } from "./trust-text";

/** Who answered, for the badge: the provider's Registry standing and the model it served. */
export interface Answerer extends ProviderStanding {
  readonly model: string;
}

const STORAGE_KEY = "silk.trust";

/**
 * The requester's own terms in the web client and the widget: providers pinned (an allow-list:
 * when any is pinned, only they are asked) and providers blocked, kept in this browser; and the
 * provider that answered last, as the Registry describes it. Markup reads it and calls pin/block.
 */
export class TrustStore {
  #pinned = $state.raw<readonly string[]>([]);
  #blocked = $state.raw<readonly string[]>([]);
  #answerer = $state.raw<Answerer | undefined>();

  constructor(
    private readonly storage: Pick<Storage, "getItem" | "setItem"> | undefined = safeLocalStorage(),
  ) {
    try {
      const saved = JSON.parse(storage?.getItem(STORAGE_KEY) ?? "{}") as {
        pinned?: unknown;
        blocked?: unknown;
      };
      this.#pinned = identityKeys(saved.pinned);
      this.#blocked = identityKeys(saved.blocked);
    } catch {
      // unreadable: start with no pins and no blocks
    }
  }

  get pinned(): readonly string[] {
    return this.#pinned;
  }
  get blocked(): readonly string[] {
    return this.#blocked;
  }
  get answerer(): Answerer | undefined {
    return this.#answerer;
  }

  /** The requester's policy over the network's defaults (stake and age stay at those). */
  policy(): Partial<TrustPolicy> {
    return { allow: [...this.#pinned], block: [...this.#blocked] };
  }

  /** Changes whenever the policy does, so the chat makes a new client for it. */
  get termsKey(): string {
    return `${this.#pinned.join(",")}|${this.#blocked.join(",")}`;
  }

  seen(answerer: Answerer): void {
    this.#answerer = answerer;
  }

  isPinned(key: string): boolean {
    return this.#pinned.includes(key);
  }

  /** Pins (or unpins) a provider: while any is pinned, only pinned providers are asked. */
  togglePin(key: string): void {
    this.#pinned = this.isPinned(key) ? this.#pinned.filter((k) => k !== key) : [...this.#pinned, key];
    this.#blocked = this.#blocked.filter((k) => k !== key);
    this.save();
  }

  block(key: string): void {
    if (!this.#blocked.includes(key)) this.#blocked = [...this.#blocked, key];
    this.#pinned = this.#pinned.filter((k) => k !== key);
    this.save();
  }

  unblockAll(): void {
    this.#blocked = [];
    this.save();
  }

  private save(): void {
    try {
      this.storage?.setItem(STORAGE_KEY, JSON.stringify({ pinned: this.#pinned, blocked: this.#blocked }));
    } catch {
      // storage full or denied: the choice holds for this page's life
    }
  }
}

function safeLocalStorage(): Storage | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    return undefined;
  }
}
