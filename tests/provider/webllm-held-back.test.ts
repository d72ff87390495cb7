import { describe, expect, it } from "vitest";
import { AnswerBuilder } from "../../protocol/answer-content";
import { answerTokens, DEFAULT_TOLERANCE, judgeAnswer } from "../../protocol/audit-check";
import type { ChatParams } from "../../protocol/schemas/session";
import { forcedTokenIds, type TokenCodec } from "../../web/engines/forced-token-ids";
import { ForcingProcessor } from "../../web/engines/forcing-processor";
import { scoreWebLlmForced } from "../../web/engines/webllm-forced-score";
import { runWebLlm } from "../../web/engines/webllm-run";
import { MlcLogitsDouble } from "../doubles/mlc-logits-engine";
import { ToyModel, VOCABULARY } from "../doubles/toy-model";
import { type HeldBackOptions, MlcHeldBackDouble } from "../doubles/webllm-held-back";

/**
 * WebLLM holds a character split across tokens back and then streams only the last token's
 * logprob (MlcHeldBackDouble). A provider running it bills every token it generated, and its
 * answers spell their text with held-back entries marked, which audits skip: an honest one is
 * never flagged, and a cheat gains nothing by adding split characters.
 */
const challenge = (i: number, maxTokens = 32, logprobs = true): ChatParams => ({
  model: "test-model",
  messages: [{ role: "user", content: `question number ${i}` }],
  temperature: 0,
  seed: 42,
  ...(logprobs && { logprobs: true }),
  max_tokens: maxTokens,
});

async function answer(mlc: MlcHeldBackDouble, params: ChatParams) {
  const built = new AnswerBuilder();
  const result = await runWebLlm(mlc, params, (c) => built.add(c));
  return { built, result, generated: mlc.last };
}

const reference = new ToyModel({ seed: 1 });

/** One audit judged in process: the reference scores the answer's tokens (teacher forcing). */
async function audit(suspect: HeldBackOptions, n: number) {
  const mlc = new MlcHeldBackDouble(suspect);
  const verdicts = [];
  for (let i = 0; i < n; i++) {
    const params = challenge(i);
    const { built, result } = await answer(mlc, params);
    const parts = answerTokens(built, DEFAULT_TOLERANCE, result.completionTokens);
    const scores = typeof parts === "string" ? [] : reference.score(params, parts.tokens);
    verdicts.push(judgeAnswer(built, scores, DEFAULT_TOLERANCE, result.completionTokens));
  }
  return verdicts;
}

describe("WebLLM's held-back characters", () => {
  it("bill every generated token and spell the text with the held entries marked", async () => {
    const mlc = new MlcHeldBackDouble({ model: { seed: 1 } });
    let held = 0;
    let cut = 0;
    for (let i = 0; i < 60; i++) {
      const { built, result, generated } = await answer(mlc, challenge(i, 10 + (i % 7)));
      expect(result.completionTokens).toBe(generated.steps);
      expect(built.tokens).toBe(generated.steps);
      // What was streamed is the answer, less the token of a character left unfinished when it was cut.
      expect(generated.text.replace(/ \uFFFD$/, "")).toBe(built.text);
      if (generated.text.endsWith("\uFFFD")) cut++;
      expect(built.logprobs.map((e) => e.token).join("")).toBe(built.text);
      expect(built.logprobs.some((e) => e.token.includes("\uFFFD"))).toBe(false);
      for (const e of built.logprobs.filter((e) => e.held)) {
        held++;
        expect(e.token).toMatch(/^ \p{Extended_Pictographic}$/u);
        expect(e.top_logprobs).toEqual([]);
      }
    }
    expect(held).toBeGreaterThan(20);
    expect(cut).toBeGreaterThan(0);
  });

  it("bill every generated token without logprobs, the stop token included", async () => {
    const mlc = new MlcHeldBackDouble({ model: { seed: 1 } });
    for (let i = 0; i < 20; i++) {
      const params = { ...challenge(i, 0, false), max_tokens: undefined } as ChatParams;
      const { built, result, generated } = await answer(mlc, params);
      expect(result.finishReason).toBe("stop");
      expect(built.tokens).toBe(generated.steps);
    }
  });

  it("never flag an honest provider whose answers hold split characters back", async () => {
    const verdicts = await audit({ model: { seed: 1 }, noise: DEFAULT_TOLERANCE.honestSigmaNats }, 400);
    expect(verdicts.filter((v) => v.result === "fail")).toEqual([]);
    expect(verdicts.filter((v) => v.result === "pass").length).toBeGreaterThan(380);
    // Held entries were skipped and counted, not compared.
    expect(verdicts.reduce((n, v) => n + (v.skipped ?? 0), 0)).toBeGreaterThan(200);
  });

  it("catch another model that holds split characters back as the honest one does", async () => {
    const verdicts = await audit({ model: { seed: 2 }, glyphs: "some" }, 100);
    expect(verdicts.filter((v) => v.result === "fail").length).toBeGreaterThanOrEqual(99);
  });

  it("catch a cheat that adds split characters to every answer: held text past the limit is made up", async () => {
    const verdicts = await audit({ model: { seed: 1 }, glyphs: "every" }, 50);
    expect(verdicts.every((v) => v.result === "fail" && /held-back entries leave/.test(v.reason ?? ""))).toBe(
      true,
    );
  });

  it("fail an answer that marks as held text where no character was split", async () => {
    const mlc = new MlcHeldBackDouble({ model: { seed: 1 } });
    const { built } = await answer(mlc, challenge(1));
    const logprobs = built.logprobs.map((e, i) => (i === 0 ? { ...e, held: true as const } : e));
    expect(logprobs[0]!.token).toMatch(/^[ -~]+$/);
    const verdict = judgeAnswer({ text: built.text, logprobs }, []);
    expect(verdict).toMatchObject({
      result: "fail",
      reason: "a logprob entry is marked held where no character was split",
    });
  });
});

