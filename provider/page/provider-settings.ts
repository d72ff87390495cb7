import type { SelfHostedModel } from "../../web/engines/model-catalog";

/** What the provider page keeps across reloads: identity key, settings, receipts, earnings, totals. */
export interface ProviderSettings {
  model?: string;
  /** nanoTON per token. */
  price: bigint;
  payout?: string;
  /** Serving when the tab was closed: a reload resumes it. */
  serving: boolean;
  /** Models whose weights the operator hosts (the "Self-hosted model" form), newest first. */
  selfHosted?: SelfHostedModel[];
  /**
   * "Serve as an audit reference": the model loads with the forcing processor, so auditors can
   * have other providers' answers scored here exactly, at the cost of slower answers (WebLLM
   * copies the logits to the CPU at every token). Off unless the operator turns it on.
   */
  auditReference: boolean;
}

export interface ServedTotals {
  requests: number;
  tokens: number;
}

export const DEFAULT_SETTINGS: ProviderSettings = { price: 1_000n, serving: false, auditReference: false };
