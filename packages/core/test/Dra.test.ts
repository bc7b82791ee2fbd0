import { type Sim, startSim } from "@aicr/kube-sim"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Dra from "../src/Dra.ts"
import * as KubeClient from "../src/KubeClient.ts"
import * as KubeClientLive from "../src/KubeClientLive.ts"

type Obj = KubeClient.KubeObject

const H100 = "NVIDIA-H100-80GB-HBM3"
const A100 = "NVIDIA-A100-SXM4-40GB"
const GPU_TAINT = { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }
const TOLERATE_GPU: Dra.PickOptions = { tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] }

interface NodeSpec {
  readonly allocatable?: number | undefined
  readonly count?: number | undefined
  readonly product?: string | undefined
  readonly unschedulable?: boolean | undefined
  readonly taints?: ReadonlyArray<{ key: string; value?: string; effect: string }> | undefined
  readonly ready?: string | undefined
  readonly labels?: Record<string, string> | undefined
}

const node = (name: string, spec: NodeSpec = {}): Obj => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: {
    name,
    labels: {
      "kubernetes.io/hostname": name,
      ...(spec.product === undefined ? {} : { [Dra.PRODUCT_LABEL]: spec.product }),
      ...(spec.count === undefined ? {} : { [Dra.COUNT_LABEL]: String(spec.count) }),
      ...spec.labels
    }
  },
  spec: {
    ...(spec.unschedulable === true ? { unschedulable: true } : {}),
    ...(spec.taints === undefined ? {} : { taints: spec.taints })
  },
  status: {
    capacity: { cpu: "192", ...(spec.allocatable === undefined ? {} : { [Dra.RESOURCE]: String(spec.count ?? spec.allocatable) }) },
    allocatable: { cpu: "191450m", ...(spec.allocatable === undefined ? {} : { [Dra.RESOURCE]: String(spec.allocatable) }) },
    conditions: [{ type: "Ready", status: spec.ready ?? "True" }]
  }
})

const gpuNode = (name: string, spec: NodeSpec = {}): Obj =>
  node(name, { allocatable: 8, count: 8, product: H100, taints: [GPU_TAINT], ...spec })

const slice = (nodeName: string, devices: number, options: { pool?: string; driver?: string } = {}): Obj => ({
  apiVersion: Dra.API_VERSION,
  kind: "ResourceSlice",
  metadata: { name: `${nodeName}-${options.driver ?? Dra.DRIVER}` },
  spec: {
    driver: options.driver ?? Dra.DRIVER,
    nodeName,
    pool: { name: options.pool ?? nodeName, generation: 1, resourceSliceCount: 1 },
    devices: Array.from({ length: devices }, (_, index) => ({ name: `gpu-${index}` }))
  }
})

interface ResultSpec {
  readonly pool: string
  readonly count: number
  readonly driver?: string
  readonly adminAccess?: boolean
}

const claim = (namespace: string, name: string, results: ReadonlyArray<ResultSpec> | undefined): Obj => ({
  apiVersion: Dra.API_VERSION,
  kind: "ResourceClaim",
  metadata: { name, namespace },
  spec: { devices: { requests: [{ name: "gpu", exactly: { deviceClassName: Dra.DEVICE_CLASS, count: 1 } }] } },
  ...(results === undefined ? {} : {
    status: {
      allocation: {
        devices: {
          results: results.flatMap((result) =>
            Array.from({ length: result.count }, (_, index) => ({
              request: "gpu",
              driver: result.driver ?? Dra.DRIVER,
              pool: result.pool,
              device: `gpu-${index}`,
              ...(result.adminAccess === undefined ? {} : { adminAccess: result.adminAccess })
            }))
          )
        }
      }
    }
  })
})

const pod = (
  namespace: string,
  name: string,
  nodeName: string | undefined,
  gpus: number,
  phase = "Running",
  extra: Record<string, unknown> = {}
): Obj => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace },
  spec: {
    ...(nodeName === undefined ? {} : { nodeName }),
    containers: [{ name: "main", image: "x", resources: { limits: { [Dra.RESOURCE]: String(gpus) } } }],
    ...extra
  },
  status: { phase }
})

/**
 * The mixed cluster of issue 6: DRA claims on gpu-a, a device-plugin pod on gpu-b, gpu-c cordoned, gpu-d tainted
 * with a taint the workload does not tolerate, gpu-e degraded (6 of 8 GPUs), gpu-f holding GPUs both ways (its
 * DRA pool is not named after the node), and a CPU node.
 */
