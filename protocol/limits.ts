/** Size limits shared by every party. A message larger than these is refused before it is parsed. */

/** Largest frame on a data channel or relay: well under SCTP's practical message limit. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Largest reassembled session message (a long prompt with its history). */
export const MAX_SESSION_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Largest signaling event payload (JSON text), SDP included. */
export const MAX_SIGNALING_MESSAGE_BYTES = 32 * 1024;
/** Largest single handshake message. */
export const MAX_HANDSHAKE_BYTES = 2 * 1024;

export const MAX_MODEL_ID_CHARS = 128;
export const MAX_MODELS_PER_PROVIDER = 32;
export const MAX_MESSAGES_PER_REQUEST = 512;
export const MAX_STOP_SEQUENCES = 4;
export const MAX_STOP_SEQUENCE_CHARS = 64;
export const MAX_COMPLETION_TOKENS = 32_768;
export const MAX_ID_CHARS = 64;
export const MAX_ERROR_MESSAGE_CHARS = 512;
export const MAX_CONTENT_PARTS = 64;
export const MAX_TOOLS = 128;
export const MAX_TOOL_CALLS = 128;
export const MAX_TOP_LOGPROBS = 20;
export const MAX_LOGIT_BIAS_ENTRIES = 1024;
/**
 * Deepest nesting of a free JSON object in a request (a tool's `parameters`, a `json_schema`):
 * far above any real schema's, and far below what a recursive walk of it (the request's canonical
 * JSON) takes before the stack runs out, which 5,000 levels did (the gateway's 500).
 */
export const MAX_JSON_DEPTH = 64;
/** Inputs in one embeddings request (OpenAI's own limit). */
export const MAX_EMBED_INPUTS = 2048;
/** Dimensions of one embedding: above any text embedding model's (OpenAI's largest is 3072). */
export const MAX_EMBED_DIMENSIONS = 8192;

/**
 * Completion tokens a provider streams past the last receipt by default (its credit window): what
 * a requester's reserve is kept ahead of what it signs, and part of what a provider trusts beyond
 * a reserve.
 */
export const DEFAULT_CREDIT_WINDOW_TOKENS = 64;
