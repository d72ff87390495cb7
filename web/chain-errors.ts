import { ChainTimeoutError } from "./chain-config";
import { WalletFailedError, WalletNetworkError, WalletNotReadyError, WalletRejectedError } from "./wallet";

/**
 * A failed chain action in words a user can act on, for both pages. Node and wallet errors arrive
 * as raw JSON-RPC or HTTP text ("Failed to unpack account state", "exit code 37"): they are never
 * shown as they are. `action` names what was tried ("Deposit", "Registration").
 */
export function chainErrorText(err: unknown, action: string): string {
  if (err instanceof WalletRejectedError)
    return `${action}: you declined it in the wallet; nothing was sent.`;
  if (err instanceof WalletFailedError)
    return `${action}: ${err.message}. Check the wallet's history before trying again.`;
  if (err instanceof WalletNotReadyError) return `${action}: connect a wallet first.`;
  if (err instanceof WalletNetworkError) return `${action}: ${err.message}.`;
  if (err instanceof ChainTimeoutError) {
    return `${action}: the chain has not shown it yet. It may still land: check again in a minute before retrying, or you may pay twice.`;
  }
  const text = err instanceof Error ? err.message : String(err);
  if (/faucet/i.test(text)) return `${action}: ${text}.`;
  if (
    /unpack account state|not enough|insufficient|exit code|exitcode|cannot apply external|balance/i.test(
      text,
    )
  ) {
    return `${action} was not sent: the wallet holds too little TON for the amount and the network fee. Add TON to the wallet, then try again.`;
  }
  if (/fetch|network|http|status code|ECONN|json-?rpc|5\d\d/i.test(text)) {
    return `${action}: the TON network could not be reached just now. Nothing was sent; try again in a moment.`;
  }
  return `${action} did not go through. Check the wallet's history before trying again.`;
}
