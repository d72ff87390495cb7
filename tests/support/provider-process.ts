import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface ProviderProcess {
  /** Its identity key (hex). */
  readonly key: string;
  /** Tokens it has streamed so far, as its runtime reported them. */
  readonly tokens: number;
  /** SIGKILL, as a crashed tab or machine: nothing is said on any channel. Resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGSTOP or SIGCONT: a frozen machine, its sockets open and silent. */
  signal(sig: "SIGSTOP" | "SIGCONT"): void;
}

const running = new Set<ChildProcess>();

/** Kills every provider process still running (for afterEach). */
export function killProviderProcesses(): void {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
}

/** Runs provider-child.ts on `url`; resolves once it is registered (30 s at most). */
export async function startProviderProcess(
  url: string,
  opts: { tokenDelayMs: number; reply: string },
): Promise<ProviderProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "tests/support/provider-child.ts", url, String(opts.tokenDelayMs), opts.reply],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
  );
  running.add(child);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  let tokens = 0;
  let buffered = "";
  const key = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the provider process did not start in 30 s: ${stderr}`)),
      30_000,
    );
    child.once("exit", (code) =>
      reject(new Error(`the provider process exited with ${code}: ${stderr.slice(-800)}`)),
    );
    child.stdout?.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const [word, value = ""] = line.split(" ");
        if (word === "tokens") tokens += Number(value);
        if (word === "ready") {
          clearTimeout(timer);
          resolve(value);
        }
      }
    });
  });
  return {
    key,
    get tokens() {
      return tokens;
    },
    signal: (sig) => void child.kill(sig),
    kill: async () => {
      running.delete(child);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
  };
}
