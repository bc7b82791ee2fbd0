/**
 * The default scheduler: binds pods that name no node to one that passes the filters of kube-scheduler's default
 * profile, in its order — NodeUnschedulable, TaintToleration, NodeAffinity (with `nodeSelector`), NodeResourcesFit,
 * DynamicResources — and explains a pod that fits nowhere with the scheduler's own message, condition and Event.
 *
 * Simplified: pods are tried in priority order, then in the order the scheduler first saw them, whenever a node,
 * pod, claim, slice or device class changes (no backoff); there is no preemption (a node where lower-priority
 * pods would make room reports `No preemption victims found for incoming pod`); host ports, pod (anti-)affinity,
 * topology spread and volume plugins are not modelled. Scoring puts a pod that needs GPUs on the node with the most
 * free GPUs, other pods by preferred node affinity, PreferNoSchedule taints and least-allocated cpu and memory;
 * equal nodes are drawn with `world.random("scheduler")`. Unlike a real cluster, the claims of a pod created with
 * `spec.nodeName` are allocated on that node when they can be (a real kubelet would refuse to start it:
 * `pod <name>(<uid>) is not allowed to use resource claim <claim>(<uid>)`); when they cannot, the pod is left alone.
 */
import type { Cluster } from "./cluster.ts"
import * as Dra from "./dra.ts"
import { StatusError } from "./errors.ts"
import type { KubeObject, ResourceType } from "./types.ts"
import { DebouncedPass } from "./simulation.ts"
import type { Controller, World } from "./world.ts"

type Json = Record<string, unknown>
const record = (value: unknown): Json | undefined =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined
const list = (value: unknown): Array<Json> => (Array.isArray(value) ? value.filter((item): item is Json => record(item) !== undefined) : [])
const text = (value: unknown): string => (typeof value === "string" ? value : "")

const SCHEDULER_NAME = "default-scheduler"
const GPU = "nvidia.com/gpu"
const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z")

// ---------------------------------------------------------------------------------------------------------------
// Quantities and requests

/** A resource quantity (`500m`, `1Gi`, `2`, `1e3`) as a number; NaN when it does not parse. */
export const parseQuantity = (value: unknown): number => {
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$/.exec(String(value).trim())
  if (match === null) return Number.NaN
  const scale: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 }
  const suffix = match[2] ?? ""
  return Number(match[1]) * (suffix === "" ? 1 : /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : scale[suffix]!)
}

/** Resource amounts in the scheduler's units: `cpu` in millicores, everything else in whole units (rounded up). */
export type ResourceList = Record<string, number>

const amount = (name: string, value: unknown): number => {
  const parsed = parseQuantity(value)
  if (!Number.isFinite(parsed)) return 0
  const scaled = name === "cpu" ? parsed * 1000 : parsed
  const nearest = Math.round(scaled)
  return Math.abs(scaled - nearest) < 1e-6 ? nearest : Math.ceil(scaled)
}

const resourceList = (value: unknown): ResourceList => {
  const out: ResourceList = {}
  for (const [name, quantity] of Object.entries(record(value) ?? {})) out[name] = amount(name, quantity)
  return out
}

const add = (into: ResourceList, more: ResourceList): void => {
  for (const [name, value] of Object.entries(more)) into[name] = (into[name] ?? 0) + value
}

const maxInto = (into: ResourceList, other: ResourceList): void => {
  for (const [name, value] of Object.entries(other)) into[name] = Math.max(into[name] ?? 0, value)
}

/** A container's requests; limits stand in for requests it leaves out, as the API server defaults them. */
const containerRequests = (container: Json): ResourceList => {
  const resources = record(container["resources"]) ?? {}
  return resourceList({ ...record(resources["limits"]), ...record(resources["requests"]) })
}

/**
 * What a pod asks of a node: the sum of its containers and sidecars (restartable init containers), at least the
 * largest init container plus the sidecars started before it, plus the pod overhead (resourcehelper.PodRequests).
 */
