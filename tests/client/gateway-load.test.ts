import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewayLogger } from "../../client/gateway/access-log";
import type { Gateway } from "../../client/gateway/gateway-server";
import type { RuntimeEvent } from "../../provider/runtime";
import { type GatewayNetwork, startGatewayNetwork } from "../support/gateway-network";

/**
 * The gateway under load, with two real headless providers (each in front of the OpenAI backend
 * double, capacity 2, so each takes 2 at once and queues 8) behind a real signaling server: far
 * more concurrent chats than one provider's queue holds, and a burst of model listings.
 */
const API_KEY = "gateway-load-secret";
let net: GatewayNetwork;
let gateway: Gateway;
const served = [0, 0];
const logs: { level: string; fields: Record<string, unknown>; message: string }[] = [];
const logger: GatewayLogger = {
  info: (fields, message) => logs.push({ level: "info", fields, message }),
  warn: (fields, message) => logs.push({ level: "warn", fields, message }),
  error: (fields, message) => logs.push({ level: "error", fields, message }),
};

beforeAll(async () => {
  const countServed = (i: number) => (e: RuntimeEvent) => {
    if (e.type === "request-done") served[i]!++;
  };
  net = await startGatewayNetwork({
    backend: { tokenDelayMs: 5 },
    providers: [
      { model: "llama-local", payout: "33", onEvent: countServed(0) },
      { model: "llama-local", payout: "44", onEvent: countServed(1) },
    ],
    // A loaded CI machine: every chat waits its turn rather than fail.
    client: { queueTimeoutMs: 120_000 },
    gateway: { apiKey: API_KEY, log: logger },
  });
  gateway = net.gateway;
}, 60_000);

afterAll(() => net?.close());

const call = (path: string, init: RequestInit = {}) =>
  fetch(`${gateway.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
  });

describe("the gateway spreads load across providers", () => {
  it("answers 200 concurrent chats with both providers serving, and no 500", async () => {
    const prompts = Array.from({ length: 200 }, (_, i) => `question number ${i} please`);
    const answers = await Promise.all(
      prompts.map(async (content, i) => {
        const res = await call("/chat/completions", {
          method: "POST",
          body: JSON.stringify({
            model: "llama-local",
            messages: [{ role: "user", content }],
            ...(i % 2 === 0 && { stream: true }),
          }),
        });
        return { status: res.status, body: await res.text() };
      }),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    answers.forEach((a, i) => {
      const text =
        i % 2 === 0
          ? a.body
              .split("\n")
              .filter((l) => l.startsWith("data: {"))
              .map(
                (l) => (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0],
              )
              .map((c) => c?.delta.content ?? "")
              .join("")
          : (JSON.parse(a.body) as { choices: { message: { content: string } }[] }).choices[0]?.message
              .content;
      expect(text).toBe(`Echo: ${prompts[i]}`);
    });
    expect(served[0]).toBeGreaterThan(0);
    expect(served[1]).toBeGreaterThan(0);
    expect(served[0]! + served[1]!).toBe(200);

    // One line per chat; none carries a prompt or the API key.
    const chats = logs.filter((l) => l.fields.path === "/v1/chat/completions");
    expect(chats.length).toBe(200);
    const text = JSON.stringify(logs);
    expect(text).not.toContain("question number");
    expect(text).not.toContain(API_KEY);
  }, 300_000);

  it("answers 1,000 concurrent model listings, all 200, from the subscribed directory", async () => {
    // A failed connection is recorded with its cause, so a failure says what happened.
    const results = await Promise.all(
      Array.from({ length: 1000 }, async () => {
        try {
          const res = await call("/models");
          return {
            status: res.status,
            body: (await res.json()) as { data: { id: string; providers: number }[] },
          };
        } catch (err) {
          const cause = (err as { cause?: { code?: string; message?: string } }).cause;
          return {
            status: `fetch failed: ${cause?.code ?? cause?.message ?? String(err)}`,
            body: { data: [] },
          };
        }
      }),
    );
    expect(results.filter((r) => r.status !== 200).map((r) => r.status)).toEqual([]);
    for (const r of results)
      expect(r.body.data).toEqual([expect.objectContaining({ id: "llama-local", providers: 2 })]);
  }, 120_000);

  it("logs a refusal with its status and code, without the prompt", async () => {
    const res = await call("/chat/completions", {
      method: "POST",
      body: JSON.stringify({
        model: "nobody-serves-this",
        messages: [{ role: "user", content: "secret words" }],
      }),
    });
    expect(res.status).toBe(404);
    await res.text();
    const refused = () =>
      logs.filter((l) => l.fields.path === "/v1/chat/completions" && l.fields.status === 404);
    await expect.poll(() => refused().length).toBe(1);
    const line = refused()[0]!;
    expect(line).toMatchObject({ level: "warn", fields: { status: 404, code: "model_not_found" } });
    expect(JSON.stringify(line)).not.toContain("secret words");
  });
});
