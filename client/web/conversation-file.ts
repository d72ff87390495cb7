import * as v from "valibot";
import { MalformedMessageError, parseWith } from "../../protocol";
import type { AnswerStats, ChatTurn, Conversation } from "./conversation";

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
  onDevice: v.optional(v.boolean()),
  failovers: v.pipe(v.number(), v.integer(), v.minValue(0)),
  finish: v.pipe(v.string(), v.maxLength(20)),
});
const Content = v.pipe(v.string(), v.maxLength(1_000_000));
const ErrorText = v.pipe(v.string(), v.maxLength(1_000));
const Stamp = v.optional(v.pipe(v.number(), v.finite()));
const VersionWire = v.object({
  content: Content,
  at: Stamp,
  stats: v.optional(StatsWire),
  error: v.optional(ErrorText),
});
const TurnWire = v.object({
  role: v.picklist(["user", "assistant"]),
  content: Content,
  at: Stamp,
  stats: v.optional(StatsWire),
  error: v.optional(ErrorText),
  versions: v.optional(v.pipe(v.array(VersionWire), v.maxLength(1_000))),
});
const Turns = v.pipe(v.array(TurnWire), v.maxLength(10_000));
const BranchWire = v.object({
  from: v.pipe(v.number(), v.integer(), v.minValue(0)),
  turns: Turns,
  at: v.number(),
});
const ConversationWire = v.object({
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  title: v.pipe(v.string(), v.maxLength(200)),
  titleAt: Stamp,
  settingsAt: Stamp,
  model: v.pipe(v.string(), v.maxLength(200)),
  turns: Turns,
  branches: v.optional(v.pipe(v.array(BranchWire), v.maxLength(1_000))),
  system: v.optional(v.pipe(v.string(), v.maxLength(100_000))),
  temperature: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(2))),
  maxTokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000))),
  createdAt: v.number(),
  updatedAt: v.number(),
});
const ExportWire = v.object({
  format: v.literal("silk-conversations"),
  v: v.literal(1),
  conversations: v.pipe(v.array(ConversationWire), v.maxLength(10_000)),
});

export type ConversationRecord = v.InferOutput<typeof ConversationWire>;

type StatsRecord = v.InferOutput<typeof StatsWire>;
type TurnRecord = v.InferOutput<typeof TurnWire>;

const statsOut = (s: AnswerStats): StatsRecord => ({ ...s, cost: s.cost.toString() });
const statsIn = (s: StatsRecord): AnswerStats => ({ ...s, cost: BigInt(s.cost) });

function turnOut(t: ChatTurn): TurnRecord {
  return {
    role: t.role,
    content: t.content,
    ...(t.at !== undefined && { at: t.at }),
    ...(t.stats && { stats: statsOut(t.stats) }),
    ...(t.error !== undefined && { error: t.error }),
    ...(t.versions?.length && {
      versions: t.versions.map((x) => ({
        content: x.content,
        ...(x.at !== undefined && { at: x.at }),
        ...(x.stats && { stats: statsOut(x.stats) }),
        ...(x.error !== undefined && { error: x.error }),
      })),
    }),
  };
}

function turnIn(t: TurnRecord): ChatTurn {
  return {
    role: t.role,
    content: t.content,
    ...(t.at !== undefined && { at: t.at }),
    ...(t.stats && { stats: statsIn(t.stats) }),
    ...(t.error !== undefined && { error: t.error }),
    ...(t.versions?.length && {
      versions: t.versions.map((x) => ({
        content: x.content,
        ...(x.at !== undefined && { at: x.at }),
        ...(x.stats && { stats: statsIn(x.stats) }),
        ...(x.error !== undefined && { error: x.error }),
      })),
    }),
  };
}

export function toRecord(c: Conversation): ConversationRecord {
  const { branches, ...rest } = c;
  return {
    ...rest,
    turns: c.turns.map(turnOut),
    ...(branches?.length && { branches: branches.map((b) => ({ ...b, turns: b.turns.map(turnOut) })) }),
  };
}

export function fromRecord(r: ConversationRecord): Conversation {
  const { branches, ...rest } = r;
  return {
    ...rest,
    turns: r.turns.map(turnIn),
    ...(branches?.length && { branches: branches.map((b) => ({ ...b, turns: b.turns.map(turnIn) })) }),
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
