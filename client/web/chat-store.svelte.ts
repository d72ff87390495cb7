import type { RegistryReader } from "../../contracts/wrappers/registry-reader";
import type { KeyPair } from "../../protocol";
import type { SilkDb } from "../../web/page-db";
import type { CompletionUsage } from "../sdk/openai-shapes";
import type { SilkClient } from "../sdk/silk-client";
import { type ChatSettings, DEFAULT_CHAT_SETTINGS } from "./chat-settings";
import type { ChatStorage } from "./chat-storage";
import {
  type ChatTurn,
  type Conversation,
  conversationCost,
  newConversation,
  titleFrom,
} from "./conversation";
import type { ModelChoice } from "./directory";
import type { EscrowStore, EscrowTerms } from "./escrow-store.svelte";
import { loadMarkdown } from "./lazy-markdown.svelte";
import { TrustStore } from "./trust-store.svelte";

/** The heavy half (SDK, connection stack, storage, chain and escrow): one lazy chunk, fetched once. */
type ChatCore = typeof import("./chat-core");
let chatCore: Promise<ChatCore> | undefined;
/** Starts loading the chat's heavy half (the widget calls it right after mounting); `init` awaits it. */
export const loadChatCore = (): Promise<ChatCore> => {
  chatCore ??= import("./chat-core");
  chatCore.catch(() => {
    chatCore = undefined;
  });
  return chatCore;
};

export interface ChatStoreOptions {
  readonly signalingUrl: string;
  /** Told when an answer ends, for haptics in Telegram. */
  readonly onAnswer?: (outcome: "done" | "error" | "stopped") => void;
  /** Inside a Telegram Mini App: where the wallet returns to after signing. */
  readonly twaReturnUrl?: `${string}://${string}`;
}

/**
 * The chat's state, shared by the web client and the widget: conversations, the live model
 * directory, streaming answers with their cost, errors in words. Components only read it and
 * call its methods.
 */
export class ChatStore {
  conversations = $state<Conversation[]>([]);
  activeId = $state<string | undefined>();
  models = $state<ModelChoice[]>([]);
  directoryProblem = $state<string | undefined>();
  settings = $state<ChatSettings>({ ...DEFAULT_CHAT_SETTINGS });
  draft = $state("");
  streaming = $state(false);
  /** Progress in words while an answer is on its way ("finding a provider", "failover…"). */
  status = $state<string | undefined>();
  totalSigned = $state(0n);
  ready = $state(false);
  /** The chain, the wallet and the escrow that pays for answers; there once the heavy half has loaded. */
  money = $state<EscrowStore | undefined>();
  /** Pinned and blocked providers, and who answered last (checked on chain before each session). */
  readonly trust = new TrustStore();

  readonly active = $derived(this.conversations.find((c) => c.id === this.activeId));
  readonly activeCost = $derived(this.active ? conversationCost(this.active) : 0n);
  readonly model = $derived(this.settings.model ?? this.models[0]?.id);

