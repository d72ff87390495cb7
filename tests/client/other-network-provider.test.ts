import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { flatPrice, NETWORK_ID } from "../../protocol";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * The server's grant says nothing of the network a provider takes receipts on (the quote signs
 * the payout, not the network), so a server may pair a requester with a provider of another
 * network (one serving testnet on a devnet server, by mistake or by the server's choosing). That
 * provider refuses every receipt (RECEIPT_BINDING, "network"): it can never serve this requester,
 * nobody lied about the payout, and another provider of the requester's network can answer.
 */
afterEach(async () => {
  stopAll();
  await cleanup();
});

describe("a provider that takes receipts on another network", () => {
  it("is left for a provider of the requester's network, which answers", async () => {
    // It ended the request: RECEIPT_BINDING blaming the server for the payout address it named.
    const { url } = await startServer();
    const other = await relayProvider(url, {
      network: NETWORK_ID.testnet,
      models: [{ model: "test-model", price: flatPrice(5n) }],
      payout: `0:${"33".repeat(32)}`,
    });
    await relayProvider(url);
    const answer = await ask(await relayClient(url), "which network?");
    expect(answer.choices[0]?.message.content).toBe("Echo: which network?");
    expect(other.engine.generatedTokens).toBe(0);
  }, 30_000);

  it("alone: the request ends RECEIPT_BINDING naming the network, not the server's payout address", async () => {
    const { url } = await startServer();
    const other = await relayProvider(url, { network: NETWORK_ID.testnet });
    const err = await ask(await relayClient(url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("RECEIPT_BINDING");
    expect((err as Error).message).toContain(other.key);
    expect((err as Error).message).toContain("network");
    expect((err as Error).message).not.toContain("payout address the signaling server");
  }, 30_000);
});