export const podRequests = (pod: KubeObject): ResourceList => {
  const spec = record(pod["spec"]) ?? {}
  const requests: ResourceList = {}
  for (const container of list(spec["containers"])) add(requests, containerRequests(container))
  const sidecars: ResourceList = {}
  const init: ResourceList = {}
  for (const container of list(spec["initContainers"])) {
    const own = containerRequests(container)
    if (container["restartPolicy"] === "Always") {
      add(requests, own)
      add(sidecars, own)
      maxInto(init, sidecars)
    } else {
      const total = { ...own }
      add(total, sidecars)
      maxInto(init, total)
    }
  }
  maxInto(requests, init)
  add(requests, resourceList(spec["overhead"]))
  return requests
}

/** What the pods bound to a node request, and how many they are. */
export interface NodeUsage {
  readonly requested: ResourceList
  readonly pods: number
}

const isTerminal = (pod: KubeObject): boolean => {
  const phase = record(pod["status"])?.["phase"]
  return phase === "Succeeded" || phase === "Failed"
}

/** Requests of the pods bound to each node that have not terminated (the scheduler cache), by node name. */
export const nodeUsage = (cluster: Cluster): Map<string, NodeUsage> => {
  const usage = new Map<string, { requested: ResourceList; pods: number }>()
  for (const pod of cluster.store.list(Dra.PODS_KEY) ?? []) {
    const nodeName = text(record(pod["spec"])?.["nodeName"])
    if (nodeName === "" || isTerminal(pod)) continue
    const entry = usage.get(nodeName) ?? { requested: {}, pods: 0 }
    add(entry.requested, podRequests(pod))
    entry.pods += 1
    usage.set(nodeName, entry)
  }
  return usage
}

const allocatable = (node: KubeObject): ResourceList => {
  const status = record(node["status"]) ?? {}
  return resourceList(status["allocatable"] ?? status["capacity"])
}

// ---------------------------------------------------------------------------------------------------------------
// Filters

export interface Toleration {
  key?: string
  operator?: string
  value?: string
  effect?: string
}

/** Whether a toleration tolerates a taint (v1.Toleration.ToleratesTaint). */
export const tolerates = (toleration: Toleration, taint: { key: string; value?: string; effect: string }): boolean => {
  if ((toleration.effect ?? "") !== "" && toleration.effect !== taint.effect) return false
  if ((toleration.key ?? "") !== "" && toleration.key !== taint.key) return false
  switch (toleration.operator ?? "Equal") {
    case "Exists":
      return true
    case "Equal":
    case "":
      return (toleration.value ?? "") === (taint.value ?? "")
    default:
      return false
  }
}

const tolerationsOf = (pod: KubeObject): Array<Toleration> => list(record(pod["spec"])?.["tolerations"]) as Array<Toleration>
const taintsOf = (node: KubeObject): Array<{ key: string; value?: string; effect: string }> =>
  list(record(node["spec"])?.["taints"]).map((taint) => ({ key: text(taint["key"]), value: text(taint["value"]), effect: text(taint["effect"]) }))

/** `nodeSelector` and required node affinity (`requiredDuringSchedulingIgnoredDuringExecution`) both hold. */
export const matchesNodeAffinity = (pod: KubeObject, node: KubeObject): boolean => {
  const spec = record(pod["spec"]) ?? {}
  const labels = node.metadata.labels ?? {}
  for (const [key, value] of Object.entries(record(spec["nodeSelector"]) ?? {})) if (labels[key] !== value) return false
  const required = record(record(record(spec["affinity"])?.["nodeAffinity"])?.["requiredDuringSchedulingIgnoredDuringExecution"])
  return required === undefined || Dra.matchesNodeSelector(required, node)
}

/** The node names required affinity pins a pod to through `matchFields` on `metadata.name` (NodeAffinity PreFilter). */
const affinityNodeNames = (pod: KubeObject): Set<string> | undefined => {
  const required = record(record(record(record(pod["spec"])?.["affinity"])?.["nodeAffinity"])?.["requiredDuringSchedulingIgnoredDuringExecution"])
  if (required === undefined) return undefined
  let names: Set<string> | undefined
  for (const term of list(required["nodeSelectorTerms"])) {
    let termNames: Set<string> | undefined
    for (const field of list(term["matchFields"])) {
      if (field["key"] !== "metadata.name" || field["operator"] !== "In") continue
      const values = new Set(Array.isArray(field["values"]) ? (field["values"] as Array<unknown>).map(String) : [])
      termNames = termNames === undefined ? values : new Set([...termNames].filter((name) => values.has(name)))
    }
    if (termNames === undefined) return undefined
    names = new Set([...(names ?? []), ...termNames])
  }
  return names
}

