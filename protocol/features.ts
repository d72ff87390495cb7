import * as v from "valibot";
import type { ChatMessage, ContentPart, ResponseFormat, Tool } from "./schemas/chat";

/**
 * What a model can do beyond plain chat, declared by its provider per model at registration and
 * shown in the directory. A request that needs a feature is paired only with providers that
 * declare it, and one nobody declares is refused naming the request field that needs it.
 */
export const FEATURES = [
  "structured_output",
  "tools",
  "logprobs",
  "vision",
  "embeddings",
  "scoring",
  "forced_scoring",
] as const;
export type Feature = (typeof FEATURES)[number];
export const FeatureSchema = v.picklist(FEATURES);

/** What a provider declares for one model. */
export interface ModelSupport {
  readonly features?: readonly Feature[];
  /** Prompt plus completion tokens the model can hold. */
  readonly contextWindow?: number;
}

export interface Need {
  readonly feature: Feature;
  /** The request field that needs it, as OpenAI's error `param` names it. */
  readonly param: string;
}

interface NeedsInput {
  readonly messages: readonly ChatMessage[];
  readonly response_format?: ResponseFormat;
  readonly tools?: readonly Tool[];
  readonly logprobs?: boolean;
  readonly score?: readonly string[];
  readonly score_method?: "teacher-forcing";
}

/** The features a chat request needs, each with the field that needs it (first field wins). */
export function needsOf(r: NeedsInput): Need[] {
  const needs: Need[] = [];
  const add = (feature: Feature, param: string) => {
    if (!needs.some((n) => n.feature === feature)) needs.push({ feature, param });
  };
  if (r.response_format && r.response_format.type !== "text") add("structured_output", "response_format");
  if (r.tools?.length) add("tools", "tools");
  if (r.logprobs) add("logprobs", "logprobs");
  if (r.score?.length) add("scoring", "score");
  if (r.score_method) add("forced_scoring", "score_method");
  r.messages.forEach((m, i) => {
    if (m.role === "tool" || (m.role === "assistant" && m.tool_calls)) add("tools", `messages.${i}`);
    if (m.role === "user" && typeof m.content !== "string" && m.content.some((p) => p.type === "image_url"))
      add("vision", `messages.${i}.content`);
  });
  return needs;
}

/** The first need a model's declared support lacks, if any. */
export function missingNeed(needs: readonly Need[], support: ModelSupport | undefined): Need | undefined {
  return needs.find((n) => !support?.features?.includes(n.feature));
}

export function unsupportedMessage(model: string, need: Need): string {
  return `${need.param}: no provider of ${model} supports ${need.feature.replace("_", " ")}`;
}

/** A message's text as the model reads it: content parts joined, image URLs counted as text. */
export function contentText(content: string | readonly ContentPart[] | null): string {
  if (content === null) return "";
  if (typeof content === "string") return content;
  return content.map((p) => (p.type === "text" ? p.text : p.image_url.url)).join("\n");
}
