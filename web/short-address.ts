/** A TON address shortened for the eye, as wallets show it: its first four and last four characters (`EQAb…x9Kf`). */
export function shortAddress(address: string): string {
  const a = address.trim();
  return a.length <= 12 ? a : `${a.slice(0, 4)}…${a.slice(-4)}`;
}