/** Why a node rejects a pod; `resolvable` when preemption could in principle make room (status Unschedulable). */
export interface NodeRejection {
  readonly reasons: ReadonlyArray<string>
  readonly resolvable: boolean
}

// Reasons from pkg/scheduler/framework/plugins: nodeunschedulable (ErrReasonUnschedulable), tainttoleration
// (Filter), nodeaffinity (ErrReasonPod), noderesources/fit.go (fitsRequest).
const UNSCHEDULABLE = "node(s) were unschedulable"
const UNTOLERATED = "node(s) had untolerated taint(s)"
const AFFINITY = "node(s) didn't match Pod's node affinity/selector"

/** The reasons of NodeResourcesFit: `Too many pods` and `Insufficient <resource>` for each resource that does not fit. */
export const insufficientResources = (pod: KubeObject, node: KubeObject, usage: NodeUsage | undefined): Array<string> => {
  const reasons: Array<string> = []
  const capacity = allocatable(node)
  const used = usage?.requested ?? {}
  if ((usage?.pods ?? 0) + 1 > (capacity["pods"] ?? 0)) reasons.push("Too many pods")
  const wanted = podRequests(pod)
  const free = (name: string) => (capacity[name] ?? 0) - (used[name] ?? 0)
  for (const name of ["cpu", "memory", "ephemeral-storage"]) {
    if ((wanted[name] ?? 0) > 0 && wanted[name]! > free(name)) reasons.push(`Insufficient ${name}`)
  }
  for (const name of Object.keys(wanted).sort()) {
    if (["cpu", "memory", "ephemeral-storage", "pods"].includes(name) || wanted[name] === 0) continue
    if (wanted[name]! > free(name)) reasons.push(`Insufficient ${name}`)
  }
  return reasons
}

/** The first filter that rejects `pod` on `node` (DynamicResources aside); undefined when the node fits. */
export const filterNode = (pod: KubeObject, node: KubeObject, usage: NodeUsage | undefined): NodeRejection | undefined => {
  const tolerations = tolerationsOf(pod)
  const unschedulableTaint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }
  if (record(node["spec"])?.["unschedulable"] === true && !tolerations.some((toleration) => tolerates(toleration, unschedulableTaint))) {
    return { reasons: [UNSCHEDULABLE], resolvable: false }
  }
  const blocking = taintsOf(node).filter((taint) => taint.effect === "NoSchedule" || taint.effect === "NoExecute")
  if (blocking.some((taint) => !tolerations.some((toleration) => tolerates(toleration, taint)))) return { reasons: [UNTOLERATED], resolvable: false }
  if (!matchesNodeAffinity(pod, node)) return { reasons: [AFFINITY], resolvable: false }
  const insufficient = insufficientResources(pod, node, usage)
  if (insufficient.length > 0) return { reasons: insufficient, resolvable: true }
  return undefined
}

/** Whether `pod` passes every filter on `node` but DynamicResources. */
export const fits = (pod: KubeObject, node: KubeObject, usage: NodeUsage | undefined): boolean => filterNode(pod, node, usage) === undefined

// ---------------------------------------------------------------------------------------------------------------
// The failure message (pkg/scheduler/framework/types.go FitError.Error, runtime RunPostFilterPlugins,
// plugins/dynamicresources PostFilter, plugins/defaultpreemption and framework/preemption)

const NOT_HELPFUL = "Preemption is not helpful for scheduling"
const NO_VICTIMS = "No preemption victims found for incoming pod"

const histogram = (reasons: ReadonlyArray<string>): string => {
  const counts = new Map<string, number>()
  for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1)
  return [...counts].map(([reason, count]) => `${count} ${reason}`).sort().join(", ")
}

/** `0/N nodes are available: <pre-filter or filter reasons>. <post-filter messages>` */
export const fitErrorMessage = (nodeCount: number, filterReasons: ReadonlyArray<string>, preFilter: string | undefined, postFilter: ReadonlyArray<string>): string => {
  let message = `0/${nodeCount} nodes are available:`
  if (preFilter !== undefined) message += ` ${preFilter}.`
  else if (filterReasons.length > 0) message += ` ${histogram(filterReasons)}.`
  if (postFilter.length > 0) message += ` ${postFilter.join(", ")}`
  return message
}

