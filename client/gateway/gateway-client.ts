import type { RegistryReader } from "../../contracts/wrappers/registry-reader";
import type { Wrtc } from "../../peer/webrtc-link";
import { type KeyPair, NETWORK_ID } from "../../protocol";
import { type Auditor, auditOver } from "../sdk/auditor";
import { defaultReserveAhead, type ReserveChain } from "../sdk/reserve-keeper";
import { connect, type SilkClient } from "../sdk/silk-client";
import type { GatewayConfig } from "./options";

/**
 * The SDK client the gateway serves from, as its configuration says: the Registry check when a
 * registry is given, the minimum of audits passed, and, with audits on, the SDK's Auditor around
 * it (challenges beside `rate` of the requests, reports signed with the gateway's session key).
 */
export async function connectGateway(
  config: GatewayConfig,
  key: KeyPair,
  io: {
    readonly wrtc?: Wrtc;
    readonly registry?: RegistryReader;
    readonly forceRelay?: boolean;
    /** Where reserves are raised and read: the chain is known, so they are, unless `reserveAheadNano` is "off". */
    readonly reserveChain?: ReserveChain;
  },
): Promise<{ client: SilkClient; auditor?: Auditor }> {
  const { audits } = config;
  const client = await connect({
    signalingUrl: config.signalingUrl,
    ...(config.serverKey && { serverKey: config.serverKey }),
    sessionKey: key,
    maxPrice: config.maxPrice,
    escrow: config.escrow,
    keyEpoch: config.keyEpoch,
    network: NETWORK_ID[config.network],
    deadlines: { frame: config.stallTimeoutMs },
    queueTimeoutMs: config.queueTimeoutMs,
    ...(io.wrtc && { wrtc: io.wrtc }),
    ...(io.forceRelay !== undefined && { forceRelay: io.forceRelay }),
    ...(io.registry && { trust: { registry: io.registry, policy: config.trust.policy } }),
    ...(audits.minAuditsPassed && { minAuditsPassed: audits.minAuditsPassed }),
    // An audited answer must be signed to be evidence; unsigned ones are refused (BAD_STATEMENT).
    ...(audits.rate > 0 && { requireSignedAnswers: true }),
    reserve:
      config.reserveAheadNano !== "off" && io.reserveChain
        ? {
            chain: io.reserveChain,
            ahead: config.reserveAheadNano ?? defaultReserveAhead(config.maxPrice.completionNanoPerToken),
          }
        : false,
  });
  if (audits.rate === 0) return { client };
  const auditor = auditOver(client, key, { rate: audits.rate });
  return { client: auditor.wrap(), auditor };
}
