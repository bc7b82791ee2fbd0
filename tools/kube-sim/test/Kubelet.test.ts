import { afterEach, describe, expect, it } from "vitest"
import { goDuration, Kubelet, normalizeImage } from "../src/kubelet.ts"
import { runControllers } from "../src/simulation.ts"
import type { KubeObject } from "../src/types.ts"
import type { Workload } from "../src/world.ts"
import { testProfile, testWorld, type TestWorld } from "./support/world.ts"

type Json = Record<string, any>

const workload = (name: string, image: string, run: Workload["run"]): Workload => ({
  name,
  matches: (_pod, container) => container.image === image,
  run
})

/** Logs "hello", takes a simulated second, exits 0; notes the pod IP it was started with. */
const seenPodIps = new Map<string, unknown>()
const hello = workload("hello", "hello", async (run) => {
  seenPodIps.set(run.pod.metadata.uid!, (run.pod["status"] as Json | undefined)?.["podIP"])
  run.log("hello\n")
  await run.world.clock.sleep(1_000)
  return { exitCode: 0 }
})

/** Logs 100 numbered lines and exits 1 with the message of the `MESSAGE` variable (none when unset). */
const failing = workload("fail", "fail", async (run) => {
  for (let line = 1; line <= 100; line++) run.log(`line ${line}\n`)
  await run.world.clock.sleep(500)
  const message = run.container.env?.find((variable) => variable.name === "MESSAGE")?.value
  return { exitCode: 1, ...(message === undefined ? {} : { message }) }
})

/** Never ends; Ready after a simulated 5 s (when it has a probe); counts the runs it saw aborted. */
const aborted: Array<string> = []
const server = workload("server", "server", (run) => {
  const ready = run.world.clock.after(5_000, () => run.setReady(true))
  run.log("serving\n")
  return new Promise((resolve) => {
    run.signal.addEventListener("abort", () => {
      ready()
      aborted.push(run.pod.metadata.name!)
      resolve({ exitCode: 0 })
    })
  })
})

/** Exits 1 on its first two runs per pod, then 0. */
const flakyRuns = new Map<string, number>()
const flaky = workload("flaky", "flaky", async (run) => {
  const count = (flakyRuns.get(run.pod.metadata.uid!) ?? 0) + 1
  flakyRuns.set(run.pod.metadata.uid!, count)
  run.log(`attempt ${count}\n`)
  await run.world.clock.sleep(200)
  return { exitCode: count <= 2 ? 1 : 0 }
})

/** Exits 0 at once, forever restarted under restartPolicy Always. */
const quick = workload("quick", "quick", async (run) => {
  await run.world.clock.sleep(100)
  return { exitCode: 0 }
})

const WORKLOADS = [hello, failing, server, flaky, quick]

let stops: Array<() => void> = []
afterEach(() => {
  for (const stop of stops) stop()
  stops = []
})

interface Harness extends TestWorld {
  readonly history: Array<KubeObject>
  createPod(name: string, spec: Json, labels?: Record<string, string>): KubeObject
  pod(name: string): KubeObject | undefined
  waitFor(name: string, predicate: (pod: KubeObject) => boolean): Promise<KubeObject>
  events(name: string): Array<[string, string, string]>
}

