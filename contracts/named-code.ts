import { Address, Cell } from "@ton/core";
import { ESCROW_CODE_HASH, PROVIDER_ENTRY_CODE_HASH } from "./generated/code-hashes";
import { REGISTRY_ADDRESS } from "./generated/registry-address";

/**
 * The contracts someone else names (a server's `/api/config`, a flag, a stored file), held to the
 * contracts compiled from these sources: one check of one kind, "named X, this build has Y".
 * The Escrow and Registry entry code fix where money goes: every escrow's address (a deposit) and
 * every entry's address (a stake) commit to it, and a provider accepts receipts only from escrows
 * of this code, so a lying server's code would take a deposit or a stake into a contract it wrote.
 * The Registry fixes whose entries vouch for a provider. Hashes and the address are written by
 * `npm run contracts:build` into `generated/` (tests/client/named-code.test.ts and
 * gateway-registry-code.test.ts hold them to the code compiled from source): a comparison, no
 * compiler, cheap enough for every page and SDK program.
 */

/**
 * The one Registry this code reads: the address the Registry compiled from these sources deploys
 * to, on every network (an address commits to the contract's code and first data, and the Registry
 * cannot change its code).
 */
export const THIS_CODES_REGISTRY: Address = Address.parse(REGISTRY_ADDRESS);

/** A contract named by someone else's word that is not this build's (`contract`, `given`, `expected`). */
export abstract class NamedContractError extends Error {
  constructor(
    /** Which contract: "Escrow", "Registry entry" (code, by hash) or "Registry" (by address). */
    readonly contract: string,
    /** What was named: a code hash (hex, or "not a BOC"), or an address. */
    readonly given: string,
    /** What this build has. */
    readonly expected: string,
    message: string,
  ) {
    super(message);
  }
}

/** Escrow or Registry entry code that is not the code compiled here. */
export class ContractCodeError extends NamedContractError {
  override readonly name = "ContractCodeError";
  constructor(contract: string, given: string, expected: string, server: string) {
    super(
      contract,
      given,
      expected,
      `the ${contract} code ${server} names (hash ${given}) is not the code compiled here (${expected}): money sent to it would go to a contract this client cannot vouch for`,
    );
  }
}

/**
 * A Registry that is not this code's: an older deployment, or a look-alike whose getter points at
 * entries it wrote itself, whose entries this code cannot vouch for.
 */
export class RegistryCodeError extends NamedContractError {
  override readonly name = "RegistryCodeError";
  constructor(given: string, expected: string, what: string) {
    super(
      "Registry",
      given,
      expected,
      `${what} ${given} is not the Registry the contracts compiled here deploy (${expected}): another code, whose entries this client cannot vouch for`,
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

/** Refuses (`RegistryCodeError`, naming `what` and both addresses) a Registry of other code. */
export function checkRegistryCode(registry: Address, what: string): void {
  if (!registry.equals(THIS_CODES_REGISTRY))
    throw new RegistryCodeError(registry.toString(), THIS_CODES_REGISTRY.toString(), what);
}

function checkNamedRegistry(config: { readonly registry?: string | undefined }, server: string): void {
  if (config.registry) checkRegistryCode(Address.parse(config.registry), `the Registry ${server} names,`);
}

/**
 * Refuses a chain config (a server's `/api/config`, as the pages and `init` read it) naming
 * contracts other than this build's: Escrow or entry code (`ContractCodeError`), a Registry
 * (`RegistryCodeError`). A config may name no entry code and no Registry.
 */
export function checkNamedCode(
  config: {
    readonly escrowCode: string;
    readonly entryCode?: string | undefined;
    readonly registry?: string | undefined;
  },
  server: string,
): void {
  const escrow = hashOf(config.escrowCode);
  if (escrow !== ESCROW_CODE_HASH) throw new ContractCodeError("Escrow", escrow, ESCROW_CODE_HASH, server);
  if (config.entryCode !== undefined) {
    const entry = hashOf(config.entryCode);
    if (entry !== PROVIDER_ENTRY_CODE_HASH)
      throw new ContractCodeError("Registry entry", entry, PROVIDER_ENTRY_CODE_HASH, server);
  }
  checkNamedRegistry(config, server);
}

/**
 * The Registry a requester checks providers in under a chain config: this code's, whether the
 * config names it or names none (a server's silence must not turn the check off: on a network
 * where none is deployed, every provider is then refused by name, `RegistryUnavailableError` or
 * `UnregisteredProviderError`). A config naming another is refused (`RegistryCodeError`).
 */
export function registryOf(config: { readonly registry?: string | undefined }, server: string): Address {
  checkNamedRegistry(config, server);
  return THIS_CODES_REGISTRY;
}
