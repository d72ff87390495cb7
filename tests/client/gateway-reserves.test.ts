import wrtc from "@roamhq/wrtc";
import { toNano } from "@ton/core";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { connectGateway } from "../../client/gateway/gateway-client";
import { startGateway } from "../../client/gateway/gateway-server";
import { parseGatewayOptions } from "../../client/gateway/options";
import { tonReserveChain } from "../../client/sdk/reserve-keeper";
import { connect } from "../../client/sdk/silk-client";
import { generateKeyPair, NETWORK_ID } from "../../protocol";
import { ProviderRuntime } from "../../provider/runtime";
import { ScriptedEngine } from "../doubles/scripted-engine";
import {
  DEVNET_PRICE,
  owedTo,
  type ProviderSide,
  type Requester,
  until,
  useDevnetChain,
  words,
} from "../provider/devnet-sessions";
import { cleanup, startServer } from "../signaling/helpers";

/**
 * A gateway that was only `init`ed (the escrow, the key's epoch and the chain stored) and started
 * with a price, nothing about reserves, in front of a provider requiring reserves (its default)
 * on the devnet, called with the official openai client. Asked for far more than the provider
 * trusts beyond a reserve, the answers arrive whole: the gateway raised reserves on chain by
 * itself, and the provider's claims are paid all it holds.
 */
const chain = useDevnetChain();
/** What the provider serves beyond a stream's reserve: 20 tokens at DEVNET_PRICE. */
const TRUST = toNano("0.02");
/** Each answer: 150 tokens, 0.15 TON, seven times what is trusted. */
const ANSWER_WORDS = 150;

const stops: (() => unknown)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await cleanup();
});

/** A requester with `deposit` (1 TON) in its escrow, and a provider requiring reserves serving it over signaling. */
async function servedOnDevnet(closeDelay = 3_600, deposit = toNano("1")) {
  const r = await chain.requester({ deposit, closeDelay });
  const p = chain.provider(
    new ScriptedEngine({ reply: () => words(ANSWER_WORDS) }),
    { retryBaseMs: 50 },
    { unreservedNano: TRUST },
  );
  const { url } = await startServer();
  const runtime = await ProviderRuntime.start({
    signalingUrl: url,
    identity: generateKeyPair(),
    engine: p.engine,
    models: [{ model: "test-model", price: DEVNET_PRICE }],
    payout: p.payout.toString(),
    receipts: p.store,
    settlement: p.ton.settlement,
    gate: p.ton.gate,
    book: p.ton.book,
    wrtc,
  });
  stops.push(() => runtime.stop());
  return { r, p, url };
}

/** The gateway as `npm run gateway -- --max-price 1000000 [flags]` starts it after `init` stored the chain. */
async function gatewayOnDevnet(r: Requester, url: string, flags: string[] = []): Promise<OpenAI> {
  const config = parseGatewayOptions(
    ["--max-price", String(DEVNET_PRICE.nanoPerToken), ...flags],
    {},
    {
      escrow: r.escrow.address.toString(),
      keyEpoch: 1,
      network: "devnet",
      signalingUrl: url,
      tonEndpoint: chain.devnet.endpoint,
    },
  );
  // The chain as main.ts hands it over (the Registry check is left out: this provider is not
  // registered, and the Registry has its own tests).
  const { client } = await connectGateway(config, r.sessionKey, {
    wrtc,
    reserveChain: tonReserveChain(chain.client),
  });
  stops.push(() => client.close());
  const gateway = await startGateway({ client });
  stops.push(() => gateway.close());
  return new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 0 });
}

const ask = (content: string) => ({ model: "test-model", messages: [{ role: "user" as const, content }] });
const costOf = (done: OpenAI.ChatCompletion) =>
  BigInt((done.usage as unknown as { silk: { cost_nanoton: string } }).silk.cost_nanoton);

/** Each answer arrived whole (without a reserve the provider stops at what it trusts); what they cost. */
async function askedPastTrust(create: (q: ReturnType<typeof ask>) => Promise<OpenAI.ChatCompletion>) {
  let spent = 0n;
  for (const question of ["first question here", "and a second one"]) {
    const done = await create(ask(question));
    expect(done.choices[0]?.finish_reason).toBe("stop");
    expect(done.usage?.completion_tokens).toBe(ANSWER_WORDS);
    expect(done.choices[0]?.message.content).toBe(words(ANSWER_WORDS));
    spent += costOf(done);
  }
  expect(spent).toBeGreaterThan(TRUST * 10n);
  return spent;
}

