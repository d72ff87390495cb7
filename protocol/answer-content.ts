import type { AnswerContent } from "./answer-statement";
import { toHex } from "./encoding";
import type { AnswerPiece, LogprobEntry, ToolCall, ToolCallDelta } from "./schemas/chat";

/**
 * An answer assembled from its streamed pieces, the same way on both sides: the text, the tool
 * calls (a new index starts a call, later pieces append), and the per-token logprobs. What the
 * provider signs and what the requester checks the signature against.
 */
export class AnswerBuilder implements AnswerContent {
  text = "";
  readonly toolCalls: ToolCall[] = [];
  readonly logprobs: LogprobEntry[] = [];
  /**
   * The indices of the calls the provider gave no id: both sides sign and check them as
   * `call_<index>`, which repeats every turn, so a requester shows its program an id of its own.
   */
  readonly unnamedCalls: number[] = [];
  tokens = 0;

  add(piece: AnswerPiece): void {
    this.text += piece.text;
    this.tokens += piece.tokens;
    for (const d of piece.toolCalls ?? []) {
      if (!this.toolCalls[d.index] && d.id === undefined) this.unnamedCalls.push(d.index);
      mergeToolCall(this.toolCalls, d);
    }
    if (piece.logprobs) this.logprobs.push(...piece.logprobs);
  }
}

export function mergeToolCall(calls: ToolCall[], d: ToolCallDelta): void {
  const call = calls[d.index];
  if (!call) {
    calls[d.index] = {
      id: d.id ?? `call_${d.index}`,
      type: "function",
      function: { name: d.function?.name ?? "", arguments: d.function?.arguments ?? "" },
    };
    return;
  }
  calls[d.index] = {
    ...call,
    function: {
      name: call.function.name + (d.function?.name ?? ""),
      arguments: call.function.arguments + (d.function?.arguments ?? ""),
    },
  };
}

/**
 * Call ids for one answer, as OpenAI's: `call_`, a random tail drawn once per answer, and the
 * call's index, so no two answers' calls share one (`call_<index>` alone makes every turn's
 * first call `call_0`, and programs that key tool results by id across a conversation, the
 * Vercel AI SDK and LangChain agents, would take one turn's call for another's).
 */
export function callIdsOfAnswer(): (index: number) => string {
  const tail = toHex(crypto.getRandomValues(new Uint8Array(9)));
  return (index) => `call_${tail}_${index}`;
}
