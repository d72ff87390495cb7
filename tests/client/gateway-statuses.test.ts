import { request as httpRequest } from "node:http";
import { gzipSync } from "node:zlib";
import wrtc from "@roamhq/wrtc";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../../client/gateway/gateway-server";
import { connect, type SilkClient } from "../../client/sdk/silk-client";
import { flatPrice, generateKeyPair } from "../../protocol";
import { AccountRefusedError } from "../../provider/account-gate";
import { HttpEngine } from "../../provider/engines/http-engine";
import { ProviderRuntime } from "../../provider/runtime";
import { type OpenAiBackend, startOpenAiBackend } from "../doubles/openai-backend";
import { cleanup, flat, provider as refusingProvider, startServer } from "../signaling/helpers";
import { rewrite } from "../support/mitm-behaviours";
import { type Mitm, startMitm } from "../support/mitm-signaling";

/**
 * What a program sees when the network refuses: the status of each refusal, streaming or not,
 * because the gateway writes nothing until a provider has answered; 413; /v1/models/{id};
 * x-request-id. Real signaling, real WebRTC, providers in front of an OpenAI-compatible double.
 */
let backend: OpenAiBackend;
const runtimes: ProviderRuntime[] = [];
const clients: SilkClient[] = [];
const gateways: Gateway[] = [];
let openai: OpenAI;
let cheap: OpenAI;
/** Through a signaling server that strips the provider's signed quote from every grant. */
let lied: OpenAI;
/** With the server's key pinned, through a man in the middle that strips the quote from every grant. */
let tampered: OpenAI;
let mitm: Mitm | undefined;
let pathMitm: Mitm | undefined;

/** Strips the provider's signed quote from every grant. */
const stripQuote = rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([a]) => {
  const grant = a as { ok?: boolean; provider?: Record<string, unknown> };
  if (!grant.ok || !grant.provider) return [a];
  const { quote: _stripped, ...provider } = grant.provider;
  return [{ ...grant, provider }];
});

async function provider(
  url: string,
  model: string,
  extra: Partial<Parameters<typeof ProviderRuntime.start>[0]>,
) {
  const engine = new HttpEngine({ baseUrl: backend.url, backendModel: () => "backend-model" });
  await engine.load(model);
  const runtime = await ProviderRuntime.start({
    signalingUrl: url,
    identity: generateKeyPair(),
    engine,
    models: [{ model, price: flatPrice(5n) }],
    payout: `0:${"22".repeat(32)}`,
    wrtc,
    ...extra,
  });
  runtimes.push(runtime);
  return runtime;
}

async function gatewayFor(url: string, maxPrice: bigint, serverKey?: string): Promise<OpenAI> {
  const client = await connect({
    ...(serverKey && { serverKey }),
    signalingUrl: url,
    sessionKey: generateKeyPair(),
    maxPrice: { promptNanoPerToken: maxPrice, completionNanoPerToken: maxPrice },
    escrow: `0:${"11".repeat(32)}`,
    wrtc,
  });
  clients.push(client);
  const gateway = await startGateway({ client });
  gateways.push(gateway);
  return new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 0 });
}

beforeAll(async () => {
  backend = await startOpenAiBackend();
  // Room for every case's session requests (and the SDK's retries) on the gateways' sockets.
  // The proxy below holds the server's key: it stands for the server itself lying.
  const serverSecretKey = generateKeyPair().secretKey;
  const { url, server } = await startServer({ requestBurst: 100, serverKey: serverSecretKey });
  await provider(url, "open-model", { capacity: 2 });
  // An escrow this provider will not serve: its account gate refuses the key.
  await provider(url, "gated-model", {
    gate: {
      check: async () => {
        throw new AccountRefusedError(
          "KEY_NOT_AUTHORISED",
          "the session key is not authorised in the escrow",
        );
      },
    },
  });
  // Escrows the provider serves no more (provider/serving/escrow-book.ts): the only provider of
  // the model refuses, so that refusal is the answer, not "no such model".
  for (const [model, code] of [
    ["foreign-model", "FOREIGN_CLAIMS"],
    ["crowded-model", "ESCROW_CROWDED"],
  ] as const)
    await provider(url, model, {
      gate: {
        check: async () => {
          throw new AccountRefusedError(code, `refused by the test's gate: ${code}`);
        },
      },
    });
  // A registered provider that refuses every offer it is made.
  await refusingProvider(url, { answer: "refuse", models: [{ model: "refusing-model", price: flat(5n) }] });
  openai = await gatewayFor(url, 5n);
  cheap = await gatewayFor(url, 1n);
  mitm = await startMitm(url, [stripQuote], { serverSecretKey });
  lied = await gatewayFor(mitm.url, 5n);
  pathMitm = await startMitm(url, [stripQuote]);
  tampered = await gatewayFor(pathMitm.url, 5n, server.serverKey);
});

