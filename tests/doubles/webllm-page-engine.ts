import type {
  ChunkSink,
  DeviceReport,
  Engine,
  EngineRequest,
  EngineResult,
  ScoreResult,
} from "../../web/engines/engine";
import type { TokenCodec } from "../../web/engines/forced-token-ids";
import { ForcingProcessor } from "../../web/engines/forcing-processor";
import { scoreWebLlmForced } from "../../web/engines/webllm-forced-score";
import { runWebLlm } from "../../web/engines/webllm-run";
import { scoreWebLlm } from "../../web/engines/webllm-score";
import { MlcLogitsDouble } from "./mlc-logits-engine";
import type { ToyModelSpec } from "./toy-model";

/**
 * TEST DOUBLE: a provider page's WebLLM engine (web/engines/webllm-engine.browser.ts) with
 * MlcLogitsDouble standing in for WebLLM's worker and the model's weights. As the page does, it
 * loads the forcing processor only as an audit reference (`reference: true`, the page's "Serve
 * as an audit reference" setting): `score` then forces the tokens (webllm-forced-score.ts, the
 * processor in process rather than in the worker); without it, `score` follows the model's
 * greedy path (webllm-score.ts). `methods` records how each request was scored.
 */
export class WebLlmPageDouble implements Engine {
  readonly methods: ScoreResult["method"][] = [];
  private readonly chat: MlcLogitsDouble;
  private readonly processor: ForcingProcessor | undefined;

  constructor(
    spec: ToyModelSpec,
    private readonly opts: { readonly reference: boolean; readonly tokenizer: () => Promise<TokenCodec> },
  ) {
    this.processor = opts.reference ? new ForcingProcessor() : undefined;
    this.chat = new MlcLogitsDouble(spec, this.processor);
  }

  async load(): Promise<void> {}

  generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    return runWebLlm(this.chat, request, onChunk, signal);
  }

  async score(request: EngineRequest, tokens: readonly string[], signal?: AbortSignal): Promise<ScoreResult> {
    const processor = this.processor;
    const scored = processor
      ? await scoreWebLlmForced(
          this.chat,
          { arm: (ids) => processor.arm(ids), take: async () => processor.take() },
          this.opts.tokenizer,
          request,
          tokens,
          signal,
        )
      : { ...(await scoreWebLlm(this.chat, request, tokens, signal)), method: "greedy-path" as const };
    this.methods.push(scored.method);
    return scored;
  }

  async unload(): Promise<void> {}

  async device(): Promise<DeviceReport> {
    return { backend: "webgpu" };
  }

  loadedModels(): readonly string[] {
    return ["test-model"];
  }
}
