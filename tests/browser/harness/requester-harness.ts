// Test-only page: the requester SDK in a browser tab, as an app would use it.
import "../../../peer/browser-globals";
import { Address } from "@ton/core";
import { connect } from "../../../client/sdk/silk-client";
import { connectPeer } from "../../../peer/connect-peer";
import { SignalingClient } from "../../../peer/signaling-client";
import {
  decodePublicKey,
  encodeSignedReceipt,
  generateKeyPair,
  initiateSession,
  NETWORK_ID,
  type SessionMessage,
  signReceipt,
} from "../../../protocol";

const client = await connect({
  signalingUrl: location.origin,
  sessionKey: generateKeyPair(),
  maxPrice: { promptNanoPerToken: 100n, completionNanoPerToken: 100n },
  escrow: `0:${"11".repeat(32)}`,
});

async function ask(content: string, opts: { cancelAfter?: number } = {}) {
  const abort = new AbortController();
  const stream = await client.chat.completions.create({
    model: "test-model",
    messages: [{ role: "user", content }],
    stream: true,
    stream_options: { include_usage: true },
    signal: abort.signal,
  });
  let text = "";
  let pieces = 0;
  let finish: string | null = null;
  let usage: unknown;
  for await (const chunk of stream) {
    const piece = chunk.choices[0]?.delta.content;
    if (piece) {
      text += piece;
      if (++pieces === opts.cancelAfter) abort.abort();
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  return { text, finish, usage };
}

/** Asks and reports how an error ended it, for the tests of a misbehaving provider. */
async function askForError(content: string) {
  try {
    await ask(content);
    return { code: "none" };
  } catch (err) {
    return { code: (err as { code?: string }).code ?? "unknown", name: (err as Error).name };
  }
}

/**
 * A requester that never pays: the real session, one base receipt, a request, then no receipts.
 * Returns what it got once the provider says it waits for credit.
 */
async function freeload(content: string) {
  const signaling = await SignalingClient.connect(location.origin);
  const sessionKey = generateKeyPair();
  let channel: ReturnType<typeof connectPeer> | undefined;
  const grant = await signaling.requestSession(
    {
      model: "test-model",
      maxPrice: { promptNanoPerToken: 100n, completionNanoPerToken: 100n },
      sessionKey: sessionKey.publicKey,
    },
    (g) => {
      channel = connectPeer({ signaling, sessionId: g.sessionId, role: "requester", iceServers: [] });
    },
  );
  if (!channel) throw new Error("granted without a channel");
  const peer = await channel;
  const session = await initiateSession(peer.transport, {
    sessionId: grant.sessionId,
    requesterFingerprint: peer.requesterFingerprint,
    providerFingerprint: peer.providerFingerprint,
    providerIdentity: decodePublicKey(grant.provider.identityKey),
    sessionKey,
  });
  const seen: SessionMessage["t"][] = [];
  let tokens = 0;
  const waited = new Promise<void>((resolve) =>
    session.onMessage((m) => {
      seen.push(m.t);
      if (m.t === "tokens") tokens += m.count;
      if (m.t === "credit-wait") resolve();
    }),
  );
  const base = signReceipt(
    {
      network: NETWORK_ID.devnet,
      escrow: Address.parse(`0:${"11".repeat(32)}`),
      payout: Address.parse(grant.provider.payout),
      keyEpoch: 0,
      tokens: 0n,
      amount: 0n,
    },
    sessionKey,
  );
  await session.send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(base) });
  await session.send({
    v: 1,
    t: "request",
    id: "free",
    model: "test-model",
    messages: [{ role: "user", content }],
  });
  await waited;
  await new Promise((r) => setTimeout(r, 300)); // room for anything that should not come
  session.close();
  signaling.close();
  return { tokens, done: seen.includes("done"), creditWait: seen.includes("credit-wait") };
}

(window as unknown as { silkAsk: unknown }).silkAsk = ask;
(window as unknown as { silkAskForError: unknown }).silkAskForError = askForError;
(window as unknown as { silkFreeload: unknown }).silkFreeload = freeload;
document.body.dataset.ready = "true";