  private core!: ChatCore;
  private storage!: ChatStorage;
  private sessionKey!: KeyPair;
  private client: Promise<SilkClient> | undefined;
  private clientTerms = "";
  private registry: RegistryReader | undefined;
  private abort: AbortController | undefined;
  private poll: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: ChatStoreOptions) {}

  async init(db: SilkDb): Promise<void> {
    // Markdown too, so that no answer is ever shown before it can be rendered.
    [this.core] = await Promise.all([loadChatCore(), loadMarkdown()]);
    const money = new this.core.EscrowStore(
      this.opts.twaReturnUrl ? { twaReturnUrl: this.opts.twaReturnUrl } : {},
    );
    this.money = money;
    this.storage = new this.core.ChatStorage(db);
    this.sessionKey = await this.storage.sessionKey();
    this.settings = { ...DEFAULT_CHAT_SETTINGS, ...(await this.storage.settings.get()) };
    this.conversations = await this.storage.conversations();
    this.activeId = this.conversations[0]?.id;
    await Promise.all([money.init(this.opts.signalingUrl, db, this.sessionKey), this.refreshMoney()]);
    await this.refreshDirectory();
    this.poll = setInterval(() => void this.refreshDirectory(), 5_000);
    this.ready = true;
  }

  dispose(): void {
    clearInterval(this.poll);
    this.money?.dispose();
    this.abort?.abort();
    void this.client?.then((c) => c.close()).catch(() => undefined);
  }

  /**
   * Loads the wallet code (TON Connect, a separate chunk) when the wallet panel first opens, so the
   * first download stays small. On devnet the dev wallet is ready from the start.
   */
  prepareWallet(): Promise<void> {
    return this.money?.prepareWallet() ?? Promise.resolve();
  }

  async refreshDirectory(): Promise<void> {
    try {
      this.models = await this.core.fetchDirectory(this.opts.signalingUrl);
      this.directoryProblem = undefined;
    } catch {
      this.directoryProblem = "Cannot reach the Silk server to list models; retrying.";
    }
  }

  selectModel(id: string): void {
    this.settings.model = id;
    void this.saveSettings();
  }

  setMaxPrice(prompt: bigint, completion: bigint): void {
    this.settings.maxPromptNano = prompt;
    this.settings.maxCompletionNano = completion;
    void this.saveSettings();
  }

  newChat(): void {
    this.activeId = undefined;
    this.draft = "";
  }

  open(id: string): void {
    if (!this.streaming) this.activeId = id;
  }

  async remove(id: string): Promise<void> {
    this.conversations = this.conversations.filter((c) => c.id !== id);
    if (this.activeId === id) this.activeId = this.conversations[0]?.id;
    await this.storage.remove(id);
  }

  /** Sends the draft (or `text`) as a new question in the open conversation. */
  async send(text = this.draft): Promise<void> {
    const question = text.trim();
    const model = this.model;
    if (!question || !model || this.streaming) return;
    this.draft = "";
    let conv = this.active;
    if (!conv) {
      this.conversations = [newConversation(model), ...this.conversations];
      conv = this.conversations[0]!;
      this.activeId = conv.id;
      conv.title = titleFrom(question);
    }
    conv.model = model;
    conv.turns.push({ role: "user", content: question });
    await this.answer(conv);
  }

  stop(): void {
    this.abort?.abort();
  }

  /** Asks again for the last answer. */
  async regenerate(): Promise<void> {
    const conv = this.active;
    if (!conv || this.streaming) return;
    while (conv.turns.at(-1)?.role === "assistant") conv.turns.pop();
    if (conv.turns.length > 0) await this.answer(conv);
  }

  /** Replaces question `index` with `text`, drops everything after it and asks again. */
  async edit(index: number, text: string): Promise<void> {
    const conv = this.active;
    if (!conv || this.streaming || conv.turns[index]?.role !== "user" || !text.trim()) return;
    conv.turns.splice(index);
    conv.turns.push({ role: "user", content: text.trim() });
    if (index === 0) conv.title = titleFrom(text);
    await this.answer(conv);
  }

  exportAll(): string {
    return this.core.exportConversations($state.snapshot(this.conversations) as Conversation[]);
  }

  /** Adds the conversations of an export file (replacing ones with the same id). Returns how many. */
  async importText(text: string): Promise<number> {
    const incoming = this.core.importConversations(text);
    for (const c of incoming) await this.storage.save(c);
    const ids = new Set(incoming.map((c) => c.id));
    this.conversations = [...incoming, ...this.conversations.filter((c) => !ids.has(c.id))].sort(
      (a, b) => b.updatedAt - a.updatedAt,
    );
    return incoming.length;
  }

  private async answer(conv: Conversation): Promise<void> {
    const messages = conv.turns
      .filter((t) => !t.error || t.content)
      .map((t) => ({ role: t.role, content: t.content }));
    conv.turns.push({ role: "assistant", content: "" });
    const turn = conv.turns.at(-1) as ChatTurn;
    this.streaming = true;
    this.status = "Finding a provider…";
    const abort = new AbortController();
    this.abort = abort;
    let outcome: "done" | "error" | "stopped" = "done";
    const started = performance.now();
    let firstAt = 0;
    try {
      const client = await this.connected(this.money!.terms());
      const stream = await client.chat.completions.create({
        model: conv.model,
        messages,
        stream: true,
        stream_options: { include_usage: true },
        signal: abort.signal,
      });
      let finish: string | undefined;
      let usage: CompletionUsage | undefined;
      for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta.content;
        if (piece) {
          if (!firstAt) firstAt = performance.now();
          this.status = undefined;
          turn.content += piece;
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      if (finish === "abort") outcome = "stopped";
      if (usage) {
        const seconds = Math.max(0.001, (performance.now() - (firstAt || started)) / 1000);
        turn.stats = {
          promptTokens: usage.prompt_tokens,
          completionTokens: usage.completion_tokens,
          cost: BigInt(usage.silk?.cost_nanoton ?? "0"),
          tokensPerSecond: Math.round((usage.completion_tokens / seconds) * 10) / 10,
          ...(usage.silk?.provider && { provider: usage.silk.provider }),
          failovers: usage.silk?.failovers ?? 0,
          finish: finish ?? "stop",
        };
      }
    } catch (err) {
      if (abort.signal.aborted) outcome = "stopped";
      else {
        outcome = "error";
        turn.error = this.core.explainError(err);
        if (err instanceof Error && "partial" in err && typeof err.partial === "string" && !turn.content) {
          turn.content = err.partial;
        }
      }
    } finally {
      this.streaming = false;
      this.status = undefined;
      this.abort = undefined;
      conv.updatedAt = Date.now();
      await this.storage.save($state.snapshot(conv) as Conversation);
      await this.refreshMoney();
      this.opts.onAnswer?.(outcome);
    }
  }

  /**
   * One SDK client, remade when the highest price (stated before any pairing) or the escrow's terms
   * (escrow, key epoch) change.
   */
  private connected(terms: EscrowTerms): Promise<SilkClient> {
    const key = `${this.settings.maxPromptNano}/${this.settings.maxCompletionNano}/${terms.escrow}/${terms.keyEpoch}/${this.trust.termsKey}`;
    const config = this.money?.config;
    this.registry ??= config && this.core.registryReaderFor(config);
    if (!this.client || key !== this.clientTerms) {
      void this.client?.then((c) => c.close()).catch(() => undefined);
      this.clientTerms = key;
      this.client = this.core.connect({
        signalingUrl: this.opts.signalingUrl,
        sessionKey: this.sessionKey,
        maxPrice: {
          promptNanoPerToken: this.settings.maxPromptNano,
          completionNanoPerToken: this.settings.maxCompletionNano,
        },
        escrow: terms.escrow,
        keyEpoch: terms.keyEpoch,
        network: terms.network,
        account: this.storage.account,
        onFailover: ({ failovers }) => {
          this.status = `The provider was lost: failover in progress (attempt ${failovers})…`;
        },
        ...(this.registry && { trust: { registry: this.registry, policy: this.trust.policy() } }),
        onProvider: (p) => this.trust.seen(p),
      });
      this.client.catch(() => {
        this.client = undefined;
      });
    }
    return this.client;
  }

  private async refreshMoney(): Promise<void> {
    this.totalSigned = await this.storage.account.totalSigned();
    await this.money?.refresh();
  }

  private async saveSettings(): Promise<void> {
    await this.storage.settings.set($state.snapshot(this.settings));
  }
}
