import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAiBackend, startOpenAiBackend } from "../doubles/openai-backend";

/**
 * The three programs as an operator runs them (`npm run signaling`, `npm run provider`,
 * `npm run gateway`, signaling at LOG_LEVEL=trace), one conversation through them with a
 * distinctive prompt and keys, including the requests that go wrong (a refused field, a body that
 * is not JSON, a wrong API key, a client that hangs up mid-stream). Everything the three print is
 * read: neither the prompt, nor its answer, nor any key appears in it.
 */
const dir = mkdtempSync(join(tmpdir(), "silk-secret-logs-"));
const PROMPT = "PROMPT-MARKER-7f3c1a tell me about the heron";
const GATEWAY_API_KEY = "GATEWAY-KEY-MARKER-51be";
const BACKEND_API_KEY = "BACKEND-KEY-MARKER-c09d";
const WRONG_KEY = "WRONG-KEY-MARKER-e2aa";
const children: { child: ChildProcess; output: () => string; name: string }[] = [];
let backend: OpenAiBackend;
let gatewayUrl = "";

/** `npm run <script> -- args`, as an operator starts it; resolves once it printed `ready`. */
async function start(name: string, args: string[], env: Record<string, string>, ready: RegExp) {
  const child = spawn("npm", ["run", "--silent", name, "--", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const entry = { child, name, output: () => out };
  children.push(entry);
  const found = await new Promise<RegExpExecArray>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`${name} did not start in 60 s:\n${out}`)), 60_000);
    const look = (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (!m) return;
      clearTimeout(deadline);
      resolve(m);
    };
    child.stdout.on("data", look);
    child.stderr.on("data", look);
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}:\n${out}`)));
  });
  return { ...entry, found };
}

/** SIGTERM, and the program's exit (10 s at most, then SIGKILL). */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

beforeAll(async () => {
  backend = await startOpenAiBackend({ tokenDelayMs: 30 });
  const signaling = await start(
    "signaling",
    [],
    { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "trace" },
    /"msg":"listening".*?"port":(\d+)|"port":(\d+).*?"msg":"listening"/,
  );
  const signalingUrl = `http://127.0.0.1:${signaling.found[1] ?? signaling.found[2]}`;
  await start(
    "provider",
    [
      "--backend",
      backend.url,
      "--model",
      "heron-model",
      "--backend-model",
      "backend-model",
      "--price",
      "5",
      "--payout",
      `0:${"22".repeat(32)}`,
      "--signaling",
      signalingUrl,
      "--key-file",
      join(dir, "provider.key"),
      "--receipts-file",
      join(dir, "receipts.log"),
      "--unreserved-nano",
      "whole-balance",
    ],
    { SILK_BACKEND_API_KEY: BACKEND_API_KEY, SILK_PROVIDER_STATE: join(dir, "provider.json") },
    /registered with/,
  );
  const gateway = await start(
    "gateway",
    [
      "--signaling",
      signalingUrl,
      "--escrow",
      `0:${"11".repeat(32)}`,
      "--max-price",
      "5",
      "--trust-server",
      "--port",
      "0",
      "--key-file",
      join(dir, "gateway.key"),
    ],
    { SILK_GATEWAY_API_KEY: GATEWAY_API_KEY, SILK_GATEWAY_STATE: join(dir, "gateway.json") },
    /Silk gateway on (\S+)/,
  );
  gatewayUrl = gateway.found[1]!;
}, 200_000);

afterAll(async () => {
  for (const { child } of children.reverse()) await stop(child);
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("what the programs print", () => {
  it("never holds the prompt, the answer or a key, whatever the requests did", async () => {
    const openai = new OpenAI({ baseURL: gatewayUrl, apiKey: GATEWAY_API_KEY, maxRetries: 0 });
    const messages = [{ role: "user" as const, content: PROMPT }];
    const done = await openai.chat.completions.create({ model: "heron-model", messages });
    expect(done.choices[0]?.message.content).toBe(`Echo: ${PROMPT}`);
    let streamed = "";
    for await (const c of await openai.chat.completions.create({
      model: "heron-model",
      messages,
      stream: true,
    }))
      streamed += c.choices[0]?.delta.content ?? "";
    expect(streamed).toBe(`Echo: ${PROMPT}`);

    // A client that hangs up after the first words.
    const cut = await openai.chat.completions.create({ model: "heron-model", messages, stream: true });
    for await (const _ of cut) break;

    // Refusals whose bodies hold the prompt.
    const raw = (body: string, key = GATEWAY_API_KEY) =>
      fetch(`${gatewayUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body,
      }).then((r) => r.status);
    expect(await raw(JSON.stringify({ model: "heron-model", messages, frobnicate: PROMPT }))).toBe(400);
    expect(await raw(`{"model":"heron-model","messages":[{"role":"user","content":"${PROMPT}"`)).toBe(400);
    expect(await raw(JSON.stringify({ model: "heron-model", messages }), WRONG_KEY)).toBe(401);

    for (const { child } of [...children].reverse()) await stop(child);
    const printed = Object.fromEntries(children.map((c) => [c.name, c.output()]));
    // The programs did log: the signaling trace, the provider's served requests, the access log.
    expect(printed.signaling).toMatch(/"msg"/);
    expect(printed.provider).toMatch(/served request 2/);
    expect(printed.gateway).toMatch(/"status":401/);
    const secrets = {
      prompt: "PROMPT-MARKER-7f3c1a",
      question: "the heron",
      gatewayApiKey: GATEWAY_API_KEY,
      backendApiKey: BACKEND_API_KEY,
      wrongKey: WRONG_KEY,
      providerKeyFile: readFileSync(join(dir, "provider.key"), "utf8").trim(),
      gatewayKeyFile: readFileSync(join(dir, "gateway.key"), "utf8").trim(),
    };
    for (const [program, text] of Object.entries(printed))
      for (const [what, secret] of Object.entries(secrets))
        expect([program, what, text.includes(secret)]).toEqual([program, what, false]);
  }, 120_000);
});
