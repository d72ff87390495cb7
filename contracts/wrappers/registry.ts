import { sha256 } from "@noble/hashes/sha2.js";
import {
  type Address,
  type Builder,
  beginCell,
  type Cell,
  type Contract,
  type ContractProvider,
  contractAddress,
  Dictionary,
  type Sender,
  type Slice,
  TupleBuilder,
} from "@ton/core";
import { Buffer } from "buffer";
import { sign } from "../../protocol/identity";
import { checkPrice, type ModelPrice } from "../../protocol/pricing";
import { RegistryOp, RegistryParams } from "../generated/constants";
import { sendBody } from "./send-body";

export interface ModelOffer {
  readonly modelId: string;
  readonly price: ModelPrice;
}

/** What a provider publishes. */
export interface ProviderEntry {
  /** Ed25519 identity key (32 bytes), the one its signaling registration is signed with. */
  readonly identityKey: Uint8Array;
  readonly payout: Address;
  readonly models: readonly ModelOffer[];
}

/** Map key of a model: the sha256 of its id, as the contract's uint256. */
export function modelHash(modelId: string): bigint {
  return BigInt(`0x${Buffer.from(sha256(new TextEncoder().encode(modelId))).toString("hex")}`);
}

/** model_offer$_ nano_per_token:Coins prompt_bps:uint32 completion_bps:uint32 model_id:^Cell = ModelOffer; */
export function storeModelOffer(o: ModelOffer): (b: Builder) => void {
  return (b) => {
    const p = checkPrice(o.price);
    b.storeCoins(p.nanoPerToken)
      .storeUint(p.promptMultiplierBps, 32)
      .storeUint(p.completionMultiplierBps, 32)
      .storeRef(beginCell().storeStringTail(o.modelId).endCell());
  };
}

export function loadModelOffer(s: Slice): ModelOffer {
  const nanoPerToken = s.loadCoins();
  const promptMultiplierBps = s.loadUint(32);
  const completionMultiplierBps = s.loadUint(32);
  const modelId = s.loadRef().beginParse().loadStringTail();
  return { modelId, price: { nanoPerToken, promptMultiplierBps, completionMultiplierBps } };
}

const modelOfferValue = {
  serialize: (o: ModelOffer, b: Builder) => {
    b.store(storeModelOffer(o));
  },
  parse: loadModelOffer,
};

/** provider_entry$_ identity_key:bits256 payout:MsgAddressInt models:(HashmapE 256 ModelOffer) = ProviderEntry; */
export function storeProviderEntry(e: ProviderEntry): (b: Builder) => void {
  return (b) => {
    if (e.identityKey.length !== 32) throw new RangeError("an identity key is 32 bytes");
    const models = Dictionary.empty(Dictionary.Keys.BigUint(256), modelOfferValue);
    for (const m of e.models) models.set(modelHash(m.modelId), m);
    b.storeBuffer(Buffer.from(e.identityKey), 32).storeAddress(e.payout).storeDict(models);
  };
}

export function loadProviderEntry(s: Slice): ProviderEntry {
  const identityKey = new Uint8Array(s.loadBuffer(32));
  const payout = s.loadAddress();
  const models = s.loadDict(Dictionary.Keys.BigUint(256), modelOfferValue);
  s.endParse();
  return { identityKey, payout, models: models.values() };
}

function entryCell(e: ProviderEntry): Cell {
  return beginCell().store(storeProviderEntry(e)).endCell();
}

/**
 * The identity key's consent to be published by `owner` in `registry` on the network `globalId`
 * (TON's global id: -239 mainnet, -3 testnet, `NETWORK_ID`) until `validUntil` (unix time): its
 * Ed25519 signature over the hash of
 * `key_proof#52470008 global_id:int32 registry:MsgAddressInt owner:MsgAddressInt valid_until:uint32`.
 * The Registry refuses a registration or update without one (`BadKeyProof`, `KeyProofExpired`),
 * so nobody publishes a key it does not hold; it reads the network from the chain's config (param
 * 19), so a proof made on testnet is no good on mainnet, even at the same registry address.
 */
export interface KeyProof {
  readonly signature: Uint8Array;
  readonly validUntil: number;
}

export interface KeyProofScope {
  readonly globalId: number;
  readonly registry: Address;
  readonly owner: Address;
  readonly validUntil: number;
}

