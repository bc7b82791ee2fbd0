import { describe, expect, it } from "vitest"
import type { Cluster } from "../src/cluster.ts"
import { DELETE_PROTECTION, DeviceInventory, POD_CLAIM_NAME, ResourceClaimController, selectorMatches } from "../src/dra.ts"
import { Scheduler } from "../src/scheduler.ts"
import { runControllers } from "../src/simulation.ts"
import type { KubeObject } from "../src/types.ts"
import { testProfile, testWorld } from "./support/world.ts"

const DRIVER = "gpu.nvidia.com"
const TOLERATE_GPU = [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]

const gpuNode = (name: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels: { "kubernetes.io/hostname": name, "node.kubernetes.io/instance-type": "p5.48xlarge", "nvidia.com/gpu.present": "true" } },
  spec: { taints: [{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }] },
  status: { allocatable: { cpu: "191450m", memory: "2000000Mi", pods: "100", "nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "32" } }
})

const cpuNode = (name: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels: { "kubernetes.io/hostname": name } },
  spec: {},
  status: { allocatable: { cpu: "15890m", memory: "63000Mi", pods: "110" } }
})

/** A ResourceSlice as the NVIDIA DRA driver publishes it: pool = node name, devices gpu-0…gpu-7. */
const gpuSlice = (node: string): KubeObject => ({
  apiVersion: "resource.k8s.io/v1",
  kind: "ResourceSlice",
  metadata: { name: `${node}-gpu.nvidia.com-x7k2p` },
  spec: {
    driver: DRIVER,
    nodeName: node,
    pool: { name: node, generation: 1, resourceSliceCount: 1 },
    devices: Array.from({ length: 8 }, (_, index) => ({
      name: `gpu-${index}`,
      attributes: {
        type: { string: "gpu" },
        index: { int: index },
        minor: { int: index },
        uuid: { string: `GPU-${node}-${index}` },
        productName: { string: "NVIDIA H100 80GB HBM3" },
        brand: { string: "Nvidia" },
        architecture: { string: "Hopper" },
        cudaComputeCapability: { version: "9.0.0" },
        driverVersion: { version: "570.133.20" },
        "resource.kubernetes.io/pcieRoot": { string: index < 4 ? "pci0000:00" : "pci0000:80" }
      },
      capacity: { memory: { value: "81559Mi" } }
    }))
  }
})

const deviceClass: KubeObject = {
  apiVersion: "resource.k8s.io/v1",
  kind: "DeviceClass",
  metadata: { name: DRIVER },
  spec: { selectors: [{ cel: { expression: "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'" } }] }
}

const claimSpec = (requests: Array<Record<string, unknown>>, constraints?: Array<Record<string, unknown>>) => ({
  devices: { requests, ...(constraints === undefined ? {} : { constraints }) }
})
const gpus = (count: number, extra: Record<string, unknown> = {}) => ({ name: "gpu", exactly: { deviceClassName: DRIVER, allocationMode: "ExactCount", count, ...extra } })

const podOf = (name: string, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default" },
  spec: { containers: [{ name: "main", image: "vllm-runtime:0.9.0", resources: { claims: [{ name: "gpu" }] } }], tolerations: TOLERATE_GPU, ...spec }
})

const fromTemplate = (name: string, spec: Record<string, unknown> = {}) =>
  podOf(name, { resourceClaims: [{ name: "gpu", resourceClaimTemplateName: "gpu-claim" }], ...spec })
const withClaim = (name: string, claim: string, spec: Record<string, unknown> = {}) =>
  podOf(name, { resourceClaims: [{ name: "gpu", resourceClaimName: claim }], ...spec })

const until = async (check: () => boolean) => {
  for (let i = 0; i < 2000; i++) {
    if (check()) return
    await new Promise((resolve) => (i < 200 ? setImmediate(resolve) : setTimeout(resolve, 1)))
  }
  throw new Error("condition not reached")
}

const ticks = async (count = 40) => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve))
}

