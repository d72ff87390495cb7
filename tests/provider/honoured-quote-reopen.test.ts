import { Address } from "@ton/core";
import { describe, expect, it, vi } from "vitest";
import {
  acceptSession,
  encodePublicKey,
  encodeSignedReceipt,
  flatPrice,
  generateKeyPair,
  initiateSession,
  memoryPipe,
  NETWORK_ID,
  priceToWire,
  type SessionMessage,
  signQuote,
  signReceipt,
} from "../../protocol";
import { MemoryReceiptStore } from "../../provider/receipt-store";
import { heldIn } from "../../provider/serving/held-receipts";
import { SessionServer } from "../../provider/serving/session-server";
import { Slots } from "../../provider/serving/slots";
import { ScriptedEngine } from "../doubles/scripted-engine";

/**
 * A provider honours its own earlier, lower quote only at the base receipt that shows it. A base
 * it did not take (an older receipt than it holds: the account is not opened, the session goes
 * on) left that model's lower price behind, so the next base, showing no quote, was priced at it,
 * and the provider signed a new quote at that price with a fresh expiry: an old price lived on
 * past the quote's own expiry, as long as the requester kept asking.
 */
const ESCROW = Address.parse(`0:${"11".repeat(32)}`);
const PAYOUT_TEXT = `0:${"22".repeat(32)}`;
const STREAM = {
  network: NETWORK_ID.devnet,
  escrow: ESCROW,
  payout: Address.parse(PAYOUT_TEXT),
  keyEpoch: 0,
};
const NOW_PRICE = flatPrice(50n);
const OLD_PRICE = flatPrice(10n);

describe("a base receipt not taken, showing an earlier lower quote, then one showing none", () => {
  it("the second is priced at the provider's price now, its quote signed at that price", async () => {
    const identity = generateKeyPair();
    const sessionKey = generateKeyPair();
    const held = heldIn(new MemoryReceiptStore());
    // The provider holds a newer receipt of this stream than the requester's first base.
    await held.keep(signReceipt({ ...STREAM, tokens: 100n, amount: 1000n }, sessionKey));
    const [a, b] = memoryPipe();
    const p = { sessionId: "t", requesterFingerprint: "x", providerFingerprint: "y" };
    const [requester, provider] = await Promise.all([
      initiateSession(a, { ...p, providerIdentity: identity.publicKey, sessionKey }),
      acceptSession(b, { ...p, identity }),
    ]);
    new SessionServer(provider, {
      engine: new ScriptedEngine(),
      models: [{ model: "test-model", price: NOW_PRICE }],
      network: NETWORK_ID.devnet,
      payout: STREAM.payout,
      receipts: held,
      slots: new Slots(2, 4),
      creditWindowTokens: 8,
      identity,
      quoteTerms: { payout: PAYOUT_TEXT },
    });
    const accounts: (SessionMessage & { t: "account" })[] = [];
    requester.onMessage((m) => {
      if (m.t === "account") accounts.push(m);
    });
    const expiresAt = Date.now() + 60_000;
    const terms = { model: "test-model", price: OLD_PRICE, payout: PAYOUT_TEXT, expiresAt };
    const signature = signQuote(identity.secretKey, {
      ...terms,
      identityKey: encodePublicKey(identity.publicKey),
    });
    const quote = { ...terms, price: priceToWire(OLD_PRICE), signature };
    const older = signReceipt({ ...STREAM, tokens: 10n, amount: 100n }, sessionKey);
    await requester.send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(older), quote });
    await vi.waitFor(() => expect(accounts).toHaveLength(1));
    // Not taken (the provider holds a newer one), but priced at the quote it showed.
    expect(accounts[0]).toMatchObject({ accepted: false, prices: [{ price: OLD_PRICE }] });
    const newest = signReceipt({ ...STREAM, tokens: 100n, amount: 1000n }, sessionKey);
    await requester.send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(newest) });
    await vi.waitFor(() => expect(accounts).toHaveLength(2));
    expect(accounts[1]).toMatchObject({ accepted: true, prices: [{ price: NOW_PRICE }] });
  });
});
