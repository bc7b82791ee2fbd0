import { type KubeObject, loadProfile, type ProfileOptions, type Sim, startSim } from "@aicr/kube-sim"
import { reservationName } from "@aicr/core/Dra"
import { hashOf } from "@aicr/core/RunContext"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CliResult, fixture, startCli, useCluster } from "./support/cli.ts"
import { INFERENCE_KNOBS, NCCL_KNOBS } from "./support/knobs.ts"
import { expectNoRunObjects, labelled, reservations } from "./support/sim.ts"

const PASS = fixture("recipes", "nccl-pass.yaml")
const FAIL = fixture("recipes", "nccl-fail.yaml")
const NO_GATE = fixture("recipes", "nccl-no-gate.yaml")
const NO_TRAINER = fixture("recipes", "nccl-no-trainer.yaml")
const BOTH = fixture("recipes", "nccl-and-inference.yaml")
const WRONG_RESULTS = fixture("nccl", "wrong-results-2x8-h100.txt")

const TRAIN_JOB = "nccl-all-reduce-tj"
const RUNTIME = "nccl-all-reduce-runtime"

const KNOBS = { ...NCCL_KNOBS, ...INFERENCE_KNOBS }

/** A run ID of its own for each scenario, so its namespace (`aicr-nccl-<hash>`) is known before it starts. */
const runIdFor = (scenario: number) => `20261128-130000-${scenario.toString(16).padStart(16, "0")}`
const namespaceOf = (runId: string) => `aicr-nccl-${hashOf(runId)}`

let tmp = ""
const sims: Array<Sim> = []

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "aicr-nccl-e2e-"))
  useCluster(join(tmp, "no-kubeconfig"), join(tmp, "state"))
})
afterAll(async () => {
  await Promise.all(sims.map((sim) => sim.stop()))
  rmSync(tmp, { recursive: true, force: true })
})

type Tune = (profile: ReturnType<typeof loadProfile>) => void

/** A profile (2 × 8 H100 unless `nodes` says otherwise) at time scale 0.001, stopped after the file. */
const simulate = async (name: "h100-eks" | "h100-gke", options: ProfileOptions = {}, tune?: Tune): Promise<Sim> => {
  const profile = loadProfile(name, { timeScale: 0.001, seed: 17, ...options })
  tune?.(profile)
  const sim = await startSim({ profile })
  sims.push(sim)
  return sim
}

/** One h100-eks sim with every component, shared by the scenarios that leave it as they found it. */
let shared: Promise<Sim> | undefined
const eks = (): Promise<Sim> => (shared ??= simulate("h100-eks"))

const validate = (kubeconfig: string, recipe: string, runId: string, extra: ReadonlyArray<string> = []) =>
  startCli(["validate", "-r", recipe, "--phase", "performance", ...extra], { env: { KUBECONFIG: kubeconfig, AICR_RUN_ID: runId, ...KNOBS } })

/** `aicr validate` of `recipe` run to its end. */
const validated = (kubeconfig: string, recipe: string, runId: string, extra: ReadonlyArray<string> = []): Promise<CliResult> =>
  validate(kubeconfig, recipe, runId, extra).result

/** Creates sent to the API server (service-proxy POSTs are not objects). */
const creates = (sim: Sim) => sim.audit.filter({ verb: "create" }).filter((record) => record.subresource === undefined)

/** The objects the check makes (run namespaces, reservations, TrainingRuntimes, TrainJobs) stored from now on, as `resource name`. */
const checkObjectsAdded = (sim: Sim): { readonly added: Array<string>; readonly stop: () => void } => {
  const added: Array<string> = []
  const stop = sim.cluster.store.subscribe((change) => {
    if (change.type !== "ADDED") return
    const resource = change.key.split("/")[1]
    if (resource === "trainjobs" || resource === "trainingruntimes" || (resource === "namespaces" && /^aicr-(nccl|gpu)-/.test(change.name))) {
      added.push(`${resource} ${change.name}`)
    }
  })
  return { added, stop }
}

