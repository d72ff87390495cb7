import { parseArgs } from "node:util";
import { Address } from "@ton/core";
import {
  BPS,
  checkPrice,
  FEATURES,
  type Feature,
  type ModelPrice,
  NETWORK_ID,
  type NetworkName,
} from "../../protocol";
import { payoutWorkchainProblem } from "../../protocol/payout";
import { checkStoredEndpoint } from "../../web/chosen-chain";
import { DEFAULT_MIN_CLOSE_DELAY } from "../account-gate";
import type { ProviderState } from "./provider-state";

/**
 * Configuration of the headless provider: flags win over environment variables, which win over
 * defaults. Every value is checked here, with a message that says which one is wrong.
 */
export interface HeadlessOptions {
  readonly signalingUrl: string;
  readonly backend: string;
  readonly backendModel: string;
  readonly model: string;
  readonly price: ModelPrice;
  /** What the backend's model supports beyond plain chat, declared at registration. */
  readonly features: readonly Feature[];
  readonly contextWindow?: number;
  readonly payout: string;
  readonly network: NetworkName;
  readonly capacity: number;
  readonly keyFile: string;
  readonly receiptsFile: string;
  readonly apiKey?: string;
  /** TonClient endpoint to settle on; without it receipts are only kept. */
  readonly tonEndpoint?: string;
  readonly tonApiKey?: string;
  /** Shortest escrow close delay served, seconds (default: DEFAULT_MIN_CLOSE_DELAY of the network). */
  readonly minCloseDelay: number;
  /** Claim once the fee is at most this share of the amount, basis points (100 = 1%). */
  readonly feeShareBps: number;
  /** Claim whatever has been held this long, hours, whatever the fee. */
  readonly maxHoldHours: number;
  /**
   * Reserves are required (contracts' "Reserves"): serve at most this many nanoTON per stream
   * beyond its reserve; absent: a prompt's bound and one credit window at this provider's prices;
   * "whole-balance": the escrow's whole free balance, which other providers may claim first.
   */
  readonly unreservedNano?: number | "whole-balance";
  /** The wallet that registered this provider in the Registry (requesters check its entry). */
  readonly owner?: string;
  /** The Registry's address: with `tonEndpoint`, the stake and registration time are read from the entry. */
  readonly registry?: string;
}

export const HEADLESS_USAGE = `Usage: npm run provider -- --backend URL --model NAME --price NANOTON --payout ADDRESS [options]
       (after \`npm run provider -- init --model NAME --price NANOTON\`, --payout and the chain flags are stored)

  --backend URL          OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1   (SILK_BACKEND)
  --model NAME           model id to offer on the network                        (SILK_MODEL)
  --backend-model NAME   the model's name on the backend, if different           (SILK_BACKEND_MODEL)
  --price NANOTON        nanoTON per token                                       (SILK_PRICE)
  --prompt-multiplier N  prompt token multiplier, basis points (10000 = 1x)      (SILK_PROMPT_BPS)
  --completion-multiplier N                                                      (SILK_COMPLETION_BPS)
  --features LIST        what the backend's model supports, comma-separated, from
                         ${FEATURES.filter((f) => !f.endsWith("scoring")).join(", ")} (default: none)  (SILK_FEATURES)
  --context-window N     prompt plus completion tokens the model holds           (SILK_CONTEXT_WINDOW)
  --payout ADDRESS       TON address that receipts pay                           (SILK_PAYOUT)
  --signaling URL        signaling server (default http://127.0.0.1:8787)        (SILK_SIGNALING_URL)
  --network NAME         devnet, testnet or mainnet (default devnet)             (SILK_NETWORK)
  --capacity N           concurrent requests (default 1)                         (SILK_CAPACITY)
  --key-file PATH        identity key, created if missing (.silk/provider.key)   (SILK_KEY_FILE)
  --receipts-file PATH   receipts log, fsynced per receipt (.silk/provider-receipts.log)  (SILK_RECEIPTS_FILE)
  --ton-endpoint URL     claim on this chain (TonClient JSON-RPC, e.g. the devnet's
                         http://127.0.0.1:8081/jsonRPC); without it receipts are only kept  (SILK_TON_ENDPOINT)
  --min-close-delay S    serve only escrows whose close delay is at least S seconds
                         (default 3600 on testnet/mainnet, 60 on devnet)          (SILK_MIN_CLOSE_DELAY)
  --fee-share-bps N      claim once the fee is at most N/10000 of the amount (default 100 = 1%)  (SILK_FEE_SHARE_BPS)
  --max-hold-hours N     claim what was held N hours whatever the fee (default 168)  (SILK_MAX_HOLD_HOURS)
  --unreserved-nano N    serve a stream at most N nanoTON beyond the reserve its requester raised
                         (default: a prompt's bound, the context window or 8192 tokens, and one
                         credit window at your prices); "whole-balance" opts out of reserves: the
                         escrow's whole free balance, which other providers may claim first
                         (SILK_UNRESERVED_NANO)
  --owner ADDRESS        wallet that registered this provider in the Registry, which
                         requesters check (default: --payout)                    (SILK_OWNER)
  --registry ADDRESS     the Registry: with --ton-endpoint, the entry's stake and
                         registration time are read and told to the server         (SILK_REGISTRY)
  Backend API key: SILK_BACKEND_API_KEY; toncenter API key: SILK_TON_API_KEY (environment only,
  so they stay out of shell history).`;