/** The reserve on chain covers all `spent`, and the provider's claims are paid all of it on chain. */
async function reservedAndPaid(r: Requester, p: ProviderSide, spent: bigint): Promise<void> {
  // No other stream's claim could take what is reserved.
  expect((await r.escrow.getReserve(1, p.payout)).reserved).toBeGreaterThanOrEqual(spent);
  await until(async () => (await owedTo(p, r)) === spent);
  await p.ton.settlement.claimNow();
  await p.ton.settlement.idle();
  expect(await r.escrow.getPaid(1, p.payout)).toBe(spent);
  // Its payout held no TON before: what it holds now came from the claims, less their fees.
  const received = await chain.client.getBalance(p.payout);
  expect(received).toBeGreaterThan(spent - toNano("0.02"));
  expect(received).toBeLessThan(spent);
}

describe("reserves raised by default when the chain is known", () => {
  it("the gateway (nothing set but a price): answers past the provider's trust arrive whole, reserved and paid on chain", async () => {
    const { r, p, url } = await servedOnDevnet();
    const openai = await gatewayOnDevnet(r, url);
    const spent = await askedPastTrust((q) => openai.chat.completions.create(q));
    await reservedAndPaid(r, p, spent);
  });

  it("an SDK program that gives `ton` and no `reserve` is reserved for the same way", async () => {
    const { r, p, url } = await servedOnDevnet();
    const silk = await connect({
      signalingUrl: url,
      sessionKey: r.sessionKey,
      maxPrice: {
        promptNanoPerToken: DEVNET_PRICE.nanoPerToken,
        completionNanoPerToken: DEVNET_PRICE.nanoPerToken,
      },
      escrow: r.escrow.address.toString(),
      keyEpoch: 1,
      network: NETWORK_ID.devnet,
      ton: chain.client,
      wrtc,
    });
    stops.push(() => silk.close());
    const spent = await askedPastTrust(
      (q) => silk.chat.completions.create(q) as Promise<OpenAI.ChatCompletion>,
    );
    await reservedAndPaid(r, p, spent);
  });

  it("an escrow closing in 30 s (under the raise's default 50 s of validity) is reserved for all the same", async () => {
    // The devnet's clock, moved to now: a raise's validity is counted from this machine's clock.
    chain.now = Math.floor(Date.now() / 1000);
    const { r, p, url } = await servedOnDevnet(30);
    const openai = await gatewayOnDevnet(r, url);
    const spent = await askedPastTrust((q) => openai.chat.completions.create(q));
    await reservedAndPaid(r, p, spent);
  });

  it("--reserve-ahead off raises none: the provider stops serving once its trust is spent (402)", async () => {
    const { r, p, url } = await servedOnDevnet();
    const openai = await gatewayOnDevnet(r, url, ["--reserve-ahead", "off"]);
    const refused = await openai.chat.completions.create(ask("first question here")).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(402);
    expect((await r.escrow.getReserve(1, p.payout)).reserved).toBe(0n);
  });

  it("an escrow too small to fund the reserve a request needs: 402 insufficient_funds saying to top it up, nothing asked of the provider", async () => {
    // 0.05 TON: under one raise's 0.1 TON step, so the escrow refuses even the smaller raise (exit 218).
    const { r, p, url } = await servedOnDevnet(3_600, toNano("0.05"));
    const openai = await gatewayOnDevnet(r, url);
    const refused = await openai.chat.completions.create(ask("first question here")).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    const e = refused as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(402);
    expect(e.type).toBe("insufficient_funds");
    expect(e.code).toBe("out_of_funds");
    expect(e.message).toMatch(/cannot fund it \(top it up/);
    expect((p.engine as ScriptedEngine).generatedTokens).toBe(0);
    expect((await r.escrow.getReserve(1, p.payout)).reserved).toBe(0n);
  });

  it("this machine's clock 2 minutes behind the chain's: raises are dated by the chain's clock, and the answers arrive whole", async () => {
    const { r, p, url } = await servedOnDevnet();
    const openai = await gatewayOnDevnet(r, url);
    // Once the escrow is deployed (its wallet dates its transfer by this machine's clock). Last in
    // the file: the devnet's clock only moves forward.
    chain.now = Math.floor(Date.now() / 1000) + 120;
    const spent = await askedPastTrust((q) => openai.chat.completions.create(q));
    await reservedAndPaid(r, p, spent);
  });
});
