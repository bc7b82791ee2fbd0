import { type Sim, startSim } from "@aicr/kube-sim"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fixture, runCli, startCli, useCluster } from "./support/cli.ts"

const ACQUIRE = fixture("recipes", "acquire.yaml")
const ACQUIRE_CONFIG = fixture("config-acquire", "aicr.config.mjs")
const EKS = fixture("recipes", "v0.11.1--h100-eks-ubuntu-training.yaml")
const RUN_LINE = /^run (\d{8}-\d{6}-[0-9a-f]{16})$/m

let tmp = ""
let state = ""
let sim: Sim
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "aicr-cluster-test-"))
  state = join(tmp, "state")
  sim = await startSim()
  useCluster(sim.kubeconfigPath, state)
})
afterAll(async () => {
  await sim.stop()
  rmSync(tmp, { recursive: true, force: true })
})

/** Every object in the sim carrying `aicr.nvidia.com/run-id=<runId>`, as `Kind ns/name`. */
const labelled = (runId: string): ReadonlyArray<string> =>
  sim.cluster.store.keys().flatMap((key) =>
    (sim.cluster.store.list(key) ?? [])
      .filter((object) => object.metadata.labels?.["aicr.nvidia.com/run-id"] === runId)
      .map((object) => `${object.kind} ${object.metadata.namespace === undefined ? "" : `${object.metadata.namespace}/`}${object.metadata.name}`)
  ).sort()

const ledgerOf = (runId: string) =>
  readFileSync(join(state, `${runId}.jsonl`), "utf8").trim().split("\n").map((line) => JSON.parse(line) as { _tag: string; kind?: string; name?: string })

const runIdOf = (stderr: string): string => {
  const match = RUN_LINE.exec(stderr)
  if (match === null) throw new Error(`no run line in:\n${stderr}`)
  return match[1]!
}

const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as { port: number }
      server.close(() => resolve(address.port))
    })
  })

const kubeconfig = (name: string, server: string, token: string) => {
  const path = join(tmp, name)
  writeFileSync(path, [
    "apiVersion: v1",
    "kind: Config",
    "clusters: [{name: c, cluster: {server: " + server + ", insecure-skip-tls-verify: true}}]",
    `users: [{name: u, user: {token: ${token}}}]`,
    "contexts: [{name: c, context: {cluster: c, user: u}}]",
    "current-context: c",
    ""
  ].join("\n"))
  return path
}

