import { describe, expect, it } from "vitest";
import { toHttpError } from "../../client/gateway/http-errors";
import { ProviderLostError } from "../../client/sdk/errors";
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

  it("is 503 relay_refused too when part of the answer came first, saying the answer was cut (it was 502 provider_lost)", () => {
    const refusal = new RelayRefusedError(
      "http://silk.example",
      new ServerRefusalError("RATE_LIMITED", "relay budget exceeded"),
    );
    // As failover.ts ends a request whose partial answer came before every server refused.
    const cut = new ProviderLostError(
      "The first half",
      3,
      30n,
      refusal,
      `the answer was cut: ${refusal.message}`,
    );
    const http = toHttpError(cut);
    expect(http.status).toBe(503);
    expect(http.body().error).toMatchObject({
      type: "service_unavailable",
      code: "relay_refused",
      message:
        "the answer was cut: the signaling server at http://silk.example did not carry a frame of the session (RATE_LIMITED)",
    });
    // A provider that truly left is still 502 provider_lost.
    expect(toHttpError(new ProviderLostError("x", 1, 1n)).body().error.code).toBe("provider_lost");
  });
});