const setup = (options: { controllers?: boolean } = {}) => {
  const { world, cluster } = testWorld(testProfile())
  const type = (group: string, resource: string) => cluster.registry.find(group, "v1", resource)!
  for (const node of [gpuNode("gpu-1"), gpuNode("gpu-2"), cpuNode("system-1")]) cluster.create(type("", "nodes"), "", node)
  for (const node of ["gpu-1", "gpu-2"]) cluster.create(type("resource.k8s.io", "resourceslices"), "", gpuSlice(node))
  cluster.create(type("resource.k8s.io", "deviceclasses"), "", deviceClass)
  const stop = options.controllers === false ? () => undefined : runControllers(world, [new ResourceClaimController(), new Scheduler()])
  const pod = (name: string) => cluster.store.get("/pods", "default", name)
  const claim = (name: string) => cluster.store.get("resource.k8s.io/resourceclaims", "default", name)
  const status = (object: KubeObject | undefined) => (object?.["status"] ?? {}) as Record<string, unknown>
  const generated = (podName: string) => {
    const entries = (status(pod(podName))["resourceClaimStatuses"] ?? []) as Array<{ name: string; resourceClaimName: string }>
    return entries.find((entry) => entry.name === "gpu")?.resourceClaimName
  }
  return {
    world,
    cluster,
    stop,
    pod,
    claim,
    status,
    generated,
    nodeOf: (name: string) => (pod(name)?.["spec"] as { nodeName?: string } | undefined)?.nodeName,
    scheduled: (name: string) => ((status(pod(name))["conditions"] ?? []) as Array<Record<string, unknown>>).find((c) => c["type"] === "PodScheduled"),
    devices: (claimName: string | undefined) =>
      (((status(claimName === undefined ? undefined : claim(claimName))["allocation"] as { devices?: { results?: Array<Record<string, unknown>> } } | undefined)?.devices?.results) ?? [])
        .map((result) => `${String(result["pool"])}/${String(result["device"])}`),
    events: (name: string) => (cluster.store.list("/events", "default") ?? [])
      .filter((event) => (event["involvedObject"] as { name: string }).name === name)
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
      .map((event) => [event["type"], event["reason"], event["message"]]),
    createPod: (object: KubeObject) => void cluster.create(type("", "pods"), "default", object),
    createClaim: (name: string, spec: Record<string, unknown>, claimStatus?: Record<string, unknown>) =>
      void cluster.create(type("resource.k8s.io", "resourceclaims"), "default", {
        apiVersion: "resource.k8s.io/v1",
        kind: "ResourceClaim",
        metadata: { name, namespace: "default" },
        spec,
        ...(claimStatus === undefined ? {} : { status: claimStatus })
      }),
    createTemplate: (name: string, spec: Record<string, unknown>) =>
      void cluster.create(type("resource.k8s.io", "resourceclaimtemplates"), "default", {
        apiVersion: "resource.k8s.io/v1",
        kind: "ResourceClaimTemplate",
        metadata: { name, namespace: "default" },
        spec: { metadata: { labels: { app: "inference" } }, spec }
      }),
    setPhase: (name: string, phase: string) => {
      const current = pod(name)!
      cluster.update(type("", "pods"), "default", name, { ...current, status: { ...(current["status"] as object), phase } }, { subresource: "status" })
    },
    deletePod: (name: string) => void cluster.delete(type("", "pods"), "default", name)
  }
}

describe("ResourceClaimController", () => {
  it("creates a pod's claim from its template, owned by the pod, and records it in the pod's status", async () => {
    const sim = setup()
    sim.createTemplate("gpu-claim", claimSpec([gpus(1)]))
    sim.createPod(fromTemplate("worker"))
    await until(() => sim.generated("worker") !== undefined)
    const name = sim.generated("worker")!
    expect(name).toMatch(/^worker-gpu-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
    const claim = sim.claim(name)!
    const pod = sim.pod("worker")!
    expect(claim.metadata).toMatchObject({
      generateName: "worker-gpu-",
      annotations: { [POD_CLAIM_NAME]: "gpu" },
      labels: { app: "inference" },
      ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "worker", uid: pod.metadata.uid, controller: true, blockOwnerDeletion: true }]
    })
    expect(claim["spec"]).toEqual(claimSpec([gpus(1)]))
    expect((sim.status(pod)["resourceClaimStatuses"])).toEqual([{ name: "gpu", resourceClaimName: name }])
    sim.stop()
  })

  it("waits for a missing template, then creates the claim and the pod is scheduled", async () => {
    const sim = setup()
    sim.createPod(fromTemplate("early"))
    await ticks()
    expect([sim.generated("early"), sim.scheduled("early"), sim.events("early")]).toEqual([undefined, undefined, []])
    sim.createTemplate("gpu-claim", claimSpec([gpus(2)]))
    await until(() => sim.nodeOf("early") !== undefined)
    expect(sim.devices(sim.generated("early"))).toHaveLength(2)
    sim.stop()
  })

  it("deallocates and deletes a generated claim when its pod is deleted", async () => {
    const sim = setup()
    sim.createTemplate("gpu-claim", claimSpec([gpus(4)]))
    sim.createPod(fromTemplate("worker"))
    await until(() => sim.nodeOf("worker") !== undefined)
    const name = sim.generated("worker")!
    expect(sim.claim(name)?.metadata.finalizers).toEqual([DELETE_PROTECTION])
    sim.deletePod("worker")
    await until(() => sim.claim(name) === undefined)
    sim.stop()
  })

  it("leaves an allocated claim nobody reserved alone", async () => {
    const sim = setup()
    const allocation = { devices: { results: [{ request: "gpu", driver: DRIVER, pool: "gpu-2", device: "gpu-0" }] } }
    sim.createClaim("preallocated", claimSpec([gpus(1)]), { allocation })
    await ticks()
    expect(sim.status(sim.claim("preallocated"))).toEqual({ allocation })
    sim.stop()
  })

  it("adds the stuck finalizer of a fault to the claims it creates", async () => {
    const sim = setup()
    sim.world.faults.stuckFinalizers.set("resourceclaim-controller", "example.com/stuck")
    sim.createTemplate("gpu-claim", claimSpec([gpus(1)]))
    sim.createPod(fromTemplate("worker"))
    await until(() => sim.nodeOf("worker") !== undefined)
    const name = sim.generated("worker")!
    expect(sim.claim(name)?.metadata.finalizers).toEqual(["example.com/stuck", DELETE_PROTECTION])
    sim.setPhase("worker", "Succeeded")
    await until(() => sim.claim(name)?.metadata.deletionTimestamp !== undefined)
    await ticks()
    expect(sim.claim(name)?.metadata.finalizers).toEqual(["example.com/stuck"])
    expect(sim.status(sim.claim(name))).toEqual({})
    sim.stop()
  })
})