export function keyProofBody(o: KeyProofScope): Cell {
  if (!Number.isInteger(o.globalId) || o.globalId < -(2 ** 31) || o.globalId >= 2 ** 31)
    throw new RangeError(`a network's global id is an int32, not ${o.globalId}`);
  return beginCell()
    .storeUint(RegistryParams.KEY_PROOF_TAG, 32)
    .storeInt(o.globalId, 32)
    .storeAddress(o.registry)
    .storeAddress(o.owner)
    .storeUint(o.validUntil, 32)
    .endCell();
}

export function signKeyProof(secretKey: Uint8Array, o: KeyProofScope): KeyProof {
  return { signature: sign(secretKey, keyProofBody(o).hash()), validUntil: o.validUntil };
}

/** op:uint32 query_id:uint64 entry:^ProviderEntry signature:bits512 valid_until:uint32 (register, update) */
export function entryMessage(
  op: number,
  e: ProviderEntry,
  proof: KeyProof,
  queryId: bigint | number = 0,
): Cell {
  if (proof.signature.length !== 64) throw new RangeError("a key proof's signature is 64 bytes");
  return beginCell()
    .storeUint(op, 32)
    .storeUint(queryId, 64)
    .storeRef(entryCell(e))
    .storeBuffer(Buffer.from(proof.signature), 64)
    .storeUint(proof.validUntil, 32)
    .endCell();
}

/** Bodies for wallets that take a ready cell (TON Connect): what `sendRegister`/`sendUpdate`/`sendRemove` send. */
export const registryBodies = {
  register: (e: ProviderEntry, proof: KeyProof, queryId?: bigint | number): Cell =>
    entryMessage(RegistryOp.Register, e, proof, queryId),
  update: (e: ProviderEntry, proof: KeyProof, queryId?: bigint | number): Cell =>
    entryMessage(RegistryOp.UpdateEntry, e, proof, queryId),
  remove: (queryId?: bigint | number): Cell =>
    beginCell()
      .storeUint(RegistryOp.RemoveEntry, 32)
      .storeUint(queryId ?? 0, 64)
      .endCell(),
  /** add_stake#52470006 query_id:uint64 amount:Coins: send `amount` + STAKE_FEE with it. */
  addStake: (amount: bigint, queryId?: bigint | number): Cell =>
    beginCell()
      .storeUint(RegistryOp.AddStake, 32)
      .storeUint(queryId ?? 0, 64)
      .storeCoins(amount)
      .endCell(),
  withdrawStake: (queryId?: bigint | number): Cell =>
    beginCell()
      .storeUint(RegistryOp.WithdrawStake, 32)
      .storeUint(queryId ?? 0, 64)
      .endCell(),
};

/** What a requester checks about a provider besides its entry: age and stake. */
export interface EntryStanding {
  /** Unix time the current identity key was registered; 0 when not registered. */
  readonly registeredAt: number;
  /** nanoTON locked in the entry. */
  readonly stake: bigint;
  /** Unix time the stake may be withdrawn after leaving; 0 while registered. */
  readonly unlockAt: number;
}

/** registry_storage$_ entry_code:^Cell registered:uint64 = RegistryStorage; */
export function storeRegistryInit(entryCode: Cell): (b: Builder) => void {
  return (b) => {
    b.storeRef(entryCode).storeUint(0, 64);
  };
}

/**
 * entry_storage$_ registry:MsgAddressInt owner:MsgAddressInt registered_at:uint32 stake:Coins
 *   unlock_at:uint32 entry:(Maybe ^ProviderEntry) = EntryStorage;   (initial data: all zero, no entry)
 */
export function storeEntryInit(registry: Address, owner: Address): (b: Builder) => void {
  return (b) => {
    b.storeAddress(registry)
      .storeAddress(owner)
      .storeUint(0, 32)
      .storeCoins(0n)
      .storeUint(0, 32)
      .storeMaybeRef(null);
  };
}

export class Registry implements Contract {
  constructor(
    readonly address: Address,
    readonly init?: { code: Cell; data: Cell },
  ) {}

  static createFromAddress(address: Address): Registry {
    return new Registry(address);
  }

  static createFromConfig(config: { entryCode: Cell }, code: Cell, workchain = 0): Registry {
    const init = { code, data: beginCell().store(storeRegistryInit(config.entryCode)).endCell() };
    return new Registry(contractAddress(workchain, init), init);
  }

  async sendDeploy(provider: ContractProvider, via: Sender, value: bigint): Promise<void> {
    await sendBody(provider, via, value, undefined, false);
  }

