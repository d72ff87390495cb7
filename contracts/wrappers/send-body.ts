import { type Cell, type ContractProvider, type Sender, SendMode } from "@ton/core";

/**
 * Every operation message of our wrappers: the sender pays the forward fees on top of `value`
 * (PAY_GAS_SEPARATELY), so the contract receives exactly `value`. `bounce` left undefined keeps
 * the sender's default (bouncing), so a refused operation returns the TON.
 */
export async function sendBody(
  provider: ContractProvider,
  via: Sender,
  value: bigint,
  body?: Cell,
  bounce?: boolean,
): Promise<void> {
  await provider.internal(via, { value, bounce, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
}
