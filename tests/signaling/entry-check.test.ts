import type { Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  encodePublicKey,
  generateKeyPair,
  priceToWire,
  QUOTE_TTL_MS,
  signQuote,
  signRegistration,
} from "../../protocol";
import type { EntryClaim, EntryStanding } from "../../signaling/entry-check";
import { call, cleanup, connect, PAYOUT, requestBody, requestSession, startServer } from "./helpers";

/**
 * The server's filter on a requester's policy uses the stake and age the Registry shows, not what
 * a provider declares, when it can read the Registry (`entryCheck`, which `npm start` wires to the
 * network's Registry): a provider overstating its stake is not offered to a requester demanding
 * it, one whose entry publishes another key or payout is offered only without a policy, and a
 * Registry that cannot be read in time leaves the declared hints standing. The chain here is a
 * table the test controls; the real reader is checked on the devnet in provider-init.test.ts.
 */
const TON = 1_000_000_000n;
const OWNER = `0:${"cd".repeat(32)}`;
const chain = new Map<string, EntryStanding | undefined | "slow">();
const asked: EntryClaim[] = [];
let url: string;

beforeAll(async () => {
  ({ url } = await startServer({
    entryCheckTimeoutMs: 300,
    entryCheck: async (claim) => {
      asked.push(claim);
      const found = chain.get(claim.identityKey);
      if (found === "slow") return new Promise(() => undefined); // never answers
      return found;
    },
  }));
});
afterAll(cleanup);

let models = 0;

/** A provider declaring 5 TON of stake, registered 100 days ago; answers every offer. */
async function staked(onChain: EntryStanding | undefined | "slow"): Promise<{ key: string; model: string }> {
  const { ack, key, model } = await register(onChain, OWNER);
  expect(ack.ok).toBe(true);
  return { key, model };
}

/** `staked`'s registration, its quotes naming the entry of `quoteOwner`; the server's answer. */
async function register(onChain: EntryStanding | undefined | "slow", quoteOwner: string | undefined) {
  const identity = generateKeyPair();
  const key = encodePublicKey(identity.publicKey);
  const model = `m${++models}`;
  chain.set(key, onChain);
  const socket: Socket = await connect(url);
  socket.on("session:offer", (_o: unknown, ack: (r: unknown) => void) => ack({ ok: true }));
  const { challenge } = await call<{ challenge: string }>(socket, "provider:challenge", { v: 1 });
  const price = { nanoPerToken: 10n, promptMultiplierBps: 10_000, completionMultiplierBps: 10_000 };
  const expiresAt = Date.now() + QUOTE_TTL_MS;
  const body = {
    v: 1 as const,
    identityKey: key,
    challenge,
    payout: PAYOUT,
    models: [
      {
        model,
        price: priceToWire(price),
        quote: {
          expiresAt,
          ...(quoteOwner && { owner: quoteOwner }),
          signature: signQuote(identity.secretKey, {
            identityKey: key,
            payout: PAYOUT,
            model,
            price,
            expiresAt,
            owner: quoteOwner,
          }),
        },
      },
    ],
    capacity: 1,
    device: { adapter: "test", memoryMB: 1024 },
    entry: {
      owner: OWNER,
      stake: (5n * TON).toString(),
      registeredAt: Math.floor(Date.now() / 1000) - 100 * 86_400,
    },
  };
  const ack = await call<{ ok: boolean; error?: { code: string; message: string } }>(
    socket,
    "provider:register",
    { ...body, signature: signRegistration(identity.secretKey, challenge, body) },
  );
  return { ack, key, model };
}

/** A requester demanding `minStake` of that provider (its policy's public part). */
async function ask(model: string, minStake: bigint) {
  const socket = await connect(url);
  return requestSession(socket, {
    ...requestBody(model),
    policy: { minStake: minStake.toString(), minAgeSeconds: 0 },
  });
}

describe("the server filters on the Registry's word, not the provider's", () => {
  it("reads the entry the provider names, with its key and payout", async () => {
    const p = await staked({ stake: 5n * TON, registeredAt: 1 });
    expect(asked.at(-1)).toEqual({ owner: OWNER, identityKey: p.key, payout: PAYOUT });
    expect(await ask(p.model, 5n * TON)).toMatchObject({ ok: true, provider: { identityKey: p.key } });
  });

  it("does not offer a provider whose real stake is below the requester's minimum", async () => {
    const p = await staked({ stake: TON / 10n, registeredAt: 1 });
    expect((await ask(p.model, TON)).ok).toBe(false);
    // A requester asking less still gets it.
    expect(await ask(p.model, TON / 10n)).toMatchObject({ ok: true, provider: { identityKey: p.key } });
  });

  it("offers a provider with no matching entry only to requesters without a policy", async () => {
    const p = await staked(undefined);
    expect((await ask(p.model, 0n)).ok).toBe(false);
    const socket = await connect(url);
    expect(await requestSession(socket, requestBody(p.model))).toMatchObject({ ok: true });
  });

  it.each([
    ["another entry's owner", `0:${"ef".repeat(32)}`],
    ["no entry at all", undefined],
  ])(
    "refuses quotes naming %s beside the declared entry (every requester would blame the server)",
    async (_name, owner) => {
      const { ack } = await register({ stake: 5n * TON, registeredAt: 1 }, owner);
      expect(ack).toMatchObject({ ok: false, error: { code: "MALFORMED" } });
      expect(ack.error?.message).toContain(`names the Registry entry of ${owner ?? "nobody"}`);
    },
  );

  it("carries the quote's entry in the grant, beside the server's owner", async () => {
    const p = await staked({ stake: 5n * TON, registeredAt: 1 });
    expect(await ask(p.model, 0n)).toMatchObject({
      ok: true,
      provider: { owner: OWNER, quote: { owner: OWNER } },
    });
  });

  it("lets the declared entry stand when the Registry does not answer in time", async () => {
    const started = Date.now();
    const p = await staked("slow");
    expect(Date.now() - started).toBeGreaterThanOrEqual(290); // waited its deadline, then went on
    expect(await ask(p.model, 5n * TON)).toMatchObject({ ok: true, provider: { identityKey: p.key } });
  });
});
