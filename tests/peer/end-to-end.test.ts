import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError, ProviderLostError } from "../../client/sdk/errors";
import type { ChatCompletionChunk } from "../../client/sdk/openai-shapes";
import { connect, type SilkClient } from "../../client/sdk/silk-client";
import { flatPrice, generateKeyPair } from "../../protocol";
import { latestReceipt, MemoryReceiptStore } from "../../provider/receipt-store";
import { ProviderRuntime, type RuntimeEvent } from "../../provider/runtime";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, flat, provider as rawProvider, startServer } from "../signaling/helpers";

const ESCROW = `0:${"11".repeat(32)}`;
const PAYOUT = `0:${"22".repeat(32)}`;
const MAX = { promptNanoPerToken: 100n, completionNanoPerToken: 100n };

const runtimes: ProviderRuntime[] = [];
const clients: SilkClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const r of runtimes.splice(0)) r.stop();
  await cleanup();
});

async function provider(
  url: string,
  engine: ScriptedEngine,
  opts: { forceRelay?: boolean; events?: RuntimeEvent[]; price?: bigint; noWebRtc?: boolean } = {},
) {
  const runtime = await ProviderRuntime.start({
    signalingUrl: url,
    identity: generateKeyPair(),
    engine,
    models: [{ model: "test-model", price: flatPrice(opts.price ?? 10n) }],
    payout: PAYOUT,
    capacity: 2,
    ...(!opts.noWebRtc && { wrtc }),
    ...(opts.forceRelay && { forceRelay: true }),
    onEvent: (e) => opts.events?.push(e),
  });
  runtimes.push(runtime);
  return runtime;
}

async function requester(
  url: string,
  opts: {
    forceRelay?: boolean;
    onFailover?: (e: { model: string; failovers: number }) => void;
    /** Each key has its own epoch in the escrow, so its own receipt stream at a provider. */
    keyEpoch?: number;
    idleCloseMs?: number;
  } = {},
) {
  const client = await connect({
    signalingUrl: url,
    sessionKey: generateKeyPair(),
    keyEpoch: opts.keyEpoch ?? 0,
    maxPrice: MAX,
    escrow: ESCROW,
    wrtc,
    ...(opts.idleCloseMs !== undefined && { idleCloseMs: opts.idleCloseMs }),
    ...(opts.forceRelay && { forceRelay: true }),
    ...(opts.onFailover && { onFailover: opts.onFailover }),
  });
  clients.push(client);
  return client;
}

