import { loadProfile, type Sim, startSim } from "@aicr/kube-sim"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fixture, startCli, useCluster } from "./support/cli.ts"

const KNOBS = {
  AICR_NCCL_LAUNCHER_POD_TIMEOUT: "20s",
  AICR_NCCL_TRAINJOB_TIMEOUT: "30s",
  AICR_NCCL_LOG_READ_INTERVAL: "50ms",
  AICR_NCCL_CLEANUP_TIMEOUT: "10s"
}

let tmp = ""
let sim: Sim

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "aicr-report-cm-"))
  useCluster(join(tmp, "no-kubeconfig"), join(tmp, "state"))
  sim = await startSim({ profile: loadProfile("h100-eks", { timeScale: 0.001, seed: 5 }) })
})
afterAll(async () => {
  await sim.stop()
  rmSync(tmp, { recursive: true, force: true })
})

describe("validate --report-configmap", () => {
  it("writes each phase's CTRF report to aicr-ctrf-<run>-<phase> in the validation namespace, creating it when absent; aicr cleanup --run removes them", async () => {
    const runId = "20261128-140000-00000000000000c1"
    const cli = startCli(
      ["validate", "-r", fixture("recipes", "nccl-pass.yaml"), "--phase", "performance", "--report-configmap", "--namespace", "reports"],
      { env: { KUBECONFIG: sim.kubeconfigPath, AICR_RUN_ID: runId, ...KNOBS } }
    )
    const result = await cli.result
    expect(result.stderr).not.toContain("error:")
    expect(result.status).toBe(0)
    const name = `aicr-ctrf-${runId}-performance`
    expect(result.stderr).toContain(`wrote cm://reports/${name}\n`)
    expect(sim.cluster.store.get("/namespaces", "", "reports")?.metadata.labels).toMatchObject({ "app.kubernetes.io/managed-by": "aicr" })
    const configMap = sim.cluster.store.get("/configmaps", "reports", name)!
    expect(configMap.metadata.labels).toEqual({
      "app.kubernetes.io/name": "aicr",
      "app.kubernetes.io/component": "validation",
      "app.kubernetes.io/managed-by": "aicr",
      "aicr.nvidia.com/run-id": runId,
      "aicr.nvidia.com/phase": "performance",
      "aicr.nvidia.com/report-type": "ctrf"
    })
    const report = JSON.parse((configMap["data"] as Record<string, string>)["report.json"]!)
    expect(report.reportFormat).toBe("CTRF")
    expect(report.results.summary).toMatchObject({ tests: 1, passed: 1 })
    expect(report.results.tests[0]).toMatchObject({ name: "nccl-all-reduce-bw", status: "passed", suite: ["performance"] })
    expect(report.results.environment.extra.runId).toBe(runId)

    const cleanup = await startCli(["cleanup", "--run", runId, "--yes"], { env: { KUBECONFIG: sim.kubeconfigPath } }).result
    expect(cleanup.status, cleanup.stderr).toBe(0)
    expect(sim.cluster.store.get("/configmaps", "reports", name)).toBeUndefined()
  }, 60_000)
})
