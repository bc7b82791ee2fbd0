import { describe, expect, it } from "vitest"
import type { Cluster } from "../src/cluster.ts"
import {
  filterNode,
  fitErrorMessage,
  fits,
  insufficientResources,
  matchesNodeAffinity,
  nodeUsage,
  parseQuantity,
  podRequests,
  Scheduler,
  tolerates
} from "../src/scheduler.ts"
import { runControllers } from "../src/simulation.ts"
import type { KubeObject } from "../src/types.ts"
import { testProfile, testWorld } from "./support/world.ts"

const GPU_TAINT = { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }
const TOLERATE_GPU = [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]

const gpuNode = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: {
    name,
    labels: {
      "kubernetes.io/hostname": name,
      "node.kubernetes.io/instance-type": "p5.48xlarge",
      "nvidia.com/gpu.present": "true",
      "nvidia.com/gpu.count": "8",
      ...labels
    }
  },
  spec: { taints: [GPU_TAINT] },
  status: {
    capacity: { cpu: "192", memory: "2097152Mi", pods: "100", "nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "32" },
    allocatable: { cpu: "191450m", memory: "2000000Mi", pods: "100", "nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "32" }
  }
})

const cpuNode = (name: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels: { "kubernetes.io/hostname": name, "node.kubernetes.io/instance-type": "m7i.4xlarge" } },
  spec: {},
  status: { allocatable: { cpu: "15890m", memory: "63000Mi", pods: "110" } }
})

const podOf = (name: string, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default" },
  spec: { containers: [{ name: "main", image: "busybox:1.36" }], ...spec }
})

const gpuPod = (name: string, gpus: number, spec: Record<string, unknown> = {}): KubeObject =>
  podOf(name, { containers: [{ name: "main", image: "nccl:1", resources: { limits: { "nvidia.com/gpu": String(gpus) } } }], tolerations: TOLERATE_GPU, ...spec })

const ticks = async (count = 30) => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve))
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 2000; i++) {
    if (check()) return
    await new Promise((resolve) => (i < 200 ? setImmediate(resolve) : setTimeout(resolve, 1)))
  }
  throw new Error("condition not reached")
}

interface Setup {
  readonly cluster: Cluster
  readonly stop: () => void
  readonly create: (pod: KubeObject) => void
  readonly pod: (name: string) => KubeObject | undefined
  readonly nodeOf: (name: string) => string | undefined
  readonly scheduled: (name: string) => Record<string, unknown> | undefined
  readonly events: (name: string) => Array<[unknown, unknown, unknown]>
  readonly setPhase: (name: string, phase: string) => void
  readonly world: ReturnType<typeof testWorld>["world"]
}

const setup = (options: { seed?: number; nodes?: ReadonlyArray<KubeObject>; start?: boolean } = {}): Setup => {
  const { world, cluster } = testWorld(testProfile({ seed: options.seed ?? 42 }))
  const nodeType = cluster.registry.find("", "v1", "nodes")!
  const podType = cluster.registry.find("", "v1", "pods")!
  for (const node of options.nodes ?? [gpuNode("gpu-1"), gpuNode("gpu-2"), cpuNode("system-1")]) cluster.create(nodeType, "", node)
  const stop = options.start === false ? () => undefined : runControllers(world, [new Scheduler()])
  const pod = (name: string) => cluster.store.get("/pods", "default", name)
  return {
    cluster,
    world,
    stop,
    create: (object) => void cluster.create(podType, "default", object),
    pod,
    nodeOf: (name) => (pod(name)?.["spec"] as { nodeName?: string } | undefined)?.nodeName,
    scheduled: (name) => ((pod(name)?.["status"] as { conditions?: Array<Record<string, unknown>> } | undefined)?.conditions ?? []).find((c) => c["type"] === "PodScheduled"),
    events: (name) => (cluster.store.list("/events", "default") ?? [])
      .filter((event) => (event["involvedObject"] as { name: string }).name === name)
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
      .map((event) => [event["type"], event["reason"], event["message"]]),
    setPhase: (name, phase) => {
      const current = pod(name)!
      cluster.update(podType, "default", name, { ...current, status: { ...(current["status"] as object), phase } }, { subresource: "status" })
    }
  }
}

