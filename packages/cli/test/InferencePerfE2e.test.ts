import { type KubeObject, loadProfile, type ProfileOptions, type Sim, startSim } from "@aicr/kube-sim"
import { hashOf } from "@aicr/core/RunContext"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer, request as httpRequest, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CliResult, fixture, startCli, useCluster } from "./support/cli.ts"
import { INFERENCE_KNOBS } from "./support/knobs.ts"
import { labelled } from "./support/sim.ts"

const PASS = fixture("recipes", "inference-pass.yaml")
const FAIL = fixture("recipes", "inference-fail.yaml")
const NO_GATES = fixture("recipes", "inference-no-gates.yaml")
const NO_DYNAMO = fixture("recipes", "inference-no-dynamo.yaml")

const DGD = "aicr-inference-perf"

const KNOBS = INFERENCE_KNOBS

/** A run ID of its own for each scenario, so its namespace (`aicr-inference-perf-<hash>`) is known before it starts. */
const runIdFor = (scenario: number) => `20261128-120000-${scenario.toString(16).padStart(16, "0")}`
const namespaceOf = (runId: string) => `aicr-inference-perf-${hashOf(runId)}`

let tmp = ""
const sims: Array<Sim> = []
const servers: Array<Server> = []

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "aicr-inference-e2e-"))
  useCluster(join(tmp, "no-kubeconfig"), join(tmp, "state"))
})
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections()
    server.close()
  }
  await Promise.all(sims.map((sim) => sim.stop()))
  rmSync(tmp, { recursive: true, force: true })
})

/** The h100-eks profile (2 × 8 H100 unless `nodes` says otherwise) at time scale 0.001, stopped after the file. */
const simulate = async (options: ProfileOptions = {}, tune?: (profile: ReturnType<typeof loadProfile>) => void): Promise<Sim> => {
  const profile = loadProfile("h100-eks", { timeScale: 0.001, seed: 11, ...options })
  tune?.(profile)
  const sim = await startSim({ profile })
  sims.push(sim)
  return sim
}

const validate = (kubeconfig: string, recipe: string, runId: string, extra: ReadonlyArray<string> = []) =>
  startCli(["validate", "-r", recipe, "--phase", "performance", ...extra], { env: { KUBECONFIG: kubeconfig, AICR_RUN_ID: runId, ...KNOBS } })

/** Creates sent to the API server (service-proxy POSTs are not objects). */
const creates = (sim: Sim) => sim.audit.filter({ verb: "create" }).filter((record) => record.subresource === undefined)

