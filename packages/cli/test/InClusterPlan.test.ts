import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { fixture, runCliSync } from "./support/cli.ts"

const EXAMPLES = new URL("../../../examples/recipes/", import.meta.url).pathname
const INFERENCE = `${EXAMPLES}h100-eks-inference-dynamo.yaml`
const TRAINING = `${EXAMPLES}h100-eks-training-kubeflow.yaml`

/** The RBAC rule lines the dry run prints (after the "RBAC rules of ClusterRole" heading). */
const ruleLines = (stdout: string): ReadonlyArray<string> => {
  const lines = stdout.split("\n")
  const start = lines.findIndex((line) => line.startsWith("RBAC rules of ClusterRole"))
  expect(start, stdout).toBeGreaterThanOrEqual(0)
  return lines.slice(start + 1).filter((line) => line.startsWith("  "))
}

describe("validate --dry-run --runner in-cluster", () => {
  it("prints the ClusterRole's rules for the running checks: no wildcard, pod logs read-only", () => {
    const result = runCliSync(["validate", "-r", INFERENCE, "--phase", "performance", "--dry-run", "--runner", "in-cluster"])
    expect(result.stderr).not.toContain("error:")
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("in-cluster runner: namespace aicr-validation (created if absent and left in place)")
    expect(result.stdout).toContain("RBAC rules of ClusterRole aicr-validator-<hash> (10 rules, no wildcard; for inference-perf):")
    const rules = ruleLines(result.stdout)
    expect(rules).toEqual([
      "  core: namespaces [get list watch create delete]",
      "  core: nodes [list]",
      "  core: pods [get list]",
      "  core: pods/log [get]",
      "  core: secrets [get create delete]",
      "  core: services/proxy [create]",
      "  batch: jobs [get list watch create delete]",
      "  nvidia.com: dynamographdeployments [get list watch create delete]",
      "  resource.k8s.io: resourceclaims, resourceslices [list]",
      "  resource.k8s.io: resourceclaimtemplates [get create delete]"
    ])
    for (const rule of rules) expect(rule).not.toContain("*")
  })

  it("takes the namespace from --namespace, else AICR_NAMESPACE", () => {
    const flag = runCliSync(["validate", "-r", TRAINING, "--phase", "performance", "--dry-run", "--runner", "in-cluster", "-n", "gpu-checks"], { env: { AICR_NAMESPACE: "ignored" } })
    expect(flag.status).toBe(0)
    expect(flag.stdout).toContain("in-cluster runner: namespace gpu-checks ")
    expect(ruleLines(flag.stdout)).toContain("  trainer.kubeflow.org: trainingruntimes, trainjobs [get list watch create delete]")
    const env = runCliSync(["validate", "-r", TRAINING, "--phase", "performance", "--dry-run", "--runner", "in-cluster"], { env: { AICR_NAMESPACE: "from-env" } })
    expect(env.stdout).toContain("in-cluster runner: namespace from-env ")
  })

  it("says when no check would run", () => {
    const result = runCliSync(["validate", "-r", TRAINING, "--phase", "conformance", "--dry-run", "--runner", "in-cluster"])
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("RBAC rules: none (no check runs)")
  })

  it("refuses an unknown runner and a bad namespace with exit 2, before anything runs", () => {
    const unknown = runCliSync(["validate", "-r", TRAINING, "--dry-run", "--runner", "cloud", "--namespace", "Not_A_Namespace"])
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toContain(`--runner: "cloud" is not a runner: use local or in-cluster`)
    expect(unknown.stderr).toContain(`--namespace: "Not_A_Namespace" is not a namespace name (a DNS-1123 label)`)
    expect(unknown.stdout).toBe("")
  })

  it("refuses checks' input over the 1 MiB object limit with exit 2, creating nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "aicr-big-"))
    const recipe = join(dir, "big.yaml")
    writeFileSync(recipe, `${readFileSync(TRAINING, "utf8")}# ${"x".repeat(1_100_000)}\n`)
    const result = runCliSync(["validate", "--simulate", "h100-eks", "--runner", "in-cluster", "-r", recipe, "--phase", "performance"])
    rmSync(dir, { recursive: true, force: true })
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(
      /error: in-cluster runner: the checks' input \(\d+ bytes: nccl-all-reduce-bw\.json \d+ bytes\) exceeds the 1048576-byte limit of a Kubernetes object; .* \(nothing was created on the cluster\)/
    )
    expect(result.stderr).not.toContain("Job ")
  }, 60_000)

  it("refuses a plugin whose permissions use a wildcard, naming it", () => {
    const result = runCliSync(["validate", "-r", fixture("recipes", "third-party.yaml"), "--dry-run", "--config", fixture("config-wildcard", "aicr.config.mjs")])
    expect(result.status).toBe(2)
    expect(result.stderr).toContain(`invalid validator plugin "verdict-check": permissions[0] must be {apiGroups, resources, verbs} lists of strings, with no wildcard (*)`)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })
})
