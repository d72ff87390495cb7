import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Resume tickets: what lets a returning provider past the per-IP connection limit during a
 * reconnect storm. The node signs one (HMAC-SHA256 with the resume secret) into every
 * registration ack and, once it is a quarter through its life, into a heartbeat ack; it names the
 * provider's identity key and an expiry. A client dials with it after losing its connection. A
 * ticket that verifies admits one connection at a time (a second dial with it while the first
 * holds it meets the ordinary limit), and the connection it admitted may register only that
 * identity (`BAD_TICKET` otherwise). So a ticket is worth what the ordinary limit already let its
 * holder have: one registered provider's connection. A bare `?resume=1` claim is worth nothing.
 *
 * Format: `<identity key hex>.<expiry ms, base 36>.<first 16 bytes of the HMAC, base64url>`.
 */

export interface TicketClaim {
  readonly identityKey: string;
  /** The MAC: the key a ticket's one live connection is held under. */
  readonly id: string;
}

const TICKET = /^([0-9a-f]{64})\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{22})$/;
/** An admission whose socket never arrived frees its ticket after this long. */
const UNBOUND_HOLD_MS = 30_000;
/** Bounds the holds' memory; past it, tickets admit nobody more (the ordinary limit applies). */
const MAX_HOLDS = 200_000;

export class ResumeTickets {
  /** Tickets in use: their socket once connected, or when they were admitted until it is. */
  private readonly holds = new Map<string, { at: number; socket?: string; expiresAt: number }>();

  constructor(
    private readonly secret: string,
    private readonly ttlMs: number,
  ) {}

  issue(identityKey: string, now: number): string {
    const body = `${identityKey}.${(now + this.ttlMs).toString(36)}`;
    return `${body}.${this.mac(body).toString("base64url")}`;
  }

  /** The ticket's claim if it is well formed, signed by this secret and unexpired. */
  verify(ticket: unknown, now: number): (TicketClaim & { expiresAt: number }) | undefined {
    if (typeof ticket !== "string" || ticket.length > 120) return undefined;
    const m = TICKET.exec(ticket);
    if (!m) return undefined;
    const [, identityKey, expiry, mac] = m as unknown as [string, string, string, string];
    const expiresAt = Number.parseInt(expiry, 36);
    if (!(expiresAt > now)) return undefined;
    // Compared as text: base64url's last character carries spare bits, and a variant spelling of
    // the same MAC must not pass as a second ticket.
    const want = this.mac(`${identityKey}.${expiry}`).toString("base64url");
    if (!timingSafeEqual(Buffer.from(mac), Buffer.from(want))) return undefined;
    return { identityKey, id: want, expiresAt };
  }

  /** Verifies `ticket` and holds it for the connection it admits; undefined if invalid or in use. */
  admit(ticket: unknown, now: number): TicketClaim | undefined {
    const claim = this.verify(ticket, now);
    if (!claim) return undefined;
    const held = this.holds.get(claim.id);
    if (held && (held.socket !== undefined || now - held.at < UNBOUND_HOLD_MS)) return undefined;
    if (!held && this.holds.size >= MAX_HOLDS) return undefined;
    this.holds.set(claim.id, { at: now, expiresAt: claim.expiresAt });
    return { identityKey: claim.identityKey, id: claim.id };
  }

  /** The admitted connection arrived: the ticket stays held until it goes. */
  bind(id: string, socketId: string): void {
    const held = this.holds.get(id);
    if (held) held.socket = socketId;
  }

  release(id: string, socketId?: string): void {
    const held = this.holds.get(id);
    if (held && (socketId === undefined || held.socket === socketId)) this.holds.delete(id);
  }

  /** Forgets holds whose ticket expired or whose connection never arrived. */
  prune(now: number): void {
    for (const [id, h] of this.holds)
      if (h.expiresAt <= now || (h.socket === undefined && now - h.at >= UNBOUND_HOLD_MS))
        this.holds.delete(id);
  }

  private mac(body: string): Buffer {
    return createHmac("sha256", this.secret).update(`silk-resume-ticket|${body}`).digest().subarray(0, 16);
  }
}

/**
 * The secret a standalone node signs tickets with when none is configured: read from `path`, or
 * made there (0600) on first use, so tickets outlive a restart of the node. Created by linking a
 * finished temporary file into place, so nodes starting together agree on one secret.
 */
export function fileSecret(path: string): string {
  try {
    return secretFrom(readFileSync(path, "utf8"), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, randomBytes(32).toString("hex"), { mode: 0o600 });
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    unlinkSync(tmp);
  }
  return secretFrom(readFileSync(path, "utf8"), path);
}

function secretFrom(text: string, where: string): string {
  const s = text.trim();
  if (s.length < 16) throw new Error(`the resume secret in ${where} is shorter than 16 characters`);
  return s;
}
