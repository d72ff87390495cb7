import { type Gateway, startGateway } from "../../client/gateway/gateway-server";
import { relayClient } from "./silk-parties";

/** What a chat completion's POST to the gateway came back with: its status and OpenAI body. */
export interface GatewayChat {
  status: number;
  body: { error?: { code: string; message: string }; choices?: { message: { content: string } }[] };
}

/**
 * POSTs "hello" as a chat completion for `model` to a gateway on a relay client over `signaling`
 * (one URL or several, comma-separated); the gateway goes in `gateways` for the test to close.
 */
export async function chatViaGateway(
  signaling: string,
  gateways: Gateway[],
  model = "test-model",
): Promise<GatewayChat> {
  const client = await relayClient(signaling);
  const gateway = await startGateway({ client });
  gateways.push(gateway);
  const res = await fetch(`${gateway.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello" }] }),
  });
  return { status: res.status, body: (await res.json()) as GatewayChat["body"] };
}
