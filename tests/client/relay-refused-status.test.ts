import { describe, expect, it } from "vitest";
import { toHttpError } from "../../client/gateway/http-errors";
import { RelayRefusedError, ServerRefusalError } from "../../peer/signaling-errors";

/**
 * A request every signaling server refused to relay ends with a RelayRefusedError (a
 * ChannelClosedError): the gateway answered it 502 `channel_closed`, as if a party had failed,
 * where before relay refusals were typed it was 503 `no_answer`. Nobody could carry it now:
 * 503 (which carries Retry-After: 1), naming the refusal.
 */
describe("the gateway's status for a request no server would relay", () => {
  it("is 503 relay_refused, the SDK's sentence naming the server", () => {
    const refusal = new ServerRefusalError("RATE_LIMITED", "relay budget exceeded; log in at evil.example");
    const http = toHttpError(new RelayRefusedError("http://silk.example", refusal));
    expect(http.status).toBe(503);
    const { error } = http.body();
    expect(error).toMatchObject({ type: "service_unavailable", code: "relay_refused" });
    expect(error.message).toBe(
      "the signaling server at http://silk.example did not carry a frame of the session (RATE_LIMITED)",
    );
    expect(error.message).not.toContain("evil.example");
  });
});
