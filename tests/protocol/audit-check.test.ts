import { describe, expect, it } from "vitest";
import {
  type AnswerContent,
  auditsToCatch,
  type ChatParams,
  compareLogprobs,
  DEFAULT_AUDIT_RATE,
  DEFAULT_TOLERANCE,
  falsePositiveBound,
  judgeAnswer,
  missBound,
  requestsToCatch,
} from "../../protocol";
import { toyAnswer } from "../doubles/logprob-engine";
import { seededRandom, ToyModel, type ToyModelSpec } from "../doubles/toy-model";

/**
 * Issue 16, at the pure level: teacher-forcing comparison against a reference model, over many
 * audits, with the numbers protocol/README.md ("Audits") predicts.
 */
const reference = new ToyModel({ seed: 1 });
const challenge = (i: number, tokens = 24): ChatParams => ({
  model: "test-model",
  messages: [
    { role: "system", content: "Answer in one sentence." },
    { role: "user", content: `question number ${i}` },
  ],
  temperature: 0,
  seed: 42,
  logprobs: true,
  max_tokens: tokens,
});

/** One audit: the suspect answers, the reference scores the suspect's own tokens. */
function audit(
  suspect: ToyModel,
  i: number,
  random: () => number,
  opts: { noise?: number; fake?: boolean } = {},
) {
  const params = challenge(i);
  const answer = toyAnswer(suspect, params, random, {
    ...(opts.noise !== undefined && { noise: opts.noise }),
    ...(opts.fake && { fakeLogprobs: true }),
  });
  return judgeAnswer(
    answer,
    reference.score(
      params,
      answer.logprobs.map((l) => l.token),
    ),
  );
}

const N = 24;
const Q = 0.99; // per-answer catch probability the bounds below guarantee for these cheats at N tokens

describe("the written statistics", () => {
  it("bound the false-positive rate per audit far below one in ten thousand", () => {
    expect(falsePositiveBound(DEFAULT_TOLERANCE.minTokens)).toBeLessThan(1e-20);
    expect(falsePositiveBound(N)).toBeLessThan(falsePositiveBound(DEFAULT_TOLERANCE.minTokens));
    // no bound without headroom between the honest noise and the tolerance
    expect(falsePositiveBound(N, { ...DEFAULT_TOLERANCE, honestSigmaNats: 0.2 })).toBe(1);
  });

  it("bound the chance a cheat's answer passes when its logprobs are off by twice the tolerance", () => {
    expect(missBound(N, 2 * DEFAULT_TOLERANCE.rmsNats)).toBeLessThan(1 - Q);
    expect(missBound(N, DEFAULT_TOLERANCE.rmsNats / 2)).toBe(1);
  });

  it("say how many audits catch a provider cheating on a fraction of requests", () => {
    expect(auditsToCatch(0.1, 1, 0.99)).toBe(44);
    expect(auditsToCatch(0.1, Q, 0.99)).toBe(45);
    expect(auditsToCatch(1, 1, 0.99)).toBe(1);
    expect(auditsToCatch(0, 1, 0.99)).toBe(Number.POSITIVE_INFINITY);
    expect(requestsToCatch(0.1, 1, 0.99)).toBe(Math.ceil(44 / DEFAULT_AUDIT_RATE));
  });
});

describe("teacher-forcing comparison", () => {
  it("passes, fails or is inconclusive by the tolerance and the token count", () => {
    const ref = Array.from({ length: 20 }, (_, i) => -i / 10);
    expect(compareLogprobs(ref, ref).result).toBe("pass");
    expect(
      compareLogprobs(
        ref.map((x) => x + 0.1),
        ref,
      ).result,
    ).toBe("pass");
    expect(
      compareLogprobs(
        ref.map((x) => x + 0.2),
        ref,
      ),
    ).toMatchObject({ result: "fail", compared: 20 });
    expect(compareLogprobs(ref.slice(0, 5), ref.slice(0, 5)).result).toBe("inconclusive");
    expect(compareLogprobs(ref.slice(0, 19), ref).result).toBe("fail");
    expect(
      compareLogprobs(
        ref.map(() => Number.NaN),
        ref,
      ).result,
    ).toBe("fail");
  });

  it("fails logprobs whose tokens do not spell the text, or that are missing", () => {
    const content: AnswerContent = { text: "a b", logprobs: [{ token: "a", logprob: 0, top_logprobs: [] }] };
    expect(judgeAnswer(content, [0]).reason).toBe("the logprobs' tokens do not spell the answer's text");
    expect(judgeAnswer({ text: "a b" }, []).reason).toBe("the answer carries no logprobs");
  });

  it("never flags an honest provider whose logprobs carry noise within the tolerance, over 10,000 audits", () => {
    const random = seededRandom(7);
    const honest = new ToyModel({ seed: 1 });
    let flagged = 0;
    let worstRms = 0;
    for (let i = 0; i < 10_000; i++) {
      const v = audit(honest, i, random, { noise: DEFAULT_TOLERANCE.honestSigmaNats });
      if (v.result !== "pass") flagged++;
      worstRms = Math.max(worstRms, v.rms);
    }
    expect(flagged).toBe(0);
    expect(worstRms).toBeGreaterThan(0); // the noise was really there
    expect(worstRms).toBeLessThan(DEFAULT_TOLERANCE.rmsNats);
  }, 60_000);

  it.each<[string, ToyModelSpec, { fake?: boolean }]>([
    ["another model (a differently seeded engine)", { seed: 2 }, {}],
    ["another quantisation (logprobs shifted beyond the tolerance)", { seed: 1, quantisation: 1 }, {}],
    ["truncated context (only the last message read)", { seed: 1, truncate: true }, {}],
    ["made-up logprobs", { seed: 1 }, { fake: true }],
  ])("catches %s on at least 99%% of single audits", (_name, spec, opts) => {
    const random = seededRandom(11);
    const cheat = new ToyModel(spec);
    let caught = 0;
    for (let i = 0; i < 1000; i++) if (audit(cheat, i, random, opts).result === "fail") caught++;
    expect(caught / 1000).toBeGreaterThanOrEqual(Q);
  });

  it("catches a provider cheating on 10% of requests within the predicted number of audits", () => {
    const random = seededRandom(13);
    const honest = new ToyModel({ seed: 1 });
    const cheat = new ToyModel({ seed: 2 });
    const confidence = 0.99;
    const predicted = auditsToCatch(0.1, Q, confidence);
    const trials = 500;
    const needed: number[] = [];
    for (let t = 0; t < trials; t++) {
      let audits = 0;
      for (;;) {
        audits++;
        const cheating = random() < 0.1;
        const v = audit(cheating ? cheat : honest, t * 1000 + audits, random, {
          noise: DEFAULT_TOLERANCE.honestSigmaNats,
        });
        if (v.result === "fail") break;
      }
      needed.push(audits);
    }
    const late = needed.filter((n) => n > predicted).length;
    // At most 1% of trials may need more than predicted; twice that allows for sampling.
    expect(late / trials).toBeLessThanOrEqual(2 * (1 - confidence));
    const mean = needed.reduce((a, b) => a + b, 0) / trials;
    expect(mean).toBeGreaterThan(7); // about 1/(f·q) = 10: cheating only on a fraction is harder to catch
    expect(mean).toBeLessThan(14);
  }, 60_000);
});
