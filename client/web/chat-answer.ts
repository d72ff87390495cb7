import type { RegistryReader } from "../../contracts/wrappers/registry-reader";
import type { KeyPair } from "../../protocol";
import type { BackgroundNotice } from "../../web/background-notice.svelte";
import { engineReference } from "../sdk/audit-reference";
import { auditOver } from "../sdk/auditor";
import type { CompletionUsage } from "../sdk/openai-shapes";
import { defaultReserveAhead, raiseValidForS } from "../sdk/reserve-keeper";
import { connect, type SilkClient } from "../sdk/silk-client";
import type { ChatSettings } from "./chat-settings";
import type { ChatStorage } from "./chat-storage";
import {
  type AnswerVersion,
  type ChatTurn,
  type Conversation,
  estimatePromptTokens,
  promptMessages,
} from "./conversation";
import type { ModelChoice } from "./directory";
import { explainError, lostAnswer, needsWallet } from "./error-text";
import type { EscrowStore } from "./escrow-store.svelte";
import type { LocalDevice } from "./local-device";
import { registryReaderFor } from "./registry-check";
import { TabTurns } from "./tab-turns";
import type { TrustStore } from "./trust-store.svelte";

const WAITING_FOR_TAB =
  "Another Silk tab of this browser is answering with the same key. This question goes as soon as that answer ends; or stop that answer and ask here.";
const WAITING_FOR_AUDIT =
  "This tab is checking the last answer's provider (an audit). This question goes as soon as that check ends.";
const DIRECTORY_TROUBLE =
  "The Silk server garbled its answer when this page reconnected, so the models and prices shown may be out of date. The page tries again the next time it reconnects; if this stays, the server may run another version of Silk.";
const DIRECTORY_BACK = "The Silk server answers well again: the models and prices shown are up to date.";
const TAKEN_OVER =
  "Stopped: another tab of this browser asked with the same key. What arrived is kept and paid.";

/** The chat state an answer reads and writes while it streams (the ChatStore's own fields). */
export interface AnswerHost {
  streaming: boolean;
  status: string | undefined;
  live: { tokens: number; cost: bigint } | undefined;
  walletNeeded: boolean;
  /** Another tab of this browser is answering with the same key: this question waits for it. */
  waitingForTab: boolean;
  readonly settings: ChatSettings;
  readonly modelChoice: ModelChoice | undefined;
  readonly money: EscrowStore | undefined;
  /** This device answers (chosen, and it fits the model): no provider, no payment. */
  readonly local: LocalDevice | undefined;
  /** This device as the audit reference, when it can run the model. */
  readonly localReference: LocalDevice | undefined;
  /** Where what the SDK failed at by itself is said. */
  readonly background: BackgroundNotice | undefined;
}

/**
 * Asks for and streams answers for the chat: one SDK client, remade when the highest price (stated
 * before any pairing), the escrow's terms or the trust policy change. Part of the chat's heavy half
 * (a lazy chunk), so the widget's first download is only the shell that shows its state.
 */
export class AnswerRunner {
  private client: Promise<SilkClient> | undefined;
  private clientTerms = "";
  private registry: RegistryReader | undefined;
  private abort: AbortController | undefined;
  private readonly turns = new TabTurns();
  private readonly closed = new AbortController();

  constructor(
    private readonly host: AnswerHost,
    private readonly storage: ChatStorage,
    private readonly opts: { signalingUrl: string; sessionKey: KeyPair; trust: TrustStore },
  ) {}

  stop(): void {
    this.abort?.abort();
  }

  /** Asks the tab whose answer this question waits for to stop it, so this one goes now. */
  takeOver(): void {
    this.turns.takeOver();
  }

  dispose(): void {
    this.abort?.abort();
    this.closed.abort();
    this.turns.dispose();
    this.storage.dispose();
    void this.client?.then((c) => c.close()).catch(() => undefined);
  }