afterAll(async () => {
  for (const g of gateways) await g.close();
  for (const c of clients) c.close();
  for (const r of runtimes) r.stop();
  await mitm?.close();
  await pathMitm?.close();
  await backend?.close();
  await cleanup();
});

const ask = (model: string) => ({ model, messages: [{ role: "user" as const, content: "hello there" }] });

describe("refusals keep their HTTP status, streaming or not", () => {
  const cases: [string, () => OpenAI, string, number, string][] = [
    ["unknown model", () => openai, "no-such-model", 404, "model_not_found"],
    ["price above the requester's maximum", () => cheap, "open-model", 402, "price_too_low"],
    ["escrow refused by the provider", () => openai, "gated-model", 403, "key_not_authorised"],
    ["escrow claimed by others than the provider", () => openai, "foreign-model", 403, "foreign_claims"],
    ["escrow's paid dictionary crowded", () => openai, "crowded-model", 403, "escrow_crowded"],
    ["grant differing from the provider's signed quote", () => lied, "open-model", 502, "quote_forged"],
    ["grant altered on the path (server key pinned)", () => tampered, "open-model", 502, "grant_tampered"],
    ["nobody takes the session", () => openai, "refusing-model", 503, ""],
  ];
  for (const [what, client, model, status, code] of cases) {
    it(`${what}: ${status} when streaming`, async () => {
      const err = await client()
        .chat.completions.create({ ...ask(model), stream: true })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err).toMatchObject({ status });
      if (code) expect(err).toMatchObject({ code });
      expect((err as InstanceType<typeof OpenAI.APIError>).requestID).toMatch(/^req_/);
    });
    it(`${what}: ${status} without streaming`, async () => {
      await expect(client().chat.completions.create(ask(model))).rejects.toMatchObject({
        status,
        ...(code && { code }),
      });
    });
  }

  it("streams a served model with a 200 and [DONE]", async () => {
    const stream = await openai.chat.completions.create({ ...ask("open-model"), stream: true });
    let text = "";
    for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
    expect(text).toBe("Echo: hello there");
  });
});

