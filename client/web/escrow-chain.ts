import { TonClient } from "@ton/ton";
import { EscrowParams } from "../../contracts/generated/constants";
import type { ChainConfig } from "../../web/chain-config";
import { DevWallet } from "../../web/dev-wallet";
import type { KvEntry } from "../../web/page-db";
import { type ReserveChain, tonReserveChain } from "../sdk/reserve-keeper";
import type { EscrowAccount } from "./escrow";

/**
 * The client's reads of the chain, through TonClient against the configured endpoint. Loaded
 * lazily (it carries `@ton/ton`), so the chat's first download stays small.
 */
export interface EscrowFacts {
  readonly deployed: boolean;
  readonly balance: bigint;
  /** The session key's epoch while it is authorised and active; receipts carry it. */
  readonly keyEpoch: number | undefined;
  /** Unix seconds from which withdraw is allowed; 0 when not closing. */
  readonly unlockAt: number;
}

export class EscrowChain {
  private readonly client: TonClient;
  /** Where the chat raises its streams' reserves (signed by the session key: no wallet prompt). */
  readonly reserves: ReserveChain;

  constructor(readonly config: ChainConfig) {
    const client = new TonClient({ endpoint: config.endpoint });
    this.client = client;
    this.reserves = tonReserveChain(client);
  }

  async read(account: EscrowAccount, sessionKey: Uint8Array): Promise<EscrowFacts> {
    const escrow = this.client.open(account.contract);
    const state = await this.client.getContractState(account.contract.address);
    if (state.state !== "active") {
      return { deployed: false, balance: state.balance, keyEpoch: undefined, unlockAt: 0 };
    }
    const [data, key] = await Promise.all([escrow.getEscrowData(), escrow.getKey(sessionKey)]);
    const active = key && BigInt(key.validUntil) === EscrowParams.KEY_ACTIVE;
    return {
      deployed: true,
      balance: data.balance,
      keyEpoch: active ? key.epoch : undefined,
      unlockAt: data.unlockAt,
    };
  }

  devWallet(seed: KvEntry<Uint8Array>): DevWallet {
    return new DevWallet(this.config, seed);
  }
}