describe("DRA scheduling", () => {
  it("keeps a pod needing 8 GPUs Pending on a node where a claim holds 3, runs it on the free node, and frees the claims", async () => {
    const sim = setup()
    sim.createClaim("held", claimSpec([gpus(3)]))
    sim.createPod(withClaim("holder", "held", { nodeName: "gpu-2" }))
    await until(() => sim.devices("held").length === 3)
    expect(sim.devices("held")).toEqual(["gpu-2/gpu-0", "gpu-2/gpu-1", "gpu-2/gpu-2"])
    expect(sim.status(sim.claim("held"))["reservedFor"]).toEqual([{ resource: "pods", name: "holder", uid: sim.pod("holder")!.metadata.uid }])

    sim.createTemplate("gpu-claim", claimSpec([gpus(8)]))
    sim.createPod(fromTemplate("on-node-2", { nodeSelector: { "kubernetes.io/hostname": "gpu-2" } }))
    await until(() => sim.scheduled("on-node-2") !== undefined)
    const message = "0/3 nodes are available: 1 cannot allocate all claims, 2 node(s) didn't match Pod's node affinity/selector. " +
      "still not schedulable, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    expect(sim.nodeOf("on-node-2")).toBeUndefined()
    expect(sim.scheduled("on-node-2")).toMatchObject({ type: "PodScheduled", status: "False", reason: "Unschedulable", message })
    expect(sim.events("on-node-2")).toEqual([["Warning", "FailedScheduling", message]])
    expect(sim.devices(sim.generated("on-node-2"))).toEqual([])

    sim.createPod(fromTemplate("anywhere"))
    await until(() => sim.nodeOf("anywhere") !== undefined)
    expect(sim.nodeOf("anywhere")).toBe("gpu-1")
    const claimName = sim.generated("anywhere")!
    expect(sim.status(sim.claim(claimName))).toEqual({
      allocation: {
        devices: { results: Array.from({ length: 8 }, (_, index) => ({ request: "gpu", driver: DRIVER, pool: "gpu-1", device: `gpu-${index}` })) },
        nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["gpu-1"] }] }] }
      },
      reservedFor: [{ resource: "pods", name: "anywhere", uid: sim.pod("anywhere")!.metadata.uid }]
    })
    expect(sim.events("anywhere")).toEqual([["Normal", "Scheduled", "Successfully assigned default/anywhere to gpu-1"]])

    sim.setPhase("anywhere", "Succeeded")
    await until(() => sim.claim(claimName) === undefined)

    sim.setPhase("holder", "Failed")
    await until(() => sim.nodeOf("on-node-2") === "gpu-2")
    expect(sim.status(sim.claim("held"))).toEqual({})
    expect(sim.claim("held")?.metadata.finalizers).toBeUndefined()
    expect(sim.devices(sim.generated("on-node-2"))).toEqual(Array.from({ length: 8 }, (_, index) => `gpu-2/gpu-${index}`))
    expect(sim.scheduled("on-node-2")).toMatchObject({ status: "True" })
    sim.stop()
  })

  it("refuses a claim whose device class does not exist before trying nodes", async () => {
    const sim = setup()
    sim.createClaim("odd", claimSpec([{ name: "gpu", exactly: { deviceClassName: "missing.example.com", count: 1 } }]))
    sim.createPod(withClaim("odd-pod", "odd"))
    await until(() => sim.scheduled("odd-pod") !== undefined)
    expect(sim.scheduled("odd-pod")?.["message"]).toBe(
      "0/3 nodes are available: request gpu: device class missing.example.com does not exist. no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    sim.stop()
  })

  it("waits silently for a claim that does not exist yet", async () => {
    const sim = setup()
    sim.createPod(withClaim("patient", "later"))
    await ticks()
    expect([sim.scheduled("patient"), sim.events("patient")]).toEqual([undefined, []])
    sim.createClaim("later", claimSpec([gpus(1)]))
    await until(() => sim.nodeOf("patient") !== undefined)
    sim.stop()
  })

  it("shares an allocated claim with a second pod on the same node only", async () => {
    const sim = setup()
    sim.createClaim("shared", claimSpec([gpus(1)]))
    sim.createPod(withClaim("first", "shared", { nodeSelector: { "kubernetes.io/hostname": "gpu-2" } }))
    await until(() => sim.nodeOf("first") === "gpu-2")
    sim.createPod(withClaim("second", "shared"))
    await until(() => sim.nodeOf("second") !== undefined)
    expect(sim.nodeOf("second")).toBe("gpu-2")
    expect((sim.status(sim.claim("shared"))["reservedFor"] as Array<{ name: string }>).map((consumer) => consumer.name)).toEqual(["first", "second"])
    sim.createPod(withClaim("elsewhere", "shared", { nodeSelector: { "kubernetes.io/hostname": "gpu-1" } }))
    await until(() => sim.scheduled("elsewhere") !== undefined)
    expect(sim.scheduled("elsewhere")?.["message"]).toBe(
      "0/3 nodes are available: 1 resourceclaim not available on the node, 2 node(s) didn't match Pod's node affinity/selector. still not schedulable, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    sim.stop()
  })

  it("deallocates an unreserved claim that is allocated on the wrong node, then allocates it where the pod fits", async () => {
    const sim = setup()
    const allocation = {
      devices: { results: [{ request: "gpu", driver: DRIVER, pool: "gpu-2", device: "gpu-0" }] },
      nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["gpu-2"] }] }] }
    }
    sim.createClaim("stale", claimSpec([gpus(1)]), { allocation })
    sim.createPod(withClaim("mover", "stale", { nodeSelector: { "kubernetes.io/hostname": "gpu-1" } }))
    await until(() => sim.nodeOf("mover") === "gpu-1")
    expect(sim.events("mover")).toEqual([
      ["Warning", "FailedScheduling", "0/3 nodes are available: 1 resourceclaim not available on the node, 2 node(s) didn't match Pod's node affinity/selector. " +
        "deallocation of ResourceClaim completed, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."],
      ["Normal", "Scheduled", "Successfully assigned default/mover to gpu-1"]
    ])
    expect(sim.devices("stale")).toEqual(["gpu-1/gpu-0"])
    sim.stop()
  })
})

