import { type AuditRecord, type KubeObject, type Sim, startSim } from "@aicr/kube-sim"
import * as Dra from "@aicr/core/Dra"
import * as KubeClientLive from "@aicr/core/KubeClientLive"
import { type Event, Progress } from "@aicr/core/Progress"
import type { Recipe } from "@aicr/core/Recipe"
import * as RunContext from "@aicr/core/RunContext"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { constraints, inferencePerf, InferencePerfError } from "../src/index.ts"

const RUN_ID = "20260301-120000-0123456789abcdef"
const HASH = RunContext.hashOf(RUN_ID)
const NAMESPACE = `aicr-inference-perf-${HASH}`
const JOB = `aicr-aiperf-${HASH}`
const RESERVATION = Dra.reservationName("gpu-1")

/** Every wait of the check in milliseconds, bounded well inside the test timeout. */
const KNOBS = {
  AICR_INFERENCE_PERF_HEALTH_POLL_INTERVAL: "20ms",
  AICR_INFERENCE_PERF_HEALTH_TIMEOUT: "15s",
  AICR_INFERENCE_PERF_ENDPOINT_PROBE_TIMEOUT: "5s",
  AICR_INFERENCE_PERF_WORKLOAD_READY_TIMEOUT: "15s",
  AICR_INFERENCE_PERF_AIPERF_POD_TIMEOUT: "15s",
  AICR_INFERENCE_PERF_AIPERF_JOB_TIMEOUT: "15s",
  AICR_INFERENCE_PERF_NAMESPACE_TERMINATION_WAIT: "10s",
  AICR_INFERENCE_PERF_API_TIMEOUT: "10s",
  AICR_INFERENCE_PERF_CLEANUP_TIMEOUT: "10s"
}

const GATES = { "inference-model": "Qwen/Qwen3-0.6B", "inference-throughput": ">= 5000", "inference-ttft-p99": "<= 200" }

const RECIPE: Recipe = {
  kind: "RecipeResult",
  apiVersion: "aicr.nvidia.com/v1alpha1",
  criteria: {},
  constraints: [],
  componentRefs: [{ name: "dynamo-platform", type: "Helm" }],
  validation: { performance: { checks: ["inference-perf"], constraints: Object.entries(GATES).map(([name, value]) => ({ name, value })) } }
}

const IMAGES = {
  frontend: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.9.0",
  worker: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.9.0",
  aiperf: "ghcr.io/nvidia/aicr-validators/aiperf-bench:latest"
}

/** One GPU node (`gpu-1`, 8 × H100) whose simulated minutes take milliseconds. */
const simulator = Effect.acquireRelease(
  Effect.promise(() => startSim({ profile: "h100-eks", profileOptions: { timeScale: 0.001, nodes: 1, seed: 7 } })),
  (sim) => Effect.promise(() => sim.stop())
)

/** Runs the check as the runner would (its own scope, a check's run context), against `sim`, collecting its progress. */
const runCheck = (
  sim: Sim,
  events: Ref.Ref<ReadonlyArray<Event>>,
  run: Partial<RunContext.MakeOptions> = {},
  knobs: Readonly<Record<string, string>> = {}
) =>
  Effect.scoped(inferencePerf.run({ config: constraints.parse(GATES), recipe: RECIPE, images: IMAGES, timeoutMs: inferencePerf.timeoutMs })).pipe(
    Effect.provide(Layer.mergeAll(
      KubeClientLive.layerFromKubeconfig({ kubeconfig: sim.kubeconfigPath }),
      Layer.succeed(RunContext.RunContext, RunContext.make({ runId: RUN_ID, ...run }).forCheck("inference-perf")),
      Progress.layerTest(events),
      ConfigProvider.layer(ConfigProvider.fromEnv({ env: { ...KNOBS, ...knobs } }))
    ))
  )

/** Creates and deletes of objects the API server answered, in order (service-proxy POSTs are not objects). */
const writes = (sim: Sim, verb: "create" | "delete"): ReadonlyArray<AuditRecord> =>
  sim.audit.filter({ verb }).filter((record) => record.subresource === undefined)

/** `resource namespace` of each accepted write (a create's name is in its body, not its path). */
const where = (records: ReadonlyArray<AuditRecord>) =>
  records.filter((record) => record.code < 300).map((record) => `${record.resource} ${record.namespace ?? "-"}`)

