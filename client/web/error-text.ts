import { NoProviderError, ProviderError, ProviderLostError } from "../sdk/errors";

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
  if (err instanceof OutOfFundsError) return err.message;
  if (err instanceof ProviderError) return `The provider refused the request (${err.code}): ${err.message}`;
  if (err instanceof Error && err.name === "AbortError") return "Stopped.";
  if (err instanceof Error && /connect|websocket|xhr poll|timeout/i.test(err.message)) {
    return "Cannot reach the Silk server. Check the connection; the page retries when you send again.";
  }
  return "Something went wrong with this answer. Try again.";
}

/** The escrow cannot pay for another answer. */
export class OutOfFundsError extends Error {
  override readonly name = "OutOfFundsError";
  constructor() {
    super("Your escrow is out of funds: top it up in Wallet to keep asking.");
  }
}
