import { describe, expect, it } from "vitest";
import { SilkError } from "../../protocol";
import { securePair } from "../support/piped-session";

/**
 * A listener of a session's messages that throws (a bug of ours, on either side) ran inside the
 * transport's delivery, where nothing caught it: the process's uncaught exception (a gateway gone
 * for every user), as a lying provider's second `done` once showed (229b6a6). The session now ends
 * with an INTERNAL error naming it, the throw as its cause, and the process goes on.
 */
describe("a message listener that throws", () => {
  it("ends that session with INTERNAL, its error as the cause; nothing escapes", async () => {
    const { requesterSide, providerSide } = await securePair();
    const bug = new Error("listener bug");
    providerSide.onMessage(() => {
      throw bug;
    });
    const closed = new Promise<Error | undefined>((resolve) => providerSide.onClose(resolve));
    const requesterClosed = new Promise<Error | undefined>((resolve) => requesterSide.onClose(resolve));
    await requesterSide.send({ v: 1, t: "cancel", id: "r1" });
    const why = await closed;
    expect(why).toBeInstanceOf(SilkError);
    expect(why).toMatchObject({ code: "INTERNAL" });
    expect(why?.message).toMatch(/listener/);
    expect(why?.cause).toBe(bug);
    await requesterClosed;
  });
});
