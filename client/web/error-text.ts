import { PolicyRefusedError, UntrustedProviderError } from "../../protocol";
import { NoProviderError, ProviderError, ProviderLostError } from "../sdk/errors";
import { EscrowNotReadyError } from "./escrow";

/** A provider's refusal after reading your escrow on chain, and what to do about it. */
const ESCROW_REFUSALS: Record<string, string> = {
  OUT_OF_FUNDS:
    "Your escrow cannot pay for more answers: the provider refused to start. Top it up in Wallet, then ask again.",
  KEY_NOT_AUTHORISED:
    "Your escrow has not authorised this browser's session key (or revoked it): the provider refused. Deposit in Wallet to authorise it, then ask again.",
  KEY_EPOCH:
    "Your escrow authorised this browser's key again under a new number: reload the page so receipts carry it, then ask again.",
  ESCROW_CLOSING:
    "Your escrow is closing, so providers no longer serve it. Withdraw the rest after the delay, then deposit again.",
  ESCROW_NETWORK: "Your escrow is on another TON network than this provider. Reload the page.",
  ESCROW_CANNOT_PAY:
    "Your escrow cannot pay for more tokens: the provider stopped (what it streamed is paid). Top it up in Wallet, then ask again.",
  ESCROW_CODE:
    "The account named as your escrow does not run Silk's Escrow contract, so providers will not serve it. Reload the page to use your own escrow.",
  ESCROW_CLOSE_DELAY:
    "Your escrow's close delay is shorter than this provider needs to claim, so it will not serve it. Use an escrow with a longer close delay.",
  ESCROW_UNREACHABLE: "The provider could not read your escrow on the chain just now. Try again in a moment.",
};

/** What went wrong, said so a user knows what to do. Never includes a prompt or a key. */
export function explainError(err: unknown): string {
  if (err instanceof ProviderLostError) {
    return "The provider disconnected before the answer was complete and no other provider could continue it. The partial answer is kept; press Regenerate to try again.";
  }
  if (err instanceof NoProviderError) {
    switch (err.code) {
      case "NO_MODEL":
        return "No provider serves this model right now. Pick another model, or try again later.";
      case "PRICE_TOO_LOW":
        return "Every provider of this model asks more than your highest price. Raise your highest price per token in Settings, or pick a cheaper model.";
      case "ALL_BUSY":
      case "QUEUE_FULL":
        return "Every provider of this model is busy. Try again in a moment.";
      default:
        return `No provider could take this request (${err.code}). Try again in a moment.`;
    }
  }
  if (err instanceof EscrowNotReadyError) return err.message;
  if (err instanceof PolicyRefusedError) {
    return "The server offered only providers your pins and blocks exclude, so nothing was sent. Unpin or unblock providers, or try again later.";
  }
  if (err instanceof UntrustedProviderError) {
    return err.code === "REGISTRY_UNAVAILABLE"
      ? "The TON Registry could not be read to check the provider, so nothing was sent. Try again in a moment."
      : "The server named a provider the TON Registry does not vouch for (unregistered, or another key or payout), so nothing was sent. Try again; if it repeats, this server is not honest.";
  }
  if (err instanceof ProviderError)
    return ESCROW_REFUSALS[err.code] ?? `The provider refused the request (${err.code}): ${err.message}`;
  if (err instanceof Error && err.name === "AbortError") return "Stopped.";
  if (err instanceof Error && /connect|websocket|xhr poll|timeout/i.test(err.message)) {
    return "Cannot reach the Silk server. Check the connection; the page retries when you send again.";
  }
  return "Something went wrong with this answer. Try again.";
}
