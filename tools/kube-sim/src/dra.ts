/**
 * Dynamic resource allocation as the scheduler's DynamicResources plugin and the kube-controller-manager's
 * resource claim controller do it (resource.k8s.io/v1): which claims a pod uses, the devices ResourceSlices publish
 * for a node, the structured allocator (device classes, CEL selectors, ExactCount/All, firstAvailable, matchAttribute
 * constraints), and the controller that creates claims from templates, prunes `reservedFor`, deallocates and
 * deletes the claims it generated.
 *
 * Selectors are evaluated with the CRD-rule CEL subset of cel.ts, `device` bound to the device (version attributes
 * are plain strings, capacities their quantity strings); an expression outside that subset (`quantity()`, `semver()`,
 * `compareTo()`) is treated as matching every device, and one that fails at run time (a missing attribute) as
 * matching none, where a real scheduler reports a scheduling error. Pools use their newest generation without checking that
 * all of its slices are published; device taints, consumable capacity, partitionable devices and binding conditions
 * are not modelled.
 */
import { CelError, CelMap, compile } from "./cel.ts"
import type { Cluster } from "./cluster.ts"
import { StatusError } from "./errors.ts"
import type { KubeObject, OwnerReference, ResourceType } from "./types.ts"
import { DebouncedPass } from "./simulation.ts"
import type { Controller, World } from "./world.ts"

export const PODS_KEY = "/pods"
export const NODES_KEY = "/nodes"
export const CLAIMS_KEY = "resource.k8s.io/resourceclaims"
export const TEMPLATES_KEY = "resource.k8s.io/resourceclaimtemplates"
export const SLICES_KEY = "resource.k8s.io/resourceslices"
export const CLASSES_KEY = "resource.k8s.io/deviceclasses"

/** The finalizer the scheduler puts on a claim it allocates (resourceapi.Finalizer). */
export const DELETE_PROTECTION = "resource.kubernetes.io/delete-protection"
/** The annotation naming the pod's claim entry on a claim generated from a template. */
export const POD_CLAIM_NAME = "resource.kubernetes.io/pod-claim-name"
/** ResourceClaimReservedForMaxSize of resource.k8s.io/v1. */
export const RESERVED_FOR_MAX = 256

type Json = Record<string, unknown>
const record = (value: unknown): Json | undefined =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined
const list = (value: unknown): Array<Json> => (Array.isArray(value) ? value.filter((item): item is Json => record(item) !== undefined) : [])
const text = (value: unknown): string => (typeof value === "string" ? value : "")
const isEqual = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

// ---------------------------------------------------------------------------------------------------------------
// Node selectors (v1.NodeSelector): node affinity, slice and allocation node selectors

/** One `matchExpressions` / `matchFields` requirement against a set of values (labels or fields). */
const requirementHolds = (requirement: Json, values: Readonly<Record<string, string>>): boolean => {
  const key = text(requirement["key"])
  const wanted = Array.isArray(requirement["values"]) ? (requirement["values"] as Array<unknown>).map(String) : []
  const has = Object.hasOwn(values, key)
  const value = values[key]
  switch (requirement["operator"]) {
    case "In":
      return has && wanted.includes(value!)
    case "NotIn":
      return !has || !wanted.includes(value!)
    case "Exists":
      return has
    case "DoesNotExist":
      return !has
    case "Gt":
    case "Lt": {
      if (!has || wanted.length !== 1 || !/^-?\d+$/.test(value!) || !/^-?\d+$/.test(wanted[0]!)) return false
      const left = BigInt(value!)
      const right = BigInt(wanted[0]!)
      return requirement["operator"] === "Gt" ? left > right : left < right
    }
    default:
      return false
  }
}

/** A node selector term: its expressions (on labels) and fields (`metadata.name` only) all hold; an empty term matches nothing. */
export const matchesNodeSelectorTerm = (term: Json, node: KubeObject): boolean => {
  const expressions = list(term["matchExpressions"])
  const fields = list(term["matchFields"])
  if (expressions.length === 0 && fields.length === 0) return false
  const labels = node.metadata.labels ?? {}
  const nodeFields = { "metadata.name": node.metadata.name ?? "" }
  return expressions.every((requirement) => requirementHolds(requirement, labels)) &&
    fields.every((requirement) => text(requirement["key"]) === "metadata.name" && requirementHolds(requirement, nodeFields))
}

