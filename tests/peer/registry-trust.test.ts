import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { connect, type SilkClient } from "../../client/sdk/silk-client";
import { tonRegistryReader } from "../../contracts/wrappers/registry-reader";
import {
  encodePublicKey,
  flatPrice,
  generateKeyPair,
  type KeyPair,
  PolicyRefusedError,
  type ProviderStanding,
  RegistryMismatchError,
  signQuote,
  type TrustPolicy,
  UnregisteredProviderError,
  UntrustedProviderError,
} from "../../protocol";
import { ProviderRuntime, type RuntimeEvent } from "../../provider/runtime";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { type RegisteredProvider, registerOnDevnet } from "../support/devnet-registry";
import { type Mitm, type MitmMessage, type Stage, startMitm } from "../support/mitm-signaling";
import { dropPolicy, type PastDevnet, rewriteGrants, startPastDevnet } from "../support/registry-fixture";

/**
 * Issue 13: the real signaling server behind a man in the middle that lies about providers, the
 * real devnet's Registry, real providers on the relay (so every ciphertext frame passes the proxy
 * and can be counted). A provider the requester refuses must never see a single frame, let alone
 * a prompt.
 */
const MODEL = "test-model";
const ESCROW = `0:${"11".repeat(32)}`;
const TON = 1_000_000_000n;

// The chain starts two hours back so that one provider is old; then it follows the real clock.
let chain: PastDevnet;
/** Registered two hours ago with 2 TON staked. */
let veteran: RegisteredProvider;
/** Registered now with 2 TON staked. */
let staked: RegisteredProvider;
/** Registered now, no stake. */
let unstaked: RegisteredProvider;

beforeAll(async () => {
  chain = await startPastDevnet(2);
  const { devnet, ton } = chain;
  veteran = await registerOnDevnet(devnet, ton, { models: [MODEL], stake: 2n * TON });
  chain.now();
  staked = await registerOnDevnet(devnet, ton, { models: [MODEL], stake: 2n * TON });
  unstaked = await registerOnDevnet(devnet, ton, { models: [MODEL] });
}, 120_000);
afterAll(() => chain?.close());

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cleanup();
});

interface Served {
  readonly who: RegisteredProvider;
  /** Prompts its engine was asked. */
  readonly asked: string[];
  readonly events: RuntimeEvent[];
}

async function serve(mitm: Mitm, who: RegisteredProvider, price = 10n): Promise<Served> {
  const asked: string[] = [];
  const events: RuntimeEvent[] = [];
  const runtime = await ProviderRuntime.start({
    signalingUrl: `${mitm.url}?party=${encodePublicKey(who.identity.publicKey).slice(0, 8)}`,
    identity: who.identity,
    engine: new ScriptedEngine({
      reply: (r) => {
        asked.push(String(r.messages.at(-1)?.content));
        return "fine";
      },
    }),
    models: [{ model: MODEL, price: flatPrice(price) }],
    payout: who.owner.toString(),
    entry: who.entry,
    forceRelay: true,
    onEvent: (e) => events.push(e),
  });
  closers.push(() => runtime.stop());
  return { who, asked, events };
}

async function requester(mitm: Mitm, policy: Partial<TrustPolicy> = {}, seen: ProviderStanding[] = []) {
  const client: SilkClient = await connect({
    signalingUrl: `${mitm.url}?party=requester`,
    sessionKey: generateKeyPair(),
    maxPrice: { promptNanoPerToken: 100n, completionNanoPerToken: 100n },
    escrow: ESCROW,
    forceRelay: true,
    trust: { registry: tonRegistryReader(chain.ton, chain.devnet.chain.registry), policy },
    onProvider: (p) => seen.push(p),
  });
  closers.push(() => client.close());
  return client;
}

async function proxy(...stages: Stage[]): Promise<Mitm> {
  // The proxy holds the server's key: what it rewrites is the server's own (signed) lie.
  const serverSecretKey = generateKeyPair().secretKey;
  const { url } = await startServer({ serverKey: serverSecretKey });
  const mitm = await startMitm(url, stages, { serverSecretKey });
  closers.push(() => mitm.close());
  return mitm;
}

const ask = (client: SilkClient, content = "a secret question") =>
  client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content }] });

