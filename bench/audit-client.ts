import wrtc from "@roamhq/wrtc";
import { connect, type SilkClient } from "../client/sdk/silk-client";
import { generateKeyPair } from "../protocol";

/** An SDK client over WebRTC that requires signed answers, as an auditor's (and its reference's) must. */
export function auditClient(url: string, escrow: string): Promise<SilkClient> {
  return connect({
    signalingUrl: url,
    sessionKey: generateKeyPair(),
    maxPrice: { promptNanoPerToken: 100n, completionNanoPerToken: 100n },
    escrow,
    wrtc,
    requireSignedAnswers: true,
  });
}
