import type { SessionLife } from "../../peer/session-life";
import {
  ChannelClosedError,
  encodeSignedReceipt,
  NEWER_CODES,
  type SecureSession,
  type SessionMessage,
  type SessionMessageInput,
  type SignedReceipt,
  TimeoutError,
} from "../../protocol";
import { providerError, UnreadableMessageError } from "./errors";

type Account = Extract<SessionMessage, { t: "account" }>;
/** The grant's quote as the base receipt shows it (ShownQuote's wire form). */
export type QuoteShown = NonNullable<Extract<SessionMessageInput, { t: "receipt" }>["quote"]>;

/**
 * Opens the account: sends the base receipt and waits, within the account deadline, for the
 * provider's `account` (or its refusal). However the wait ends, its timer and every handler it
 * put on the session go with it.
 */
export function sendBase(
  session: SecureSession,
  signed: SignedReceipt,
  life: Pick<SessionLife, "deadlines">,
  /** The provider's quote the grant carried: the provider honours its own word while it holds. */
  quote?: QuoteShown,
): Promise<Account> {
  const timeoutMs = life.deadlines.account;
  return new Promise<Account>((resolve, reject) => {
    let over = false;
    const removers: (() => void)[] = [];
    const end = (settle: () => void) => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      for (const remove of removers.splice(0)) remove();
      settle();
    };
    // A handler may run inside the call that adds it (an account already waiting): its remover,
    // returned after, is called at once then.
    const keep = (remove: () => void) => (over ? remove() : void removers.push(remove));
    const timer = setTimeout(() => end(() => reject(new TimeoutError("account", timeoutMs))), timeoutMs);
    keep(session.onClose((reason) => end(() => reject(reason ?? new ChannelClosedError()))));
    keep(
      session.onRefused((r) => {
        // an account or a refusal this version cannot read: the provider's answer, unreadable
        if (r.id === undefined && r.error.code !== "UNKNOWN_TYPE")
          end(() => reject(new UnreadableMessageError(r.t, r.error)));
      }),
    );
    keep(
      session.onMessage((m) => {
        if (m.t === "error" && !m.id) end(() => reject(providerError(m.error)));
        else if (m.t === "account") end(() => resolve(m));
      }),
    );
    const receipt = encodeSignedReceipt(signed);
    // `knows`: the codes newer than the first version this SDK reads (ESCROW_HELD_BACK, …).
    session
      .send({ v: 1, t: "receipt", receipt, knows: [...NEWER_CODES], ...(quote && { quote }) })
      .catch((err: unknown) => {
        end(() => reject(err));
      });
  });
}
