import { afterEach, describe, expect, it } from "vitest"
import { JobController } from "../src/job-controller.ts"
import { Kubelet } from "../src/kubelet.ts"
import { runControllers } from "../src/simulation.ts"
import type { KubeObject } from "../src/types.ts"
import type { Controller, Workload, World } from "../src/world.ts"
import { testProfile, testWorld, type TestWorld } from "./support/world.ts"

type Json = Record<string, any>

const workload = (image: string, run: Workload["run"]): Workload => ({ name: image, matches: (_pod, container) => container.image === image, run })

const WORKLOADS: Array<Workload> = [
  workload("hello", async (run) => {
    run.log("hello\n")
    await run.world.clock.sleep(1_000)
    return { exitCode: 0 }
  }),
  workload("fail", async (run) => {
    await run.world.clock.sleep(500)
    return { exitCode: 1, message: "no luck" }
  }),
  workload("server", (run) => new Promise((resolve) => run.signal.addEventListener("abort", () => resolve({ exitCode: 0 }))))
]

/** Binds every unbound pod to node-1, as a scheduler would (the real scheduler is another controller). */
class Binder implements Controller {
  readonly name = "binder"
  private stopListening: (() => void) | undefined

  start(world: World): void {
    const podType = world.cluster.registry.find("", "v1", "pods")!
    const bind = () => {
      for (const pod of world.cluster.store.list("/pods") ?? []) {
        if ((pod["spec"] as Json)["nodeName"] !== undefined || pod.metadata.deletionTimestamp !== undefined) continue
        world.cluster.update(podType, pod.metadata.namespace!, pod.metadata.name!, { ...pod, spec: { ...(pod["spec"] as Json), nodeName: "node-1" } })
      }
    }
    this.stopListening = world.cluster.store.subscribe((change) => {
      if (change.key === "/pods" && change.type === "ADDED") setImmediate(bind)
    })
  }

  stop(): void {
    this.stopListening?.()
  }
}

let stops: Array<() => void> = []
afterEach(() => {
  for (const stop of stops) stop()
  stops = []
})

interface Harness extends TestWorld {
  readonly jobHistory: Array<KubeObject>
  readonly podHistory: Array<KubeObject>
  createJob(name: string, spec: Json): KubeObject
  job(name: string): KubeObject | undefined
  pods(job: string): Array<KubeObject>
  waitForJob(name: string, predicate: (job: KubeObject | undefined) => boolean): Promise<KubeObject | undefined>
  events(name: string): Array<[string, string, string]>
}

const harness = (seed = 42): Harness => {
  const t = testWorld(testProfile({ seed, timeScale: 0.0001 }))
  const nodeType = t.cluster.registry.find("", "v1", "nodes")!
  const jobType = t.cluster.registry.find("batch", "v1", "jobs")!
  t.cluster.create(nodeType, "", { apiVersion: "v1", kind: "Node", metadata: { name: "node-1" } })
  const jobHistory: Array<KubeObject> = []
  const podHistory: Array<KubeObject> = []
  stops.push(t.cluster.store.subscribe((change) => {
    if (change.key === "batch/jobs") jobHistory.push(structuredClone(change.object))
    if (change.key === "/pods") podHistory.push(structuredClone(change.object))
  }))
  stops.push(runControllers(t.world, [new Binder(), new Kubelet(WORKLOADS), new JobController()]))
  const job = (name: string) => t.cluster.store.get("batch/jobs", "default", name)
  return {
    ...t,
    jobHistory,
    podHistory,
    createJob: (name, spec) => t.cluster.create(jobType, "default", { apiVersion: "batch/v1", kind: "Job", metadata: { name }, spec }),
    job,
    pods: (name) => (t.cluster.store.list("/pods", "default") ?? []).filter((pod) => pod.metadata.labels?.["batch.kubernetes.io/job-name"] === name),
    waitForJob: async (name, predicate) => {
      for (let attempt = 0; attempt < 1_000; attempt++) {
        const found = job(name)
        if (predicate(found)) return found
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      throw new Error(`job ${name} never reached the expected state: ${JSON.stringify(job(name)?.["status"])}`)
    },
    events: (name) =>
      (t.cluster.store.list("/events", "default") ?? [])
        .filter((event) => (event["involvedObject"] as Json)["name"] === name)
        .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
        .map((event) => [String(event["type"]), String(event["reason"]), String(event["message"])])
  }
}

const template = (image: string, restartPolicy = "Never") => ({ spec: { restartPolicy, containers: [{ name: "main", image }] } })
const status = (object: KubeObject | undefined): Json => (object?.["status"] ?? {}) as Json
const finished = (type: "Complete" | "Failed") => (job: KubeObject | undefined) =>
  (status(job)["conditions"] as Array<Json> | undefined)?.some((condition) => condition["type"] === type && condition["status"] === "True") === true
const brief = (job: KubeObject | undefined) => ((status(job)["conditions"] ?? []) as Array<Json>).map((c) => [c["type"], c["status"], c["reason"], c["message"]])
const SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]{5}"

