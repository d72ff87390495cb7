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
}

export interface ServedTotals {
  requests: number;
  tokens: number;
}

export const DEFAULT_SETTINGS: ProviderSettings = { price: 1_000n, serving: false };
