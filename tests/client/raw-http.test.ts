import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpenAiBackend } from "../doubles/openai-backend";
import {
  type GatewayNetwork,
  startToolsAndPlainNetwork,
  WEATHER_PARAMETERS,
} from "../support/gateway-network";

/**
 * The gateway as curl and a browser page call it: raw HTTP, the SSE stream read byte for byte,
 * CORS preflights, and error bodies in OpenAI's shape. Real signaling, WebRTC and headless
 * providers in front of the OpenAI backend double (a test double for the model). The gateway asks
 * for an API key, as a browser app's would.
 */
let net: GatewayNetwork;
let backend: OpenAiBackend;
const KEY = "sk-local-test";
const APP = "http://localhost:5173";

beforeAll(async () => {
  net = await startToolsAndPlainNetwork({ gateway: { apiKey: KEY } });
  ({ backend } = net);
});

afterAll(() => net?.close());

const url = (path: string) => `${net.gateway.url}${path}`;
const headers = { "content-type": "application/json", authorization: `Bearer ${KEY}` };

/** POSTs `body` (an object, or a raw string) to /v1/chat/completions: the status and the text. */
async function chat(body: unknown, extra: Record<string, string> = {}) {
  const res = await fetch(url("/chat/completions"), {
    method: "POST",
    headers: { ...headers, ...extra },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { res, status: res.status, text: await res.text() };
}

const hi = (model = "llama-plain") => ({ model, messages: [{ role: "user", content: "one two" }] });

describe("the SSE stream as curl sees it", () => {
  it("is `data: <json>` events each ended by a blank line, then `data: [DONE]`, and no usage unless asked", async () => {
    const { res, text } = await chat({ ...hi(), stream: true });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    const events = text.split("\n\n").slice(0, -1);
    for (const e of events) expect(e).toMatch(/^data: /);
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice("data: ".length)));
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks)
      expect(c).toMatchObject({ object: "chat.completion.chunk", model: "llama-plain" });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Echo: one two");
    expect(chunks.at(-1).choices[0].finish_reason).toBe("stop");
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  it("with stream_options.include_usage ends with a usage chunk whose choices are empty", async () => {
    const { text } = await chat({ ...hi(), stream: true, stream_options: { include_usage: true } });
    const chunks = text
      .split("\n\n")
      .filter((e) => e.startsWith("data: {"))
      .map((e) => JSON.parse(e.slice(6)));
    const last = chunks.at(-1);
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ completion_tokens: 3 });
    expect(last.usage.total_tokens).toBe(last.usage.prompt_tokens + last.usage.completion_tokens);
    expect(chunks.slice(0, -1).some((c) => c.usage)).toBe(false);
  });
});

