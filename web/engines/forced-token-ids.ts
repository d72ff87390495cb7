/** The part of a tokenizer (web-tokenizers' `Tokenizer`) forcing needs. */
export interface TokenCodec {
  encode(text: string): ArrayLike<number>;
  decode(ids: Int32Array): string;
}

export type TokenIds =
  | {
      readonly ok: true;
      readonly ids: Int32Array;
      /**
       * Present when an entry spans several ids (a character split across tokens, which WebLLM
       * streams as one held entry): the index in `ids` of each entry's last id.
       */
      readonly ends?: readonly number[];
    }
  | { readonly ok: false; readonly reason: string };

/**
 * The model's token ids for the tokens an answer reports (WebLLM reports each token as
 * `tokenizer.decode([id])`), only when they map one to one: forcing other ids would score
 * another answer. The answer's text is encoded first (the tokenizer's own split); if that split
 * differs, each reported token is encoded alone and must be exactly one id that decodes back to
 * it (an answer split another way than the tokenizer would, as another model's can be). An entry
 * may span several of the text's ids only where a character is split across them (each of them
 * alone decodes to U+FFFD): a held entry (protocol/README.md "Audits"). Anything else is refused
 * with the first token that does not map. Pure.
 */
export function forcedTokenIds(codec: TokenCodec, tokens: readonly string[]): TokenIds {
  const whole = Int32Array.from(codec.encode(tokens.join("")));
  if (whole.length === tokens.length && tokens.every((t, i) => codec.decode(whole.subarray(i, i + 1)) === t))
    return { ok: true, ids: whole };
  const ends = splitCharacterEnds(codec, whole, tokens);
  if (ends) return { ok: true, ids: whole, ends };
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

/** Ids one entry may span: a character of four UTF-8 bytes, each its own token, and some text. */
const MAX_SPAN = 6;

/** Each entry's last id in the text's ids, when only split characters span several; else undefined. */
function splitCharacterEnds(codec: TokenCodec, whole: Int32Array, tokens: readonly string[]) {
  const ends: number[] = [];
  let at = 0;
  for (const token of tokens) {
    let n = 1;
    while (n <= MAX_SPAN && at + n <= whole.length && codec.decode(whole.subarray(at, at + n)) !== token) n++;
    if (n > MAX_SPAN || at + n > whole.length) return undefined;
    if (n > 1) {
      const pieces = Array.from(whole.subarray(at, at + n), (id) => codec.decode(Int32Array.of(id)));
      if (!pieces.some((p) => p.includes("\uFFFD"))) return undefined;
    }
    at += n;
    ends.push(at - 1);
  }
  return at === whole.length ? ends : undefined;
}