const mixedCluster: ReadonlyArray<Obj> = [
  gpuNode("gpu-a"),
  gpuNode("gpu-b"),
  gpuNode("gpu-c", { unschedulable: true }),
  gpuNode("gpu-d", { taints: [GPU_TAINT, { key: "maintenance", value: "true", effect: "NoExecute" }] }),
  gpuNode("gpu-e", { allocatable: 6 }),
  gpuNode("gpu-f"),
  node("cpu-1"),
  slice("gpu-a", 8),
  slice("gpu-a", 4, { driver: "nic.example.com" }),
  slice("gpu-b", 8),
  slice("gpu-c", 8),
  slice("gpu-d", 8),
  slice("gpu-e", 6),
  slice("gpu-f", 8, { pool: "pool-f" }),
  claim("team-1", "train-0", [{ pool: "gpu-a", count: 4 }, { pool: "gpu-a", count: 2, driver: "nic.example.com" }]),
  claim("team-2", "infer-0", [{ pool: "gpu-a", count: 2 }]),
  claim("team-2", "monitor", [{ pool: "gpu-a", count: 8, adminAccess: true }]),
  claim("team-2", "pending", undefined),
  claim("team-3", "f-0", [{ pool: "pool-f", count: 2 }]),
  pod("team-1", "plugin-b", "gpu-b", 3),
  pod("team-1", "done-b", "gpu-b", 8, "Succeeded"),
  pod("team-1", "failed-b", "gpu-b", 8, "Failed"),
  pod("team-1", "unbound", undefined, 8, "Pending"),
  pod("team-3", "plugin-f", "gpu-f", 2),
  pod("team-3", "cpu-only", "cpu-1", 0)
]

const summary = (census: Dra.Census) =>
  census.nodes.map((entry) => [entry.name, entry.capacity, entry.usedByClaims, entry.usedByPods, entry.free, entry.degraded])

const MIXED_TABLE = [
  "NODE   GPUS USED/CAPACITY  NOTE",
  "gpu-a  6/8                 6 by DRA claims",
  "gpu-b  3/8                 3 by device-plugin pods",
  "gpu-c  0/8                 cordoned (spec.unschedulable)",
  "gpu-d  0/8                 taint maintenance=true:NoExecute not tolerated",
  "gpu-e  0/6                 degraded: 6 of 8 GPUs advertised",
  "gpu-f  4/8                 2 by DRA claims; 2 by device-plugin pods"
].join("\n")

describe("constants", () => {
  it("name the resource.k8s.io/v1 kinds, the NVIDIA driver and the device-plugin resource", () => {
    expect([Dra.DeviceClass, Dra.ResourceSlice, Dra.ResourceClaim, Dra.ResourceClaimTemplate]).toEqual([
      { group: "resource.k8s.io", version: "v1", resource: "deviceclasses", kind: "DeviceClass", apiVersion: "resource.k8s.io/v1", namespaced: false },
      { group: "resource.k8s.io", version: "v1", resource: "resourceslices", kind: "ResourceSlice", apiVersion: "resource.k8s.io/v1", namespaced: false },
      { group: "resource.k8s.io", version: "v1", resource: "resourceclaims", kind: "ResourceClaim", apiVersion: "resource.k8s.io/v1", namespaced: true },
      {
        group: "resource.k8s.io",
        version: "v1",
        resource: "resourceclaimtemplates",
        kind: "ResourceClaimTemplate",
        apiVersion: "resource.k8s.io/v1",
        namespaced: true
      }
    ])
    expect([Dra.DRIVER, Dra.DEVICE_CLASS, Dra.RESOURCE]).toEqual(["gpu.nvidia.com", "gpu.nvidia.com", "nvidia.com/gpu"])
  })
})

const split = (objects: ReadonlyArray<Obj>, draServed = true): Dra.CensusInput => ({
  nodes: objects.filter((object) => object.kind === "Node"),
  slices: objects.filter((object) => object.kind === "ResourceSlice"),
  claims: objects.filter((object) => object.kind === "ResourceClaim"),
  pods: objects.filter((object) => object.kind === "Pod"),
  draServed
})