  /**
   * Creates or replaces the sender's entry. At least MIN_REGISTER_VALUE; the excess comes back.
   * `proof`: the identity key's signature for this registry and the sender (`signKeyProof`).
   */
  async sendRegister(
    provider: ContractProvider,
    via: Sender,
    opts: { entry: ProviderEntry; proof: KeyProof; value: bigint; queryId?: bigint | number },
  ): Promise<void> {
    await sendBody(provider, via, opts.value, registryBodies.register(opts.entry, opts.proof, opts.queryId));
  }

  async getEntryAddress(provider: ContractProvider, owner: Address): Promise<Address> {
    const args = new TupleBuilder();
    args.writeAddress(owner);
    const { stack } = await provider.get("get_entry_address", args.build());
    return stack.readAddress();
  }

  async getRegisteredCount(provider: ContractProvider): Promise<number> {
    const { stack } = await provider.get("get_registered_count", []);
    return stack.readNumber();
  }
}

export class ProviderEntryContract implements Contract {
  constructor(readonly address: Address) {}

  static createFromAddress(address: Address): ProviderEntryContract {
    return new ProviderEntryContract(address);
  }

  /** The entry's address computed off-chain: (entry code, registry, owner). */
  static addressFor(entryCode: Cell, registry: Address, owner: Address, workchain = 0): Address {
    return contractAddress(workchain, {
      code: entryCode,
      data: beginCell().store(storeEntryInit(registry, owner)).endCell(),
    });
  }

  async sendUpdate(
    provider: ContractProvider,
    via: Sender,
    opts: { entry: ProviderEntry; proof: KeyProof; value: bigint; queryId?: bigint | number },
  ): Promise<void> {
    await sendBody(provider, via, opts.value, registryBodies.update(opts.entry, opts.proof, opts.queryId));
  }

  async sendRemove(
    provider: ContractProvider,
    via: Sender,
    opts: { value: bigint; queryId?: bigint | number },
  ): Promise<void> {
    await sendBody(provider, via, opts.value, registryBodies.remove(opts.queryId));
  }

  async sendAddStake(
    provider: ContractProvider,
    via: Sender,
    opts: { amount: bigint; value: bigint; queryId?: bigint | number },
  ): Promise<void> {
    await sendBody(provider, via, opts.value, registryBodies.addStake(opts.amount, opts.queryId));
  }

  async sendWithdrawStake(
    provider: ContractProvider,
    via: Sender,
    opts: { value: bigint; queryId?: bigint | number },
  ): Promise<void> {
    await sendBody(provider, via, opts.value, registryBodies.withdrawStake(opts.queryId));
  }

  /**
   * The published entry with its age and stake (one getter call), or undefined when none is
   * published (never registered, removed, or a stake left unlocking).
   */
  async getEntry(
    provider: ContractProvider,
  ): Promise<({ owner: Address; registry: Address; entry: ProviderEntry } & EntryStanding) | undefined> {
    const state = await provider.getState();
    if (state.state.type !== "active") return undefined;
    const { stack } = await provider.get("get_entry", []);
    const registry = stack.readAddress();
    const owner = stack.readAddress();
    const cell = stack.readCellOpt();
    const registeredAt = stack.readNumber();
    const stake = stack.readBigNumber();
    const unlockAt = stack.readNumber();
    if (!cell) return undefined;
    return { registry, owner, entry: loadProviderEntry(cell.beginParse()), registeredAt, stake, unlockAt };
  }

  /** The stake and when it unlocks (0 while registered); zero for an account that does not exist. */
  async getStake(provider: ContractProvider): Promise<{ stake: bigint; unlockAt: number }> {
    const state = await provider.getState();
    if (state.state.type !== "active") return { stake: 0n, unlockAt: 0 };
    const { stack } = await provider.get("get_stake", []);
    return { stake: stack.readBigNumber(), unlockAt: stack.readNumber() };
  }

  async getRegisteredAt(provider: ContractProvider): Promise<number> {
    const { stack } = await provider.get("get_registered_at", []);
    return stack.readNumber();
  }

  async getModelPrice(provider: ContractProvider, modelId: string): Promise<ModelPrice | undefined> {
    const args = new TupleBuilder();
    args.writeNumber(modelHash(modelId));
    const { stack } = await provider.get("get_model_price", args.build());
    if (!stack.readBoolean()) return undefined;
    return {
      nanoPerToken: stack.readBigNumber(),
      promptMultiplierBps: stack.readNumber(),
      completionMultiplierBps: stack.readNumber(),
    };
  }
}
