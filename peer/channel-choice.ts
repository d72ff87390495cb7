/**
 * Which channel a session runs on, as a pure machine (like session-machine.ts): WebRTC is tried
 * first; the relay is taken when WebRTC fails, when its deadline passes, when the fingerprints the
 * handshake binds cannot be read, or when the other side asks for it. `connectPeer` feeds it what
 * the link and the server report and carries out its effects, so each outcome happens once.
 * A direct channel does not run through the server, so once its session is secured the server's
 * word that it ended is checked with the peer (`probe`) instead of believed.
 *
 *   trying → direct | relay → stopped
 */
export type ChoicePhase = "trying" | "direct" | "relay" | "stopped";

export type ChoiceEvent =
  /** The data channel opened; `bound` when both DTLS fingerprints could be read. */
  | { readonly type: "direct-up"; readonly bound: boolean }
  /** WebRTC failed, or did not open within its deadline. */
  | { readonly type: "direct-failed" }
  /** The other side gave up on WebRTC and asked for the relay. */
  | { readonly type: "peer-relay" }
  /**
   * The session ended (the server ended or moved it, or the requester's check of the provider
   * failed); `bySignaling` when only the signaling connection went away, which a direct channel,
   * needing no server, outlives; `probeable` when it is the server's word alone and the session's
   * owner can ask the peer over the secured session whether it is still there.
   */
  | { readonly type: "ended"; readonly bySignaling: boolean; readonly probeable?: boolean };

export type ChoiceEffect =
  /** Stop the WebRTC deadline. */
  | "disarm"
  /** Settle the channel as the direct one. */
  | "use-direct"
  /** Settle the channel as the relay. */
  | "use-relay"
  /** Tell the other side to switch to the relay too. */
  | "tell-relay"
  /** Close the WebRTC link (with the ending's error, when there is one). */
  | "close-link"
  /** Close the relay link with the ending's error. */
  | "end-relay"
  /** Fail the channel with the ending's error. */
  | "fail"
  /** Ask the peer over the session; the owner closes the channel only if it does not answer. */
  | "probe"
  /** The session goes on though the server no longer counts it (our signaling went away). */
  | "outlived";

export function choose(
  phase: ChoicePhase,
  event: ChoiceEvent,
): { phase: ChoicePhase; effects: ChoiceEffect[] } {
  if (phase === "stopped") return { phase, effects: [] };
  if (event.type === "ended") {
    if (phase === "direct" && event.bySignaling) return { phase, effects: ["outlived"] };
    if (phase === "direct" && event.probeable) return { phase, effects: ["probe"] };
    const effects: ChoiceEffect[] = ["end-relay", "close-link"];
    return { phase: "stopped", effects: phase === "trying" ? ["disarm", ...effects, "fail"] : effects };
  }
  if (phase !== "trying") return { phase, effects: [] };
  switch (event.type) {
    case "direct-up":
      if (event.bound) return { phase: "direct", effects: ["disarm", "use-direct"] };
      return { phase: "relay", effects: ["disarm", "close-link", "tell-relay", "use-relay"] };
    case "direct-failed":
      return { phase: "relay", effects: ["disarm", "close-link", "tell-relay", "use-relay"] };
    case "peer-relay":
      return { phase: "relay", effects: ["disarm", "close-link", "use-relay"] };
  }
}
