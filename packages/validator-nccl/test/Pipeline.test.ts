import { type AuditRecord, type KubeObject, type Sim, startSim } from "@aicr/kube-sim"
import * as Dra from "@aicr/core/Dra"
import * as KubeClientLive from "@aicr/core/KubeClientLive"
import { type Event, Progress } from "@aicr/core/Progress"
import * as RunContext from "@aicr/core/RunContext"
import type { Recipe } from "@aicr/core/Recipe"
import type * as Validator from "@aicr/core/Validator"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { writeFileSync } from "node:fs"
import { createServer, type IncomingMessage, request as httpRequest, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as Inputs from "../src/Inputs.ts"
import { NcclError, run } from "../src/Pipeline.ts"

const RUN_ID = "20261128-140000-0123456789abcdef"
const HASH = RunContext.hashOf(RUN_ID)
const NAMESPACE = `aicr-nccl-${HASH}`
const TRAIN_JOB = "nccl-all-reduce-tj"
const RUNTIME = "nccl-all-reduce-runtime"
const TRAINJOBS = "trainer.kubeflow.org/trainjobs"
const LAUNCHER_ROLE = "aicr.nvidia.com/nccl-role=launcher"
const reservation = (node: string) => Dra.reservationName(node)

/** Every wait of the check in milliseconds, bounded well inside the test timeout. */
const KNOBS = {
  AICR_NCCL_API_TIMEOUT: "10s",
  AICR_NCCL_RUNTIME_VISIBLE_TIMEOUT: "10s",
  AICR_NCCL_RUNTIME_VISIBLE_POLL_INTERVAL: "20ms",
  AICR_NCCL_TRAINJOB_ADMISSION_TIMEOUT: "10s",
  AICR_NCCL_TRAINJOB_ADMISSION_RETRY_INTERVAL: "20ms",
  AICR_NCCL_LAUNCHER_POD_TIMEOUT: "15s",
  AICR_NCCL_TRAINJOB_TIMEOUT: "20s",
  AICR_NCCL_LOG_READ_INTERVAL: "20ms",
  AICR_NCCL_NAMESPACE_TERMINATION_WAIT: "10s",
  AICR_NCCL_CLEANUP_TIMEOUT: "10s"
}

const GATE = ">= 450"
const CONFIG = Inputs.makeConstraints(() => ({})).parse({ "nccl-all-reduce-bw": GATE })

const RECIPE: Recipe = {
  kind: "RecipeResult",
  apiVersion: "aicr.nvidia.com/v1alpha1",
  criteria: {},
  constraints: [],
  componentRefs: [{ name: "kubeflow-trainer", type: "Helm" }],
  validation: { performance: { checks: ["nccl-all-reduce-bw"], constraints: [{ name: "nccl-all-reduce-bw", value: GATE }] } }
}

const IMAGES = {
  runtime: "public.ecr.aws/hpc-cloud/nccl-tests:cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9",
  "runtime-gke": "nvcr.io/nvidia/pytorch:25.06-py3",
  probe: "busybox:1.37"
}

/** `nodes` GPU nodes (`gpu-1`…, 8 × H100 each) of `profile`, whose simulated minutes take milliseconds. */
const simulator = (nodes = 2, profile: "h100-eks" | "h100-gke" = "h100-eks") =>
  Effect.acquireRelease(
    Effect.promise(() => startSim({ profile, profileOptions: { timeScale: 0.001, nodes, seed: 7 } })),
    (sim) => Effect.promise(() => sim.stop())
  )

interface CheckOptions {
  readonly knobs?: Readonly<Record<string, string>>
  readonly run?: Partial<RunContext.MakeOptions>
  /** Where work deferred until after the verdict goes; without it the work runs at once (no runner collects it). */
  readonly pending?: Array<Effect.Effect<void>>
  /** A kubeconfig other than the sim's (a front proxy's). */
  readonly kubeconfig?: string
}

/** Runs the check as the runner would (its own scope, a check's run context), against `sim`, collecting its progress. */
const runCheck = (sim: Sim, events: Ref.Ref<ReadonlyArray<Event>>, options: CheckOptions = {}) => {
  const pending = options.pending
  const context = RunContext.make({ runId: RUN_ID, ...options.run }).forCheck(
    "nccl-all-reduce-bw",
    pending === undefined ? undefined : (work) => Effect.sync(() => void pending.push(work))
  )
  return Effect.scoped(run({ config: CONFIG, recipe: RECIPE, images: IMAGES, timeoutMs: 30 * 60_000 })).pipe(
    Effect.provide(Layer.mergeAll(
      KubeClientLive.layerFromKubeconfig({ kubeconfig: options.kubeconfig ?? sim.kubeconfigPath }),
      Layer.succeed(RunContext.RunContext, context),
      Progress.layerTest(events),
      ConfigProvider.layer(ConfigProvider.fromEnv({ env: { ...KNOBS, ...options.knobs } }))
    ))
  )
}

/** Runs the work the check deferred until after its verdict, as the runner does once the verdict is reported. */
const settle = (pending: Array<Effect.Effect<void>>) => Effect.all(pending.splice(0), { concurrency: "unbounded", discard: true })

/** Creates and deletes of objects the API server answered, in order. */
const writes = (sim: Sim, verb: "create" | "delete"): ReadonlyArray<AuditRecord> =>
  sim.audit.filter({ verb }).filter((record) => record.subresource === undefined)

/** `resource namespace` of each accepted write (a create's name is in its body, not its path). */
const where = (records: ReadonlyArray<AuditRecord>) =>
  records.filter((record) => record.code < 300).map((record) => `${record.resource} ${record.namespace ?? "-"}`)

const deletedNames = (sim: Sim) => writes(sim, "delete").map((record) => record.name)

/** Objects of this run stored from now on, as `resource name`, in the order the API server stored them. */
const recordCreated = (sim: Sim): ReadonlyArray<string> => {
  const added: Array<string> = []
  sim.cluster.store.subscribe((change) => {
    if (change.type === "ADDED" && change.object.metadata.labels?.[RunContext.LABEL_RUN_ID] === RUN_ID && change.key.split("/")[1] !== "pods") {
      added.push(`${change.key.split("/")[1]} ${change.name}`)
    }
  })
  return added
}

/** Every object of the sim that carries the run's label, as `Kind ns/name`. */
const labelled = (sim: Sim): ReadonlyArray<string> =>
  sim.cluster.store.keys().flatMap((key) =>
    (sim.cluster.store.list(key) ?? [])
      .filter((object) => object.metadata.labels?.[RunContext.LABEL_RUN_ID] === RUN_ID)
      .map((object) => `${object.kind} ${object.metadata.namespace ?? ""}/${object.metadata.name}`)
  )

/** GPU-node reservations on the sim, whoever made them. */
const reservations = (sim: Sim): ReadonlyArray<string> =>
  (sim.cluster.store.list("/namespaces") ?? []).filter((namespace) => namespace.metadata.labels?.[Dra.RESERVATION_LABEL] !== undefined).map((namespace) => namespace.metadata.name!)

/** Resolves once a stored object under `key` satisfies `predicate` (already, or on a later change). */
const untilStored = (sim: Sim, key: string, predicate: (object: KubeObject) => boolean) =>
  Effect.callback<void>((resume) => {
    if ((sim.cluster.store.list(key) ?? []).some(predicate)) return resume(Effect.void)
    const unsubscribe = sim.cluster.store.subscribe((change) => {
      if (change.key !== key || change.type === "DELETED" || !predicate(change.object)) return
      unsubscribe()
      resume(Effect.void)
    })
    return Effect.sync(unsubscribe)
  })

const notes = (events: ReadonlyArray<Event>) => events.flatMap((event) => (event._tag === "note" ? [event.message] : []))

const metric = (outcome: Validator.CheckOutcome, name: string) =>
  outcome.status === "skipped" ? undefined : outcome.metrics.find((candidate) => candidate.name === name)

const artifact = (outcome: Validator.CheckOutcome, name: string) =>
  outcome.status === "skipped" ? undefined : outcome.artifacts.find((candidate) => candidate.name === name)

const isLauncher = (pod: KubeObject) => pod.metadata.labels?.["aicr.nvidia.com/nccl-role"] === "launcher"

/** The objects the check creates on success, in order: two reservations, the run namespace, the runtime, the TrainJob. */
const CREATED = [`namespaces ${reservation("gpu-1")}`, `namespaces ${reservation("gpu-2")}`, `namespaces ${NAMESPACE}`, `trainingruntimes ${RUNTIME}`, `trainjobs ${TRAIN_JOB}`]
const DELETED = [TRAIN_JOB, RUNTIME, NAMESPACE, reservation("gpu-2"), reservation("gpu-1")]

/** What a request to the front proxy gets: a JSON answer, a handler that writes the response, or the sim's answer. */
type Answer = { readonly status: number; readonly body: unknown } | ((request: IncomingMessage, response: ServerResponse) => void) | undefined

/**
 * A loopback HTTP proxy in front of the sim, with a kubeconfig pointing at it: requests `answer` picks are answered
 * here, the rest (streams included) pass through.
 */
const frontProxy = (sim: Sim, answer: (url: URL, request: IncomingMessage) => Answer) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly close: () => Promise<void>; readonly kubeconfig: string }>((resolve) => {
        const target = new URL(sim.url)
        const server = createServer((req, res) => {
          const own = answer(new URL(req.url ?? "/", "http://front"), req)
          if (typeof own === "function") return own(req, res)
          if (own !== undefined) {
            res.writeHead(own.status, { "Content-Type": "application/json" })
            return void res.end(JSON.stringify(own.body))
          }
          const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (reply) => {
            res.writeHead(reply.statusCode ?? 502, reply.headers)
            reply.pipe(res)
          })
          res.on("close", () => upstream.destroy())
          req.pipe(upstream)
        })
        server.listen(0, "127.0.0.1", () => {
          const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
          const kubeconfig = `${sim.kubeconfigPath}-front`
          writeFileSync(kubeconfig, sim.kubeconfig.replace(sim.url, url))
          resolve({
            kubeconfig,
            close: () => new Promise((done) => {
              server.closeAllConnections()
              server.close(() => done())
            })
          })
        })
      })
    ),
    (proxy) => Effect.promise(proxy.close)
  )