// ---------------------------------------------------------------------------------------------------------------
// The scheduler

const RELEVANT = new Set([Dra.PODS_KEY, Dra.NODES_KEY, Dra.CLAIMS_KEY, Dra.SLICES_KEY, Dra.CLASSES_KEY])

interface Attempt {
  readonly node: KubeObject
  readonly allocations: ReadonlyArray<{ readonly claim: KubeObject; readonly allocation: Dra.Allocation | undefined }>
}

interface Failure {
  readonly message: string
}

const priorityOf = (pod: KubeObject): number => {
  const priority = record(pod["spec"])?.["priority"]
  return typeof priority === "number" ? priority : 0
}

const requestsGpus = (pod: KubeObject): boolean =>
  (podRequests(pod)[GPU] ?? 0) > 0 || list(record(pod["spec"])?.["resourceClaims"]).length > 0

/** kube-scheduler's default profile (see the module comment for what it leaves out). */
export class Scheduler implements Controller {
  readonly name = SCHEDULER_NAME
  private unsubscribe: (() => void) | undefined
  private passes: DebouncedPass | undefined
  private readonly arrival = new Map<string, number>()
  private seen = 0

  start(world: World): void {
    this.passes = new DebouncedPass(this.name, world, () => this.pass(world))
    for (const pod of world.cluster.store.list(Dra.PODS_KEY) ?? []) this.arrive(pod)
    this.unsubscribe = world.cluster.store.subscribe((change) => {
      if (!RELEVANT.has(change.key)) return
      if (change.key === Dra.PODS_KEY) {
        if (change.type === "DELETED") this.arrival.delete(change.object.metadata.uid ?? "")
        else this.arrive(change.object)
      }
      this.kick()
    })
    this.kick()
  }

  stop(): void {
    this.unsubscribe?.()
    this.passes?.stop()
  }

  private arrive(pod: KubeObject): void {
    const uid = pod.metadata.uid ?? ""
    if (!this.arrival.has(uid)) this.arrival.set(uid, this.seen++)
  }

  private kick(): void {
    this.passes?.request()
  }

  /** One scheduling pass: claims of pods created on a node, then every pod waiting for one, in queue order. */
  pass(world: World): void {
    const pods = world.cluster.store.list(Dra.PODS_KEY) ?? []
    for (const pod of pods) {
      if (text(record(pod["spec"])?.["nodeName"]) === "" || isTerminal(pod) || pod.metadata.deletionTimestamp !== undefined) continue
      this.guard(() => this.reservePinned(world, pod))
    }
    const waiting = pods.filter((pod) => this.isOurs(pod)).sort((a, b) =>
      priorityOf(b) - priorityOf(a) || (this.arrival.get(a.metadata.uid ?? "") ?? 0) - (this.arrival.get(b.metadata.uid ?? "") ?? 0)
    )
    for (const pod of waiting) {
      this.guard(() => {
        const current = world.cluster.store.get(Dra.PODS_KEY, pod.metadata.namespace ?? "", pod.metadata.name!)
        if (current !== undefined && this.isOurs(current)) this.scheduleOne(world, current)
      })
    }
  }

  private guard(action: () => void): void {
    try {
      action()
    } catch (error) {
      if (!(error instanceof StatusError)) throw error
    }
  }

  private isOurs(pod: KubeObject): boolean {
    const spec = record(pod["spec"]) ?? {}
    const schedulerName = text(spec["schedulerName"])
    return text(spec["nodeName"]) === "" && (schedulerName === "" || schedulerName === SCHEDULER_NAME) && !isTerminal(pod) &&
      pod.metadata.deletionTimestamp === undefined && list(spec["schedulingGates"]).length === 0
  }

