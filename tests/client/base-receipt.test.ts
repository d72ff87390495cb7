import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { sendBase } from "../../client/sdk/base-receipt";
import { ProviderError } from "../../client/sdk/errors";
import { DEFAULT_DEADLINES } from "../../peer/session-machine";
import {
  ChannelClosedError,
  flatPrice,
  NETWORK_ID,
  offerToWire,
  type SecureSession,
  signReceipt,
  TimeoutError,
} from "../../protocol";
import { securePair } from "../support/piped-session";

/**
 * The base receipt's wait for the provider's `account` (client/sdk/base-receipt.ts) takes its
 * listeners off the session however it ends: an account, a refusal, the deadline, the session
 * closing, or an account already waiting when the wait began. A long-lived session that opens its
 * account again and again keeps none of them.
 */
const life = (account = 5_000) => ({ deadlines: { ...DEFAULT_DEADLINES, account } });

async function pair() {
  const { sessionKey, requesterSide: requester, providerSide: provider } = await securePair("base");
  const signed = signReceipt(
    {
      network: NETWORK_ID.devnet,
      escrow: new Address(0, Buffer.alloc(32, 1)),
      payout: new Address(0, Buffer.alloc(32, 2)),
      keyEpoch: 0,
      tokens: 0n,
      amount: 0n,
    },
    sessionKey,
  );
  return { requester, provider, signed };
}

const account = (provider: SecureSession) =>
  provider.send({
    v: 1,
    t: "account",
    accepted: true,
    prices: [offerToWire({ model: "m", price: flatPrice(1n) })],
  });

describe("base receipt", () => {
  it("twenty base receipts on one session, each answered, leave no listener on it", async () => {
    const { requester, provider, signed } = await pair();
    provider.onMessage((m) => {
      if (m.t === "receipt") void account(provider);
    });
    for (let i = 0; i < 20; i++) {
      expect(await sendBase(requester, signed, life())).toMatchObject({ t: "account", accepted: true });
      expect(requester.listeners).toEqual({ message: 0, refused: 0, close: 0 });
    }
    // The session closing later rejects nothing and calls nobody left behind.
    requester.close();
    expect(requester.listeners).toEqual({ message: 0, refused: 0, close: 0 });
  });

  it("an account already waiting when the wait begins is taken at once, and nothing stays attached", async () => {
    const { requester, provider, signed } = await pair();
    await account(provider);
    // Let it arrive and wait unread in the inbox (nobody listens yet).
    await new Promise((r) => setTimeout(r, 50));
    expect(await sendBase(requester, signed, life())).toMatchObject({ t: "account" });
    expect(requester.listeners).toEqual({ message: 0, refused: 0, close: 0 });
  });

  it("a refusal, the deadline and a close each end the wait with their error and leave nothing", async () => {
    const refusing = await pair();
    refusing.provider.onMessage((m) => {
      if (m.t === "receipt")
        void refusing.provider.send({ v: 1, t: "error", error: { code: "ACCOUNT", message: "no" } });
    });
    await expect(sendBase(refusing.requester, refusing.signed, life())).rejects.toBeInstanceOf(ProviderError);
    expect(refusing.requester.listeners).toEqual({ message: 0, refused: 0, close: 0 });

    const silent = await pair();
    await expect(sendBase(silent.requester, silent.signed, life(200))).rejects.toBeInstanceOf(TimeoutError);
    expect(silent.requester.listeners).toEqual({ message: 0, refused: 0, close: 0 });

    const closing = await pair();
    closing.provider.onMessage((m) => {
      if (m.t === "receipt") closing.provider.close();
    });
    await expect(sendBase(closing.requester, closing.signed, life())).rejects.toBeInstanceOf(
      ChannelClosedError,
    );
    expect(closing.requester.listeners).toEqual({ message: 0, refused: 0, close: 0 });
  });
});
