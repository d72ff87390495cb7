import { open, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";
import { pipeline } from "node:stream";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".webmanifest": "application/manifest+json",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Page routes: `/` is the client, `/provider` the provider page, `/widget` the widget demo;
 * anything else is a file under the root. The second name of each is where `vite build` puts it.
 */
const PAGES: Record<string, string[]> = {
  "/": ["index.html", "client/index.html"],
  "/provider": ["provider.html", "provider/index.html"],
  "/provider/": ["provider.html", "provider/index.html"],
  "/widget": ["widget.html", "client/widget/demo.html"],
  "/widget/": ["widget.html", "client/widget/demo.html"],
};

/**
 * The widget's script and its lazy chunks are embedded by pages of any origin (one script tag), and
 * module scripts are fetched with CORS: they must say any origin may read them.
 */
const EMBEDDABLE = /^\/widget\/[^/]+\.js$/;

/**
 * Serves the built pages from `root` (GET and HEAD only). Paths are resolved inside `root`;
 * anything that would escape it is not found. Returns false when nothing matched.
 */
export async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
  } catch {
    return false;
  }
  const base = resolve(root);
  const candidates = PAGES[pathname] ?? [pathname];
  for (const candidate of candidates) {
    const file = resolve(join(base, normalize(candidate)));
    if (file !== base && !file.startsWith(base + sep)) return false;
    if (!(await stat(file).catch(() => undefined))?.isFile()) continue;
    // Its size is read from the file opened, so a file gone since (a rebuild under a running
    // server) is simply not found.
    const handle = await open(file).catch(() => undefined);
    const info = await handle?.stat().catch(() => undefined);
    if (!handle || !info) {
      await handle?.close();
      continue;
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "content-length": info.size,
      "x-content-type-options": "nosniff",
      ...(EMBEDDABLE.test(candidate) && { "access-control-allow-origin": "*" }),
    });
    if (req.method === "HEAD") {
      await handle.close();
      res.end();
    } else {
      // A read that fails mid-file cuts this response short (its length unmet: the client sees
      // it), not the server: an unhandled stream error would end every session on this node.
      pipeline(handle.createReadStream(), res, () => undefined);
    }
    return true;
  }
  return false;
}
