/** The chat's settings, kept across reloads by ChatStorage. Light: the chat shell needs it before the rest loads. */
export interface ChatSettings {
  model?: string;
  /** Highest effective price accepted, nanoTON per token, for prompt and completion tokens. */
  maxPromptNano: bigint;
  maxCompletionNano: bigint;
  /**
   * Audit providers as you go (issue 16): a challenge beside 5% of questions (the SDK's
   * DEFAULT_AUDIT_RATE), paid like a question, failures reported to the signaling server.
   */
  audits?: boolean;
  /** Answer on this device when it can run the model (issue 16, local-first): nothing leaves it, nothing is paid. */
  answerLocally?: boolean;
}

export const DEFAULT_CHAT_SETTINGS: ChatSettings = { maxPromptNano: 10_000n, maxCompletionNano: 10_000n };

/** Where the web client keeps the question being typed, for this tab (sessionStorage): a reload or a discarded tab keeps it. */
export const DRAFT_KEY = "silk-draft";