describe("HTTP surface", () => {
  it("answers a body over 4 MiB with 413 and an OpenAI error, not a reset", async () => {
    const big = JSON.stringify({
      ...ask("open-model"),
      messages: [{ role: "user", content: "x".repeat(5 << 20) }],
    });
    const res = await post(gateways[0]!.url, big);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: "request_too_large" } });
  });

  it("refuses a body under 4 MiB that is over a session message once framed, naming messages and the limit", async () => {
    // Under the gateway's 4 MiB body limit by a few bytes; the session's request frame adds its
    // own fields (v, t, id) and so goes over the 4 MiB message limit.
    const body = JSON.stringify({ model: "open-model", messages: [{ role: "user", content: "" }] });
    const big = JSON.stringify({
      model: "open-model",
      messages: [{ role: "user", content: "x".repeat((4 << 20) - body.length - 4) }],
    });
    expect(Buffer.byteLength(big)).toBeLessThan(4 << 20);
    const res = await post(gateways[0]!.url, big);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({
      error: { code: "oversize", param: "messages", message: expect.stringContaining(`${4 << 20} bytes`) },
    });
  });

  it("serves GET /v1/models/{id}, and 404 for a model nobody serves", async () => {
    const m = await openai.models.retrieve("open-model");
    expect(m).toMatchObject({ id: "open-model", object: "model" });
    await expect(openai.models.retrieve("nope")).rejects.toMatchObject({
      status: 404,
      code: "model_not_found",
      error: { message: "The model `nope` does not exist or you do not have access to it." },
    });
  });

  it("says which OpenAI endpoints are not served, rather than no route", async () => {
    await expect(openai.completions.create({ model: "open-model", prompt: "x" })).rejects.toMatchObject({
      status: 404,
      code: "unsupported_endpoint",
    });
    // The rest of OpenAI's API a program may call, each named as not served rather than "no route".
    for (const call of [
      () => openai.files.list(),
      () => openai.batches.list(),
      () => openai.images.generate({ prompt: "x" }),
      () => openai.audio.translations.create({ file: new File(["x"], "a.wav"), model: "whisper-1" }),
      () => openai.vectorStores.list(),
      // under /v1/responses, but nothing stored to read back: not "never stored"
      () => openai.responses.inputTokens.count({ model: "open-model", input: "x" }),
      () => openai.responses.compact({ model: "open-model", input: "x" }),
    ])
      await expect(call()).rejects.toMatchObject({ status: 404, code: "unsupported_endpoint" });
    // Reading back what was stored: Silk stores nothing, and says so.
    for (const call of [
      () => openai.responses.retrieve("resp_abc"),
      () => openai.responses.delete("resp_abc"),
      () => openai.responses.cancel("resp_abc"),
      () => openai.chat.completions.retrieve("chatcmpl-abc"),
    ])
      await expect(call()).rejects.toMatchObject({
        status: 404,
        code: "not_found",
        message: expect.stringContaining("never stored"),
      });
  });

  it("answers a served route asked with the wrong method with 405 and Allow", async () => {
    const base = gateways[0]!.url;
    const get = await fetch(`${base}/chat/completions`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect(await get.json()).toMatchObject({
      error: { code: "method_not_allowed", type: "invalid_request_error" },
    });
    const post = await fetch(`${base}/models`, { method: "POST", body: "{}" });
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    expect((await fetch(`${base}/no-such-route`)).status).toBe(404);
  });

  it("answers HEAD as GET without the body (RFC 9110: every server takes GET and HEAD), and OPTIONS with Allow", async () => {
    const base = gateways[0]!.url;
    // A health check or a proxy probing the base URL: the status and headers a GET would have.
    for (const path of ["/models", "/models/open-model"]) {
      const [head, get] = [await fetch(`${base}${path}`, { method: "HEAD" }), await fetch(`${base}${path}`)];
      expect(head.status).toBe(200);
      expect(head.headers.get("content-type")).toBe("application/json");
      expect(head.headers.get("x-request-id")).toMatch(/^req_/);
      expect(await head.text()).toBe("");
      expect(Number(head.headers.get("content-length"))).toBeGreaterThan(0);
      expect(get.status).toBe(200);
      await get.text();
    }
    const missing = await fetch(`${base}/models/nope`, { method: "HEAD" });
    expect(missing.status).toBe(404);
    const headPost = await fetch(`${base}/chat/completions`, { method: "HEAD" });
    expect([headPost.status, headPost.headers.get("allow")]).toEqual([405, "POST"]);
    // OPTIONS with no CORS preflight asks which methods a route takes.
    const options = await fetch(`${base}/chat/completions`, { method: "OPTIONS" });
    expect([options.status, options.headers.get("allow")]).toEqual([204, "POST"]);
    const models = await fetch(`${base}/models/open-model`, { method: "OPTIONS" });
    expect([models.status, models.headers.get("allow")]).toEqual([204, "GET, HEAD"]);
    expect((await fetch(`${base}/no-such-route`, { method: "OPTIONS" })).status).toBe(404);
  });

  it("refuses a web page of another origin (no preflight needed for text/plain), and a body not sent as JSON", async () => {
    const base = gateways[0]!.url;
    const body = JSON.stringify(ask("open-model"));
    const served = backend.requests.length;
    // What a page's `fetch(..., { mode: "no-cors" })` sends: a simple request, its origin named.
    const forged = await fetch(`${base}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "text/plain", origin: "https://evil.example" },
      body,
    });
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ error: { code: "cross_origin_refused" } });
    const rebound = await fetch(`${base}/models`, { headers: { origin: "http://rebound.example:8788" } });
    expect(rebound.status).toBe(403);
    const form = await fetch(`${base}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    expect(form.status).toBe(415);
    expect((await form.json()).error.message).toMatch(/content-type: application\/json/);
    expect(backend.requests.length).toBe(served);
    const local = await fetch(`${base}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", origin: "http://localhost:5173" },
      body,
    });
    expect(local.status).toBe(200);
  });

  it("answers a CORS preflight from a page on this machine, and lets it read the answer; another origin's preflight is refused", async () => {
    const base = gateways[0]!.url;
    const origin = "http://localhost:5173";
    const preflight = await fetch(`${base}/chat/completions`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-stainless-os",
      },
    });
    expect(preflight.status).toBe(204);
    expect(Object.fromEntries(preflight.headers)).toMatchObject({
      "access-control-allow-origin": origin,
      "access-control-allow-methods": "GET, POST",
      "access-control-allow-headers": "authorization, content-type, x-stainless-os",
    });
    const models = await fetch(`${base}/models`, { headers: { origin } });
    expect(models.headers.get("access-control-allow-origin")).toBe(origin);
    expect(models.headers.get("access-control-expose-headers")).toMatch(/x-request-id/);
    const evil = await fetch(`${base}/chat/completions`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(evil.status).toBe(403);
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    // A program sends no Origin and gets no CORS headers.
    expect((await fetch(`${base}/models`)).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("says what is wrong with a body a program mangled: bad UTF-8, a compressed body, a base URL without /v1", async () => {
    const base = gateways[0]!.url;
    const served = backend.requests.length;
    const json = Buffer.from(JSON.stringify(ask("open-model")));
    // "hello there" with one byte that is not UTF-8: decoded leniently it would reach the model as U+FFFD.
    const bad = Buffer.concat([
      json.subarray(0, json.indexOf("hello")),
      Buffer.from([0xff]),
      json.subarray(json.indexOf("hello")),
    ]);
    const mangled = await fetch(`${base}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: bad,
    });
    expect(mangled.status).toBe(400);
    expect((await mangled.json()).error.message).toMatch(/UTF-8/);
    const gzipped = await fetch(`${base}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(json),
    });
    expect(gzipped.status).toBe(415);
    expect(await gzipped.json()).toMatchObject({ error: { param: "content-encoding" } });
    // Declared in another charset, it was read as UTF-8 all the same: latin-1's "café" would have
    // reached the model as "cafÃ©" had it been sent so. UTF-8 and ASCII, any case, are read.
    for (const charset of ["ISO-8859-1", "latin1", "utf-16"]) {
      const declared = await fetch(`${base}/chat/completions`, {
        method: "POST",
        headers: { "content-type": `application/json; charset=${charset}` },
        body: json,
      });
      expect([charset, declared.status, await declared.json()]).toEqual([
        charset,
        415,
        {
          error: {
            message: `charset=${charset}: JSON is read as UTF-8 only; send the body as UTF-8`,
            type: "invalid_request_error",
            param: "content-type",
            code: "unsupported_media_type",
          },
        },
      ]);
    }
    // Neither JSON nor UTF-8: the type is named first (what to send), then the charset.
    const plain = await fetch(`${base}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "text/plain; charset=latin1" },
      body: json,
    });
    expect([plain.status, await plain.json()]).toEqual([
      415,
      {
        error: {
          message:
            "the body must be JSON sent with content-type: application/json, not text/plain; charset=latin1 (and in UTF-8: JSON is read as UTF-8 only)",
          type: "invalid_request_error",
          param: "content-type",
          code: "unsupported_media_type",
        },
      },
    ]);
    expect(backend.requests.length).toBe(served);
    for (const charset of ["UTF-8", "utf8", '"utf-8"', "us-ascii"]) {
      const read = await fetch(`${base}/chat/completions`, {
        method: "POST",
        headers: { "content-type": `application/json; charset=${charset}` },
        body: json,
      });
      expect([charset, read.status]).toEqual([charset, 200]);
      await read.json();
    }
    const root = base.slice(0, -"/v1".length);
    const noV1 = await fetch(`${root}/chat/completions`, { method: "POST", body: json });
    expect(noV1.status).toBe(404);
    expect((await noV1.json()).error.message).toMatch(/did you mean \/v1\/chat\/completions/);
    // A base URL ending in "/" joined by hand (`${base}/chat/completions`) is the same route, as
    // behind nginx (merge_slashes): answered, not "no route for POST /v1//chat/completions".
    for (const doubled of [`${base}//chat/completions`, `${root}//v1/chat/completions`]) {
      const res = await fetch(doubled, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: json,
      });
      expect([doubled, res.status]).toEqual([doubled, 200]);
      expect((await res.json()).choices[0].message.content).toContain("hello there");
    }
    expect((await fetch(`${base}//models`)).status).toBe(200);
    // Someone opening the gateway's address in a browser, or its base URL itself, is told what it is.
    for (const path of ["/", "/v1"]) {
      const opened = await fetch(`${root}${path}`);
      expect(opened.status).toBe(404);
      expect((await opened.json()).error.message).toBe(
        `no route for GET ${path}: this is Silk's OpenAI-compatible gateway; point an OpenAI client's base URL at /v1 (GET /v1/models lists the models)`,
      );
    }
  });

  it("says which required field a body left out, by name, on every route", async () => {
    const base = gateways[0]!.url;
    const cases: [string, unknown, string][] = [
      ["/chat/completions", { messages: [{ role: "user", content: "hi" }] }, "model"],
      ["/chat/completions", { model: "open-model" }, "messages"],
      ["/chat/completions", { model: "open-model", messages: [{ content: "hi" }] }, "messages.0.role"],
      ["/responses", { input: "hi" }, "model"],
      ["/responses", { model: "open-model" }, "input"],
      ["/embeddings", { input: "hi" }, "model"],
      ["/embeddings", { model: "open-model" }, "input"],
    ];
    for (const [path, body, param] of cases) {
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: {
          // OpenAI's words and code; was "model is required", `invalid_value`.
          message: `Missing required parameter: '${param}'.`,
          type: "invalid_request_error",
          param,
          code: "missing_required_parameter",
        },
      });
    }
  });

  it("gives every response an x-request-id", async () => {
    const { response } = await openai.models.list().withResponse();
    expect(response.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{24}$/);
  });
});

/** A raw POST, streamed in pieces, as a client with a big body sends it. */
function post(base: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}/chat/completions`,
      { method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    for (let i = 0; i < body.length; i += 1 << 20) req.write(body.slice(i, i + (1 << 20)));
    req.end();
  });
}