/** The sim's answer to `request`, its body cut by `cut` (a kubelet serving a log short). */
const cutBody = (sim: Sim, cut: (body: string) => string) => (req: IncomingMessage, res: ServerResponse) => {
  const target = new URL(sim.url)
  httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (reply) => {
    const chunks: Array<Buffer> = []
    reply.on("data", (chunk: Buffer) => chunks.push(chunk))
    reply.on("end", () => {
      res.writeHead(reply.statusCode ?? 502, { "Content-Type": reply.headers["content-type"] ?? "text/plain" })
      res.end(cut(Buffer.concat(chunks).toString("utf8")))
    })
  }).end()
}

/** The first half of a log's lines: the table stops before the largest sizes, without the `# Avg bus bandwidth` line. */
const firstHalf = (log: string) => {
  const lines = log.split("\n")
  return lines.slice(0, Math.floor(lines.length / 2)).join("\n")
}

const isTrainJobCreate = (url: URL, request: IncomingMessage) =>
  request.method === "POST" && url.pathname === `/apis/trainer.kubeflow.org/v1alpha1/namespaces/${NAMESPACE}/trainjobs`

/** A Status as the API server sends a webhook's or validation's refusal. */
const refusal = (code: 403 | 422, message: string) => ({
  status: code,
  body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: code === 422 ? "Invalid" : "Forbidden", code }
})

