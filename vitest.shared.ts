import { defineConfig } from "vitest/config"

/** One vitest configuration for every project: tests under test/, a JSON summary per project for .ci/run. */
export const projectConfig = (dir: string) =>
  defineConfig({
    test: {
      root: dir,
      include: ["test/**/*.test.ts"],
      testTimeout: 30_000,
      pool: "forks",
      reporters: ["default", ["json", { outputFile: `${dir}/.test-results/vitest.json` }]]
    }
  })
