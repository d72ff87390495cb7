import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Resume tickets: what lets a returning provider past the per-IP connection limit during a
 * reconnect storm. The node signs one (HMAC-SHA256 with the resume secret) into every
 * registration ack and, once it is a quarter through its life, into a heartbeat ack; it names the
 * provider's identity key and an expiry. A client dials with it after losing its connection. A
 * ticket that verifies admits a few connections (`ADMISSIONS_PER_TICKET`, for handshakes that
 * time out on a loaded node), and a connection it admitted may register only that identity
 * (`BAD_TICKET` otherwise). So a ticket is worth about what the ordinary limit already let its
 * holder have: one registered provider's connection. A bare `?resume=1` claim is worth nothing.
 *
 * Format: `<identity key hex>.<expiry ms, base 36>.<first 16 bytes of the HMAC, base64url>`.
 */

export interface TicketClaim {
  readonly identityKey: string;
  /** The MAC, canonically spelled: what a ticket's admissions are counted under. */
  readonly id: string;
}

const TICKET = /^([0-9a-f]{64})\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{22})$/;
/**
 * Connections one ticket admits on a node. More than one: a client whose handshake timed out on
 * an overloaded node dials again with the same ticket, and a storm is when that happens (the
 * 10,000-provider bench refused honest providers when a ticket admitted one connection at a time).
 */
export const ADMISSIONS_PER_TICKET = 8;
/** Bounds the count's memory; past it, tickets admit nobody more (the ordinary limit applies). */
const MAX_TRACKED = 200_000;

export class ResumeTickets {
  /** Admissions so far per ticket, kept until the ticket expires. */
  private readonly admitted = new Map<string, { count: number; expiresAt: number }>();

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
    // the same MAC must not count as another ticket.
    const want = this.mac(`${identityKey}.${expiry}`).toString("base64url");
    if (!timingSafeEqual(Buffer.from(mac), Buffer.from(want))) return undefined;
    return { identityKey, id: want, expiresAt };
  }

  /**
   * Verifies `ticket` and counts one admission on it; undefined if invalid or used up. `first`:
   * its first admission on this node (the per-address budget counts returning providers, not
   * their retries, which the ticket's own count bounds).
   */
  admit(ticket: unknown, now: number): (TicketClaim & { first: boolean }) | undefined {
    const claim = this.verify(ticket, now);
    if (!claim) return undefined;
    const used = this.admitted.get(claim.id);
    if (used && used.count >= ADMISSIONS_PER_TICKET) return undefined;
    if (!used && this.admitted.size >= MAX_TRACKED) return undefined;
    this.admitted.set(claim.id, { count: (used?.count ?? 0) + 1, expiresAt: claim.expiresAt });
    return { identityKey: claim.identityKey, id: claim.id, first: !used || used.count === 0 };
  }

  /** Gives an admission back (the connection was refused after all). */
  giveBack(id: string): void {
    const used = this.admitted.get(id);
    if (used) used.count = Math.max(0, used.count - 1);
  }

  /** Forgets the counts of expired tickets. */
  prune(now: number): void {
    for (const [id, used] of this.admitted) if (used.expiresAt <= now) this.admitted.delete(id);
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
