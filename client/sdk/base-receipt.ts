import type { SessionLife } from "../../peer/session-life";
import {
  ChannelClosedError,
  encodeSignedReceipt,
  type SecureSession,
  type SessionMessage,
  type SignedReceipt,
  TimeoutError,
} from "../../protocol";
import { providerError, UnreadableMessageError } from "./errors";

/**
 * Opens the account: sends the base receipt and waits, within the account deadline, for the
 * provider's `account` (or its refusal).
 */
export function sendBase(session: SecureSession, signed: SignedReceipt, life: SessionLife) {
  const timeoutMs = life.deadlines.account;
  return new Promise<Extract<SessionMessage, { t: "account" }>>((resolve, reject) => {
    // Handlers may run within the calls that add them (a message already waiting): removers first.
    const removers: (() => void)[] = [];
    const off = () => {
      clearTimeout(timer);
      for (const remove of removers.splice(0)) remove();
    };
    const timer = setTimeout(() => {
      off();
      reject(new TimeoutError("account", timeoutMs));
    }, timeoutMs);
    removers.push(
      session.onRefused((r) => {
        // an account or a refusal this version cannot read: the provider's answer, unreadable
        if (r.id !== undefined || r.error.code === "UNKNOWN_TYPE") return;
        off();
        reject(new UnreadableMessageError(r.t, r.error));
      }),
    );
    let done = false;
    const offMessage = session.onMessage((m) => {
      if (done) return;
      if (m.t === "error" && !m.id) {
        done = true;
        off();
        reject(providerError(m.error));
      }
      if (m.t !== "account") return;
      done = true;
      off();
      resolve(m);
    });
    if (done) offMessage();
    else removers.push(offMessage);
    session.onClose((reason) => {
      clearTimeout(timer);
      reject(reason ?? new ChannelClosedError());
    });
    session.send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(signed) }).catch(reject);
  });
}