  /**
   * Appends an answer to `conv` and streams it; says how it ended. `again` (Regenerate): the last
   * answer becomes an earlier version of the new one (it was paid for).
   */
  async answer(conv: Conversation, again?: boolean): Promise<"done" | "error" | "stopped"> {
    const host = this.host;
    const versions = again ? retireAnswers(conv) : [];
    conv.turns.push({ role: "assistant", content: "", at: Date.now(), ...(versions.length && { versions }) });
    const turn = conv.turns.at(-1) as ChatTurn;
    // What the answer is asked with: the turns before it, read once this tab's turn comes, since
    // another tab's exchange may have been merged in ahead of it meanwhile (conversation-sync.ts).
    const asked = () => {
      const at = conv.turns.indexOf(turn);
      return promptMessages({ ...conv, turns: conv.turns.slice(0, at < 0 ? undefined : at) });
    };
    let messages = asked();
    host.streaming = true;
    host.status = "Finding a provider…";
    const abort = new AbortController();
    this.abort = abort;
    let outcome: "done" | "error" | "stopped" = "done";
    let takenOver = false;
    const started = performance.now();
    let firstAt = 0;
    const rate = (tokens: number) =>
      Math.round((tokens / Math.max(0.001, (performance.now() - (firstAt || started)) / 1000)) * 10) / 10;
    try {
      const local = host.local;
      if (local) {
        host.status = "Loading the model on this device…";
        host.live = { tokens: 0, cost: 0n };
        let counted = 0;
        const result = await local.answer(
          {
            model: conv.model,
            messages,
            ...(conv.temperature !== undefined && { temperature: conv.temperature }),
            ...(conv.maxTokens !== undefined && { max_tokens: conv.maxTokens }),
          },
          (chunk) => {
            if (!firstAt) firstAt = performance.now();
            host.status = undefined;
            turn.content += chunk.text;
            counted += chunk.tokens;
            host.live = { tokens: counted, cost: 0n };
          },
          abort.signal,
          (p) => {
            host.status = `Loading the model on this device: ${Math.round(p.progress * 100)}%`;
          },
        );
        if (result.finishReason === "abort") outcome = "stopped";
        turn.stats = {
          promptTokens: result.promptTokens,
          completionTokens: result.completionTokens,
          cost: 0n,
          tokensPerSecond: rate(result.completionTokens),
          onDevice: true,
          failovers: 0,
          finish: result.finishReason,
        };
        return outcome;
      }
      // Only one tab of this browser streams on its key at a time (tab-turns.ts): a second would end
      // this one's session at the provider, cutting the answer.
      await this.turns.hold(
        {
          signal: abort.signal,
          waiting: (own) => {
            host.waitingForTab = !own;
            host.status = own ? WAITING_FOR_AUDIT : WAITING_FOR_TAB;
          },
        },
        async (taken) => {
          host.waitingForTab = false;
          host.status = "Finding a provider…";
          messages = asked();
          const stopHere = () => {
            takenOver = true;
            abort.abort();
          };
          taken.addEventListener("abort", stopHere, { once: true });
          try {
            const client = await this.connected();
            const stream = await client.chat.completions.create({
              model: conv.model,
              messages,
              ...(conv.temperature !== undefined && { temperature: conv.temperature }),
              ...(conv.maxTokens !== undefined && { max_tokens: conv.maxTokens }),
              stream: true,
              stream_options: { include_usage: true },
              signal: abort.signal,
            });
            let finish: string | undefined;
            let usage: CompletionUsage | undefined;
            // Counted as they arrive (a chunk is a token); the receipt's exact count replaces it at the end.
            const price = host.modelChoice;
            const promptCost = BigInt(estimatePromptTokens(messages)) * (price?.promptNano ?? 0n);
            let counted = 0;
            host.live = { tokens: 0, cost: promptCost };
            for await (const chunk of stream) {
              const piece = chunk.choices[0]?.delta.content;
              if (piece) {
                if (!firstAt) firstAt = performance.now();
                host.status = undefined;
                turn.content += piece;
                counted++;
                host.live = {
                  tokens: counted,
                  cost: promptCost + BigInt(counted) * (price?.completionNano ?? 0n),
                };
              }
              finish = chunk.choices[0]?.finish_reason ?? finish;
              usage = chunk.usage ?? usage;
            }
            if (finish === "abort") outcome = "stopped";
            host.walletNeeded = false;
            if (usage) {
              turn.stats = {
                promptTokens: usage.prompt_tokens,
                completionTokens: usage.completion_tokens,
                cost: BigInt(usage.silk?.cost_nanoton ?? "0"),
                tokensPerSecond: rate(usage.completion_tokens),
                ...(usage.silk?.provider && { provider: usage.silk.provider }),
                failovers: usage.silk?.failovers ?? 0,
                finish: finish ?? "stop",
              };
            }
          } finally {
            taken.removeEventListener("abort", stopHere);
          }
        },
      );
      if (takenOver) {
        outcome = "stopped";
        turn.error = TAKEN_OVER;
      }
    } catch (err) {
      if (abort.signal.aborted) {
        outcome = "stopped";
        if (takenOver) turn.error = TAKEN_OVER;
      } else {
        outcome = "error";
        turn.error = explainError(err);
        host.walletNeeded = needsWallet(err);
        const lost = lostAnswer(err);
        if (lost) {
          // The tokens that arrived were paid for: they keep their stats.
          if (!turn.content) turn.content = lost.partial;
          turn.stats = {
            promptTokens: 0,
            completionTokens: lost.tokens,
            cost: lost.cost,
            tokensPerSecond: rate(lost.tokens),
            failovers: 0,
            finish: "lost",
          };
        }
      }
    } finally {
      host.streaming = false;
      host.live = undefined;
      host.status = undefined;
      host.waitingForTab = false;
      this.abort = undefined;
    }
    return outcome;
  }

