import { describe, expect, it } from "vitest";
import { ageText, identityKeys, shortKey, stakeText } from "../../client/web/trust-text";

describe("how the pages show who answered", () => {
  it("a short identity key, the stake in TON, the age in words", () => {
    const key = `1a2b3c${"0".repeat(54)}7e8f`;
    expect(shortKey(key)).toBe("1a2b3c…7e8f");
    expect(stakeText(0n)).toBe("no stake");
    expect(stakeText(2_000_000_000n)).toBe("2 TON staked");
    expect(stakeText(1_500_000_001n)).toBe("1.5 TON staked");
    const now = 1_800_000_000_000;
    expect(ageText(1_800_000_000 - 30, now)).toBe("registered 30 s ago");
    expect(ageText(1_800_000_000 - 600, now)).toBe("registered 10 min ago");
    expect(ageText(1_800_000_000 - 3 * 3600, now)).toBe("registered 3 h ago");
    expect(ageText(1_800_000_000 - 10 * 86_400, now)).toBe("registered 10 days ago");
  });

  it("saved pins and blocks keep only well-formed identity keys", () => {
    const good = "ab".repeat(32);
    expect(identityKeys([good, "nope", 5, good.toUpperCase()])).toEqual([good]);
    expect(identityKeys("not a list")).toEqual([]);
  });
});
