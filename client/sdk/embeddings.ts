import { RelayRefusedError } from "../../peer/signaling-client";
import type { Need } from "../../protocol";
import { type EmbedParams, EmbedRequest, vectorToBase64 } from "../../protocol/schemas/embedding";
import { checkedAgainst, wrongType } from "./chat-input";
import type { EmbedOutcome } from "./embed-call";
import { InvalidRequestError, ProviderError, ProviderLostError, StalledError, TamperedError } from "./errors";
import type { SilkUsage } from "./openai-shapes";
import { QuoteRefusals, type QuoteRefusedLately } from "./quote-refusal";
import { isNoOtherProvider, isOneProvidersRefusal } from "./refusal-kinds";
import type { RequesterSession } from "./requester-session";
import { providerBlamed } from "./session-lost";

/** OpenAI's embeddings request, as the SDK (and through it the gateway) takes it. */
export interface EmbeddingCreateParams {
  model: string;
  /** A string or a list of strings (token-id arrays are refused: their text cannot be checked). */
  input: string | string[];
  /** "float" (the SDK's default) or "base64" (little-endian float32, as OpenAI sends it). */
  encoding_format?: "float" | "base64" | null;
  /** Carried to the provider's engine; an engine that cannot shorten vectors refuses it by name. */
  dimensions?: number | null;
  user?: string | null;
  signal?: AbortSignal;
}

export interface CreateEmbeddingResponse {
  object: "list";
  model: string;
  data: { object: "embedding"; index: number; embedding: number[] | string }[];
  usage: { prompt_tokens: number; total_tokens: number; silk: SilkUsage };
}

/** The only feature an embeddings request needs; `model` is the field to blame when none has it. */
export const EMBED_NEEDS: readonly Need[] = [{ feature: "embeddings", param: "model" }];

/** An OpenAI embeddings request as the session carries it, checked against the session's own schema. */
export function toEmbedParams(p: EmbeddingCreateParams): EmbedParams {
  const input = typeof p.input === "string" ? [p.input] : p.input;
  if (!Array.isArray(input)) throw wrongType("input", "a string or an array of strings", input);
  if (input.some((x) => typeof x !== "string"))
    throw new InvalidRequestError(
      "input: a string or a list of strings (token ids are not carried)",
      "input",
    );
  if (p.encoding_format != null && p.encoding_format !== "float" && p.encoding_format !== "base64")
    throw new InvalidRequestError("encoding_format: float or base64", "encoding_format");
  const {
    v: _v,
    t: _t,
    id: _id,
    ...params
  } = asSent(p.input, () =>
    checkedAgainst(EmbedRequest, {
      v: 1,
      t: "embed",
      id: "check",
      model: p.model,
      input,
      ...(p.dimensions != null && { dimensions: p.dimensions }),
      ...(p.user != null && { user: p.user }),
    }),
  );
  return params;
}

/**
 * `check`, with a refusal of a string input named as it was sent (`input`), not as the one-item
 * list the session carries (`input.0`: a list the caller never wrote).
 */
function asSent<T>(given: unknown, check: () => T): T {
  try {
    return check();
  } catch (err) {
    const param = err instanceof InvalidRequestError ? err.param : undefined;
    if (typeof given !== "string" || !param?.startsWith("input.0")) throw err;
    const renamed = param.replace(/^input\.0/, "input");
    // Where the message names it: first (`input.0: …`) or quoted (`Invalid 'input.0': …`); its code kept.
    const { message, openaiCode } = err as InvalidRequestError;
    throw new InvalidRequestError(message.replace(param, renamed), renamed, openaiCode);
  }
}

/** What one attempt at embeddings needs of the client: a session that fits, and running on it. */
export interface EmbedRoute {
  /**
   * A session whose provider declares `embeddings` for the model, skipping `exclude` and `full`;
   * `refusals` are the request's relay refusals so far (two at one server fail it there).
   */
  session(
    exclude: readonly string[],
    full: Set<string>,
    refusals: RelayRefusedError[],
  ): Promise<{
    provider: string;
    session: RequesterSession;
    embed(p: EmbedParams, signal: AbortSignal): Promise<EmbedOutcome>;
  }>;
  /** The provider's session broke: not offered again to this request. */
  lost(provider: string): void;
  /** Starts nothing more on the session (its quote ran out at the provider: session-source.ts). */
  retire(session: RequesterSession): void;
  /** Providers that lately refused a fresh session's quote too (the session source's memory). */
  readonly quoteRefused?: QuoteRefusedLately;
  readonly maxFailovers: number;
}

/**
 * Runs embeddings on a provider that makes them; a provider that refuses as full, or is lost
 * before it answered, is replaced (nothing was signed for a lost answer, and an embedding is
 * whole or nothing, so it is simply asked again elsewhere).
 */
export async function runEmbeddings(
  params: EmbedParams,
  encoding: "float" | "base64",
  route: EmbedRoute,
  signal: AbortSignal,
): Promise<CreateEmbeddingResponse> {
  const exclude: string[] = [];
  const full = new Set<string>();
  // Sessions the signaling servers would not relay, as failover.ts keeps them for chat.
  const refusals: RelayRefusedError[] = [];
  // Sessions renewed after a provider said their quote ran out (quote-refusal.ts, as for chat).
  const quoteRefusals = new QuoteRefusals(route.retire, route.quoteRefused);
  // A provider left for refusing its fresh session's quote too, or this escrow: the answer if nobody else serves.
  let refused: ProviderError | undefined;
  for (let failovers = 0; ; ) {
    const { provider, session, embed } = await route
      .session(exclude, full, refusals)
      .catch((err: unknown) => {
        throw refused && isNoOtherProvider(err) && !signal.aborted ? refused : err;
      });
    try {
      const r = await embed(params, signal);
      return {
        object: "list",
        model: params.model,
        data: r.vectors.map((vector, index) => ({
          object: "embedding",
          index,
          embedding: encoding === "base64" ? vectorToBase64(vector) : Array.from(vector),
        })),
        usage: {
          prompt_tokens: r.promptTokens,
          total_tokens: r.promptTokens,
          silk: { cost_nanoton: r.cost.toString(), provider, failovers },
        },
      };
    } catch (err) {
      if (err instanceof ProviderError && err.code === "QUEUE_FULL" && !signal.aborted) {
        full.add(provider);
        continue;
      }
      // An embedding streams nothing before it is whole: a refusal is always before the answer.
      const quote = quoteRefusals.met(err, session, false, signal);
      if (quote === "leave") {
        exclude.push(provider);
        refused = err as ProviderError;
      }
      if (quote) continue;
      // Refused for what happened on that provider's own stream (ESCROW_HELD_BACK, FOREIGN_CLAIMS,
      // …), as chat is (failover.ts): it serves this escrow no more, another provider may; the
      // refusal is the answer when none does.
      if (isOneProvidersRefusal(err) && !signal.aborted) {
        route.lost(provider);
        session.close();
        exclude.push(provider);
        refused = err;
        continue;
      }
      const lost =
        err instanceof ProviderLostError && !(err instanceof StalledError || err instanceof TamperedError);
      if (!lost || signal.aborted || ++failovers > route.maxFailovers) throw err;
      route.lost(provider);
      // As for chat (failover.ts): a relay's refusal or signaling gone is not the provider's doing.
      if (providerBlamed(err)) exclude.push(provider);
      if (err.cause instanceof RelayRefusedError) refusals.push(err.cause);
    }
  }
}
