import { describe, expect, it } from "vitest";
import { parseGatewayOptions } from "../../client/gateway/options";
import { DEFAULT_AUDIT_RATE } from "../../protocol";
import { OptionsError, parseHeadlessOptions } from "../../provider/headless/options";

const PAYOUT = `0:${"22".repeat(32)}`;

describe("headless provider options", () => {
  const base = ["--backend", "http://127.0.0.1:8080/v1", "--model", "m", "--price", "7", "--payout", PAYOUT];
  it("reads flags, with environment and defaults behind them", () => {
    const o = parseHeadlessOptions(base, { SILK_CAPACITY: "3", SILK_BACKEND_API_KEY: "k" });
    expect(o).toMatchObject({ model: "m", backendModel: "m", capacity: 3, network: "devnet", apiKey: "k" });
    expect(o.price.nanoPerToken).toBe(7n);
    expect(parseHeadlessOptions([...base, "--capacity", "5"], { SILK_CAPACITY: "3" }).capacity).toBe(5);
  });
  it("says which value is wrong", () => {
    expect(() => parseHeadlessOptions(base.slice(2), {})).toThrow(/--backend/);
    expect(() => parseHeadlessOptions([...base, "--price", "1.5"], {})).toThrow(OptionsError);
    expect(() => parseHeadlessOptions([...base.slice(0, 6), "--payout", "nope"], {})).toThrow(
      /not a TON address/,
    );
    expect(() => parseHeadlessOptions([...base, "--network", "moon"], {})).toThrow(
      /devnet, testnet or mainnet/,
    );
    expect(() => parseHeadlessOptions([...base, "--capacity", "0"], {})).toThrow(/--capacity/);
    expect(() => parseHeadlessOptions([...base, "--owner", "nope"], {})).toThrow(/--owner/);
    expect(() => parseHeadlessOptions([...base, "--registry", "nope"], {})).toThrow(/--registry/);
    // The HTTP backend cannot score given tokens: declaring it would pair audits' scoring here.
    for (const f of ["scoring", "forced_scoring"])
      expect(() => parseHeadlessOptions([...base, "--features", `logprobs,${f}`], {})).toThrow(
        `--features: ${f}: the HTTP backend cannot score given tokens`,
      );
    expect(parseHeadlessOptions([...base, "--features", "logprobs"], {}).features).toEqual(["logprobs"]);
  });
  it("requires reserves unless told otherwise: --unreserved-nano N or whole-balance, or SILK_UNRESERVED_NANO", () => {
    // Absent: reserves required, trusting a prompt's bound and a window (connectTon's default).
    expect(parseHeadlessOptions(base, {}).unreservedNano).toBeUndefined();
    expect(parseHeadlessOptions([...base, "--unreserved-nano", "whole-balance"], {}).unreservedNano).toBe(
      "whole-balance",
    );
    expect(parseHeadlessOptions([...base, "--unreserved-nano", "64000000"], {}).unreservedNano).toBe(
      64_000_000,
    );
    expect(parseHeadlessOptions(base, { SILK_UNRESERVED_NANO: "0" }).unreservedNano).toBe(0);
    expect(() => parseHeadlessOptions([...base, "--unreserved-nano", "-1"], {})).toThrow(/--unreserved-nano/);
  });

  it("tells requesters the Registry entry's owner: the payout wallet unless --owner says otherwise", () => {
    const owner = `0:${"33".repeat(32)}`;
    expect(parseHeadlessOptions(base, {}).owner).toBe(PAYOUT);
    expect(parseHeadlessOptions([...base, "--owner", owner], {}).owner).toBe(owner);
    expect(parseHeadlessOptions(base, { SILK_OWNER: owner, SILK_REGISTRY: owner })).toMatchObject({
      owner,
      registry: owner,
    });
  });
});

