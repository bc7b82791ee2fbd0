/**
 * GPU scheduling for validators: a per-node census of GPUs (capacity, use, free) from Nodes, the NVIDIA DRA
 * driver's ResourceSlices and ResourceClaims and device-plugin pods; pickers that choose where a GPU workload
 * runs, with their outcomes as values; and the `resource.k8s.io/v1` ResourceClaimTemplate a workload uses.
 *
 * Details: a node's capacity is the larger of its allocatable `nvidia.com/gpu` (device plugin) and the devices of
 * its `gpu.nvidia.com` ResourceSlices — on a node where both run they advertise the same physical GPUs, so they
 * are not added. Use is the sum of allocated claim results of that driver (pools mapped to nodes through the
 * slices) and the `nvidia.com/gpu` requests of bound, non-terminal pods. `free = max(0, capacity − use)`.
 * `census` folds the lists page by page (500 objects per LIST) into per-node and per-pool tallies, so a cluster of
 * thousands of nodes and tens of thousands of claims is never in memory whole; `censusOf` folds arrays the same way.
 *
 * Gotchas: only a NotFound answer on the `resource.k8s.io/v1` lists means "DRA not served" (allocatable-only,
 * recorded in `Census.fallback`); Forbidden, timeouts and other errors fail the census. Upstream falls back on
 * any error and assumes pool name = node name; neither is copied.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import { acquire } from "./Acquire.ts"
import { type KubeError, type KubeObject, KubeClient, type ListQuery } from "./KubeClient.ts"
import { countOf, labelsOf, podRequest, recordAt, recordsAt, stringAt } from "./internal/dra-read.ts"

// ---------------------------------------------------------------------------------------------------------------
// Constants

/** The API group of Dynamic Resource Allocation. */
export const GROUP = "resource.k8s.io"

/** The served DRA version this module reads and writes. */
export const VERSION = "v1"

/** `apiVersion` of the DRA kinds: `resource.k8s.io/v1`. */
export const API_VERSION = `${GROUP}/${VERSION}`

/** A group/version/resource with its kind and scope. */
export interface Gvr {
  readonly group: string
  readonly version: string
  readonly resource: string
  readonly kind: string
  readonly apiVersion: string
  readonly namespaced: boolean
}

const gvr = (resource: string, kind: string, namespaced: boolean): Gvr => ({
  group: GROUP,
  version: VERSION,
  resource,
  kind,
  apiVersion: API_VERSION,
  namespaced
})

/** `resource.k8s.io/v1` DeviceClass (cluster-scoped). */
export const DeviceClass = gvr("deviceclasses", "DeviceClass", false)
/** `resource.k8s.io/v1` ResourceSlice (cluster-scoped). */
export const ResourceSlice = gvr("resourceslices", "ResourceSlice", false)
/** `resource.k8s.io/v1` ResourceClaim (namespaced). */
export const ResourceClaim = gvr("resourceclaims", "ResourceClaim", true)
/** `resource.k8s.io/v1` ResourceClaimTemplate (namespaced). */
export const ResourceClaimTemplate = gvr("resourceclaimtemplates", "ResourceClaimTemplate", true)

/** The NVIDIA DRA driver for GPUs; also the name of its DeviceClass. */
export const DRIVER = "gpu.nvidia.com"

/** The DeviceClass GPU claims request. */
export const DEVICE_CLASS = DRIVER

/** The device plugin's extended resource. */
export const RESOURCE = "nvidia.com/gpu"

/** GPU Feature Discovery label: the GPU product of a node. */
export const PRODUCT_LABEL = "nvidia.com/gpu.product"

/** GPU Feature Discovery label: how many GPUs the node's shape has. */
export const COUNT_LABEL = "nvidia.com/gpu.count"

// ---------------------------------------------------------------------------------------------------------------
// Census

/** A node taint. */
export interface Taint {
  readonly key: string
  readonly value?: string | undefined
  readonly effect: string
}

/** A pod toleration, as in a pod spec. */
export interface Toleration {
  readonly key?: string | undefined
  readonly operator?: "Exists" | "Equal" | undefined
  readonly value?: string | undefined
  readonly effect?: string | undefined
  readonly tolerationSeconds?: number | undefined
}

