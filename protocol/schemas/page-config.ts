import * as v from "valibot";
import { NETWORK_ID } from "../receipt";
import { TonAddressText, Version } from "./common";

/**
 * `GET /api/config`: what a page must know of the chain before it can hold money. Served by the
 * signaling server from plain data the operator (or `npm start`) gives it; validated by the pages.
 * Endpoints may be absolute or relative to the server's origin (the devnet mounted at `/ton`).
 */
const Base64 = v.pipe(v.string(), v.maxLength(64 * 1024), v.regex(/^[A-Za-z0-9+/]+={0,2}$/));
const Endpoint = v.pipe(v.string(), v.minLength(1), v.maxLength(500), v.regex(/^(https?:\/\/|\/)[^\s]*$/));

export const PageConfigSchema = v.object({
  v: Version,
  network: v.picklist(["devnet", "testnet", "mainnet"]),
  /** TON global id receipts are bound to; must agree with `network`. */
  globalId: v.number(),
  /** toncenter v2 JSON-RPC endpoint TonClient is pointed at. */
  tonEndpoint: Endpoint,
  /** Devnet only: `POST {address, amount}` sends test TON. */
  faucetUrl: v.optional(Endpoint),
  /**
   * Devnet only: the wallet the client pages pay from: a dev wallet each browser makes (the
   * default), or TON Connect, as on testnet and mainnet (a wallet pointed at this devnet, whose
   * chain id is its global id; the tests' wallet double).
   */
  wallet: v.optional(v.picklist(["dev", "tonconnect"])),
  /** The Registry's address; absent when none is deployed on this network. */
  registry: v.optional(TonAddressText),
  /** Code of the Escrow (fixes every escrow's address) and of a Registry entry, base64 BOC. */
  escrowCode: Base64,
  entryCode: v.optional(Base64),
  /** Seconds between an escrow's close and its withdraw (part of the escrow's address). */
  closeDelay: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(366 * 86_400)),
});

export type PageConfig = v.InferOutput<typeof PageConfigSchema>;

export class PageConfigError extends Error {
  override readonly name = "PageConfigError";
}

/** Validates a page config; the network and its global id must agree. */
export function checkPageConfig(input: unknown): PageConfig {
  const r = v.safeParse(PageConfigSchema, input);
  if (!r.success) {
    const issue = r.issues[0];
    const path = issue?.path?.map((p) => String(p.key)).join(".") || "(root)";
    throw new PageConfigError(`page config invalid at ${path}: ${issue?.expected ?? "valid value"} expected`);
  }
  if (NETWORK_ID[r.output.network] !== r.output.globalId) {
    throw new PageConfigError(
      `page config: ${r.output.network} has global id ${NETWORK_ID[r.output.network]}`,
    );
  }
  return r.output;
}
