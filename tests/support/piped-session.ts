import { Address } from "@ton/core";
import type { QuoteShown } from "../../client/sdk/base-receipt";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import { RequesterSession } from "../../client/sdk/requester-session";
import {
  acceptSession,
  generateKeyPair,
  initiateSession,
  type KeyPair,
  memoryPipe,
  NETWORK_ID,
  type SecureSession,
} from "../../protocol";
import { ESCROW, MAX_PRICE, PAYOUT } from "./silk-parties";

/**
 * A requester's session with a scripted provider over an in-memory pipe (a real handshake, no
 * network): `script` answers the provider's side as a test needs, a liar or a hostile peer. The
 * provider side must answer the base receipt with an `account` for `open` to resolve. A message
 * the script sends that breaks the schema fails what waited on it at once (UnreadableMessageError,
 * the schema's error as its `cause`), as it would from a real provider, not at a deadline.
 */
export async function pipedSession(
  script: (provider: SecureSession) => void,
  account = new MemoryPaymentAccount(),
  /** The grant's quote the opener shows (absent: a session opened by hand) and the provider's key. */
  granted?: { quote: QuoteShown; identity: KeyPair },
): Promise<{ requester: RequesterSession; identity: KeyPair }> {
  const { identity, sessionKey, requesterSide, providerSide } = await securePair("piped", granted?.identity);
  script(providerSide);
  const requester = await RequesterSession.open(requesterSide, {
    sessionKey,
    keyEpoch: 0,
    network: NETWORK_ID.devnet,
    escrow: Address.parse(ESCROW),
    payout: Address.parse(PAYOUT),
    maxPrice: MAX_PRICE,
    account,
    ...(granted && { quote: granted.quote }),
  });
  return { requester, identity };
}

/** Both ends of a secure session over an in-memory pipe, after a real handshake. */
export async function securePair(sessionId = "piped", identity = generateKeyPair()) {
  const sessionKey = generateKeyPair();
  const [a, b] = memoryPipe();
  const p = { sessionId, requesterFingerprint: "x", providerFingerprint: "y" };
  const [requesterSide, providerSide] = await Promise.all([
    initiateSession(a, { ...p, providerIdentity: identity.publicKey, sessionKey }),
    acceptSession(b, { ...p, identity }),
  ]);
  return { identity, sessionKey, requesterSide, providerSide };
}
