// TEST ONLY: swapped in for web/engines/engine-source.ts by tests/browser/build-pages.ts. The
// scripted engine stands in for model weights, which cannot be downloaded here.
import type { EngineSource } from "../../../web/engines/engine-source-types";
import { ScriptedEngine } from "../../doubles/scripted-engine";

const engine = new ScriptedEngine({ models: [], tokenDelayMs: 5 });

export const engineSource: EngineSource = {
  label: "scripted test engine (tests only)",
  engine,
  async check() {
    return { ok: true, facts: { adapter: "scripted test engine", shaderF16: false, maxBufferMB: 1024 } };
  },
  async models() {
    return [{ id: "test-model", vramMB: 1, fit: { fits: true }, cached: true }];
  },
  async repair() {},
};
