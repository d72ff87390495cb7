import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayNetwork, heldTotal, startGatewayNetwork } from "../support/gateway-network";

/**
 * A program that goes away mid-answer (a closed tab behind a proxy, Ctrl-C in a script, the
 * `openai` client's stream aborted): the gateway stops the provider's work, and what the
 * provider is owed is what it streamed before that, not the whole answer it would have given.
 * Real signaling, WebRTC and a headless provider; the OpenAI backend double as the model.
 */
let net: GatewayNetwork;
const WORDS = 150;
// "Echo: " and one word per chunk: the whole answer, had it run to its end.
const ANSWER_TOKENS = WORDS + 1;

beforeAll(async () => {
  net = await startGatewayNetwork({
    providers: [{ model: "slow", payout: "66", features: ["embeddings"] }],
    backend: { tokenDelayMs: 100 },
  });
});

afterAll(async () => {
  await net?.close();
});

const LONG = Array.from({ length: WORDS }, () => "w").join(" ");

/** Posts `body` to the gateway's `path` with a request it can hang up (`destroy`) at will. */
function post(path: string, body: unknown) {
  const req = request(new URL(`${net.gateway.url}${path}`), {
    method: "POST",
    headers: { "content-type": "application/json" },
  });
  req.on("error", () => undefined);
  req.end(JSON.stringify(body));
  return req;
}

/** A short chat, answered whole: its text and what it cost. */
async function askAgain(content: string): Promise<{ text: string; cost: bigint }> {
  const done = await fetch(`${net.gateway.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "slow", messages: [{ role: "user", content }] }),
  });
  expect(done.status).toBe(200);
  const body = await done.json();
  return { text: body.choices[0].message.content, cost: BigInt(body.usage.silk.cost_nanoton) };
}

/** Streams a chat and hangs up after `chunks` content chunks; resolves with what it read. */
function readThenHangUp(chunks: number, content: string): Promise<string> {
  const url = new URL(`${net.gateway.url}/chat/completions`);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => {
        text += c.toString();
        if ((text.match(/"content":"[^"]/g) ?? []).length >= chunks) {
          req.destroy();
          resolve(text);
        }
      });
      res.on("end", () => reject(new Error(`the answer ended before ${chunks} chunks: ${text}`)));
    });
    req.on("error", () => undefined);
    req.end(JSON.stringify({ model: "slow", messages: [{ role: "user", content }], stream: true }));
  });
}

describe("a client that hangs up mid-stream", () => {
  it("stops the provider's backend, owes only what was streamed, and the next request is served", async () => {
    await readThenHangUp(5, LONG);
    // The provider's backend stream is cut, long before its 15 s answer would end.
    await expect.poll(() => net.backend.aborted, { timeout: 10_000 }).toBe(1);
    const { cost } = await askAgain("again");
    // Receipts are cumulative: what the provider holds, less the second answer, is what the cut
    // one is owed: the 5 chunks read and the few in flight when it hung up (5 nanoTON a token),
    // not the 151 tokens (755 nanoTON) of the whole answer.
    // The receipt for the second answer's last tokens may still be in flight when its body
    // arrives (the requester signs after `done`): asked again until it lands.
    await expect
      .poll(async () => (await heldTotal(net.receipts[0]!)) - cost, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(5n * 5n);
    const cut = (await heldTotal(net.receipts[0]!)) - cost;
    expect(cut).toBeLessThanOrEqual(5n * 10n);
    expect(cut).toBeLessThan(5n * BigInt(ANSWER_TOKENS));
  }, 60_000);
});

/** Posts `body` to `path` and hangs up once the backend has been asked and has streamed a while. */
async function hangUpWhileAnswering(path: string, body: unknown): Promise<void> {
  const asked = net.backend.requests.length;
  const req = post(path, body);
  await expect.poll(() => net.backend.requests.length, { timeout: 20_000 }).toBe(asked + 1);
  // A second into a 15 s answer: the provider is mid-stream.
  await new Promise((r) => setTimeout(r, 1_000));
  req.destroy();
}

describe("a client that hangs up before a whole answer it did not stream", () => {
  for (const [name, path, body] of [
    [
      "chat, not streamed",
      "/chat/completions",
      (content: string) => ({ model: "slow", messages: [{ role: "user", content }] }),
    ],
    [
      "responses, streamed",
      "/responses",
      (content: string) => ({ model: "slow", input: content, stream: true }),
    ],
    ["responses, not streamed", "/responses", (content: string) => ({ model: "slow", input: content })],
  ] as const) {
    it(`${name}: the provider's backend stops, and it is owed less than the whole answer`, async () => {
      const aborted = net.backend.aborted;
      const before = await heldTotal(net.receipts[0]!);
      await hangUpWhileAnswering(path, body(LONG));
      await expect.poll(() => net.backend.aborted, { timeout: 10_000 }).toBe(aborted + 1);
      const { cost } = await askAgain("again");
      const cut = (await heldTotal(net.receipts[0]!)) - before - cost;
      expect(cut).toBeLessThan(5n * BigInt(ANSWER_TOKENS));
    }, 60_000);
  }
});

