/**
 * Decimal text of nanoTON as TON, exact (no float), for display. Its own module, importing nothing:
 * the widget's chat shell shows prices, and `pricing.ts` would bring `errors.ts` into its first download.
 */
export function formatTon(nano: bigint): string {
  const negative = nano < 0n;
  const abs = negative ? -nano : nano;
  const whole = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`;
}