describe("requests and node usage", () => {
  it("parses quantities", () => {
    expect([parseQuantity("500m"), parseQuantity("2"), parseQuantity("1Gi"), parseQuantity("1e3"), parseQuantity("1.5k")]).toEqual([0.5, 2, 1073741824, 1000, 1500])
    expect(parseQuantity("lots")).toBeNaN()
  })

  it("sums containers, takes limits for missing requests, applies the init-container and sidecar rules and adds overhead", () => {
    const pod = podOf("p", {
      containers: [
        { name: "a", image: "x", resources: { requests: { cpu: "1", memory: "1Gi" } } },
        { name: "b", image: "x", resources: { requests: { cpu: "500m" }, limits: { memory: "512Mi", "nvidia.com/gpu": "2" } } }
      ],
      initContainers: [
        { name: "setup", image: "x", resources: { requests: { cpu: "2" } } },
        { name: "sidecar", image: "x", restartPolicy: "Always", resources: { requests: { cpu: "250m", memory: "128Mi" } } },
        { name: "migrate", image: "x", resources: { requests: { cpu: "1", memory: "3Gi" } } }
      ],
      overhead: { cpu: "100m" }
    })
    expect(podRequests(pod)).toEqual({ cpu: 2100, memory: 3200 * 2 ** 20, "nvidia.com/gpu": 2 })
  })

  it("counts the pods bound to each node that have not finished", () => {
    const { cluster, create, setPhase, stop } = setup({ start: false })
    create(gpuPod("a", 2, { nodeName: "gpu-1" }))
    create(gpuPod("b", 3, { nodeName: "gpu-1" }))
    create(gpuPod("c", 8, { nodeName: "gpu-2" }))
    create(gpuPod("pending", 1))
    setPhase("c", "Succeeded")
    const usage = nodeUsage(cluster)
    expect([...usage.keys()]).toEqual(["gpu-1"])
    expect(usage.get("gpu-1")).toEqual({ requested: { "nvidia.com/gpu": 5 }, pods: 2 })
    stop()
  })
})