/** The GPUs of one node. */
export interface NodeGpus {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  /** `nvidia.com/gpu.product`, when the node carries it. */
  readonly product: string | undefined
  /** Allocatable `nvidia.com/gpu` (0 when absent). */
  readonly allocatable: number
  /** Devices in the node's `gpu.nvidia.com` ResourceSlices; undefined when it has none (or DRA is not served). */
  readonly sliceDevices: number | undefined
  /** max(allocatable, sliceDevices). */
  readonly capacity: number
  /** The shape's GPU count: the `nvidia.com/gpu.count` label, else `status.capacity` `nvidia.com/gpu`, else `capacity`. */
  readonly expected: number
  /** The smallest count an advertising source reports (allocatable when present, slice devices when present). */
  readonly advertised: number
  /** `advertised < expected`: GPUs of the shape are missing. */
  readonly degraded: boolean
  readonly usedByClaims: number
  readonly usedByPods: number
  readonly used: number
  /** max(0, capacity − used). */
  readonly free: number
  readonly unschedulable: boolean
  /** False only when the node reports a `Ready` condition that is not `True`. */
  readonly ready: boolean
  readonly taints: ReadonlyArray<Taint>
}

/** GPU capacity and use of every GPU node, sorted by name. */
export interface Census {
  readonly nodes: ReadonlyArray<NodeGpus>
  readonly draServed: boolean
  /** Set when `resource.k8s.io/v1` is not served: what the census did instead. */
  readonly fallback: string | undefined
  /** Pools of allocated `gpu.nvidia.com` claim results that map to no node (their GPUs are not counted). */
  readonly unmappedPools: ReadonlyArray<string>
}

/** What the census is computed from. */
export interface CensusInput {
  readonly nodes: ReadonlyArray<KubeObject>
  readonly slices: ReadonlyArray<KubeObject>
  readonly claims: ReadonlyArray<KubeObject>
  readonly pods: ReadonlyArray<KubeObject>
  readonly draServed: boolean
}

/** The fallback recorded on a census when `resource.k8s.io/v1` is not served. */
export const FALLBACK =
  "resource.k8s.io/v1 is not served: GPU capacity from allocatable nvidia.com/gpu only, DRA claims not counted"

const TERMINAL_PHASES: ReadonlySet<string> = new Set(["Succeeded", "Failed"])

const add = (map: Map<string, number>, key: string, count: number) => map.set(key, (map.get(key) ?? 0) + count)

const taintsOf = (node: KubeObject): ReadonlyArray<Taint> =>
  recordsAt(recordAt(node, "spec"), "taints").flatMap((taint) => {
    const key = stringAt(taint, "key")
    const effect = stringAt(taint, "effect")
    return key === undefined || effect === undefined ? [] : [{ key, value: stringAt(taint, "value"), effect }]
  })

/** What the census keeps of a Node: no raw object survives the fold. */
interface NodeFacts {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly pluginCount: number | undefined
  readonly shapeCount: number | undefined
  readonly unschedulable: boolean
  readonly ready: boolean
  readonly taints: ReadonlyArray<Taint>
}

/**
 * The census folded object by object into compact tallies: facts per node, slice devices per node, pool → node,
 * device-plugin use per node and claim results per pool (mapped to nodes only at the end, once every slice and node
 * is known). Pods must be folded before claims: a claim a pod's extended resource covers is skipped.
 */
interface Tally {
  readonly node: (node: KubeObject) => void
  readonly slice: (slice: KubeObject) => void
  readonly pod: (pod: KubeObject) => void
  readonly claim: (claim: KubeObject) => void
  /** `resource.k8s.io/v1` is not served: forget what slices and claims were folded. */
  readonly notServed: () => void
  readonly result: () => Census
}