/** A v1.NodeSelector: any of its terms matches. */
export const matchesNodeSelector = (selector: unknown, node: KubeObject): boolean =>
  list(record(selector)?.["nodeSelectorTerms"]).some((term) => matchesNodeSelectorTerm(term, node))

// ---------------------------------------------------------------------------------------------------------------
// The claims of a pod

export interface PodClaim {
  /** The entry's name in `spec.resourceClaims`. */
  readonly name: string
  readonly claim: KubeObject
}

/**
 * The claims a pod uses, or why it cannot be tried yet (the plugin's PreEnqueue: a template claim not created,
 * a claim missing, being deleted or not owned by the pod). Entries whose generated claim is not needed are skipped.
 * Texts after k8s.io/dynamic-resource-allocation/resourceclaim (Name, IsForPod) and foreachPodResourceClaim.
 */
export type PodClaims =
  | { readonly _tag: "Ready"; readonly claims: ReadonlyArray<PodClaim> }
  | { readonly _tag: "Waiting"; readonly reason: string }

const podKey = (pod: KubeObject) => `${pod.metadata.namespace ?? ""}/${pod.metadata.name ?? ""}`

/** True when `claim` names `pod` as its controlling owner. */
export const ownedByPod = (claim: KubeObject, pod: KubeObject): boolean =>
  (claim.metadata.ownerReferences ?? []).some((owner) => owner.controller === true && owner.uid === pod.metadata.uid)

export const podClaims = (cluster: Cluster, pod: KubeObject): PodClaims => {
  const spec = record(pod["spec"]) ?? {}
  const statuses = list(record(pod["status"])?.["resourceClaimStatuses"])
  const namespace = pod.metadata.namespace ?? ""
  const claims: Array<PodClaim> = []
  for (const entry of list(spec["resourceClaims"])) {
    const entryName = text(entry["name"])
    let claimName: string
    let mustCheckOwner = false
    if (typeof entry["resourceClaimName"] === "string") claimName = entry["resourceClaimName"]
    else if (typeof entry["resourceClaimTemplateName"] === "string") {
      const status = statuses.find((candidate) => candidate["name"] === entryName)
      if (status === undefined) return { _tag: "Waiting", reason: `pod "${podKey(pod)}": ResourceClaim not created yet` }
      if (typeof status["resourceClaimName"] !== "string") continue
      claimName = status["resourceClaimName"]
      mustCheckOwner = true
    } else {
      return { _tag: "Waiting", reason: `pod "${podKey(pod)}", spec.resourceClaim ${JSON.stringify(entryName)}: none of the supported fields are set` }
    }
    const claim = cluster.store.get(CLAIMS_KEY, namespace, claimName)
    if (claim === undefined) return { _tag: "Waiting", reason: `resourceclaim.resource.k8s.io "${claimName}" not found` }
    if (claim.metadata.deletionTimestamp !== undefined) return { _tag: "Waiting", reason: `resourceclaim "${claimName}" is being deleted` }
    if (mustCheckOwner && !ownedByPod(claim, pod)) {
      return { _tag: "Waiting", reason: `ResourceClaim ${namespace}/${claimName} was not created for pod ${podKey(pod)} (pod is not owner)` }
    }
    claims.push({ name: entryName, claim })
  }
  return { _tag: "Ready", claims }
}

export const allocationOf = (claim: KubeObject): Json | undefined => record(record(claim["status"])?.["allocation"])
export const reservedFor = (claim: KubeObject): Array<Json> => list(record(claim["status"])?.["reservedFor"])
export const isReservedFor = (claim: KubeObject, pod: KubeObject): boolean =>
  reservedFor(claim).some((consumer) => consumer["resource"] === "pods" && text(consumer["apiGroup"]) === "" && consumer["uid"] === pod.metadata.uid)
export const canBeReserved = (claim: KubeObject): boolean => reservedFor(claim).length < RESERVED_FOR_MAX

/** A pod that will not run (again): terminal, or deleted before it was ever bound (isPodDone). */
export const isPodDone = (pod: KubeObject): boolean => {
  const phase = record(pod["status"])?.["phase"]
  const nodeName = text(record(pod["spec"])?.["nodeName"])
  return phase === "Succeeded" || phase === "Failed" || (pod.metadata.deletionTimestamp !== undefined && nodeName === "")
}