const deletedNames = (sim: Sim) => writes(sim, "delete").map((record) => record.name)

/** Every object of the sim that carries the run's label, as `Kind ns/name`. */
const labelled = (sim: Sim): ReadonlyArray<string> =>
  sim.cluster.store.keys().flatMap((key) =>
    (sim.cluster.store.list(key) ?? [])
      .filter((object) => object.metadata.labels?.[RunContext.LABEL_RUN_ID] === RUN_ID)
      .map((object) => `${object.kind} ${object.metadata.namespace ?? ""}/${object.metadata.name}`)
  )

/** Objects stored under `key` from now on (ADDED), as the API server kept them. */
const recordAdded = (sim: Sim, key: string): ReadonlyArray<KubeObject> => {
  const added: Array<KubeObject> = []
  sim.cluster.store.subscribe((change) => {
    if (change.key === key && change.type === "ADDED") added.push(change.object)
  })
  return added
}

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

const CREATED = [
  "namespaces -",
  "namespaces -",
  `resourceclaimtemplates ${NAMESPACE}`,
  `dynamographdeployments ${NAMESPACE}`,
  `jobs ${NAMESPACE}`
]

describe("inference-perf lifecycle on kube-sim", () => {
  it.live("on success deletes what it created in reverse order, waits until the run namespace is gone, then judges", () =>
    Effect.gen(function*() {
      const sim = yield* simulator
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const outcome = yield* runCheck(sim, events)
      expect(outcome.status).toBe("passed")
      expect(outcome.message).toContain(`[Qwen/Qwen3-0.6B on node gpu-1: 8 of 8 GPUs, concurrency 128 (16 per GPU), run ${RUN_ID}]`)
      expect(where(writes(sim, "create"))).toEqual(CREATED)
      expect(where(writes(sim, "delete"))).toEqual([...CREATED].reverse())
      expect(deletedNames(sim)).toEqual([JOB, "aicr-inference-perf", "aicr-inference-gpu-claim", NAMESPACE, RESERVATION])
      expect(sim.cluster.store.get("/namespaces", "", NAMESPACE)).toBeUndefined()
      expect(labelled(sim)).toEqual([])
      const said = notes(yield* Ref.get(events))
      expect(said[0]).toBe("node gpu-1: 8 of 8 GPUs free (NVIDIA-H100-80GB-HBM3)")
      expect(said).toContain(`created namespace ${NAMESPACE}, ResourceClaimTemplate and DynamoGraphDeployment (8 vLLM workers, model Qwen/Qwen3-0.6B)`)
      expect(said).toContain("8/8 workers ready, 1/1 frontend")
      expect(said.some((line) => /^the endpoint serves completions \(probe \d+\)$/.test(line))).toBe(true)
      expect(said).toContain("AIPerf Job created: concurrency 128, 1024 requests after 128 warm-up")
    }))

  it.live("on a failure midway deletes only what was created, in reverse, and fails as could-not-determine", () =>
    Effect.gen(function*() {
      const sim = yield* simulator
      sim.faults.add({ verb: "create", resource: "dynamographdeployments", code: 403 })
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events))
      expect(error).toBeInstanceOf(InferencePerfError)
      expect(error.message).toMatch(/^create the DynamoGraphDeployment: .*forbidden/i)
      expect(writes(sim, "create").map((record) => `${record.resource} ${record.code}`)).toEqual([
        "namespaces 201",
        "namespaces 201",
        "resourceclaimtemplates 201",
        "dynamographdeployments 403"
      ])
      expect(where(writes(sim, "delete"))).toEqual([`resourceclaimtemplates ${NAMESPACE}`, "namespaces -", "namespaces -"])
      expect(deletedNames(sim)).toEqual(["aicr-inference-gpu-claim", NAMESPACE, RESERVATION])
      expect(labelled(sim)).toEqual([])
    }))

  it.live("when the workload never turns Ready, every object created so far is deleted in reverse", () =>
    Effect.gen(function*() {
      const sim = yield* simulator
      sim.world!.faults.neverReady.add(`${RunContext.LABEL_RUN_ID}=${RUN_ID}`)
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events, {}, { AICR_INFERENCE_PERF_WORKLOAD_READY_TIMEOUT: "300ms" }))
      expect(error.message).toBe("the DynamoGraphDeployment did not become ready within 300ms (last state: pending)")
      expect(where(writes(sim, "create"))).toEqual(CREATED.slice(0, 4))
      expect(where(writes(sim, "delete"))).toEqual(CREATED.slice(0, 4).reverse())
      expect(labelled(sim)).toEqual([])
    }))

  it.live("when the AIPerf pod is never scheduled, fails naming it after the pod timeout and deletes everything in reverse", () =>
    Effect.gen(function*() {
      const sim = yield* simulator
      const stop = sim.audit.onRecord((record) => {
        if (record.verb === "create" && record.resource === "jobs" && record.code === 201) sim.world!.faults.paused.add("default-scheduler")
      })
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events, {}, { AICR_INFERENCE_PERF_AIPERF_POD_TIMEOUT: "300ms" }))
      stop()
      expect(error.message).toMatch(new RegExp(`^the AIPerf pod ${JOB}-\\w+ was not scheduled within 300ms$`))
      expect(notes(yield* Ref.get(events)).some((line) => line.startsWith("AIPerf running"))).toBe(false)
      expect(where(writes(sim, "delete"))).toEqual([...CREATED].reverse())
      expect(labelled(sim)).toEqual([])
    }))

  it.live("on interrupt while AIPerf runs, every release runs and nothing of the run is left", () =>
    Effect.gen(function*() {
      const sim = yield* simulator
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const fiber = yield* Effect.forkChild(runCheck(sim, events))
      yield* untilStored(sim, "/pods", (pod) =>
        pod.metadata.labels?.["batch.kubernetes.io/job-name"] === JOB && (pod["status"] as { phase?: string } | undefined)?.phase === "Running")
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.hasInterrupts(exit)).toBe(true)
      expect(where(writes(sim, "create"))).toEqual(CREATED)
      expect(where(writes(sim, "delete"))).toEqual([...CREATED].reverse())
      expect(deletedNames(sim)).toEqual([JOB, "aicr-inference-perf", "aicr-inference-gpu-claim", NAMESPACE, RESERVATION])
      expect(labelled(sim)).toEqual([])
    }))
})

