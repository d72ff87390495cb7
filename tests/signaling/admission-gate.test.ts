import { describe, expect, it } from "vitest";
import { AdmissionGate } from "../../signaling/admission-gate";

// A short drain time, so the backlog is `minPending` until a pace is measured.
const config = { lagLimitMs: 1_000, minPending: 3, drainMs: 10, minRetryMs: 500, maxRetryMs: 60_000 };

describe("admission gate", () => {
  it("lets returning providers in up to its backlog, then tells the rest when to come back", () => {
    const gate = new AdmissionGate(config, 0);
    for (const key of ["a", "b", "c"]) {
      expect(gate.verdict(0, true)).toEqual({ ok: true });
      gate.admitted(key, 0);
    }
    const refused = gate.verdict(0, true);
    expect(refused).toMatchObject({ ok: false, why: "backlog" });
    // A connection that is not returning on a ticket does not wait for the registrations.
    expect(gate.verdict(0, false)).toEqual({ ok: true });
    // One registered: a place is free again.
    gate.settled("a", true, 10);
    expect(gate.verdict(10, true)).toEqual({ ok: true });
    // One left without registering: its place is free too.
    gate.admitted("d", 10);
    expect(gate.verdict(10, true).ok).toBe(false);
    gate.settled("b", false, 20);
    expect(gate.verdict(20, true)).toEqual({ ok: true });
  });

  it("spaces the clients it turns away one after another, within its bounds", () => {
    const gate = new AdmissionGate(config, 0);
    for (const key of ["a", "b", "c"]) gate.admitted(key, 0);
    const hints = Array.from({ length: 20_000 }, () => {
      const v = gate.verdict(0, true);
      if (v.ok) throw new Error("admitted past the backlog");
      return v.retryAfterMs;
    });
    for (let i = 1; i < hints.length; i++) expect(hints[i]!).toBeGreaterThanOrEqual(hints[i - 1]!);
    expect(hints[0]!).toBeGreaterThanOrEqual(500);
    expect(new Set(hints).size).toBeGreaterThan(10_000); // one slot each, 5 ms apart at the assumed pace
    expect(hints.at(-1)).toBe(60_000);
  });

  it("lets more wait at once as it measures a faster pace of registrations", () => {
    const gate = new AdmissionGate({ ...config, drainMs: 4_000 }, 0);
    expect(gate.limit(0)).toBe(800); // the pace assumed before anything is measured (200/s), over 4 s
    // 400 registrations in one second.
    for (let i = 0; i < 400; i++) {
      gate.admitted(i, 0);
      gate.settled(i, true, 500);
    }
    expect(gate.limit(1_000)).toBeGreaterThan(800);
    // Seconds in which the admitted backlog registers nobody slow it down again.
    gate.admitted("stuck", 1_000);
    for (let t = 2_000; t <= 10_000; t += 1_000) gate.limit(t);
    expect(gate.limit(10_000)).toBeLessThan(10);
  });

  it("turns every new connection away while its event loop runs late", () => {
    const gate = new AdmissionGate(config, 0);
    gate.lag(1_500);
    const v = gate.verdict(0, false);
    expect(v).toMatchObject({ ok: false, why: "lag" });
    expect(v.ok || v.retryAfterMs >= 1_500).toBe(true);
    gate.lag(20);
    expect(gate.verdict(0, false)).toEqual({ ok: true });
    expect(new AdmissionGate({ ...config, lagLimitMs: 0 }, 0).verdict(0, false)).toEqual({ ok: true });
  });

  it("forgets handshakes that never registered after their time", () => {
    const gate = new AdmissionGate({ ...config, pendingTtlMs: 30_000 }, 0);
    for (const key of ["a", "b", "c"]) gate.admitted(key, 0);
    expect(gate.verdict(29_000, true).ok).toBe(false);
    expect(gate.verdict(30_000, true)).toEqual({ ok: true });
    expect(gate.backlog).toBe(0);
  });
});