describe("curl itself", () => {
  const curl = (...args: string[]) =>
    promisify(execFile)("curl", ["-sS", "-N", "--max-time", "30", "-w", "\n%{http_code}", ...args]);
  const body = JSON.stringify({ ...hi(), stream: true, stream_options: { include_usage: true } });

  it("streams with the headers OpenAI's curl examples send; a form body (curl's -d default) is a 415 saying what to send", async () => {
    const { stdout } = await curl(
      url("/chat/completions"),
      ...["-H", "Content-Type: application/json", "-H", `Authorization: Bearer ${KEY}`, "-d", body],
    );
    expect(stdout.endsWith("data: [DONE]\n\n\n200")).toBe(true);
    expect(stdout).toContain('"content":"Echo: "');
    expect(stdout).toMatch(/"choices":\[\],.*"usage":\{/);
    const form = await curl(url("/chat/completions"), "-H", `Authorization: Bearer ${KEY}`, "-d", body);
    expect(form.stdout.endsWith("\n415")).toBe(true);
    expect(openAiError(form.stdout.slice(0, -4))).toMatchObject({ code: "unsupported_media_type" });
    expect(JSON.parse(form.stdout.slice(0, -4)).error.message).toContain("content-type: application/json");
  });
});

describe("curl, as people try a server", () => {
  const curl = (...args: string[]) =>
    promisify(execFile)("curl", ["-sS", "--max-time", "30", "-w", "\n%{http_code}", ...args], {
      maxBuffer: 16 * 1024 * 1024,
    });
  const auth = ["-H", "Content-Type: application/json", "-H", `Authorization: Bearer ${KEY}`];

  it("answers a chat whole, a Responses stream event by event, `curl -I` on the models, and a 5 MiB body with 413", async () => {
    const whole = await curl(url("/chat/completions"), ...auth, "-d", JSON.stringify(hi()));
    expect(whole.stdout.endsWith("\n200")).toBe(true);
    expect(JSON.parse(whole.stdout.slice(0, -4)).choices[0].message.content).toBe("Echo: one two");

    const events = await curl(
      "-N",
      url("/responses"),
      ...auth,
      "-d",
      JSON.stringify({ model: "llama-plain", input: "one two", stream: true }),
    );
    expect(events.stdout.endsWith("\n200")).toBe(true);
    const types = [...events.stdout.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(types.slice(0, 2)).toEqual(["response.created", "response.in_progress"]);
    expect(types.at(-1)).toBe("response.completed");

    // `curl -I` (HEAD): the status and headers a GET has, no body.
    const head = await curl("-I", url("/models"), "-H", `Authorization: Bearer ${KEY}`);
    expect(head.stdout).toMatch(/^HTTP\/1\.1 200 /);
    expect(head.stdout).toMatch(/content-type: application\/json/i);
    expect(head.stdout.endsWith("\n200")).toBe(true);

    // Past the limit, curl (which asks `Expect: 100-continue` first) reads the 413, not a reset.
    const big = JSON.stringify({
      ...hi(),
      messages: [{ role: "user", content: "x".repeat(5 * 1024 * 1024) }],
    });
    const file = join(mkdtempSync(join(tmpdir(), "silk-curl-")), "big.json");
    writeFileSync(file, big);
    const refused = await curl(url("/chat/completions"), ...auth, "--data-binary", `@${file}`);
    expect(refused.stdout.endsWith("\n413")).toBe(true);
    expect(openAiError(refused.stdout.slice(0, -4))).toMatchObject({ code: "request_too_large" });
  });
});

describe("a browser app on this machine", () => {
  it("gets its preflight answered before the key check, then reads the answer", async () => {
    const pre = await fetch(url("/chat/completions"), {
      method: "OPTIONS",
      headers: {
        origin: APP,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(APP);
    expect(pre.headers.get("access-control-allow-methods")).toMatch(/POST/);
    const allowed = (pre.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    expect(allowed).toContain("authorization");
    expect(allowed).toContain("content-type");
    const { res, status, text } = await chat(hi(), { origin: APP });
    expect(status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(JSON.parse(text).choices[0].message.content).toBe("Echo: one two");
    // A refusal is readable by the page too: its CORS headers are on the error as well.
    const refused = await chat({ ...hi(), n: 2 }, { origin: APP });
    expect(refused.status).toBe(400);
    expect(refused.res.headers.get("access-control-allow-origin")).toBe(APP);
  });
});

/** The error body, checked to have OpenAI's four fields. */
function openAiError(text: string) {
  const body = JSON.parse(text) as { error: Record<string, unknown> };
  // OpenAI's four fields; Silk's own account of a refusal, when it has one, apart in `silk_detail`.
  const { silk_detail, ...openai } = body.error;
  expect(Object.keys(openai).sort()).toEqual(["code", "message", "param", "type"]);
  if (silk_detail !== undefined) expect(typeof silk_detail).toBe("string");
  expect(typeof body.error.message).toBe("string");
  return body.error;
}

describe("errors in OpenAI's shape", () => {
  it("a body that is not JSON, an unknown model, no messages, no key", async () => {
    const bad = await chat('{"model": "llama-plain", "messages": [');
    expect(bad.status).toBe(400);
    expect(openAiError(bad.text)).toMatchObject({ type: "invalid_request_error", param: null });
    const unknown = await chat(hi("no-such-model"));
    expect(unknown.status).toBe(404);
    // OpenAI's own sentence, as a program matching on it expects; the signaling server's words
    // (and its URL) apart, where a person debugging finds them.
    expect(openAiError(unknown.text)).toMatchObject({
      code: "model_not_found",
      param: "model",
      message: "The model `no-such-model` does not exist or you do not have access to it.",
      silk_detail: expect.stringContaining("no provider serves no-such-model"),
    });
    const none = await chat({ model: "llama-plain" });
    expect(none.status).toBe(400);
    expect(openAiError(none.text)).toMatchObject({ type: "invalid_request_error", param: "messages" });
    const keyless = await fetch(url("/chat/completions"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(hi()),
    });
    expect(keyless.status).toBe(401);
    // RFC 9110 §11.6.1: a 401 says which scheme it takes, so a client (curl --anyauth) knows.
    expect(keyless.headers.get("www-authenticate")).toBe('Bearer realm="silk-gateway"');
    expect(openAiError(await keyless.text())).toMatchObject({ code: "invalid_api_key" });
    const wrong = await fetch(url("/models"), { headers: { authorization: "Bearer sk-wrong" } });
    expect([wrong.status, wrong.headers.get("www-authenticate")]).toEqual([
      401,
      'Bearer realm="silk-gateway", error="invalid_token"',
    ]);
    expect(openAiError(await wrong.text())).toMatchObject({
      code: "invalid_api_key",
      type: "invalid_request_error",
    });
  });
});

describe("each field: carried to the provider, or refused by name", () => {
  it("/v1/responses takes stream_options.include_obfuscation: false (what its events are), refuses true by name", async () => {
    const respond = async (include_obfuscation: boolean) => {
      const res = await fetch(url("/responses"), {
        method: "POST",
        headers,
        body: JSON.stringify({
          model: "llama-plain",
          input: "obf",
          stream: true,
          stream_options: { include_obfuscation },
        }),
      });
      return { status: res.status, text: await res.text() };
    };
    const taken = await respond(false);
    expect(taken.status).toBe(200);
    expect(taken.text).toContain("event: response.completed");
    expect(taken.text).not.toContain('"obfuscation"');
    const refused = await respond(true);
    expect(refused.status).toBe(400);
    expect(openAiError(refused.text)).toMatchObject({ param: "stream_options" });
  });

  it("refuses n > 1, metadata, store: true, and logprobs from a model that has none, naming each", async () => {
    const before = backend.requests.length;
    for (const [field, value, model] of [
      ["n", 2, "llama-plain"],
      ["metadata", { app: "x" }, "llama-plain"],
      ["store", true, "llama-plain"],
      ["logprobs", true, "llama-plain"],
    ] as const) {
      for (const stream of [false, true]) {
        const { status, text } = await chat({ ...hi(model), [field]: value, stream });
        expect([field, stream, status]).toEqual([field, stream, 400]);
        expect(openAiError(text)).toMatchObject({ param: field, type: "invalid_request_error" });
      }
    }
    expect(backend.requests.length).toBe(before);
  });

  it("carries logprobs, top_logprobs, seed, user, parallel_tool_calls and the token limits", async () => {
    const tool = { type: "function", function: { name: "get_weather", parameters: WEATHER_PARAMETERS } };
    const { status, text } = await chat({
      ...hi("llama-tools"),
      logprobs: true,
      top_logprobs: 3,
      seed: 11,
      user: "u-1",
      tools: [tool],
      parallel_tool_calls: false,
      max_tokens: 40,
    });
    expect(status).toBe(200);
    expect(backend.requests.at(-1)).toMatchObject({
      logprobs: true,
      top_logprobs: 3,
      seed: 11,
      user: "u-1",
      parallel_tool_calls: false,
      max_tokens: 40,
    });
    expect(JSON.parse(text).choices[0].finish_reason).toBe("tool_calls");
    // max_completion_tokens is the same limit under its new name; both given, the lower holds.
    await chat({ ...hi(), max_completion_tokens: 2 });
    expect(backend.requests.at(-1)).toMatchObject({ max_tokens: 2 });
    const both = await chat({ ...hi(), max_completion_tokens: 30, max_tokens: 2 });
    expect(JSON.parse(both.text).choices[0].finish_reason).toBe("length");
    expect(backend.requests.at(-1)).toMatchObject({ max_tokens: 2 });
    expect(backend.requests.at(-1)).not.toHaveProperty("max_completion_tokens");
  });
});
