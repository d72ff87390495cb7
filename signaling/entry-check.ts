import type { Logger } from "pino";

/**
 * What the server makes of a provider's word on its Registry entry. A provider declares the
 * wallet owning its entry and, as hints for the server's filter, its stake and registration time.
 * With `entryCheck` (npm start passes one reading the configured network's Registry, cached), the
 * server reads the entry itself: the stake and time it filters on are the chain's, and an entry
 * that does not publish this identity key and payout counts as none (the provider is then offered
 * only to requesters without a policy). Without one, or when the chain cannot be read in time, the
 * declared hints stand. Either way the requester reads the entry itself before anything is sent:
 * this only saves it a refusal, it is not what keeps it safe.
 */
export interface EntryClaim {
  readonly owner: string;
  /** Hex, as registered. */
  readonly identityKey: string;
  readonly payout: string;
}

export interface EntryStanding {
  readonly stake: bigint;
  readonly registeredAt: number;
}

/** Reads the entry `claim.owner` owns; undefined when it publishes no entry with this key and payout. */
export type EntryCheck = (claim: EntryClaim) => Promise<EntryStanding | undefined>;

export interface DeclaredEntry extends EntryStanding {
  readonly owner: string;
}

export async function checkedEntry(
  check: EntryCheck | undefined,
  claim: Omit<EntryClaim, "owner">,
  declared: DeclaredEntry,
  log: Logger,
  timeoutMs: number,
): Promise<DeclaredEntry | undefined> {
  if (!check) return declared;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), timeoutMs);
  });
  try {
    const read = await Promise.race([check({ ...claim, owner: declared.owner }), late]);
    if (read === "late") {
      log.warn(
        { identityKey: claim.identityKey },
        "Registry read too slow: the provider's declared entry stands",
      );
      return declared;
    }
    if (!read) {
      log.info(
        { identityKey: claim.identityKey },
        "no Registry entry publishes this provider: offered without one",
      );
      return undefined;
    }
    return { owner: declared.owner, stake: read.stake, registeredAt: read.registeredAt };
  } catch (err) {
    log.warn(
      { err, identityKey: claim.identityKey },
      "Registry unreadable: the provider's declared entry stands",
    );
    return declared;
  } finally {
    clearTimeout(timer);
  }
}