/** Relayed ciphertext that reached `who`'s connection: zero means not even a handshake. */
/** Frames (and, with `signals`, signals: not even the switch to the relay) that reached `who`. */
const framesTo = (mitm: Mitm, who: RegisteredProvider, signals = false) =>
  mitm.log.filter(
    (m) =>
      (m.event === "session:frame" || (signals && m.event === "session:signal")) &&
      m.direction === "to-party" &&
      m.party.label === encodePublicKey(who.identity.publicKey).slice(0, 8),
  ).length;

/** Rewrites the provider of every grant (the `session:request` ack) and every `session:moved`. */
/**
 * The grant's provider changed, its quote re-signed by `signer` over the changed terms (the key
 * the forger holds: the Registry, not the quote, is what these cases test).
 */
function resigned(p: Record<string, unknown>, signer: KeyPair): Record<string, unknown> {
  const price = p.price as Record<string, string | number>;
  const quote = p.quote as { expiresAt: number; owner?: string };
  const signature = signQuote(signer.secretKey, {
    owner: quote.owner,
    identityKey: p.identityKey as string,
    payout: p.payout as string,
    model: MODEL,
    price: {
      nanoPerToken: BigInt(price.nanoPerToken as string),
      promptMultiplierBps: Number(price.promptMultiplierBps),
      completionMultiplierBps: Number(price.completionMultiplierBps),
    },
    expiresAt: quote.expiresAt,
  });
  return { ...p, quote: { ...quote, signature } };
}

function forgeGrants(
  change: (provider: Record<string, unknown>) => Record<string, unknown>,
  signer: () => KeyPair,
): Stage[] {
  return rewriteGrants((g) => ({
    ...g,
    provider: resigned(change(g.provider as Record<string, unknown>), signer()),
  }));
}

async function refusal(p: Promise<unknown>): Promise<UntrustedProviderError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UntrustedProviderError);
  return err as UntrustedProviderError;
}

/** The request is refused with a typed error, and `served` never got a frame nor a prompt. */
async function refusedUnseen(
  mitm: Mitm,
  served: Served,
  client: Promise<SilkClient>,
  /** Whether `served` was never even signalled (false when an honest grant of it came first). */
  unsignalled = true,
): Promise<UntrustedProviderError> {
  const err = await refusal(ask(await client));
  expect(framesTo(mitm, served.who, unsignalled)).toBe(0);
  expect(served.asked).toEqual([]);
  return err;
}

describe("a lying signaling server is refused before any prompt leaves", () => {
  it("a provider the server invents (in no Registry) never gets a frame", async () => {
    // A fresh key for every forged grant (the requester excludes each one it refuses).
    let invented = generateKeyPair();
    const mitm = await proxy(
      ...forgeGrants(
        (p) => {
          // No entry named, in the grant nor in the quote the forger signs.
          const { owner: _owner, quote, ...rest } = p;
          const { owner: _signed, ...unowned } = quote as Record<string, unknown>;
          invented = generateKeyPair();
          return { ...rest, quote: unowned, identityKey: encodePublicKey(invented.publicKey) };
        },
        () => invented,
      ),
    );
    const err = await refusedUnseen(mitm, await serve(mitm, staked), requester(mitm));
    expect(err).toBeInstanceOf(UnregisteredProviderError);
    expect(err.code).toBe("UNREGISTERED_PROVIDER");
  }, 60_000);

  it("an invented identity key behind a real entry's owner is a mismatch", async () => {
    // A fresh key for every forged grant (the requester excludes each one it refuses).
    let invented = generateKeyPair();
    const mitm = await proxy(
      ...forgeGrants(
        (p) => {
          invented = generateKeyPair();
          return { ...p, identityKey: encodePublicKey(invented.publicKey) };
        },
        () => invented,
      ),
    );
    const err = await refusedUnseen(mitm, await serve(mitm, staked), requester(mitm));
    expect(err).toBeInstanceOf(RegistryMismatchError);
    expect((err as RegistryMismatchError).field).toBe("identity key");
  }, 60_000);

  it("a payout other than the Registry entry's, even under the provider's own signed quote, is refused", async () => {
    const thief = unstaked.owner.toString();
    const mitm = await proxy(
      ...forgeGrants(
        (p) => ({ ...p, payout: thief }),
        () => staked.identity,
      ),
    );
    const err = await refusedUnseen(mitm, await serve(mitm, staked), requester(mitm), false);
    expect(err).toBeInstanceOf(RegistryMismatchError);
    expect((err as RegistryMismatchError).field).toBe("payout");
  }, 60_000);

  it("a session:moved to a swapped payout is checked the same way", async () => {
    const thief = unstaked.owner.toString();
    // The honest grant passes; right behind it the proxy forges a move of that session.
    const forgeMove: Stage = (m: MitmMessage) => {
      if (m.event !== "session:request" || m.kind !== "ack" || m.direction !== "to-party") return undefined;
      const g = m.args[0] as { ok: boolean; sessionId: string; provider: Record<string, unknown> };
      if (!g.ok) return undefined;
      const moved: MitmMessage = {
        party: m.party,
        direction: "to-party",
        kind: "event",
        event: "session:moved",
        args: [
          {
            v: 1,
            sessionId: g.sessionId,
            to: {
              ...g,
              sessionId: `${g.sessionId}x`,
              provider: resigned({ ...g.provider, payout: thief }, staked.identity),
            },
          },
        ],
      };
      return [m, moved];
    };
    const mitm = await proxy(forgeMove);
    const err = await refusedUnseen(mitm, await serve(mitm, staked), requester(mitm), false);
    expect(err).toBeInstanceOf(RegistryMismatchError);
    expect((err as RegistryMismatchError).field).toBe("payout");
  }, 60_000);
});

