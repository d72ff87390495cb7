import { EngineError } from "./engine";

/** What a WebGPU adapter offers. Apart from WebLLM, so a page can ask before it loads WebLLM. */
export interface GpuFacts {
  adapter: string;
  shaderF16: boolean;
  maxBufferMB: number;
}

/** What the adapter offers. Throws EngineError("unsupported") with the reason when there is none. */
export async function gpuFacts(): Promise<GpuFacts> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) throw new EngineError("unsupported", "this browser has no WebGPU (navigator.gpu is missing)");
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new EngineError("unsupported", "WebGPU is present but offers no GPU adapter");
  const info = adapter.info;
  return {
    adapter:
      [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(" ") || "unknown adapter",
    shaderF16: adapter.features.has("shader-f16"),
    maxBufferMB: Math.floor(adapter.limits.maxBufferSize / (1024 * 1024)),
  };
}
