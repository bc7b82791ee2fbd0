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

  const setupLines = (): ReadonlyArray<string> =>
    (/## Setup[^\n]*\n\n```sh\n([\s\S]*?)```/.exec(read("README.md"))?.[1] ?? "").trim().split("\n")

  it("README setup is exactly the two commands, and .ci/run calls the test one", () => {
    const lines = setupLines()
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^npm ci && npx aicr validate .*--dry-run && npx aicr validate --simulate \S+ /)
    expect(lines[1]).toBe("npm test")
    for (const recipe of lines[0]!.match(/examples\/recipes\/\S+\.yaml/g) ?? []) {
      expect(existsSync(join(root, recipe)), recipe).toBe(true)
    }
    expect(read(".ci/run")).toMatch(/^npm test$/m)
    expect(JSON.parse(read("package.json")).scripts.test).toBe("node tools/scripts/test-all.mjs")
  })

  it("the README's main job: the dry run prints the plan, the simulated run passes and leaves nothing", () => {
    const [, ...steps] = setupLines()[0]!.split(" && ")
    expect(steps).toHaveLength(2)
    const argv = (step: string) => step.replace(/^npx aicr /, "").split(" ")
    const dry = aicr(argv(steps[0]!))
    expect(dry.stderr).not.toContain("error:")
    expect(dry.status).toBe(0)
    expect(dry.stdout).toContain("inference-perf — run")
    expect(dry.stdout).toMatch(/inference-throughput >= \d+/)
    const real = aicr(argv(steps[1]!))
    expect(real.stderr).not.toContain("error:")
    expect(real.status).toBe(0)
    expect(real.stderr).toMatch(/PASS\s+performance\/inference-perf/)
    expect(real.stderr).toMatch(/: 0 objects of run \S+ left/)
  }, 120_000)

  it("the training example passes nccl-all-reduce-bw on the simulated h100-eks, with bandwidth, threshold and nodes", () => {
    const result = aicr(["validate", "--simulate", "h100-eks", "--recipe", "examples/recipes/h100-eks-training-kubeflow.yaml", "--phase", "performance"])
    expect(result.stderr).not.toContain("error:")
    expect(result.status).toBe(0)
    expect(result.stderr).toMatch(/PASS\s+performance\/nccl-all-reduce-bw: NCCL all-reduce bus bandwidth \d+\.\d\d GB\/s satisfies constraint ">= 300"/)
    expect(result.stderr).toMatch(/at least 270\.00 GB\/s\) \[inter-node on gpu-1, gpu-2 \(2 nodes × 8 GPUs, 16 ranks\)/)
    expect(result.stderr).toMatch(/: 0 objects of run \S+ left/)
  }, 120_000)

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
