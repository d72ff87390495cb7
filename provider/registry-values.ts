import { RegistryParams } from "../contracts/generated/constants";

/** Sent with a registration: the Registry's minimum plus gas; the entry returns the excess. */
export const REGISTER_VALUE = RegistryParams.MIN_REGISTER_VALUE + 50_000_000n;
/** Sent with a stake: the amount plus this (STAKE_FEE and gas); the entry returns the excess. */
export const STAKE_EXTRA = RegistryParams.STAKE_FEE + 40_000_000n;
/** Sent with remove_entry and withdraw_stake: gas; the entry returns the excess. */
export const ENTRY_OP_VALUE = 50_000_000n;