describe("DRA determinism and quiescence", () => {
  const run = async () => {
    const sim = setup()
    sim.createTemplate("gpu-claim", claimSpec([gpus(3)]))
    for (const name of ["a", "b", "c", "d", "e", "f"]) sim.createPod(fromTemplate(name))
    await until(() => ["a", "b", "c", "d", "e", "f"].every((name) => sim.nodeOf(name) !== undefined || sim.scheduled(name) !== undefined))
    await ticks()
    const settled = sim.cluster.store.resourceVersion
    await ticks(100)
    const quiet = sim.cluster.store.resourceVersion === settled
    const outcome = ["a", "b", "c", "d", "e", "f"].map((name) => [name, sim.nodeOf(name), sim.generated(name), sim.devices(sim.generated(name)).join(",")])
    sim.stop()
    return { outcome, quiet }
  }

  it("gives the same claims, devices and nodes for the same seed, and then stops writing", async () => {
    const first = await run()
    const second = await run()
    expect(first.quiet).toBe(true)
    expect(second.outcome).toEqual(first.outcome)
    expect(first.outcome.filter(([, node]) => node !== undefined)).toHaveLength(4)
  })
})

describe("DeviceInventory.allocate", () => {
  const inventory = () => {
    const sim = setup({ controllers: false })
    return { sim, devices: new DeviceInventory(sim.cluster), node: sim.cluster.store.get("/nodes", "", "gpu-1")! }
  }
  const claimOf = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: "resource.k8s.io/v1", kind: "ResourceClaim", metadata: { name: "c", namespace: "default" }, spec })
  const picked = (cluster: Cluster, spec: Record<string, unknown>) => {
    const node = cluster.store.get("/nodes", "", "gpu-1")!
    const result = new DeviceInventory(cluster).allocate(node, [claimOf(spec)])
    return result?.[0]?.devices.results.map((entry) => `${entry.request}:${entry.device}`)
  }

  it("filters devices by the request's CEL selectors", () => {
    const { sim } = inventory()
    const high = { cel: { expression: "device.attributes[\"gpu.nvidia.com\"].index >= 6" } }
    expect(picked(sim.cluster, claimSpec([gpus(2, { selectors: [high] })]))).toEqual(["gpu:gpu-6", "gpu:gpu-7"])
    expect(picked(sim.cluster, claimSpec([gpus(3, { selectors: [high] })]))).toBeUndefined()
    const product = { cel: { expression: "device.attributes['gpu.nvidia.com'].productName.startsWith('NVIDIA H100') && device.driver == 'gpu.nvidia.com'" } }
    expect(picked(sim.cluster, claimSpec([gpus(1, { selectors: [product] })]))).toEqual(["gpu:gpu-0"])
  })

  it("treats selectors outside the supported CEL as matching and failing ones as not matching", () => {
    const { sim, devices, node } = inventory()
    const device = devices.devicesOn(node)[0]!
    expect(selectorMatches({ cel: { expression: "device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('40Gi')) >= 0" } }, device)).toBe(true)
    expect(selectorMatches({ cel: { expression: "device.attributes['example.com'].model == 'x'" } }, device)).toBe(false)
    expect(selectorMatches({ cel: { expression: "device.attributes['gpu.nvidia.com'].architecture == 'Hopper'" } }, device)).toBe(true)
    sim.stop()
  })

  it("allocates every matching device with allocationMode All", () => {
    const { sim } = inventory()
    expect(picked(sim.cluster, claimSpec([{ name: "all", exactly: { deviceClassName: DRIVER, allocationMode: "All" } }]))).toEqual(
      Array.from({ length: 8 }, (_, index) => `all:gpu-${index}`)
    )
  })

  it("takes the first available subrequest that fits", () => {
    const { sim } = inventory()
    const request = { name: "gpu", firstAvailable: [{ name: "nine", deviceClassName: DRIVER, count: 9 }, { name: "two", deviceClassName: DRIVER, count: 2 }] }
    expect(picked(sim.cluster, claimSpec([request]))).toEqual(["gpu/two:gpu-0", "gpu/two:gpu-1"])
  })

  it("keeps devices that must share an attribute together, backtracking when needed", () => {
    const { sim } = inventory()
    const sameRoot = [{ matchAttribute: "resource.kubernetes.io/pcieRoot" }]
    const pair = (name: string, count: number, selectors: Array<unknown> = []) => ({ name, exactly: { deviceClassName: DRIVER, count, selectors } })
    expect(picked(sim.cluster, claimSpec([pair("a", 2), pair("b", 2)], sameRoot))).toEqual(["a:gpu-0", "a:gpu-1", "b:gpu-2", "b:gpu-3"])
    expect(picked(sim.cluster, claimSpec([pair("a", 3), pair("b", 3)], sameRoot))).toBeUndefined()
    const upper = { cel: { expression: "device.attributes['gpu.nvidia.com'].index == 7" } }
    expect(picked(sim.cluster, claimSpec([pair("a", 1), pair("b", 1, [upper])], sameRoot))).toEqual(["a:gpu-4", "b:gpu-7"])
  })

  it("skips devices other claims hold", () => {
    const { sim } = inventory()
    sim.createClaim("taken", claimSpec([gpus(2)]), { allocation: { devices: { results: [0, 1].map((i) => ({ request: "gpu", driver: DRIVER, pool: "gpu-1", device: `gpu-${i}` })) } } })
    expect(picked(sim.cluster, claimSpec([gpus(6)]))).toEqual(["gpu-2", "gpu-3", "gpu-4", "gpu-5", "gpu-6", "gpu-7"].map((device) => `gpu:${device}`))
    expect(picked(sim.cluster, claimSpec([gpus(7)]))).toBeUndefined()
  })
})
