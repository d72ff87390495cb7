import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  call,
  cleanup,
  connect,
  flat,
  next,
  provider,
  requestBody,
  requestSession,
  startServer,
} from "./helpers";

afterEach(cleanup);

describe("signaling over HTTP: health, metrics, models, static pages, shutdown", () => {
  it("serves /healthz, /api/models and Prometheus /metrics that follow what happens", async () => {
    const { url } = await startServer();
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ ok: true, providers: 0 });
    await provider(url, { models: [{ model: "m1", price: flat(2n) }] });
    const r = await connect(url);
    await requestSession(r);
    await requestSession(r, requestBody("nope"));
    await call(r, "session:request", { v: 1 });

    const models = (await (await fetch(`${url}/api/models`)).json()) as { models: { model: string }[] };
    expect(models.models.map((m) => m.model)).toEqual(["m1"]);
    const res = await fetch(`${url}/metrics`);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toContain("silk_providers_connected 1");
    expect(text).toContain("silk_live_sessions 1");
    expect(text).toContain("silk_pairings_total 1");
    expect(text).toMatch(/silk_pairing_seconds_count 1/);
    expect(text).toContain('silk_rejections_total{reason="NO_MODEL"} 1');
    expect(text).toContain('silk_rejections_total{reason="MALFORMED"} 1');
    expect((await fetch(`${url}/nothing-here`)).status).toBe(404);
  });

  it("serves built pages from staticDir: / is the client, /provider the provider page, nothing outside", async () => {
    const dir = mkdtempSync(join(tmpdir(), "silk-static-"));
    try {
      writeFileSync(join(dir, "index.html"), "<h1>client</h1>");
      writeFileSync(join(dir, "provider.html"), "<h1>provider</h1>");
      writeFileSync(join(dir, "app.js"), "export {}");
      mkdirSync(join(dir, "client/widget"), { recursive: true });
      writeFileSync(join(dir, "client/widget/demo.html"), "<h1>widget demo</h1>");
      mkdirSync(join(dir, "widget"));
      writeFileSync(join(dir, "widget/silk-chat.js"), "export {}");
      const { url } = await startServer({ staticDir: dir });
      const home = await fetch(`${url}/`);
      expect(home.headers.get("content-type")).toContain("text/html");
      expect(await home.text()).toBe("<h1>client</h1>");
      expect(await (await fetch(`${url}/provider`)).text()).toBe("<h1>provider</h1>");
      expect(await (await fetch(`${url}/widget/`)).text()).toBe("<h1>widget demo</h1>");
      expect((await fetch(`${url}/app.js`)).headers.get("content-type")).toContain("javascript");
      // The widget's script is embedded from any origin (module scripts are fetched with CORS); the pages are not.
      expect((await fetch(`${url}/widget/silk-chat.js`)).headers.get("access-control-allow-origin")).toBe(
        "*",
      );
      expect((await fetch(`${url}/app.js`)).headers.get("access-control-allow-origin")).toBeNull();
      expect((await fetch(`${url}/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a page file that fails as it is read cuts that response short, not the server", async () => {
    // /proc/self/mem is a regular file that every read at offset 0 fails (EIO), even for root: a
    // stand-in for a file that breaks once its response has begun. Its unhandled stream error
    // used to end the process, and every session on the node with it.
    const dir = mkdtempSync(join(tmpdir(), "silk-static-"));
    try {
      writeFileSync(join(dir, "index.html"), "<h1>client</h1>");
      symlinkSync("/proc/self/mem", join(dir, "broken.js"));
      const { url } = await startServer({ staticDir: dir });
      const r = await connect(url);
      await fetch(`${url}/broken.js`)
        .then((res) => res.arrayBuffer())
        .catch(() => undefined);
      expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ ok: true });
      expect(await (await fetch(`${url}/`)).text()).toBe("<h1>client</h1>");
      expect(r.connected).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("serves a TON Connect manifest whose url is the origin the page was loaded from", async () => {
    const { url, port } = await startServer();
    const manifest = (await (await fetch(`${url}/tonconnect-manifest.json`)).json()) as Record<
      string,
      string
    >;
    expect(manifest).toEqual({ url, name: "Silk", iconUrl: `${url}/silk-icon.png` });
    const other = await fetch(`http://localhost:${port}/tonconnect-manifest.json`);
    expect(((await other.json()) as { url: string }).url).toBe(`http://localhost:${port}`);
    // Forwarded headers are ignored unless the server is told it sits behind a proxy.
    const spoof = await fetch(`${url}/tonconnect-manifest.json`, {
      headers: { "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" },
    });
    expect(((await spoof.json()) as { url: string }).url).toBe(url);
  });

  it("shuts down gracefully: tells everyone and ends their sessions before closing", async () => {
    const { server, url } = await startServer();
    const p = await provider(url);
    const r = await connect(url);
    const granted = await requestSession(r);
    expect(granted.ok).toBe(true);
    const toldProvider = next(p.socket, "server:shutdown");
    const toldRequester = next(r, "server:shutdown");
    const ended = next(r, "session:ended");
    const closing = server.close();
    expect(await toldProvider).toMatchObject({ reason: "shutdown", reconnect: true });
    await toldRequester;
    expect(await ended).toMatchObject({ reason: "shutdown", error: { code: "SHUTTING_DOWN" } });
    await closing;
    await expect(fetch(`${url}/healthz`)).rejects.toBeDefined();
  });
});
