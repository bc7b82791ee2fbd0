import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..", "..", "..")
const read = (path: string) => readFileSync(join(root, path), "utf8")
const aicr = (args: ReadonlyArray<string>) =>
  spawnSync(process.execPath, [join(root, "packages/cli/bin/aicr.js"), ...args], { cwd: root, encoding: "utf8" })

describe("workspace", () => {
  it("runs the tests under Node 24", () => {
    expect(process.versions.node.split(".")[0]).toBe("24")
  })

  it("README setup is exactly the two commands, and .ci/run calls the test one", () => {
    const setup = /## Setup[^\n]*\n\n```sh\n([\s\S]*?)```/.exec(read("README.md"))?.[1]
    expect(setup?.trim().split("\n")).toEqual([
      "npm ci && npx aicr validate --recipe examples/recipes/h100-gke-cos-inference-dynamo.yaml --phase performance --dry-run",
      "npm test"
    ])
    expect(existsSync(join(root, "examples/recipes/h100-gke-cos-inference-dynamo.yaml"))).toBe(true)
    expect(read(".ci/run")).toMatch(/^npm test$/m)
    expect(JSON.parse(read("package.json")).scripts.test).toBe("node tools/scripts/test-all.mjs")
  })

  it("the README's main command prints the plan of inference-perf", () => {
    const result = aicr(["validate", "--recipe", "examples/recipes/h100-gke-cos-inference-dynamo.yaml", "--phase", "performance", "--dry-run"])
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("inference-perf — run")
    expect(result.stdout).toContain("inference-throughput >= 50000")
  })

  it("the example config loads its out-of-tree plugin", () => {
    const result = aicr(["validate", "-r", "examples/recipes/with-plugin.yaml", "--config", "examples/aicr.config.mjs", "--dry-run"])
    expect(result.stderr).not.toContain("error:")
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("gpu-nodes-labelled — run")
    expect(result.stdout).toContain("nccl-all-reduce-bw — run")
  })

  it("pins nx and every @nx package to one version, and Node 24 through the root devDependency", () => {
    const manifest = JSON.parse(read("package.json"))
    const nx = Object.entries<string>(manifest.devDependencies).filter(([name]) => name === "nx" || name.startsWith("@nx/"))
    expect(new Set(nx.map(([, version]) => version))).toEqual(new Set(["23.2.1"]))
    expect(manifest.devDependencies.node).toBe("^24")
    expect(manifest.allowScripts).toEqual({ node: true, nx: false })
  })

  it("has a changeset config and at least one changeset", () => {
    expect(JSON.parse(read(".changeset/config.json")).baseBranch).toBe("main")
    const changesets = readdirSync(join(root, ".changeset")).filter((name) => name.endsWith(".md") && name !== "README.md")
    expect(changesets.length).toBeGreaterThan(0)
  })
})