/** Fails unless every text occurs in `stderr`, in this order. */
const expectInOrder = (stderr: string, texts: ReadonlyArray<string | RegExp>) => {
  let from = 0
  for (const text of texts) {
    const found = new RegExp(typeof text === "string" ? text.replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&") : text.source).exec(stderr.slice(from))
    expect(found, `${String(text)} after offset ${from} in:\n${stderr}`).not.toBeNull()
    from += found!.index + found![0].length
  }
}

/** Devices allocated to claims of `namespace` from now on, as `pool/device` (the pool is the node). */
const allocatedIn = (sim: Sim, namespace: string): Set<string> => {
  const devices = new Set<string>()
  sim.cluster.store.subscribe((change) => {
    if (change.key !== "resource.k8s.io/resourceclaims" || change.namespace !== namespace || change.type === "DELETED") return
    for (const result of allocationOf(change.object)) devices.add(`${result.pool}/${result.device}`)
  })
  return devices
}

const allocationOf = (claim: KubeObject): ReadonlyArray<{ readonly pool: string; readonly device: string }> =>
  (claim["status"] as { allocation?: { devices?: { results?: Array<{ pool: string; device: string }> } } } | undefined)?.allocation?.devices?.results ?? []

/**
 * Keeps `namespace` from going away for `ms` after its deletion begins (a finalizer of the test's own, put on when it
 * is created); returns whether it has let go.
 */
const holdDeletion = (sim: Sim, namespace: string, ms: number): (() => boolean) => {
  const type = sim.cluster.registry.find("", "v1", "namespaces")!
  const setFinalizers = (finalizers: Array<string>) => {
    const current = sim.cluster.get(type, "", namespace)
    sim.cluster.update(type, "", namespace, { ...current, metadata: { ...current.metadata, finalizers } })
  }
  let released = false
  sim.cluster.store.subscribe((change) => {
    if (change.key !== "/namespaces" || change.name !== namespace) return
    if (change.type === "ADDED") setImmediate(() => setFinalizers(["e2e.aicr.test/hold"]))
    if (change.type === "MODIFIED" && change.object.metadata.deletionTimestamp !== undefined && change.previous?.metadata.deletionTimestamp === undefined) {
      setTimeout(() => {
        released = true
        setFinalizers([])
      }, ms)
    }
  })
  return () => released
}

/** A kubeconfig for a loopback proxy in front of `sim` that answers `GET <path>` with 403 and passes the rest through. */
const forbidding = async (sim: Sim, path: string): Promise<string> => {
  const target = new URL(sim.url)
  const server = createServer((request, response) => {
    if (request.method === "GET" && new URL(request.url ?? "/", "http://front").pathname === path) {
      response.writeHead(403, { "Content-Type": "application/json" })
      response.end(JSON.stringify({
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        message: `forbidden: User "ci" cannot get path "${path}"`,
        reason: "Forbidden",
        code: 403
      }))
      return
    }
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers }, (reply) => {
      response.writeHead(reply.statusCode ?? 502, reply.headers)
      reply.pipe(response)
    })
    response.on("close", () => upstream.destroy())
    request.pipe(upstream)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const port = (server.address() as AddressInfo).port
  const kubeconfig = join(tmp, `kubeconfig-${port}`)
  writeFileSync(kubeconfig, sim.kubeconfig.replace(sim.url, `http://127.0.0.1:${port}`))
  return kubeconfig
}

/** `aicr validate` of `recipe` run to its end. */
const validated = (kubeconfig: string, recipe: string, runId: string, extra: ReadonlyArray<string> = []): Promise<CliResult> =>
  validate(kubeconfig, recipe, runId, extra).result

describe("aicr validate runs inference-perf end to end on kube-sim", () => {
  it("passes, shows every step live, copies the pull secret, and exits only once nothing of the run is left", async () => {
    const sim = await simulate()
    const runId = runIdFor(1)
    const namespace = namespaceOf(runId)
    sim.seed([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "aicr-validation" } },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "registry", namespace: "aicr-validation" }, type: "Opaque", data: { token: "c2VjcmV0" } }
    ])
    const released = holdDeletion(sim, namespace, 400)
    const report = join(tmp, "pass.json")
    const running = validate(sim.kubeconfigPath, PASS, runId, ["--image-pull-secret", "registry", "-o", report])
    await running.waitForStderr("phase performance: passed\n")
    expect(released()).toBe(true)
    expect(sim.cluster.store.get("/namespaces", "", namespace)).toBeUndefined()
    const result = await running.result
    expect(result.stderr).not.toContain("    at ")
    expect(result.status).toBe(0)
    expect(labelled(sim, runId)).toEqual([])
    expectInOrder(result.stderr, [
      `run ${runId}\n`,
      "phase performance: inference-perf\n",
      "  inference-perf: started\n",
      "  inference-perf: node gpu-1: 8 of 8 GPUs free (NVIDIA-H100-80GB-HBM3)\n",
      `  inference-perf: created namespace ${namespace}, image pull secret registry, ResourceClaimTemplate and DynamoGraphDeployment (8 vLLM workers, model Qwen/Qwen3-0.6B)\n`,
      "  inference-perf: 8/8 workers ready, 1/1 frontend\n",
      /  inference-perf: the endpoint serves completions \(probe \d+\)\n/,
      "  inference-perf: AIPerf Job created: concurrency 128, 1024 requests after 128 warm-up\n",
      new RegExp(`  inference-perf: AIPerf running \\(pod aicr-aiperf-${hashOf(runId)}-\\w+ on system-\\d\\)\n`),
      /  inference-perf: passed \([\d.]+s\) — inference throughput [\d.]+ tokens\/s satisfies constraint ">= 5000"/,
      "  inference-perf: waiting until 2 deleted objects are gone\n",
      "phase performance: passed\n",
      "1 passed, 0 failed, 0 skipped, 0 inconclusive\n"
    ])
    expect(creates(sim).filter((record) => record.resource === "secrets").map((record) => `${record.namespace} ${record.code}`)).toEqual([`${namespace} 201`])
    expect(sim.audit.filter({ verb: "delete", resource: "secrets" }).map((record) => `${record.namespace}/${record.name}`)).toEqual([`${namespace}/registry`])
    const test = (JSON.parse(readFileSync(report, "utf8")) as { results: { tests: Array<{ status: string; extra: Record<string, { value: number }> }> } }).results.tests[0]!
    expect(test.status).toBe("passed")
    expect(test.extra["inference-gpus"]!.value).toBe(8)
    expect(test.extra["inference-throughput"]!.value).toBeGreaterThan(30_000)
  })

  it("fails with exit 8 when the thresholds are above what the cluster delivers, and leaves nothing", async () => {
    const sim = await simulate()
    const runId = runIdFor(2)
    const result = await validated(sim.kubeconfigPath, FAIL, runId)
    expect(result.status).toBe(8)
    expect(result.stderr).toMatch(/  FAIL {9}performance\/inference-perf: inference throughput [\d.]+ tokens\/s does not satisfy constraint ">= 100000" \(with 10% tolerance\); inference TTFT p99 [\d.]+ ms does not satisfy constraint "<= 50" \(with 10% tolerance\)/)
    expect(labelled(sim, runId)).toEqual([])
  })

  it("skips a recipe without a gate (A) and one without dynamo-platform (B), touching nothing", async () => {
    const sim = await simulate()
    const [a, b] = await Promise.all([validated(sim.kubeconfigPath, NO_GATES, runIdFor(3)), validated(sim.kubeconfigPath, NO_DYNAMO, runIdFor(4))])
    expect([a.status, b.status]).toEqual([0, 0])
    expect(a.stderr).toContain("  inference-perf: skipped (0.0s) — no inference-throughput or inference-ttft-p99 constraint in recipe\n")
    expect(b.stderr).toContain("  inference-perf: skipped (0.0s) — dynamo-platform not in recipe components\n")
    expect(creates(sim)).toEqual([])
  })

  it("fails (C) with exit 8 when the recipe declares dynamo-platform but the cluster does not serve DynamoGraphDeployment", async () => {
    const sim = await simulate({ components: ["dra-driver", "gpu-operator"] })
    const result = await validated(sim.kubeconfigPath, PASS, runIdFor(5))
    expect(result.status).toBe(8)
    expect(result.stderr).toContain(
      "  FAIL         performance/inference-perf: DynamoGraphDeployment (nvidia.com/v1alpha1) is not served by the cluster: " +
        "the recipe declares dynamo-platform, but its DynamoGraphDeployment API is not there (is the Dynamo operator installed?)\n"
    )
    expect(creates(sim)).toEqual([])
  })

  it("is inconclusive (exit 9), never skipped, when discovery of nvidia.com/v1alpha1 is Forbidden", async () => {
    const sim = await simulate()
    const kubeconfig = await forbidding(sim, "/apis/nvidia.com/v1alpha1")
    const result = await validated(kubeconfig, PASS, runIdFor(6))
    expect(result.status).toBe(9)
    expect(result.stderr).toMatch(/  INCONCLUSIVE performance\/inference-perf: could not tell whether the cluster serves DynamoGraphDeployment \(nvidia\.com\/v1alpha1\): .*forbidden/i)
    expect(creates(sim)).toEqual([])
  })

  it("is inconclusive (exit 9) and creates nothing when every GPU is in use", async () => {
    const sim = await simulate({ gpuUse: [{ node: "gpu-1", gpus: 8, by: "dra-claim" }, { node: "gpu-2", gpus: 8, by: "dra-claim" }] })
    const runId = runIdFor(7)
    const result = await validated(sim.kubeconfigPath, PASS, runId)
    expect(result.status).toBe(9)
    expect(result.stderr).toContain("  INCONCLUSIVE performance/inference-perf: every GPU is in use, nothing was created:\n")
    expect(creates(sim)).toEqual([])
    expect(labelled(sim, runId)).toEqual([])
  })

  it("on a node with 3 of 8 GPUs held, runs 5 workers on the 5 free GPUs and scales the throughput gate", async () => {
    const sim = await simulate({ nodes: 1, gpuUse: [{ node: "gpu-1", gpus: 3, by: "dra-claim" }] })
    const held = new Set((sim.cluster.store.list("resource.k8s.io/resourceclaims") ?? []).flatMap((claim) => allocationOf(claim).map((result) => `${result.pool}/${result.device}`)))
    expect(held.size).toBe(3)
    const runId = runIdFor(8)
    const used = allocatedIn(sim, namespaceOf(runId))
    const result = await validated(sim.kubeconfigPath, PASS, runId)
    expect(result.status).toBe(0)
    expect(result.stderr).toContain("  inference-perf: node gpu-1: 5 of 8 GPUs free (NVIDIA-H100-80GB-HBM3)\n")
    expect(result.stderr).toContain("ResourceClaimTemplate and DynamoGraphDeployment (5 vLLM workers, model Qwen/Qwen3-0.6B)\n")
    expect(result.stderr).toContain("  inference-perf: AIPerf Job created: concurrency 80, 1000 requests after 80 warm-up\n")
    expect(result.stderr).toMatch(/satisfies constraint ">= 5000" \(with 10% tolerance\) — gate scaled to 3125 for 5 of 8 node GPUs benchmarked/)
    expect(used.size).toBe(5)
    expect([...used].every((device) => device.startsWith("gpu-1/") && !held.has(device))).toBe(true)
    expect(labelled(sim, runId)).toEqual([])
  })

  it("probes until the endpoint serves: one that warms only after 3 probes is POSTed to at least 3 times through the proxy", async () => {
    const sim = await simulate()
    const runId = runIdFor(9)
    const namespace = namespaceOf(runId)
    const cold = `${namespace}/${DGD}`
    sim.world!.faults.neverWarm.add(cold)
    const probes = () => sim.audit.filter({ method: "POST", resource: "services", subresource: "proxy", namespace })
    const stop = sim.audit.onRecord(() => {
      if (probes().length >= 3) sim.world!.faults.neverWarm.delete(cold)
    })
    const result = await validated(sim.kubeconfigPath, PASS, runId)
    stop()
    expect(result.status).toBe(0)
    expect(probes().length).toBeGreaterThanOrEqual(3)
    expect(probes().slice(0, 3).map((record) => record.code)).toEqual([503, 503, 503])
    expectInOrder(result.stderr, [
      "  inference-perf: probe 1: HTTP 503\n",
      "  inference-perf: probe 2: HTTP 503\n",
      "  inference-perf: probe 3: HTTP 503\n",
      "  inference-perf: the endpoint serves completions (probe 4)\n",
      "  inference-perf: AIPerf Job created"
    ])
  })

  it("is inconclusive (exit 9) when every AIPerf request failed, and leaves nothing", async () => {
    const sim = await simulate()
    const runId = runIdFor(10)
    const namespace = namespaceOf(runId)
    const stop = sim.audit.onRecord((record) => {
      if (record.verb === "create" && record.resource === "jobs" && record.namespace === namespace) sim.world!.faults.neverWarm.add(`${namespace}/${DGD}`)
    })
    const result = await validated(sim.kubeconfigPath, PASS, runId)
    stop()
    expect(result.status).toBe(9)
    expect(result.stderr).toContain(
      "  INCONCLUSIVE performance/inference-perf: AIPerf completed no successful request (1024 failed); " +
        "AIPerf error summary: 1024 × Service Unavailable (code 503): Service is not ready [Qwen/Qwen3-0.6B on node gpu-1: "
    )
    expect(labelled(sim, runId)).toEqual([])
  })

  it("on SIGINT while the AIPerf pod runs, releases everything and exits 130 with nothing of the run left", async () => {
    const sim = await simulate({}, (profile) => void (profile.performance.inference.benchmarkSeconds = 600_000))
    const runId = runIdFor(11)
    const job = `aicr-aiperf-${hashOf(runId)}`
    const running = validate(sim.kubeconfigPath, PASS, runId)
    await new Promise<void>((resolve) => {
      const isRunning = (pod: KubeObject) =>
        pod.metadata.labels?.["batch.kubernetes.io/job-name"] === job && (pod["status"] as { phase?: string } | undefined)?.phase === "Running"
      if ((sim.cluster.store.list("/pods") ?? []).some(isRunning)) return resolve()
      const unsubscribe = sim.cluster.store.subscribe((change) => {
        if (change.key !== "/pods" || change.type === "DELETED" || !isRunning(change.object)) return
        unsubscribe()
        resolve()
      })
    })
    expect(labelled(sim, runId).length).toBeGreaterThan(0)
    running.signal("SIGINT")
    const result = await running.result
    expect(result.status).toBe(130)
    expectInOrder(result.stderr, [
      "  inference-perf: waiting until 2 deleted objects are gone\n",
      "interrupted: partial results\n",
      "  INCONCLUSIVE performance/inference-perf: interrupted before it finished; its objects were released\n"
    ])
    expect(labelled(sim, runId)).toEqual([])
    expect(sim.audit.filter({ verb: "delete", resource: "jobs" }).map((record) => record.name)).toEqual([job])
  })

  it("runs two validations at once on one cluster: both complete, on different nodes, never sharing a GPU", async () => {
    const sim = await simulate()
    const [first, second] = [runIdFor(12), runIdFor(13)]
    const devices = [allocatedIn(sim, namespaceOf(first)), allocatedIn(sim, namespaceOf(second))] as const
    const results = await Promise.all([validated(sim.kubeconfigPath, PASS, first), validated(sim.kubeconfigPath, PASS, second)])
    expect(results.map((result) => result.status)).toEqual([0, 0])
    const nodes = results.map((result) => /  inference-perf: node (gpu-\d): 8 of 8 GPUs free/.exec(result.stderr)?.[1])
    expect([...nodes].sort()).toEqual(["gpu-1", "gpu-2"])
    expect(devices.map((set) => set.size)).toEqual([8, 8])
    expect([...devices[0]].filter((device) => devices[1].has(device))).toEqual([])
    const span = (runId: string) => {
      const inRun = sim.audit.all().flatMap((record, index) => (record.resource === "resourceclaimtemplates" && record.namespace === namespaceOf(runId) ? [index] : []))
      return [Math.min(...inRun), Math.max(...inRun)] as const
    }
    const [a, b] = [span(first), span(second)]
    expect(Math.max(a[0], b[0])).toBeLessThan(Math.min(a[1], b[1]))
    expect(labelled(sim, first)).toEqual([])
    expect(labelled(sim, second)).toEqual([])
  })
})
