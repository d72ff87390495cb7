import { afterEach, describe, expect, it } from "vitest";
import { flatPrice } from "../../protocol";
import { cleanup, startServer } from "../signaling/helpers";
import { stopAll, wrtcClient, wrtcProvider } from "../support/silk-parties";

/**
 * A request sent on a session whose provider has just gone (its data channel closing, the close
 * not yet told to the requester): libwebrtc's send throws a bare InvalidStateError, which reached
 * the caller as is (a DOMException, code 11, no Silk code) while another provider could have
 * answered. Now the link ends as a closed channel: the session is lost, the request moves on, or
 * ends typed. Real WebRTC, real signaling.
 */
afterEach(async () => {
  stopAll();
  await cleanup();
});

const provider = async (url: string, payout: string, price: bigint) =>
  (await wrtcProvider(url, { payout, models: [{ model: "test-model", price: flatPrice(price) }] })).runtime;

async function requester(url: string) {
  const client = await wrtcClient(url);
  return (content: string) =>
    client.chat.completions.create({ model: "test-model", messages: [{ role: "user", content }] });
}

describe("a request sent on a session whose provider has just stopped", () => {
  it("alone: ends typed (the session lost), not with the data channel's bare InvalidStateError", async () => {
    const { url } = await startServer();
    const gone = await provider(url, `0:${"33".repeat(32)}`, 10n);
    const ask = await requester(url);
    expect((await ask("first")).choices[0]?.message.content).toBe("Echo: first");
    gone.stop();
    const err = await ask("second").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "PROVIDER_LOST" });
  }, 30_000);

  it("with another provider on offer: the request goes there and is answered", async () => {
    const { url } = await startServer();
    // The cheaper one, asked first.
    const gone = await provider(url, `0:${"33".repeat(32)}`, 5n);
    const ask = await requester(url);
    expect((await ask("first")).choices[0]?.message.content).toBe("Echo: first");
    await provider(url, `0:${"22".repeat(32)}`, 10n);
    gone.stop();
    expect((await ask("second")).choices[0]?.message.content).toBe("Echo: second");
  }, 30_000);
});
