import type { Address } from "@ton/core";

/**
 * The chain's clock, Unix seconds: the time of the block the endpoint last synced, read with an
 * account's state (TonClient's `timestampt`, toncenter's `sync_utime`). What is signed with a
 * validity window the chain checks (a wallet's transfer, a key's proof, a reserve raise) is dated
 * by this clock, not this machine's, which may be minutes or hours off.
 */
export async function chainClock(
  client: { getContractState(address: Address): Promise<{ timestampt: number }> },
  at: Address,
): Promise<number> {
  return (await client.getContractState(at)).timestampt;
}
