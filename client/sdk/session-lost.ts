import { RelayRefusedError, SignalingLostError } from "../../peer/signaling-client";
import { ChannelClosedError, type ErrorCode, SilkError, TimeoutError } from "../../protocol";
import { ProviderLostError, StalledError, TamperedError } from "./errors";

/** How a session's end reads to a request it cut short: tampering, a stall, or the provider leaving. */
export function lostError(
  reason: Error | undefined,
  partial: string,
  tokens: number,
  cost: bigint,
  midToolCall: boolean,
  /** Who carried the session's frames (`RequesterSessionOptions.carrier`), named when one was tampered with. */
  carrier?: string,
): ProviderLostError {
  if (reason instanceof TimeoutError) return new StalledError(partial, tokens, cost, reason);
  if (reason instanceof SilkError && TAMPERING.has(reason.code))
    return new TamperedError(partial, tokens, cost, reason, carrier);
  // The server would not carry the session's frames: its doing, said as such (the provider did not leave).
  if (reason instanceof RelayRefusedError)
    return new ProviderLostError(
      partial,
      tokens,
      cost,
      reason,
      `the session was lost: ${reason.message}; the provider is not blamed`,
      "PROVIDER_LOST",
      midToolCall,
    );
  return new ProviderLostError(
    partial,
    tokens,
    cost,
    reason ?? new ChannelClosedError(),
    undefined,
    "PROVIDER_LOST",
    midToolCall,
  );
}

/**
 * Whether a request's lost session is its provider's doing, so the request asks it no more: not
 * when signaling went away (the provider registers again) nor when a server would not relay the
 * session's frames (the server's doing, counted in the request's refusals). Chat and embeddings
 * both ask here.
 */
export function providerBlamed(err: ProviderLostError): boolean {
  return !(err.cause instanceof SignalingLostError || err.cause instanceof RelayRefusedError);
}

/** Codes a session closes with when a frame in flight was altered, dropped, replayed or re-cut. */
const TAMPERING: ReadonlySet<string> = new Set([
  "DECRYPT",
  "REPLAY",
  "MALFORMED",
  "OVERSIZE",
  "COUNTER_OVERFLOW",
]);

export function codeOf(reason: Error): ErrorCode {
  return reason instanceof SilkError ? reason.code : "CHANNEL_CLOSED";
}
