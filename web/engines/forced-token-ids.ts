/** The part of a tokenizer (web-tokenizers' `Tokenizer`) forcing needs. */
export interface TokenCodec {
  encode(text: string): ArrayLike<number>;
  decode(ids: Int32Array): string;
}

export type TokenIds =
  | { readonly ok: true; readonly ids: Int32Array }
  | { readonly ok: false; readonly reason: string };

/**
 * The model's token ids for the tokens an answer reports (WebLLM reports each token as
 * `tokenizer.decode([id])`), only when they map one to one: forcing other ids would score
 * another answer. The answer's text is encoded first (the tokenizer's own split); if that split
 * differs, each reported token is encoded alone and must be exactly one id that decodes back to
 * it (an answer split another way than the tokenizer would, as another model's can be). Anything
 * else is refused with the first token that does not map. Pure.
 */
export function forcedTokenIds(codec: TokenCodec, tokens: readonly string[]): TokenIds {
  const whole = Int32Array.from(codec.encode(tokens.join("")));
  if (whole.length === tokens.length && tokens.every((t, i) => codec.decode(whole.subarray(i, i + 1)) === t))
    return { ok: true, ids: whole };
  const ids = new Int32Array(tokens.length);
  for (const [i, token] of tokens.entries()) {
    const own = Int32Array.from(codec.encode(token));
    const read = own.length === 1 ? codec.decode(own) : undefined;
    if (read !== token)
      return {
        ok: false,
        reason: `the model's tokenizer does not read the answer's token ${i} (${JSON.stringify(token).slice(0, 40)}) as one token of its own`,
      };
    ids[i] = own[0]!;
  }
  return { ok: true, ids };
}
