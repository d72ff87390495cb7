import type { ToolCall, ToolCallDelta } from "./schemas/chat";
import type { ChatParams } from "./schemas/session";

/**
 * Tool calls a request ruled out, read the same way on both sides. A requester refuses an answer
 * that streams one (OVER_REPORT: an engine that honours `tools`, `tool_choice` and
 * `parallel_tool_calls` never makes one); a provider whose backend may not honour them (Ollama
 * reads no `tool_choice`) refuses the request itself before streaming the call, so it is not
 * taken for a liar.
 */

/**
 * Why `deltas` are tool calls the request ruled out, if they are, and the field that ruled them
 * out: it gave no tools, its `tool_choice` was "none", it asked for one call at most
 * (`parallel_tool_calls: false`) and a second begins, or it named a function and a call names
 * another (checked as the name streams: the call's name so far, after what `called` already
 * holds, must begin the one named). `why` reads after "provider".
 */
export function unaskedCall(
  tools: unknown,
  sent: Pick<ChatParams, "tool_choice" | "parallel_tool_calls">,
  called: readonly ToolCall[],
  deltas: readonly ToolCallDelta[],
): { readonly param: "tools" | "tool_choice" | "parallel_tool_calls"; readonly why: string } | undefined {
  if (!tools) return { param: "tools", why: "sent tool calls to a request without tools" };
  const choice = sent.tool_choice;
  if (choice === "none")
    return {
      param: "tool_choice",
      why: 'sent tool calls to a request whose tool_choice "none" asked for none',
    };
  if (sent.parallel_tool_calls === false && deltas.some((d) => d.index > 0))
    return {
      param: "parallel_tool_calls",
      why: "began a second tool call where parallel_tool_calls false asked for one at most",
    };
  if (typeof choice !== "object") return undefined;
  const wanted = choice.function.name;
  const names = new Map<number, string>();
  for (const d of deltas) {
    const name = (names.get(d.index) ?? called[d.index]?.function.name ?? "") + (d.function?.name ?? "");
    names.set(d.index, name);
    if (!wanted.startsWith(name))
      return {
        param: "tool_choice",
        why: `called ${JSON.stringify(name)} where the request's tool_choice named ${JSON.stringify(wanted)}`,
      };
  }
  return undefined;
}
