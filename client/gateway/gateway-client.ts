import type { RegistryReader } from "../../contracts/wrappers/registry-reader";
import { ServerRefusalError } from "../../peer/signaling-errors";
import type { Wrtc } from "../../peer/webrtc-link";
import { type KeyPair, NETWORK_ID } from "../../protocol";
import { type Auditor, auditOver } from "../sdk/auditor";
import { defaultReserveAhead, type ReserveChain } from "../sdk/reserve-keeper";
import { type ConnectOptions, connect, type SilkClient } from "../sdk/silk-client";
import type { GatewayConfig } from "./options";

/** Where the gateway tells its operator what went wrong with nothing waiting on it (pino's shape). */
export interface GatewayWarnLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * The SDK's word on failures no request awaits, for the operator's log: a receipt store that
 * failed to keep an answer's statement, a signaling server's unreadable answer to a background
 * call, a server caught lying and avoided. Each names what failed; none carries a prompt or a key.
 */
function backgroundWarnings(
  log: GatewayWarnLog,
): Pick<ConnectOptions, "onAccountError" | "onSignalingError" | "onServerDistrusted"> {
  // A server's refusal is its own unchecked text: logged by code only, as the access log does.
  const fields = (e: Error & { code?: string }) => ({
    err: { name: e.name, code: e.code, ...(!(e instanceof ServerRefusalError) && { message: e.message }) },
  });
  return {
    onAccountError: (e) =>
      log.warn(fields(e), "the receipt store failed to keep an answer's signed statement"),
    onSignalingError: (e) => log.warn(fields(e), "a signaling server's answer to a background call failed"),
    onServerDistrusted: (e) =>
      log.warn(
        {
          server: e.url,
          until: new Date(e.until).toISOString(),
          reason: e.reason,
          authenticated: e.authenticated,
        },
        "a signaling server was caught lying and is avoided",
      ),
  };
}

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
    /** Where failures no request awaits are told (the gateway's log). */
    readonly log?: GatewayWarnLog;
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
    ...(io.log && backgroundWarnings(io.log)),
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