describe("aicr validate against a cluster", () => {
  it("labels every object with the run, the check and managed-by, records it, and leaves nothing behind", async () => {
    const out = join(tmp, "acquire.json")
    const result = await runCli(["validate", "-r", ACQUIRE, "--config", ACQUIRE_CONFIG, "-o", out])
    expect(result.stderr).not.toContain("    at ")
    expect(result.status).toBe(0)
    const runId = runIdOf(result.stderr)
    const report = JSON.parse(readFileSync(out, "utf8")) as { results: { tests: Array<{ name: string; message: string }> } }
    const labels = JSON.parse(report.results.tests[0]!.message) as Array<Record<string, string>>
    const expected = { "aicr.nvidia.com/run-id": runId, "app.kubernetes.io/managed-by": "aicr", "aicr.nvidia.com/validator": "acquire-check" }
    expect(labels).toEqual([{ ...expected, "kubernetes.io/metadata.name": expect.stringMatching(/^aicr-scratch-/) }, expected, expected])
    expect(result.stderr).toMatch(/acquire-check: acquired Namespace aicr-scratch-[0-9a-f]{8}\n/)
    expect(labelled(runId)).toEqual([])
    const entries = ledgerOf(runId).map((entry) => `${entry._tag}${entry.kind === undefined ? "" : ` ${entry.kind}`}`)
    expect(entries).toEqual([
      "header",
      "intent Namespace",
      "created Namespace",
      "intent ConfigMap",
      "created ConfigMap",
      "intent ClusterRole",
      "created ClusterRole",
      "deleted ClusterRole",
      "deleted ConfigMap",
      "deleted Namespace",
      "finished"
    ])
    const hash = /aicr-scratch-([0-9a-f]{8})/.exec(result.stderr)![1]!
    const deletes = sim.audit.filter({ verb: "delete" }).filter((record) => record.name?.endsWith(hash) === true).map((record) => `${record.resource} ${record.name}`)
    expect(deletes).toEqual([`clusterroles aicr-reader-${hash}`, `configmaps aicr-data-${hash}`, `namespaces aicr-scratch-${hash}`])
  })

  it("uses the run ID given in AICR_RUN_ID for the report and the ledger", async () => {
    const runId = "20261128-101500-00112233445566ff"
    const out = join(tmp, "given.json")
    const result = await runCli(["validate", "-r", ACQUIRE, "--config", ACQUIRE_CONFIG, "-o", out], { env: { AICR_RUN_ID: runId } })
    expect(result.status).toBe(0)
    expect(runIdOf(result.stderr)).toBe(runId)
    const report = JSON.parse(readFileSync(out, "utf8")) as { results: { environment: { extra: Record<string, unknown> } } }
    expect(report.results.environment.extra["runId"]).toBe(runId)
    expect(ledgerOf(runId).at(-1)?._tag).toBe("finished")
  })

  it("refuses a malformed AICR_RUN_ID before touching the cluster", async () => {
    const result = await runCli(["validate", "-r", ACQUIRE, "--config", ACQUIRE_CONFIG], { env: { AICR_RUN_ID: "run-1" } })
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('  AICR_RUN_ID: "run-1" is not a run ID: expected YYYYMMDD-HHMMSS-<16 hex>')
  })

  it("exits 2 when the kubeconfig cannot be read, 6 when the cluster does not answer, 4 when it refuses the token", async () => {
    const missing = await runCli(["validate", "-r", EKS, "--phase", "performance"], { env: { KUBECONFIG: join(tmp, "no-such-kubeconfig") } })
    expect([missing.status, missing.stderr]).toEqual([2, expect.stringContaining("error: cannot read kubeconfig ")])

    const port = await closedPort()
    const down = await runCli(["validate", "-r", EKS, "--phase", "performance"], { env: { KUBECONFIG: kubeconfig("down", `http://127.0.0.1:${port}`, "t") } })
    expect(down.status).toBe(6)
    expect(down.stderr).toContain("error: cannot use the cluster: ")

    const secured = await startSim({ rbac: true })
    try {
      const refused = await runCli(["validate", "-r", EKS, "--phase", "performance"], { env: { KUBECONFIG: kubeconfig("bad-token", secured.url, "not-a-token") } })
      expect(refused.status).toBe(4)
      expect(refused.stderr).toContain("error: cannot use the cluster: ")
      expect(refused.stderr).not.toContain("    at ")
    } finally {
      await secured.stop()
    }
  })

  it("plans a recipe read from a ConfigMap (cm://) and names a missing one", async () => {
    sim.seed([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "recipes" } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "eks", namespace: "recipes" }, data: { "recipe.yaml": readFileSync(EKS, "utf8") } }
    ])
    const planned = await runCli(["validate", "-r", "cm://recipes/eks", "--phase", "performance", "--dry-run"])
    expect(planned.status).toBe(0)
    expect(planned.stdout).toContain("nccl-all-reduce-bw")
    const absent = await runCli(["validate", "-r", "cm://recipes/absent", "--dry-run"])
    expect(absent.status).toBe(2)
    expect(absent.stderr).toContain("cm://recipes/absent: ConfigMap recipes/absent not found on the cluster")
  })
})

describe("aicr validate --keep", () => {
  it("leaves the objects, says how to remove them, and aicr cleanup --run removes them", async () => {
    const result = await runCli(["validate", "-r", ACQUIRE, "--config", ACQUIRE_CONFIG, "--keep"])
    expect(result.status).toBe(0)
    const runId = runIdOf(result.stderr)
    expect(result.stderr).toContain(`--keep: the objects of run ${runId} were left on the cluster; remove them with: aicr cleanup --run ${runId} --yes\n`)
    expect(result.stderr).toMatch(/acquire-check: kept Namespace aicr-scratch-[0-9a-f]{8} \(--keep\)/)
    expect(labelled(runId)).toHaveLength(3)
    const cleaned = await runCli(["cleanup", "--run", runId, "--yes"])
    expect(cleaned.status).toBe(0)
    expect(labelled(runId)).toEqual([])
  })

  it("refuses an --image-pull-secret that is not a Secret name", async () => {
    const result = await runCli(["validate", "-r", ACQUIRE, "--config", ACQUIRE_CONFIG, "--image-pull-secret", "Bad_Name", "--dry-run"])
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('  --image-pull-secret: "Bad_Name" is not a Secret name (a DNS-1123 subdomain)\n')
  })
})

