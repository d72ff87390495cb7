/// <reference lib="webworker" />
// The dedicated Web Worker that runs WebLLM, so the page stays responsive while the GPU works.
import { WebWorkerMLCEngineHandler } from "@mlc-ai/web-llm";

const handler = new WebWorkerMLCEngineHandler();
self.onmessage = (event: MessageEvent) => handler.onmessage(event);
