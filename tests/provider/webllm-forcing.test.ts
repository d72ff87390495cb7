import type { LogitProcessor } from "@mlc-ai/web-llm";
import type { Tokenizer } from "@mlc-ai/web-tokenizers";
import { beforeAll, describe, expect, it } from "vitest";
import { engineReference } from "../../client/sdk/audit-reference";
import { CHALLENGE_PROMPTS } from "../../client/sdk/challenge-corpus";
import { type AuditChallenge, judgeAnswer } from "../../protocol";
import type { EngineRequest } from "../../web/engines/engine";
import { forcedTokenIds } from "../../web/engines/forced-token-ids";
import { ForcingProcessor, logSoftmaxAt } from "../../web/engines/forcing-processor";
import { type Forcing, scoreWebLlmForced } from "../../web/engines/webllm-forced-score";
import { forcingInWorker, WorkerForcing } from "../../web/engines/webllm-forcing-channel";
import { webLlmRequest } from "../../web/engines/webllm-request";
import { scoreWebLlm } from "../../web/engines/webllm-score";
import { toyAnswer } from "../doubles/logprob-engine";
import { MlcLogitsDouble, UNK_ID } from "../doubles/mlc-logits-engine";
import { seededRandom, ToyModel, type ToyModelSpec } from "../doubles/toy-model";
import { toyTokenizer } from "../support/web-tokenizers";

// The reference's weights; "another model" is another seed.
const REFERENCE: ToyModelSpec = { seed: 11 };

let tokenizer: Tokenizer;
beforeAll(async () => {
  tokenizer = await toyTokenizer();
});

/** A WebLLM reference loaded with the forcing processor (in process here, in its worker for real). */
function forcedReference(spec: ToyModelSpec = REFERENCE) {
  const processor = new ForcingProcessor();
  const engine = new MlcLogitsDouble(spec, processor);
  const forcing: Forcing = { arm: (ids) => processor.arm(ids), take: async () => processor.take() };
  const score = (request: EngineRequest, tokens: readonly string[]) =>
    scoreWebLlmForced(engine, forcing, async () => tokenizer, request, tokens);
  return { engine, processor, score };
}

/** What the reference was before: the same model, no processor, scoring along its greedy path. */
function greedyPathReference(spec: ToyModelSpec = REFERENCE) {
  const engine = new MlcLogitsDouble(spec);
  return {
    score: (request: EngineRequest, tokens: readonly string[]) => scoreWebLlm(engine, request, tokens),
  };
}

function challenge(i: number): AuditChallenge {
  return {
    model: "m",
    messages: [{ role: "user", content: CHALLENGE_PROMPTS[i % CHALLENGE_PROMPTS.length]! }],
    temperature: 0,
    seed: 1000 + i,
    logprobs: true,
    max_tokens: 24,
  };
}

/** A suspect's greedy answer to a challenge, as its engine reports it. */
function answerOf(spec: ToyModelSpec, c: AuditChallenge, noise = 0, seed = 1) {
  const answer = toyAnswer(new ToyModel(spec), c, seededRandom(seed), { noise });
  return { text: answer.text, logprobs: answer.logprobs };
}

