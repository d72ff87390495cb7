import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Address } from "@ton/core";
import type { NetworkName, TrustPolicy } from "../../protocol";
import { checkStoredEndpoint } from "../../web/chosen-chain";

/**
 * Where the gateway reads the Registry and what it demands of providers. The Registry's address
 * never comes from the signaling server (a lying server would name its own): on testnet and
 * mainnet from `--registry` or `contracts/deployments/<network>.json`, on the devnet from the
 * devnet itself (`GET /devnet` next to its JSON-RPC endpoint), which the operator runs.
 */
export interface GatewayTrust {
  /** TonClient JSON-RPC endpoint; undefined with `--trust-server` (no Registry check). */
  readonly tonEndpoint?: string;
  readonly tonApiKey?: string;
  readonly registry?: string;
  readonly policy: Partial<TrustPolicy>;
}

export const TRUST_USAGE = `  --ton-endpoint URL   TON JSON-RPC endpoint for Registry checks (default: the one init
                       chose; else http://127.0.0.1:8081/jsonRPC on devnet)  (SILK_TON_ENDPOINT)
  --registry ADDRESS   the Registry (default: init's with its endpoint, the devnet's, or
                       contracts/deployments/<network>.json)              (SILK_REGISTRY)
  --min-stake N        nanoTON a provider must stake (default: devnet 0, testnet/mainnet 1 TON)  (SILK_MIN_STAKE)
  --min-age SECONDS    how long a provider must have been registered (default 0)  (SILK_MIN_AGE)
  --allow KEY,...      only these provider identity keys (a private group)  (SILK_ALLOW)
  --block KEY,...      never these provider identity keys                  (SILK_BLOCK)
  --trust-server       skip the Registry check: believe the signaling server about providers`;

export const TRUST_FLAGS = {
  "ton-endpoint": { type: "string" },
  registry: { type: "string" },
  "min-stake": { type: "string" },
  "min-age": { type: "string" },
  allow: { type: "string" },
  block: { type: "string" },
  "trust-server": { type: "boolean" },
} as const;

type TrustValues = { [K in keyof typeof TRUST_FLAGS]?: K extends "trust-server" ? boolean : string };

export function parseTrustOptions(
  values: TrustValues,
  env: NodeJS.ProcessEnv,
  network: NetworkName,
  /** The TonClient endpoint `init` chose (`chosenChain`) and the Registry the server named (checked). */
  stored?: { readonly tonEndpoint?: string; readonly tonEndpointGiven?: true; readonly registry?: string },
): GatewayTrust {
  const keys = (text: string | undefined, what: string): string[] | undefined => {
    if (text === undefined) return undefined;
    const list = text
      .split(",")
      .map((k) => k.trim().toLowerCase())
      .filter(Boolean);
    for (const k of list)
      if (!/^[0-9a-f]{64}$/.test(k))
        throw new Error(`${what}: ${k.slice(0, 12)}… is not a 64-hex identity key`);
    return list;
  };
  const whole = (text: string | undefined, what: string): string | undefined => {
    if (text !== undefined && !/^(0|[1-9][0-9]{0,20})$/.test(text))
      throw new Error(`${what} must be a whole number`);
    return text;
  };
  const minStake = whole(values["min-stake"] ?? env.SILK_MIN_STAKE, "--min-stake");
  const minAge = whole(values["min-age"] ?? env.SILK_MIN_AGE, "--min-age");
  const allow = keys(values.allow ?? env.SILK_ALLOW, "--allow");
  const block = keys(values.block ?? env.SILK_BLOCK, "--block");
  const policy: Partial<TrustPolicy> = {
    ...(minStake !== undefined && { minStake: BigInt(minStake) }),
    ...(minAge !== undefined && { minAgeSeconds: Number(minAge) }),
    ...(allow && { allow }),
    ...(block && { block }),
  };
  if (values["trust-server"]) return { policy };
  const given = values["ton-endpoint"] ?? env.SILK_TON_ENDPOINT;
  const tonEndpoint =
    given ?? stored?.tonEndpoint ?? (network === "devnet" ? "http://127.0.0.1:8081/jsonRPC" : undefined);
  if (!tonEndpoint) throw new Error(`--ton-endpoint is required on ${network} (or --trust-server)`);
  // A state file from an init before chosenChain may hold an endpoint the server named.
  if (given === undefined && stored?.tonEndpoint)
    checkStoredEndpoint(network, { ...stored, tonEndpoint: stored.tonEndpoint }, "npm run gateway -- init");
  // The stored Registry goes with the stored endpoint only: another chain has its own.
  const registry =
    values.registry ??
    env.SILK_REGISTRY ??
    (given === undefined ? stored?.registry : undefined) ??
    deployedRegistry(network);
  if (registry !== undefined) {
    try {
      Address.parse(registry);
    } catch {
      throw new Error(`--registry ${registry} is not a TON address`);
    }
  } else if (network !== "devnet") throw new Error(`no Registry known on ${network}: give --registry`);
  return {
    tonEndpoint,
    ...(env.SILK_TON_API_KEY && { tonApiKey: env.SILK_TON_API_KEY }),
    ...(registry && { registry }),
    policy,
  };
}

function deployedRegistry(network: NetworkName): string | undefined {
  const file = join(process.cwd(), "contracts", "deployments", `${network}.json`);
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, "utf8")) as { registry?: string }).registry;
}

/** The devnet's Registry, asked of the devnet itself (`GET /devnet` beside `/jsonRPC`). */
export async function devnetRegistry(tonEndpoint: string): Promise<string> {
  const base = tonEndpoint.replace(/\/jsonRPC\/?$/, "");
  const res = await fetch(`${base}/devnet`, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
    throw new Error(
      `the devnet at ${base} cannot be reached to read its Registry (${err instanceof Error ? err.message : String(err)}): is \`npm start\` running there? Otherwise give --ton-endpoint, or run \`npm run gateway -- init\` against your server`,
    );
  });
  if (!res.ok) throw new Error(`the devnet at ${base} did not say where its Registry is (${res.status})`);
  const body = (await res.json()) as { result?: { registry?: string } };
  if (!body.result?.registry) throw new Error(`the devnet at ${base} has no Registry`);
  return body.result.registry;
}
