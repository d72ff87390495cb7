import { parseArgs } from "node:util";
import { Address } from "@ton/core";
import { DEFAULT_AUDIT_RATE, type MaxPrice } from "../../protocol";

/** `npm run auditor`: what to audit, with which escrow, how many times. */
export interface AuditorCliOptions {
  readonly signalingUrl: string;
  readonly keyFile: string;
  readonly escrow: string;
  readonly keyEpoch: number;
  readonly maxPrice: MaxPrice;
  readonly model: string;
  readonly audits: number;
  readonly maxTokens: number;
  /** Send reports to the signaling server (`audit:report`). */
  readonly submit: boolean;
}

export const AUDITOR_USAGE = `Usage: npm run auditor -- --model MODEL --escrow ADDRESS --max-price NANOTON [options]

Sends challenges (realistic prompts, greedy with a fixed seed, logprobs on) to providers of MODEL
as an ordinary requester paying from its own escrow, checks each signed answer against another
provider of the model (teacher forcing), prints one JSON line per audit and sends the reports
(evidence anyone can check) to the signaling server. Exit status 1 when an audit failed.

  --model M          the model to audit                                   (SILK_MODEL)
  --escrow ADDRESS   your escrow; its session key is --key-file's          (SILK_ESCROW)
  --max-price N      highest nanoTON per token you accept                  (SILK_MAX_PRICE)
  --audits N         how many challenges to send (default 10)
  --max-tokens N     tokens per challenge (default 32; at least 16 are compared)
  --signaling URL    default http://127.0.0.1:8787                         (SILK_SIGNALING_URL)
  --key-file PATH    the session key, made if missing (default .silk/auditor.key)  (SILK_KEY_FILE)
  --key-epoch N      the key's epoch in the escrow (default 0)
  --no-submit        keep the reports to yourself

A requester that audits as it goes uses the SDK's Auditor (client/README.md): by default
${DEFAULT_AUDIT_RATE * 100}% of its requests bring a challenge along.`;

export class AuditorOptionsError extends Error {}

export function parseAuditorOptions(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): AuditorCliOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      model: { type: "string" },
      escrow: { type: "string" },
      "max-price": { type: "string" },
      audits: { type: "string" },
      "max-tokens": { type: "string" },
      signaling: { type: "string" },
      "key-file": { type: "string" },
      "key-epoch": { type: "string" },
      "no-submit": { type: "boolean" },
    },
    strict: true,
  });
  const need = (v: string | undefined, name: string) => {
    if (!v) throw new AuditorOptionsError(`${name} is required`);
    return v;
  };
  const count = (v: string | undefined, name: string, fallback: number, min: number, max: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new AuditorOptionsError(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
  const escrow = need(values.escrow ?? env.SILK_ESCROW, "--escrow");
  try {
    Address.parse(escrow);
  } catch {
    throw new AuditorOptionsError("--escrow is not a TON address");
  }
  const price = need(values["max-price"] ?? env.SILK_MAX_PRICE, "--max-price");
  if (!/^[0-9]{1,18}$/.test(price)) throw new AuditorOptionsError("--max-price is a whole number of nanoTON");
  return {
    signalingUrl: values.signaling ?? env.SILK_SIGNALING_URL ?? "http://127.0.0.1:8787",
    keyFile: values["key-file"] ?? env.SILK_KEY_FILE ?? ".silk/auditor.key",
    escrow,
    keyEpoch: count(values["key-epoch"], "--key-epoch", 0, 0, 2 ** 31),
    maxPrice: { promptNanoPerToken: BigInt(price), completionNanoPerToken: BigInt(price) },
    model: need(values.model ?? env.SILK_MODEL, "--model"),
    audits: count(values.audits, "--audits", 10, 1, 10_000),
    maxTokens: count(values["max-tokens"], "--max-tokens", 32, 16, 512),
    submit: !values["no-submit"],
  };
}
