// TEST ONLY: swapped in for web/engines/engine-source.ts by tests/browser/build-pages.ts, on the
// provider page and in the web client (local answering). The scripted engine stands in for model
// weights, which cannot be downloaded here; the fit of test-model is decided by the real check
// (`modelFits`, web/engines/model-catalog.ts) against the GPU facts this double reports, which a
// test sets with localStorage "silk-test-gpu-mb" (default 1024 MB).
import { SilkError, type SilkErrorCode } from "../../../protocol/errors";
import type { ChunkSink, EngineRequest, LoadProgress } from "../../../web/engines/engine";
import { EngineError } from "../../../web/engines/engine";
import type { EngineSource } from "../../../web/engines/engine-source-types";
import { downloadFailure, modelFits, type SelfHostedModel } from "../../../web/engines/model-catalog";
import { ScriptedEngine } from "../../doubles/scripted-engine";

let selfHosted: readonly SelfHostedModel[] = [];

/**
 * A self-hosted model is fetched from its location, as WebLLM fetches it: its config, then its
 * weights (one fake shard, `params_shard_0.bin`, read as it streams in, with WebLLM's progress
 * text), failing the same way when the host does not answer or the download breaks off; then the
 * scripted engine answers for it.
 */
class SelfHostingScriptedEngine extends ScriptedEngine {
  override async load(model: string, onProgress?: (p: LoadProgress) => void): Promise<void> {
    const own = selfHosted.find((m) => m.modelId === model);
    if (own) {
      const base = `${own.modelUrl}resolve/main/`;
      try {
        await ok(await fetch(`${base}mlc-chat-config.json`));
        await fetchWeights(`${base}params_shard_0.bin`, onProgress);
      } catch (failure) {
        const said = downloadFailure(
          own.modelUrl,
          failure instanceof Error ? failure : new Error(String(failure)),
          true,
        );
        throw new EngineError("download", `could not load ${model}: ${said ?? String(failure)}`);
      }
    }
    await super.load(model, onProgress);
  }

  /**
   * Audit challenges (the only requests asking for logprobs) wait `silk-test-logprobs-delay-ms`
   * (localStorage, set by a test) before they queue, or until stopped: a test can then see what
   * runs meanwhile.
   */
  override async generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal) {
    const delay = knob("silk-test-logprobs-delay-ms");
    // `silk-test-token-delay-ms`: each token of an answer that long apart, so a test can walk the
    // page while it streams.
    const perToken = knob("silk-test-token-delay-ms");
    if (perToken > 0) {
      const sink = onChunk;
      onChunk = async (chunk) => {
        await held(perToken, signal);
        return sink(chunk);
      };
    }
    // Stopping ends the wait, as a real engine stops within a token or two.
    if (request.logprobs && delay > 0) await held(delay, signal);
    // `silk-test-provider-error` ({ code, message }): the answer fails with that code and text as
    // the provider's own words on the wire (a protocol error is served as it is): a provider that
    // says what it likes.
    const said =
      typeof localStorage === "undefined" ? null : localStorage.getItem("silk-test-provider-error");
    if (said) {
      const { code, message } = JSON.parse(said) as { code: SilkErrorCode; message: string };
      throw new SilkError(code, message); // any code: the wire takes what it is given
    }
    return super.generate(request, onChunk, signal);
  }
}

/** A number a test set in localStorage (0 when unset). */
const knob = (key: string): number =>
  Number(typeof localStorage === "undefined" ? 0 : localStorage.getItem(key));

/** Waits `ms`, or until `signal` aborts. */
function held(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((r) => {
    const done = () => {
      clearTimeout(timer);
      r();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

async function ok(res: Response): Promise<Response> {
  if (!res.ok) throw new Error(`status ${res.status}`);
  return res;
}

/** Reads the shard to its end, reporting as WebLLM does ("…: 3MB fetched. 40% completed, …"). */
async function fetchWeights(url: string, onProgress?: (p: LoadProgress) => void): Promise<void> {
  const res = await ok(await fetch(url));
  const total = Number(res.headers.get("content-length"));
  const reader = res.body!.getReader();
  const started = Date.now();
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    got += value.byteLength;
    const secs = Math.round((Date.now() - started) / 1000);
    onProgress?.({
      progress: got / total,
      text: `Fetching param cache[1/1]: ${Math.ceil(got / 2 ** 20)}MB fetched. ${Math.floor((got * 100) / total)}% completed, ${secs} secs elapsed.`,
    });
  }
  if (got < total) throw new Error(`network error: ${got} of ${total} bytes`);
}

const engine = new SelfHostingScriptedEngine({ models: [], tokenDelayMs: 5 });
/** The scripted model as our table would list it: an f32 model needing 512 MB. */
const TEST_MODEL = { vramMB: 512, shaderF16: false };

function gpuMB(): number {
  const set = typeof localStorage === "undefined" ? null : localStorage.getItem("silk-test-gpu-mb");
  return set ? Number(set) : 1024;
}

export const engineSource: EngineSource = {
  label: "scripted test engine (tests only)",
  engine,
  async check() {
    return { ok: true, facts: { adapter: "scripted test engine", shaderF16: false, maxBufferMB: gpuMB() } };
  },
  async models(facts) {
    return [
      {
        id: "test-model",
        vramMB: 512,
        fit: (await engineSource.fit("test-model", facts))!,
        cached: true,
        // Its made-up logprobs let an auditor's challenge reach it (nothing can score them: no other model).
        support: { features: ["logprobs"] },
      },
      ...selfHosted.map((m) => ({
        id: m.modelId,
        selfHostedAt: m.modelUrl,
        fit: { fits: true } as const,
        cached: false,
      })),
    ];
  },
  async fit(model, facts) {
    if (selfHosted.some((m) => m.modelId === model)) return { fits: true };
    if (model !== "test-model") return undefined;
    return modelFits(TEST_MODEL, { shaderF16: facts.shaderF16, memoryMB: facts.maxBufferMB });
  },
  selfHost(models) {
    selfHosted = models;
  },
  async repair() {},
};

/** The web client's own device as its audit reference (engine-source.ts): the same scripted engine. */
export const referenceEngineSource: EngineSource = engineSource;