describe("aicr cleanup", () => {
  it("refuses usage errors with exit 2", async () => {
    const neither = await runCli(["cleanup"])
    expect([neither.status, neither.stderr]).toEqual([2, expect.stringContaining("error: give exactly one of --run <run ID> and --stale")])
    const both = await runCli(["cleanup", "--stale", "--run", "20260101-000000-0123456789abcdef"])
    expect(both.status).toBe(2)
    const bad = await runCli(["cleanup", "--run", "yesterday"])
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringContaining('error: "yesterday" is not a run ID')])
    const timeout = await runCli(["cleanup", "--stale", "--timeout", "soon"])
    expect([timeout.status, timeout.stderr]).toEqual([2, expect.stringContaining('--timeout "soon" is not a duration')])
  })

  it("after the CLI was SIGKILLed while holding objects, --stale lists them, and --stale --yes leaves nothing with the run's label", async () => {
    const running = startCli(["validate", "-r", ACQUIRE, "--config", ACQUIRE_CONFIG], { env: { AICR_TEST_HOLD: "1" } })
    await running.waitForStderr("acquire-check: holding\n")
    const runId = runIdOf(running.stderr())
    expect(labelled(runId)).toHaveLength(3)
    running.signal("SIGKILL")
    const killed = await running.result
    expect(killed.signal).toBe("SIGKILL")
    expect(labelled(runId)).toHaveLength(3)

    const listed = await runCli(["cleanup", "--stale"])
    expect(listed.status).toBe(1)
    expect(listed.stdout).toContain(`run ${runId}: 3 objects\n`)
    expect(listed.stdout).toMatch(/  ConfigMap aicr-scratch-[0-9a-f]{8}\/aicr-data-[0-9a-f]{8} \(label, ledger\)\n/)
    expect(listed.stdout).toContain("3 objects would be deleted; run again with --yes to delete them\n")
    expect(labelled(runId)).toHaveLength(3)

    const cleaned = await runCli(["cleanup", "--stale", "--yes"])
    expect(cleaned.stderr).not.toContain("error")
    expect(cleaned.status).toBe(0)
    expect(cleaned.stdout).toContain("deleted 3 objects; nothing is left\n")
    expect(labelled(runId)).toEqual([])
    expect(ledgerOf(runId).at(-1)?._tag).toBe("finished")

    const again = await runCli(["cleanup", "--run", runId])
    expect([again.status, again.stdout]).toEqual([0, "nothing is left\n"])
  })

  it("finds a run's objects by label alone when this machine has no ledger for it", async () => {
    const runId = "20251201-000000-aaaaaaaaaaaaaaaa"
    const labels = { "aicr.nvidia.com/run-id": runId, "app.kubernetes.io/managed-by": "aicr" }
    sim.seed([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "elsewhere", labels } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "left", namespace: "default", labels } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "unrelated", namespace: "default", labels: { "app.kubernetes.io/managed-by": "aicr" } } }
    ])
    const stale = await runCli(["cleanup", "--stale"])
    expect(stale.stderr).toContain(`run ${runId}: 2 objects on the cluster but not a stale run of this machine's ledger; remove with aicr cleanup --run ${runId}\n`)
    const cleaned = await runCli(["cleanup", "--run", runId, "--yes"])
    expect(cleaned.stderr).toContain(`run ${runId}: not in the ledger at ${state}; searching the cluster by its label\n`)
    expect(cleaned.stdout).toContain(`run ${runId}: 2 objects\n  ConfigMap default/left (label)\n  Namespace elsewhere (label)\n`)
    expect(cleaned.status).toBe(0)
    expect(labelled(runId)).toEqual([])
    const configMaps = sim.cluster.store.keys().filter((key) => key.endsWith("configmaps")).flatMap((key) => sim.cluster.store.list(key, "default") ?? [])
    expect(configMaps.map((object) => object.metadata.name)).toContain("unrelated")
  })

  it("exits 1 and lists what remains when a delete is refused", async () => {
    const runId = "20251202-000000-bbbbbbbbbbbbbbbb"
    const labels = { "aicr.nvidia.com/run-id": runId, "app.kubernetes.io/managed-by": "aicr" }
    sim.seed([{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "stuck", namespace: "default", labels } }])
    sim.faults.add({ verb: "delete", resource: "configmaps", name: "stuck", code: 403 })
    try {
      const result = await runCli(["cleanup", "--run", runId, "--yes"])
      expect(result.status).toBe(1)
      expect(result.stderr).toContain("1 object remain:\n  ConfigMap default/stuck: ")
      expect(labelled(runId)).toEqual(["ConfigMap default/stuck"])
    } finally {
      sim.faults.clear()
    }
    const retried = await runCli(["cleanup", "--run", runId, "--yes"])
    expect(retried.status).toBe(0)
    expect(labelled(runId)).toEqual([])
  })

  it("leaves a run whose process is alive alone", async () => {
    const runId = "20251203-000000-cccccccccccccccc"
    const header = { _tag: "header", format: 1, runId, pid: process.pid, host: (await import("node:os")).hostname(), startedAt: "2025-12-03T00:00:00.000Z" }
    writeFileSync(join(state, `${runId}.jsonl`), `${JSON.stringify(header)}\n`)
    const result = await runCli(["cleanup", "--stale"])
    expect(result.stderr).toContain(`run ${runId}: still running (pid ${process.pid} on `)
    expect(existsSync(join(state, `${runId}.jsonl`))).toBe(true)
    expect(readdirSync(state).length).toBeGreaterThan(0)
  })
})

