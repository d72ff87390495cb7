import { Cell } from "@ton/core";
import { ESCROW_CODE_HASH, PROVIDER_ENTRY_CODE_HASH } from "./generated/code-hashes";

/**
 * The Escrow and Registry entry code a server's `/api/config` names, held to the code compiled
 * from these sources (hashes written by `npm run contracts:build` into `generated/code-hashes.ts`;
 * tests/client/named-code.test.ts holds them to the code compiled from source). The code fixes
 * where money goes: every escrow's address (a deposit) and every entry's address (a stake) commit
 * to it, and a provider accepts receipts only from escrows of this code. A lying server's code
 * would take a deposit or a stake into a contract it wrote (one that pays it on any message).
 */
export class ContractCodeError extends Error {
  override readonly name = "ContractCodeError";
  constructor(
    /** Which code: "Escrow" or "Registry entry". */
    readonly contract: string,
    /** The hash of the code given (hex), or "not a BOC". */
    readonly given: string,
    /** The hash of this code's contract (hex). */
    readonly expected: string,
    server: string,
  ) {
    super(
      `the ${contract} code ${server} names (hash ${given}) is not the code compiled here (${expected}): money sent to it would go to a contract this client cannot vouch for`,
    );
  }
}

function hashOf(boc64: string): string {
  try {
    return Cell.fromBase64(boc64).hash().toString("hex").toUpperCase();
  } catch {
    return "not a BOC";
  }
}

/** Refuses (`ContractCodeError`) a config whose Escrow or entry code is not the code compiled here. */
export function checkNamedCode(
  config: { readonly escrowCode: string; readonly entryCode?: string | undefined },
  server: string,
): void {
  const escrow = hashOf(config.escrowCode);
  if (escrow !== ESCROW_CODE_HASH) throw new ContractCodeError("Escrow", escrow, ESCROW_CODE_HASH, server);
  if (config.entryCode === undefined) return;
  const entry = hashOf(config.entryCode);
  if (entry !== PROVIDER_ENTRY_CODE_HASH)
    throw new ContractCodeError("Registry entry", entry, PROVIDER_ENTRY_CODE_HASH, server);
}