/**
 * A byte-level codec over the toy vocabulary in which " rain" and " sea" are instead the two
 * halves of " 🌧" (a space and the emoji's first two bytes, then its last two), as a byte-level
 * BPE splits a rare character; encode takes the longest match, decode is lossy UTF-8.
 */
function splitCodec(): TokenCodec {
  const utf8 = new TextEncoder();
  const bytes = VOCABULARY.map((w) => utf8.encode(w));
  bytes[VOCABULARY.indexOf(" rain")] = Uint8Array.of(0x20, 0xf0, 0x9f);
  bytes[VOCABULARY.indexOf(" sea")] = Uint8Array.of(0x8c, 0xa7);
  return {
    encode(text) {
      const b = utf8.encode(text);
      const ids: number[] = [];
      for (let at = 0; at < b.length; ) {
        let best = -1;
        for (const [id, v] of bytes.entries())
          if (v.length > (bytes[best]?.length ?? 0) && v.every((x, i) => b[at + i] === x)) best = id;
        if (best < 0) throw new Error("no token");
        ids.push(best);
        at += bytes[best]!.length;
      }
      return ids;
    },
    decode: (ids) => new TextDecoder().decode(Uint8Array.from([...ids].flatMap((id) => [...bytes[id]!]))),
  };
}

describe("a forcing reference reads a held entry as the ids of its split character", () => {
  const codec = splitCodec();
  const rain = VOCABULARY.indexOf(" rain");
  const sea = VOCABULARY.indexOf(" sea");

  it("maps the entry to its ids and scores it as its last, the context running on", async () => {
    const tokens = [" the", " \u{1F327}", " flows"];
    expect(forcedTokenIds(codec, tokens)).toEqual({
      ok: true,
      ids: Int32Array.of(0, rain, sea, 6),
      ends: [0, 2, 3],
    });
    const processor = new ForcingProcessor();
    const engine = new MlcLogitsDouble({ seed: 11 }, processor);
    const forcing = { arm: (ids: Int32Array) => processor.arm(ids), take: async () => processor.take() };
    const params = challenge(3, 8);
    const scored = await scoreWebLlmForced(engine, forcing, async () => codec, params, tokens);
    expect(scored.method).toBe("teacher-forcing");
    const truth = new ToyModel({ seed: 11 }).score(params, [" the", " rain", " sea", " flows"]);
    expect(scored.logprobs).toHaveLength(3);
    for (const [i, t] of [truth[0]!, truth[2]!, truth[3]!].entries())
      expect(scored.logprobs[i]).toBeCloseTo(t, 4);
  });

  it("refuses an entry spanning ids that each read as text (a split of another kind)", () => {
    expect(forcedTokenIds(codec, [" the river"])).toMatchObject({ ok: false });
  });
});