describe("one question through the real signaling server and WebRTC (Node, wrtc)", () => {
  it("streams an OpenAI-shaped answer with usage and cost", async () => {
    const { url } = await startServer();
    const events: RuntimeEvent[] = [];
    await provider(url, new ScriptedEngine(), { events });
    const client = await requester(url);

    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["test-model"]);
    expect(models.data[0]?.providers).toBe(1);

    const stream = await client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "hello over webrtc" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe("Echo: hello over webrtc");
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
    const usage = chunks.at(-1)?.usage;
    expect(usage?.completion_tokens).toBe(4);
    expect(BigInt(usage?.silk?.cost_nanoton ?? "0")).toBe(BigInt((usage?.prompt_tokens ?? 0) + 4) * 10n);
    expect(events.some((e) => e.type === "session-open" && e.path === "direct")).toBe(true);

    const whole = await client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "again" }],
    });
    expect(whole.choices[0]?.message.content).toBe("Echo: again");
    expect(whole.object).toBe("chat.completion");
  });

  // With a Registry entry, each model's quote in the session's account names the entry's owner,
  // as the grant's quote does: the second model is used on the session only at a price so signed.
  it.each([
    ["", undefined],
    [" (a provider with a Registry entry)", { owner: `0:${"33".repeat(32)}`, stake: 0n, registeredAt: 1 }],
  ])(
    "keeps one session (one receipt stream) per provider when asking it for two models%s",
    async (_, entry) => {
      const { url } = await startServer();
      const events: RuntimeEvent[] = [];
      const receipts = new MemoryReceiptStore();
      const runtime = await ProviderRuntime.start({
        signalingUrl: url,
        identity: generateKeyPair(),
        engine: new ScriptedEngine({ models: ["model-a", "model-b"] }),
        models: [
          { model: "model-a", price: flatPrice(10n) },
          { model: "model-b", price: flatPrice(20n) },
        ],
        payout: PAYOUT,
        receipts,
        wrtc,
        ...(entry && { entry }),
        onEvent: (e) => events.push(e),
      });
      runtimes.push(runtime);
      const client = await requester(url);
      let spent = 0n;
      for (const model of ["model-a", "model-b", "model-a"]) {
        const r = await client.chat.completions.create({
          model,
          messages: [{ role: "user", content: model }],
        });
        spent += BigInt(r.usage.silk!.cost_nanoton);
      }
      expect(events.filter((e) => e.type === "session-open")).toHaveLength(1);
      const streams = await receipts.list();
      expect(streams).toHaveLength(1);
      await expect.poll(async () => latestReceipt((await receipts.list())[0]!).receipt.amount).toBe(spent);
    },
  );

  it("closes an idle session, so a provider's places free up for the next requester", async () => {
    const { url } = await startServer();
    const events: RuntimeEvent[] = [];
    await provider(url, new ScriptedEngine(), { events }); // two places
    const open = (keyEpoch: number) => requester(url, { keyEpoch, idleCloseMs: 50 });
    const [first, second, third] = await Promise.all([open(1), open(2), open(3)]);
    for (const c of [first!, second!]) {
      await c.chat.completions.create({ model: "test-model", messages: [{ role: "user", content: "x" }] });
    }
    // Both places were taken; once the two idle sessions close, the third requester is served.
    await expect.poll(() => events.filter((e) => e.type === "session-closed").length).toBe(2);
    const r = await third!.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "y" }],
    });
    expect(r.choices[0]?.message.content).toBe("Echo: y");
  });

  it("falls back to the relay, which carries only ciphertext", async () => {
    const { url, server } = await startServer();
    const relayed: Uint8Array[] = [];
    server.io.on("connection", (socket) => {
      socket.onAny((event: string, msg: { frame?: Uint8Array }) => {
        if (event === "session:frame" && msg?.frame) relayed.push(new Uint8Array(msg.frame));
      });
    });
    const events: RuntimeEvent[] = [];
    await provider(url, new ScriptedEngine(), { forceRelay: true, events });
    const client = await requester(url, { forceRelay: true });
    const secret = "my secret prompt 12345";
    const answer = await client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: secret }],
    });
    expect(answer.choices[0]?.message.content).toBe(`Echo: ${secret}`);
    expect(events.some((e) => e.type === "session-open" && e.path === "relay")).toBe(true);
    expect(relayed.length).toBeGreaterThan(3);
    const all = Buffer.concat(relayed.map((f) => Buffer.from(f))).toString("latin1");
    expect(all).not.toContain("secret");
    expect(all).not.toContain("Echo");
    expect(all).not.toContain("request");
  });

  it("switches both sides to the relay when one side has no WebRTC at all (as in some WebViews)", async () => {
    const { url } = await startServer();
    const events: RuntimeEvent[] = [];
    // This provider runs without a WebRTC implementation, like a WebView where it is broken.
    await provider(url, new ScriptedEngine(), { events, noWebRtc: true });
    const client = await requester(url); // has WebRTC, and is told to switch
    const answer = await client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(answer.choices[0]?.message.content).toBe("Echo: hi");
    expect(events.some((e) => e.type === "session-open" && e.path === "relay")).toBe(true);
  });

  it("fails over when the provider vanishes mid-answer, and the answer continues", async () => {
    const { url } = await startServer();
    const long = Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ");
    const first = await provider(url, new ScriptedEngine({ tokenDelayMs: 20 }));
    const failovers: { model: string; failovers: number }[] = [];
    const client = await requester(url, { onFailover: (e) => failovers.push(e) });
    const stream = await client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: long }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: ChatCompletionChunk["usage"];
    let killed = false;
    const fingerprints: (string | undefined)[] = [];
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? "";
      usage = c.usage ?? usage;
      fingerprints.push(c.system_fingerprint);
      if (!killed && text.split(" ").length > 5) {
        killed = true;
        // A second provider comes up, then the first one's tab is closed.
        await provider(url, new ScriptedEngine({ reply: () => "continued." }));
        first.stop();
      }
    }
    expect(killed).toBe(true);
    expect(text.startsWith("Echo: w0 w1 w2 w3")).toBe(true);
    expect(text.endsWith("continued.")).toBe(true);
    expect(usage?.silk?.failovers).toBe(1);
    expect(failovers).toEqual([{ model: "test-model", failovers: 1 }]); // the page's "failover in progress"
    // Every chunk names the provider that sent it: the first's until the failover, then the one
    // that continued (the last chunk, with the usage, names it).
    const seen = [...new Set(fingerprints)];
    expect(seen).toHaveLength(2);
    expect(seen.every((f) => f?.startsWith("fp_"))).toBe(true);
    expect(fingerprints[0]).toBe(seen[0]);
    expect(fingerprints.at(-1)).toBe(`fp_${usage?.silk?.provider.slice(0, 16)}`);
  });

  it("says clearly that it cannot continue when no other provider is left", async () => {
    const { url } = await startServer();
    const long = Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ");
    const only = await provider(url, new ScriptedEngine({ tokenDelayMs: 20 }));
    const client = await requester(url);
    const stream = await client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: long }],
      stream: true,
    });
    let seen = 0;
    let text = "";
    const failure = await (async () => {
      for await (const c of stream) {
        text += c.choices[0]?.delta.content ?? "";
        if (++seen === 5) only.stop();
      }
    })().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ProviderLostError);
    const lost = failure as ProviderLostError;
    expect(lost.message).toMatch(/no other provider could continue it \(NO_MODEL\)/);
    expect(lost.partial).toBe(text);
    expect(lost.partial.startsWith("Echo: w0")).toBe(true);
  });

  it("follows the server's failover when the first provider does not take the session (direct and relay)", async () => {
    // Long enough that a loaded machine's honest provider takes its offer in time; the silent one still moves.
    const { url } = await startServer({ offerTimeoutMs: 600 });
    // Cheapest, so offered first: one stays silent; the paused one (a real runtime) is not listed.
    const silent = await rawProvider(url, {
      models: [{ model: "test-model", price: flat(1n) }],
      answer: "silent",
    });
    const paused = await provider(url, new ScriptedEngine(), { price: 2n });
    paused.pause();
    const events: RuntimeEvent[] = [];
    await provider(url, new ScriptedEngine(), { events });
    for (const [keyEpoch, forceRelay] of [false, true].entries()) {
      const client = await requester(url, { keyEpoch, forceRelay });
      const r = await client.chat.completions.create({
        model: "test-model",
        messages: [{ role: "user", content: "who takes it?" }],
      });
      expect(r.choices[0]?.message.content).toBe("Echo: who takes it?");
      expect(r.usage.silk?.failovers ?? 0).toBe(0); // moved before any answer: not a failover of the answer
      client.close();
    }
    // The silent one failed recently, so the second request skipped it.
    expect(silent.offers).toHaveLength(1);
    expect(
      events.filter((e) => e.type === "session-open").map((e) => e.type === "session-open" && e.path),
    ).toEqual(["direct", "relay"]);
  });

  it("a provider without a queue (maxWaiting 0) takes sessions while it has a free place, and answers three questions in turn", async () => {
    const { url } = await startServer();
    const runtime = await ProviderRuntime.start({
      signalingUrl: url,
      identity: generateKeyPair(),
      engine: new ScriptedEngine({ tokenDelayMs: 20 }),
      models: [{ model: "test-model", price: flatPrice(10n) }],
      payout: PAYOUT,
      capacity: 1,
      maxWaiting: 0,
      wrtc,
    });
    runtimes.push(runtime);
    const client = await requester(url);
    const answers = await Promise.all(
      ["one", "two", "three"].map((q) =>
        client.chat.completions.create({ model: "test-model", messages: [{ role: "user", content: q }] }),
      ),
    );
    expect(answers.map((a) => a.choices[0]?.message.content)).toEqual([
      "Echo: one",
      "Echo: two",
      "Echo: three",
    ]);
  });

  it("says NO_ANSWER when no provider takes the session", async () => {
    const { url } = await startServer({ offerTimeoutMs: 100 });
    await rawProvider(url, { models: [{ model: "test-model", price: flat(1n) }], answer: "silent" });
    const client = await requester(url);
    const failure = await client.chat.completions
      .create({ model: "test-model", messages: [{ role: "user", content: "anyone?" }] })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(NoProviderError);
    expect(failure).toMatchObject({ code: "NO_ANSWER" });
  });

  it("unlists a paused provider (not counted, not paired, open sessions go on) and lists it again on resume", async () => {
    const { url } = await startServer();
    const runtime = await provider(url, new ScriptedEngine());
    const open = await requester(url);
    const ask = (c: SilkClient, q: string) =>
      c.chat.completions.create({ model: "test-model", messages: [{ role: "user", content: q }] });
    expect((await ask(open, "before")).choices[0]?.message.content).toBe("Echo: before");
    const listed = async () => {
      const view = (await (await fetch(`${url}/api/models`)).json()) as { providers: number };
      const health = (await (await fetch(`${url}/healthz`)).json()) as { providers: number };
      return [view.providers, health.providers];
    };
    const until = async (want: number[]) => {
      const deadline = Date.now() + 10_000;
      while (JSON.stringify(await listed()) !== JSON.stringify(want) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      return listed();
    };
    expect(await until([1, 1])).toEqual([1, 1]);

    runtime.pause();
    expect(runtime.signaling.state).toMatchObject({ phase: "connected", paused: true });
    expect(await until([0, 0])).toEqual([0, 0]);
    const failure = await ask(await requester(url, { keyEpoch: 1 }), "anyone?").catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(NoProviderError);
    expect(failure).toMatchObject({ code: "NO_MODEL" });
    // The session opened before the pause still answers.
    expect((await ask(open, "still there?")).choices[0]?.message.content).toBe("Echo: still there?");

    runtime.resume();
    expect(await until([1, 1])).toEqual([1, 1]);
    expect(runtime.signaling.state.phase).toBe("registered");
    expect((await ask(await requester(url, { keyEpoch: 2 }), "back?")).choices[0]?.message.content).toBe(
      "Echo: back?",
    );
  });
});
