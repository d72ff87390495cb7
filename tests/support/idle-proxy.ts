import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A reverse proxy with a read timeout, as nginx's `proxy_read_timeout` (60 s by default) is: when
 * the upstream sends nothing for `idleMs` — no headers, no body byte — it gives up. Before the
 * upstream's headers that is a 504 with nginx's HTML page; after them the connection is cut, the
 * body truncated. Real HTTP both ways on loopback; nothing of the gateway is faked.
 */
export async function startIdleProxy(
  upstream: string,
  idleMs: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(upstream);
  const server: Server = createServer((req, res) => {
    const out = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.on("data", (b: Buffer) => {
          idle.refresh();
          res.write(b);
        });
        up.on("end", () => {
          clearTimeout(idle);
          res.end();
        });
      },
    );
    const idle = setTimeout(() => {
      out.destroy();
      if (res.headersSent) res.destroy();
      else
        res
          .writeHead(504, { "content-type": "text/html" })
          .end("<html><body>504 Gateway Time-out</body></html>");
    }, idleMs);
    out.on("error", () => {
      clearTimeout(idle);
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on("close", () => {
      clearTimeout(idle);
      out.destroy();
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
