import { ESLint } from "eslint"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..", "..", "..")
const fixture = (name: string) => readFileSync(join(import.meta.dirname, "fixtures", name), "utf8")

/** Lints a fixture as though it were a source file at `asPath` (relative to the workspace root). */
const lintAs = async (name: string, asPath: string) => {
  const eslint = new ESLint({ cwd: root })
  const [result] = await eslint.lintText(fixture(name), { filePath: join(root, asPath) })
  return result!.messages.filter((message) => message.ruleId === "@nx/enforce-module-boundaries")
}

describe("module boundaries", () => {
  beforeAll(() => {
    // The rule reads Nx's cached project graph; make sure it exists, as `nx run-many -t lint` would.
    const shown = spawnSync("npx", ["nx", "show", "projects"], { cwd: root, env: { ...process.env, NX_DAEMON: "false" }, encoding: "utf8" })
    expect(shown.status).toBe(0)
  })

  it("forbids one validator importing another", async () => {
    const messages = await lintAs("nccl-imports-inference-perf.ts", "packages/validator-nccl/src/boundary-fixture.ts")
    expect(messages).toHaveLength(1)
    expect(messages[0]!.message).toContain("A project tagged with \"type:validator\" can only depend on libs tagged with \"type:core\"")
  })

  it("forbids core importing the cli (a cycle back to core)", async () => {
    const messages = await lintAs("core-imports-cli.ts", "packages/core/src/boundary-fixture.ts")
    expect(messages).toHaveLength(1)
    expect(messages[0]!.message).toContain("Circular dependency between \"@aicr/core\" and \"@aicr/cli\"")
  })

  it("allows a validator to import core", async () => {
    const messages = await lintAs("nccl-imports-core.ts", "packages/validator-nccl/src/boundary-fixture.ts")
    expect(messages).toEqual([])
  })
})
