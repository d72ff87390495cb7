import type { IncomingMessage } from "node:http";

/**
 * The TON Connect manifest wallets fetch before connecting: its `url` must be the origin of the
 * page that connects, so it is made per request from the Host the page was loaded from (one
 * server, any hostname). The icon is a PNG (wallets refuse SVG), shipped in the built pages.
 */
export interface TonConnectManifest {
  url: string;
  name: string;
  iconUrl: string;
}

export function tonConnectManifest(origin: string): TonConnectManifest {
  return { url: origin, name: "Silk", iconUrl: `${origin}/silk-icon.png` };
}

const HOST = /^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/i;

/** `https://host[:port]` of the request; X-Forwarded-Proto/Host only behind a trusted proxy. */
export function requestOrigin(req: IncomingMessage, trustProxy: boolean): string | undefined {
  const first = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h)?.split(",")[0]?.trim();
  const host = (trustProxy && first(req.headers["x-forwarded-host"])) || first(req.headers.host);
  if (!host || !HOST.test(host)) return undefined;
  const forwarded = trustProxy ? first(req.headers["x-forwarded-proto"]) : undefined;
  const encrypted = Boolean((req.socket as { encrypted?: boolean }).encrypted);
  const proto = forwarded === "https" || forwarded === "http" ? forwarded : encrypted ? "https" : "http";
  return `${proto}://${host.toLowerCase()}`;
}
