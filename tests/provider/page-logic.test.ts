import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { encodeSignedReceipt, generateKeyPair, NETWORK_ID, signReceipt, streamId } from "../../protocol";
import { claimOutcome } from "../../provider/page/claim-outcome";
import { earningsFrom } from "../../provider/page/earnings";
import { chartAxes, chartPoints, timeLabel } from "../../provider/page/earnings-chart";
import { linkOf, servingHeadline } from "../../provider/page/link-state";
import { downloadedText, parseNanoTon, servedSupport, timeLeft } from "../../provider/page/page-rules";
import { payoutProblem } from "../../provider/page/payout-address";
import { RateMeter } from "../../provider/page/rate-meter";
import { parseSelfHosted, withSelfHosted } from "../../provider/page/self-hosted";
import { downloadFailure } from "../../web/engines/model-catalog";
import { sizeText } from "../../web/size-text";

const PAYOUT = `0:${"22".repeat(32)}`;
const receipt = (escrow: string, amount: bigint, payout = PAYOUT) =>
  signReceipt(
    {
      network: NETWORK_ID.devnet,
      escrow: Address.parse(escrow),
      payout: Address.parse(payout),
      keyEpoch: 0,
      tokens: amount,
      amount,
    },
    generateKeyPair(),
  );

describe("provider page rules", () => {
  it("declares teacher-forced scoring only as an audit reference, and only for a model that scores", () => {
    const chat = { features: ["structured_output", "logprobs", "scoring"] as const, contextWindow: 4096 };
    expect(servedSupport({ ...chat, features: [...chat.features] }, false)?.features).not.toContain(
      "forced_scoring",
    );
    expect(servedSupport({ ...chat, features: [...chat.features] }, true)).toEqual({
      features: ["structured_output", "logprobs", "scoring", "forced_scoring"],
      contextWindow: 4096,
    });
    // An embedding model scores nothing, forced or not.
    expect(servedSupport({ features: ["embeddings"] }, true)).toEqual({ features: ["embeddings"] });
    expect(servedSupport(undefined, true)).toBeUndefined();
  });

  it("tokens per second over a sliding window, from a given clock", () => {
    const m = new RateMeter(5_000);
    expect(m.rate(0)).toBe(0);
    for (let t = 0; t < 4_000; t += 100) m.add(2, t);
    expect(m.rate(4_000)).toBe(20);
    expect(m.rate(20_000)).toBe(0); // everything aged out
  });

  it("earnings are the sum of each escrow's best receipt for this payout, less what was claimed", () => {
    const a = `0:${"aa".repeat(32)}`;
    const b = `0:${"bb".repeat(32)}`;
    const other = `0:${"33".repeat(32)}`;
    const record = (r: ReturnType<typeof receipt>, claimed: bigint) => ({
      id: streamId(r.receipt),
      latest: encodeSignedReceipt(r),
      claimed,
      updatedAt: 0,
    });
    const e = earningsFrom(
      [record(receipt(a, 700n), 200n), record(receipt(b, 300n), 0n), record(receipt(a, 999n, other), 0n)],
      Address.parse(PAYOUT).toRawString(),
    );
    expect(e).toEqual({ earned: 1000n, claimed: 200n, unclaimed: 800n, escrows: 2 });
  });

  it("the earnings chart scales without floats holding money and handles one sample", () => {
    expect(chartPoints([], 100, 10)).toBe("");
    expect(chartPoints([{ at: 5, earned: 10n, claimed: 0n }], 100, 10)).toBe("0,0.0 100.0,0.0");
    const pts = chartPoints(
      [
        { at: 0, earned: 0n, claimed: 0n },
        { at: 10, earned: 5n, claimed: 0n },
        { at: 20, earned: 10n, claimed: 0n },
      ],
      100,
      10,
    );
    expect(pts).toBe("0.0,10.0 50.0,5.0 100.0,0.0");
  });

  it("prices are whole nanoTON; payout addresses are checked", () => {
    expect(parseNanoTon(" 1000 ")).toBe(1000n);
    expect(parseNanoTon("1.5")).toMatch(/whole number/);
    expect(parseNanoTon("-3")).toMatch(/whole number/);
    expect(payoutProblem(undefined)).toMatch(/set a payout address/);
    expect(payoutProblem("not an address")).toMatch(/not a TON address/);
    expect(payoutProblem(PAYOUT)).toBeUndefined();
  });
});

