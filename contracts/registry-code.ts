import { Address } from "@ton/core";
import { REGISTRY_ADDRESS } from "./generated/registry-address";

/**
 * The one Registry this code reads: the address the Registry compiled from these sources deploys
 * to, on every network (an address commits to the contract's code and first data, and the Registry
 * cannot change its code). Written by `npm run contracts:build` into
 * `generated/registry-address.ts`; tests/client/gateway-registry-code.test.ts holds it to the code
 * compiled from source. A comparison, no compiler: cheap enough for every page and SDK program.
 */
export const THIS_CODES_REGISTRY: Address = Address.parse(REGISTRY_ADDRESS);

/**
 * A Registry named by someone else's word (a server's `/api/config`, a flag, a stored file) that
 * is not the Registry of this code: an older deployment, or a look-alike whose getter points at
 * entries it wrote itself, whose entries this code cannot vouch for.
 */
export class RegistryCodeError extends Error {
  override readonly name = "RegistryCodeError";
  constructor(
    /** The address given. */
    readonly given: string,
    /** The address of this code's Registry. */
    readonly expected: string,
    what: string,
  ) {
    super(
      `${what} ${given} is not the Registry the contracts compiled here deploy (${expected}): another code, whose entries this client cannot vouch for`,
    );
  }
}

/** Refuses (`RegistryCodeError`, naming `what` and both addresses) a Registry of other code. */
export function checkRegistryCode(registry: Address, what: string): void {
  if (!registry.equals(THIS_CODES_REGISTRY))
    throw new RegistryCodeError(registry.toString(), THIS_CODES_REGISTRY.toString(), what);
}

/**
 * A chain config's Registry (a server's `/api/config`, as the pages and `init` read it), refused
 * when it is not this code's: the server's word is not taken on which contract holds the entries.
 */
export function checkNamedRegistry(config: { readonly registry?: string | undefined }, server: string): void {
  if (config.registry) checkRegistryCode(Address.parse(config.registry), `the Registry ${server} names,`);
}

/**
 * The Registry a requester checks providers in under a chain config: this code's, whether the
 * config names it or names none (a server's silence must not turn the check off: on a network
 * where none is deployed, every provider is then refused by name, `RegistryUnavailableError` or
 * `UnregisteredProviderError`). A config naming another is refused (`checkNamedRegistry`).
 */
export function registryOf(config: { readonly registry?: string | undefined }, server: string): Address {
  checkNamedRegistry(config, server);
  return THIS_CODES_REGISTRY;
}
