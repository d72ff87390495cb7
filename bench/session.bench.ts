/**
 * The encrypted session's cost per frame, next to plain framing measured in the same run: both
 * do JSON encoding, chunking, reassembly, parsing and schema validation; the encrypted one adds
 * sealing and opening with ChaCha20-Poly1305. Frames go sender to receiver in memory, so what is
 * measured is the CPU work each side adds, not a network.
 */
import {
  decodeJson,
  encodeJson,
  MAX_SESSION_MESSAGE_BYTES,
  parseSessionMessage,
  type SessionMessage,
} from "../protocol";
import { MAX_PIECE_PAYLOAD, Reassembler, splitMessage } from "../protocol/session/chunks";
import { ReceiveCipher, SendCipher } from "../protocol/session/cipher";
import { fmt, printTable } from "./table";

function pipeline(encrypted: boolean) {
  const key = new Uint8Array(32).fill(3);
  const send = new SendCipher(key);
  const recv = new ReceiveCipher(key);
  const reassembler = new Reassembler();
  return (message: SessionMessage): number => {
    let bytes = 0;
    for (const piece of splitMessage(encodeJson(message, MAX_SESSION_MESSAGE_BYTES))) {
      const frame = encrypted ? send.seal(piece) : piece;
      bytes += frame.length;
      const whole = reassembler.push(encrypted ? recv.open(frame) : frame);
      if (whole) parseSessionMessage(decodeJson(whole, MAX_SESSION_MESSAGE_BYTES));
    }
    return bytes;
  };
}

function measure(run: (m: SessionMessage) => number, message: SessionMessage, seconds: number) {
  for (let i = 0; i < 200; i++) run(message); // warm up
  let frames = 0;
  let bytes = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  while (performance.now() < until) {
    for (let i = 0; i < 50; i++) {
      bytes += run(message);
      frames++;
    }
  }
  const elapsed = (performance.now() - start) / 1000;
  return {
    framesPerSec: frames / elapsed,
    mbPerSec: bytes / elapsed / 1e6,
    usPerFrame: (elapsed * 1e6) / frames,
  };
}

export default async function main(): Promise<void> {
  const overhead = 200; // JSON envelope of a tokens message, comfortably
  const cases: [string, SessionMessage][] = [
    ["token (~4 B text)", { v: 1, t: "tokens", id: "req-1", text: " the", count: 1, total: 42 }],
    [
      "64 KiB frame",
      { v: 1, t: "tokens", id: "req-1", text: "x".repeat(MAX_PIECE_PAYLOAD - overhead), count: 1, total: 42 },
    ],
  ];
  const rows: Record<string, string>[] = [];
  for (const [name, message] of cases) {
    const plain = measure(pipeline(false), message, 1.5);
    const enc = measure(pipeline(true), message, 1.5);
    for (const [mode, r] of [
      ["plain framing", plain],
      ["encrypted", enc],
    ] as const) {
      rows.push({
        frame: name,
        mode,
        "frames/s": fmt(r.framesPerSec, 0),
        "MB/s": fmt(r.mbPerSec, 1),
        "µs/frame": fmt(r.usPerFrame, 2),
        "vs plain":
          mode === "plain framing" ? "1.00x" : `${fmt(plain.framesPerSec / r.framesPerSec)}x slower`,
      });
    }
  }
  printTable("Encrypted session vs plain framing (sender and receiver work per frame, one core)", rows);
}