describe("the provider page's status and claims", () => {
  const status = (claimed: bigint, pending: bigint) => ({ claimed, pending, streams: [] });
  it("says Claim now paid only when something was paid, and states the minimum otherwise", () => {
    expect(claimOutcome(status(0n, 5_000n), status(0n, 5_000n))).toMatch(
      /^Nothing claimed: 0.000005 TON is unclaimed, but an escrow pays only claims of at least 0.01 TON/,
    );
    expect(claimOutcome(status(0n, 0n), status(0n, 0n))).toBe(
      "Nothing to claim: every signed receipt is already paid.",
    );
    expect(claimOutcome(status(1n, 20_000_000n), status(20_000_001n, 0n))).toBe(
      "Claimed 0.02 TON: the escrows paid your payout address, less their network fees.",
    );
  });

  it("follows the connection, not the button last pressed", () => {
    expect(linkOf({ socket: { connected: true } })).toBe("connected");
    expect(linkOf({ socket: { connected: false } })).toBe("reconnecting");
    expect(linkOf({ state: { phase: "registered" } })).toBe("connected");
    expect(linkOf({ state: { phase: "reconnecting" } })).toBe("reconnecting");
    expect(linkOf({ state: { phase: "connected", paused: true } })).toBe("paused");
    expect(linkOf({ state: { phase: "reconnecting", paused: true } })).toBe("reconnecting");
    const base = { model: "m", now: 10_000, downSince: undefined };
    expect(servingHeadline({ ...base, serving: "serving", link: "connected" })).toEqual({
      text: "Serving m: connected to Silk",
      short: "Serving m",
      tone: "ok",
    });
    // Serving but missing from the Registry: requesters' apps refuse it, and the headline says so.
    expect(servingHeadline({ ...base, serving: "serving", link: "connected", unregistered: true })).toEqual({
      text: "Serving m, but no question will come: requesters ask only providers in the TON Registry. Register under “Price and payout”.",
      short: "Serving m",
      tone: "warn",
    });
    expect(
      servingHeadline({ ...base, serving: "serving", link: "reconnecting", downSince: 4_000 }).text,
    ).toBe("Reconnecting to Silk (lost 6 s ago): requesters cannot reach this tab until it is back");
    // Said to a screen reader without the counter, so the live region does not change every second.
    expect(
      servingHeadline({ ...base, serving: "serving", link: "reconnecting", downSince: 4_000 }).spoken,
    ).toBe("Reconnecting to Silk: requesters cannot reach this tab until it is back");
    expect(servingHeadline({ ...base, serving: "paused", link: "paused" }).text).toMatch(
      /^Paused m: not listed on Silk/,
    );
    // Still listed (the server has not heard yet): not called paused.
    expect(servingHeadline({ ...base, serving: "paused", link: "connected" }).text).toMatch(/^Pausing/);
    // Idle: the next step, named.
    expect(servingHeadline({ ...base, serving: "off", link: "reconnecting" }).text).toBe(
      "Not serving: m is loaded; set a payout address, then press Start serving",
    );
    expect(servingHeadline({ ...base, serving: "off", link: "connected", payout: true }).text).toBe(
      "Not serving: m is loaded; press Start serving",
    );
    expect(servingHeadline({ ...base, model: undefined, serving: "off", link: "connected" }).text).toBe(
      "Not serving: load a model, then press Start serving",
    );
  });

  it("names the state alone for the Serving card with the whole model id, colons and all", () => {
    // Ollama-style ids carry a colon: the Serving card cut the headline at it ("Serving llama3.2").
    const base = { model: "llama3.2:1b", now: 10_000, downSince: undefined };
    const short = (o: Partial<Parameters<typeof servingHeadline>[0]>) =>
      servingHeadline({ ...base, serving: "serving", link: "connected", ...o }).short;
    expect(short({})).toBe("Serving llama3.2:1b");
    expect(short({ unregistered: true })).toBe("Serving llama3.2:1b");
    expect(short({ serving: "paused", link: "paused" })).toBe("Paused llama3.2:1b");
    expect(short({ serving: "paused" })).toBe("Pausing");
    expect(short({ link: "reconnecting", downSince: 7_000 })).toBe("Reconnecting to Silk (lost 3 s ago)");
    expect(short({ serving: "off" })).toBe("Not serving");
    expect(short({ serving: "starting" })).toBe("Joining the network…");
  });
});

describe("the earnings chart's axes", () => {
  it("span zero to the most earned and the first sample's time to the last's", () => {
    expect(chartAxes([])).toBeUndefined();
    const samples = [
      { at: 1_000, earned: 5n, claimed: 0n },
      { at: 9_000, earned: 40n, claimed: 10n },
      { at: 5_000, earned: 30n, claimed: 0n },
    ];
    expect(chartAxes(samples)).toEqual({ top: 40n, from: 1_000, to: 5_000 });
  });

  it("labels a time of today by the clock, another day with its date", () => {
    const at = new Date(2026, 10, 27, 14, 5).getTime();
    expect(timeLabel(at, at + 60_000)).toMatch(/14:05|2:05/);
    expect(timeLabel(at, at + 3 * 86_400_000)).toMatch(/27.*(14:05|2:05)/);
  });
});