const makeTally = (): Tally => {
  const nodeFacts: Array<NodeFacts> = []
  const nodeNames = new Set<string>()
  const sliceDevices = new Map<string, number>()
  const poolNode = new Map<string, string>()
  const byPods = new Map<string, number>()
  const coveredClaims = new Set<string>()
  const byPool = new Map<string, number>()
  let draServed = true

  const node = (object: KubeObject) => {
    const status = recordAt(object, "status")
    const readyCondition = recordsAt(status, "conditions").find((condition) => stringAt(condition, "type") === "Ready")
    nodeNames.add(object.metadata.name)
    nodeFacts.push({
      name: object.metadata.name,
      labels: labelsOf(object),
      pluginCount: countOf(recordAt(status, "allocatable")[RESOURCE]),
      shapeCount: countOf(recordAt(status, "capacity")[RESOURCE]),
      unschedulable: recordAt(object, "spec")["unschedulable"] === true,
      ready: readyCondition === undefined || stringAt(readyCondition, "status") === "True",
      taints: taintsOf(object)
    })
  }

  const slice = (object: KubeObject) => {
    const spec = recordAt(object, "spec")
    const nodeName = stringAt(spec, "nodeName")
    if (stringAt(spec, "driver") !== DRIVER || nodeName === undefined) return
    add(sliceDevices, nodeName, recordsAt(spec, "devices").length)
    const pool = stringAt(recordAt(spec, "pool"), "name")
    if (pool !== undefined) poolNode.set(pool, nodeName)
  }

  const pod = (object: KubeObject) => {
    const nodeName = stringAt(recordAt(object, "spec"), "nodeName")
    const phase = stringAt(recordAt(object, "status"), "phase") ?? ""
    if (nodeName === undefined || nodeName === "" || TERMINAL_PHASES.has(phase)) return
    const gpus = podRequest(object, RESOURCE)
    if (gpus === 0) return
    add(byPods, nodeName, gpus)
    const extended = stringAt(recordAt(object, "status", "extendedResourceClaimStatus"), "resourceClaimName")
    if (extended !== undefined) coveredClaims.add(`${object.metadata.namespace ?? ""}/${extended}`)
  }

  const claim = (object: KubeObject) => {
    if (coveredClaims.size > 0 && coveredClaims.has(`${object.metadata.namespace ?? ""}/${object.metadata.name}`)) return
    for (const result of recordsAt(recordAt(object, "status", "allocation", "devices"), "results")) {
      if (stringAt(result, "driver") !== DRIVER || result["adminAccess"] === true) continue
      add(byPool, stringAt(result, "pool") ?? "", 1)
    }
  }

  const notServed = () => {
    draServed = false
    sliceDevices.clear()
    poolNode.clear()
    byPool.clear()
  }

  const result = (): Census => {
    const byClaims = new Map<string, number>()
    const unmapped: Array<string> = []
    for (const [pool, count] of byPool) {
      const nodeName = poolNode.get(pool) ?? (nodeNames.has(pool) ? pool : undefined)
      if (nodeName === undefined) unmapped.push(pool)
      else add(byClaims, nodeName, count)
    }
    const nodes = nodeFacts.flatMap((facts): Array<NodeGpus> => {
      const allocatable = facts.pluginCount ?? 0
      const devices = sliceDevices.get(facts.name)
      const capacity = Math.max(allocatable, devices ?? 0)
      const expected = countOf(facts.labels[COUNT_LABEL]) ?? facts.shapeCount ?? capacity
      if (capacity === 0 && expected === 0) return []
      const sources = [facts.pluginCount, devices].filter((count): count is number => count !== undefined)
      const advertised = sources.length === 0 ? 0 : Math.min(...sources)
      const usedByClaims = byClaims.get(facts.name) ?? 0
      const usedByPods = byPods.get(facts.name) ?? 0
      const used = usedByClaims + usedByPods
      return [{
        name: facts.name,
        labels: facts.labels,
        product: facts.labels[PRODUCT_LABEL],
        allocatable,
        sliceDevices: devices,
        capacity,
        expected,
        advertised,
        degraded: advertised < expected,
        usedByClaims,
        usedByPods,
        used,
        free: Math.max(0, capacity - used),
        unschedulable: facts.unschedulable,
        ready: facts.ready,
        taints: facts.taints
      }]
    })
    nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    return { nodes, draServed, fallback: draServed ? undefined : FALLBACK, unmappedPools: unmapped.sort() }
  }

  return { node, slice, pod, claim, notServed, result }
}