  private connected(): Promise<SilkClient> {
    const { settings, money } = this.host;
    const trust = this.opts.trust;
    const terms = money!.terms();
    // Closing and reopening the escrow needs no new client: a provider reads an escrow it last saw
    // closing again before refusing (EscrowLimit.closingNow), so a session survives the reopen.
    const key = `${settings.maxPromptNano}/${settings.maxCompletionNano}/${terms.escrow}/${terms.keyEpoch}/${trust.termsKey}/${settings.audits === true}/${this.host.localReference !== undefined}`;
    const config = money?.config;
    this.registry ??= config && registryReaderFor(config, this.opts.signalingUrl);
    if (!this.client || key !== this.clientTerms) {
      void this.client?.then((c) => c.close()).catch(() => undefined);
      // What the last client failed at by itself ends with it.
      this.host.background?.clear();
      this.clientTerms = key;
      const audits = settings.audits === true;
      this.client = connect({
        signalingUrl: this.opts.signalingUrl,
        sessionKey: this.opts.sessionKey,
        maxPrice: {
          promptNanoPerToken: settings.maxPromptNano,
          completionNanoPerToken: settings.maxCompletionNano,
        },
        escrow: terms.escrow,
        keyEpoch: terms.keyEpoch,
        network: terms.network,
        account: this.storage.account,
        // Each provider's stream is reserved ahead of what is signed, by the session key (no wallet
        // prompt per provider): past each prompt's bound, a credit window at the highest price and
        // at least RESERVE_STEP (defaultReserveAhead), so a raise's fee stays a small share of what it covers.
        reserve: {
          chain: terms.reserves,
          ahead: defaultReserveAhead(settings.maxCompletionNano),
          // The keeper's own rule over the page's close delay, which saves it a chain read.
          ...(config && { validForS: raiseValidForS(config.closeDelay) }),
        },
        onFailover: ({ failovers }) => {
          this.host.status = `The provider was lost: failover in progress (attempt ${failovers})…`;
        },
        ...(this.registry && { trust: { registry: this.registry, policy: trust.policy() } }),
        onProvider: (p) => trust.seen(p),
        onSignalingError: (e) =>
          this.host.background?.tell({ key: e.code, text: DIRECTORY_TROUBLE, detail: e.message }),
        onSignalingRecovered: () => this.host.background?.ended(DIRECTORY_BACK),
        // An audited answer must be signed to be evidence.
        ...(audits && { requireSignedAnswers: true }),
      }).then((client) => {
        if (!audits) return client;
        // This device, when it can run the model, is the reference: its verdicts are the requester's own.
        const device = this.host.localReference;
        const reference = device && engineReference(device, "this device");
        return auditOver(client, this.opts.sessionKey, {
          ...(reference && { reference }),
          // A challenge runs on this browser's key like a question: in this tab's turn, after the
          // question it came with, or it would open a session another tab's answer then loses. It
          // stops, as an answer does, when another tab asks for the turn ("Stop the other tab's answer").
          turn: (run) => this.turns.hold({ signal: this.closed.signal, waiting: () => undefined }, run),
        }).wrap();
      });
      this.client.catch(() => {
        this.client = undefined;
      });
    }
    return this.client;
  }
}

/** Takes the last answers off `conv`, as the earlier versions the next answer keeps, oldest first. */
function retireAnswers(conv: Conversation): AnswerVersion[] {
  const versions: AnswerVersion[] = [];
  while (conv.turns.at(-1)?.role === "assistant") {
    const old = conv.turns.pop()!;
    versions.unshift(...(old.versions ?? []), {
      content: old.content,
      ...(old.at !== undefined && { at: old.at }),
      ...(old.stats && { stats: old.stats }),
      ...(old.error !== undefined && { error: old.error }),
    });
  }
  return versions;
}
