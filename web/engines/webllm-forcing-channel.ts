import type { LogitProcessor } from "@mlc-ai/web-llm";
import { EngineError } from "./engine";
import { ForcingProcessor } from "./forcing-processor";
import type { Forcing } from "./webllm-forced-score";

/**
 * The forcing processor lives where WebLLM runs the model: in the engine's Web Worker
 * (`WebWorkerMLCEngineHandler` builds the `MLCEngine` there, and `CreateWebWorkerMLCEngine`
 * ignores a `logitProcessorRegistry` given on the page). The page talks to it with messages of
 * its own on the worker, next to WebLLM's: posted on the same worker, they keep their order with
 * WebLLM's requests, so an `arm` posted before `chat.completions.create` is in place for its
 * prefill. Replies come back on a MessagePort of their own, away from WebLLM's handler.
 *
 * Registering a processor makes WebLLM copy the whole vocabulary's logits GPU→CPU→GPU and wait
 * for the device at every token of every generation of that model, armed or not
 * (`sampleFromRawLogits`). So only an engine loaded as an audit reference registers it.
 */
export type ForcingMessage =
  | { readonly silk: "forcing"; readonly model: string; readonly port: MessagePort }
  | { readonly silk: "arm"; readonly ids: Int32Array }
  | { readonly silk: "take"; readonly seq: number };

interface ForcingReply {
  readonly seq: number;
  readonly logprobs: number[];
}

/** The page's side: arms the worker's processor and takes its logprobs back. */
export class WorkerForcing implements Forcing {
  private seq = 0;
  private readonly port: MessagePort;
  private readonly waiting = new Map<number, (logprobs: number[]) => void>();

  /** Registers the processor for `model`: post it before WebLLM's `reload` of that model. */
  constructor(
    private readonly worker: Worker,
    model: string,
    private readonly timeoutMs = 10_000,
  ) {
    const channel = new MessageChannel();
    this.port = channel.port1;
    this.port.onmessage = (event: MessageEvent<ForcingReply>) => {
      this.waiting.get(event.data.seq)?.(event.data.logprobs);
      this.waiting.delete(event.data.seq);
    };
    this.post({ silk: "forcing", model, port: channel.port2 }, [channel.port2]);
  }

  arm(ids: Int32Array): void {
    this.post({ silk: "arm", ids });
  }

  take(): Promise<number[]> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        reject(
          new EngineError(
            "backend",
            `score: the engine's worker sent no forced logprobs within ${this.timeoutMs} ms`,
          ),
        );
      }, this.timeoutMs);
      this.waiting.set(seq, (logprobs) => {
        clearTimeout(timer);
        resolve(logprobs);
      });
      this.post({ silk: "take", seq });
    });
  }

  close(): void {
    this.port.close();
  }

  private post(message: ForcingMessage, transfer: Transferable[] = []): void {
    this.worker.postMessage(message, transfer);
  }
}

/**
 * The worker's side: handles the page's forcing messages (true) and leaves the rest to WebLLM's
 * handler (false).
 */
export function forcingInWorker(handler: {
  setLogitProcessorRegistry(registry?: Map<string, LogitProcessor>): void;
}): (data: unknown) => boolean {
  const processor = new ForcingProcessor();
  let port: MessagePort | undefined;
  return (data) => {
    if (!isForcingMessage(data)) return false;
    if (data.silk === "forcing") {
      handler.setLogitProcessorRegistry(new Map([[data.model, processor]]));
      port = data.port;
    } else if (data.silk === "arm") processor.arm(data.ids);
    else port?.postMessage({ seq: data.seq, logprobs: processor.take() } satisfies ForcingReply);
    return true;
  };
}

function isForcingMessage(data: unknown): data is ForcingMessage {
  if (typeof data !== "object" || data === null || !("silk" in data)) return false;
  const m = data as Partial<Record<string, unknown>>;
  switch (m.silk) {
    case "forcing":
      return typeof m.model === "string" && m.port instanceof MessagePort;
    case "arm":
      return m.ids instanceof Int32Array;
    case "take":
      return typeof m.seq === "number";
    default:
      return false;
  }
}
