import { ModelType, prebuiltAppConfig } from "@mlc-ai/web-llm";
import { describe, expect, it } from "vitest";
import { prebuiltRequirement } from "../../web/engines/engine-source";
import { modelFits, requirementOf } from "../../web/engines/model-catalog";
import { PREBUILT_REQUIREMENTS } from "../../web/engines/model-requirements";

/**
 * Our own table of what WebLLM's prebuilt chat models need (web/engines/model-requirements.ts),
 * against the installed WebLLM's prebuiltAppConfig, so it cannot drift from what WebLLM would
 * load: regenerate it with tests/support/write-model-requirements.ts when this fails.
 */
const chat = prebuiltAppConfig.model_list.filter((r) => r.model_type !== ModelType.embedding);

describe("the model-requirements table", () => {
  it("lists exactly WebLLM's prebuilt chat models, each with the memory, shader-f16 and context WebLLM declares", async () => {
    expect(Object.keys(PREBUILT_REQUIREMENTS).sort()).toEqual(chat.map((r) => r.model_id).sort());
    const ours = await Promise.all(chat.map((r) => prebuiltRequirement(r.model_id)));
    const differ = chat.filter((r, i) => JSON.stringify(ours[i]) !== JSON.stringify(requirementOf(r)));
    expect(differ.map((r) => r.model_id)).toEqual([]);
    // What the table holds, read the way WebLLM states it (MB rounded up; f16 from the id too).
    expect(await prebuiltRequirement("Llama-3.2-1B-Instruct-q4f16_1-MLC")).toEqual({
      vramMB: Math.ceil(
        chat.find((r) => r.model_id === "Llama-3.2-1B-Instruct-q4f16_1-MLC")!.vram_required_MB!,
      ),
      shaderF16: true,
      contextWindow: 4096,
    });
  });

  it("knows no embedding model, nor an id WebLLM does not list", async () => {
    expect(await prebuiltRequirement("snowflake-arctic-embed-m-q0f32-MLC-b4")).toBeUndefined();
    expect(await prebuiltRequirement("Made-Up-7B-q4f16_1-MLC")).toBeUndefined();
    expect(await prebuiltRequirement("toString")).toBeUndefined();
  });

  it.each([
    [
      "an f16 model without shader-f16",
      "Llama-3.2-1B-Instruct-q4f16_1-MLC",
      { shaderF16: false, memoryMB: 8192 },
      /needs shader-f16/,
    ],
    [
      "an f16 model with shader-f16",
      "Llama-3.2-1B-Instruct-q4f16_1-MLC",
      { shaderF16: true, memoryMB: 8192 },
      null,
    ],
    [
      "an f32 model in too little memory",
      "Llama-3.1-8B-Instruct-q4f32_1-MLC",
      { shaderF16: true, memoryMB: 2048 },
      /needs about 6102 MB of GPU memory; this device reports 2048 MB/,
    ],
    [
      "an f32 model in enough memory",
      "Llama-3.2-1B-Instruct-q4f32_1-MLC",
      { shaderF16: false, memoryMB: 2048 },
      null,
    ],
  ])("decides %s", async (_n, model, device, refused) => {
    const fit = modelFits((await prebuiltRequirement(model))!, device);
    if (refused) expect(fit).toMatchObject({ fits: false, reason: expect.stringMatching(refused) });
    else expect(fit).toMatchObject({ fits: true, needMB: expect.any(Number) });
  });
});