// ---------------------------------------------------------------------------------------------------------------
// Devices and the allocator

/** A device published in a ResourceSlice. */
export interface Device {
  readonly driver: string
  readonly pool: string
  readonly name: string
  readonly slice: KubeObject
  readonly spec: Json
}

/** `driver/pool/device`: a device's identity. */
export const deviceId = (driver: string, pool: string, device: string): string => `${driver}/${pool}/${device}`

export interface DeviceResult {
  request: string
  driver: string
  pool: string
  device: string
  adminAccess?: boolean
}

/** `status.allocation` of a claim. */
export interface Allocation {
  devices: { results: Array<DeviceResult>; config?: Array<Json> }
  nodeSelector?: Json
}

/**
 * Why a claim cannot be allocated before any node is tried (the plugin's PreFilter), if it cannot; texts after
 * pkg/scheduler/framework/plugins/dynamicresources PreFilter and validateDeviceClass.
 */
export const claimProblem = (claim: KubeObject, classes: ReadonlyMap<string, KubeObject>): string | undefined => {
  const requests = list(record(record(claim["spec"])?.["devices"])?.["requests"])
  for (const request of requests) {
    const name = text(request["name"])
    const exactly = record(request["exactly"])
    const alternatives = list(request["firstAvailable"])
    const checks: Array<[string, string]> = exactly !== undefined
      ? [[name, text(exactly["deviceClassName"])]]
      : alternatives.map((sub) => [`${name}/${text(sub["name"])}`, text(sub["deviceClassName"])])
    if (checks.length === 0) return `resource claim ${claim.metadata.namespace}/${claim.metadata.name}, request ${name}: unknown request type`
    for (const [requestName, className] of checks) {
      if (className === "") return `request ${requestName}: unsupported request type`
      if (!classes.has(className)) return `request ${requestName}: device class ${className} does not exist`
    }
  }
  return undefined
}

const ATTRIBUTE_KINDS = ["int", "bool", "string", "version"] as const

/** A device as CEL sees it: `driver`, `attributes[domain][name]`, `capacity[domain][name]`. */
const celDevice = (device: Device): CelMap => {
  const attributes: Record<string, Json> = {}
  for (const [key, value] of Object.entries(record(device.spec["attributes"]) ?? {})) {
    const slash = key.indexOf("/")
    const domain = slash < 0 ? device.driver : key.slice(0, slash)
    const kind = ATTRIBUTE_KINDS.find((candidate) => record(value)?.[candidate] !== undefined)
    if (kind !== undefined) (attributes[domain] ??= {})[slash < 0 ? key : key.slice(slash + 1)] = record(value)![kind]
  }
  const capacity: Record<string, Json> = {}
  for (const [key, value] of Object.entries(record(device.spec["capacity"]) ?? {})) {
    const slash = key.indexOf("/")
    const domain = slash < 0 ? device.driver : key.slice(0, slash)
    ;(capacity[domain] ??= {})[slash < 0 ? key : key.slice(slash + 1)] = record(value)?.["value"]
  }
  return CelMap.json({ driver: device.driver, attributes, capacity, allowMultipleAllocations: device.spec["allowMultipleAllocations"] === true }, undefined)
}

/** The expression with its `device` variable renamed to `self`, the variable the CEL evaluator binds. */
const withSelf = (expression: string): string => {
  let out = ""
  let index = 0
  let previous = ""
  while (index < expression.length) {
    const char = expression[index]!
    if (char === "\"" || char === "'") {
      const quote = expression.startsWith(char.repeat(3), index) ? char.repeat(3) : char
      let end = index + quote.length
      while (end < expression.length && !expression.startsWith(quote, end)) end += expression[end] === "\\" ? 2 : 1
      out += expression.slice(index, end + quote.length)
      index = end + quote.length
      previous = char
      continue
    }
    if (/[A-Za-z_]/.test(char)) {
      let end = index + 1
      while (end < expression.length && /[A-Za-z0-9_]/.test(expression[end]!)) end++
      const word = expression.slice(index, end)
      out += word === "device" && previous !== "." ? "self" : word
      index = end
      previous = "w"
      continue
    }
    out += char
    if (!/\s/.test(char)) previous = char
    index++
  }
  return out
}