describe("inference-perf run namespace", () => {
  /** Seeds the run namespace, held by a finalizer, and starts deleting it: a namespace of an earlier run, terminating. */
  const terminating = (sim: Sim) => {
    const type = sim.cluster.registry.find("", "v1", "namespaces")!
    sim.seed([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE, finalizers: ["test/hold"] } }])
    sim.cluster.delete(type, "", NAMESPACE)
    return () => {
      const current = sim.cluster.get(type, "", NAMESPACE)
      sim.cluster.update(type, "", NAMESPACE, { ...current, metadata: { ...current.metadata, finalizers: [] } })
    }
  }

  it.live("never adopts an existing namespace of the same name: fails before creating anything in it, and leaves it alone", () =>
    Effect.gen(function*() {
      const sim = yield* simulator
      sim.seed([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE, labels: { team: "ml" } } }])
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events))
      expect(error.message).toBe(
        `namespace ${NAMESPACE} already exists and is not terminating; refusing to adopt it (an earlier run with the same AICR_RUN_ID? remove it with aicr cleanup)`
      )
      expect(where(writes(sim, "create"))).toEqual(["namespaces -"])
      expect(deletedNames(sim)).toEqual([RESERVATION])
      expect(sim.cluster.store.get("/namespaces", "", NAMESPACE)?.metadata.labels).toEqual({ team: "ml", "kubernetes.io/metadata.name": NAMESPACE })
    }))

  it.live("waits for a terminating namespace of an earlier run to be gone, then runs", () =>
    Effect.gen(function*() {
      const sim = yield* simulator
      const release = terminating(sim)
      const timer = setTimeout(release, 300)
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const outcome = yield* runCheck(sim, events).pipe(Effect.ensuring(Effect.sync(() => clearTimeout(timer))))
      expect(outcome.status).toBe("passed")
      const said = notes(yield* Ref.get(events))
      expect(said.indexOf(`namespace ${NAMESPACE} of an earlier run is terminating; waiting until it is gone`)).toBeLessThan(
        said.findIndex((line) => line.startsWith("created namespace"))
      )
      expect(where(writes(sim, "create"))).toEqual(CREATED)
    }))

  it.live("gives up on a terminating namespace after NAMESPACE_TERMINATION_WAIT, having created nothing but the node reservation", () =>
    Effect.gen(function*() {
      const sim = yield* simulator
      terminating(sim)
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events, {}, { AICR_INFERENCE_PERF_NAMESPACE_TERMINATION_WAIT: "200ms" }))
      expect(error.message).toMatch(new RegExp(`^wait for namespace ${NAMESPACE} to be deleted: `))
      expect(where(writes(sim, "create"))).toEqual(["namespaces -"])
      expect(deletedNames(sim)).toEqual([RESERVATION])
      expect(sim.cluster.store.get("/namespaces", "", NAMESPACE)?.metadata.deletionTimestamp).toBeDefined()
    }))
})