  /** Allocates and reserves the claims of a pod that was created bound to a node, when its node can hold them. */
  private reservePinned(world: World, pod: KubeObject): void {
    if (list(record(pod["spec"])?.["resourceClaims"]).length === 0) return
    const claims = Dra.podClaims(world.cluster, pod)
    if (claims._tag === "Waiting") return
    const pending = claims.claims.filter(({ claim }) => !Dra.isReservedFor(claim, pod))
    if (pending.length === 0) return
    const node = world.cluster.store.get(Dra.NODES_KEY, "", text(record(pod["spec"])?.["nodeName"]))
    if (node === undefined) return
    const inventory = new Dra.DeviceInventory(world.cluster)
    const unallocated = pending.map(({ claim }) => claim).filter((claim) => Dra.allocationOf(claim) === undefined)
    const allocated = pending.map(({ claim }) => claim).filter((claim) => Dra.allocationOf(claim) !== undefined)
    if (unallocated.some((claim) => Dra.claimProblem(claim, inventory.classes) !== undefined)) return
    if (allocated.some((claim) => !Dra.canBeReserved(claim) || !this.availableOn(claim, node))) return
    const allocations = unallocated.length === 0 ? [] : inventory.allocate(node, unallocated)
    if (allocations === undefined) return
    unallocated.forEach((claim, index) => Dra.reserveClaim(world.cluster, claim, pod, allocations[index]))
    for (const claim of allocated) Dra.reserveClaim(world.cluster, claim, pod, undefined)
  }

  private availableOn(claim: KubeObject, node: KubeObject): boolean {
    const selector = Dra.allocationOf(claim)?.["nodeSelector"]
    return selector === undefined || Dra.matchesNodeSelector(selector, node)
  }

  private scheduleOne(world: World, pod: KubeObject): void {
    const cluster = world.cluster
    const hasClaims = list(record(pod["spec"])?.["resourceClaims"]).length > 0
    let claims: ReadonlyArray<Dra.PodClaim> = []
    if (hasClaims) {
      const resolved = Dra.podClaims(cluster, pod)
      if (resolved._tag === "Waiting") return
      claims = resolved.claims
    }
    const nodes = cluster.store.list(Dra.NODES_KEY) ?? []
    const outcome = nodes.length === 0 ? { message: "no nodes available to schedule pods" } : this.place(world, pod, nodes, claims)
    if ("message" in outcome) this.fail(world, pod, outcome.message)
    else this.bind(world, pod, outcome)
  }

  private place(world: World, pod: KubeObject, nodes: ReadonlyArray<KubeObject>, claims: ReadonlyArray<Dra.PodClaim>): Attempt | Failure {
    const cluster = world.cluster
    const inventory = new Dra.DeviceInventory(cluster)
    const preemption = (statuses: ReadonlyArray<{ node: KubeObject; rejection: NodeRejection }>, usage: Map<string, NodeUsage>) =>
      this.preemptionMessage(cluster, pod, nodes.length, statuses, usage)
    const usage = nodeUsage(cluster)
    const allUnresolvable = nodes.map((node) => ({ node, rejection: { reasons: [], resolvable: false } }))

    const pinned = affinityNodeNames(pod)
    if (pinned !== undefined && pinned.size === 0) {
      return { message: fitErrorMessage(nodes.length, [], "pod affinity terms conflict", ["no new claims to deallocate", preemption(allUnresolvable, usage)]) }
    }
    for (const { claim } of claims) {
      const allocated = Dra.allocationOf(claim) !== undefined
      const problem = allocated
        ? (!Dra.canBeReserved(claim) && !Dra.isReservedFor(claim, pod) ? "resourceclaim in use" : undefined)
        : Dra.claimProblem(claim, inventory.classes)
      if (problem !== undefined) return { message: fitErrorMessage(nodes.length, [], problem, ["no new claims to deallocate", preemption(allUnresolvable, usage)]) }
    }

    const toAllocate = claims.map(({ claim }) => claim).filter((claim) => Dra.allocationOf(claim) === undefined)
    const statuses: Array<{ node: KubeObject; rejection: NodeRejection }> = []
    const feasible: Array<Attempt> = []
    const unavailable = new Set<string>()
    for (const node of nodes) {
      if (pinned !== undefined && !pinned.has(node.metadata.name ?? "")) {
        statuses.push({ node, rejection: { reasons: ["node(s) didn't satisfy plugin(s) [NodeAffinity]"], resolvable: false } })
        continue
      }
      const rejection = filterNode(pod, node, usage.get(node.metadata.name ?? ""))
      if (rejection !== undefined) {
        statuses.push({ node, rejection })
        continue
      }
      if (claims.length === 0) {
        feasible.push({ node, allocations: [] })
        continue
      }
      const missing = claims.filter(({ claim }) => Dra.allocationOf(claim) !== undefined && !this.availableOn(claim, node))
      const allocations = toAllocate.length === 0 ? [] : inventory.allocate(node, toAllocate)
      if (allocations === undefined) {
        statuses.push({ node, rejection: { reasons: ["cannot allocate all claims"], resolvable: false } })
        continue
      }
      if (missing.length > 0) {
        for (const { claim } of missing) unavailable.add(claim.metadata.name ?? "")
        statuses.push({ node, rejection: { reasons: ["resourceclaim not available on the node"], resolvable: false } })
        continue
      }
      feasible.push({
        node,
        allocations: claims.map(({ claim }) => {
          const index = toAllocate.indexOf(claim)
          return { claim, allocation: index < 0 ? undefined : allocations[index] }
        })
      })
    }
    if (feasible.length > 0) return this.choose(world, pod, feasible, inventory, usage)

    const reasons = statuses.flatMap(({ rejection }) => rejection.reasons)
    let deallocation = claims.length === 0 ? "no new claims to deallocate" : "still not schedulable"
    for (const { claim } of claims) {
      if (!unavailable.has(claim.metadata.name ?? "")) continue
      const holders = Dra.reservedFor(claim)
      if (holders.length === 0 || (holders.length === 1 && holders[0]!["uid"] === pod.metadata.uid)) {
        Dra.deallocateClaim(cluster, claim)
        deallocation = "deallocation of ResourceClaim completed"
        break
      }
    }
    return { message: fitErrorMessage(nodes.length, reasons, undefined, [deallocation, preemption(statuses, usage)]) }
  }

