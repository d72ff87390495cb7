import { formatTon } from "../../protocol/ton-amount";
import { ENTRY_OP_VALUE, STAKE_EXTRA } from "../registry-values";
import type { ProviderChain } from "./chain-store.svelte";

/**
 * The stake in the provider's Registry entry, from the page: lock more, leave the Registry (the
 * stake then unlocks after the Registry's delay), and take it back once unlocked. Each sends one
 * message from the wallet straight from the click and is judged by reading the entry again, as
 * registration is; the sentence after it says what the chain shows.
 */

/** Locks `amount` more nanoTON in the entry (requesters may demand a stake). */
export function addStake(chain: ProviderChain, amount: bigint): Promise<void> {
  const { config, wallet, registered } = chain;
  if (!config || !wallet) return chain.fail("connect a wallet first: it owns the entry and pays the stake");
  if (!registered) return chain.fail("register first: the stake is locked in your Registry entry");
  if (amount <= 0n) return chain.fail("stake a positive amount of TON");
  const needs = amount + STAKE_EXTRA;
  if (chain.walletBalance !== undefined && chain.walletBalance < needs + 50_000_000n) {
    return chain.fail(
      `staking ${formatTon(amount)} TON sends ${formatTon(needs)} TON with the fee and gas, and the wallet holds ${formatTon(chain.walletBalance)} TON`,
    );
  }
  const entry = chain.core.entryAddress(config, wallet.address);
  if (!entry) return chain.fail("no Registry is deployed on this network yet");
  const target = registered.stake + amount;
  return chain.sendAndConfirm(
    wallet,
    { address: entry, amount: needs, payload: chain.core.stakePayloads.add(amount) },
    { busy: "Locking the stake…", action: "Stake", what: "stake" },
    async () => ((await chain.readEntry())?.stake ?? 0n) >= target,
    () =>
      `Staked ${formatTon(amount)} TON: your entry now holds ${formatTon(chain.registered?.stake ?? target)} TON.`,
  );
}

/**
 * Withdrawing is two steps on chain: leaving the Registry starts the unlock delay (requesters stop
 * choosing this provider at once); once it is over, the stake goes back to the wallet.
 */
export function withdrawStake(chain: ProviderChain, now = Date.now() / 1000): Promise<void> {
  const { config, wallet, stake } = chain;
  if (!config || !wallet) return chain.fail("connect a wallet first: it owns the entry");
  const entry = chain.core.entryAddress(config, wallet.address);
  if (!entry || !stake || stake.stake === 0n) return chain.fail("no stake is locked in your entry");
  if (chain.registered) {
    return chain.sendAndConfirm(
      wallet,
      { address: entry, amount: ENTRY_OP_VALUE, payload: chain.core.stakePayloads.leave() },
      { busy: "Leaving the Registry…", action: "Stake", what: "leaving the Registry" },
      async () => (await chain.readEntry()) === undefined,
      () =>
        `Left the Registry: requesters no longer choose this provider. ${formatTon(stake.stake)} TON of stake unlocks in ${untilText((chain.stake?.unlockAt ?? now) - now)}; withdraw it then.`,
    );
  }
  if (stake.unlockAt > now) return chain.fail(`the stake unlocks in ${untilText(stake.unlockAt - now)}`);
  return chain.sendAndConfirm(
    wallet,
    { address: entry, amount: ENTRY_OP_VALUE, payload: chain.core.stakePayloads.withdraw() },
    { busy: "Withdrawing the stake…", action: "Stake", what: "withdrawing the stake" },
    async () => (await chain.core.readStake(chain.client!, config, wallet.address)).stake === 0n,
    `Withdrawn: ${formatTon(stake.stake)} TON of stake is back in your wallet (less the network fee).`,
  );
}

/** "13 days 23 h", "5 h 10 min", "40 s": how long until something, for a countdown. */
export function untilText(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s >= 86_400) return `${Math.floor(s / 86_400)} days ${Math.floor((s % 86_400) / 3600)} h`;
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min`;
  return `${s} s`;
}