describe("aicr validate --simulate", () => {
  it("runs against a simulated cluster on loopback, marks the reports simulated and says what the run left", async () => {
    const out = join(tmp, "simulated.json")
    const junit = join(tmp, "simulated.xml")
    const result = await runCli(["validate", "--simulate", "dev", "-r", ACQUIRE, "--config", ACQUIRE_CONFIG, "-o", out, "--junit", junit], {
      env: { KUBECONFIG: join(tmp, "no-such-kubeconfig") }
    })
    expect(result.stderr).toMatch(/^simulated cluster: kube-sim profile dev at http:\/\/127\.0\.0\.1:\d+$/m)
    expect(result.status).toBe(0)
    const runId = runIdOf(result.stderr)
    const report = JSON.parse(readFileSync(out, "utf8")) as { results: { environment: { extra: Record<string, unknown> } } }
    expect(report.results.environment.extra).toEqual({ runId, simulated: "dev" })
    expect(readFileSync(junit, "utf8")).toContain('<testsuites name="aicr (simulated cluster: dev)" tests="1"')
    expect(result.stderr).toContain(`simulated cluster (kube-sim profile dev; figures are not measurements of real hardware): 0 objects of run ${runId} left\n`)
    expect(labelled(runId)).toEqual([])
    expect(existsSync(join(state, `${runId}.jsonl`))).toBe(false)
  })

  it("refuses --simulate with --kubeconfig, and an unknown profile, before anything runs", async () => {
    const both = await runCli(["validate", "--simulate", "dev", "--kubeconfig", sim.kubeconfigPath, "-r", ACQUIRE, "--config", ACQUIRE_CONFIG])
    expect(both.status).toBe(2)
    expect(both.stderr).toContain("  --simulate: runs against a simulated cluster; it cannot be combined with --kubeconfig or --context\n")
    const unknown = await runCli(["validate", "--simulate", "h200-moon.yaml", "-r", ACQUIRE, "--config", ACQUIRE_CONFIG, "--dry-run"])
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toContain("  --simulate: ")
    expect(unknown.stderr).toContain("h200-moon.yaml")
  })
})