/** Whether a device selector (`{cel: {expression}}`) selects the device; see the module comment for the limits. */
export const selectorMatches = (selector: Json, device: Device): boolean => {
  const expression = record(selector["cel"])?.["expression"]
  if (typeof expression !== "string") return true
  const compiled = compile(withSelf(expression))
  if (compiled instanceof CelError) return true
  return compiled.evaluate({ self: celDevice(device) }) === true
}

const attributeOf = (device: Device, qualified: string): unknown => {
  const attributes = record(device.spec["attributes"]) ?? {}
  const slash = qualified.indexOf("/")
  const domain = slash < 0 ? device.driver : qualified.slice(0, slash)
  const name = slash < 0 ? qualified : qualified.slice(slash + 1)
  return attributes[qualified] ?? (domain === device.driver ? attributes[name] : undefined)
}

interface Alternative {
  /** The request name in results: `gpu`, or `gpu/sub` for a firstAvailable subrequest. */
  readonly result: string
  readonly parent: string
  readonly className: string
  readonly selectors: ReadonlyArray<Json>
  readonly mode: string
  readonly count: number
  readonly adminAccess: boolean
}

interface Pick {
  readonly claim: number
  readonly alternative: Alternative
  readonly device: Device
}

const alternativesOf = (request: Json): Array<Alternative> => {
  const name = text(request["name"])
  const shape = (source: Json, result: string): Alternative => ({
    result,
    parent: name,
    className: text(source["deviceClassName"]),
    selectors: list(source["selectors"]),
    mode: text(source["allocationMode"]) || "ExactCount",
    count: typeof source["count"] === "number" ? source["count"] : 1,
    adminAccess: source["adminAccess"] === true
  })
  const exactly = record(request["exactly"])
  if (exactly !== undefined) return [shape(exactly, name)]
  return list(request["firstAvailable"]).map((sub) => shape(sub, `${name}/${text(sub["name"])}`))
}

const SEARCH_BUDGET = 100_000

/** What the cluster publishes and holds: device classes, the newest slices of every pool, and the devices in use. */
export class DeviceInventory {
  readonly classes: ReadonlyMap<string, KubeObject>
  private readonly slices: ReadonlyArray<KubeObject>
  private readonly inUse: Set<string>

  constructor(cluster: Cluster) {
    this.classes = new Map((cluster.store.list(CLASSES_KEY) ?? []).map((object) => [object.metadata.name ?? "", object]))
    const newest = new Map<string, number>()
    const all = cluster.store.list(SLICES_KEY) ?? []
    const poolOf = (slice: KubeObject) => {
      const spec = record(slice["spec"]) ?? {}
      const pool = record(spec["pool"]) ?? {}
      return { key: `${text(spec["driver"])}/${text(pool["name"])}`, generation: typeof pool["generation"] === "number" ? pool["generation"] : 0 }
    }
    for (const slice of all) {
      const { key, generation } = poolOf(slice)
      newest.set(key, Math.max(newest.get(key) ?? generation, generation))
    }
    this.slices = all.filter((slice) => poolOf(slice).generation === newest.get(poolOf(slice).key))
    this.inUse = new Set()
    for (const claim of cluster.store.list(CLAIMS_KEY) ?? []) this.hold(allocationOf(claim))
  }

  /** Marks the devices of an allocation as in use. */
  hold(allocation: Json | Allocation | undefined): void {
    for (const result of list(record(record(allocation)?.["devices"])?.["results"])) {
      if (result["adminAccess"] === true) continue
      this.inUse.add(deviceId(text(result["driver"]), text(result["pool"]), text(result["device"])))
    }
  }

  isInUse(device: Device): boolean {
    return this.inUse.has(deviceId(device.driver, device.pool, device.name))
  }