describe("JobController", () => {
  it("runs a Job of 2 completions one pod at a time to SuccessCriteriaMet and Complete", async () => {
    const sim = harness()
    const created = sim.createJob("pi", { completions: 2, parallelism: 1, backoffLimit: 6, template: template("hello") })
    const uid = created.metadata.uid!
    const done = await sim.waitForJob("pi", finished("Complete"))
    const final = status(done)
    expect(brief(done)).toEqual([
      ["SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"],
      ["Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods"]
    ])
    expect(final).toEqual({
      startTime: expect.any(String),
      completionTime: final["conditions"][1]["lastTransitionTime"],
      conditions: expect.any(Array),
      succeeded: 2,
      ready: 0,
      terminating: 0,
      uncountedTerminatedPods: {}
    })

    const pods = sim.pods("pi")
    expect(pods).toHaveLength(2)
    for (const pod of pods) {
      expect(pod.metadata.name).toMatch(new RegExp(`^pi-${SUFFIX}$`))
      expect(pod.metadata.labels).toEqual({ "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "pi", "controller-uid": uid, "job-name": "pi" })
      expect(pod.metadata.ownerReferences).toEqual([{ apiVersion: "batch/v1", kind: "Job", name: "pi", uid, controller: true, blockOwnerDeletion: true }])
      expect(pod.metadata.finalizers).toBeUndefined()
      expect(status(pod)["phase"]).toBe("Succeeded")
    }
    const added = sim.podHistory.filter((pod) => pod.metadata.resourceVersion === sim.podHistory.find((p) => p.metadata.name === pod.metadata.name)!.metadata.resourceVersion)
    expect(added.map((pod) => pod.metadata.finalizers)).toEqual([["batch.kubernetes.io/job-tracking"], ["batch.kubernetes.io/job-tracking"]])
    const firstPod = sim.podHistory.find((pod) => pod.metadata.name === added[0]!.metadata.name)!
    const secondCreated = sim.podHistory.findIndex((pod) => pod.metadata.name === added[1]!.metadata.name)
    const firstFinished = sim.podHistory.findIndex((pod) => pod.metadata.name === firstPod.metadata.name && status(pod)["phase"] === "Succeeded")
    expect(firstFinished).toBeLessThan(secondCreated)

    const interim = sim.jobHistory.find((job) => (status(job)["uncountedTerminatedPods"]?.["succeeded"] ?? []).length > 0 && (status(job)["succeeded"] ?? 0) === 1)!
    expect(brief(interim)).toEqual([["SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"]])
    expect(status(interim)["completionTime"]).toBeUndefined()
    expect(sim.jobHistory.some((job) => status(job)["active"] === 1 && status(job)["ready"] === 1)).toBe(true)

    expect(sim.events("pi")).toEqual([
      ["Normal", "SuccessfulCreate", `Created pod: ${added[0]!.metadata.name}`],
      ["Normal", "SuccessfulCreate", `Created pod: ${added[1]!.metadata.name}`],
      ["Normal", "Completed", "Job completed"]
    ])
  })

  it("fails a Job past its backoffLimit with FailureTarget then Failed, replacing failed pods in between", async () => {
    const sim = harness()
    sim.createJob("doomed", { backoffLimit: 1, template: template("fail") })
    const failed = await sim.waitForJob("doomed", finished("Failed"))
    expect(brief(failed)).toEqual([
      ["FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"],
      ["Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"]
    ])
    expect(status(failed)).toEqual({ startTime: expect.any(String), conditions: expect.any(Array), failed: 2, ready: 0, terminating: 0, uncountedTerminatedPods: {} })
    const pods = sim.pods("doomed")
    expect(pods.map((pod) => status(pod)["phase"])).toEqual(["Failed", "Failed"])
    expect(pods.every((pod) => pod.metadata.finalizers === undefined)).toBe(true)
    const message = pods.map((pod) => status(pod)["containerStatuses"][0]["state"]["terminated"]["message"])
    expect(message).toEqual(["no luck", "no luck"])
    const target = sim.jobHistory.find((job) => brief(job).length === 1 && brief(job)[0]![0] === "FailureTarget")!
    expect(status(target)["uncountedTerminatedPods"]["failed"]).toHaveLength(1)
    expect(status(target)["failed"]).toBe(1)
    expect(sim.events("doomed").at(-1)).toEqual(["Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit"])
  })

  it("fails a Job active longer than activeDeadlineSeconds, deleting its running pod", async () => {
    const sim = harness()
    sim.createJob("slow", { activeDeadlineSeconds: 2, template: template("server") })
    await sim.waitForJob("slow", (job) => status(job)["ready"] === 1)
    const pod = sim.pods("slow")[0]!
    const failed = await sim.waitForJob("slow", finished("Failed"))
    expect(brief(failed)).toEqual([
      ["FailureTarget", "True", "DeadlineExceeded", "Job was active longer than specified deadline"],
      ["Failed", "True", "DeadlineExceeded", "Job was active longer than specified deadline"]
    ])
    expect(status(failed)).toEqual({ startTime: expect.any(String), conditions: expect.any(Array), failed: 1, ready: 0, terminating: 0, uncountedTerminatedPods: {} })
    expect(sim.pods("slow")).toEqual([])
    expect(sim.events("slow").slice(-2)).toEqual([
      ["Normal", "SuccessfulDelete", `Deleted pod: ${pod.metadata.name}`],
      ["Warning", "DeadlineExceeded", "Job was active longer than specified deadline"]
    ])
  })

  it("deletes a finished Job after ttlSecondsAfterFinished, its pods with it", async () => {
    const sim = harness()
    sim.createJob("brief", { ttlSecondsAfterFinished: 1, template: template("hello") })
    await sim.waitForJob("brief", finished("Complete"))
    expect(sim.pods("brief")).toHaveLength(1)
    await sim.waitForJob("brief", (job) => job === undefined)
    for (let attempt = 0; attempt < 200 && sim.pods("brief").length > 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 5))
    expect(sim.pods("brief")).toEqual([])
    expect(sim.jobHistory.filter((job) => job.metadata.deletionTimestamp !== undefined)).toEqual([])
  })

  it("gives Indexed Job pods their completion index, hostname and JOB_COMPLETION_INDEX", async () => {
    const sim = harness()
    sim.createJob("idx", { completions: 3, parallelism: 3, completionMode: "Indexed", template: template("hello") })
    const done = await sim.waitForJob("idx", finished("Complete"))
    expect(status(done)).toMatchObject({ succeeded: 3, completedIndexes: "0-2", uncountedTerminatedPods: {} })
    const pods = sim.pods("idx").sort((a, b) => Number(a.metadata.labels!["batch.kubernetes.io/job-completion-index"]) - Number(b.metadata.labels!["batch.kubernetes.io/job-completion-index"]))
    expect(pods.map((pod) => pod.metadata.annotations)).toEqual([0, 1, 2].map((index) => ({ "batch.kubernetes.io/job-completion-index": String(index) })))
    for (const [index, pod] of pods.entries()) {
      expect(pod.metadata.name).toMatch(new RegExp(`^idx-${index}-${SUFFIX}$`))
      expect(pod.metadata.labels!["batch.kubernetes.io/job-completion-index"]).toBe(String(index))
      expect((pod["spec"] as Json)["hostname"]).toBe(`idx-${index}`)
      expect((pod["spec"] as Json)["containers"][0]["env"]).toEqual([
        { name: "JOB_COMPLETION_INDEX", valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-completion-index']" } } }
      ])
    }
  })

  it("creates no pods for a suspended Job, and starts it when resumed", async () => {
    const sim = harness()
    const jobType = sim.cluster.registry.find("batch", "v1", "jobs")!
    sim.createJob("held", { suspend: true, template: template("hello") })
    const suspended = await sim.waitForJob("held", (job) => (status(job)["conditions"] ?? []).length > 0)
    expect(brief(suspended)).toEqual([["Suspended", "True", "JobSuspended", "Job suspended"]])
    expect(status(suspended)["startTime"]).toBeUndefined()
    expect(sim.pods("held")).toEqual([])
    const current = sim.job("held")!
    sim.cluster.update(jobType, "default", "held", { ...current, spec: { ...(current["spec"] as Json), suspend: false } })
    const done = await sim.waitForJob("held", finished("Complete"))
    expect(brief(done).map(([type, state, reason]) => [type, state, reason])).toEqual([
      ["Suspended", "False", "JobResumed"],
      ["SuccessCriteriaMet", "True", "CompletionsReached"],
      ["Complete", "True", "CompletionsReached"]
    ])
    expect(sim.events("held").map(([, reason]) => reason)).toEqual(["Suspended", "SuccessfulCreate", "Resumed", "Completed"])
  })

  it("releases the tracking finalizer of a deleted Job's pods so that they can go", async () => {
    const sim = harness()
    const jobType = sim.cluster.registry.find("batch", "v1", "jobs")!
    sim.createJob("dropped", { template: template("server") })
    await sim.waitForJob("dropped", (job) => status(job)["ready"] === 1)
    const [pod] = sim.pods("dropped")
    expect(pod?.metadata.finalizers).toEqual(["batch.kubernetes.io/job-tracking"])
    sim.cluster.delete(jobType, "default", "dropped", { propagationPolicy: "Background" })
    for (let attempt = 0; attempt < 400 && sim.pods("dropped").length > 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 5))
    expect(sim.pods("dropped")).toEqual([])
    const deleting = sim.podHistory.find((entry) => entry.metadata.uid === pod!.metadata.uid && entry.metadata.deletionTimestamp !== undefined)
    expect(deleting?.metadata.finalizers).toEqual(["batch.kubernetes.io/job-tracking"])
  })

  it("names pods the same way for the same seed", async () => {
    const names = async (seed: number) => {
      const sim = harness(seed)
      sim.createJob("same", { completions: 3, parallelism: 2, template: template("hello") })
      await sim.waitForJob("same", finished("Complete"))
      return sim.podHistory.filter((pod) => pod.metadata.generation === 1 && pod.metadata.resourceVersion !== undefined).map((pod) => pod.metadata.name)
    }
    const first = [...new Set(await names(3))]
    expect(first).toHaveLength(3)
    expect([...new Set(await names(3))]).toEqual(first)
    expect([...new Set(await names(4))]).not.toEqual(first)
  })
})
