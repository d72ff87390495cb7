import { dirname, join } from "node:path";
import wrtc from "@roamhq/wrtc";
import { Address } from "@ton/core";
import { TonClient } from "@ton/ton";
import { compiled } from "../../contracts/compile";
import { tonRegistryReader } from "../../contracts/wrappers/registry-reader";
import { loadOrCreateKey } from "../../peer/key-file";
import { encodePublicKey, NETWORK_ID } from "../../protocol";
import { HttpEngine } from "../engines/http-engine";
import { ProviderRuntime, type RuntimeEvent } from "../runtime";
import type { Settlement } from "../settlement";
import { connectTon } from "../ton-chain";
import type { HeadlessOptions } from "./options";
import { ReceiptLogStore } from "./receipt-log-store";

/**
 * The provider runtime in Node, in front of an OpenAI-compatible server: the same serving loop
 * as the page, with WebRTC from @roamhq/wrtc and receipts kept in an fsynced append-only log.
 */
/** Where versions before the log kept receipts (beside the log): imported on first start. */
const LEGACY_RECEIPTS_FILE = "provider-receipts.json";

export async function startHeadlessProvider(
  o: HeadlessOptions,
  onEvent?: (e: RuntimeEvent) => void,
): Promise<{
  runtime: ProviderRuntime;
  identityKey: string;
  receipts: ReceiptLogStore;
  settlement?: Settlement;
}> {
  const { key } = loadOrCreateKey(o.keyFile);
  const engine = new HttpEngine({
    baseUrl: o.backend,
    backendModel: () => o.backendModel,
    ...(o.apiKey ? { apiKey: o.apiKey } : {}),
  });
  // Before the engine is asked for anything slow: a damaged log is recovered (and said so) at once.
  const receipts = ReceiptLogStore.open(o.receiptsFile, {
    legacyFile: join(dirname(o.receiptsFile), LEGACY_RECEIPTS_FILE),
  });
  await engine.load(o.model);
  const ton = o.tonEndpoint
    ? connectTon({
        endpoint: o.tonEndpoint,
        store: receipts,
        // The Escrow code this provider serves: compiled from its own sources, never taken from the chain.
        escrowCode: (await compiled("escrow")).code,
        minCloseDelay: o.minCloseDelay,
        policy: { feeShareBps: o.feeShareBps, maxHoldMs: o.maxHoldHours * 3_600_000 },
        ...(o.unreservedNano !== undefined && {
          unreservedNano: o.unreservedNano === "whole-balance" ? o.unreservedNano : BigInt(o.unreservedNano),
        }),
        ...(o.tonApiKey ? { apiKey: o.tonApiKey } : {}),
      })
    : undefined;
  const settlement = ton?.settlement;
  const entry = await ownEntry(o);
  const runtime = await ProviderRuntime.start({
    signalingUrl: o.signalingUrl,
    identity: key,
    engine,
    models: [
      {
        model: o.model,
        price: o.price,
        features: o.features,
        ...(o.contextWindow ? { contextWindow: o.contextWindow } : {}),
      },
    ],
    payout: o.payout,
    entry,
    network: NETWORK_ID[o.network],
    capacity: o.capacity,
    receipts,
    ...(ton ? { settlement: ton.settlement, gate: ton.gate, book: ton.book } : {}),
    wrtc,
    ...(onEvent ? { onEvent } : {}),
  });
  return {
    runtime,
    identityKey: encodePublicKey(key.publicKey),
    receipts,
    ...(settlement ? { settlement } : {}),
  };
}

/**
 * What the server is told of this provider's Registry entry: the owner, and the stake and
 * registration time read from the chain when it can be read (hints for the server's filter;
 * requesters read the entry themselves).
 */
async function ownEntry(o: HeadlessOptions): Promise<{ owner: string; stake: bigint; registeredAt: number }> {
  const owner = o.owner ?? o.payout;
  const none = { owner, stake: 0n, registeredAt: 0 };
  if (!o.tonEndpoint || !o.registry) return none;
  const client = new TonClient({ endpoint: o.tonEndpoint, ...(o.tonApiKey ? { apiKey: o.tonApiKey } : {}) });
  const record = await tonRegistryReader(client, Address.parse(o.registry)).read(Address.parse(owner));
  return record ? { owner, stake: record.stake, registeredAt: record.registeredAt } : none;
}