/** The Trainer's validating webhook while its informer has not seen the runtime yet. */
const RUNTIME_NOT_SEEN = `admission webhook "validator.trainjob.trainer.kubeflow.org" denied the request: spec.runtimeRef: Invalid value: ` +
  `"${RUNTIME}": trainingruntimes.trainer.kubeflow.org "${RUNTIME}" not found`

describe("nccl-all-reduce-bw lifecycle on kube-sim", () => {
  it.live("on success reports bandwidth, threshold and nodes, deletes what it created in reverse, and after the verdict nothing is left", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const created = recordCreated(sim)
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const pending: Array<Effect.Effect<void>> = []
      const outcome = yield* runCheck(sim, events, { pending })
      expect(outcome.status).toBe("passed")
      expect(outcome.message).toMatch(/^NCCL all-reduce bus bandwidth \d+\.\d\d GB\/s satisfies constraint ">= 450" \(with 10% tolerance: at least 405\.00 GB\/s\) /)
      expect(outcome.message).toContain(`[inter-node on gpu-1, gpu-2 (2 nodes × 8 GPUs, 16 ranks)`)
      expect(outcome.message).toContain(`run ${RUN_ID}]`)
      const bandwidth = metric(outcome, "nccl-all-reduce-bw")!
      expect(bandwidth).toMatchObject({ unit: "GB/s", threshold: GATE, passed: true })
      expect(bandwidth.value).toBeGreaterThan(480)
      expect(bandwidth.value).toBeLessThan(500)
      expect(metric(outcome, "nccl-all-reduce-bw-effective-threshold")).toEqual({ name: "nccl-all-reduce-bw-effective-threshold", value: 405, unit: "GB/s" })
      expect(metric(outcome, "nccl-nodes")).toEqual({ name: "nccl-nodes", value: 2, unit: "nodes" })
      expect(metric(outcome, "nccl-ranks")?.value).toBe(16)
      const table = artifact(outcome, "nccl-tests-table.txt")
      expect(table?.contentType).toBe("text/plain")
      expect(table?.content).toMatch(/^\s+17179869184\s+4294967296\s+float\s+sum/m)

      expect(created).toEqual(CREATED)
      expect(where(writes(sim, "create"))).toEqual(["namespaces -", "namespaces -", "namespaces -", `trainingruntimes ${NAMESPACE}`, `trainjobs ${NAMESPACE}`])
      expect(deletedNames(sim)).toEqual(DELETED)
      expect(writes(sim, "delete").map((record) => record.code)).toEqual([200, 200, 200, 200, 200])

      expect(pending).toHaveLength(3)
      yield* settle(pending)
      expect(labelled(sim)).toEqual([])
      expect(reservations(sim)).toEqual([])

      const said = notes(yield* Ref.get(events))
      expect(said[0]).toBe("nodes gpu-1, gpu-2: 8 GPUs each (NVIDIA-H100-80GB-HBM3)")
      expect(said).toContain(`created namespace ${NAMESPACE}, TrainingRuntime and TrainJob: 2 workers × 8 GPUs, all_reduce_perf 1K…16G`)
      expect(said.some((line) => /^launcher pod nccl-all-reduce-tj-launcher-0-0-\w+ created; waiting for the benchmark$/.test(line))).toBe(true)
      expect(said.some((line) => line.startsWith("launcher succeeded (on "))).toBe(true)
    }))

  it.live("when the workers cannot be scheduled, mpirun cannot reach them: fails naming the launcher failure and releases everything", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const nodes = sim.cluster.registry.find("", "v1", "nodes")!
      const stop = sim.cluster.store.subscribe((change) => {
        if (change.key !== TRAINJOBS || change.type !== "ADDED") return
        for (const name of ["gpu-1", "gpu-2"]) {
          const node = sim.cluster.get(nodes, "", name)
          sim.cluster.update(nodes, "", name, { ...node, spec: { ...(node["spec"] as object), unschedulable: true } })
        }
      })
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events))
      stop()
      expect(error).toBeInstanceOf(NcclError)
      expect(error.message).toMatch(/^the launcher pod failed \(exit code 1, Error\); /)
      expect(error.message).toContain("last lines of the launcher:")
      expect(error.message).toContain("ORTE was unable to reliably start one or more daemons.")
      expect(notes(yield* Ref.get(events)).some((line) => line.startsWith("launcher failed (on "))).toBe(true)
      expect(deletedNames(sim)).toEqual(DELETED)
      expect(labelled(sim)).toEqual([])
      expect(reservations(sim)).toEqual([])
    }))

  it.live("when the launcher is OOM-killed, fails as could-not-determine naming it, and releases everything", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      sim.world!.faults.oomKilled.add(LAUNCHER_ROLE)
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events))
      expect(error).toBeInstanceOf(NcclError)
      expect(error.message).toMatch(/^the launcher pod failed \(exit code 137, OOMKilled\); /)
      expect(deletedNames(sim)).toEqual(DELETED)
      expect(labelled(sim)).toEqual([])
      expect(reservations(sim)).toEqual([])
    }))

  it.live("when a worker is OOM-killed, the TrainJob's failure ends the wait at once (not after TRAINJOB_TIMEOUT)", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      sim.world!.faults.oomKilled.add("aicr.nvidia.com/nccl-role=worker")
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const started = Date.now()
      const error = yield* Effect.flip(runCheck(sim, events, { knobs: { AICR_NCCL_TRAINJOB_TIMEOUT: "10m" } }))
      expect(error).toBeInstanceOf(NcclError)
      expect(error.message).toMatch(/the TrainJob failed \(|the launcher pod failed/)
      expect(Date.now() - started).toBeLessThan(60_000)
      expect(labelled(sim)).toEqual([])
      expect(reservations(sim)).toEqual([])
    }))

  it.live("on interrupt while the launcher runs, every release runs and nothing of the run is left", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const fiber = yield* Effect.forkChild(runCheck(sim, events))
      yield* untilStored(sim, TRAINJOBS, (trainJob) => trainJob.metadata.namespace === NAMESPACE)
      yield* untilStored(sim, "/pods", (pod) => isLauncher(pod) && (pod["status"] as { phase?: string } | undefined)?.phase === "Running")
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.hasInterrupts(exit)).toBe(true)
      expect(deletedNames(sim)).toEqual(DELETED)
      expect(sim.cluster.store.get("/namespaces", "", NAMESPACE)).toBeUndefined()
      expect(labelled(sim)).toEqual([])
      expect(reservations(sim)).toEqual([])
    }))
})

