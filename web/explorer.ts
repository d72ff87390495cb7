/**
 * Where a public explorer (Tonviewer) shows an address or a transaction on the network a Silk
 * server names; undefined on a local devnet, which no explorer sees. Pure.
 */
export function explorerUrl(
  network: string | undefined,
  what: { readonly address: string } | { readonly tx: string },
): string | undefined {
  const site =
    network === "mainnet"
      ? "https://tonviewer.com"
      : network === "testnet"
        ? "https://testnet.tonviewer.com"
        : undefined;
  if (!site) return undefined;
  return "tx" in what ? `${site}/transaction/${what.tx}` : `${site}/${what.address}`;
}