  /** The devices available to `node`, in slice-name then listed order. */
  devicesOn(node: KubeObject): Array<Device> {
    const nodeName = node.metadata.name ?? ""
    const devices: Array<Device> = []
    for (const slice of this.slices) {
      const spec = record(slice["spec"]) ?? {}
      const sliceMatches = text(spec["nodeName"]) === nodeName || spec["allNodes"] === true ||
        (spec["nodeSelector"] !== undefined && matchesNodeSelector(spec["nodeSelector"], node))
      const perDevice = spec["perDeviceNodeSelection"] === true
      if (!sliceMatches && !perDevice) continue
      const driver = text(spec["driver"])
      const pool = text(record(spec["pool"])?.["name"])
      for (const device of list(spec["devices"])) {
        if (perDevice) {
          const fits = text(device["nodeName"]) === nodeName || device["allNodes"] === true ||
            (device["nodeSelector"] !== undefined && matchesNodeSelector(device["nodeSelector"], node))
          if (!fits) continue
        }
        devices.push({ driver, pool, name: text(device["name"]), slice, spec: device })
      }
    }
    return devices
  }

  /** How many of the node's devices are not allocated to any claim. */
  freeDevices(node: KubeObject): number {
    return this.devicesOn(node).filter((device) => !this.isInUse(device)).length
  }

  private classMatches(className: string, device: Device): boolean {
    const spec = record(this.classes.get(className)?.["spec"]) ?? {}
    return list(spec["selectors"]).every((selector) => selectorMatches(selector, device))
  }

  /**
   * Allocates every claim on `node` from the devices nobody holds, backtracking over device choices and firstAvailable
   * alternatives as the structured allocator does; undefined when not all claims fit (`cannot allocate all claims`).
   */
  allocate(node: KubeObject, claims: ReadonlyArray<KubeObject>): Array<Allocation> | undefined {
    const devices = this.devicesOn(node)
    const plans = claims.flatMap((claim, index) =>
      list(record(record(claim["spec"])?.["devices"])?.["requests"]).map((request) => ({ claim: index, alternatives: alternativesOf(request) }))
    )
    const constraints = claims.map((claim) => list(record(record(claim["spec"])?.["devices"])?.["constraints"]))
    const picks: Array<Pick> = []
    const chosen = new Set<string>()
    let budget = SEARCH_BUDGET
    const matching = (alternative: Alternative) =>
      devices.filter((device) => this.classMatches(alternative.className, device) && alternative.selectors.every((selector) => selectorMatches(selector, device)))
    const consistent = (claim: number, alternative: Alternative, device: Device): boolean =>
      (constraints[claim] ?? []).every((constraint) => {
        const attribute = text(constraint["matchAttribute"])
        if (attribute === "") return true
        const scope = Array.isArray(constraint["requests"]) ? (constraint["requests"] as Array<unknown>).map(String) : []
        const applies = (candidate: Alternative) => scope.length === 0 || scope.includes(candidate.parent) || scope.includes(candidate.result)
        if (!applies(alternative)) return true
        const value = attributeOf(device, attribute)
        if (value === undefined) return false
        const other = picks.find((pick) => pick.claim === claim && applies(pick.alternative))
        return other === undefined || isEqual(attributeOf(other.device, attribute), value)
      })
    const take = (claim: number, alternative: Alternative, device: Device) => {
      picks.push({ claim, alternative, device })
      chosen.add(deviceId(device.driver, device.pool, device.name))
    }
    const untake = (count: number) => {
      for (let i = 0; i < count; i++) {
        const pick = picks.pop()!
        chosen.delete(deviceId(pick.device.driver, pick.device.pool, pick.device.name))
      }
    }
    const solve = (planIndex: number): boolean => {
      const plan = plans[planIndex]
      if (plan === undefined) return true
      for (const alternative of plan.alternatives) {
        const candidates = matching(alternative)
        const free = (device: Device) => !chosen.has(deviceId(device.driver, device.pool, device.name)) && (alternative.adminAccess || !this.isInUse(device))
        if (alternative.mode === "All") {
          if (candidates.length === 0 || !candidates.every(free)) continue
          let taken = 0
          let ok = true
          for (const device of candidates) {
            if (!consistent(plan.claim, alternative, device)) {
              ok = false
              break
            }
            take(plan.claim, alternative, device)
            taken++
          }
          if (ok && solve(planIndex + 1)) return true
          untake(taken)
          continue
        }
        const available = candidates.filter(free)
        const choose = (start: number, remaining: number): boolean => {
          if (--budget < 0) return false
          if (remaining === 0) return solve(planIndex + 1)
          for (let index = start; index <= available.length - remaining; index++) {
            const device = available[index]!
            if (chosen.has(deviceId(device.driver, device.pool, device.name)) || !consistent(plan.claim, alternative, device)) continue
            take(plan.claim, alternative, device)
            if (choose(index + 1, remaining - 1)) return true
            untake(1)
          }
          return false
        }
        if (alternative.count >= 1 && choose(0, alternative.count)) return true
      }
      return false
    }
    if (!solve(0)) return undefined
    return claims.map((claim, index) => this.result(claim, picks.filter((pick) => pick.claim === index)))
  }