/** Fails unless every text occurs in `stderr`, in this order. */
const expectInOrder = (stderr: string, texts: ReadonlyArray<string | RegExp>) => {
  let from = 0
  for (const text of texts) {
    const found = new RegExp(typeof text === "string" ? text.replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&") : text.source).exec(stderr.slice(from))
    expect(found, `${String(text)} after offset ${from} in:\n${stderr}`).not.toBeNull()
    from += found!.index + found![0].length
  }
}

interface CtrfTest {
  readonly name: string
  readonly status: string
  readonly message?: string
  readonly extra: Record<string, { value: number; unit?: string }>
}

/** The one test of a CTRF report. */
const onlyTest = (report: string): CtrfTest => {
  const tests = (JSON.parse(readFileSync(report, "utf8")) as { results: { tests: Array<CtrfTest> } }).results.tests
  expect(tests).toHaveLength(1)
  return tests[0]!
}

/** Names of every container (init and regular) anywhere inside `object`, e.g. a TrainingRuntime's pod templates. */
const containerNames = (object: unknown): ReadonlyArray<string> => {
  if (Array.isArray(object)) return object.flatMap(containerNames)
  if (typeof object !== "object" || object === null) return []
  return Object.entries(object).flatMap(([key, value]) =>
    (key === "containers" || key === "initContainers") && Array.isArray(value)
      ? [...value.map((container) => String((container as { name?: unknown }).name)), ...containerNames(value)]
      : containerNames(value)
  )
}

/** The TrainingRuntimes created in `namespace` from now on, as they were stored. */
const runtimesIn = (sim: Sim, namespace: string): { readonly runtimes: Array<KubeObject>; readonly stop: () => void } => {
  const runtimes: Array<KubeObject> = []
  const stop = sim.cluster.store.subscribe((change) => {
    if (change.key === "trainer.kubeflow.org/trainingruntimes" && change.namespace === namespace && change.type === "ADDED") runtimes.push(change.object)
  })
  return { runtimes, stop }
}

const phaseOf = (pod: KubeObject): string | undefined => (pod["status"] as { phase?: string } | undefined)?.phase

/** Resolves once a pod in `namespace` matching `matches` is Running. */
const untilRunning = (sim: Sim, namespace: string, matches: (pod: KubeObject) => boolean): Promise<void> =>
  new Promise<void>((resolve) => {
    const running = (pod: KubeObject) => pod.metadata.namespace === namespace && matches(pod) && phaseOf(pod) === "Running"
    if ((sim.cluster.store.list("/pods") ?? []).some(running)) return resolve()
    const unsubscribe = sim.cluster.store.subscribe((change) => {
      if (change.key !== "/pods" || change.type === "DELETED" || !running(change.object)) return
      unsubscribe()
      resolve()
    })
  })

const isLauncher = (pod: KubeObject) =>
  pod.metadata.labels?.["jobset.sigs.k8s.io/jobset-name"] === TRAIN_JOB && pod.metadata.labels?.["jobset.sigs.k8s.io/replicatedjob-name"] === "launcher"

/** One pod's life in store order: from its ADDED to its DELETED change (resourceVersions). */
interface Life {
  readonly pod: string
  readonly added: number
  deleted: number | undefined
}

/** Records the life of every pod whose namespace starts with one of `prefixes`, from now on. */
const podTimeline = (sim: Sim, prefixes: ReadonlyArray<string>) => {
  const lives = new Map<string, Life>()
  const stop = sim.cluster.store.subscribe((change) => {
    if (change.key !== "/pods" || !prefixes.some((prefix) => change.namespace.startsWith(prefix))) return
    const key = `${change.namespace}/${change.name}`
    if (change.type === "ADDED") lives.set(key, { pod: key, added: change.rv, deleted: undefined })
    if (change.type === "DELETED") {
      const life = lives.get(key)
      if (life !== undefined) life.deleted = change.rv
    }
  })
  return { lives: () => [...lives.values()], stop }
}

describe("aicr validate runs nccl-all-reduce-bw end to end on kube-sim", () => {
  it("passes on h100-eks over EFA with the bandwidth, threshold and nodes, and exits only once nothing of the run is left", async () => {
    const sim = await eks()
    const runId = runIdFor(1)
    const namespace = namespaceOf(runId)
    const report = join(tmp, "eks-pass.json")
    const made = checkObjectsAdded(sim)
    const result = await validated(sim.kubeconfigPath, PASS, runId, ["-o", report])
    made.stop()
    expect(result.stderr).not.toContain("    at ")
    expect(result.status).toBe(0)
    expectInOrder(result.stderr, [
      `run ${runId}\n`,
      "phase performance: nccl-all-reduce-bw\n",
      "  nccl-all-reduce-bw: started\n",
      "  nccl-all-reduce-bw: nodes gpu-1, gpu-2: 8 GPUs each (NVIDIA-H100-80GB-HBM3)\n",
      "  nccl-all-reduce-bw: platform: EKS p5.48xlarge over EFA (32 adapters per node); GPUs by the device plugin\n",
      `  nccl-all-reduce-bw: created namespace ${namespace}, TrainingRuntime and TrainJob: 2 workers × 8 GPUs, all_reduce_perf 1K…16G\n`,
      `  nccl-all-reduce-bw: launcher pod ${TRAIN_JOB}-launcher-`,
      "  nccl-all-reduce-bw: launcher succeeded",
      /  nccl-all-reduce-bw: passed \([\d.]+s\) — NCCL all-reduce bus bandwidth 4\d\d\.\d\d GB\/s satisfies constraint ">= 250" \(with 10% tolerance: at least 225\.00 GB\/s\) \[inter-node on gpu-1, gpu-2 \(2 nodes × 8 GPUs, 16 ranks\) over efa/,
      `largest message 16G; run ${runId}]\n`,
      "phase performance: passed\n",
      "1 passed, 0 failed, 0 skipped, 0 inconclusive\n"
    ])
    const test = onlyTest(report)
    expect(test.status).toBe("passed")
    expect(test.message).toMatch(/^NCCL all-reduce bus bandwidth 4\d\d\.\d\d GB\/s satisfies constraint ">= 250"/)
    expect(test.message).toContain("gpu-1, gpu-2 (2 nodes × 8 GPUs, 16 ranks)")
    expect(test.extra["nccl-all-reduce-bw"]!.value).toBeGreaterThan(450)
    expect(test.extra["nccl-all-reduce-bw"]!.value).toBeLessThan(520)
    expect(test.extra["nccl-ranks"]!.value).toBe(16)
    expect(made.added).toEqual([
      `namespaces ${reservationName("gpu-1")}`,
      `namespaces ${reservationName("gpu-2")}`,
      `namespaces ${namespace}`,
      `trainingruntimes ${RUNTIME}`,
      `trainjobs ${TRAIN_JOB}`
    ])
    expect(sim.cluster.store.get("/namespaces", "", namespace)).toBeUndefined()
    expectNoRunObjects(sim, runId)
  })

  it("passes on h100-gke with the TCPXO template (the TrainingRuntime has the tcpxo-daemon sidecar), and leaves nothing", async () => {
    const sim = await simulate("h100-gke")
    const runId = runIdFor(2)
    const namespace = namespaceOf(runId)
    const seen = runtimesIn(sim, namespace)
    const report = join(tmp, "gke-pass.json")
    const result = await validated(sim.kubeconfigPath, PASS, runId, ["-o", report])
    seen.stop()
    expect(result.status).toBe(0)
    expect(result.stderr).toContain(
      "  nccl-all-reduce-bw: platform: GKE nvidia-h100-mega-80gb over GPUDirect-TCPXO " +
        `(${Array.from({ length: 8 }, (_, nic) => `gpu-nic-${nic}`).join(", ")}); GPUs by the device plugin\n`
    )
    expect(result.stderr).toMatch(
      /  PASS {9}performance\/nccl-all-reduce-bw: NCCL all-reduce bus bandwidth (2[5-9]\d|3\d\d)\.\d\d GB\/s satisfies constraint ">= 250" \(with 10% tolerance: at least 225\.00 GB\/s\) \[inter-node on gpu-1, gpu-2 \(2 nodes × 8 GPUs, 16 ranks\) over tcpxo/
    )
    const test = onlyTest(report)
    expect(test.status).toBe("passed")
    expect(test.extra["nccl-all-reduce-bw"]!.value).toBeGreaterThan(300)
    expect(test.extra["nccl-all-reduce-bw"]!.value).toBeLessThan(360)
    expect(seen.runtimes.map((runtime) => runtime.metadata.name)).toEqual([RUNTIME])
    expect(containerNames(seen.runtimes[0])).toContain("tcpxo-daemon")
    expectNoRunObjects(sim, runId)
  })

  it("fails with exit 8 when the gate is above what the cluster delivers, and leaves nothing", async () => {
    const sim = await eks()
    const runId = runIdFor(3)
    const report = join(tmp, "fail.json")
    const result = await validated(sim.kubeconfigPath, FAIL, runId, ["-o", report])
    expect(result.status).toBe(8)
    expect(result.stderr).toMatch(
      /  FAIL {9}performance\/nccl-all-reduce-bw: NCCL all-reduce bus bandwidth 4\d\d\.\d\d GB\/s does not satisfy constraint ">= 900" \(with 10% tolerance: at least 810\.00 GB\/s\) \[inter-node on gpu-1, gpu-2/
    )
    expect(result.stderr).toContain("0 passed, 1 failed, 0 skipped, 0 inconclusive\n")
    const test = onlyTest(report)
    expect(test.status).toBe("failed")
    expect(test.message).toContain('does not satisfy constraint ">= 900"')
    expectNoRunObjects(sim, runId)
  })

  it("skips a recipe without the nccl-all-reduce-bw gate, touching nothing", async () => {
    const sim = await eks()
    const before = creates(sim).length
    const runId = runIdFor(4)
    const result = await validated(sim.kubeconfigPath, NO_GATE, runId)
    expect(result.status).toBe(0)
    expect(result.stderr).toMatch(/  SKIP {9}performance\/nccl-all-reduce-bw: .*nccl-all-reduce-bw/)
    expect(result.stderr).toContain("0 passed, 0 failed, 1 skipped, 0 inconclusive\n")
    expect(creates(sim).slice(before)).toEqual([])
    expectNoRunObjects(sim, runId)
  })

  it("without the TrainJob API: skipped when the recipe does not declare kubeflow-trainer, failed (exit 8) when it does; nothing created", async () => {
    const sim = await simulate("h100-eks", { components: ["dynamo", "dra-driver", "gpu-operator"] })
    const [undeclared, declared] = await Promise.all([
      validated(sim.kubeconfigPath, NO_TRAINER, runIdFor(5)),
      validated(sim.kubeconfigPath, PASS, runIdFor(6))
    ])
    expect(undeclared.status).toBe(0)
    expect(undeclared.stderr).toContain(
      "  SKIP         performance/nccl-all-reduce-bw: TrainJob (trainer.kubeflow.org/v1alpha1) is not served by the cluster and the recipe does not declare kubeflow-trainer\n"
    )
    expect(declared.status).toBe(8)
    expect(declared.stderr).toContain(
      "  FAIL         performance/nccl-all-reduce-bw: TrainJob (trainer.kubeflow.org/v1alpha1) is not served by the cluster: " +
        "the recipe declares kubeflow-trainer, but its TrainJob API is not there (is Kubeflow Trainer installed?)\n"
    )
    expect(creates(sim)).toEqual([])
    expectNoRunObjects(sim, runIdFor(5))
    expectNoRunObjects(sim, runIdFor(6))
  })

  it("fails (exit 8) naming a degraded GPU node, before creating anything", async () => {
    const sim = await simulate("h100-eks", { degraded: [{ node: "gpu-2", allocatableGpus: 7 }] })
    const runId = runIdFor(7)
    const made = checkObjectsAdded(sim)
    const result = await validated(sim.kubeconfigPath, PASS, runId)
    made.stop()
    expect(result.status).toBe(8)
    expect(result.stderr).toContain(
      "  FAIL         performance/nccl-all-reduce-bw: GPU node gpu-2 is degraded: it advertises 7 of the 8 GPUs of its shape; nothing was created\n"
    )
    expect(made.added).toEqual([])
    expect(creates(sim)).toEqual([])
    expectNoRunObjects(sim, runId)
  })

  it("fails (exit 8) on a launcher log with #wrong above 0 and out-of-bounds values, whatever the bandwidth, and leaves nothing", async () => {
    const sim = await simulate("h100-eks", { replay: { nccl: WRONG_RESULTS } })
    const runId = runIdFor(8)
    const report = join(tmp, "wrong.json")
    const result = await validated(sim.kubeconfigPath, PASS, runId, ["-o", report])
    expect(result.status).toBe(8)
    expect(result.stderr).toContain(
      "  FAIL         performance/nccl-all-reduce-bw: NCCL all-reduce failed its data check: data corruption: " +
        'nccl-tests found wrong results (#wrong: 2 at 17179869184 B out-of-place); nccl-tests reports "Out of bounds values : 2 FAILED"; ' +
        'NCCL all-reduce bus bandwidth 490.25 GB/s satisfies constraint ">= 250"'
    )
    const test = onlyTest(report)
    expect(test.status).toBe("failed")
    expect(test.extra["nccl-wrong-elements"]!.value).toBe(2)
    expect(test.extra["nccl-out-of-bounds-values"]!.value).toBe(2)
    expectNoRunObjects(sim, runId)
  })

  it("is inconclusive (exit 9) with the node table when every GPU of one of the two nodes is in use; nothing created", async () => {
    const sim = await simulate("h100-eks", { gpuUse: [{ node: "gpu-2", gpus: 8, by: "device-plugin" }] })
    const runId = runIdFor(9)
    const result = await validated(sim.kubeconfigPath, PASS, runId)
    expect(result.status).toBe(9)
    expect(result.stderr).toContain("  INCONCLUSIVE performance/nccl-all-reduce-bw: the GPUs of the nodes are in use, nothing was created:\n")
    expect(result.stderr).toContain(
      "  INCONCLUSIVE performance/nccl-all-reduce-bw: the GPUs of the nodes are in use, nothing was created:\n" +
        "NODE   GPUS USED/CAPACITY  NOTE\n" +
        "gpu-1  0/8\n" +
        "gpu-2  8/8                 8 by device-plugin pods\n"
    )
    expect(result.stderr).toContain("0 passed, 0 failed, 0 skipped, 1 inconclusive\n")
    expect(creates(sim)).toEqual([])
    expectNoRunObjects(sim, runId)
  })

  it("on SIGINT while the launcher runs, releases everything and exits 130 with nothing of the run left", async () => {
    const sim = await simulate("h100-eks", {}, (profile) => void (profile.performance.nccl.runSeconds = 600_000))
    const runId = runIdFor(10)
    const namespace = namespaceOf(runId)
    const running = validate(sim.kubeconfigPath, PASS, runId)
    await untilRunning(sim, namespace, isLauncher)
    expect(labelled(sim, runId).length).toBeGreaterThan(0)
    expect(reservations(sim)).toHaveLength(2)
    running.signal("SIGINT")
    const result = await running.result
    expect(result.status).toBe(130)
    expectInOrder(result.stderr, [
      "interrupted: partial results\n",
      "  INCONCLUSIVE performance/nccl-all-reduce-bw: interrupted before it finished; its objects were released\n"
    ])
    expectNoRunObjects(sim, runId)
    expect(sim.audit.filter({ verb: "delete", resource: "trainjobs" }).map((record) => record.name)).toEqual([TRAIN_JOB])
  })

  it("runs inference-perf and nccl-all-reduce-bw of one phase one after the other: their pods are never alive at once, both pass", async () => {
    const sim = await eks()
    const runId = runIdFor(11)
    const timeline = podTimeline(sim, ["aicr-inference-perf-", "aicr-nccl-"])
    const result = await validated(sim.kubeconfigPath, BOTH, runId)
    timeline.stop()
    expect(result.status).toBe(0)
    expect(result.stderr).toMatch(/  PASS {9}performance\/inference-perf: /)
    expect(result.stderr).toMatch(/  PASS {9}performance\/nccl-all-reduce-bw: NCCL all-reduce bus bandwidth /)
    expect(result.stderr).toContain("2 passed, 0 failed, 0 skipped, 0 inconclusive\n")
    const lives = timeline.lives()
    expect(lives.filter((life) => life.deleted === undefined)).toEqual([])
    const span = (prefix: string) => {
      const of = lives.filter((life) => life.pod.startsWith(prefix))
      expect(of.length).toBeGreaterThan(0)
      return [Math.min(...of.map((life) => life.added)), Math.max(...of.map((life) => life.deleted!))] as const
    }
    const [inference, nccl] = [span(`aicr-inference-perf-${hashOf(runId)}/`), span(`${namespaceOf(runId)}/`)]
    expect(lives.filter((life) => life.pod.startsWith(`${namespaceOf(runId)}/`)).map((life) => life.pod.split("/")[1]!.replace(/-[a-z0-9]{5}$/, "")).sort()).toEqual([
      `${TRAIN_JOB}-launcher-0-0`,
      `${TRAIN_JOB}-node-0-0`,
      `${TRAIN_JOB}-node-0-1`
    ])
    expect(lives.filter((life) => life.pod.includes("vllmdecodeworker")).length).toBe(8)
    expect(inference[1] < nccl[0] || nccl[1] < inference[0], `inference pods ${inference.join("–")}, nccl pods ${nccl.join("–")}`).toBe(true)
    expectNoRunObjects(sim, runId)
  })
  it("two validations at once on one cluster: the loser of the GPU-node reservations never runs beside the winner, and neither leaves anything", async () => {
    const sim = await eks()
    const [first, second] = [runIdFor(12), runIdFor(13)]
    const timeline = podTimeline(sim, ["aicr-nccl-"])
    const results = await Promise.all([validated(sim.kubeconfigPath, PASS, first), validated(sim.kubeconfigPath, PASS, second)])
    timeline.stop()
    expect(results.every((result) => result.status === 0 || result.status === 9), results.map((result) => result.stderr).join("\n")).toBe(true)
    const lives = timeline.lives()
    expect(lives.filter((life) => life.deleted === undefined)).toEqual([])
    const spans = [first, second].flatMap((runId) => {
      const of = lives.filter((life) => life.pod.startsWith(`${namespaceOf(runId)}/`))
      return of.length === 0 ? [] : [[Math.min(...of.map((life) => life.added)), Math.max(...of.map((life) => life.deleted!))] as const]
    })
    expect(spans.length).toBe(results.filter((result) => result.status === 0).length)
    if (spans.length === 2) expect(spans[0]![1] < spans[1]![0] || spans[1]![1] < spans[0]![0]).toBe(true)
    expectNoRunObjects(sim, first)
    expectNoRunObjects(sim, second)
  })
})
