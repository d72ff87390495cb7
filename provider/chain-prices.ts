import { Cell } from "@ton/core";
import { Buffer } from "buffer";
import { type ChainPrices, chainPricesOf } from "./claim-fee";

/**
 * The network's current gas and message prices (config params 21 and 25), read through the same
 * toncenter v2 JSON-RPC endpoint TonClient uses (`getConfigParam`, which TonClient does not wrap)
 * and cached: prices change by validator vote, rarely, so one read an hour is plenty. A failed read
 * keeps the last known prices; with none, the fee is unknown and only money at risk is claimed.
 */
export type ConfigParamReader = (id: number) => Promise<Cell>;

export function jsonRpcConfigReader(
  endpoint: string,
  apiKey?: string,
  timeoutMs = 10_000,
): ConfigParamReader {
  return async (id) => {
    const res = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", ...(apiKey ? { "x-api-key": apiKey } : {}) },
      body: JSON.stringify({ id: "1", jsonrpc: "2.0", method: "getConfigParam", params: { config_id: id } }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json()) as {
      ok?: boolean;
      result?: { config?: { bytes?: unknown } };
      error?: unknown;
    };
    const bytes = body.result?.config?.bytes;
    if (!body.ok || typeof bytes !== "string")
      throw new Error(`config param ${id} unreadable: ${String(body.error)}`);
    const cell = Cell.fromBoc(Buffer.from(bytes, "base64"))[0];
    if (!cell) throw new Error(`config param ${id} is empty`);
    return cell;
  };
}

export class ChainPriceSource {
  private cached: { prices: ChainPrices; at: number } | undefined;
  private reading: Promise<ChainPrices | undefined> | undefined;

  constructor(
    private readonly read: ConfigParamReader,
    private readonly ttlMs = 3_600_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The prices, read at most once per `ttlMs`; undefined only when never read successfully. */
  get(): Promise<ChainPrices | undefined> {
    if (this.cached && this.now() - this.cached.at < this.ttlMs) return Promise.resolve(this.cached.prices);
    this.reading ??= Promise.all([this.read(21), this.read(25)])
      .then(([gas, msg]) => {
        this.cached = { prices: chainPricesOf(gas, msg), at: this.now() };
        return this.cached.prices;
      })
      .catch(() => this.cached?.prices)
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }
}
