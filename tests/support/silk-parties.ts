import wrtc from "@roamhq/wrtc";
import { type ConnectOptions, connect, type SilkClient } from "../../client/sdk/silk-client";
import { encodePublicKey, flatPrice, generateKeyPair } from "../../protocol";
import { ProviderRuntime, type ProviderRuntimeOptions, type RuntimeEvent } from "../../provider/runtime";
import type { Engine } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";

/**
 * A provider runtime (scripted engine) and an SDK client, each recorded so `stopAll` ends them:
 * on the relay, each on a labelled url of the man in the middle (or straight on the server), for
 * fault tests (`relayProvider`, `relayClient`), or over real WebRTC (`wrtcProvider`,
 * `wrtcClient`). What a provider refused and how many sessions it opened: `refusedWith`, `opened`.
 */
export const ESCROW = `0:${"11".repeat(32)}`;
export const PAYOUT = `0:${"22".repeat(32)}`;
export const MAX_PRICE = { promptNanoPerToken: 100n, completionNanoPerToken: 100n };

const open: (() => void)[] = [];

export function stopAll(): void {
  for (const stop of open.splice(0).reverse()) stop();
}

export function labelled(url: string, party: string): string {
  return `${url}?party=${party}`;
}

export interface StartedProvider<E extends Engine> {
  readonly runtime: ProviderRuntime;
  readonly engine: E;
  readonly events: RuntimeEvent[];
  readonly key: string;
}

export function relayProvider<E extends Engine = ScriptedEngine>(
  url: string,
  opts: Partial<ProviderRuntimeOptions> & { engine?: E } = {},
): Promise<StartedProvider<E>> {
  return startProvider(url, { forceRelay: true, ...opts });
}

/** A provider on real WebRTC (`@roamhq/wrtc`): test-model at 10 nanoTON a token unless `opts` say otherwise. */
export function wrtcProvider<E extends Engine = ScriptedEngine>(
  url: string,
  opts: Partial<ProviderRuntimeOptions> & { engine?: E } = {},
): Promise<StartedProvider<E>> {
  return startProvider(url, { wrtc, ...opts });
}

async function startProvider<E extends Engine>(
  url: string,
  opts: Partial<ProviderRuntimeOptions> & { engine?: E },
): Promise<StartedProvider<E>> {
  const engine = opts.engine ?? (new ScriptedEngine() as Engine as E);
  const events: RuntimeEvent[] = [];
  const identity = opts.identity ?? generateKeyPair();
  const runtime = await ProviderRuntime.start({
    signalingUrl: url,
    identity,
    models: [{ model: "test-model", price: flatPrice(10n) }],
    payout: PAYOUT,
    ...opts,
    engine,
    onEvent: (e) => {
      events.push(e);
      opts.onEvent?.(e);
    },
  });
  open.push(() => runtime.stop());
  return { runtime, engine, events, key: encodePublicKey(identity.publicKey) };
}

export async function relayClient(url: string, opts: Partial<ConnectOptions> = {}): Promise<SilkClient> {
  const client = await connect({
    signalingUrl: url,
    sessionKey: generateKeyPair(),
    maxPrice: MAX_PRICE,
    escrow: ESCROW,
    forceRelay: true,
    ...opts,
  });
  open.push(() => client.close());
  return client;
}

/** An SDK client on real WebRTC, key epoch 0. */
export async function wrtcClient(url: string, opts: Partial<ConnectOptions> = {}): Promise<SilkClient> {
  const client = await connect({
    signalingUrl: url,
    sessionKey: generateKeyPair(),
    keyEpoch: 0,
    maxPrice: MAX_PRICE,
    escrow: ESCROW,
    wrtc,
    ...opts,
  });
  open.push(() => client.close());
  return client;
}

/** The codes a provider refused with, in order. */
export const refusedWith = (events: readonly RuntimeEvent[]) =>
  events.flatMap((e) => (e.type === "refused" ? [e.code] : []));

/** How many sessions a provider opened. */
export const opened = (events: readonly RuntimeEvent[]) =>
  events.filter((e) => e.type === "session-open").length;

export function ask(client: SilkClient, content = "hello", extra: Record<string, unknown> = {}) {
  return client.chat.completions.create({
    model: "test-model",
    messages: [{ role: "user", content }],
    ...extra,
  });
}
