import { type ConnectOptions, connect, type SilkClient } from "../../client/sdk/silk-client";
import { encodePublicKey, flatPrice, generateKeyPair } from "../../protocol";
import { ProviderRuntime, type ProviderRuntimeOptions, type RuntimeEvent } from "../../provider/runtime";
import type { Engine } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";

/**
 * A provider runtime (scripted engine) and an SDK client on the relay, each on a labelled url of
 * the man in the middle (or straight on the server), for fault tests. `stopAll` ends them.
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

export async function relayProvider<E extends Engine = ScriptedEngine>(
  url: string,
  opts: Partial<ProviderRuntimeOptions> & { engine?: E } = {},
): Promise<{ runtime: ProviderRuntime; engine: E; events: RuntimeEvent[]; key: string }> {
  const engine = opts.engine ?? (new ScriptedEngine() as Engine as E);
  const events: RuntimeEvent[] = [];
  const identity = opts.identity ?? generateKeyPair();
  const runtime = await ProviderRuntime.start({
    signalingUrl: url,
    identity,
    models: [{ model: "test-model", price: flatPrice(10n) }],
    payout: PAYOUT,
    forceRelay: true,
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

export function ask(client: SilkClient, content = "hello", extra: Record<string, unknown> = {}) {
  return client.chat.completions.create({
    model: "test-model",
    messages: [{ role: "user", content }],
    ...extra,
  });
}
