/**
 * Whether this tab is connected to the Silk server, read from the runtime's signaling client.
 * Structural so it reads both a client that exposes its connection state (`state.phase`) and one
 * that exposes only its socket. Pure.
 */
export type Link = "connected" | "paused" | "reconnecting";

export interface LinkSource {
  readonly state?: { readonly phase: string; readonly paused?: boolean };
  readonly socket?: { readonly connected: boolean } | undefined;
}

/** "paused" only once the client has left the directory (connected, not listed). */
export function linkOf(s: LinkSource): Link {
  if (s.state) {
    if (s.state.phase === "connected" && s.state.paused) return "paused";
    return s.state.phase === "registered" || s.state.phase === "connected" ? "connected" : "reconnecting";
  }
  return s.socket?.connected ? "connected" : "reconnecting";
}

/** The one line at the top of the provider page: what this tab is doing, and why. */
export function servingHeadline(o: {
  serving: "off" | "starting" | "serving" | "paused";
  link: Link;
  model: string | undefined;
  downSince: number | undefined;
  now: number;
  /** The Registry was read and has no entry for this provider: requesters' apps refuse it. */
  unregistered?: boolean;
  /** Whether a payout address is set (Start serving needs one). */
  payout?: boolean;
}): {
  text: string;
  /** The state alone ("Serving llama3.2:1b", "Not serving"), for a card beside the headline: said
   * here, not cut from `text`, which a model id's own colon (Ollama's "llama3.2:1b") would cut short. */
  short: string;
  tone: "ok" | "warn" | "idle";
  /** What a screen reader is told, when it differs: no second counter announced every second. */
  spoken?: string;
} {
  const m = o.model ? ` ${o.model}` : "";
  // Idle, the headline names the next step: "Not serving" alone left a newcomer looking for it.
  if (o.serving === "off")
    return {
      text: !o.model
        ? "Not serving: load a model, then press Start serving"
        : `Not serving: ${o.model} is loaded; ${o.payout ? "press Start serving" : "set a payout address, then press Start serving"}`,
      short: "Not serving",
      tone: "idle",
    };
  if (o.serving === "starting")
    return { text: "Joining the network…", short: "Joining the network…", tone: "idle" };
  if (o.link === "reconnecting") {
    const secs = o.downSince === undefined ? 0 : Math.max(0, Math.round((o.now - o.downSince) / 1000));
    const why = "requesters cannot reach this tab until it is back";
    return {
      text: `Reconnecting to Silk (lost ${secs} s ago): ${why}`,
      short: `Reconnecting to Silk (lost ${secs} s ago)`,
      tone: "warn",
      spoken: `Reconnecting to Silk: ${why}`,
    };
  }
  if (o.serving === "paused")
    return o.link === "paused"
      ? {
          text: `Paused${m}: not listed on Silk, so no new requester is sent here; sessions already open finish`,
          short: `Paused${m}`,
          tone: "warn",
        }
      : { text: "Pausing: leaving the list of providers…", short: "Pausing", tone: "warn" };
  // Listed and paired, yet every web client and widget checks the Registry first and moves on:
  // "Serving" alone would have a newcomer wait for questions that never come.
  if (o.unregistered)
    return {
      text: `Serving${m}, but no question will come: requesters ask only providers in the TON Registry. Register under “Price and payout”.`,
      short: `Serving${m}`,
      tone: "warn",
    };
  return { text: `Serving${m}: connected to Silk`, short: `Serving${m}`, tone: "ok" };
}
