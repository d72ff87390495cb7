import { EscrowParams } from "../../contracts/generated/constants";
import { costOf, type ServedModel } from "../../protocol";

/** Prompt tokens a model that declares no context window is trusted for beyond a reserve. */
export const DEFAULT_PROMPT_BOUND_TOKENS = 8_192;

/**
 * The least trusted beyond a reserve: a stream trusted for less than the escrow's minimum claim
 * could never be claimed, and its requester (raising no reserve) would stay refused until the
 * provider's hold deadline (a week). Four minimums: claimed at half (`trust-spent`), the rest
 * serves while the claim lands.
 */
export const LEAST_UNRESERVED_NANO = 4n * EscrowParams.MIN_CLAIM;

/**
 * What a provider that requires reserves trusts beyond a stream's reserve by default: the dearest
 * model's prompt at its bound (its context window, or DEFAULT_PROMPT_BOUND_TOKENS) and one credit
 * window of completion, so a single request starts before the requester's raise is seen; never
 * less than LEAST_UNRESERVED_NANO.
 */
export function unreservedFloor(models: readonly ServedModel[], windowTokens: number): bigint {
  let most = LEAST_UNRESERVED_NANO;
  for (const m of models) {
    const promptTokens = m.contextWindow ?? DEFAULT_PROMPT_BOUND_TOKENS;
    const cost = costOf({ promptTokens, completionTokens: windowTokens }, m.price);
    if (cost > most) most = cost;
  }
  return most;
}