describe("nccl-all-reduce-bw TrainJob admission", () => {
  it.live("retries while the Trainer webhook cannot see the runtime yet, then runs", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      let attempts = 0
      const proxy = yield* frontProxy(sim, (url, request) => {
        if (!isTrainJobCreate(url, request)) return undefined
        attempts++
        if (attempts === 1) return refusal(422, RUNTIME_NOT_SEEN)
        if (attempts === 2) return refusal(403, `admission webhook "validator.trainjob.trainer.kubeflow.org" denied the request: TrainingRuntime ${RUNTIME} not found`)
        return undefined
      })
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const outcome = yield* runCheck(sim, events, { kubeconfig: proxy.kubeconfig })
      expect(outcome.status).toBe("passed")
      expect(attempts).toBe(3)
      expect(writes(sim, "create").filter((record) => record.resource === "trainjobs").map((record) => record.code)).toEqual([201])
      expect(deletedNames(sim)).toEqual(DELETED)
      expect(labelled(sim)).toEqual([])
    }))

  it.live("gives up after AICR_NCCL_TRAINJOB_ADMISSION_TIMEOUT when the webhook never admits it, and leaves nothing", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      let attempts = 0
      const proxy = yield* frontProxy(sim, (url, request) => {
        if (!isTrainJobCreate(url, request)) return undefined
        attempts++
        return refusal(422, RUNTIME_NOT_SEEN)
      })
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events, {
        kubeconfig: proxy.kubeconfig,
        knobs: { AICR_NCCL_TRAINJOB_ADMISSION_TIMEOUT: "300ms", AICR_NCCL_TRAINJOB_ADMISSION_RETRY_INTERVAL: "50ms" }
      }))
      expect(error).toBeInstanceOf(NcclError)
      expect(error.message).toMatch(new RegExp(`^the Trainer webhook did not admit the TrainJob within 300ms \\(${attempts} attempts; last: .*not found.*\\)$`))
      expect(attempts).toBeGreaterThanOrEqual(3)
      expect(writes(sim, "create").filter((record) => record.resource === "trainjobs")).toEqual([])
      expect(deletedNames(sim)).toEqual([RUNTIME, NAMESPACE, reservation("gpu-2"), reservation("gpu-1")])
      expect(labelled(sim)).toEqual([])
      expect(reservations(sim)).toEqual([])
    }))

  it.live("does not retry another refusal of the TrainJob", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      let attempts = 0
      const proxy = yield* frontProxy(sim, (url, request) => {
        if (!isTrainJobCreate(url, request)) return undefined
        attempts++
        return refusal(422, `TrainJob.trainer.kubeflow.org "${TRAIN_JOB}" is invalid: spec.trainer.numNodes: Invalid value: 0: must be greater than or equal to 1`)
      })
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events, { kubeconfig: proxy.kubeconfig }))
      expect(error.message).toMatch(/^create the TrainJob: .*spec\.trainer\.numNodes: Invalid value/)
      expect(attempts).toBe(1)
      expect(deletedNames(sim)).toEqual([RUNTIME, NAMESPACE, reservation("gpu-2"), reservation("gpu-1")])
      expect(labelled(sim)).toEqual([])
    }))
})

