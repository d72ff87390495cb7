import { Address } from "@ton/core";
import type { TonClient } from "@ton/ton";
import { toHex } from "../../protocol/encoding";
import { checkRegistryCode } from "../named-code";
import { ProviderEntryContract, Registry } from "./registry";

/** A provider's Registry entry as read on chain. */
export interface RegistryRecord {
  readonly identityKey: Uint8Array;
  readonly payout: Address;
  readonly stake: bigint;
  readonly registeredAt: number;
}

/** Reads providers' Registry entries by the wallet that owns them; undefined when none is published. */
export interface RegistryReader {
  read(owner: Address): Promise<RegistryRecord | undefined>;
}

export interface TonRegistryReaderOptions {
  /** How long an entry read stays good (default 30 s): long enough for a burst of sessions, short enough to see a removal soon. */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/**
 * The Registry read through a network's TON client (`TonClient` against toncenter's API, or the
 * devnet's). The entry's address comes from the Registry's own getter, so an entry at it was
 * deployed by this Registry with the code it knows: nobody can place a look-alike there. That
 * address never changes (cached for good); the entry itself is cached for `ttlMs`. A failed read
 * is not cached. Only the Registry of this code is read: another address (a server's config that
 * names an older deployment, or a look-alike whose getter names entries it wrote itself) is
 * refused at once with `RegistryCodeError` (named-code.ts), naming both addresses.
 */
export function tonRegistryReader(
  client: Pick<TonClient, "open">,
  registry: Address,
  opts: TonRegistryReaderOptions = {},
): RegistryReader {
  checkRegistryCode(registry, "the Registry to read");
  const ttlMs = opts.ttlMs ?? 30_000;
  const now = opts.now ?? Date.now;
  const reg = client.open(Registry.createFromAddress(registry));
  const addresses = new Map<string, Promise<Address>>();
  const entries = new Map<
    string,
    { readonly until: number; readonly read: Promise<RegistryRecord | undefined> }
  >();

  const entryAddress = (owner: Address): Promise<Address> => {
    const key = owner.toRawString();
    let found = addresses.get(key);
    if (!found) {
      found = reg.getEntryAddress(owner);
      addresses.set(key, found);
      found.catch(() => addresses.delete(key));
    }
    return found;
  };

  return {
    read(owner) {
      const key = owner.toRawString();
      const cached = entries.get(key);
      if (cached && cached.until > now()) return cached.read;
      const read = entryAddress(owner).then(async (address) => {
        const got = await client.open(ProviderEntryContract.createFromAddress(address)).getEntry();
        if (!got?.registry.equals(registry) || !got.owner.equals(owner)) return undefined;
        return {
          identityKey: got.entry.identityKey,
          payout: got.entry.payout,
          stake: got.stake,
          registeredAt: got.registeredAt,
        };
      });
      entries.set(key, { until: now() + ttlMs, read });
      read.catch(() => entries.delete(key));
      return read;
    },
  };
}

/** Parses an owner address as the server named it; undefined when it is not one. */
export function parseOwner(text: string | undefined): Address | undefined {
  if (!text) return undefined;
  try {
    return Address.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The signaling server's check of what a provider declares of its entry (signaling/entry-check.ts):
 * the stake and registration time read on chain, or undefined when the owner's entry does not
 * publish this identity key (hex) and payout. An owner or payout that is not an address is none.
 */
export function registryEntryCheck(reader: RegistryReader) {
  return async (claim: {
    readonly owner: string;
    readonly identityKey: string;
    readonly payout: string;
  }): Promise<{ stake: bigint; registeredAt: number } | undefined> => {
    const owner = parseOwner(claim.owner);
    const payout = parseOwner(claim.payout);
    if (!owner || !payout) return undefined;
    const record = await reader.read(owner);
    if (!record || toHex(record.identityKey) !== claim.identityKey || !record.payout.equals(payout))
      return undefined;
    return { stake: record.stake, registeredAt: record.registeredAt };
  };
}
