/**
 * What the forcing processor (web/engines/forcing-processor.ts) costs in JS per token at real
 * vocabulary sizes, next to the copies WebLLM makes for any registered processor in the same
 * run (`logitsOnCPU.toArray()` and the copy back, stood for by two Float32Array copies). The
 * GPU→CPU→GPU transfer and device sync that come with them cannot run here (no WebGPU with
 * weights): they are not in these numbers.
 */
import { ForcingProcessor } from "../web/engines/forcing-processor";
import { fmt, percentile, printTable } from "./table";

const VOCABULARIES = [
  { model: "Llama-2 / Mistral", size: 32_000 },
  { model: "Llama-3.x", size: 128_256 },
  { model: "Qwen2.5", size: 151_936 },
];
const STEPS = 400;

function timed(steps: number, step: (i: number) => void): number[] {
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step(i);
    times.push((performance.now() - t0) * 1000);
  }
  return times.sort((a, b) => a - b);
}

function row(model: string, size: number, what: string, times: number[]) {
  return {
    vocabulary: `${model} (${size})`,
    per_step: what,
    "p50 µs": fmt(percentile(times, 50), 0),
    "p99 µs": fmt(percentile(times, 99), 0),
    "32-token audit ms": fmt((percentile(times, 50) * 32) / 1000, 2),
  };
}

export default async function forcingBench(): Promise<void> {
  const rows: ReturnType<typeof row>[] = [];
  for (const { model, size } of VOCABULARIES) {
    const raw = Float32Array.from({ length: size }, (_, i) => Math.sin(i) * 8);
    const copies = timed(STEPS, () => {
      const onCpu = raw.slice();
      onCpu.slice();
    });
    const idle = new ForcingProcessor();
    const unarmed = timed(STEPS, () => {
      const onCpu = raw.slice();
      idle.processLogits(onCpu).slice();
      idle.processSampledToken(0);
    });
    const forcing = new ForcingProcessor();
    const ids = Int32Array.from({ length: STEPS }, (_, i) => (i * 7919) % size);
    forcing.arm(ids);
    const armed = timed(STEPS, (i) => {
      const onCpu = raw.slice();
      forcing.processLogits(onCpu).slice();
      forcing.processSampledToken(ids[i]!);
    });
    if (forcing.take().length !== STEPS) throw new Error("the processor did not score every step");
    rows.push(
      row(model, size, "baseline: WebLLM's two copies", copies),
      row(model, size, "processor registered, unarmed", unarmed),
      row(model, size, "armed: log-softmax + mask", armed),
    );
  }
  printTable("Teacher forcing's JS work per token (GPU transfer and sync not included)", rows);
}