describe("nccl-all-reduce-bw launcher output", () => {
  const logReads = (url: URL, request: IncomingMessage) => request.method === "GET" && /\/pods\/[^/]+\/log$/.test(url.pathname) && url.pathname.includes(NAMESPACE)

  it.live("re-reads a log served short until it holds the average line", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      let reads = 0
      const proxy = yield* frontProxy(sim, (url, request) => {
        if (!logReads(url, request)) return undefined
        reads++
        return reads <= 2 ? cutBody(sim, firstHalf) : undefined
      })
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const outcome = yield* runCheck(sim, events, { kubeconfig: proxy.kubeconfig })
      expect(outcome.status).toBe("passed")
      expect(reads).toBe(3)
      expect(outcome.message).not.toContain("termination message")
      expect(metric(outcome, "nccl-avg-bus-bandwidth")).toBeDefined()
      expect(labelled(sim)).toEqual([])
    }))

  it.live("judges from the launcher's termination message when every log read comes back short", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      let reads = 0
      const proxy = yield* frontProxy(sim, (url, request) => {
        if (!logReads(url, request)) return undefined
        reads++
        return cutBody(sim, firstHalf)
      })
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const outcome = yield* runCheck(sim, events, { kubeconfig: proxy.kubeconfig, knobs: { AICR_NCCL_LOG_READ_ATTEMPTS: "3" } })
      expect(outcome.status).toBe("passed")
      expect(reads).toBe(3)
      expect(outcome.message).toMatch(/ \(read from the launcher's termination message\)$/)
      expect(metric(outcome, "nccl-all-reduce-bw")!.value).toBeGreaterThan(480)
      expect(labelled(sim)).toEqual([])
    }))
})

