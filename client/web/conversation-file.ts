import * as v from "valibot";
import { MalformedMessageError, parseWith } from "../../protocol";
import type { Conversation } from "./conversation";

/**
 * Conversations as stored in IndexedDB and in export files: money as a decimal string (JSON has
 * no bigint), validated on import. Loaded with the chat's heavy half, not the chat shell.
 */
const Nano = v.pipe(v.string(), v.regex(/^\d{1,40}$/));
const StatsWire = v.object({
  promptTokens: v.pipe(v.number(), v.integer(), v.minValue(0)),
  completionTokens: v.pipe(v.number(), v.integer(), v.minValue(0)),
  cost: Nano,
  tokensPerSecond: v.pipe(v.number(), v.minValue(0)),
  provider: v.optional(v.pipe(v.string(), v.maxLength(128))),
  failovers: v.pipe(v.number(), v.integer(), v.minValue(0)),
  finish: v.pipe(v.string(), v.maxLength(20)),
});
const TurnWire = v.object({
  role: v.picklist(["user", "assistant"]),
  content: v.pipe(v.string(), v.maxLength(1_000_000)),
  stats: v.optional(StatsWire),
  error: v.optional(v.pipe(v.string(), v.maxLength(1_000))),
});
const ConversationWire = v.object({
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  title: v.pipe(v.string(), v.maxLength(200)),
  model: v.pipe(v.string(), v.maxLength(200)),
  turns: v.pipe(v.array(TurnWire), v.maxLength(10_000)),
  createdAt: v.number(),
  updatedAt: v.number(),
});
const ExportWire = v.object({
  format: v.literal("silk-conversations"),
  v: v.literal(1),
  conversations: v.pipe(v.array(ConversationWire), v.maxLength(10_000)),
});

export type ConversationRecord = v.InferOutput<typeof ConversationWire>;

export function toRecord(c: Conversation): ConversationRecord {
  return {
    ...c,
    turns: c.turns.map((t) => ({
      role: t.role,
      content: t.content,
      ...(t.stats && { stats: { ...t.stats, cost: t.stats.cost.toString() } }),
      ...(t.error !== undefined && { error: t.error }),
    })),
  };
}

export function fromRecord(r: ConversationRecord): Conversation {
  return {
    ...r,
    turns: r.turns.map((t) => ({
      role: t.role,
      content: t.content,
      ...(t.stats && { stats: { ...t.stats, cost: BigInt(t.stats.cost) } }),
      ...(t.error !== undefined && { error: t.error }),
    })),
  };
}

export function exportConversations(list: readonly Conversation[]): string {
  return JSON.stringify({ format: "silk-conversations", v: 1, conversations: list.map(toRecord) }, null, 2);
}

/** Parses an export; a file that is not one fails with a MalformedMessageError naming the path. */
export function importConversations(text: string): Conversation[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MalformedMessageError("this file is not JSON: expected a Silk conversations export");
  }
  return parseWith(ExportWire, json, "conversations file").conversations.map(fromRecord);
}
