import type { BackgroundNotice } from "../../web/background-notice.svelte";
import type { ChainChoice } from "../../web/chosen-chain";
import type { AnswerRunner } from "./chat-answer";
import { type ChatSettings, DEFAULT_CHAT_SETTINGS } from "./chat-settings";
import type { ChatStorage } from "./chat-storage";
import {
  type ChatOptions,
  type Conversation,
  conversationCost,
  estimatePromptTokens,
  newConversation,
  promptMessages,
  titleFrom,
} from "./conversation";
import type { ModelChoice } from "./directory";
import type { EscrowStore } from "./escrow-store.svelte";
import { loadMarkdown } from "./lazy-markdown.svelte";
import type { LocalDevice, LocalFit } from "./local-device";
import type { TrustStore } from "./trust-store.svelte";

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
  /** The chain the embedding page chose (the widget's `network`, `ton-endpoint`): see `EscrowStore`. */
  readonly chain?: ChainChoice;
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
  /**
   * What the SDK failed at by itself, which no question awaits (its directory after a reconnect);
   * there once the heavy half has loaded (the widget's first download stays the shell).
   */
  background = $state.raw<BackgroundNotice | undefined>();
  settings = $state<ChatSettings>({ ...DEFAULT_CHAT_SETTINGS });
  draft = $state("");
  streaming = $state(false);
  /** Progress in words while an answer is on its way ("finding a provider", "failover…"). */
  status = $state<string | undefined>();
  /** Another tab of this browser is answering with the same key: the question waits (tab-turns.ts). */
  waitingForTab = $state(false);
  totalSigned = $state(0n);
  ready = $state(false);
  /** The chain, the wallet and the escrow that pays for answers; there once the heavy half has loaded. */
  money = $state<EscrowStore | undefined>();
  /**
   * Pinned and blocked providers, and who answered last (checked on chain before each session);
   * there once the heavy half has loaded.
   */
  trust = $state.raw<TrustStore | undefined>();

  readonly active = $derived(this.conversations.find((c) => c.id === this.activeId));
  readonly activeCost = $derived(this.active ? conversationCost(this.active) : 0n);
  readonly model = $derived(this.settings.model ?? this.models[0]?.id);
  readonly modelChoice = $derived(this.models.find((m) => m.id === this.model));
  /**
   * The next question's cost before it is sent: the whole conversation goes again as its prompt.
   * Undefined until a model (with its price) is listed.
   */
  readonly estimate = $derived.by(() => {
    const choice = this.modelChoice;
    if (!choice) return undefined;
    const turns = this.active ? promptMessages(this.active) : [];
    const promptTokens = estimatePromptTokens([...turns, { content: this.draft }]);
    return {
      promptTokens,
      promptCost: BigInt(promptTokens) * choice.promptNano,
      perAnswerToken: choice.completionNano,
    };
  });
  /** Settings for the next new conversation (system prompt, temperature, longest answer). */
  pending = $state<ChatOptions>({});
  readonly options = $derived<ChatOptions>(this.active ?? this.pending);
  /** While an answer streams: its tokens so far and what they cost by the listed price. */
  live = $state<{ tokens: number; cost: bigint } | undefined>();
  /** Whether this device can run the chosen model (checked once per model; issue 16, local-first). */
  localFit = $state<LocalFit | undefined>();
  /** This device, when it answers: answering locally is chosen and the chosen model fits. */
  get local(): LocalDevice | undefined {
    const fit = this.localFit;
    const on = this.settings.answerLocally === true && fit?.fits === true && fit.model === this.model;
    return on ? this.device : undefined;
  }
  /** This device as the audit reference whenever it can run the model, answering locally or not. */
  get localReference(): LocalDevice | undefined {
    return this.localFit?.fits && this.localFit.model === this.model ? this.device : undefined;
  }
  /** The last answer failed for want of a funded escrow: the page offers to open the wallet. */
  walletNeeded = $state(false);
  /** Where a GPU owner starts providing: the provider page of this Silk server. */
  readonly providerPage: string;
  /** The conversation just deleted, kept until Undo or the next deletion. */
  removed = $state<Conversation | undefined>();

  private core!: ChatCore;
  private storage!: ChatStorage;
  private runner!: AnswerRunner;
  private device: LocalDevice | undefined;
  private checkingFit: string | undefined;
  private poll: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: ChatStoreOptions) {
    this.providerPage = new URL("/provider", opts.signalingUrl).toString();
  }

  /** Loads the heavy half and opens the page's IndexedDB (part of it: `idb` stays out of the shell). */
  async init(): Promise<void> {
    // Markdown too, so that no answer is ever shown before it can be rendered.
    [this.core] = await Promise.all([loadChatCore(), loadMarkdown()]);
    const db = await this.core.openSilkDb();
    const money = new this.core.EscrowStore({
      ...(this.opts.twaReturnUrl && { twaReturnUrl: this.opts.twaReturnUrl }),
      ...(this.opts.chain && { chain: this.opts.chain }),
    });
    this.money = money;
    this.storage = new this.core.ChatStorage(db, this);
    const sessionKey = await this.storage.sessionKey();
    const trust = new this.core.TrustStore();
    this.trust = trust;
    this.background = new this.core.BackgroundNotice();
    this.runner = new this.core.AnswerRunner(this, this.storage, {
      signalingUrl: this.opts.signalingUrl,
      sessionKey,
      trust,
    });
    this.settings = { ...DEFAULT_CHAT_SETTINGS, ...(await this.storage.settings.get()) };
    this.conversations = await this.storage.conversations();
    this.activeId = this.conversations[0]?.id;
    await Promise.all([money.init(this.opts.signalingUrl, db, sessionKey), this.refreshMoney()]);
    await this.refreshDirectory();
    this.poll = setInterval(() => void this.refreshDirectory(), 5_000);
    this.ready = true;
  }

  dispose(): void {
    clearInterval(this.poll);
    this.money?.dispose();
    this.runner?.dispose();
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
      void this.checkLocalFit();
    } catch {
      // A server that does not answer lists nobody: its providers cannot be reached either.
      this.models = [];
      this.directoryProblem =
        "Cannot reach Silk: the server does not answer, so no provider can be reached. Retrying every few seconds.";
    }
  }

  selectModel(id: string): void {
    this.settings.model = id;
    void this.saveSettings();
    void this.checkLocalFit();
  }

  /** Whether this device can run the chosen model, asked once per model (the page's WebGPU fit check). */
  async checkLocalFit(): Promise<void> {
    const model = this.model;
    if (!model || !this.core || this.localFit?.model === model || this.checkingFit === model) return;
    this.checkingFit = model;
    this.device ??= new this.core.LocalDevice();
    try {
      const fit = await this.device.fit(model);
      if (this.model === model) this.localFit = fit;
    } catch (err) {
      const reason = err instanceof Error ? err.message : "the check failed";
      if (this.model === model) this.localFit = { model, fits: false, reason };
    } finally {
      this.checkingFit = undefined;
    }
  }

  setAnswerLocally(on: boolean): void {
    this.settings.answerLocally = on;
    void this.saveSettings();
  }

  setMaxPrice(prompt: bigint, completion: bigint): void {
    this.settings.maxPromptNano = prompt;
    this.settings.maxCompletionNano = completion;
    void this.saveSettings();
  }

  setAudits(on: boolean): void {
    this.settings.audits = on;
    void this.saveSettings();
  }

  newChat(): void {
    this.activeId = undefined;
    this.draft = "";
    this.pending = {};
  }

  /** Sets one of the open conversation's settings (or the next one's); undefined restores the default. */
  setOption<K extends keyof ChatOptions>(key: K, value: ChatOptions[K]): void {
    const target = this.active ?? this.pending;
    if (value === undefined || value === "") delete target[key];
    else target[key] = value;
    if (this.active) {
      this.active.settingsAt = Date.now();
      void this.storage.save($state.snapshot(this.active) as Conversation);
    }
  }

  open(id: string): void {
    if (!this.streaming) this.activeId = id;
  }

  /** Deletes a conversation; `undoRemove` brings it back until the next deletion. */
  async remove(id: string): Promise<void> {
    const gone = this.conversations.find((c) => c.id === id);
    if (!gone || this.streaming) return;
    this.removed = gone;
    this.conversations = this.conversations.filter((c) => c.id !== id);
    if (this.activeId === id) this.activeId = this.conversations[0]?.id;
    await this.storage.remove(id);
  }

  async undoRemove(): Promise<void> {
    const back = this.removed;
    if (!back) return;
    this.removed = undefined;
    this.conversations = [back, ...this.conversations].sort((a, b) => b.updatedAt - a.updatedAt);
    this.activeId = back.id;
    await this.storage.save($state.snapshot(back) as Conversation);
  }

  rename(id: string, title: string): void {
    const c = this.conversations.find((x) => x.id === id);
    const t = title.trim().slice(0, 200);
    if (!c || !t) return;
    c.title = t;
    c.titleAt = Date.now();
    void this.storage.save($state.snapshot(c) as Conversation);
  }

  /** Sends the draft (or `text`) as a new question in the open conversation. */
  async send(text = this.draft): Promise<void> {
    const question = text.trim();
    const model = this.model;
    if (!question || !model || this.streaming) return;
    this.draft = "";
    let conv = this.active;
    if (!conv) {
      this.conversations = [
        { ...newConversation(model), ...$state.snapshot(this.pending) },
        ...this.conversations,
      ];
      conv = this.conversations[0]!;
      this.pending = {};
      this.activeId = conv.id;
      conv.title = titleFrom(question);
    }
    conv.model = model;
    conv.turns.push({ role: "user", content: question, at: Date.now() });
    await this.answer(conv);
  }

  stop(): void {
    this.runner?.stop();
  }

  /** Stops the other tab's answer this question waits for (it keeps what arrived), so this one goes now. */
  takeOver(): void {
    this.runner?.takeOver();
  }

  /** Asks again for the last answer; the answer it replaces stays as an earlier version. */
  async regenerate(): Promise<void> {
    const conv = this.active;
    if (conv && !this.streaming && conv.turns.length > 0) await this.answer(conv, true);
  }

  /**
   * Replaces question `index` with `text` and asks again. What followed it (paid answers) is not
   * deleted: it becomes an earlier branch of the conversation.
   */
  async edit(index: number, text: string): Promise<void> {
    const conv = this.active;
    if (!conv || this.streaming || conv.turns[index]?.role !== "user" || !text.trim()) return;
    conv.branches = [
      ...(conv.branches ?? []),
      { from: index, turns: conv.turns.slice(index), at: Date.now() },
    ];
    conv.turns.splice(index);
    conv.turns.push({ role: "user", content: text.trim(), at: Date.now() });
    if (index === 0) conv.title = titleFrom(text);
    await this.answer(conv);
  }

  exportAll(): string {
    return this.core.exportConversations($state.snapshot(this.conversations) as Conversation[]);
  }

  /** Adds the conversations of an export file (replacing ones with the same id). Says how many of each. */
  async importText(text: string): Promise<{ added: number; replaced: number }> {
    const done = await this.storage.importText(text, this.conversations);
    this.conversations = done.conversations;
    return done;
  }

  private async answer(conv: Conversation, again?: boolean): Promise<void> {
    let outcome: "done" | "error" | "stopped" = "error";
    try {
      outcome = await this.runner.answer(conv, again);
    } finally {
      conv.updatedAt = Date.now();
      await this.storage.save($state.snapshot(conv) as Conversation);
      await this.refreshMoney();
      this.opts.onAnswer?.(outcome);
    }
  }

  private async refreshMoney(): Promise<void> {
    this.totalSigned = await this.storage.account.totalSigned();
    await this.money?.refresh();
  }

  private async saveSettings(): Promise<void> {
    await this.storage.settings.set($state.snapshot(this.settings));
  }
}