describe("nccl-all-reduce-bw run namespace and nodes", () => {
  it.live("never adopts an existing namespace of the same name: fails before creating anything in it", () =>
    Effect.gen(function*() {
      const sim = yield* simulator()
      sim.seed([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE, labels: { team: "ml" } } }])
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events))
      expect(error).toBeInstanceOf(NcclError)
      expect(error.message).toBe(
        `namespace ${NAMESPACE} already exists and is not terminating; refusing to adopt it (an earlier run with the same AICR_RUN_ID? remove it with aicr cleanup)`
      )
      expect(where(writes(sim, "create"))).toEqual(["namespaces -", "namespaces -"])
      expect(deletedNames(sim)).toEqual([reservation("gpu-2"), reservation("gpu-1")])
      expect(sim.cluster.store.list("trainer.kubeflow.org/trainingruntimes", NAMESPACE) ?? []).toEqual([])
      expect(sim.cluster.store.get("/namespaces", "", NAMESPACE)?.metadata.labels).toEqual({ team: "ml", "kubernetes.io/metadata.name": NAMESPACE })
      expect(reservations(sim)).toEqual([])
    }))

  /** A reservation of `node` by another aicr run. */
  const reservedElsewhere = (node: string): KubeObject => ({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: reservation(node),
      labels: { [Dra.RESERVATION_LABEL]: reservation(node).slice("aicr-gpu-".length), [RunContext.LABEL_RUN_ID]: "20261128-130000-00000000000000ff" },
      annotations: { [Dra.RESERVED_NODE_ANNOTATION]: node }
    }
  })

  it.live("passes over a node another run reserved and benchmarks two free ones", () =>
    Effect.gen(function*() {
      const sim = yield* simulator(3)
      sim.seed([reservedElsewhere("gpu-1")])
      const created = recordCreated(sim)
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const outcome = yield* runCheck(sim, events, { knobs: { AICR_NCCL_NODE_COUNT: "2" } })
      expect(outcome.status).toBe("passed")
      expect(outcome.message).toContain("[inter-node on gpu-2, gpu-3 (2 nodes × 8 GPUs, 16 ranks)")
      expect(writes(sim, "create").filter((record) => record.resource === "namespaces").map((record) => record.code)).toEqual([409, 201, 201, 201])
      expect(created).toEqual([`namespaces ${reservation("gpu-2")}`, `namespaces ${reservation("gpu-3")}`, `namespaces ${NAMESPACE}`, `trainingruntimes ${RUNTIME}`, `trainjobs ${TRAIN_JOB}`])
      expect(deletedNames(sim)).toEqual([TRAIN_JOB, RUNTIME, NAMESPACE, reservation("gpu-3"), reservation("gpu-2")])
      expect(reservations(sim)).toEqual([reservation("gpu-1")])
      expect(labelled(sim)).toEqual([])
    }))

  it.live("with too few nodes left by another run's reservation, waits its window, then fails as busy and leaves nothing", () =>
    Effect.gen(function*() {
      const sim = yield* simulator(2)
      sim.seed([reservedElsewhere("gpu-1")])
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events, { knobs: { AICR_NCCL_NAMESPACE_TERMINATION_WAIT: "300ms" } }))
      expect(error).toBeInstanceOf(NcclError)
      expect(error.message.split("\n")).toEqual([
        "the GPUs of the nodes are in use, nothing was created (reserved by another aicr run: gpu-1):",
        "NODE   GPUS USED/CAPACITY  NOTE",
        expect.stringMatching(/^gpu-1  0\/8/),
        expect.stringMatching(/^gpu-2  0\/8/)
      ])
      const namespaceCreates = writes(sim, "create").filter((record) => record.resource === "namespaces").map((record) => record.code)
      // Reservations go in name order and stop at the first loss: gpu-1 is lost, so gpu-2 is never held.
      expect(namespaceCreates.filter((code) => code === 201)).toEqual([])
      expect(namespaceCreates.filter((code) => code === 409).length).toBeGreaterThanOrEqual(2)
      expect(notes(yield* Ref.get(events))).toContain("GPU nodes reserved by another aicr run (gpu-1); waiting")
      expect(writes(sim, "create").filter((record) => record.resource !== "namespaces")).toEqual([])
      expect(sim.cluster.store.get("/namespaces", "", NAMESPACE)).toBeUndefined()
      expect(reservations(sim)).toEqual([reservation("gpu-1")])
      expect(labelled(sim)).toEqual([])
    }))

  it.live("in intra-node mode benchmarks one node's GPUs", () =>
    Effect.gen(function*() {
      const sim = yield* simulator(1)
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const outcome = yield* runCheck(sim, events, { knobs: { AICR_NCCL_INTRA_NODE: "true" } })
      expect(outcome.status).toBe("passed")
      expect(outcome.message).toContain("[intra-node on gpu-1 (1 node × 8 GPUs, 8 ranks)")
      expect(metric(outcome, "nccl-nodes")?.value).toBe(1)
      expect(metric(outcome, "nccl-all-reduce-bw")!.value).toBeGreaterThan(470)
      expect(deletedNames(sim)).toEqual([TRAIN_JOB, RUNTIME, NAMESPACE, reservation("gpu-1")])
      expect(labelled(sim)).toEqual([])
      expect(reservations(sim)).toEqual([])
    }))
})