/**
 * Computes the GPU census from listed objects (pure). Nodes with no GPU (no allocatable, slice devices or count
 * label) are left out. When `draServed` is false, slices and claims are ignored and `fallback` is set.
 */
export const censusOf = (input: CensusInput): Census => {
  const tally = makeTally()
  for (const node of input.nodes) tally.node(node)
  if (input.draServed) for (const slice of input.slices) tally.slice(slice)
  for (const pod of input.pods) tally.pod(pod)
  if (input.draServed) for (const claim of input.claims) tally.claim(claim)
  else tally.notServed()
  return tally.result()
}

// ---------------------------------------------------------------------------------------------------------------
// Eligibility

/** Where a workload may run: every label of `nodeSelector` must match; taints it does not tolerate exclude a node. */
export interface PickOptions {
  readonly nodeSelector?: Readonly<Record<string, string>> | undefined
  readonly tolerations?: ReadonlyArray<Toleration> | undefined
}

const tolerates = (toleration: Toleration, taint: Taint): boolean => {
  if (toleration.effect !== undefined && toleration.effect !== "" && toleration.effect !== taint.effect) return false
  if (toleration.operator === "Exists") return toleration.key === undefined || toleration.key === "" || toleration.key === taint.key
  return toleration.key === taint.key && (toleration.value ?? "") === (taint.value ?? "")
}

/** Renders a taint as kubectl does: `key=value:Effect` (`key:Effect` without a value). */
export const formatTaint = (taint: Taint): string =>
  `${taint.key}${taint.value === undefined || taint.value === "" ? "" : `=${taint.value}`}:${taint.effect}`

const formatSelector = (selector: Readonly<Record<string, string>>): string =>
  Object.entries(selector).map(([key, value]) => `${key}=${value}`).join(",")

/**
 * Why a workload with `options` cannot run on `node` (empty when it can): not Ready, cordoned, a NoSchedule or
 * NoExecute taint it does not tolerate, a node selector its labels do not match.
 */
export const exclusions = (node: NodeGpus, options: PickOptions = {}): ReadonlyArray<string> => {
  const reasons: Array<string> = []
  if (!node.ready) reasons.push("not Ready")
  if (node.unschedulable) reasons.push("cordoned (spec.unschedulable)")
  for (const taint of node.taints) {
    if (taint.effect !== "NoSchedule" && taint.effect !== "NoExecute") continue
    if (!(options.tolerations ?? []).some((toleration) => tolerates(toleration, taint))) {
      reasons.push(`taint ${formatTaint(taint)} not tolerated`)
    }
  }
  const selector = options.nodeSelector ?? {}
  const missed = Object.entries(selector).filter(([key, value]) => node.labels[key] !== value)
  if (missed.length > 0) reasons.push(`node selector ${formatSelector(Object.fromEntries(missed))} not matched`)
  return reasons
}

// ---------------------------------------------------------------------------------------------------------------
// Outcomes and table

/** Every GPU node is excluded, or too few fit: why, one line per node or rule. */
export interface NoCandidates {
  readonly _tag: "NoCandidates"
  readonly reasons: ReadonlyArray<string>
}

/** Candidates exist but their GPUs are in use (a validator reports *inconclusive*): every node's use and capacity. */
export interface AllBusy {
  readonly _tag: "AllBusy"
  readonly table: string
}

/** A candidate node advertises fewer GPUs than its shape has (a validator reports *failed*, naming it). */
export interface Degraded {
  readonly _tag: "Degraded"
  readonly node: string
  readonly allocatable: number
  readonly expected: number
}

/** One node with the most free GPUs. */
export interface PickedNode {
  readonly _tag: "Picked"
  readonly node: NodeGpus
  /** Free GPUs on the node: what the workload may use. */
  readonly gpus: number
  /** Degraded candidate nodes passed over (names), for a warning. */
  readonly degraded: ReadonlyArray<string>
}

/** N nodes of one shape with all their GPUs free. */
export interface PickedNodes {
  readonly _tag: "Picked"
  readonly nodes: ReadonlyArray<NodeGpus>
  readonly product: string | undefined
  readonly gpusPerNode: number
  readonly degraded: ReadonlyArray<string>
}