describe("a server steering to registered providers outside the requester's policy", () => {
  it.each([
    ["below the minimum stake", () => unstaked, { minStake: TON }, "STAKE"],
    ["younger than the minimum age", () => staked, { minAgeSeconds: 3600 }, "AGE"],
    [
      "not on the allow-list",
      () => staked,
      { allow: [encodePublicKey(generateKeyPair().publicKey)] },
      "NOT_ALLOWED",
    ],
    ["blocked", () => staked, () => ({ block: [encodePublicKey(staked.identity.publicKey)] }), "BLOCKED"],
  ] as const)(
    "%s: refused, no frame reaches it",
    async (_name, who, policy, reason) => {
      const mitm = await proxy(dropPolicy);
      const terms = typeof policy === "function" ? policy() : policy;
      const err = await refusedUnseen(mitm, await serve(mitm, who()), requester(mitm, terms));
      expect(err).toBeInstanceOf(PolicyRefusedError);
      expect((err as PolicyRefusedError).reason).toBe(reason);
    },
    60_000,
  );

  it("an honest server told the policy offers only fitting providers", async () => {
    const mitm = await proxy();
    const cheapOutsider = await serve(mitm, unstaked, 1n);
    await serve(mitm, veteran);
    const seen: ProviderStanding[] = [];
    const answer = await ask(await requester(mitm, { minStake: TON }, seen));
    expect(answer.choices[0]?.message.content).toBe("fine");
    expect(seen.map((s) => s.identityKey)).toEqual([encodePublicKey(veteran.identity.publicKey)]);
    expect(seen[0]?.stake).toBe(2n * TON);
    expect(framesTo(mitm, unstaked)).toBe(0);
    expect(cheapOutsider.asked).toEqual([]);
    // Nobody fits: the server says so instead of offering an outsider.
    const none = await ask(await requester(mitm, { minStake: 100n * TON })).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(NoProviderError);
  }, 60_000);
});

describe("a pinned private group", () => {
  it("keeps working when the server is hostile to it only by refusing service", async () => {
    let refuseNext = true;
    const refuseOnce: Stage = (m) => {
      if (m.event !== "session:request" || m.direction !== "to-server" || !refuseNext) return undefined;
      refuseNext = false;
      m.ack?.({ ok: false, error: { code: "ALL_BUSY", message: "busy (says the hostile server)" } });
      return null;
    };
    // The server ignores the allow-list and prefers a cheaper outsider; it also refuses once.
    const mitm = await proxy(refuseOnce, dropPolicy);
    const outsider = await serve(mitm, staked, 1n);
    const member = await serve(mitm, veteran, 50n);
    const seen: ProviderStanding[] = [];
    const client = await requester(mitm, { allow: [encodePublicKey(veteran.identity.publicKey)] }, seen);

    const denied = await ask(client).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(NoProviderError);
    expect((denied as NoProviderError).code).toBe("ALL_BUSY");

    const answer = await ask(client, "for the group only");
    expect(answer.choices[0]?.message.content).toBe("fine");
    expect(member.asked).toEqual(["for the group only"]);
    expect(outsider.asked).toEqual([]);
    expect(framesTo(mitm, staked)).toBe(0);
    expect(seen.map((s) => s.identityKey)).toEqual([encodePublicKey(veteran.identity.publicKey)]);
  }, 60_000);
});