describe("a model download under way", () => {
  it.each([
    [0, 10_000, undefined],
    [0.01, 10_000, undefined], // too little to go on
    [0.5, 1_000, undefined],
    [0.5, 10_000, "about 10 s left"],
    [0.9, 9_000, "about 5 s left"],
    [0.25, 60_000, "about 3 min left"],
    [0.1, 20 * 60_000, "about 3.0 h left"],
    [1, 60_000, undefined],
  ])("at %s after %s ms: %s", (progress, elapsed, left) => {
    expect(timeLeft(progress, elapsed)).toBe(left);
  });

  it.each([
    [
      "Fetching param cache[3/20]: 120MB fetched. 15% completed, 30 secs elapsed. It can take a while",
      "120 MB of about 800 MB",
    ],
    ["Fetching param cache[1/20]: 3MB fetched. 0% completed, 1 secs elapsed.", "3 MB so far"],
    [
      "Fetching param cache[20/20]: 2264MB fetched. 100% completed, 90 secs elapsed.",
      "2.2 GB of about 2.2 GB",
    ],
    ["Loading model from cache[3/20]: 120MB loaded. 15% completed, 2 secs elapsed.", undefined],
    ["Loading GPU shader modules[3/20]: 15% completed", undefined],
  ])("from WebLLM's %j tells what came: %s", (text, got) => {
    expect(downloadedText(text)).toBe(got);
  });

  it("says its size in MB or GB", () => {
    expect(sizeText(512)).toBe("512 MB");
    expect(sizeText(880)).toBe("880 MB");
    expect(sizeText(2264)).toBe("2.2 GB");
  });
});

describe("a model download that fails", () => {
  const url = "https://huggingface.co/mlc-ai/Llama-3.2-1B-Instruct-q4f32_1-MLC";
  it("is told as a download failure naming the host, never as a bare Failed to fetch", () => {
    const said = downloadFailure(url, new TypeError("Failed to fetch"));
    expect(said).toMatch(
      /^the model's files could not be downloaded from huggingface\.co \(TypeError: Failed to fetch\)/,
    );
    expect(said).toMatch(/host the weights yourself and add their location under "Self-hosted model"/);
    expect(downloadFailure(url, new Error("Cannot fetch https://x/y: status 404"))).toContain(
      "huggingface.co",
    );
  });

  it("from a self-hosted location, names that host and offers to correct the location", () => {
    const own = "https://weights.example.org/Llama-3.2-1B-Instruct-q4f32_1-MLC/";
    const said = downloadFailure(own, new TypeError("Failed to fetch"), true);
    expect(said).toMatch(/^the model's files could not be downloaded from weights\.example\.org/);
    expect(said).toMatch(/CORS\), or correct the location under "Self-hosted model"/);
    expect(said).not.toMatch(/host the weights yourself/);
  });

  it("leaves every other failure to the engine's own message", () => {
    expect(downloadFailure(url, new Error("QuotaExceededError: storage is full"))).toBeUndefined();
    expect(downloadFailure(url, new Error("shader compilation failed"))).toBeUndefined();
  });
});

describe("a self-hosted model's location", () => {
  const good = {
    modelId: " Llama-3.2-1B-Instruct-q4f32_1-MLC ",
    modelUrl: "https://weights.example.org/llama",
    modelLibUrl: "https://weights.example.org/llama.wasm",
  };
  it("is kept trimmed, with the weights' base ending in a slash", () => {
    expect(parseSelfHosted(good)).toEqual({
      ok: true,
      model: {
        modelId: "Llama-3.2-1B-Instruct-q4f32_1-MLC",
        modelUrl: "https://weights.example.org/llama/",
        modelLibUrl: "https://weights.example.org/llama.wasm",
      },
    });
    expect(parseSelfHosted({ ...good, modelUrl: "http://127.0.0.1:8080/w/" })).toMatchObject({ ok: true });
  });
  it.each([
    ["an id with spaces", { modelId: "my model" }, "modelId", /letters, digits/],
    ["a weights URL that is not one", { modelUrl: "weights.example.org" }, "modelUrl", /not a full URL/],
    ["plain http from another host", { modelUrl: "http://weights.example.org/w/" }, "modelUrl", /https:\/\//],
    ["a library that is not .wasm", { modelLibUrl: "https://x.org/lib.js" }, "modelLibUrl", /\.wasm/],
  ] as const)("refuses %s, naming the field", (_what, change, field, problem) => {
    const r = parseSelfHosted({ ...good, ...change });
    expect(r).toMatchObject({ ok: false, field });
    expect(!r.ok && r.problem).toMatch(problem);
  });
  it("replaces a saved model of the same id, newest first", () => {
    const a = { modelId: "a", modelUrl: "https://x/a/", modelLibUrl: "https://x/a.wasm" };
    const b = { modelId: "b", modelUrl: "https://x/b/", modelLibUrl: "https://x/b.wasm" };
    const a2 = { ...a, modelUrl: "https://y/a/" };
    expect(withSelfHosted(withSelfHosted([a], b), a2)).toEqual([a2, b]);
  });
});
