/**
 * What a token decoded on its own says of its text in the answer. WebLLM reports each token as
 * `tokenizer.decode([id])`; a SentencePiece model's decoder (Llama 2, Mistral, Phi-3, Gemma:
 * `Replace("▁", " ")` then `Strip(start: 1)`) drops the one leading space of whatever it decodes,
 * so "▁world" decoded alone reads "world" while it adds " world" to the answer. Byte-level BPE
 * models (Llama 3, Qwen) decode it as " world". Either way it is that one token. Pure.
 */
export function readsAs(alone: string, text: string): boolean {
  return alone === text || (text.startsWith(" ") && alone === text.slice(1));
}