export type MostFreeOutcome = PickedNode | AllBusy | Degraded | NoCandidates
export type EqualNodesOutcome = PickedNodes | AllBusy | Degraded | NoCandidates

const noteOf = (node: NodeGpus, options: PickOptions): string => {
  const parts: Array<string> = []
  if (node.usedByClaims > 0) parts.push(`${node.usedByClaims} by DRA claims`)
  if (node.usedByPods > 0) parts.push(`${node.usedByPods} by device-plugin pods`)
  if (node.degraded) parts.push(`degraded: ${node.advertised} of ${node.expected} GPUs advertised`)
  parts.push(...exclusions(node, options))
  return parts.join("; ")
}

/**
 * Every GPU node of the census as an aligned table: `NODE`, `GPUS USED/CAPACITY` and a `NOTE` (who holds the
 * GPUs, degradation, why the workload cannot run there).
 */
export const table = (census: Census, options: PickOptions = {}): string => {
  const rows = [
    ["NODE", "GPUS USED/CAPACITY", "NOTE"],
    ...census.nodes.map((node) => [node.name, `${node.used}/${node.capacity}`, noteOf(node, options)])
  ]
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows
    .map((row) => `${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padEnd(widths[1]!)}  ${row[2]!}`.trimEnd())
    .join("\n")
}

const noGpuNodes: NoCandidates = {
  _tag: "NoCandidates",
  reasons: ["no node advertises nvidia.com/gpu (allocatable or gpu.nvidia.com ResourceSlices)"]
}

const excludedReasons = (census: Census, options: PickOptions): ReadonlyArray<string> =>
  census.nodes.flatMap((node) => {
    const reasons = exclusions(node, options)
    return reasons.length === 0 ? [] : [`${node.name}: ${reasons.join("; ")}`]
  })

const degradedOutcome = (node: NodeGpus): Degraded => ({
  _tag: "Degraded",
  node: node.name,
  allocatable: node.advertised,
  expected: node.expected
})

// ---------------------------------------------------------------------------------------------------------------
// Pickers

/**
 * The candidate node with the most free GPUs; ties go to the smaller name.
 *
 * Details: candidates pass `exclusions`. Degraded candidates are passed over (listed in `degraded`); when no
 * healthy candidate has a free GPU, a degraded candidate gives `Degraded` (the first by name), else `AllBusy`
 * with the table of every GPU node. No candidate at all gives `NoCandidates` with each node's reasons.
 */
export const pickMostFree = (census: Census, options: PickOptions = {}): MostFreeOutcome => {
  if (census.nodes.length === 0) return noGpuNodes
  const candidates = census.nodes.filter((node) => exclusions(node, options).length === 0)
  if (candidates.length === 0) return { _tag: "NoCandidates", reasons: excludedReasons(census, options) }
  const degraded = candidates.filter((node) => node.degraded)
  let best: NodeGpus | undefined
  for (const node of candidates) if (!node.degraded && (best === undefined || node.free > best.free)) best = node
  if (best !== undefined && best.free > 0) {
    return { _tag: "Picked", node: best, gpus: best.free, degraded: degraded.map((node) => node.name) }
  }
  if (degraded[0] !== undefined) return degradedOutcome(degraded[0])
  return { _tag: "AllBusy", table: table(census, options) }
}

const shapeKey = (node: NodeGpus) => `${node.product ?? ""}\u0000${node.capacity}`

const describeShape = (product: string | undefined, gpus: number) =>
  `${product ?? "(no nvidia.com/gpu.product label)"} × ${gpus} GPUs`

/**
 * `n` candidate nodes of equal shape (same `nvidia.com/gpu.product` and GPU count) with every GPU free, the first
 * by name; among shapes that fit, the one with more GPUs per node, then the smaller product name.
 *
 * Details: degraded candidates never count. When no shape has `n` idle healthy nodes: a degraded candidate gives
 * `Degraded` (the first by name); a shape with at least `n` healthy candidates gives `AllBusy`; otherwise
 * `NoCandidates` says what each shape has.
 */
