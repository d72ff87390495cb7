import { Address } from "@ton/core";
import type { WalletTransaction } from "./wallet";

/**
 * A TON transfer deep link (ton://transfer/…) carrying a transaction's first message: its body
 * and, to deploy, its StateInit. What a command line prints on testnet and mainnet for the user's
 * own wallet to send.
 */
export function transferLink(tx: WalletTransaction): string {
  const m = tx.messages[0]!;
  const url = (b64: string) => b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const params = new URLSearchParams({ amount: m.amount.toString() });
  if (m.payload) params.set("bin", url(m.payload));
  if (m.stateInit) params.set("init", url(m.stateInit));
  return `ton://transfer/${Address.parse(m.address).toString({ urlSafe: true, bounceable: true })}?${params}`;
}
