import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ADMISSIONS_PER_TICKET, fileSecret, ResumeTickets } from "../../signaling/resume-tickets";

const KEY = "ab".repeat(32);
const T0 = 1_800_000_000_000;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

describe("resume tickets", () => {
  const tickets = new ResumeTickets("a secret of sixteen+", 60_000);
  const ticket = tickets.issue(KEY, T0);

  it.each([
    ["the ticket as issued", ticket, T0 + 59_999, true],
    ["at its expiry", ticket, T0 + 60_000, false],
    ["another secret's", new ResumeTickets("another secret here", 60_000).issue(KEY, T0), T0, false],
    ["its identity changed", ticket.replace(KEY, "cd".repeat(32)), T0, false],
    [
      "its expiry moved",
      ticket.replace(`.${(T0 + 60_000).toString(36)}.`, `.${(T0 + 9e9).toString(36)}.`),
      T0,
      false,
    ],
    [
      "its MAC changed",
      `${ticket.slice(0, -2)}${ticket.at(-2) === "A" ? "B" : "A"}${ticket.at(-1)}`,
      T0,
      false,
    ],
    // The last base64url character has spare bits: the same MAC spelled otherwise is no new ticket.
    ["its MAC spelled otherwise", `${ticket.slice(0, -1)}${B64[B64.indexOf(ticket.at(-1)!) ^ 1]}`, T0, false],
    ["not a string", 42, T0, false],
    ["too long", `${ticket}${"A".repeat(200)}`, T0, false],
  ])("%s", (_, given, now, valid) => {
    expect(tickets.verify(given, now) !== undefined).toBe(valid);
  });

  it("admits a few connections per ticket, counting a spelling variant as the same ticket", () => {
    const t = new ResumeTickets("a secret of sixteen+", 60_000);
    const claims = Array.from({ length: ADMISSIONS_PER_TICKET }, () => t.admit(ticket, T0));
    expect(claims.every((c) => c?.identityKey === KEY)).toBe(true);
    // Only the first spends the address's reconnect budget; the rest are its retries.
    expect(claims.map((c) => c?.first)).toEqual([true, ...Array(ADMISSIONS_PER_TICKET - 1).fill(false)]);
    expect(t.admit(ticket, T0)).toBeUndefined();
    t.giveBack(claims[0]!.id); // that connection was refused after all
    expect(t.admit(ticket, T0)).toBeDefined();
    expect(t.admit(ticket, T0)).toBeUndefined();
    // A fresh ticket (the next registration's) starts again.
    expect(t.admit(t.issue(KEY, T0 + 1), T0 + 1)).toBeDefined();
  });

  it("a node keeps its secret in a file made once (0600), the same for every node starting from it", () => {
    const path = join(mkdtempSync(join(tmpdir(), "silk-secret-")), "sub", "resume-secret");
    const a = fileSecret(path);
    expect(fileSecret(path)).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(path, "utf8")).toBe(a);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
