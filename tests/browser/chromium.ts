import { type Browser, chromium } from "playwright-core";

/** Debian's Chromium, headless, never Playwright's download. WebGPU (SwiftShader) only when asked. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** The flags every browser test runs Chromium with. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export function launchChromium(opts: { webgpu?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      ...CHROMIUM_FLAGS,
      ...(opts.webgpu
        ? ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-angle=swiftshader"]
        : []),
    ],
  });
}
