import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanup, startServer } from "../signaling/helpers";
import { runProgram } from "../support/run-program";

/**
 * `npm start` run twice, or another program on 8787: each program says in one line which port is
 * taken and what moves it, and exits 1 (before: Node's EADDRINUSE stack trace; the gateway's was
 * an uncaught 'error' event).
 */
let taken: Server;
let port: string;
const dir = mkdtempSync(join(tmpdir(), "silk-port-"));

beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  port = String((taken.address() as { port: number }).port);
});

afterAll(async () => {
  taken.close();
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function saysInUse(result: { code: number; stderr: string }, setting: string) {
  expect(result.stderr).toContain(`port ${port}`);
  expect(result.stderr).toContain("is in use");
  expect(result.stderr).toContain(setting);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.code).toBe(1);
}

describe("a port in use", () => {
  it("npm start: the signaling port, and the devnet's", async () => {
    const base = { HOST: "127.0.0.1", DEVNET_DIR: join(dir, "devnet") };
    saysInUse(await runProgram("silk.ts", [], { ...base, PORT: port, DEVNET_PORT: "0" }), "set PORT");
    saysInUse(await runProgram("silk.ts", [], { ...base, PORT: "0", DEVNET_PORT: port }), "set DEVNET_PORT");
  });

  it("npm run signaling and npm run devnet", async () => {
    saysInUse(await runProgram("signaling/main.ts", ["--port", port, "--host", "127.0.0.1"]), "set PORT");
    saysInUse(
      await runProgram("contracts/devnet/main.ts", [], {
        DEVNET_PORT: port,
        DEVNET_DIR: join(dir, "devnet2"),
      }),
      "set DEVNET_PORT",
    );
  });

  it("npm run gateway", async () => {
    const { url } = await startServer();
    const args = ["--signaling", url, "--trust-server", "--max-price", "5", "--port", port];
    const escrow = `0:${"11".repeat(32)}`;
    saysInUse(
      await runProgram("client/gateway/main.ts", [
        ...args,
        "--escrow",
        escrow,
        "--key-file",
        join(dir, "g.key"),
      ]),
      "set --port",
    );
  });
});