describe("censusOf", () => {
  it("counts capacity, DRA and device-plugin use per GPU node on the mixed cluster", () => {
    const census = Dra.censusOf(split(mixedCluster))
    expect(summary(census)).toEqual([
      ["gpu-a", 8, 6, 0, 2, false],
      ["gpu-b", 8, 0, 3, 5, false],
      ["gpu-c", 8, 0, 0, 8, false],
      ["gpu-d", 8, 0, 0, 8, false],
      ["gpu-e", 6, 0, 0, 6, true],
      ["gpu-f", 8, 2, 2, 4, false]
    ])
    expect([census.draServed, census.fallback, census.unmappedPools]).toEqual([true, undefined, []])
    const e = census.nodes.find((entry) => entry.name === "gpu-e")!
    expect([e.allocatable, e.sliceDevices, e.advertised, e.expected, e.product]).toEqual([6, 6, 6, 8, H100])
    expect(census.nodes.find((entry) => entry.name === "gpu-d")!.taints).toEqual([
      { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" },
      { key: "maintenance", value: "true", effect: "NoExecute" }
    ])
  })

  it("takes the larger of allocatable and slice devices, and never reports negative free GPUs", () => {
    const census = Dra.censusOf(split([
      node("dra-only", { product: H100 }),
      node("plugin-only", { allocatable: 4 }),
      node("stale", { allocatable: 2 }),
      slice("dra-only", 8),
      claim("ns", "stale-claim", [{ pool: "stale", count: 5 }]),
      claim("ns", "ghost", [{ pool: "gone-node", count: 1 }])
    ]))
    expect(census.nodes.map((entry) => [entry.name, entry.allocatable, entry.sliceDevices, entry.capacity, entry.expected, entry.used, entry.free, entry.degraded]))
      .toEqual([
        ["dra-only", 0, 8, 8, 8, 0, 8, false],
        ["plugin-only", 4, undefined, 4, 4, 0, 4, false],
        ["stale", 2, undefined, 2, 2, 5, 0, false]
      ])
    expect(census.unmappedPools).toEqual(["gone-node"])
  })

  it("counts a pod's effective request: sidecars, init peaks, limits as requests, overhead; skips claims a pod's extended resource covers", () => {
    const census = Dra.censusOf(split([
      gpuNode("n"),
      pod("ns", "init-peak", "n", 2, "Running", {
        initContainers: [
          { name: "setup", image: "x", resources: { requests: { [Dra.RESOURCE]: "4" } } },
          { name: "side", image: "x", restartPolicy: "Always", resources: { limits: { [Dra.RESOURCE]: "1" } } }
        ]
      }),
      pod("ns", "sidecar-sum", "n", 1, "Pending", {
        initContainers: [{ name: "side", image: "x", restartPolicy: "Always", resources: { requests: { [Dra.RESOURCE]: "1" } } }],
        overhead: { [Dra.RESOURCE]: "0" }
      }),
      { ...pod("ns", "extended", "n", 1), status: { phase: "Running", extendedResourceClaimStatus: { resourceClaimName: "extended-claim" } } },
      claim("ns", "extended-claim", [{ pool: "n", count: 1 }])
    ]))
    expect(summary(census)).toEqual([["n", 8, 0, 7, 1, false]])
  })

  it("ignores slices and claims and records the fallback when resource.k8s.io/v1 is not served", () => {
    const census = Dra.censusOf(split(mixedCluster, false))
    expect(summary(census)).toEqual([
      ["gpu-a", 8, 0, 0, 8, false],
      ["gpu-b", 8, 0, 3, 5, false],
      ["gpu-c", 8, 0, 0, 8, false],
      ["gpu-d", 8, 0, 0, 8, false],
      ["gpu-e", 6, 0, 0, 6, true],
      ["gpu-f", 8, 0, 2, 6, false]
    ])
    expect([census.draServed, census.fallback]).toEqual([
      false,
      "resource.k8s.io/v1 is not served: GPU capacity from allocatable nvidia.com/gpu only, DRA claims not counted"
    ])
  })
})

describe("exclusions", () => {
  const census = Dra.censusOf(split([
    gpuNode("n", {
      ready: "False",
      unschedulable: true,
      labels: { pool: "a" },
      taints: [GPU_TAINT, { key: "soft", effect: "PreferNoSchedule" }, { key: "evict", effect: "NoExecute" }]
    })
  ]))
  const n = census.nodes[0]!

  it("lists not Ready, cordoned, untolerated NoSchedule/NoExecute taints and a missed node selector", () => {
    expect(Dra.exclusions(n, { nodeSelector: { pool: "b", "kubernetes.io/hostname": "n" } })).toEqual([
      "not Ready",
      "cordoned (spec.unschedulable)",
      "taint nvidia.com/gpu=true:NoSchedule not tolerated",
      "taint evict:NoExecute not tolerated",
      "node selector pool=b not matched"
    ])
  })

  it("matches tolerations as the scheduler does (Exists, Equal, empty key, effect)", () => {
    const taintReasons = (tolerations: ReadonlyArray<Dra.Toleration>) =>
      Dra.exclusions(n, { tolerations }).filter((reason) => reason.startsWith("taint"))
    expect(taintReasons([{ operator: "Exists" }])).toEqual([])
    expect(taintReasons([{ key: "nvidia.com/gpu", operator: "Equal", value: "true" }, { key: "evict", operator: "Exists", effect: "NoExecute" }])).toEqual([])
    expect(taintReasons([{ key: "nvidia.com/gpu", value: "false" }, { key: "evict", operator: "Exists", effect: "NoSchedule" }])).toEqual([
      "taint nvidia.com/gpu=true:NoSchedule not tolerated",
      "taint evict:NoExecute not tolerated"
    ])
  })
})

describe("pickMostFree", () => {
  it("chooses gpu-b on the mixed cluster: cordoned, untolerated and degraded nodes are passed over", () => {
    const outcome = Dra.pickMostFree(Dra.censusOf(split(mixedCluster)), TOLERATE_GPU)
    expect(outcome._tag).toBe("Picked")
    if (outcome._tag !== "Picked") return
    expect([outcome.node.name, outcome.gpus, outcome.node.capacity, outcome.degraded]).toEqual(["gpu-b", 5, 8, ["gpu-e"]])
  })

  it("renders the mixed cluster's table", () => {
    expect(Dra.table(Dra.censusOf(split(mixedCluster)), TOLERATE_GPU)).toBe(MIXED_TABLE)
  })

  it("is NoCandidates with each node's reasons when no node tolerates the workload", () => {
    expect(Dra.pickMostFree(Dra.censusOf(split(mixedCluster)), { nodeSelector: { pool: "x" } })).toEqual({
      _tag: "NoCandidates",
      reasons: [
        "gpu-a: taint nvidia.com/gpu=true:NoSchedule not tolerated; node selector pool=x not matched",
        "gpu-b: taint nvidia.com/gpu=true:NoSchedule not tolerated; node selector pool=x not matched",
        "gpu-c: cordoned (spec.unschedulable); taint nvidia.com/gpu=true:NoSchedule not tolerated; node selector pool=x not matched",
        "gpu-d: taint nvidia.com/gpu=true:NoSchedule not tolerated; taint maintenance=true:NoExecute not tolerated; node selector pool=x not matched",
        "gpu-e: taint nvidia.com/gpu=true:NoSchedule not tolerated; node selector pool=x not matched",
        "gpu-f: taint nvidia.com/gpu=true:NoSchedule not tolerated; node selector pool=x not matched"
      ]
    })
    expect(Dra.pickMostFree(Dra.censusOf(split([node("cpu-1")])))).toEqual({
      _tag: "NoCandidates",
      reasons: ["no node advertises nvidia.com/gpu (allocatable or gpu.nvidia.com ResourceSlices)"]
    })
  })

  it("is AllBusy with every node's used/capacity when every candidate is saturated", () => {
    const busy = [
      gpuNode("gpu-a"),
      gpuNode("gpu-b"),
      gpuNode("gpu-c", { unschedulable: true }),
      gpuNode("gpu-d", { taints: [{ key: "maintenance", effect: "NoSchedule" }] }),
      gpuNode("gpu-long-name-1"),
      slice("gpu-a", 8),
      claim("team-1", "a", [{ pool: "gpu-a", count: 8 }]),
      pod("team-2", "b", "gpu-b", 8),
      pod("team-2", "long-1", "gpu-long-name-1", 4),
      claim("team-1", "stale", [{ pool: "gpu-long-name-1", count: 6 }])
    ]
    expect(Dra.pickMostFree(Dra.censusOf(split(busy)), TOLERATE_GPU)).toEqual({
      _tag: "AllBusy",
      table: [
        "NODE             GPUS USED/CAPACITY  NOTE",
        "gpu-a            8/8                 8 by DRA claims",
        "gpu-b            8/8                 8 by device-plugin pods",
        "gpu-c            0/8                 cordoned (spec.unschedulable)",
        "gpu-d            0/8                 taint maintenance:NoSchedule not tolerated",
        "gpu-long-name-1  10/8                6 by DRA claims; 4 by device-plugin pods"
      ].join("\n")
    })
  })

  it("is Degraded, naming the node, when only a degraded candidate has free GPUs", () => {
    const cluster = [
      gpuNode("gpu-a"),
      gpuNode("gpu-e", { allocatable: 7 }),
      gpuNode("gpu-z", { allocatable: 5 }),
      pod("ns", "a", "gpu-a", 8)
    ]
    expect(Dra.pickMostFree(Dra.censusOf(split(cluster)), TOLERATE_GPU)).toEqual({ _tag: "Degraded", node: "gpu-e", allocatable: 7, expected: 8 })
  })

  const upstreamCases: ReadonlyArray<[string, Record<string, number>, string, number]> = [
    ["none used", {}, "a", 8],
    ["a full", { a: 8 }, "b", 8],
    ["a 1, b 5", { a: 1, b: 5 }, "a", 7],
    ["both full", { a: 8, b: 8 }, "AllBusy", 0],
    ["a over-counted", { a: 99, b: 8 }, "AllBusy", 0]
  ]
  for (const [title, used, chosen, free] of upstreamCases) {
    it(`upstream fixture: ${title} → ${chosen}`, () => {
      const objects: Array<Obj> = [node("b", { allocatable: 8 }), node("a", { allocatable: 8 })]
      for (const [pool, count] of Object.entries(used)) objects.push(claim("ns", `c-${pool}`, [{ pool, count }]))
      const outcome = Dra.pickMostFree(Dra.censusOf(split(objects)))
      expect(outcome._tag === "Picked" ? [outcome.node.name, outcome.gpus] : [outcome._tag, 0]).toEqual([chosen, free])
    })
  }
})

describe("pickEqualNodes", () => {
  const cluster = Dra.censusOf(split([
    gpuNode("h-3"),
    gpuNode("h-1"),
    gpuNode("h-2"),
    gpuNode("h-4"),
    node("a-1", { allocatable: 4, count: 4, product: A100 }),
    node("a-2", { allocatable: 4, count: 4, product: A100 }),
    node("a-3", { allocatable: 4, count: 4, product: A100 }),
    pod("ns", "small", "h-4", 1)
  ]))

  it("picks N idle nodes of the largest shape, the first by name", () => {
    const picked = Dra.pickEqualNodes(cluster, 3, TOLERATE_GPU)
    expect(picked._tag === "Picked" ? [picked.nodes.map((entry) => entry.name), picked.product, picked.gpusPerNode, picked.degraded] : picked)
      .toEqual([["h-1", "h-2", "h-3"], H100, 8, []])
  })

  it("falls back to a smaller shape that has enough idle nodes, not to mixed shapes", () => {
    const withoutToleration = Dra.pickEqualNodes(cluster, 3)
    expect(withoutToleration._tag === "Picked" ? [withoutToleration.nodes.map((entry) => entry.name), withoutToleration.gpusPerNode] : withoutToleration)
      .toEqual([["a-1", "a-2", "a-3"], 4])
  })

  it("is AllBusy when enough nodes of a shape exist but some hold GPUs", () => {
    expect(Dra.pickEqualNodes(cluster, 4, TOLERATE_GPU)).toEqual({
      _tag: "AllBusy",
      table: [
        "NODE  GPUS USED/CAPACITY  NOTE",
        "a-1   0/4",
        "a-2   0/4",
        "a-3   0/4",
        "h-1   0/8",
        "h-2   0/8",
        "h-3   0/8",
        "h-4   1/8                 1 by device-plugin pods"
      ].join("\n")
    })
  })

  it("is NoCandidates when no shape has N nodes, saying what each shape has", () => {
    expect(Dra.pickEqualNodes(cluster, 5, TOLERATE_GPU)).toEqual({
      _tag: "NoCandidates",
      reasons: ["need 5 candidate nodes of one shape; found NVIDIA-H100-80GB-HBM3 × 8 GPUs: 4, NVIDIA-A100-SXM4-40GB × 4 GPUs: 3"]
    })
    expect(Dra.pickEqualNodes(cluster, 0)).toEqual({ _tag: "NoCandidates", reasons: ["the node count must be a whole number >= 1, got 0"] })
  })

  it("is Degraded when a degraded node of the shape leaves too few healthy ones", () => {
    const census = Dra.censusOf(split([gpuNode("h-1"), gpuNode("h-2", { allocatable: 7 }), gpuNode("h-3")]))
    expect(Dra.pickEqualNodes(census, 3, TOLERATE_GPU)).toEqual({ _tag: "Degraded", node: "h-2", allocatable: 7, expected: 8 })
    const two = Dra.pickEqualNodes(census, 2, TOLERATE_GPU)
    expect(two._tag === "Picked" ? [two.nodes.map((entry) => entry.name), two.degraded] : two).toEqual([["h-1", "h-3"], ["h-2"]])
  })
})

/** `layerTest` over `objects` whose `list` and `listStream` of `kind` answer with `change` of the inner client's. */
const wrapped = (
  objects: ReadonlyArray<Obj>,
  kind: string,
  change: (inner: KubeClient.KubeClient["Service"], query: KubeClient.ListQuery) => Stream.Stream<Obj, KubeClient.KubeError>
) =>
  Layer.effect(KubeClient.KubeClient)(Effect.gen(function*() {
    const inner = yield* KubeClient.KubeClient
    const listStream = (query: KubeClient.ListQuery, options?: KubeClient.ListOptions) =>
      query.kind === kind ? change(inner, query) : inner.listStream(query, options)
    return KubeClient.KubeClient.of({
      ...inner,
      listStream,
      list: (query) => Stream.runCollect(listStream(query))
    })
  })).pipe(Layer.provide(KubeClient.KubeClient.layerTest(objects)))

const kubeError = (reason: KubeClient.Reason, kind: string) =>
  new KubeClient.KubeError({ reason, message: `list ${kind}: ${reason}`, object: kind })

const failingDra = (objects: ReadonlyArray<Obj>, reason: KubeClient.Reason, kind = "ResourceSlice") =>
  wrapped(objects, kind, () => Stream.fail(kubeError(reason, kind)))

describe("census (KubeClient)", () => {
  it.effect("lists through the KubeClient and equals the pure census", () =>
    Effect.gen(function*() {
      const census = yield* Dra.census()
      expect(census).toEqual(Dra.censusOf(split(mixedCluster)))
      const picked = Dra.pickMostFree(census, TOLERATE_GPU)
      expect(picked._tag === "Picked" ? picked.node.name : picked._tag).toBe("gpu-b")
    }).pipe(Effect.provide(KubeClient.KubeClient.layerTest(mixedCluster))))

  it.effect("narrows the node list with the node selector", () =>
    Effect.gen(function*() {
      const census = yield* Dra.census({ nodeSelector: { "kubernetes.io/hostname": "gpu-f" } })
      expect(summary(census)).toEqual([["gpu-f", 8, 2, 2, 4, false]])
    }).pipe(Effect.provide(KubeClient.KubeClient.layerTest(mixedCluster))))

  for (const kind of ["ResourceSlice", "ResourceClaim"]) {
    it.effect(`falls back to allocatable-only and records it when the ${kind} list is NotFound`, () =>
      Effect.gen(function*() {
        const census = yield* Dra.census()
        expect(census).toEqual(Dra.censusOf(split(mixedCluster, false)))
        expect(census.fallback).toBe(Dra.FALLBACK)
        const picked = Dra.pickMostFree(census, TOLERATE_GPU)
        expect(picked._tag === "Picked" ? [picked.node.name, picked.gpus] : picked._tag).toEqual(["gpu-a", 8])
      }).pipe(Effect.provide(failingDra(mixedCluster, "NotFound", kind))))
  }

  for (const reason of ["Forbidden", "Timeout", "Unavailable"] as const) {
    it.effect(`fails with the KubeError on ${reason}, never falling back`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Dra.census())
        expect([error._tag, error.reason, error.message, error.object]).toEqual([
          "KubeError",
          reason,
          `list ResourceClaim: ${reason}`,
          "ResourceClaim"
        ])
      }).pipe(Effect.provide(failingDra(mixedCluster, reason, "ResourceClaim"))))
  }

  it.effect("fails with the KubeError when a later page of claims fails, after earlier pages were folded", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Dra.census())
      expect([error.reason, error.message]).toEqual(["Forbidden", "list ResourceClaim: Forbidden"])
    }).pipe(Effect.provide(wrapped(mixedCluster, "ResourceClaim", (inner, query) =>
      Stream.concat(inner.listStream(query).pipe(Stream.take(2)), Stream.fail(kubeError("Forbidden", "ResourceClaim")))))))

  it.effect("asks listStream for pages of 500 by default, of pageSize when given, and for no limit (0) when unpaginated", () =>
    Effect.gen(function*() {
      const limits: Array<string> = []
      const recording = Layer.effect(KubeClient.KubeClient)(Effect.gen(function*() {
        const inner = yield* KubeClient.KubeClient
        return KubeClient.KubeClient.of({
          ...inner,
          listStream: (query, options) => {
            limits.push(`${query.kind}:${options?.limit}`)
            return inner.listStream(query, options)
          }
        })
      })).pipe(Layer.provide(KubeClient.KubeClient.layerTest(mixedCluster)))
      for (const pageSize of [undefined, 7, "unpaginated"] as const) {
        expect(yield* Effect.provide(Dra.census({ pageSize }), recording)).toEqual(Dra.censusOf(split(mixedCluster)))
      }
      expect(limits).toEqual([
        ...["Node:500", "ResourceSlice:500", "Pod:500", "ResourceClaim:500"],
        ...["Node:7", "ResourceSlice:7", "Pod:7", "ResourceClaim:7"],
        ...["Node:0", "ResourceSlice:0", "Pod:0", "ResourceClaim:0"]
      ])
    }))

  it.effect("dies on a page size that is not a whole number >= 1", () =>
    Effect.gen(function*() {
      for (const pageSize of [0, -1, 2.5, Number.NaN]) {
        const exit = yield* Effect.exit(Dra.census({ pageSize }))
        expect(Exit.hasDies(exit)).toBe(true)
        if (Exit.isFailure(exit)) expect(String(Cause.squash(exit.cause))).toContain("pageSize must be a whole number >= 1")
      }
    }).pipe(Effect.provide(KubeClient.KubeClient.layerTest(mixedCluster))))
})

