import { RelayRefusedError } from "../../peer/signaling-errors";
import { PolicyRefusedError, UntrustedProviderError } from "../../protocol";
import { formatTon } from "../../protocol/ton-amount";
import {
  AccountStoreError,
  NoProviderError,
  ProviderError,
  ProviderLostError,
  ReserveNotSeenError,
} from "../sdk/errors";
import { EscrowNotReadyError } from "./escrow";
import { TabBusyError } from "./tab-turns";

/** A provider's refusal after reading your escrow on chain, and what to do about it. */
const ESCROW_REFUSALS: Record<string, string> = {
  OUT_OF_FUNDS:
    "Your escrow cannot pay for more answers: the provider refused to start. Top it up in Wallet, then ask again.",
  ESCROW_HELD_BACK:
    "Your escrow could pay, but the only provider on offer holds that back: it is owed as much on your other keys' streams, or it serves only what a reserve for it covers. Ask again later, when another provider may be on offer, or top up in Wallet.",
  KEY_NOT_AUTHORISED:
    "Your escrow has not authorised this browser's session key (or revoked it): the provider refused. Deposit in Wallet to authorise it, then ask again.",
  KEY_EPOCH:
    "Your escrow authorised this browser's key again under a new number: reload the page so receipts carry it, then ask again.",
  ESCROW_CLOSING:
    "Your escrow is closing, so providers no longer serve it. Deposit again in Wallet to reopen it, or withdraw the rest after the delay.",
  ESCROW_NETWORK: "Your escrow is on another TON network than this provider. Reload the page.",
  ESCROW_CANNOT_PAY:
    "Your escrow cannot pay for more tokens: the provider stopped (what it streamed is paid). Top it up in Wallet, then ask again.",
  ESCROW_CODE:
    "The provider did not recognise your escrow's code as Silk's Escrow (it may run another version of Silk), and no other provider was free. Try again in a moment; if it persists, reload the page to use your own escrow.",
  ESCROW_CLOSE_DELAY:
    "Your escrow's close delay is shorter than this provider needs to claim, so it will not serve it. Use an escrow with a longer close delay.",
  ESCROW_UNREACHABLE: "The provider could not read your escrow on the chain just now. Try again in a moment.",
  UNPAID_TOKENS:
    "This provider streamed tokens to this browser's key earlier that were never signed for (a tab closed mid-answer?), so it will not stream more on credit for now. Try again in an hour, or ask another provider.",
  FOREIGN_CLAIMS:
    "This provider saw its receipts from your escrow claimed by someone else in small amounts, each at its own fee, so it no longer serves your escrow. Let providers claim their own receipts; ask another provider.",
  ESCROW_CROWDED:
    "Your escrow has paid so many other streams that this provider could not claim its own pay from it, so it will not serve it. Ask another provider, or use a fresh escrow.",
  SESSION_REPLACED:
    "Another tab or program using this browser's key opened a session with the same provider, so this answer stopped there. Ask from one tab at a time.",
};

/** The part of an answer that arrived before its provider was lost, and what it cost. */
export function lostAnswer(err: unknown): { partial: string; tokens: number; cost: bigint } | undefined {
  if (!(err instanceof ProviderLostError)) return undefined;
  return { partial: err.partial, tokens: err.tokens, cost: err.cost };
}

/** Whether the fix is in the wallet panel (deposit, top up, reopen): the page then offers to open it. */
export function needsWallet(err: unknown): boolean {
  if (err instanceof EscrowNotReadyError) return true;
  if (err instanceof ReserveNotSeenError) return err.reason === "refused";
  return (
    err instanceof ProviderError &&
    ["OUT_OF_FUNDS", "KEY_NOT_AUTHORISED", "ESCROW_CLOSING", "ESCROW_CANNOT_PAY"].includes(err.code)
  );
}

const ANOTHER_SERVER = "Try again in a moment; if it repeats, use another Silk server.";

const UNREACHABLE =
  "Cannot reach Silk: the server does not answer. Check the connection; sending again retries.";

