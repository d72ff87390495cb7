import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanup, startServer } from "../signaling/helpers";

/**
 * Ctrl-C as a newcomer presses it: the terminal sends SIGINT to the whole process group (npm, its
 * shell, the program), and npm forwards the one it got to its child as well. Each program stops
 * cleanly, and the command exits 0 with no stack trace (before: npm's shell died of the signal,
 * npm said 130 and gave the prompt back while the program still stopped behind it; and a program
 * run directly took npm's forwarded copy for a second Ctrl-C and exited 1 before it had closed).
 */
const dir = mkdtempSync(join(tmpdir(), "silk-ctrl-c-"));
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.pid) process.kill(-child.pid, "SIGKILL");
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `command` in a process group of its own, as a terminal runs it. */
function start(command: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(command, args, { detached: true, env: { ...process.env, ...env } });
  children.push(child);
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? String(signal))),
  );
  return {
    child,
    output: () => out,
    exited,
    /** Resolves once `text` is printed; fails after `ms`. */
    printed: (text: string, ms = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms:\n${out}`)), ms);
        const look = () => {
          if (!out.includes(text)) return;
          clearTimeout(deadline);
          resolve();
        };
        child.stdout.on("data", look);
        child.stderr.on("data", look);
        look();
      }),
  };
}

/** Ctrl-C in the terminal: SIGINT to every process of the group. */
const ctrlC = (child: ChildProcess) => process.kill(-child.pid!, "SIGINT");

describe("Ctrl-C", () => {
  it("npm run signaling: closes the server and exits 0", async () => {
    const run = start("npm", ["run", "signaling"], { PORT: "0", HOST: "127.0.0.1" });
    await run.printed('"msg":"listening"');
    // Answering proves the program is past its start, its stop in place (it logs "listening" before).
    const port = /"port":(\d+)/.exec(run.output())?.[1];
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    ctrlC(run.child);
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('"msg":"closed"');
    expect(run.output()).not.toMatch(/Error|\n\s+at /);
  });

  it("npm run gateway: drains, closes and exits 0", async () => {
    const { url } = await startServer();
    const run = start("npm", [
      "run",
      "gateway",
      "--",
      "--signaling",
      url,
      "--escrow",
      `0:${"11".repeat(32)}`,
      "--max-price",
      "5",
      "--trust-server",
      "--port",
      "0",
      "--key-file",
      join(dir, "gateway.key"),
    ]);
    await run.printed("Silk gateway on");
    ctrlC(run.child);
    expect(await run.exited).toBe(0);
    expect(run.output()).not.toMatch(/Error|\n\s+at /);
  });

  it("npm start's program: the echo of the same Ctrl-C does not cut its stop short", async () => {
    const run = start(process.execPath, ["--import", "tsx", "silk.ts"], {
      PORT: "0",
      HOST: "127.0.0.1",
      DEVNET_PORT: "0",
      DEVNET_DIR: join(dir, "devnet"),
      STATIC_DIR: dir,
    });
    await run.printed("Ctrl-C to stop.", 120_000);
    // The terminal's SIGINT, then npm's forwarded copy of it.
    ctrlC(run.child);
    process.kill(run.child.pid!, "SIGINT");
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('"msg":"closed"');
    expect(run.output()).not.toMatch(/Error|\n\s+at /);
  }, 150_000);
});