describe("resourceClaimTemplate", () => {
  it("builds a resource.k8s.io/v1 template asking for exactly N gpu.nvidia.com devices", () => {
    expect(Dra.resourceClaimTemplate({ name: "bench-gpus", namespace: "aicr-run", count: 4, labels: { "aicr.nvidia.com/run-id": "r1" } })).toEqual({
      apiVersion: "resource.k8s.io/v1",
      kind: "ResourceClaimTemplate",
      metadata: { name: "bench-gpus", namespace: "aicr-run", labels: { "aicr.nvidia.com/run-id": "r1" } },
      spec: {
        spec: {
          devices: {
            requests: [{ name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com", allocationMode: "ExactCount", count: 4 } }]
          }
        }
      }
    })
    expect(Dra.resourceClaimTemplate({ name: "t", namespace: "n", count: 1 }).metadata).toEqual({ name: "t", namespace: "n" })
  })
})

describe("against kube-sim (h100-eks)", () => {
  it("census and picker on the simulator's own objects; the simulator accepts the template", async () => {
    const sim = await startSim({
      profile: "h100-eks",
      profileOptions: {
        nodes: 4,
        gpuUse: [
          { node: "gpu-1", gpus: 6, by: "dra-claim" },
          { node: "gpu-1", gpus: 2, by: "device-plugin" },
          { node: "gpu-2", gpus: 3, by: "device-plugin" },
          { node: "gpu-4", gpus: 2, by: "dra-claim" }
        ],
        degraded: [{ node: "gpu-3", allocatableGpus: 7 }]
      }
    })
    try {
      const list = (key: string) => (sim.cluster.store.list(key) ?? []) as ReadonlyArray<Obj>
      const census = Dra.censusOf({
        nodes: list("/nodes"),
        slices: list("resource.k8s.io/resourceslices"),
        claims: list("resource.k8s.io/resourceclaims"),
        pods: list("/pods"),
        draServed: true
      })
      expect(Dra.table(census, TOLERATE_GPU)).toBe([
        "NODE   GPUS USED/CAPACITY  NOTE",
        "gpu-1  8/8                 6 by DRA claims; 2 by device-plugin pods",
        "gpu-2  3/8                 3 by device-plugin pods",
        "gpu-3  0/7                 degraded: 7 of 8 GPUs advertised",
        "gpu-4  2/8                 2 by DRA claims"
      ].join("\n"))
      const picked = Dra.pickMostFree(census, TOLERATE_GPU)
      expect(picked._tag === "Picked" ? [picked.node.name, picked.gpus, picked.degraded] : picked).toEqual(["gpu-4", 6, ["gpu-3"]])
      expect(Dra.pickMostFree(census)._tag).toBe("NoCandidates")

      const template = Dra.resourceClaimTemplate({ name: "bench-gpus", namespace: "default", count: 8, labels: { app: "bench" } })
      const response = await fetch(`${sim.url}/apis/resource.k8s.io/v1/namespaces/default/resourceclaimtemplates?fieldValidation=Strict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(template)
      })
      expect(response.status).toBe(201)
      const stored = (await response.json()) as { spec: unknown }
      expect(stored.spec).toEqual(template["spec"])
    } finally {
      await sim.stop()
    }
  })
})

describe("census streamed from kube-sim (KubeClientLive)", () => {
  let h100: Sim
  let mixed: Sim
  beforeAll(async () => {
    h100 = await startSim({
      profile: "h100-eks",
      profileOptions: {
        nodes: 5,
        gpuUse: [
          { node: "gpu-1", gpus: 2, by: "dra-claim" },
          { node: "gpu-1", gpus: 2, by: "dra-claim" },
          { node: "gpu-1", gpus: 1, by: "device-plugin" },
          { node: "gpu-2", gpus: 1, by: "dra-claim" },
          { node: "gpu-2", gpus: 1, by: "dra-claim" },
          { node: "gpu-2", gpus: 1, by: "dra-claim" },
          { node: "gpu-4", gpus: 8, by: "dra-claim" },
          { node: "gpu-5", gpus: 3, by: "device-plugin" }
        ],
        degraded: [{ node: "gpu-3", allocatableGpus: 6 }]
      }
    })
    mixed = await startSim()
    mixed.seed(["team-1", "team-2", "team-3"].map((name): Obj => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })))
    mixed.seed(mixedCluster)
  })
  afterAll(async () => {
    await h100.stop()
    await mixed.stop()
  })

  /** The pure census over what the simulator stores, as `list` would return it. */
  const stored = (sim: Sim): Dra.Census => {
    const list = (key: string) => (sim.cluster.store.list(key) ?? []) as ReadonlyArray<Obj>
    return Dra.censusOf({
      nodes: list("/nodes"),
      slices: list("resource.k8s.io/resourceslices"),
      claims: list("resource.k8s.io/resourceclaims"),
      pods: list("/pods"),
      draServed: true
    })
  }

  /** The census over HTTP, and how many LIST requests each kind took. */
  const streamed = (sim: Sim, options: Dra.CensusOptions) =>
    Effect.gen(function*() {
      const resources = ["nodes", "resourceslices", "pods", "resourceclaims"]
      const lists = () => resources.map((resource) => sim.audit.filter({ verb: "list", resource }).length)
      const before = lists()
      const census = yield* Dra.census(options)
      const after = lists()
      return { census, requests: Object.fromEntries(resources.map((resource, index) => [resource, after[index]! - before[index]!])) }
    }).pipe(Effect.provide(KubeClientLive.layerFromKubeconfig({ kubeconfig: sim.kubeconfigPath })))

  it.effect("h100-eks: claims over several pages of 2 give the census of the stored objects", () =>
    Effect.gen(function*() {
      const { census, requests } = yield* streamed(h100, { pageSize: 2 })
      expect(census).toEqual(stored(h100))
      expect(h100.cluster.store.count("resource.k8s.io/resourceclaims")).toBe(6)
      expect(requests).toEqual({ nodes: 4, resourceslices: 3, pods: 4, resourceclaims: 3 })
      expect(Dra.table(census, TOLERATE_GPU)).toBe([
        "NODE   GPUS USED/CAPACITY  NOTE",
        "gpu-1  5/8                 4 by DRA claims; 1 by device-plugin pods",
        "gpu-2  3/8                 3 by DRA claims",
        "gpu-3  0/6                 degraded: 6 of 8 GPUs advertised",
        "gpu-4  8/8                 8 by DRA claims",
        "gpu-5  3/8                 3 by device-plugin pods"
      ].join("\n"))
    }))

  it.effect("h100-eks: the default pages and one unpaginated LIST per kind give the same census", () =>
    Effect.gen(function*() {
      const paged = yield* streamed(h100, {})
      const whole = yield* streamed(h100, { pageSize: "unpaginated" })
      expect(paged.census).toEqual(stored(h100))
      expect(whole.census).toEqual(paged.census)
      expect(paged.requests).toEqual({ nodes: 1, resourceslices: 1, pods: 1, resourceclaims: 1 })
      expect(whole.requests).toEqual({ nodes: 1, resourceslices: 1, pods: 1, resourceclaims: 1 })
    }))

  it.effect("the mixed cluster: pages of 2 and of 1 give the census of the stored objects and the pure census", () =>
    Effect.gen(function*() {
      const pure = Dra.censusOf(split(mixedCluster))
      for (const pageSize of [1, 2]) {
        const { census, requests } = yield* streamed(mixed, { pageSize })
        expect(census).toEqual(stored(mixed))
        expect(summary(census)).toEqual(summary(pure))
        expect([census.draServed, census.fallback, census.unmappedPools]).toEqual([pure.draServed, pure.fallback, pure.unmappedPools])
        expect(Dra.table(census, TOLERATE_GPU)).toBe(MIXED_TABLE)
        expect(requests["resourceclaims"]).toBe(Math.ceil(5 / pageSize))
      }
    }))
})