describe("gateway options", () => {
  it("needs an escrow and a price, and defaults to loopback", () => {
    const o = parseGatewayOptions(["--escrow", PAYOUT, "--max-price", "9"], {});
    expect(o.host).toBe("127.0.0.1");
    expect(o.keyEpoch).toBe(1);
    expect(() =>
      parseGatewayOptions(["--escrow", PAYOUT, "--max-price", "9", "--key-epoch", "x"], {}),
    ).toThrow(/--key-epoch/);
    expect(o.maxPrice).toEqual({ promptNanoPerToken: 9n, completionNanoPerToken: 9n });
    expect(() => parseGatewayOptions(["--max-price", "9"], {})).toThrow(/--escrow/);
    expect(() => parseGatewayOptions(["--escrow", PAYOUT, "--max-price=-1"], {})).toThrow(/nanoTON/);
  });

  it("the signaling server's key: --server-key (one, or URL=KEY pairs), SILK_SERVER_KEY, else init's pin for init's server", () => {
    const base = ["--escrow", PAYOUT, "--max-price", "9"];
    const key = "ab".repeat(32);
    expect(parseGatewayOptions(base, {}).serverKey).toBeUndefined();
    expect(parseGatewayOptions([...base, "--server-key", key.toUpperCase()], {}).serverKey).toBe(key);
    expect(parseGatewayOptions(base, { SILK_SERVER_KEY: key }).serverKey).toBe(key);
    expect(
      parseGatewayOptions([...base, "--server-key", `http://a:1=${key},http://b:2=${"cd".repeat(32)}`], {})
        .serverKey,
    ).toEqual({ "http://a:1": key, "http://b:2": "cd".repeat(32) });
    expect(() => parseGatewayOptions([...base, "--server-key", "abc"], {})).toThrow(/--server-key/);
    const stored = {
      escrow: PAYOUT,
      keyEpoch: 1,
      network: "devnet" as const,
      signalingUrl: "http://s:8787",
      serverKey: key,
    };
    expect(parseGatewayOptions(["--max-price", "9"], {}, stored).serverKey).toBe(key);
    // Pinned for init's server only.
    expect(
      parseGatewayOptions(["--max-price", "9", "--signaling", "http://other:1"], {}, stored).serverKey,
    ).toBeUndefined();
  });

  it("reserves: the default unless --reserve-ahead N (which needs a chain) or off", () => {
    const base = ["--escrow", PAYOUT, "--max-price", "9"];
    // Undefined: raised by default over the chain (connectGateway, tests/client/gateway-reserves.test.ts).
    expect(parseGatewayOptions(base, {}).reserveAheadNano).toBeUndefined();
    expect(parseGatewayOptions([...base, "--reserve-ahead", "off"], {}).reserveAheadNano).toBe("off");
    expect(
      parseGatewayOptions([...base, "--trust-server"], { SILK_RESERVE_AHEAD: "off" }).reserveAheadNano,
    ).toBe("off");
    expect(parseGatewayOptions([...base, "--reserve-ahead", "80000000"], {}).reserveAheadNano).toBe(
      80_000_000n,
    );
    expect(parseGatewayOptions(base, { SILK_RESERVE_AHEAD: "5" }).reserveAheadNano).toBe(5n);
    expect(() => parseGatewayOptions([...base, "--reserve-ahead", "0.5"], {})).toThrow(/--reserve-ahead/);
    expect(() => parseGatewayOptions([...base, "--trust-server", "--reserve-ahead", "5"], {})).toThrow(
      /needs --ton-endpoint/,
    );
  });

  it("stall and queue deadlines: the SDK's defaults, or whole milliseconds from flags and environment", () => {
    const base = ["--escrow", PAYOUT, "--max-price", "9"];
    expect(parseGatewayOptions(base, {})).toMatchObject({ stallTimeoutMs: 20_000, queueTimeoutMs: 30_000 });
    expect(
      parseGatewayOptions([...base, "--stall-timeout", "5000"], { SILK_QUEUE_TIMEOUT_MS: "2500" }),
    ).toMatchObject({ stallTimeoutMs: 5000, queueTimeoutMs: 2500 });
    expect(() => parseGatewayOptions([...base, "--stall-timeout", "0"], {})).toThrow(/--stall-timeout/);
    expect(() => parseGatewayOptions(base, { SILK_QUEUE_TIMEOUT_MS: "1.5s" })).toThrow(/--queue-timeout/);
  });

  it("audits: off by default, the SDK's rate with --audits, a checked rate and minimum otherwise", () => {
    const base = ["--escrow", PAYOUT, "--max-price", "9"];
    expect(parseGatewayOptions(base, {}).audits).toEqual({ rate: 0 });
    expect(parseGatewayOptions([...base, "--audits"], {}).audits).toEqual({ rate: DEFAULT_AUDIT_RATE });
    expect(parseGatewayOptions(base, { SILK_AUDIT_RATE: "0.25", SILK_MIN_AUDITS: "3" }).audits).toEqual({
      rate: 0.25,
      minAuditsPassed: 3,
    });
    expect(() => parseGatewayOptions([...base, "--audit-rate", "2"], {})).toThrow(/--audit-rate/);
    expect(() => parseGatewayOptions([...base, "--audit-rate", "x"], {})).toThrow(/--audit-rate/);
    expect(() => parseGatewayOptions([...base, "--min-audits=1.5"], {})).toThrow(/--min-audits/);
  });

  it("checks providers against the Registry by default, with the policy from flags and environment", () => {
    const key = "ab".repeat(32);
    const o = parseGatewayOptions(
      ["--escrow", PAYOUT, "--max-price", "9", "--min-stake", "5", "--allow", `${key.toUpperCase()}`],
      { SILK_MIN_AGE: "60" },
    );
    expect(o.trust).toEqual({
      tonEndpoint: "http://127.0.0.1:8081/jsonRPC",
      policy: { minStake: 5n, minAgeSeconds: 60, allow: [key] },
    });
    const args = ["--escrow", PAYOUT, "--max-price", "9"];
    expect(() => parseGatewayOptions([...args, "--block", "nope"], {})).toThrow(/identity key/);
    expect(() => parseGatewayOptions([...args, "--network", "mainnet"], {})).toThrow(/--ton-endpoint/);
    expect(() =>
      parseGatewayOptions(
        [...args, "--network", "testnet", "--ton-endpoint", "https://t.example/jsonRPC"],
        {},
      ),
    ).toThrow(/--registry/);
    expect(parseGatewayOptions([...args, "--trust-server"], {}).trust).toEqual({ policy: {} });
  });
});
