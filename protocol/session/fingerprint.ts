import { HandshakeError } from "../errors";

/**
 * DTLS certificate fingerprints from an SDP (`a=fingerprint:sha-256 AB:CD:…`), in one canonical
 * text: lowercase algorithm, uppercase colon-separated hex, several lines sorted and joined. Each
 * side reads its own from its local description and the peer's from the remote one; a signaling
 * server that rewrites either makes the two transcripts differ and the handshake fail.
 */
const FINGERPRINT_RE = /^a=fingerprint:([A-Za-z0-9-]+) ([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+)\s*$/;

/** For sessions relayed through the signaling server: no DTLS, the Silk handshake stands alone. */
export const RELAY_FINGERPRINT = "relay";

export function fingerprintFromSdp(sdp: string): string {
  const found = new Set<string>();
  for (const line of sdp.split(/\r?\n/)) {
    const m = FINGERPRINT_RE.exec(line.trim());
    if (m) found.add(`${m[1]!.toLowerCase()} ${m[2]!.toUpperCase()}`);
  }
  if (found.size === 0) throw new HandshakeError("SDP carries no DTLS fingerprint");
  return [...found].sort().join(",");
}