describe("filters", () => {
  const node = gpuNode("gpu-1", { "topology.kubernetes.io/zone": "us-east-1a", "nvidia.com/gpu.memory": "81559" })

  it("tolerations tolerate taints as v1.Toleration does", () => {
    expect(tolerates({ operator: "Exists" }, GPU_TAINT)).toBe(true)
    expect(tolerates({ key: "nvidia.com/gpu", operator: "Exists" }, GPU_TAINT)).toBe(true)
    expect(tolerates({ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }, GPU_TAINT)).toBe(true)
    expect(tolerates({ key: "nvidia.com/gpu", value: "true" }, GPU_TAINT)).toBe(true)
    expect(tolerates({ key: "nvidia.com/gpu", operator: "Equal", value: "present" }, GPU_TAINT)).toBe(false)
    expect(tolerates({ key: "nvidia.com/gpu", operator: "Exists", effect: "NoExecute" }, GPU_TAINT)).toBe(false)
    expect(tolerates({ key: "other", operator: "Exists" }, GPU_TAINT)).toBe(false)
  })

  it("required node affinity supports In, NotIn, Exists, DoesNotExist, Gt, Lt and matchFields on metadata.name", () => {
    const withTerms = (...terms: Array<Record<string, unknown>>) =>
      podOf("p", { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } })
    const expression = (key: string, operator: string, values?: Array<string>) => withTerms({ matchExpressions: [{ key, operator, ...(values === undefined ? {} : { values }) }] })
    expect(matchesNodeAffinity(expression("topology.kubernetes.io/zone", "In", ["us-east-1a", "us-east-1b"]), node)).toBe(true)
    expect(matchesNodeAffinity(expression("topology.kubernetes.io/zone", "NotIn", ["us-east-1a"]), node)).toBe(false)
    expect(matchesNodeAffinity(expression("absent", "NotIn", ["x"]), node)).toBe(true)
    expect(matchesNodeAffinity(expression("nvidia.com/gpu.present", "Exists"), node)).toBe(true)
    expect(matchesNodeAffinity(expression("nvidia.com/gpu.present", "DoesNotExist"), node)).toBe(false)
    expect(matchesNodeAffinity(expression("nvidia.com/gpu.memory", "Gt", ["40000"]), node)).toBe(true)
    expect(matchesNodeAffinity(expression("nvidia.com/gpu.memory", "Lt", ["40000"]), node)).toBe(false)
    expect(matchesNodeAffinity(expression("topology.kubernetes.io/zone", "Gt", ["1"]), node)).toBe(false)
    expect(matchesNodeAffinity(withTerms({ matchFields: [{ key: "metadata.name", operator: "In", values: ["gpu-1"] }] }), node)).toBe(true)
    expect(matchesNodeAffinity(withTerms({ matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["gpu-1"] }] }), node)).toBe(false)
    expect(matchesNodeAffinity(withTerms({ matchExpressions: [{ key: "absent", operator: "Exists" }] }, { matchExpressions: [{ key: "nvidia.com/gpu.count", operator: "In", values: ["8"] }] }), node)).toBe(true)
    expect(matchesNodeAffinity(withTerms({}), node)).toBe(false)
    expect(matchesNodeAffinity(podOf("p", { nodeSelector: { "kubernetes.io/hostname": "gpu-1" } }), node)).toBe(true)
    expect(matchesNodeAffinity(podOf("p", { nodeSelector: { "kubernetes.io/hostname": "gpu-2" } }), node)).toBe(false)
  })

  it("rejects in the scheduler's filter order with its reasons", () => {
    const cordoned = { ...node, spec: { ...(node["spec"] as object), unschedulable: true } }
    expect(filterNode(podOf("p"), cordoned, undefined)).toEqual({ reasons: ["node(s) were unschedulable"], resolvable: false })
    expect(filterNode(podOf("p", { tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }] }), cordoned, undefined))
      .toEqual({ reasons: ["node(s) had untolerated taint(s)"], resolvable: false })
    expect(filterNode(podOf("p", { tolerations: TOLERATE_GPU, nodeSelector: { zone: "b" } }), node, undefined))
      .toEqual({ reasons: ["node(s) didn't match Pod's node affinity/selector"], resolvable: false })
    const hungry = gpuPod("p", 9, { containers: [{ name: "m", image: "x", resources: { requests: { cpu: "200", memory: "1Gi", "nvidia.com/gpu": "9" } } }] })
    expect(filterNode(hungry, node, undefined)).toEqual({ reasons: ["Insufficient cpu", "Insufficient nvidia.com/gpu"], resolvable: true })
    expect(fits(gpuPod("p", 8), node, undefined)).toBe(true)
    expect(fits(gpuPod("p", 8), node, { requested: { "nvidia.com/gpu": 1 }, pods: 1 })).toBe(false)
  })

  it("counts pods against the node's pod capacity", () => {
    expect(insufficientResources(podOf("p"), node, { requested: {}, pods: 100 })).toEqual(["Too many pods"])
    expect(insufficientResources(podOf("p"), node, { requested: {}, pods: 99 })).toEqual([])
  })

  it("formats the fit error as FitError.Error does", () => {
    expect(fitErrorMessage(3, ["b reason", "a reason", "b reason"], undefined, ["x", "preemption: y."])).toBe("0/3 nodes are available: 1 a reason, 2 b reason. x, preemption: y.")
    expect(fitErrorMessage(2, ["ignored"], "pre-filter says no", [])).toBe("0/2 nodes are available: pre-filter says no.")
  })
})

