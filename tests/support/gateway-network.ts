import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import wrtc from "@roamhq/wrtc";
import type OpenAI from "openai";
import { type Gateway, type GatewayOptions, startGateway } from "../../client/gateway/gateway-server";
import { type ConnectOptions, connect, type SilkClient } from "../../client/sdk/silk-client";
import { type Feature, flatPrice, generateKeyPair, type ModelPrice } from "../../protocol";
import { startHeadlessProvider } from "../../provider/headless/headless-provider";
import { latestReceipt, type ReceiptStore } from "../../provider/receipt-store";
import type { ProviderRuntime, RuntimeEvent } from "../../provider/runtime";
import { type OpenAiBackend, startOpenAiBackend } from "../doubles/openai-backend";
import { cleanup, startServer } from "../signaling/helpers";

/**
 * The gateway's whole path for tests: the OpenAI-compatible backend double, a real signaling
 * server, headless providers in front of the backend (each its own payout, since receipts are
 * cumulative per payout), an SDK client over `@roamhq/wrtc` and the gateway on it.
 */
export interface HeadlessSpec {
  model: string;
  /** Two hex digits repeated into the payout address; distinct per provider. */
  payout: string;
  price?: ModelPrice;
  features?: Feature[];
  contextWindow?: number;
  onEvent?: (e: RuntimeEvent) => void;
}

export interface GatewayNetwork {
  backend: OpenAiBackend;
  signalingUrl: string;
  client: SilkClient;
  gateway: Gateway;
  receipts: ReceiptStore[];
  runtimes: ProviderRuntime[];
  close(): Promise<void>;
}

export async function startGatewayNetwork(opts: {
  providers: HeadlessSpec[];
  backend?: Parameters<typeof startOpenAiBackend>[0];
  client?: Partial<ConnectOptions>;
  gateway?: Omit<GatewayOptions, "client">;
}): Promise<GatewayNetwork> {
  const backend = await startOpenAiBackend(opts.backend);
  const { url } = await startServer();
  const dir = mkdtempSync(join(tmpdir(), "silk-gateway-"));
  const started = [];
  for (const spec of opts.providers) {
    started.push(
      await startHeadlessProvider(
        {
          signalingUrl: url,
          backend: backend.url,
          backendModel: "backend-model",
          model: spec.model,
          price: spec.price ?? flatPrice(5n),
          features: spec.features ?? [],
          ...(spec.contextWindow !== undefined && { contextWindow: spec.contextWindow }),
          minCloseDelay: 60,
          feeShareBps: 100,
          maxHoldHours: 168,
          payout: `0:${spec.payout.repeat(32)}`,
          network: "devnet",
          capacity: 2,
          keyFile: join(dir, `${spec.payout}.key`),
          receiptsFile: join(dir, `${spec.payout}-receipts.log`),
        },
        spec.onEvent,
      ),
    );
  }
  const client = await connect({
    signalingUrl: url,
    sessionKey: generateKeyPair(),
    maxPrice: { promptNanoPerToken: 5n, completionNanoPerToken: 5n },
    escrow: `0:${"11".repeat(32)}`,
    wrtc,
    ...opts.client,
  });
  const gateway = await startGateway({ client, ...opts.gateway });
  const runtimes = started.map((s) => s.runtime);
  return {
    backend,
    signalingUrl: url,
    client,
    gateway,
    receipts: started.map((s) => s.receipts),
    runtimes,
    async close() {
      await gateway.close();
      client.close();
      for (const r of runtimes) r.stop();
      await backend.close();
      await cleanup();
    },
  };
}

/** What a provider holds in signed receipts, summed over its streams. */
export async function heldTotal(receipts: ReceiptStore): Promise<bigint> {
  return (await receipts.list()).reduce((sum, r) => sum + latestReceipt(r).receipt.amount, 0n);
}

/** A weather tool's JSON schema, as programs declare one; the backend double calls it with a city and 42 days. */
export const WEATHER_PARAMETERS = {
  type: "object",
  properties: { city: { type: "string" }, days: { type: "integer" } },
  required: ["city", "days"],
};

/**
 * The network the program tests (raw HTTP, LangChain, openai and the Vercel AI SDK) talk to:
 * `llama-tools` (structured output, tools, logprobs) and `llama-plain`, each with an 8,192-token
 * context window, in front of the backend double with the same window (`backend` adds to it).
 */
export function startToolsAndPlainNetwork(
  opts: {
    backend?: Omit<NonNullable<Parameters<typeof startOpenAiBackend>[0]>, "contextTokens">;
    gateway?: Omit<GatewayOptions, "client">;
  } = {},
): Promise<GatewayNetwork> {
  return startGatewayNetwork({
    providers: [
      {
        model: "llama-tools",
        payout: "22",
        features: ["structured_output", "tools", "logprobs"],
        contextWindow: 8192,
      },
      { model: "llama-plain", payout: "33", contextWindow: 8192 },
    ],
    backend: { contextTokens: 8192, ...opts.backend },
    ...(opts.gateway && { gateway: opts.gateway }),
  });
}

/**
 * One request of each kind the gateway answers for `model`, through the `openai` client: chat and
 * Responses, each whole and streamed (read to its end).
 */
export async function oneOfEachRoute(openai: OpenAI, model: string): Promise<void> {
  const messages = [{ role: "user" as const, content: "one two three four" }];
  await openai.chat.completions.create({ model, messages });
  for await (const _ of await openai.chat.completions.create({ model, messages, stream: true }));
  await openai.responses.create({ model, input: "one two" });
  for await (const _ of await openai.responses.create({ model, input: "one two", stream: true }));
}
