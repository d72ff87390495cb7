/** The exit code in a refusal, whichever client reported it (sandbox error, devnet or toncenter text). */
export function exitCodeOf(err: unknown): number | undefined {
  const direct = (err as { exitCode?: unknown } | null)?.exitCode;
  if (typeof direct === "number") return direct;
  const text = err instanceof Error ? err.message : String(err);
  const m = /exit[ _]?code[^-\d]{0,4}(-?\d+)/i.exec(text);
  return m ? Number(m[1]) : undefined;
}
