import { parseArgs } from "node:util";
import { Address } from "@ton/core";
import type { ServerKeys } from "../../peer/server-pins";
import { DEFAULT_DEADLINES } from "../../peer/session-machine";
import { type MaxPrice, NETWORK_ID, type NetworkName } from "../../protocol";
import { DEFAULT_QUEUE_TIMEOUT_MS } from "../sdk/connect-options";
import { AUDIT_FLAGS, AUDIT_USAGE, type GatewayAudits, parseAuditOptions } from "./audit-options";
import type { GatewayState } from "./gateway-state";
import { type GatewayTrust, parseTrustOptions, TRUST_FLAGS, TRUST_USAGE } from "./trust-options";

/** Gateway configuration: flags, then environment, then defaults; each value checked here. */
export interface GatewayConfig {
  readonly signalingUrl: string;
  /**
   * The signaling servers' keys every grant must be signed by (the SDK's `serverKey`): one for
   * every URL, or URL=KEY pairs; else the one `init` pinned for its server; else each URL's first
   * signed grant's key.
   */
  readonly serverKey?: ServerKeys;
  readonly keyFile: string;
  readonly maxPrice: MaxPrice;
  readonly escrow: string;
  /** The epoch the escrow gave this session key when it was added (getKey on the escrow). */
  readonly keyEpoch: number;
  readonly network: NetworkName;
  readonly port: number;
  readonly host: string;
  readonly apiKey?: string;
  /** The Registry checks and the policy every provider must meet (trust-options.ts). */
  readonly trust: GatewayTrust;
  /** Audits of providers (audit-options.ts); off unless asked for. */
  readonly audits: GatewayAudits;
  /** How long an answer may go without a frame before it ends as 504 `stalled` (the SDK's `deadlines.frame`). */
  readonly stallTimeoutMs: number;
  /** How long a request waits for room when every provider is busy before 503 `all_busy` (`queueTimeoutMs`). */
  readonly queueTimeoutMs: number;
  /**
   * Keep each provider's stream reserved this many nanoTON ahead of what is signed (the SDK's
   * `reserve`, over the chain --ton-endpoint names), for providers that require reserves (their
   * default). Absent: reserves are raised whenever the chain is known, `defaultReserveAhead` ahead;
   * `"off"` (--reserve-ahead off): none.
   */
  readonly reserveAheadNano?: bigint | "off";
}

export const GATEWAY_USAGE = `Usage: npm run gateway -- init [--signaling URL] [--network NAME] [--ton-endpoint URL] [--server-key KEY] [--owner WALLET] [--deposit TON]
       npm run gateway -- --max-price NANOTON [options]

  init                 make the key, the escrow and the key's authorisation (devnet: from the
                       faucet; testnet/mainnet: a ton://transfer link for --owner's wallet), and
                       store the escrow and key epoch in .silk/gateway.json for the gateway;
                       refuses a server naming another network than --network (default devnet),
                       and on testnet/mainnet reads the chain through --ton-endpoint or toncenter,
                       never through an endpoint the server names; pins --server-key (the
                       operator's word) and refuses a server publishing another
  --escrow ADDRESS     your escrow contract (default: the one init stored)  (SILK_ESCROW)
  --max-price N        highest nanoTON per token you accept                (SILK_MAX_PRICE)
  --max-prompt-price N highest nanoTON per prompt token (default: --max-price)  (SILK_MAX_PROMPT_PRICE)
  --signaling URL      signaling server (default http://127.0.0.1:8787)    (SILK_SIGNALING_URL)
  --server-key KEY     the signaling server's key (its GET /api/server-key, or its log): a grant
                       it did not sign is refused as altered on the path (GRANT_TAMPERED), the
                       server not blamed; URL=KEY,... for several servers (default: the key init
                       pinned, else the key of each server's first grant)  (SILK_SERVER_KEY)
  --key-file PATH      session key, created if missing (.silk/gateway.key) (SILK_KEY_FILE)
  --key-epoch N        the key's epoch in the escrow (default: init's)     (SILK_KEY_EPOCH)
  --network NAME       devnet, testnet or mainnet (default devnet)         (SILK_NETWORK)
  --port N             (default 8788)                                      (SILK_GATEWAY_PORT)
  --host H             (default 127.0.0.1: whoever reaches it spends)      (SILK_GATEWAY_HOST)
  --stall-timeout MS   an answer with no frame for this long ends as 504 stalled
                       (default 20000)                                     (SILK_STALL_TIMEOUT_MS)
  --queue-timeout MS   how long a request waits for a busy provider before
                       503 all_busy (default 30000)                        (SILK_QUEUE_TIMEOUT_MS)
  --reserve-ahead N    reserve each provider's stream N nanoTON ahead of what is signed (in
                       the escrow, over --ton-endpoint; the escrow pays each raise's fee), as
                       providers require by default (default: on whenever the chain is known,
                       a credit window at --max-price and at least 0.1 TON; off: none)  (SILK_RESERVE_AHEAD)
${TRUST_USAGE}
${AUDIT_USAGE}
  API key for callers: SILK_GATEWAY_API_KEY (environment only).`;

