import type { SessionLife } from "../../peer/session-life";
import {
  ChannelClosedError,
  encodeSignedReceipt,
  type SecureSession,
  type SessionMessage,
  type SignedReceipt,
  TimeoutError,
} from "../../protocol";
import { providerError } from "./errors";

/**
 * Opens the account: sends the base receipt and waits, within the account deadline, for the
 * provider's `account` (or its refusal).
 */
export function sendBase(session: SecureSession, signed: SignedReceipt, life: SessionLife) {
  const timeoutMs = life.deadlines.account;
  return new Promise<Extract<SessionMessage, { t: "account" }>>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new TimeoutError("account", timeoutMs));
    }, timeoutMs);
    const off = session.onMessage((m) => {
      if (m.t === "error" && !m.id) {
        clearTimeout(timer);
        off();
        reject(providerError(m.error));
      }
      if (m.t !== "account") return;
      clearTimeout(timer);
      off();
      resolve(m);
    });
    session.onClose((reason) => {
      clearTimeout(timer);
      reject(reason ?? new ChannelClosedError());
    });
    session.send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(signed) }).catch(reject);
  });
}