/** What went wrong, said so a user knows what to do. Never includes a prompt or a key. */
export function explainError(err: unknown): string {
  // The signaling server would not carry the session's frames (its relay budget): not the provider.
  if (err instanceof RelayRefusedError)
    return `The Silk server would not carry the connection to the provider, so nothing was answered. ${ANOTHER_SERVER}`;
  if (err instanceof ProviderLostError) {
    if (err.cause instanceof RelayRefusedError)
      return `The Silk server stopped carrying the connection to the provider before the answer was complete. The partial answer is kept; press Regenerate. ${ANOTHER_SERVER}`;
    return "The provider disconnected before the answer was complete and no other provider could continue it. The partial answer is kept; press Regenerate to try again.";
  }
  if (err instanceof NoProviderError) {
    switch (err.code) {
      case "NO_MODEL":
        return "No provider serves this model right now. Pick another model, or try again later.";
      case "PRICE_TOO_LOW":
        return "Every provider of this model asks more than your highest price. Raise your highest price per token in Wallet → “Highest price you accept”, or pick a cheaper model.";
      case "TIMEOUT":
      case "UNREACHABLE":
        return UNREACHABLE;
      case "ALL_BUSY":
      case "QUEUE_FULL":
        return "Every provider of this model is busy. Try again in a moment.";
      case "QUOTE_FORGED":
        return "The Silk server offered a provider at a price or payout address the provider never signed, so nothing was sent and nothing paid. Try again; if it repeats, this server is not honest.";
      default:
        return `No provider could take this request (${err.code}). Try again in a moment.`;
    }
  }
  if (err instanceof EscrowNotReadyError) return err.message;
  // This browser's own store, not the provider or the network: it said only "Something went wrong".
  if (err instanceof AccountStoreError) {
    return `This browser's storage ${err.code === "TIMEOUT" ? "did not answer in time" : "failed"} while keeping what this answer costs, so the answer stopped: Silk signs for nothing it cannot remember. Free some disk space or leave private browsing, then press Regenerate.`;
  }
  if (err instanceof TabBusyError) {
    return `Another tab of this browser kept answering with the same key for ${Math.round(err.waitedMs / 60_000)} minutes, so this question was not sent. Stop that answer or close that tab, then ask again.`;
  }
  if (err instanceof PolicyRefusedError) {
    return "The server offered only providers your pins and blocks exclude, so nothing was sent. Unpin or unblock providers, or try again later.";
  }
  if (err instanceof UntrustedProviderError) {
    return err.code === "REGISTRY_UNAVAILABLE"
      ? "The TON Registry could not be read to check the provider, so nothing was sent. Try again in a moment."
      : "The server named a provider the TON Registry does not vouch for (unregistered, or another key or payout), so nothing was sent. Try again; if it repeats, this server is not honest.";
  }
  if (err instanceof ReserveNotSeenError) {
    if (err.reason === "refused")
      return `Your escrow could not set ${formatTon(err.target)} TON aside for this provider (a reserve, so no other provider's claim can take its pay), so nothing was sent. Top it up in Wallet, or lower your highest price, then ask again.`;
    if (err.reason === "clock")
      return `The reserve for this provider (${formatTon(err.target)} TON of your escrow set aside for it) was refused as dated wrong, and the TON network's clock could not be read to date it, so this device's clock did and is likely off. Set this device's clock right, or try again in a moment.`;
    return err.reason === "not-sent"
      ? `The reserve for this provider (${formatTon(err.target)} TON of your escrow set aside for it) could not be raised on the TON network, so nothing more was sent. Try again in a moment.`
      : `The reserve for this provider (${formatTon(err.target)} TON of your escrow set aside for it) was not seen on the TON network in time, so nothing more was sent. Try again in a moment.`;
  }
  if (err instanceof ProviderError) return ESCROW_REFUSALS[err.code] ?? providerFailed(err);
  if (err instanceof Error && err.name === "AbortError") return "Stopped.";
  if (err instanceof Error && err.name === "SignalingError") return UNREACHABLE;
  if (err instanceof Error && /connect|websocket|xhr poll|timeout|timed out|fetch/i.test(err.message)) {
    return UNREACHABLE;
  }
  return "Something went wrong with this answer. Try again.";
}

/**
 * Any other refusal or failure of a provider's, and the way on. `err.message` is the SDK's own
 * sentence for the provider's code (protocol/provider-said.ts), never the provider's text: a
 * provider is an untrusted peer.
 */
function providerFailed(err: ProviderError): string {
  const said = `${err.message} (${err.code})`;
  switch (err.code) {
    case "CONTEXT_LENGTH_EXCEEDED":
      return `The provider could not answer: ${said}. Start a new chat, or shorten your question.`;
    case "UNSUPPORTED":
    case "UNKNOWN_FIELD":
      return `The provider could not answer: ${said}. Change this chat's options, or pick another model.`;
    default:
      return `The provider could not answer: ${said}. Press Regenerate to ask again; another provider may answer.`;
  }
}
