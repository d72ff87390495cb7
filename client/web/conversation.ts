// Straight from protocol/pricing, not the protocol barrel: the chat shell imports this module, and
// the barrel would bring the whole protocol (and @ton/core) into the widget's first download.
import { formatTon } from "../../protocol/pricing";

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
  readonly failovers: number;
  readonly finish: string;
}

export interface ChatTurn {
  readonly role: "user" | "assistant";
  content: string;
  stats?: AnswerStats;
  /** What went wrong with this answer, in words a user can act on. */
  error?: string;
}

export interface Conversation {
  readonly id: string;
  title: string;
  model: string;
  turns: ChatTurn[];
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

export function conversationCost(c: Conversation): bigint {
  return c.turns.reduce((sum, t) => sum + (t.stats?.cost ?? 0n), 0n);
}

export const costText = (nano: bigint): string => `${formatTon(nano)} TON`;
