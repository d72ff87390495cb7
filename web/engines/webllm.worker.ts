/// <reference lib="webworker" />
// The dedicated Web Worker that runs WebLLM, so the page stays responsive while the GPU works.
// On an engine loaded as an audit reference, it also runs the forcing processor
// (webllm-forcing-channel.ts); its messages never reach WebLLM's handler.
import { WebWorkerMLCEngineHandler } from "@mlc-ai/web-llm";
import { forcingInWorker } from "./webllm-forcing-channel";

const handler = new WebWorkerMLCEngineHandler();
const forcing = forcingInWorker(handler);
self.onmessage = (event: MessageEvent) => {
  if (!forcing(event.data)) handler.onmessage(event);
};
