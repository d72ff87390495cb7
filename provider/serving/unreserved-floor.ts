import { costOf, type ServedModel } from "../../protocol";

/** Prompt tokens a model that declares no context window is trusted for beyond a reserve. */
export const DEFAULT_PROMPT_BOUND_TOKENS = 8_192;

/**
 * What a provider that requires reserves trusts beyond a stream's reserve by default: the dearest
 * model's prompt at its bound (its context window, or DEFAULT_PROMPT_BOUND_TOKENS) and one credit
 * window of completion, so a single request starts before the requester's raise is seen.
 */
export function unreservedFloor(models: readonly ServedModel[], windowTokens: number): bigint {
  let most = 0n;
  for (const m of models) {
    const promptTokens = m.contextWindow ?? DEFAULT_PROMPT_BOUND_TOKENS;
    const cost = costOf({ promptTokens, completionTokens: windowTokens }, m.price);
    if (cost > most) most = cost;
  }
  return most;
}
