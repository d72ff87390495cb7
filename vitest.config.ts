import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: integration tests start servers, browsers and chains; running files in parallel
    // on this machine makes them slower and flakier, not faster.
    fileParallelism: process.env.CI !== "true",
    maxWorkers: 2,
    // A worker that dies natively leaves no file name behind; this one prints it.
    reporters: ["default", "./tests/support/unfinished-files-reporter.ts"],
  },
});
