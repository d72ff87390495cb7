import type { EngineRequest, ScoreResult } from "./engine";
import { EngineError } from "./engine";
import { forcedTokenIds, type TokenCodec } from "./forced-token-ids";
import { webLlmRequest } from "./webllm-request";
import type { MlcChat } from "./webllm-run";
import { scoreWebLlm } from "./webllm-score";

/**
 * The engine's forcing processor (forcing-processor.ts), wherever it runs: in WebLLM's worker for
 * the real engine (webllm-forcing-channel.ts), in the same process for the test double. `arm`
 * must reach it after the chat is reset and before the request; `take` after the stream ended.
 */
export interface Forcing {
  arm(ids: Int32Array): void;
  take(): Promise<number[]>;
}

/**
 * Teacher forcing on WebLLM (feature `scoring`, audits): the answer's tokens become the model's
 * token ids (its own tokenizer, forced-token-ids.ts), the forcing processor is armed with them,
 * and the request goes through `chat.completions.create` with the same messages, so the prompt
 * is WebLLM's own chat template. Each step's logprob is log-softmax of the raw logits at the
 * target: the model's own probability of the suspect's token after the suspect's own tokens.
 *
 * When forcing cannot give scores comparable with a WebLLM provider's, the result says so and
 * comes from the greedy path instead (webllm-score.ts, a prefix, `method: "greedy-path"` with
 * the reason): the tokens do not map one to one to the model's ids, the tokenizer cannot be
 * loaded, or the request has what acts on the logits after the processor (`logit_bias`,
 * penalties) or a grammar (`response_format`, tools) that a forced token may break.
 */
export async function scoreWebLlmForced(
  engine: MlcChat,
  forcing: Forcing,
  tokenizer: () => Promise<TokenCodec>,
  request: EngineRequest,
  tokens: readonly string[],
  signal?: AbortSignal,
): Promise<ScoreResult> {
  const fallback = async (reason: string): Promise<ScoreResult> => ({
    ...(await scoreWebLlm(engine, request, tokens, signal)),
    method: "greedy-path",
    fallback: reason,
  });
  const unforceable = unforceableField(request);
  if (unforceable) return fallback(unforceable);
  let codec: TokenCodec;
  try {
    codec = await tokenizer();
  } catch (err) {
    return fallback(`the model's tokenizer could not be loaded: ${describe(err)}`);
  }
  const mapped = forcedTokenIds(codec, tokens);
  if (!mapped.ok) return fallback(mapped.reason);
  if (mapped.ids.length === 0) return { logprobs: [], promptTokens: 0, method: "teacher-forcing" };

  const { score: _score, stop: _stop, ...rest } = request;
  const params = webLlmRequest({
    ...rest,
    temperature: 1,
    top_p: 1,
    logprobs: false,
    max_tokens: mapped.ids.length,
  });
  delete params.top_logprobs;
  const interrupt = () => engine.interruptGenerate();
  signal?.addEventListener("abort", interrupt, { once: true });
  let promptTokens = 0;
  let logprobs: number[] = [];
  try {
    await engine.resetChat();
    forcing.arm(mapped.ids);
    try {
      // Read to its end: leaving WebLLM's stream early locks the engine.
      for await (const chunk of await engine.chat.completions.create(params))
        if (chunk.usage) promptTokens = chunk.usage.prompt_tokens;
    } finally {
      logprobs = await forcing.take();
    }
  } finally {
    signal?.removeEventListener("abort", interrupt);
  }
  if (signal?.aborted) throw new EngineError("backend", "score: aborted");
  // An entry spanning several ids (a split character) scores as its last one, as WebLLM reports it.
  const scores = mapped.ends
    ? mapped.ends.filter((end) => end < logprobs.length).map((end) => logprobs[end]!)
    : logprobs.slice(0, tokens.length);
  return { logprobs: scores, promptTokens, method: "teacher-forcing" };
}

/** Why forced scores would not compare with a provider's logprobs for this request, if they would not. */
function unforceableField(r: EngineRequest): string | undefined {
  const after = "acts on the logits after the forcing processor";
  if (r.logit_bias && Object.keys(r.logit_bias).length > 0) return `logit_bias ${after}`;
  if (r.presence_penalty) return `presence_penalty ${after}`;
  if (r.frequency_penalty) return `frequency_penalty ${after}`;
  const grammar = "constrains the tokens with a grammar a forced token may break";
  if (r.response_format && r.response_format.type !== "text") return `response_format ${grammar}`;
  if (r.tools?.length && r.tool_choice !== "none") return `tools ${grammar}`;
  return undefined;
}

function describe(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}