  /** DefaultPreemption's PostFilter message, without preempting anything. */
  private preemptionMessage(
    cluster: Cluster,
    pod: KubeObject,
    nodeCount: number,
    statuses: ReadonlyArray<{ node: KubeObject; rejection: NodeRejection }>,
    usage: Map<string, NodeUsage>
  ): string {
    if (record(pod["spec"])?.["preemptionPolicy"] === "Never") return "preemption: not eligible due to preemptionPolicy=Never."
    const priority = priorityOf(pod)
    const pods = cluster.store.list(Dra.PODS_KEY) ?? []
    const reasons = statuses.flatMap(({ node, rejection }) => {
      if (!rejection.resolvable) return [NOT_HELPFUL]
      const nodeName = node.metadata.name ?? ""
      const victims = pods.filter((other) => text(record(other["spec"])?.["nodeName"]) === nodeName && !isTerminal(other) && priorityOf(other) < priority)
      if (victims.length === 0) return [NO_VICTIMS]
      const base = usage.get(nodeName) ?? { requested: {}, pods: 0 }
      const requested = { ...base.requested }
      for (const victim of victims) for (const [name, value] of Object.entries(podRequests(victim))) requested[name] = (requested[name] ?? 0) - value
      const remaining = insufficientResources(pod, node, { requested, pods: base.pods - victims.length })
      return remaining.length > 0 ? remaining : [NO_VICTIMS]
    })
    return `preemption: ${fitErrorMessage(nodeCount, reasons, undefined, [])}`
  }

  private choose(world: World, pod: KubeObject, feasible: ReadonlyArray<Attempt>, inventory: Dra.DeviceInventory, usage: Map<string, NodeUsage>): Attempt {
    const scores = this.score(pod, feasible, inventory, usage)
    const best = Math.max(...scores)
    const top = feasible.filter((_, index) => scores[index] === best).sort((a, b) => (a.node.metadata.name ?? "").localeCompare(b.node.metadata.name ?? ""))
    return top.length === 1 ? top[0]! : top[world.random("scheduler").int(top.length)]!
  }

