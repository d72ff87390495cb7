import { Address } from "@ton/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { connect } from "../../client/sdk/silk-client";
import { tonRegistryReader } from "../../contracts/wrappers/registry-reader";
import {
  encodePublicKey,
  flatPrice,
  generateKeyPair,
  type ProviderStanding,
  type TrustPolicy,
} from "../../protocol";
import { ProviderRuntime } from "../../provider/runtime";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { type RegisteredProvider, registerOnDevnet } from "../support/devnet-registry";
import { type Mitm, type Stage, startMitm } from "../support/mitm-signaling";
import { dropPolicy, type PastDevnet, rewriteGrants, startPastDevnet } from "../support/registry-fixture";

/**
 * The Registry publishes an identity key only with its holder's signature for the entry's owner
 * (tests/contracts/registry-key-proof.test.ts), but one key may still have several entries: an old
 * wallet the provider left, an entry it once signed for someone else, each with a stake, age and
 * payout of its own (registered here with the key, as its holder once did). A lying signaling
 * server naming such another entry in its grants must neither
 * lend the honest provider the copy's stake and age, nor get it refused for the copy's payout: the
 * requester reads the entry the provider's own signed quote names, and a grant naming another is
 * the server's lie (`QUOTE_FORGED`), with the provider not blamed. Real devnet Registry, real
 * signaling behind a man in the middle, a real provider on the relay.
 */
const MODEL = "test-model";
const ESCROW = `0:${"11".repeat(32)}`;
const TON = 1_000_000_000n;
const PAYOUT = Address.parse(`0:${"ab".repeat(32)}`);
const identity = generateKeyPair();
const KEY = encodePublicKey(identity.publicKey);

// The chain starts two hours back so that the lender's copy is old; then it follows the real clock.
let chain: PastDevnet;
/** The provider's own entry: registered now, nothing staked. */
let own: RegisteredProvider;
/** Another owner's entry with the provider's key and payout: two hours old, 2 TON staked. */
let lender: RegisteredProvider;
/** Another owner's entry with the provider's key and its own payout. */
let thief: RegisteredProvider;

beforeAll(async () => {
  chain = await startPastDevnet(2);
  const { devnet, ton } = chain;
  const models = [MODEL];
  lender = await registerOnDevnet(devnet, ton, { models, identity, payout: PAYOUT, stake: 2n * TON });
  chain.now();
  own = await registerOnDevnet(devnet, ton, { models, identity, payout: PAYOUT });
  thief = await registerOnDevnet(devnet, ton, { models, identity });
}, 120_000);
afterAll(() => chain?.close());

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cleanup();
});

/** The server's grants (and moves) name `entry`'s owner while `forging()` says so; the quote is untouched. */
function naming(entry: () => string | undefined, forging: () => boolean = () => true): Stage[] {
  const named = (p: Record<string, unknown>) => {
    const { owner: _owner, ...rest } = p;
    const owner = entry();
    return owner ? { ...rest, owner } : rest;
  };
  return rewriteGrants((g) =>
    forging() ? { ...g, provider: named(g.provider as Record<string, unknown>) } : g,
  );
}

/** The honest provider, behind `stages`, registered with its own entry; the prompts it was asked. */
async function honest(...stages: Stage[]): Promise<{ mitm: Mitm; asked: string[] }> {
  // The proxy holds the server's key: what it rewrites is the server's own (signed) lie.
  const serverSecretKey = generateKeyPair().secretKey;
  const { url } = await startServer({ serverKey: serverSecretKey });
  const mitm = await startMitm(url, stages, { serverSecretKey });
  closers.push(() => mitm.close());
  const asked: string[] = [];
  const runtime = await ProviderRuntime.start({
    signalingUrl: `${mitm.url}?party=provider`,
    identity,
    engine: new ScriptedEngine({
      reply: (r) => {
        asked.push(String(r.messages.at(-1)?.content));
        return "fine";
      },
    }),
    models: [{ model: MODEL, price: flatPrice(10n) }],
    payout: PAYOUT.toString(),
    entry: own.entry,
    forceRelay: true,
  });
  closers.push(() => runtime.stop());
  return { mitm, asked };
}

async function ask(mitm: Mitm, policy: Partial<TrustPolicy>, seen: ProviderStanding[], content: string) {
  const client = await connect({
    signalingUrl: `${mitm.url}?party=requester`,
    sessionKey: generateKeyPair(),
    maxPrice: { promptNanoPerToken: 100n, completionNanoPerToken: 100n },
    escrow: ESCROW,
    forceRelay: true,
    trust: { registry: tonRegistryReader(chain.ton, chain.devnet.chain.registry), policy },
    onProvider: (p) => seen.push(p),
  });
  closers.push(() => client.close());
  return client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content }] });
}

const framesToProvider = (mitm: Mitm) =>
  mitm.log.filter(
    (m) => m.event === "session:frame" && m.direction === "to-party" && m.party.label === "provider",
  ).length;

/** The request ends `QUOTE_FORGED` naming the copy, and the provider got not a frame. */
async function forged(mitm: Mitm, asked: string[], answer: Promise<unknown>, copy: RegisteredProvider) {
  const err = await answer.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NoProviderError);
  expect((err as NoProviderError).code).toBe("QUOTE_FORGED");
  expect((err as Error).message).toContain(`Registry entry owned by ${copy.owner.toString()}`);
  expect(framesToProvider(mitm)).toBe(0);
  expect(asked).toEqual([]);
}

describe("a Registry entry copying the provider's identity key", () => {
  it("lends it neither stake nor age: a grant naming the copy is the server's lie", async () => {
    const { mitm, asked } = await honest(dropPolicy, ...naming(() => lender.owner.toString()));
    const seen: ProviderStanding[] = [];
    await forged(mitm, asked, ask(mitm, { minStake: TON, minAgeSeconds: 3600 }, seen, "q"), lender);
    expect(seen).toEqual([]);
  }, 60_000);

  it("gets it refused neither for the copy's payout nor for good: the next honest grant is served", async () => {
    let forging = true;
    const { mitm, asked } = await honest(
      ...naming(
        () => thief.owner.toString(),
        () => forging,
      ),
    );
    const seen: ProviderStanding[] = [];
    await forged(mitm, asked, ask(mitm, {}, seen, "first"), thief);
    forging = false;
    const answer = await ask(mitm, {}, seen, "second");
    expect(answer.choices[0]?.message.content).toBe("fine");
    expect(asked).toEqual(["second"]);
    expect(seen).toMatchObject([{ identityKey: KEY, owner: own.owner.toString(), stake: 0n }]);
  }, 60_000);

  it("a grant naming no entry: the one the provider's quote names is read, and serves", async () => {
    const { mitm, asked } = await honest(...naming(() => undefined));
    const seen: ProviderStanding[] = [];
    const answer = await ask(mitm, {}, seen, "unnamed");
    expect(answer.choices[0]?.message.content).toBe("fine");
    expect(asked).toEqual(["unnamed"]);
    expect(seen).toMatchObject([
      { identityKey: KEY, owner: own.owner.toString(), payout: PAYOUT.toString() },
    ]);
  }, 60_000);
});
