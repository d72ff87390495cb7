import type { SignedAnswer } from "../../protocol";
import { AccountStoreError } from "./errors";
import type { PaymentAccount } from "./payment-account";

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
        tell(
          new AccountStoreError(
            "FAILED",
            `the payment account's keepAnswer failed (${err instanceof Error ? err.message : String(err)}); the answer's signed statement is not kept`,
            { cause: err },
          ),
        );
      },
    );
}