describe("clients that hang up while waiting for room", () => {
  it("are never asked of the provider once room frees: nothing runs or is paid for them", async () => {
    const asked = net.backend.requests.length;
    const before = await heldTotal(net.receipts[0]!);
    // Two answers take the provider's two places…
    const running = [0, 1].map(() =>
      post("/chat/completions", { model: "slow", messages: [{ role: "user", content: LONG }], stream: true }),
    );
    await expect.poll(() => net.backend.requests.length, { timeout: 20_000 }).toBe(asked + 2);
    // …five more wait for room, and their callers go away.
    const waiting = [0, 1, 2, 3, 4].map((i) =>
      post("/chat/completions", { model: "slow", messages: [{ role: "user", content: `queued ${i}` }] }),
    );
    await new Promise((r) => setTimeout(r, 1_500));
    for (const req of waiting) req.destroy();
    await new Promise((r) => setTimeout(r, 500));
    for (const req of running) req.destroy();
    await expect.poll(() => net.backend.aborted, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect((await askAgain("after")).text).toBe("Echo: after");
    // Only the two running answers and this one reached the backend; none of the queued ones.
    const contents = net.backend.requests
      .slice(asked)
      .map((r) => (r.messages as { content: string }[]).at(-1)?.content.slice(0, 8));
    expect(contents.filter((c) => c?.startsWith("queued"))).toEqual([]);
    expect(net.backend.requests.length).toBe(asked + 3);
    const cut = (await heldTotal(net.receipts[0]!)) - before;
    expect(cut).toBeLessThan(2n * 5n * BigInt(ANSWER_TOKENS));
  }, 90_000);
});

describe("an embeddings call cancelled while the provider's places are taken", () => {
  it("rejects as the caller's own AbortError, not a provider failure, and never reaches the backend", async () => {
    // It was the provider's error INTERNAL ("aborted while queued").
    const asked = net.backend.requests.length;
    const running = [0, 1].map(() =>
      post("/chat/completions", { model: "slow", messages: [{ role: "user", content: LONG }], stream: true }),
    );
    await expect.poll(() => net.backend.requests.length, { timeout: 20_000 }).toBe(asked + 2);
    const stop = new AbortController();
    const embedded = net.client.embeddings
      .create({ model: "slow", input: "queued", signal: stop.signal })
      .catch((e: unknown) => e);
    // The provider holds it in its queue behind the two answers (15 s each).
    await new Promise((r) => setTimeout(r, 1_000));
    stop.abort();
    expect(await embedded).toMatchObject({ name: "AbortError" });
    for (const req of running) req.destroy();
    await expect.poll(() => net.backend.aborted, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    // Nothing reached the backend's embeddings route.
    expect(net.backend.requests.slice(asked).filter((r) => "input" in r)).toEqual([]);
  }, 90_000);
});