export class OptionsError extends Error {
  override name = "OptionsError";
}

/**
 * `stored` is what `npm run provider -- init` saved (provider-state.ts): it stands in for
 * `--payout`, `--owner`, `--registry`, `--ton-endpoint`, `--network` and `--signaling`.
 */
export function parseHeadlessOptions(
  argv: string[],
  env: NodeJS.ProcessEnv,
  stored?: ProviderState,
): HeadlessOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      backend: { type: "string" },
      model: { type: "string" },
      "backend-model": { type: "string" },
      price: { type: "string" },
      "prompt-multiplier": { type: "string" },
      "completion-multiplier": { type: "string" },
      features: { type: "string" },
      "context-window": { type: "string" },
      payout: { type: "string" },
      signaling: { type: "string" },
      network: { type: "string" },
      capacity: { type: "string" },
      "key-file": { type: "string" },
      "receipts-file": { type: "string" },
      "ton-endpoint": { type: "string" },
      "min-close-delay": { type: "string" },
      "fee-share-bps": { type: "string" },
      "max-hold-hours": { type: "string" },
      "unreserved-nano": { type: "string" },
      owner: { type: "string" },
      registry: { type: "string" },
    },
    strict: true,
  });
  const saved: Record<string, string | undefined> = {
    payout: stored?.payout,
    owner: stored?.owner,
    registry: stored?.registry,
    "ton-endpoint": stored?.tonEndpoint,
    network: stored?.network,
    signaling: stored?.signalingUrl,
  };
  const need = (flag: string, envName: string): string => {
    const v = (values as Record<string, string | undefined>)[flag] ?? env[envName] ?? saved[flag];
    if (!v) throw new OptionsError(`--${flag} (or ${envName}) is required`);
    return v;
  };
  const opt = (flag: string, envName: string, fallback: string): string =>
    (values as Record<string, string | undefined>)[flag] ?? env[envName] ?? saved[flag] ?? fallback;
  const integer = (text: string, what: string, min: number, max: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new OptionsError(`${what} must be a whole number from ${min} to ${max}`);
    return n;
  };

  const unreserved = (text: string) =>
    text === "whole-balance" ? text : integer(text, "--unreserved-nano (or whole-balance)", 0, 1e15);

  const backend = need("backend", "SILK_BACKEND");
  try {
    new URL(backend);
  } catch {
    throw new OptionsError("--backend is not a URL (such as http://127.0.0.1:11434/v1)");
  }
  const model = need("model", "SILK_MODEL");
  const priceText = need("price", "SILK_PRICE");
  if (!/^(0|[1-9][0-9]*)$/.test(priceText)) throw new OptionsError("--price must be whole nanoTON per token");
  let price: ModelPrice;
  try {
    price = checkPrice({
      nanoPerToken: BigInt(priceText),
      promptMultiplierBps: integer(
        opt("prompt-multiplier", "SILK_PROMPT_BPS", "10000"),
        "--prompt-multiplier",
        0,
        1_000_000,
      ),
      completionMultiplierBps: integer(
        opt("completion-multiplier", "SILK_COMPLETION_BPS", "10000"),
        "--completion-multiplier",
        0,
        1_000_000,
      ),
    });
  } catch (err) {
    throw new OptionsError((err as Error).message);
  }
  const features = opt("features", "SILK_FEATURES", "")
    .split(",")
    .map((f) => f.trim())
    .filter(Boolean);
  for (const f of features)
    if (!(FEATURES as readonly string[]).includes(f))
      throw new OptionsError(`--features: ${f} is not one of ${FEATURES.join(", ")}`);
    else if (f === "scoring" || f === "forced_scoring")
      // Audits' `score` asks for the logprobs of given tokens: an OpenAI-compatible server has no
      // such call, so requests needing it would be paired here only to be refused.
      throw new OptionsError(
        `--features: ${f}: the HTTP backend cannot score given tokens (audits' score); a provider page serves it`,
      );
  const contextText = opt("context-window", "SILK_CONTEXT_WINDOW", "");
  const payout = need("payout", "SILK_PAYOUT");
  try {
    Address.parse(payout);
  } catch {
    throw new OptionsError(`--payout ${payout} is not a TON address`);
  }
  const outside = payoutWorkchainProblem(Address.parse(payout));
  if (outside) {
    // Named where it came from: a payout an older init stored is fixed by running init again.
    const given = (values as Record<string, string | undefined>).payout ?? env.SILK_PAYOUT;
    throw new OptionsError(
      given !== undefined
        ? `--payout: ${outside.message}`
        : `the payout init stored: ${outside.message}; run \`npm run provider -- init --payout <0:…>\` again, or give --payout`,
    );
  }
  const owner = opt("owner", "SILK_OWNER", payout);
  const registry = values.registry ?? env.SILK_REGISTRY ?? saved.registry;
  for (const [flag, text] of [
    ["--owner", owner],
    ["--registry", registry],
  ] as const) {
    try {
      if (text !== undefined) Address.parse(text);
    } catch {
      throw new OptionsError(`${flag} ${text} is not a TON address`);
    }
  }
  const network = opt("network", "SILK_NETWORK", "devnet");
  if (!(network in NETWORK_ID)) throw new OptionsError("--network must be devnet, testnet or mainnet");
  const apiKey = env.SILK_BACKEND_API_KEY;
  const givenEndpoint = values["ton-endpoint"] ?? env.SILK_TON_ENDPOINT;
  // A state file from an init before chosenChain may hold an endpoint the server named.
  if (givenEndpoint === undefined && stored)
    checkStoredEndpoint(stored.network, stored, "npm run provider -- init");
  const tonEndpoint = givenEndpoint ?? saved["ton-endpoint"];
  if (tonEndpoint) {
    try {
      new URL(tonEndpoint);
    } catch {
      throw new OptionsError(
        "--ton-endpoint is not a URL (such as https://testnet.toncenter.com/api/v2/jsonRPC)",
      );
    }
  }
  return {
    signalingUrl: opt("signaling", "SILK_SIGNALING_URL", "http://127.0.0.1:8787"),
    backend,
    model,
    backendModel: opt("backend-model", "SILK_BACKEND_MODEL", model),
    price,
    features: [...new Set(features)] as Feature[],
    ...(contextText ? { contextWindow: integer(contextText, "--context-window", 1, 100_000_000) } : {}),
    payout,
    network: network as NetworkName,
    capacity: integer(opt("capacity", "SILK_CAPACITY", "1"), "--capacity", 1, 64),
    minCloseDelay: integer(
      opt("min-close-delay", "SILK_MIN_CLOSE_DELAY", String(DEFAULT_MIN_CLOSE_DELAY[network as NetworkName])),
      "--min-close-delay",
      1,
      366 * 86_400,
    ),
    feeShareBps: integer(
      opt("fee-share-bps", "SILK_FEE_SHARE_BPS", "100"),
      "--fee-share-bps",
      1,
      Number(BPS),
    ),
    maxHoldHours: integer(
      opt("max-hold-hours", "SILK_MAX_HOLD_HOURS", "168"),
      "--max-hold-hours",
      1,
      24 * 366,
    ),
    ...(values["unreserved-nano"] !== undefined || env.SILK_UNRESERVED_NANO !== undefined
      ? {
          unreservedNano: unreserved(opt("unreserved-nano", "SILK_UNRESERVED_NANO", "0")),
        }
      : {}),
    keyFile: opt("key-file", "SILK_KEY_FILE", ".silk/provider.key"),
    receiptsFile: opt("receipts-file", "SILK_RECEIPTS_FILE", ".silk/provider-receipts.log"),
    ...(apiKey ? { apiKey } : {}),
    ...(tonEndpoint ? { tonEndpoint } : {}),
    ...(env.SILK_TON_API_KEY ? { tonApiKey: env.SILK_TON_API_KEY } : {}),
    owner,
    ...(registry ? { registry } : {}),
  };
}