  private score(pod: KubeObject, feasible: ReadonlyArray<Attempt>, inventory: Dra.DeviceInventory, usage: Map<string, NodeUsage>): Array<number> {
    const wanted = podRequests(pod)
    if (requestsGpus(pod)) {
      return feasible.map(({ node, allocations }) => {
        const capacity = allocatable(node)
        const plugin = Math.max(0, (capacity[GPU] ?? 0) - (usage.get(node.metadata.name ?? "")?.requested[GPU] ?? 0) - (wanted[GPU] ?? 0))
        const taken = allocations.reduce((sum, { allocation }) => sum + (allocation?.devices.results.length ?? 0), 0)
        return plugin + Math.max(0, inventory.freeDevices(node) - taken)
      })
    }
    const normalize = (raw: ReadonlyArray<number>, reverse: boolean) => {
      const max = Math.max(0, ...raw)
      return raw.map((value) => {
        const scaled = max === 0 ? (reverse ? 100 : 0) : Math.floor((value * 100) / max)
        return reverse && max > 0 ? 100 - scaled : scaled
      })
    }
    const preferred = list(record(record(record(pod["spec"])?.["affinity"])?.["nodeAffinity"])?.["preferredDuringSchedulingIgnoredDuringExecution"])
    const affinity = normalize(feasible.map(({ node }) =>
      preferred.reduce((sum, term) => sum + (Dra.matchesNodeSelectorTerm(record(term["preference"]) ?? {}, node) ? Number(term["weight"] ?? 0) : 0), 0)
    ), false)
    const tolerations = tolerationsOf(pod).filter((toleration) => (toleration.effect ?? "") === "" || toleration.effect === "PreferNoSchedule")
    const taints = normalize(feasible.map(({ node }) =>
      taintsOf(node).filter((taint) => taint.effect === "PreferNoSchedule" && !tolerations.some((toleration) => tolerates(toleration, taint))).length
    ), true)
    const cpu = Math.max(wanted["cpu"] ?? 0, 100)
    const memory = Math.max(wanted["memory"] ?? 0, 200 * 2 ** 20)
    return feasible.map(({ node }, index) => {
      const capacity = allocatable(node)
      const used = usage.get(node.metadata.name ?? "")?.requested ?? {}
      const least = (name: string, extra: number) => {
        const total = capacity[name] ?? 0
        const requested = (used[name] ?? 0) + extra
        return total <= 0 || requested > total ? 0 : Math.floor(((total - requested) * 100) / total)
      }
      return 2 * affinity[index]! + 3 * taints[index]! + Math.floor((least("cpu", cpu) + least("memory", memory)) / 2)
    })
  }

  private bind(world: World, pod: KubeObject, attempt: Attempt): void {
    const cluster = world.cluster
    for (const { claim, allocation } of attempt.allocations) Dra.reserveClaim(cluster, claim, pod, allocation)
    const podType = this.podType(cluster)
    const namespace = pod.metadata.namespace ?? ""
    const name = pod.metadata.name!
    const nodeName = attempt.node.metadata.name!
    const current = cluster.get(podType, namespace, name)
    const bound = cluster.update(podType, namespace, name, { ...current, spec: { ...record(current["spec"]), nodeName } })
    const status = record(bound["status"]) ?? {}
    const conditions = list(status["conditions"]).filter((condition) => condition["type"] !== "PodScheduled")
    const scheduled = { type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: now() }
    cluster.update(podType, namespace, name, { ...bound, status: { ...status, conditions: [...conditions, scheduled] } }, { subresource: "status" })
    world.event(bound, "Normal", "Scheduled", `Successfully assigned ${namespace}/${name} to ${nodeName}`, SCHEDULER_NAME)
  }

  private fail(world: World, pod: KubeObject, message: string): void {
    const cluster = world.cluster
    const podType = this.podType(cluster)
    const status = record(pod["status"]) ?? {}
    const conditions = list(status["conditions"])
    const previous = conditions.find((condition) => condition["type"] === "PodScheduled")
    if (previous?.["status"] === "False" && previous["reason"] === "Unschedulable" && previous["message"] === message) return
    const condition = {
      type: "PodScheduled",
      status: "False",
      lastProbeTime: null,
      lastTransitionTime: previous?.["status"] === "False" && typeof previous["lastTransitionTime"] === "string" ? previous["lastTransitionTime"] : now(),
      reason: "Unschedulable",
      message
    }
    const next = [...conditions.filter((entry) => entry["type"] !== "PodScheduled"), condition]
    const updated = cluster.update(podType, pod.metadata.namespace ?? "", pod.metadata.name!, { ...pod, status: { ...status, conditions: next } }, { subresource: "status" })
    world.event(updated, "Warning", "FailedScheduling", message, SCHEDULER_NAME)
  }

  private podType(cluster: Cluster): ResourceType {
    return cluster.registry.find("", "v1", "pods")!
  }
}
