import { describe, expect, it } from "vitest";
import { shownUrl } from "../../peer/shown-url";
import { OptionsError, parseHeadlessOptions } from "../../provider/headless/options";

/**
 * What the programs print of a URL an operator gave them: never the API key in its query or its
 * user part (toncenter's `?api_key=`, `https://user:key@host`), since what a program prints is logged.
 */
describe("a URL as the programs print it", () => {
  it("keeps scheme, host, port and path; leaves out credentials, query and fragment, and says so", () => {
    expect(shownUrl("https://toncenter.com/api/v2/jsonRPC?api_key=SECRET-1")).toBe(
      "https://toncenter.com/api/v2/jsonRPC (its credentials and query not shown)",
    );
    expect(shownUrl("http://user:SECRET-2@127.0.0.1:11434/v1#SECRET-3")).toBe(
      "http://127.0.0.1:11434/v1 (its credentials and query not shown)",
    );
    expect(shownUrl("http://127.0.0.1:8787")).toBe("http://127.0.0.1:8787");
    expect(shownUrl("not a url SECRET-4")).toBe("(not a URL)");
  });

  it("the headless provider's refusal of a malformed URL does not repeat it", () => {
    const base = ["--model", "m", "--price", "5", "--payout", `0:${"22".repeat(32)}`];
    for (const argv of [
      [...base, "--backend", "htp//SECRET-5"],
      [...base, "--backend", "http://127.0.0.1:1/v1", "--ton-endpoint", "toncenter SECRET-6"],
    ]) {
      let err: unknown;
      try {
        parseHeadlessOptions(argv, {}, undefined);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OptionsError);
      expect((err as Error).message).toMatch(/is not a URL/);
      expect((err as Error).message).not.toMatch(/SECRET/);
    }
  });
});