describe("Scheduler", () => {
  it("binds a pod, sets PodScheduled=True and records a Scheduled event", async () => {
    const { create, nodeOf, scheduled, events, stop } = setup()
    create(podOf("web", { nodeSelector: { "kubernetes.io/hostname": "system-1" } }))
    await until(() => nodeOf("web") !== undefined)
    expect(nodeOf("web")).toBe("system-1")
    expect(scheduled("web")).toMatchObject({ type: "PodScheduled", status: "True", lastProbeTime: null })
    expect(events("web")).toEqual([["Normal", "Scheduled", "Successfully assigned default/web to system-1"]])
    stop()
  })

  it("keeps a pod no node accepts Pending with the scheduler's condition and one FailedScheduling event", async () => {
    const { create, pod, nodeOf, scheduled, events, stop } = setup()
    create(podOf("lost", { nodeSelector: { "kubernetes.io/hostname": "nowhere" } }))
    await until(() => scheduled("lost") !== undefined)
    await ticks()
    const message = "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 node(s) had untolerated taint(s). " +
      "no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    expect(nodeOf("lost")).toBeUndefined()
    expect((pod("lost")?.["status"] as { phase: string }).phase).toBe("Pending")
    expect(scheduled("lost")).toMatchObject({ type: "PodScheduled", status: "False", reason: "Unschedulable", message, lastProbeTime: null })
    expect(events("lost")).toEqual([["Warning", "FailedScheduling", message]])
    stop()
  })

  it("reports insufficient resources, and binds once capacity frees up", async () => {
    const { create, nodeOf, scheduled, events, setPhase, stop } = setup()
    create(gpuPod("holder", 8, { nodeSelector: { "kubernetes.io/hostname": "gpu-1" } }))
    await until(() => nodeOf("holder") === "gpu-1")
    create(gpuPod("waiter", 8, { nodeSelector: { "kubernetes.io/hostname": "gpu-1" } }))
    await until(() => scheduled("waiter") !== undefined)
    const message = "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node affinity/selector. " +
      "no new claims to deallocate, preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
    expect(scheduled("waiter")).toMatchObject({ status: "False", reason: "Unschedulable", message })
    setPhase("holder", "Succeeded")
    await until(() => nodeOf("waiter") === "gpu-1")
    expect(scheduled("waiter")).toMatchObject({ status: "True" })
    expect(events("waiter")).toEqual([
      ["Warning", "FailedScheduling", message],
      ["Normal", "Scheduled", "Successfully assigned default/waiter to gpu-1"]
    ])
    stop()
  })

  it("counts every insufficient resource of every node", async () => {
    const { create, scheduled, stop } = setup()
    create(gpuPod("greedy", 9))
    await until(() => scheduled("greedy") !== undefined)
    expect(scheduled("greedy")?.["message"]).toBe(
      "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. no new claims to deallocate, preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )
    stop()
  })

  it("skips cordoned nodes and retries when a node changes", async () => {
    const { cluster, create, nodeOf, scheduled, stop } = setup()
    const nodeType = cluster.registry.find("", "v1", "nodes")!
    const system = cluster.store.get("/nodes", "", "system-1")!
    cluster.update(nodeType, "", "system-1", { ...system, spec: { unschedulable: true } })
    create(podOf("web"))
    await until(() => scheduled("web") !== undefined)
    expect(scheduled("web")?.["message"]).toBe(
      "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) had untolerated taint(s). no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    cluster.update(nodeType, "", "system-1", { ...cluster.store.get("/nodes", "", "system-1")!, spec: {} })
    await until(() => nodeOf("web") === "system-1")
    stop()
  })

  it("restricts the nodes to those matchFields names, as NodeAffinity's PreFilter does", async () => {
    const { create, scheduled, stop } = setup()
    create(podOf("pinned", { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["gpu-1"] }] }] } } } }))
    await until(() => scheduled("pinned") !== undefined)
    expect(scheduled("pinned")?.["message"]).toBe(
      "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    stop()
  })

  it("says when a pod may not preempt, and when there are no nodes", async () => {
    const { create, scheduled, stop } = setup()
    create(gpuPod("polite", 16, { preemptionPolicy: "Never" }))
    await until(() => scheduled("polite") !== undefined)
    expect(scheduled("polite")?.["message"]).toBe("0/3 nodes are available: 3 Insufficient nvidia.com/gpu. no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never.")
    stop()
    const empty = setup({ nodes: [] })
    empty.create(podOf("alone"))
    await until(() => empty.scheduled("alone") !== undefined)
    expect(empty.scheduled("alone")).toMatchObject({ status: "False", reason: "Unschedulable", message: "no nodes available to schedule pods" })
    expect(empty.events("alone")).toEqual([["Warning", "FailedScheduling", "no nodes available to schedule pods"]])
    empty.stop()
  })

  it("leaves pods of other schedulers, gated pods and pods created on a node alone", async () => {
    const { create, nodeOf, scheduled, events, stop } = setup()
    create(podOf("volcano", { schedulerName: "volcano" }))
    create(podOf("gated", { schedulingGates: [{ name: "example.com/wait" }] }))
    create(gpuPod("direct", 8, { nodeName: "gpu-2" }))
    await ticks()
    expect([nodeOf("volcano"), nodeOf("gated"), nodeOf("direct")]).toEqual([undefined, undefined, "gpu-2"])
    expect([scheduled("volcano"), scheduled("gated"), scheduled("direct")]).toEqual([undefined, undefined, undefined])
    expect([events("volcano"), events("gated"), events("direct")]).toEqual([[], [], []])
    stop()
  })

  it("places a GPU pod on the node with the most free GPUs and a CPU pod by preferred affinity", async () => {
    const { create, nodeOf, stop } = setup()
    create(gpuPod("busy", 6, { nodeName: "gpu-1" }))
    create(gpuPod("next", 2))
    await until(() => nodeOf("next") !== undefined)
    expect(nodeOf("next")).toBe("gpu-2")
    const preferCpu = { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: "nvidia.com/gpu.present", operator: "DoesNotExist" }] } }] } }
    create(podOf("validator", { tolerations: [{ operator: "Exists" }], affinity: preferCpu }))
    await until(() => nodeOf("validator") !== undefined)
    expect(nodeOf("validator")).toBe("system-1")
    stop()
  })

  it("waits while paused and schedules when resumed", async () => {
    const { world, create, nodeOf, stop } = setup()
    world.faults.paused.add("default-scheduler")
    create(podOf("web"))
    await ticks()
    expect(nodeOf("web")).toBeUndefined()
    world.faults.paused.delete("default-scheduler")
    await until(() => nodeOf("web") === "system-1")
    stop()
  })

  it("writes nothing more once a pod that fits nowhere has its condition", async () => {
    const { cluster, create, scheduled, stop } = setup()
    create(gpuPod("greedy", 9))
    await until(() => scheduled("greedy") !== undefined)
    await ticks()
    const settled = cluster.store.resourceVersion
    create(podOf("other", { schedulerName: "volcano" }))
    await ticks(100)
    expect(cluster.store.resourceVersion).toBe(settled + 1)
    stop()
  })

  it("places pods the same way for the same seed", async () => {
    const placements = async (seed: number) => {
      const run = setup({ seed })
      for (let i = 0; i < 8; i++) run.create(podOf(`p-${i}`, { tolerations: [{ operator: "Exists" }] }))
      await until(() => Array.from({ length: 8 }, (_, i) => run.nodeOf(`p-${i}`)).every((node) => node !== undefined))
      run.stop()
      return Array.from({ length: 8 }, (_, i) => run.nodeOf(`p-${i}`))
    }
    const first = await placements(7)
    expect(await placements(7)).toEqual(first)
    expect(new Set(first).size).toBeGreaterThan(1)
  })
})