describe("teacher forcing on WebLLM: a LogitProcessor armed with the answer's token ids", () => {
  it("is called as WebLLM calls it, scores exactly the model's teacher-forced logprobs, then disarms", async () => {
    const { engine, processor, score } = forcedReference();
    const c = challenge(0);
    // Tokens off the model's own path: another model's answer.
    const tokens = answerOf({ seed: 99 }, c).logprobs.map((l) => l.token);
    const scored = await score(c, tokens);
    expect(scored.method).toBe("teacher-forcing");
    expect(scored.fallback).toBeUndefined();
    const truth = new ToyModel(REFERENCE).score(c, tokens);
    expect(scored.logprobs).toHaveLength(tokens.length);
    for (const [i, lp] of scored.logprobs.entries()) expect(lp).toBeCloseTo(truth[i]!, 4);
    expect(scored.promptTokens).toBeGreaterThan(0);
    // WebLLM's order: resets (the engine's own before the prefill included), then per step.
    expect(engine.calls.slice(0, 2)).toEqual(["resetState", "resetState"]);
    expect(engine.calls.slice(2, 6)).toEqual([
      "processLogits",
      "processSampledToken",
      "processLogits",
      "processSampledToken",
    ]);
    // The request is the same messages through WebLLM's own template, no stop, one token per target.
    expect(engine.requests[0]).toMatchObject({
      messages: c.messages,
      max_tokens: tokens.length,
      temperature: 1,
    });
    // Disarmed: the next generation is the model's own greedy answer, untouched.
    expect(processor.armed).toBe(false);
    const own: string[] = [];
    for await (const chunk of await engine.chat.completions.create(webLlmRequest(c)))
      own.push(chunk.choices[0]?.delta.content ?? "");
    expect(own.join("")).toBe(answerOf(REFERENCE, c).text);
  });

  it("catches another model whose answer leaves the reference's greedy path at token 2; the greedy path could not", async () => {
    const found = findDivergingAtToken2();
    expect(found, "a prompt and seed where another model agrees on token 1 only").toBeDefined();
    const { c, other } = found!;
    const suspect = answerOf(other, c);
    const tokens = suspect.logprobs.map((l) => l.token);
    const forced = await engineReference(forcedReference()).score(c, tokens, "suspect");
    expect(forced.fallback).toBeUndefined();
    const verdict = judgeAnswer(suspect, forced.logprobs);
    expect(verdict.result).toBe("fail");
    expect(verdict.compared).toBe(tokens.length);
    // The old reference compares at most two tokens here: inconclusive, the cheat walks.
    const old = await engineReference(greedyPathReference()).score(c, tokens, "suspect");
    expect(judgeAnswer(suspect, old.logprobs)).toMatchObject({ result: "inconclusive" });
  });

  it("passes an honest provider whose logprobs carry noise within the tolerance, every time", async () => {
    const reference = engineReference(forcedReference());
    for (let i = 0; i < 40; i++) {
      const c = challenge(i);
      const honest = answerOf(REFERENCE, c, 0.05, i);
      const scores = await reference.score(
        c,
        honest.logprobs.map((l) => l.token),
        "suspect",
      );
      expect(judgeAnswer(honest, scores.logprobs)).toMatchObject({ result: "pass", compared: 24 });
    }
  });

  it("falls back to the greedy path, and says so, when the tokenizer does not split the answer the same way", async () => {
    const c = challenge(3);
    const honest = answerOf(REFERENCE, c);
    // One token reported split in two (another tokenizer's pieces): not this model's tokens.
    const [first, ...rest] = honest.logprobs.map((l) => l.token);
    const split = [first!.slice(0, 2), first!.slice(2), ...rest];
    const scored = await forcedReference().score(c, split);
    expect(scored.method).toBe("greedy-path");
    expect(scored.fallback).toMatch(/tokenizer does not read the answer's token 0/);
    // What it scored is the greedy path's, never called forced: here nothing (token 0 is off it).
    expect(scored.logprobs).toEqual([]);
    const reference = await engineReference(forcedReference()).score(c, split, "suspect");
    expect(reference.fallback).toBe(scored.fallback);
  });

  it("falls back when the request acts on the logits after the processor, or the tokenizer cannot load", async () => {
    const c = challenge(5);
    const tokens = answerOf(REFERENCE, c).logprobs.map((l) => l.token);
    const biased = await forcedReference().score({ ...c, logit_bias: { "3": 2 } }, tokens);
    expect(biased).toMatchObject({ method: "greedy-path", fallback: expect.stringMatching(/^logit_bias/) });
    const processor = new ForcingProcessor();
    const engine = new MlcLogitsDouble(REFERENCE, processor);
    const forcing: Forcing = { arm: (ids) => processor.arm(ids), take: async () => processor.take() };
    const offline = await scoreWebLlmForced(
      engine,
      forcing,
      () => Promise.reject(new Error("404")),
      c,
      tokens,
    );
    expect(offline).toMatchObject({
      method: "greedy-path",
      fallback: expect.stringMatching(/tokenizer could not be loaded: 404/),
    });
    // On its own greedy path the fallback still scores the honest answer in full.
    expect(offline.logprobs).toHaveLength(tokens.length);
  });

  it("stops at the first step WebLLM did not sample the forced token: never a score in another context", async () => {
    const { engine, processor } = forcedReference();
    const c = challenge(7);
    const tokens = answerOf({ seed: 5 }, c).logprobs.map((l) => l.token);
    const ids = forcedTokenIds(tokenizer, tokens);
    expect(ids.ok).toBe(true);
    // logit_bias comes after the processor in WebLLM: a huge one on [UNK] overrides the forcing.
    expect(await runOverridden(engine, processor, ids.ok ? ids.ids : new Int32Array())).toEqual([]);
  });
});

describe("the page's forcing messages to the engine's worker (webllm-forcing-channel.ts)", () => {
  it("registers the processor for the model, arms it, takes its scores back; WebLLM's own messages pass by", async () => {
    const registries: Map<string, LogitProcessor>[] = [];
    const toWebLlm: unknown[] = [];
    const inWorker = forcingInWorker({ setLogitProcessorRegistry: (r) => void (r && registries.push(r)) });
    // The worker script's onmessage: its own messages first, the rest to WebLLM's handler.
    const worker = {
      postMessage: (data: unknown) => {
        if (!inWorker(data)) toWebLlm.push(data);
      },
    } as unknown as Worker;
    const forcing = new WorkerForcing(worker, "Toy-MLC", 2_000);
    try {
      expect(registries.map((r) => [...r.keys()])).toEqual([["Toy-MLC"]]);
      worker.postMessage({ kind: "reload", uuid: "1", content: { modelId: ["Toy-MLC"] } });
      expect(toWebLlm).toEqual([{ kind: "reload", uuid: "1", content: { modelId: ["Toy-MLC"] } }]);
      const processor = registries[0]!.get("Toy-MLC")!;
      forcing.arm(Int32Array.from([2, 0]));
      processor.resetState(); // chat.completions.create resets the chat itself
      for (const id of [2, 0]) {
        processor.processLogits(Float32Array.from([0, Math.log(2), Math.log(3)]));
        processor.processSampledToken(id);
      }
      const taken = await forcing.take();
      expect(taken[0]).toBeCloseTo(Math.log(3 / 6), 6);
      expect(taken[1]).toBeCloseTo(Math.log(1 / 6), 6);
      expect(await forcing.take()).toEqual([]); // taken once: disarmed
    } finally {
      forcing.close();
    }
  });

  it("a worker that never answers: take fails within its deadline with a typed error", async () => {
    const forcing = new WorkerForcing({ postMessage: () => {} } as unknown as Worker, "Toy-MLC", 50);
    try {
      await expect(forcing.take()).rejects.toMatchObject({ name: "EngineError", reason: "backend" });
    } finally {
      forcing.close();
    }
  });
});

describe("the model's token ids (web-tokenizers on a tiny tokenizer.json)", () => {
  it("maps tokens one to one, by the tokenizer's own split or token by token, and refuses the rest", () => {
    const canonical = forcedTokenIds(tokenizer, [" the", " river", " flows", " north", "."]);
    expect(canonical).toEqual({ ok: true, ids: Int32Array.from([0, 2, 6, 7, 31]) });
    // "." then " the" is the tokenizer's split too; two tokens that merge under it are not.
    expect(forcedTokenIds(tokenizer, [" ri", "ver"])).toMatchObject({ ok: false });
    expect(forcedTokenIds(tokenizer, ["The"])).toMatchObject({ ok: false }); // [UNK] decodes otherwise
    expect(forcedTokenIds(tokenizer, [])).toEqual({ ok: true, ids: new Int32Array() });
  });

  it("log-softmax at the target, stable for large logits", () => {
    expect(logSoftmaxAt([1000, 1000], 0)).toBeCloseTo(Math.log(0.5), 12);
    expect(logSoftmaxAt(Float32Array.from([0, Math.log(3)]), 1)).toBeCloseTo(Math.log(0.75), 6);
  });
});

/** A prompt and another model whose greedy answer shares the reference's first token only. */
function findDivergingAtToken2(): { c: AuditChallenge; other: ToyModelSpec } | undefined {
  for (let i = 0; i < CHALLENGE_PROMPTS.length; i++) {
    const c = challenge(i);
    const own = answerOf(REFERENCE, c).logprobs.map((l) => l.token);
    for (let seed = 100; seed < 400; seed++) {
      const theirs = answerOf({ seed }, c).logprobs.map((l) => l.token);
      if (theirs[0] === own[0] && theirs[1] !== own[1]) return { c, other: { seed } };
    }
  }
  return undefined;
}

/** Forces `ids` with a logit_bias that WebLLM applies after the processor, making [UNK] win. */
async function runOverridden(engine: MlcLogitsDouble, processor: ForcingProcessor, ids: Int32Array) {
  await engine.resetChat();
  processor.arm(ids);
  const c = challenge(7);
  const stream = await engine.chat.completions.create({
    ...webLlmRequest({ ...c, max_tokens: ids.length }),
    logit_bias: { [String(UNK_ID)]: 1e12 },
  });
  for await (const _ of stream);
  return processor.take();
}
