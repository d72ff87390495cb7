// Straight from protocol/ton-amount, not the barrel or pricing.ts: the chat shell imports this module,
// and they would bring the protocol's errors (or all of it and @ton/core) into the first download.
import { formatTon } from "../../protocol/ton-amount";

/**
 * A conversation as the web client and the widget keep it. Money is bigint nanoTON in memory and
 * a decimal string in storage and in exports (JSON has no bigint), see `conversation-file.ts`.
 * Pure: tested without a browser.
 */
export interface AnswerStats {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** nanoTON. */
  readonly cost: bigint;
  readonly tokensPerSecond: number;
  readonly provider?: string;
  /** Answered on the requester's own device: nothing left it, nothing was paid. */
  readonly onDevice?: boolean;
  readonly failovers: number;
  readonly finish: string;
}

export interface ChatTurn {
  readonly role: "user" | "assistant";
  content: string;
  /** When it was asked or answered (ms): who it is when two tabs merge their copies (conversation-merge.ts). */
  readonly at?: number;
  stats?: AnswerStats;
  /** What went wrong with this answer, in words a user can act on. */
  error?: string;
  /** An answer's earlier versions (Regenerate keeps them: they were paid for), oldest first. */
  versions?: AnswerVersion[];
}

/** An answer replaced by Regenerate, kept with what it cost. */
export interface AnswerVersion {
  readonly content: string;
  readonly at?: number;
  readonly stats?: AnswerStats;
  readonly error?: string;
}

/** The turns an edit replaced, from question `from` on: kept, because they were paid for. */
export interface Branch {
  readonly from: number;
  readonly turns: ChatTurn[];
  readonly at: number;
}

export interface Conversation {
  readonly id: string;
  title: string;
  /**
   * When the title was last set (ms): a rename, or the first question naming it. Two tabs' copies
   * keep the later-set title (conversation-merge.ts), whichever copy was saved last.
   */
  titleAt?: number;
  /** When its settings (system prompt, temperature, longest answer) were last set (ms): merged like the title. */
  settingsAt?: number;
  model: string;
  turns: ChatTurn[];
  /** Earlier branches, left by editing a question (oldest first). */
  branches?: Branch[];
  /** Sent before the conversation as a system message. */
  system?: string;
  /** Sampling temperature (0–2) and the longest answer, in tokens; the model's defaults when unset. */
  temperature?: number;
  maxTokens?: number;
  readonly createdAt: number;
  updatedAt: number;
}

export function newConversation(model: string, now = Date.now()): Conversation {
  return { id: crypto.randomUUID(), title: "New chat", model, turns: [], createdAt: now, updatedAt: now };
}

/** A title from the first question: its first line, cut at 60 characters. */
export function titleFrom(text: string): string {
  const line = text.trim().split("\n")[0] ?? "";
  return line.length > 60 ? `${line.slice(0, 57)}…` : line || "New chat";
}

/** What answers cost, their earlier versions and earlier branches included: all of it was paid. */
export function turnsCost(turns: readonly ChatTurn[]): bigint {
  let sum = 0n;
  for (const t of turns) {
    sum += t.stats?.cost ?? 0n;
    for (const v of t.versions ?? []) sum += v.stats?.cost ?? 0n;
  }
  return sum;
}

export function conversationCost(c: Conversation): bigint {
  return (c.branches ?? []).reduce((sum, b) => sum + turnsCost(b.turns), turnsCost(c.turns));
}

/**
 * Prompt tokens of the next question, estimated before sending: the whole conversation is sent
 * again each time. About 4 bytes a token for English text (tokenizers of the served models differ;
 * the SDK bounds the real count by the bytes), plus a few tokens of chat template per message.
 */
export function estimatePromptTokens(messages: readonly { content: string }[]): number {
  const encoder = new TextEncoder();
  return messages.reduce((n, m) => n + Math.ceil(encoder.encode(m.content).length / 4) + 4, 0);
}

/** A conversation's own settings, as the settings panel edits them. */
export type ChatOptions = Pick<Conversation, "system" | "temperature" | "maxTokens">;

/** Why a setting cannot be used, or undefined. Pure: the panel shows it next to the field. */
export function optionProblem(
  key: "temperature" | "maxTokens",
  value: number | undefined,
): string | undefined {
  if (value === undefined) return undefined;
  if (key === "temperature") return value >= 0 && value <= 2 ? undefined : "Temperature is between 0 and 2.";
  return Number.isInteger(value) && value >= 1 && value <= 100_000
    ? undefined
    : "Longest answer is a whole number of tokens, 1 to 100000.";
}

/** The messages an answer is asked with: the system prompt, then every turn that has text. */
export function promptMessages(c: Pick<Conversation, "turns" | "system">) {
  const system = c.system?.trim();
  return [
    ...(system ? [{ role: "system" as const, content: system }] : []),
    ...c.turns.filter((t) => !t.error || t.content).map((t) => ({ role: t.role, content: t.content })),
  ];
}

export const costText = (nano: bigint): string => `${formatTon(nano)} TON`;

/**
 * An amount where a phone has little room (what the escrow holds, in the Wallet button at 360 px):
 * three decimals at most, rounded down so it never shows more than there is; "<0.001 TON" for a
 * smaller amount above zero. The exact amount stays beside it for screen readers.
 */
export function shortCostText(nano: bigint): string {
  const milli = 1_000_000n;
  if (nano > 0n && nano < milli) return "<0.001 TON";
  return costText(nano - (nano % milli));
}