const harness = (seed = 42, nodes: ReadonlyArray<string> = ["node-1"]): Harness => {
  const t = testWorld(testProfile({ seed, timeScale: 0.0001 }))
  const nodeType = t.cluster.registry.find("", "v1", "nodes")!
  const podType = t.cluster.registry.find("", "v1", "pods")!
  for (const [index, name] of nodes.entries()) {
    t.cluster.create(nodeType, "", { apiVersion: "v1", kind: "Node", metadata: { name }, status: { addresses: [{ type: "InternalIP", address: `10.0.1.${11 + index}` }] } })
  }
  const history: Array<KubeObject> = []
  stops.push(t.cluster.store.subscribe((change) => {
    if (change.key === "/pods" && change.type !== "DELETED") history.push(structuredClone(change.object))
  }))
  stops.push(runControllers(t.world, [new Kubelet(WORKLOADS)]))
  const pod = (name: string) => t.cluster.store.get("/pods", "default", name)
  return {
    ...t,
    history,
    createPod: (name, spec, labels) =>
      t.cluster.create(podType, "default", { apiVersion: "v1", kind: "Pod", metadata: { name, ...(labels === undefined ? {} : { labels }) }, spec: { nodeName: "node-1", ...spec } }),
    pod,
    waitFor: async (name, predicate) => {
      for (let attempt = 0; attempt < 2_000; attempt++) {
        const found = pod(name)
        if (found !== undefined && predicate(found)) return found
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      throw new Error(`pod ${name} never reached the expected state: ${JSON.stringify(pod(name)?.["status"])}`)
    },
    events: (name) =>
      (t.cluster.store.list("/events", "default") ?? [])
        .filter((event) => (event["involvedObject"] as Json)["name"] === name)
        .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
        .map((event) => [String(event["type"]), String(event["reason"]), String(event["message"])])
  }
}

const status = (pod: KubeObject): Json => pod["status"] as Json
const phase = (value: string) => (pod: KubeObject) => status(pod)["phase"] === value
const condition = (pod: KubeObject, type: string): Json | undefined => (status(pod)["conditions"] as Array<Json> | undefined)?.find((c) => c["type"] === type)
const brief = (pod: KubeObject) =>
  (status(pod)["conditions"] as Array<Json>).map((c) => [c["type"], c["status"], c["reason"] ?? "", c["message"] ?? ""])
const container = (pod: KubeObject, index = 0): Json => (status(pod)["containerStatuses"] as Array<Json> | undefined)?.[index] ?? {}

describe("Kubelet", () => {
  it("runs a pod to Succeeded through Pending and Running, with the conditions, statuses, logs and events of a kubelet", async () => {
    const sim = harness()
    const created = sim.createPod("hello", { restartPolicy: "Never", containers: [{ name: "main", image: "hello" }] })
    const done = await sim.waitFor("hello", phase("Succeeded"))
    const uid = created.metadata.uid!

    const phases = sim.history.filter((pod) => pod.metadata.uid === uid).map((pod) => status(pod)["phase"])
    expect([...new Set(phases)]).toEqual(["Pending", "Running", "Succeeded"])
    const running = sim.history.find((pod) => status(pod)["phase"] === "Running")!
    expect(brief(running)).toEqual([
      ["PodReadyToStartContainers", "True", "", ""],
      ["Initialized", "True", "", ""],
      ["Ready", "True", "", ""],
      ["ContainersReady", "True", "", ""],
      ["PodScheduled", "True", "", ""]
    ])
    expect(container(running)["state"]).toEqual({ running: { startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) } })
    const first = sim.history.find((pod) => pod.metadata.uid === uid && status(pod)["containerStatuses"] !== undefined)!
    expect(container(first)).toEqual({ image: "hello", imageID: "", lastState: {}, name: "main", ready: false, restartCount: 0, started: false, state: { waiting: { reason: "ContainerCreating" } } })
    expect(brief(first)).toEqual([
      ["PodReadyToStartContainers", "False", "", ""],
      ["Initialized", "True", "", ""],
      ["Ready", "False", "ContainersNotReady", "containers with unready status: [main]"],
      ["ContainersReady", "False", "ContainersNotReady", "containers with unready status: [main]"],
      ["PodScheduled", "True", "", ""]
    ])

    expect(brief(done)).toEqual([
      ["PodReadyToStartContainers", "False", "", ""],
      ["Initialized", "True", "PodCompleted", ""],
      ["Ready", "False", "PodCompleted", ""],
      ["ContainersReady", "False", "PodCompleted", ""],
      ["PodScheduled", "True", "", ""]
    ])
    const conditions = status(done)["conditions"] as Array<Json>
    expect(conditions.every((c) => c["lastProbeTime"] === null && c["observedGeneration"] === 1)).toBe(true)
    const state = container(done)
    expect(state).toMatchObject({ name: "main", image: "docker.io/library/hello:latest", ready: false, started: false, restartCount: 0, lastState: {} })
    expect(state["imageID"]).toMatch(/^docker\.io\/library\/hello@sha256:[0-9a-f]{64}$/)
    expect(state["containerID"]).toMatch(/^containerd:\/\/[0-9a-f]{64}$/)
    expect(state["state"]["terminated"]).toMatchObject({ exitCode: 0, reason: "Completed", containerID: state["containerID"] })
    expect(state["state"]["terminated"]["message"]).toBeUndefined()
    expect(status(done)).toMatchObject({ hostIP: "10.0.1.11", hostIPs: [{ ip: "10.0.1.11" }], observedGeneration: 1 })
    expect(status(done)["podIP"]).toMatch(/^10\.\d+\.\d+\.\d+$/)
    expect(status(done)["podIPs"]).toEqual([{ ip: status(done)["podIP"] }])
    expect(seenPodIps.get(uid)).toBe(status(done)["podIP"])
    expect(status(done)["initContainerStatuses"]).toBeUndefined()

    expect(sim.logs.read("default", "hello", "main")).toEqual({ text: "hello\n", ended: true })
    expect(sim.events("hello")).toEqual([
      ["Normal", "Pulling", 'Pulling image "hello"'],
      ["Normal", "Pulled", expect.stringMatching(/^Successfully pulled image "hello" in 2s \(2s including waiting\)\. Image size: \d+ bytes\.$/)],
      ["Normal", "Created", "Created container: main"],
      ["Normal", "Started", "Started container main"]
    ])
  })

  it("keeps a container with a readiness probe unready until its workload says so; without a probe it is ready when running", async () => {
    const sim = harness()
    sim.createPod("probed", { containers: [{ name: "server", image: "server", readinessProbe: { httpGet: { path: "/health", port: 8000 } } }] })
    sim.createPod("plain", { containers: [{ name: "server", image: "server" }] })
    const ready = await sim.waitFor("probed", (pod) => condition(pod, "Ready")?.["status"] === "True")
    const unready = sim.history.find((pod) => pod.metadata.name === "probed" && status(pod)["phase"] === "Running")!
    expect(condition(unready, "Ready")).toMatchObject({ status: "False", reason: "ContainersNotReady", message: "containers with unready status: [server]" })
    expect(container(unready)).toMatchObject({ ready: false, started: true })
    expect(condition(ready, "ContainersReady")?.["status"]).toBe("True")
    expect(container(ready)).toMatchObject({ ready: true, started: true })
    const plain = await sim.waitFor("plain", phase("Running"))
    expect(condition(plain, "Ready")?.["status"]).toBe("True")
  })

  it("keeps pods matched by the neverReady fault unready, by label selector or name, until the fault is lifted", async () => {
    const sim = harness()
    sim.world.faults.neverReady.add("app=stuck")
    sim.world.faults.neverReady.add("by-name")
    sim.createPod("by-label", { containers: [{ name: "server", image: "server" }] }, { app: "stuck" })
    sim.createPod("by-name", { containers: [{ name: "server", image: "server" }] })
    sim.createPod("other", { containers: [{ name: "server", image: "server" }] }, { app: "fine" })
    await sim.waitFor("other", (pod) => condition(pod, "Ready")?.["status"] === "True")
    for (const name of ["by-label", "by-name"]) {
      const pod = await sim.waitFor(name, phase("Running"))
      expect(condition(pod, "Ready")).toMatchObject({ status: "False", reason: "ContainersNotReady", message: "containers with unready status: [server]" })
    }
    sim.world.faults.neverReady.delete("app=stuck")
    await sim.waitFor("by-label", (pod) => condition(pod, "Ready")?.["status"] === "True")
    expect(condition(sim.pod("by-name")!, "Ready")?.["status"]).toBe("False")
  })

  it("fails a pod whose container exits non-zero under restartPolicy Never, with its termination message", async () => {
    const sim = harness()
    sim.createPod("boom", { restartPolicy: "Never", containers: [{ name: "main", image: "fail", env: [{ name: "MESSAGE", value: "disk full" }] }] })
    const failed = await sim.waitFor("boom", phase("Failed"))
    expect(container(failed)["state"]["terminated"]).toMatchObject({ exitCode: 1, reason: "Error", message: "disk full" })
    expect(brief(failed).slice(2, 4)).toEqual([
      ["Ready", "False", "PodFailed", ""],
      ["ContainersReady", "False", "PodFailed", ""]
    ])
    expect(status(failed)["reason"]).toBeUndefined()
  })

  it("falls back to the last 80 log lines for the termination message under FallbackToLogsOnError", async () => {
    const sim = harness()
    sim.createPod("fallback", { restartPolicy: "Never", containers: [{ name: "main", image: "fail", terminationMessagePolicy: "FallbackToLogsOnError" }] })
    sim.createPod("file", { restartPolicy: "Never", containers: [{ name: "main", image: "fail", terminationMessagePolicy: "File" }] })
    const fallback = await sim.waitFor("fallback", phase("Failed"))
    const expected = Array.from({ length: 80 }, (_, index) => `line ${index + 21}\n`).join("")
    expect(container(fallback)["state"]["terminated"]["message"]).toBe(expected)
    const file = await sim.waitFor("file", phase("Failed"))
    expect(container(file)["state"]["terminated"]["message"]).toBeUndefined()
  })

  it("restarts failed containers under OnFailure with CrashLoopBackOff between restarts, keeping the previous log", async () => {
    const sim = harness()
    const created = sim.createPod("flaky", { restartPolicy: "OnFailure", containers: [{ name: "main", image: "flaky" }] })
    const done = await sim.waitFor("flaky", phase("Succeeded"))
    expect(container(done)).toMatchObject({ restartCount: 2, ready: false })
    expect(container(done)["state"]["terminated"]).toMatchObject({ exitCode: 0, reason: "Completed" })
    expect(container(done)["lastState"]["terminated"]).toMatchObject({ exitCode: 1, reason: "Error" })
    const backOff = sim.history.map((pod) => container(pod)?.["state"]?.["waiting"]).find((waiting) => waiting?.["reason"] === "CrashLoopBackOff")
    expect(backOff).toEqual({ reason: "CrashLoopBackOff", message: `back-off 10s restarting failed container=main pod=flaky_default(${created.metadata.uid})` })
    const phases = new Set(sim.history.map((pod) => status(pod)["phase"]))
    expect(phases.has("Failed")).toBe(false)
    expect(sim.events("flaky")).toContainEqual(["Warning", "BackOff", `Back-off restarting failed container main in pod flaky_default(${created.metadata.uid})`])
    expect(sim.logs.read("default", "flaky", "main")).toEqual({ text: "attempt 3\n", ended: true })
    expect(sim.logs.read("default", "flaky", "main", true)?.text).toBe("attempt 2\n")
  })

  it("restarts even successful containers under restartPolicy Always and stays Running", async () => {
    const sim = harness()
    sim.createPod("always", { restartPolicy: "Always", containers: [{ name: "main", image: "quick" }] })
    const restarted = await sim.waitFor("always", (pod) => (container(pod)?.["restartCount"] ?? 0) >= 2)
    expect(status(restarted)["phase"]).toBe("Running")
    expect(container(restarted)["lastState"]["terminated"]).toMatchObject({ exitCode: 0, reason: "Completed" })
    expect(sim.history.some((pod) => status(pod)["phase"] === "Succeeded")).toBe(false)
  })

  it("reports an image no workload plays as ErrImagePull, then ImagePullBackOff, and keeps the pod Pending", async () => {
    const sim = harness()
    const image = "nvcr.io/nvidia/unknown:1.0"
    sim.createPod("nopull", { containers: [{ name: "main", image }] })
    const stuck = await sim.waitFor("nopull", (pod) => container(pod)?.["state"]?.["waiting"]?.["reason"] === "ImagePullBackOff")
    const error = `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${image}: not found`
    expect(container(stuck)).toEqual({
      image,
      imageID: "",
      lastState: {},
      name: "main",
      ready: false,
      restartCount: 0,
      started: false,
      state: { waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${image}": ErrImagePull: ${error}` } }
    })
    expect(status(stuck)["phase"]).toBe("Pending")
    expect(condition(stuck, "Ready")).toMatchObject({ status: "False", reason: "ContainersNotReady" })
    expect(sim.history.some((pod) => container(pod)?.["state"]?.["waiting"]?.["reason"] === "ErrImagePull" && container(pod)["state"]["waiting"]["message"] === error)).toBe(true)
    expect(sim.events("nopull").slice(0, 5)).toEqual([
      ["Normal", "Pulling", `Pulling image "${image}"`],
      ["Warning", "Failed", `Failed to pull image "${image}": ${error}`],
      ["Warning", "Failed", "Error: ErrImagePull"],
      ["Normal", "BackOff", `Back-off pulling image "${image}"`],
      ["Warning", "Failed", "Error: ImagePullBackOff"]
    ])
  })

  it("runs init containers first; a failed init container fails a Never pod before its containers start", async () => {
    const sim = harness()
    sim.createPod("initialized", { restartPolicy: "Never", initContainers: [{ name: "setup", image: "hello" }], containers: [{ name: "main", image: "hello" }] })
    const done = await sim.waitFor("initialized", phase("Succeeded"))
    const pending = sim.history.find((pod) => pod.metadata.name === "initialized" && status(pod)["initContainerStatuses"] !== undefined)!
    expect(condition(pending, "Initialized")).toMatchObject({ status: "False", reason: "ContainersNotInitialized", message: "containers with incomplete status: [setup]" })
    expect(container(pending)["state"]).toEqual({ waiting: { reason: "PodInitializing" } })
    expect((status(pending)["initContainerStatuses"] as Array<Json>)[0]!["state"]).toEqual({ waiting: { reason: "PodInitializing" } })
    const init = (status(done)["initContainerStatuses"] as Array<Json>)[0]!
    expect(init).toMatchObject({ name: "setup", ready: true, state: { terminated: { exitCode: 0, reason: "Completed" } } })
    expect(sim.logs.read("default", "initialized", "setup")?.text).toBe("hello\n")

    sim.createPod("broken", { restartPolicy: "Never", initContainers: [{ name: "setup", image: "fail" }], containers: [{ name: "main", image: "hello" }] })
    const broken = await sim.waitFor("broken", phase("Failed"))
    expect(condition(broken, "Initialized")).toMatchObject({ status: "False", reason: "ContainersNotInitialized", message: "containers with incomplete status: [setup]" })
    expect(container(broken)["state"]).toEqual({ waiting: { reason: "PodInitializing" } })
    expect(sim.events("broken").some(([, reason, message]) => reason === "Started" && message === "Started container main")).toBe(false)
  })

  it("fails a pod past its activeDeadlineSeconds with DeadlineExceeded and stops its containers", async () => {
    const sim = harness()
    sim.createPod("deadline", { activeDeadlineSeconds: 1, containers: [{ name: "server", image: "server" }] })
    const failed = await sim.waitFor("deadline", phase("Failed"))
    expect(status(failed)).toMatchObject({ reason: "DeadlineExceeded", message: "Pod was active on the node longer than the specified deadline" })
    expect(container(failed)["state"]["terminated"]).toMatchObject({ exitCode: 137, reason: "Error" })
    expect(aborted).toContain("deadline")
    expect(sim.logs.read("default", "deadline", "server")?.ended).toBe(true)
    expect(sim.events("deadline").slice(-2)).toEqual([
      ["Normal", "Killing", "Stopping container server"],
      ["Normal", "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"]
    ])
  })

  it("aborts the workload of a deleted pod, marks a pod kept by a finalizer Failed, and forgets removed pods' logs", async () => {
    const sim = harness()
    const podType = sim.cluster.registry.find("", "v1", "pods")!
    sim.createPod("gone", { containers: [{ name: "server", image: "server" }] })
    await sim.waitFor("gone", phase("Running"))
    sim.cluster.delete(podType, "default", "gone")
    for (let attempt = 0; attempt < 200 && !aborted.includes("gone"); attempt++) await new Promise((resolve) => setTimeout(resolve, 5))
    expect(aborted).toContain("gone")
    expect(sim.logs.read("default", "gone", "server")).toEqual({ text: "", ended: false })

    const kept = sim.createPod("kept", { containers: [{ name: "server", image: "server" }] })
    sim.cluster.update(podType, "default", "kept", { ...sim.pod("kept")!, metadata: { ...sim.pod("kept")!.metadata, finalizers: ["example.com/hold"] } })
    await sim.waitFor("kept", phase("Running"))
    sim.cluster.delete(podType, "default", "kept")
    const failed = await sim.waitFor("kept", phase("Failed"))
    expect(failed.metadata.uid).toBe(kept.metadata.uid)
    expect(container(failed)["state"]["terminated"]).toMatchObject({ exitCode: 137, reason: "Error" })
    expect(condition(failed, "Ready")).toMatchObject({ status: "False", reason: "PodFailed" })
  })

  it("waits for the pod's Node to exist, and does nothing while paused", async () => {
    const sim = harness()
    const nodeType = sim.cluster.registry.find("", "v1", "nodes")!
    sim.createPod("later", { nodeName: "node-9", restartPolicy: "Never", containers: [{ name: "main", image: "hello" }] })
    sim.world.faults.paused.add("kubelet")
    sim.cluster.create(nodeType, "", { apiVersion: "v1", kind: "Node", metadata: { name: "node-9" } })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(status(sim.pod("later")!)).toEqual({ phase: "Pending" })
    sim.world.faults.paused.delete("kubelet")
    const done = await sim.waitFor("later", phase("Succeeded"))
    expect(status(done)["hostIP"]).toMatch(/^10\.0\.\d+\.\d+$/)
  })

  it("gives the same pod IPs, container IDs and sequence of statuses for the same seed", async () => {
    const trace = async (seed: number) => {
      const sim = harness(seed)
      sim.createPod("a", { restartPolicy: "Never", containers: [{ name: "main", image: "hello" }] })
      sim.createPod("b", { restartPolicy: "OnFailure", containers: [{ name: "main", image: "flaky" }] })
      await sim.waitFor("a", phase("Succeeded"))
      await sim.waitFor("b", phase("Succeeded"))
      const timeless = (key: string, value: unknown) => (/Time$|At$/.test(key) ? undefined : value)
      return sim.history.filter((pod) => pod.metadata.name === "a").map((pod) => JSON.stringify(pod["status"], timeless))
    }
    const first = await trace(7)
    expect(await trace(7)).toEqual(first)
    expect(await trace(8)).not.toEqual(first)
  })
})

describe("image names and durations", () => {
  it("normalizes image references as containerd reports them", () => {
    expect(normalizeImage("busybox")).toBe("docker.io/library/busybox:latest")
    expect(normalizeImage("nvidia/cuda:12.8.0-base")).toBe("docker.io/nvidia/cuda:12.8.0-base")
    expect(normalizeImage("nvcr.io/nvidia/pytorch:25.01-py3")).toBe("nvcr.io/nvidia/pytorch:25.01-py3")
    expect(normalizeImage("localhost:5000/app")).toBe("localhost:5000/app:latest")
    expect(normalizeImage("ghcr.io/x/y@sha256:abc")).toBe("ghcr.io/x/y@sha256:abc")
  })

  it("formats durations as Go does", () => {
    expect([300, 2_000, 10_000, 80_000, 300_000, 1_500].map(goDuration)).toEqual(["300ms", "2s", "10s", "1m20s", "5m0s", "1.5s"])
  })
})