/** `stored`: what `init` saved, used where flags and environment say nothing. */
export function parseGatewayOptions(
  argv: string[],
  env: NodeJS.ProcessEnv,
  stored?: GatewayState,
): GatewayConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      escrow: { type: "string" },
      "max-price": { type: "string" },
      "max-prompt-price": { type: "string" },
      signaling: { type: "string" },
      "server-key": { type: "string" },
      "key-file": { type: "string" },
      "key-epoch": { type: "string" },
      network: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "stall-timeout": { type: "string" },
      "queue-timeout": { type: "string" },
      "reserve-ahead": { type: "string" },
      ...TRUST_FLAGS,
      ...AUDIT_FLAGS,
    },
    strict: true,
  });
  const get = (flag: keyof typeof values, envName: string): string | undefined => {
    const value = values[flag];
    return typeof value === "string" ? value : env[envName];
  };
  const nano = (text: string | undefined, what: string) => {
    if (!text || !/^(0|[1-9][0-9]{0,20})$/.test(text))
      throw new Error(`${what} must be whole nanoTON per token`);
    return BigInt(text);
  };
  const escrow = get("escrow", "SILK_ESCROW") ?? stored?.escrow;
  if (!escrow)
    throw new Error("--escrow (or SILK_ESCROW) is required, or run `npm run gateway -- init` first");
  try {
    Address.parse(escrow);
  } catch {
    throw new Error(`--escrow ${escrow} is not a TON address`);
  }
  const completion = nano(get("max-price", "SILK_MAX_PRICE"), "--max-price");
  const promptText = get("max-prompt-price", "SILK_MAX_PROMPT_PRICE");
  const network = get("network", "SILK_NETWORK") ?? stored?.network ?? "devnet";
  if (!(network in NETWORK_ID)) throw new Error("--network must be devnet, testnet or mainnet");
  const port = Number(get("port", "SILK_GATEWAY_PORT") ?? "8788");
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("--port must be a port number");
  // init's epoch only for init's escrow: another escrow gave the key another epoch.
  const storedEpoch = stored && stored.escrow === escrow ? String(stored.keyEpoch) : undefined;
  const keyEpoch = Number(get("key-epoch", "SILK_KEY_EPOCH") ?? storedEpoch ?? "1");
  if (!Number.isInteger(keyEpoch) || keyEpoch < 0 || keyEpoch > 0xffffffff)
    throw new Error("--key-epoch must be a whole number");
  const ms = (flag: "stall-timeout" | "queue-timeout", envName: string, fallback: number) => {
    const text = get(flag, envName);
    if (text === undefined) return fallback;
    if (!/^[1-9][0-9]{0,8}$/.test(text)) throw new Error(`--${flag} must be whole milliseconds, above 0`);
    return Number(text);
  };
  const apiKey = env.SILK_GATEWAY_API_KEY;
  // The chain init stored, for init's network: the endpoint it chose (yours, toncenter's, or on the
  // devnet the server's own), whatever port the gateway runs on.
  const trust = parseTrustOptions(
    values,
    env,
    network as NetworkName,
    stored?.network === network ? stored : undefined,
  );
  const aheadText = get("reserve-ahead", "SILK_RESERVE_AHEAD");
  const reserveAheadNano =
    aheadText === undefined || aheadText === "off" ? aheadText : nano(aheadText, "--reserve-ahead");
  if (typeof reserveAheadNano === "bigint" && !trust.tonEndpoint)
    throw new Error("--reserve-ahead raises reserves on chain: it needs --ton-endpoint (not --trust-server)");
  const signalingUrl =
    get("signaling", "SILK_SIGNALING_URL") ?? stored?.signalingUrl ?? "http://127.0.0.1:8787";
  const keyText = get("server-key", "SILK_SERVER_KEY");
  // init's pin only for init's server.
  const serverKey = keyText
    ? parseServerKey(keyText)
    : stored?.serverKey && stored.signalingUrl === signalingUrl
      ? stored.serverKey
      : undefined;
  return {
    signalingUrl,
    ...(serverKey && { serverKey }),
    keyFile: get("key-file", "SILK_KEY_FILE") ?? ".silk/gateway.key",
    maxPrice: {
      completionNanoPerToken: completion,
      promptNanoPerToken: promptText ? nano(promptText, "--max-prompt-price") : completion,
    },
    escrow,
    keyEpoch,
    network: network as NetworkName,
    trust,
    audits: parseAuditOptions(values, env),
    port,
    host: get("host", "SILK_GATEWAY_HOST") ?? "127.0.0.1",
    stallTimeoutMs: ms("stall-timeout", "SILK_STALL_TIMEOUT_MS", DEFAULT_DEADLINES.frame),
    queueTimeoutMs: ms("queue-timeout", "SILK_QUEUE_TIMEOUT_MS", DEFAULT_QUEUE_TIMEOUT_MS),
    ...(apiKey ? { apiKey } : {}),
    ...(reserveAheadNano !== undefined && { reserveAheadNano }),
  };
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/** `--server-key`: one key (64 hex characters) for every URL, or `URL=KEY` pairs, comma-separated. */
function parseServerKey(text: string): ServerKeys {
  if (HEX_KEY.test(text.trim())) return text.trim().toLowerCase();
  const pairs = text.split(",").map((pair) => {
    const at = pair.lastIndexOf("=");
    const [url, key] = [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    if (at < 1 || !HEX_KEY.test(key))
      throw new Error(
        "--server-key is the server's key (64 hex characters), or URL=KEY pairs separated by commas",
      );
    return [url, key.toLowerCase()] as const;
  });
  return Object.fromEntries(pairs);
}
