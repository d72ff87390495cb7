import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodePublicKey, generateKeyPair, grantMacValid, grantNonce, helloOffer } from "../../protocol";
import { ConfigError, loadConfig } from "../../signaling/config";
import { createSignalingServer } from "../../signaling/server";
import { ServerKey } from "../../signaling/server-key";
import {
  call,
  cleanup,
  connect,
  flat,
  followMoves,
  type Granted,
  provider,
  requestBody,
  requestSession,
  startServer,
} from "./helpers";

/**
 * A signaling server has an Ed25519 key of its own, kept in a file the operator names (made there
 * on first start, owner-only), published at `GET /api/server-key`. It signs each connection's
 * `server:hello`, and every grant (and every move's grant) on it carries the MAC that hello keyed,
 * for the nonce the request carried: a requester that pins the key can tell the server's word
 * from a man in the middle's. Real servers on loopback, raw socket.io clients.
 */
afterEach(cleanup);

const dir = () => mkdtempSync(join(tmpdir(), "silk-server-key-"));

describe("the server key", () => {
  it("is kept in its file across restarts, owner-only, and published at /api/server-key", async () => {
    const file = join(dir(), "server-key");
    const first = await startServer({ serverKeyFile: file });
    expect(first.server.serverKey).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const published = (await (await fetch(`${first.url}/api/server-key`)).json()) as { key: string };
    expect(published).toEqual({ v: 1, key: first.server.serverKey });
    await first.server.close();
    const again = await startServer({ serverKeyFile: file });
    expect(again.server.serverKey).toBe(first.server.serverKey);
    // A server with no file has a key of its own per start.
    const other = await startServer();
    expect(other.server.serverKey).not.toBe(first.server.serverKey);
  });

  it("a file that is not a key is refused naming the file", () => {
    const file = join(dir(), "server-key");
    writeFileSync(file, "not a key at all, but long enough");
    expect(() => createSignalingServer({ serverKeyFile: file })).toThrow(ConfigError);
    expect(() => createSignalingServer({ serverKeyFile: file })).toThrow(file);
  });

  it("is read from SERVER_KEY_FILE, by default .silk/server-key", () => {
    expect(loadConfig({}).serverKeyFile).toBe(".silk/server-key");
    expect(loadConfig({ SERVER_KEY_FILE: "/etc/silk/key" }).serverKeyFile).toBe("/etc/silk/key");
    expect(loadConfig({}, ["--server-key-file", "/k"]).serverKeyFile).toBe("/k");
  });

  it("answers a hello with the key's signature, and each grant on that connection carries its MAC for the request's nonce (a move's too)", async () => {
    const { url, server } = await startServer({ offerTimeoutMs: 300 });
    // The silent provider is the cheaper, so it is offered first and the session moves on.
    const silent = await provider(url, { answer: "silent", models: [{ model: "m1", price: flat(5n) }] });
    const taking = await provider(url);
    const requester = await connect(url);
    const offer = helloOffer();
    const answer = await call(requester, "server:hello", { v: 1, nonce: offer.nonce, dh: offer.dh });
    expect(answer.key).toBe(server.serverKey);
    // Signed by the server key for this hello, and by no other.
    expect(offer.accept(answer, encodePublicKey(generateKeyPair().publicKey))).toBeUndefined();
    const macKey = offer.accept(answer, server.serverKey);
    if (!macKey) throw new Error("the hello's answer is not signed by the server key");

    const nonce = grantNonce();
    const grant = (await requestSession(requester, { ...requestBody(), nonce })) as Granted;
    expect(grant.ok).toBe(true);
    expect(grant.provider.identityKey).toBe(silent.identityKey);
    expect(grantMacValid(grant, nonce, macKey)).toBe(true);
    // Not for another request's nonce, nor once a field is changed.
    expect(grantMacValid(grant, grantNonce(), macKey)).toBe(false);
    expect(grantMacValid({ ...grant, iceServers: [{ urls: "turn:evil" }] }, nonce, macKey)).toBe(false);

    const { final } = await followMoves(requester, grant, [taking.identityKey]);
    expect(final.ok && final.provider.identityKey).toBe(taking.identityKey);
    expect(grantMacValid(final, nonce, macKey)).toBe(true);
  });

  it("a grant's MAC, made in pieces by the server, is the one a requester checks, for text past ASCII too", () => {
    const key = new ServerKey(generateKeyPair());
    const offer = helloOffer();
    const { answer, macKey } = key.hello({ v: 1, nonce: offer.nonce, dh: offer.dh });
    const requesterKey = offer.accept(answer, key.key);
    if (!requesterKey) throw new Error("the hello's answer is not signed by the server key");
    const nonce = grantNonce();
    // A TURN credential in UTF-8 takes more bytes than characters: the MAC must frame the bytes.
    const grant = { ok: true, sessionId: "s1", iceServers: [{ urls: "turn:t", credential: "pässwörd ☃" }] };
    const sealed = { ...grant, server: ServerKey.mac(macKey, nonce, grant) };
    expect(grantMacValid(sealed, nonce, requesterKey)).toBe(true);
    expect(grantMacValid({ ...sealed, sessionId: "s2" }, nonce, requesterKey)).toBe(false);
  });

  it("a connection that said no hello (an older requester) gets grants without a MAC", async () => {
    const { url } = await startServer();
    await provider(url);
    const grant = (await requestSession(await connect(url), {
      ...requestBody(),
      nonce: grantNonce(),
    })) as unknown as Record<string, unknown>;
    expect(grant.ok).toBe(true);
    expect(grant.server).toBeUndefined();
  });
});
