import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface NodeProcess {
  url: string;
  port: number;
  /** SIGTERM (graceful shutdown) and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash: nothing is said to anyone) and wait for exit. */
  kill(): Promise<void>;
}

/** Runs `signaling/main.ts` as its own process, as production would; resolves once it listens. */
export async function startNode(env: Record<string, string>): Promise<NodeProcess> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "signaling/main.ts"], {
    cwd: root,
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      for (const line of out.split("\n")) {
        if (!line.includes('"msg":"listening"')) continue;
        child.stdout?.off("data", onData);
        resolve((JSON.parse(line) as { port: number }).port);
        return;
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`signaling exited with ${code}: ${stderr.slice(-800)}`)));
  });
  child.stdout?.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGTERM");
      return exited;
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
  };
}