describe("inference-perf image pull secrets", () => {
  const SOURCE: KubeObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "registry", namespace: "aicr-validation", annotations: { owner: "ops" } },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": Buffer.from('{"auths":{"nvcr.io":{"auth":"dXNlcjpwYXNz"}}}').toString("base64") }
  }

  it.live("copies each named Secret into the run namespace, names it in the workload and the AIPerf Job, and deletes the copy", () =>
    Effect.gen(function*() {
      const sim = yield* simulator
      sim.seed([{ apiVersion: "v1", kind: "Namespace", metadata: { name: "aicr-validation" } }, SOURCE])
      const secrets = recordAdded(sim, "/secrets")
      const deployments = recordAdded(sim, "nvidia.com/dynamographdeployments")
      const jobs = recordAdded(sim, "batch/jobs")
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const outcome = yield* runCheck(sim, events, { imagePullSecrets: ["registry"] })
      expect(outcome.status).toBe("passed")
      expect(where(writes(sim, "create"))).toEqual([...CREATED.slice(0, 2), `secrets ${NAMESPACE}`, ...CREATED.slice(2)])
      expect(where(writes(sim, "delete"))).toEqual([...CREATED.slice(2).reverse(), `secrets ${NAMESPACE}`, "namespaces -", "namespaces -"])
      const copy = secrets.find((secret) => secret.metadata.namespace === NAMESPACE)!
      expect(copy.metadata.name).toBe("registry")
      expect(copy["type"]).toBe("kubernetes.io/dockerconfigjson")
      expect(copy["data"]).toEqual(SOURCE["data"])
      expect(copy.metadata.labels).toEqual({ "aicr.nvidia.com/run-id": RUN_ID, "app.kubernetes.io/managed-by": "aicr", "aicr.nvidia.com/validator": "inference-perf" })
      expect(copy.metadata["annotations"]).toBeUndefined()
      const services = (deployments[0]!["spec"] as { services: Record<string, { extraPodSpec: { imagePullSecrets?: unknown } }> }).services
      expect(Object.values(services).map((service) => service.extraPodSpec.imagePullSecrets)).toEqual([[{ name: "registry" }], [{ name: "registry" }]])
      const template = (jobs[0]!["spec"] as { template: { spec: { imagePullSecrets?: unknown } } }).template
      expect(template.spec.imagePullSecrets).toEqual([{ name: "registry" }])
      expect(notes(yield* Ref.get(events))).toContain(
        `created namespace ${NAMESPACE}, image pull secret registry, ResourceClaimTemplate and DynamoGraphDeployment (8 vLLM workers, model Qwen/Qwen3-0.6B)`
      )
      expect(sim.cluster.store.get("/secrets", "aicr-validation", "registry")).toBeDefined()
      expect(labelled(sim)).toEqual([])
    }))

  it.live("fails naming a Secret that is not in the run's namespace, before anything is created", () =>
    Effect.gen(function*() {
      const sim = yield* simulator
      sim.seed([{ apiVersion: "v1", kind: "Namespace", metadata: { name: "aicr-validation" } }, SOURCE])
      const events = yield* Ref.make<ReadonlyArray<Event>>([])
      const error = yield* Effect.flip(runCheck(sim, events, { imagePullSecrets: ["registry", "absent"] }))
      expect(error).toBeInstanceOf(InferencePerfError)
      expect(error.message).toBe(
        "the image pull secret absent (--image-pull-secret) is not in namespace aicr-validation; create it there or leave out the flag (nothing was created)"
      )
      expect(writes(sim, "create")).toEqual([])
      expect(writes(sim, "delete")).toEqual([])
    }))
})