  private result(claim: KubeObject, picks: ReadonlyArray<Pick>): Allocation {
    const results = picks.map((pick): DeviceResult => ({
      request: pick.alternative.result,
      driver: pick.device.driver,
      pool: pick.device.pool,
      device: pick.device.name,
      ...(pick.alternative.adminAccess ? { adminAccess: true } : {})
    }))
    const config: Array<Json> = []
    const used = new Map<string, Alternative>()
    for (const pick of picks) used.set(pick.alternative.parent, pick.alternative)
    for (const alternative of used.values()) {
      for (const entry of list(record(this.classes.get(alternative.className)?.["spec"])?.["config"])) {
        config.push({ source: "FromClass", requests: [alternative.result], ...entry })
      }
    }
    for (const entry of list(record(record(claim["spec"])?.["devices"])?.["config"])) config.push({ source: "FromClaim", ...entry })
    const sliceSpec = record(picks[0]?.device.slice["spec"]) ?? {}
    const deviceSpec = picks[0]?.device.spec ?? {}
    const onNode = text(sliceSpec["nodeName"]) || text(deviceSpec["nodeName"])
    const selector = onNode !== ""
      ? { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [onNode] }] }] }
      : record(sliceSpec["nodeSelector"]) ?? record(deviceSpec["nodeSelector"])
    return { devices: { results, ...(config.length === 0 ? {} : { config }) }, ...(selector === undefined ? {} : { nodeSelector: selector }) }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writing allocations and reservations (the plugin's PreBind)

const typeOf = (cluster: Cluster, group: string, resource: string): ResourceType => cluster.registry.find(group, "v1", resource)!

/**
 * Reserves `claim` for `pod`, allocating it first when `allocation` is given: the delete-protection finalizer in a
 * normal update, then allocation and `reservedFor` in a status update.
 */
export const reserveClaim = (cluster: Cluster, claim: KubeObject, pod: KubeObject, allocation: Allocation | undefined): KubeObject => {
  const type = typeOf(cluster, "resource.k8s.io", "resourceclaims")
  const namespace = claim.metadata.namespace ?? ""
  const name = claim.metadata.name!
  let current = cluster.get(type, namespace, name)
  if (allocation !== undefined && !(current.metadata.finalizers ?? []).includes(DELETE_PROTECTION)) {
    current = cluster.update(type, namespace, name, { ...current, metadata: { ...current.metadata, finalizers: [...(current.metadata.finalizers ?? []), DELETE_PROTECTION] } })
  }
  if (allocation === undefined && allocationOf(current) === undefined) return current
  const status = { ...record(current["status"]) }
  if (allocation !== undefined) status["allocation"] = allocation
  if (!isReservedFor(current, pod)) status["reservedFor"] = [...reservedFor(current), { resource: "pods", name: pod.metadata.name, uid: pod.metadata.uid }]
  return cluster.update(type, namespace, name, { ...current, status }, { subresource: "status" })
}

/** Clears a claim's allocation and reservations (the plugin's PostFilter deallocation). */
export const deallocateClaim = (cluster: Cluster, claim: KubeObject): KubeObject => {
  const type = typeOf(cluster, "resource.k8s.io", "resourceclaims")
  const current = cluster.get(type, claim.metadata.namespace ?? "", claim.metadata.name!)
  const status = { ...record(current["status"]) }
  delete status["allocation"]
  delete status["reservedFor"]
  delete status["devices"]
  return cluster.update(type, current.metadata.namespace ?? "", current.metadata.name!, { ...current, status }, { subresource: "status" })
}

// ---------------------------------------------------------------------------------------------------------------
// The resource claim controller

const RELEVANT = new Set([PODS_KEY, CLAIMS_KEY, TEMPLATES_KEY])
const NAME_ATTEMPTS = 5

/** Shortens `<pod>-<claim>-` to 57 characters, cutting both names in proportion, as the controller does. */
const claimGenerateName = (podName: string, claimName: string): string => {
  const base = `${podName}-${claimName}-`
  const max = 57
  if (base.length <= max) return base
  return `${podName.slice(0, Math.floor((podName.length * max) / base.length))}-${claimName.slice(0, Math.floor((claimName.length * max) / base.length))}`
}

const controllerPod = (claim: KubeObject): OwnerReference | undefined =>
  (claim.metadata.ownerReferences ?? []).find((owner) => owner.controller === true && owner.apiVersion === "v1" && owner.kind === "Pod")

/**
 * The resource claim controller of kube-controller-manager: creates a pod's claims from its ResourceClaimTemplates
 * (`<pod>-<claim>-<5 chars>`, owned by the pod, annotated with the claim entry) and records them in
 * `status.resourceClaimStatuses`; drops finished or deleted pods from `reservedFor`, deallocates a claim that loses its
 * last consumer, lifts the delete-protection finalizer of unused claims, and deletes generated claims whose pod is
 * done. Generated claims of deleted pods are removed by the cluster's garbage collector.
 */
export class ResourceClaimController implements Controller {
  readonly name = "resourceclaim-controller"
  private unsubscribe: (() => void) | undefined
  private passes: DebouncedPass | undefined

  start(world: World): void {
    this.passes = new DebouncedPass(this.name, world, () => this.sync(world))
    this.unsubscribe = world.cluster.store.subscribe((change) => {
      if (RELEVANT.has(change.key)) this.kick()
    })
    this.kick()
  }

  stop(): void {
    this.unsubscribe?.()
    this.passes?.stop()
  }

  private kick(): void {
    this.passes?.request()
  }

  /** One reconciliation of every pod and claim. */
  sync(world: World): void {
    const cluster = world.cluster
    for (const pod of cluster.store.list(PODS_KEY) ?? []) {
      try {
        this.syncPod(world, pod)
      } catch (error) {
        if (!(error instanceof StatusError)) throw error
      }
    }
    for (const claim of cluster.store.list(CLAIMS_KEY) ?? []) {
      try {
        this.syncClaim(cluster, claim)
      } catch (error) {
        if (!(error instanceof StatusError)) throw error
      }
    }
  }

  private syncPod(world: World, pod: KubeObject): void {
    if (isPodDone(pod) || pod.metadata.deletionTimestamp !== undefined) return
    const cluster = world.cluster
    const namespace = pod.metadata.namespace ?? ""
    const spec = record(pod["spec"]) ?? {}
    const statuses = list(record(pod["status"])?.["resourceClaimStatuses"])
    const recorded: Array<Json> = []
    for (const entry of list(spec["resourceClaims"])) {
      const templateName = entry["resourceClaimTemplateName"]
      if (typeof templateName !== "string" || typeof entry["resourceClaimName"] === "string") continue
      const entryName = text(entry["name"])
      const status = statuses.find((candidate) => candidate["name"] === entryName)
      if (status !== undefined) {
        if (typeof status["resourceClaimName"] !== "string") continue
        const existing = cluster.store.get(CLAIMS_KEY, namespace, status["resourceClaimName"])
        if (existing !== undefined && ownedByPod(existing, pod)) continue
      }
      const orphan = (cluster.store.list(CLAIMS_KEY, namespace) ?? []).find((claim) =>
        ownedByPod(claim, pod) && claim.metadata.annotations?.[POD_CLAIM_NAME] === entryName && claim.metadata.deletionTimestamp === undefined
      )
      const claim = orphan ?? this.createClaim(world, pod, entryName, templateName)
      if (claim !== undefined) recorded.push({ name: entryName, resourceClaimName: claim.metadata.name })
    }
    if (recorded.length === 0) return
    const names = new Set(recorded.map((entry) => entry["name"]))
    const podType = typeOf(cluster, "", "pods")
    const current = cluster.get(podType, namespace, pod.metadata.name!)
    const currentStatus = record(current["status"]) ?? {}
    const kept = list(currentStatus["resourceClaimStatuses"]).filter((entry) => !names.has(entry["name"]))
    cluster.update(podType, namespace, pod.metadata.name!, { ...current, status: { ...currentStatus, resourceClaimStatuses: [...kept, ...recorded] } }, { subresource: "status" })
  }

  private createClaim(world: World, pod: KubeObject, entryName: string, templateName: string): KubeObject | undefined {
    const cluster = world.cluster
    const namespace = pod.metadata.namespace ?? ""
    const template = cluster.store.get(TEMPLATES_KEY, namespace, templateName)
    if (template === undefined) return undefined
    const templateSpec = record(template["spec"]) ?? {}
    const templateMetadata = record(templateSpec["metadata"]) ?? {}
    const generateName = claimGenerateName(pod.metadata.name!, entryName)
    const stuck = world.faults.stuckFinalizers.get(this.name)
    const labels = record(templateMetadata["labels"]) as Record<string, string> | undefined
    const type = typeOf(cluster, "resource.k8s.io", "resourceclaims")
    const random = world.random("resourceclaim-names")
    for (let attempt = 0; attempt < NAME_ATTEMPTS; attempt++) {
      const body: KubeObject = {
        apiVersion: "resource.k8s.io/v1",
        kind: "ResourceClaim",
        metadata: {
          name: `${generateName}${random.suffix(5)}`,
          generateName,
          namespace,
          annotations: { ...(record(templateMetadata["annotations"]) as Record<string, string> | undefined), [POD_CLAIM_NAME]: entryName },
          ...(labels === undefined ? {} : { labels: { ...labels } }),
          ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: pod.metadata.name!, uid: pod.metadata.uid!, controller: true, blockOwnerDeletion: true }],
          ...(stuck === undefined ? {} : { finalizers: [stuck] })
        },
        spec: structuredClone(templateSpec["spec"] ?? {})
      }
      try {
        return cluster.create(type, namespace, body)
      } catch (error) {
        if (!(error instanceof StatusError && error.code === 409)) throw error
      }
    }
    return undefined
  }

  private syncClaim(cluster: Cluster, claim: KubeObject): void {
    const type = typeOf(cluster, "resource.k8s.io", "resourceclaims")
    const namespace = claim.metadata.namespace ?? ""
    const name = claim.metadata.name!
    const reservations = reservedFor(claim)
    const valid = reservations.filter((consumer) => {
      if (consumer["resource"] !== "pods" || text(consumer["apiGroup"]) !== "") return true
      const pod = cluster.store.get(PODS_KEY, namespace, text(consumer["name"]))
      return pod !== undefined && pod.metadata.uid === consumer["uid"] && !isPodDone(pod)
    })
    let current = claim
    const protectedClaim = (current.metadata.finalizers ?? []).includes(DELETE_PROTECTION)
    const withoutProtection = (object: KubeObject): KubeObject => {
      const finalizers = (object.metadata.finalizers ?? []).filter((finalizer) => finalizer !== DELETE_PROTECTION)
      const metadata: KubeObject["metadata"] = { ...object.metadata, finalizers }
      if (finalizers.length === 0) delete metadata.finalizers
      return { ...object, metadata }
    }
    if (valid.length < reservations.length) {
      const status: Json = { ...record(current["status"]), reservedFor: valid }
      if (valid.length === 0) {
        delete status["reservedFor"]
        if (protectedClaim) delete status["allocation"]
      }
      current = cluster.update(type, namespace, name, { ...current, status }, { subresource: "status" })
      if ((current.metadata.finalizers ?? []).includes(DELETE_PROTECTION) && allocationOf(current) === undefined) {
        current = cluster.update(type, namespace, name, withoutProtection(current))
        if (current.metadata.deletionTimestamp !== undefined && cluster.store.get(CLAIMS_KEY, namespace, name) === undefined) return
      }
    } else if (protectedClaim && current.metadata.deletionTimestamp !== undefined && valid.length === 0) {
      if (allocationOf(current) !== undefined) {
        const status = { ...record(current["status"]) }
        delete status["allocation"]
        current = cluster.update(type, namespace, name, { ...current, status }, { subresource: "status" })
      }
      cluster.update(type, namespace, name, withoutProtection(current))
      return
    }
    if (valid.length > 0 || current.metadata.deletionTimestamp !== undefined) return
    const owner = controllerPod(current)
    if (owner === undefined) return
    const pod = cluster.store.get(PODS_KEY, namespace, owner.name)
    if (pod !== undefined && (pod.metadata.uid !== owner.uid || isPodDone(pod))) cluster.delete(type, namespace, name)
  }
}
