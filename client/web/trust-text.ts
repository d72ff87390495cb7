/** How the pages show a provider's Registry standing, and read saved identity keys back. */

/** The identity keys (64 lowercase hex) in a saved value; anything else is dropped. */
export function identityKeys(x: unknown): string[] {
  return Array.isArray(x)
    ? x.filter((k): k is string => typeof k === "string" && /^[0-9a-f]{64}$/.test(k))
    : [];
}

/** `1a2b3c…7e8f`: enough of a key to tell providers apart on screen. */
export function shortKey(key: string): string {
  return `${key.slice(0, 6)}…${key.slice(-4)}`;
}

/** "2 TON staked", "no stake". */
export function stakeText(nano: bigint): string {
  if (nano === 0n) return "no stake";
  const whole = nano / 1_000_000_000n;
  const frac = (nano % 1_000_000_000n).toString().padStart(9, "0").slice(0, 3).replace(/0+$/, "");
  return `${whole}${frac ? `.${frac}` : ""} TON staked`;
}

/** "registered 3 h ago", from unix seconds. */
export function ageText(registeredAt: number, nowMs = Date.now()): string {
  const s = Math.max(0, Math.floor(nowMs / 1000) - registeredAt);
  if (s < 120) return `registered ${s} s ago`;
  if (s < 7200) return `registered ${Math.floor(s / 60)} min ago`;
  if (s < 172_800) return `registered ${Math.floor(s / 3600)} h ago`;
  return `registered ${Math.floor(s / 86_400)} days ago`;
}