export const pickEqualNodes = (census: Census, n: number, options: PickOptions = {}): EqualNodesOutcome => {
  if (!Number.isInteger(n) || n < 1) return { _tag: "NoCandidates", reasons: [`the node count must be a whole number >= 1, got ${n}`] }
  if (census.nodes.length === 0) return noGpuNodes
  const candidates = census.nodes.filter((node) => exclusions(node, options).length === 0)
  if (candidates.length === 0) return { _tag: "NoCandidates", reasons: excludedReasons(census, options) }
  const degraded = candidates.filter((node) => node.degraded)
  const shapes = new Map<string, Array<NodeGpus>>()
  for (const node of candidates) {
    if (node.degraded || node.capacity === 0) continue
    const group = shapes.get(shapeKey(node)) ?? []
    group.push(node)
    shapes.set(shapeKey(node), group)
  }
  const groups = [...shapes.values()].sort((a, b) =>
    b[0]!.capacity - a[0]!.capacity || (a[0]!.product ?? "").localeCompare(b[0]!.product ?? "")
  )
  for (const group of groups) {
    const idle = group.filter((node) => node.used === 0 && node.free === node.capacity)
    if (idle.length >= n) {
      return {
        _tag: "Picked",
        nodes: idle.slice(0, n),
        product: group[0]!.product,
        gpusPerNode: group[0]!.capacity,
        degraded: degraded.map((node) => node.name)
      }
    }
  }
  if (degraded[0] !== undefined) return degradedOutcome(degraded[0])
  if (groups.some((group) => group.length >= n)) return { _tag: "AllBusy", table: table(census, options) }
  return {
    _tag: "NoCandidates",
    reasons: [
      `need ${n} candidate nodes of one shape; found ${
        groups.map((group) => `${describeShape(group[0]!.product, group[0]!.capacity)}: ${group.length}`).join(", ")
      }`,
      ...excludedReasons(census, options)
    ]
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Listing

/** The page size `census` lists with unless told otherwise. */
export const DEFAULT_PAGE_SIZE = 500

/** What `census` lists: `nodeSelector` narrows the Node list on the server (pods and claims are cluster-wide). */
export interface CensusOptions {
  readonly nodeSelector?: Readonly<Record<string, string>> | undefined
  /**
   * Objects per LIST page (a whole number >= 1, default 500); `"unpaginated"` sends one LIST per kind with no limit
   * (`limit=0`), which holds each whole list in memory at once: for comparison, not for use on large clusters. Any
   * other value is a defect (the census dies).
   */
  readonly pageSize?: number | "unpaginated" | undefined
}

const limitOf = (pageSize: CensusOptions["pageSize"]): Effect.Effect<number> => {
  if (pageSize === undefined) return Effect.succeed(DEFAULT_PAGE_SIZE)
  if (pageSize === "unpaginated") return Effect.succeed(0)
  return Number.isInteger(pageSize) && pageSize >= 1
    ? Effect.succeed(pageSize)
    : Effect.die(new RangeError(`Dra.census: pageSize must be a whole number >= 1 or "unpaginated", got ${pageSize}`))
}

const fold = Effect.fnUntraced(function*(query: ListQuery, limit: number, into: (object: KubeObject) => void) {
  const kube = yield* KubeClient
  yield* Stream.runForEachArray(kube.listStream(query, { limit }), (page) =>
    Effect.sync(() => {
      for (const object of page) into(object)
    }))
})

const notServed = (error: KubeError) => error.reason === "NotFound"

/** True when the DRA list was folded, false (logged) when `resource.k8s.io/v1` or the kind is not served. */
const foldDra = (kind: string, limit: number, into: (object: KubeObject) => void) =>
  fold({ apiVersion: API_VERSION, kind }, limit, into).pipe(
    Effect.as(true),
    Effect.catchIf(notServed, (error) => Effect.as(Effect.logWarning(`${FALLBACK} (${error.message})`), false))
  )

/**
 * Lists Nodes, `gpu.nvidia.com` ResourceSlices, Pods (all namespaces) and ResourceClaims (all namespaces), page by
 * page, and computes the census. A NotFound on a `resource.k8s.io/v1` list means DRA is not served (recorded,
 * allocatable only); any other error fails with its `KubeError`.
 *
 * Details: each page is folded into per-node and per-pool tallies as it arrives, so neither the claims nor the raw
 * Nodes are held in memory; the result equals `censusOf` over the same objects. Pods are listed before claims
 * (claims an extended-resource pod covers are skipped as they stream by).
 */
export const census = Effect.fn("Dra.census")(function*(options: CensusOptions = {}) {
  const limit = yield* limitOf(options.pageSize)
  const tally = makeTally()
  yield* fold({ apiVersion: "v1", kind: "Node", labels: options.nodeSelector }, limit, tally.node)
  const slicesServed = yield* foldDra(ResourceSlice.kind, limit, tally.slice)
  yield* fold({ apiVersion: "v1", kind: "Pod" }, limit, tally.pod)
  const served = slicesServed && (yield* foldDra(ResourceClaim.kind, limit, tally.claim))
  if (!served) tally.notServed()
  return tally.result()
})

// ---------------------------------------------------------------------------------------------------------------
// ResourceClaimTemplate

/** The request name inside the claims `resourceClaimTemplate` builds. */
export const REQUEST_NAME = "gpu"

/** What `resourceClaimTemplate` builds. */
export interface ClaimTemplateOptions {
  readonly name: string
  readonly namespace: string
  /** GPUs per claim. */
  readonly count: number
  readonly labels?: Readonly<Record<string, string>> | undefined
}

/**
 * A `resource.k8s.io/v1` ResourceClaimTemplate whose claims ask for exactly `count` devices of the
 * `gpu.nvidia.com` DeviceClass, in one request named `gpu` (reference it from a container's `resources.claims`).
 */
export const resourceClaimTemplate = (options: ClaimTemplateOptions): KubeObject => ({
  apiVersion: API_VERSION,
  kind: ResourceClaimTemplate.kind,
  metadata: {
    name: options.name,
    namespace: options.namespace,
    ...(options.labels === undefined ? {} : { labels: { ...options.labels } })
  },
  spec: {
    spec: {
      devices: {
        requests: [{
          name: REQUEST_NAME,
          exactly: { deviceClassName: DEVICE_CLASS, allocationMode: "ExactCount", count: options.count }
        }]
      }
    }
  }
})

// ---------------------------------------------------------------------------------------------------------------
// Reservations

/** The label every GPU-node reservation carries (with the run's labels); its value is the reservation's hash. */
export const RESERVATION_LABEL = "aicr.nvidia.com/gpu-reservation"

/** The annotation naming the reserved node (node names may be longer than a label value). */
export const RESERVED_NODE_ANNOTATION = "aicr.nvidia.com/node"

/** The name of the Namespace that reserves `node`: `aicr-gpu-<12 hex of SHA-256 of the node name>`. */
export const reservationName = (node: string): string => `aicr-gpu-${createHash("sha256").update(node, "utf8").digest("hex").slice(0, 12)}`

/**
 * Reserves GPU node `node` for this check until the scope closes: creates the cluster-scoped Namespace
 * `reservationName(node)` through `acquire`, so two runs — in different processes or on different machines — never
 * benchmark the same node at once (the create is atomic). Returns false when another run holds it (the Namespace
 * exists, or is still terminating); fails on other errors.
 *
 * Details: a reservation left by a killed run carries its run labels and is in its ledger, so `aicr cleanup` removes
 * it. It holds no workload: the check's own objects live in its run namespace. Its release deletes it and, after the
 * check's verdict (`RunContext.afterVerdict`), waits until it is gone, so no object of the run outlives the run.
 */
export const reserveNode = (node: string) =>
  Effect.gen(function*() {
    const name = reservationName(node)
    const acquired = yield* Effect.result(acquire({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name, labels: { [RESERVATION_LABEL]: name.slice("aicr-gpu-".length) }, annotations: { [RESERVED_NODE_ANNOTATION]: node } }
    }, { waitUntilGone: "after-verdict" }))
    if (acquired._tag === "Success") return true
    const error = acquired.failure
    if (error._tag === "KubeError" && (error as KubeError).reason === "AlreadyExists") return false
    return yield* Effect.fail(error)
  })
