import type { SignedAnswer } from "../../protocol";
import { type AccountOperation, AccountStoreError } from "./errors";
import type { PaymentAccount } from "./payment-account";

/**
 * The app's payment account is called through here, so that a store that fails says so in the
 * SDK's words: an `AccountStoreError` naming the operation, the store's own error as its `cause`.
 */

/** What a store's failure of `operation` reads as. */
function storeFailed(operation: AccountOperation, err: unknown): AccountStoreError {
  const said = err instanceof Error ? err.message : String(err);
  return new AccountStoreError(
    "FAILED",
    operation,
    `the payment account's ${operation} failed (${said.slice(0, 200)})${operation === "keepAnswer" ? "; the answer's signed statement is not kept" : ""}`,
    { cause: err },
  );
}

/**
 * `run` (one call of the account's `operation`), a rejection or a throw read as `storeFailed`;
 * with `deadlineMs`, a call that has not settled by then is a TIMEOUT (its result is then ignored).
 */
export async function fromAccount<T>(
  operation: AccountOperation,
  run: () => Promise<T>,
  deadlineMs?: number,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    if (deadlineMs === undefined) return await run();
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AccountStoreError(
              "TIMEOUT",
              operation,
              `the payment account's ${operation} did not settle within ${deadlineMs} ms`,
            ),
          ),
        deadlineMs,
      );
    });
    return await Promise.race([run(), late]);
  } catch (err) {
    throw err instanceof AccountStoreError ? err : storeFailed(operation, err);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Keeps a provider's signed answer in the account (`keepAnswer`) without holding the answer up:
 * the answer has already gone back with its statement. A store that throws, rejects or does not
 * settle within `deadlineMs` is told to `onError` once, as an `AccountStoreError`; without
 * `onError` the failure is dropped (the caller lost nothing: the statement is in `usage`).
 */
export function keepAnswerAside(
  account: PaymentAccount,
  signed: SignedAnswer,
  deadlineMs: number,
  onError: ((e: AccountStoreError) => void) | undefined,
): void {
  const keep = account.keepAnswer;
  if (!keep) return;
  let told = false;
  const tell = (e: AccountStoreError) => {
    if (told) return;
    told = true;
    onError?.(e);
  };
  const timer = setTimeout(
    () =>
      tell(
        new AccountStoreError(
          "TIMEOUT",
          "keepAnswer",
          `the payment account's keepAnswer did not settle within ${deadlineMs} ms; the answer's signed statement may not be kept`,
        ),
      ),
    deadlineMs,
  );
  (timer as { unref?: () => void }).unref?.();
  // Called a turn later, so a store that throws at once is caught like one that rejects.
  Promise.resolve()
    .then(() => keep.call(account, signed))
    .then(
      () => {
        clearTimeout(timer);
        told = true;
      },
      (err: unknown) => {
        clearTimeout(timer);
        tell(storeFailed("keepAnswer", err));
      },
    );
}
