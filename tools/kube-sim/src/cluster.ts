/**
 * The object semantics of the API server, below HTTP: create, update (whole, status), delete with finalizers
 * and propagation, garbage collection of dependents, namespace lifecycle and CRDs that register their kinds.
 */
import { randomUUID } from "node:crypto"
import * as Apply from "./apply.ts"
import * as Builtin from "./builtin.ts"
import * as Errors from "./errors.ts"
import { BUILTIN, Registry } from "./resources.ts"
import type { FieldCause, SchemaProps } from "./schema-types.ts"
import { type Change, Store, type StoreOptions } from "./store.ts"
import * as Structural from "./structural.ts"
import { apiVersionOf, type KubeObject, type ResourceType, typeKey } from "./types.ts"

export type PropagationPolicy = "Foreground" | "Background" | "Orphan"

export interface WriteOptions {
  readonly dryRun?: boolean | undefined
  /**
   * The write is an API request: the body is defaulted as a real server decodes it and the kind's create and update
   * strategies apply (a created object's status is reset, a service gets its cluster IP). Direct writes (seeding,
   * the simulator's own controllers) store objects as given.
   */
  readonly request?: boolean | undefined
  /** What a request does with unknown fields (default `Warn`, as a real server). */
  readonly fieldValidation?: FieldValidation | undefined
  /** Where the write appends the texts of the response's `Warning` headers. */
  readonly warnings?: Array<string> | undefined
  /** The field manager the write is recorded for in `metadata.managedFields` (operation Update); none: not recorded. */
  readonly manager?: string | undefined
}

export type FieldValidation = "Strict" | "Warn" | "Ignore"

/** Options of `Cluster.update`. */
export interface UpdateOptions extends WriteOptions {
  readonly subresource?: string | undefined
  /** A PUT: a `metadata.uid` in the body is a precondition (409 on mismatch) rather than an immutable field (422). */
  readonly replace?: boolean | undefined
}

export interface DeleteOptions extends WriteOptions {
  readonly propagationPolicy?: PropagationPolicy | undefined
  readonly preconditions?: { uid?: string | undefined; resourceVersion?: string | undefined } | undefined
  /** Seconds a pod gets to stop (default its `terminationGracePeriodSeconds`); 0 removes it at once (a forced delete). */
  readonly gracePeriodSeconds?: number | undefined
}

export type DeleteResult =
  | { readonly _tag: "Removed"; readonly object: KubeObject }
  | { readonly _tag: "Pending"; readonly object: KubeObject }

const NAMESPACE_KEY = "/namespaces"
const CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"
const LEGACY_SCHEME = "pkg/api/legacyscheme/scheme.go:30"
const NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z")
/** Semantic equality of JSON values: key order does not matter, absent and undefined fields are alike. */
const isEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) return a.length === (b as Array<unknown>).length && a.every((item, index) => isEqual(item, (b as Array<unknown>)[index]))
  const left = a as Record<string, unknown>
  const right = b as Record<string, unknown>
  const keys = Object.keys(left).filter((key) => left[key] !== undefined)
  return keys.length === Object.keys(right).filter((key) => right[key] !== undefined).length && keys.every((key) => isEqual(left[key], right[key]))
}

/** `name` problems the way a real server words them (names of most kinds are DNS-1123 subdomains). */
const nameProblems = (type: ResourceType, name: string): ReadonlyArray<string> => {
  const label = type.resource === "namespaces"
  const pattern = label ? DNS1123_LABEL : DNS1123_SUBDOMAIN
  const max = label ? 63 : 253
  const problems: Array<string> = []
  if (name.length > max) problems.push(`must be no more than ${max} characters`)
  if (!pattern.test(name)) {
    problems.push(
      label
        ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )
  }
  return problems
}

const isEventsV1 = (type: Pick<ResourceType, "group" | "resource">): boolean => type.group === "events.k8s.io" && type.resource === "events"

/** Where a type's objects are stored: events.k8s.io/v1 Events share the core v1 Event store, as on a real server. */
export const storeKey = (type: Pick<ResourceType, "group" | "resource">): string => (isEventsV1(type) ? "/events" : typeKey(type))

/** Removes the field at `path` (`spec.template.spec.containers[0].bogus`) from `object`, if it is there. */
const dropPath = (object: KubeObject, path: string): void => {
  const steps = path.match(/[^.[\]]+|\[\d+\]/g) ?? []
  let node: unknown = object
  for (const [index, step] of steps.entries()) {
    if (node === null || typeof node !== "object") return
    const key: string | number = step.startsWith("[") ? Number(step.slice(1, -1)) : step
    if (index === steps.length - 1) {
      if (!Array.isArray(node)) delete (node as Record<string, unknown>)[key]
      return
    }
    node = (node as Record<string | number, unknown>)[key]
  }
}

/** core/v1 Event field → events.k8s.io/v1 Event field (the other fields have the same names). */
const EVENT_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ["involvedObject", "regarding"],
  ["message", "note"],
  ["source", "deprecatedSource"],
  ["firstTimestamp", "deprecatedFirstTimestamp"],
  ["lastTimestamp", "deprecatedLastTimestamp"],
  ["count", "deprecatedCount"],
  ["reportingComponent", "reportingController"]
]

/** Converts an Event between core/v1 and events.k8s.io/v1; fields the target version lacks are dropped, as decoding drops them. */
const convertEvent = (object: KubeObject, toEventsV1: boolean): KubeObject => {
  const renames = new Map(EVENT_FIELDS.map(([core, events]) => (toEventsV1 ? [core, events] : [events, core])))
  const foreign = new Set(EVENT_FIELDS.map(([core, events]) => (toEventsV1 ? events : core)))
  const converted: KubeObject = { apiVersion: toEventsV1 ? "events.k8s.io/v1" : "v1", kind: "Event", metadata: object.metadata }
  for (const [key, value] of Object.entries(object)) {
    if (key === "apiVersion" || key === "kind" || key === "metadata" || foreign.has(key)) continue
    converted[renames.get(key) ?? key] = value
  }
  return converted
}

/** The Go package of a kind's internal type, as conversion errors name it (`core.ConfigMap`). */
const internalPackage = (group: string): string => (group === "" || group === "events.k8s.io" ? "core" : group.split(".")[0]!)

type Json = Record<string, unknown>
const record = (value: unknown): Json | undefined => (value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined)

/** A resource quantity (`500m`, `1Gi`, `2`) as a number; NaN when it does not parse. */
const quantity = (value: unknown): number => {
  const match = /^([+-]?[0-9.]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$/.exec(String(value))
  if (match === null) return Number.NaN
  const scale: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 }
  const suffix = match[2] ?? ""
  return Number(match[1]) * (suffix === "" ? 1 : /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : scale[suffix]!)
}

/** The QoS class of a pod (pkg/apis/core/helper/qos), from its containers' cpu and memory requests and limits. */
const qosClass = (spec: Json): string => {
  const requests = new Map<string, number>()
  const limits = new Map<string, number>()
  let guaranteed = true
  const containers = [...((spec["containers"] ?? []) as Array<Json>), ...((spec["initContainers"] ?? []) as Array<Json>)]
  for (const container of containers) {
    const resources = record(container["resources"]) ?? {}
    const found = new Set<string>()
    for (const [into, list] of [[requests, resources["requests"]], [limits, resources["limits"]]] as const) {
      for (const [name, value] of Object.entries(record(list) ?? {})) {
        if (name !== "cpu" && name !== "memory") continue
        const amount = quantity(value)
        if (!(amount > 0)) continue
        if (into === limits) found.add(name)
        into.set(name, (into.get(name) ?? 0) + amount)
      }
    }
    if (!found.has("cpu") || !found.has("memory")) guaranteed = false
  }
  if (requests.size === 0 && limits.size === 0) return "BestEffort"
  if (guaranteed) for (const [name, amount] of requests) if (limits.get(name) !== amount) guaranteed = false
  return guaranteed && requests.size === limits.size ? "Guaranteed" : "Burstable"
}

/** SetDefaults_PodSpec and SetDefaults_Container of core/v1, for what every real pod (and pod template) carries. */
const defaultPodSpec = (spec: Json, pod: boolean): void => {
  spec["restartPolicy"] ??= "Always"
  spec["terminationGracePeriodSeconds"] ??= 30
  spec["dnsPolicy"] ??= "ClusterFirst"
  spec["securityContext"] ??= {}
  spec["schedulerName"] ??= "default-scheduler"
  spec["enableServiceLinks"] ??= true
  for (const list of ["initContainers", "containers"]) {
    for (const container of (Array.isArray(spec[list]) ? spec[list] : []) as Array<Json>) {
      const image = typeof container["image"] === "string" ? container["image"] : ""
      const tag = image.includes("@") ? "" : (/:([^/:]+)$/.exec(image)?.[1] ?? "latest")
      container["imagePullPolicy"] ??= tag === "latest" ? "Always" : "IfNotPresent"
      container["terminationMessagePath"] ??= "/dev/termination-log"
      container["terminationMessagePolicy"] ??= "File"
      const resources = (container["resources"] ??= {}) as Json
      for (const port of (Array.isArray(container["ports"]) ? container["ports"] : []) as Array<Json>) port["protocol"] ??= "TCP"
      if (pod && record(resources["limits"]) !== undefined) {
        resources["requests"] = { ...record(resources["limits"]), ...record(resources["requests"]) }
      }
    }
  }
}

/** The etcd key a real server stores an object under (named in storage errors). */
const etcdKey = (type: ResourceType, namespace: string, name: string): string => {
  const prefixes: Record<string, string> = { "/services": "services/specs", "/nodes": "minions", "events.k8s.io/events": "events" }
  const prefix = prefixes[typeKey(type)] ?? (type.custom === true || typeKey(type) === CRD_KEY ? `${type.group}/${type.resource}` : type.resource)
  return `/registry/${prefix}/${namespace === "" ? "" : `${namespace}/`}${name}`
}

const SERVICE_CIDR_BASE = (10 << 24) | (96 << 16)
const SERVICE_CIDR_SIZE = 1 << 20
const ipv4 = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".")

export class Cluster {
  readonly registry: Registry
  readonly store: Store
  /**
   * Whether a kubelet must stop `pod` before it goes (set by the kubelet while it runs): a pod it answers true for is
   * deleted gracefully, kept with `deletionTimestamp` and `deletionGracePeriodSeconds` until the kubelet removes it
   * with a zero grace period once its containers have exited, as a real API server and kubelet do.
   */
  stopsGracefully: ((pod: KubeObject) => boolean) | undefined
  private gcScheduled = false
  private readonly uidIndex = new Map<string, { key: string; namespace: string; name: string }>()

  constructor(options: StoreOptions = {}) {
    this.registry = new Registry(BUILTIN)
    this.store = new Store(options)
    this.store.subscribe((change) => this.observe(change))
  }

  // -------------------------------------------------------------------------------------------------------------
  // Reads

  get(type: ResourceType, namespace: string, name: string): KubeObject {
    const found = this.store.get(storeKey(type), type.namespaced ? namespace : "", name)
    if (found === undefined) throw Errors.notFound(type, name)
    return this.present(type, found)
  }

  /**
   * The object as served at `type`'s version (objects are stored under whatever version wrote them; Events are
   * stored as core/v1 Events and converted for events.k8s.io/v1).
   */
  present(type: ResourceType, object: KubeObject): KubeObject {
    if (isEventsV1(type) && object.apiVersion !== apiVersionOf(type)) return convertEvent(object, true)
    object.apiVersion = apiVersionOf(type)
    object.kind = type.kind
    return object
  }

  /** The object in the form it is stored in. */
  private stored(type: ResourceType, object: KubeObject): KubeObject {
    return isEventsV1(type) ? convertEvent(object, false) : object
  }

  // -------------------------------------------------------------------------------------------------------------
  // Writes

  create(type: ResourceType, namespace: string, body: KubeObject, options: WriteOptions = {}): KubeObject {
    const object = this.admit(type, namespace, body)
    const name = object.metadata.name!
    if (type.namespaced) {
      const ns = this.store.get(NAMESPACE_KEY, "", namespace)
      if (ns === undefined) throw Errors.notFound({ group: "", resource: "namespaces" }, namespace)
      if (ns.metadata.deletionTimestamp !== undefined) throw Errors.namespaceTerminating(type, name, namespace)
    }
    if (this.store.get(storeKey(type), object.metadata.namespace ?? "", name) !== undefined) throw Errors.alreadyExists(type, name)
    const created: KubeObject = {
      ...object,
      metadata: {
        ...object.metadata,
        uid: randomUUID(),
        creationTimestamp: now(),
        generation: 1
      }
    }
    delete created.metadata.resourceVersion
    delete created.metadata.deletionTimestamp
    delete created.metadata.deletionGracePeriodSeconds
    if (options.request === true) {
      this.decodeBody(type, created, options)
      this.decodeDefaults(type, created)
      this.prepareForCreate(type, created)
    }
    this.defaults(type, created)
    let admitted = created
    if (options.request === true) {
      admitted = this.validate(type, created, undefined, options)
      if (options.manager !== undefined) admitted = this.track(type, undefined, admitted, options.manager, undefined)
    }
    const stored = this.stored(type, admitted)
    if (options.dryRun === true) return this.present(type, stored)
    return this.present(type, this.store.create(storeKey(type), stored))
  }

  /** Replaces the object (or, with `subresource: "status"`, its status only). */
  update(type: ResourceType, namespace: string, name: string, body: KubeObject, options: UpdateOptions = {}): KubeObject {
    const ns = type.namespaced ? namespace : ""
    const current = this.store.get(storeKey(type), ns, name)
    if (current === undefined) throw Errors.notFound(type, name)
    if (body.metadata?.name !== undefined && body.metadata.name !== name) {
      throw Errors.badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`)
    }
    if (options.request === true) this.checkTypeOf(type, body, name)
    if (type.namespaced && body.metadata?.namespace !== undefined && body.metadata.namespace !== "" && body.metadata.namespace !== namespace) {
      throw Errors.badRequest("the namespace of the provided object does not match the namespace sent on the request")
    }
    const uid = body.metadata?.uid
    if (options.replace === true && uid !== undefined && uid !== "" && uid !== current.metadata.uid) {
      throw Errors.conflictWith(type, name, `StorageError: invalid object, Code: 4, Key: ${etcdKey(type, ns, name)}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.metadata.uid}`)
    }
    const wanted = body.metadata?.resourceVersion
    if (wanted !== undefined && wanted !== "" && wanted !== current.metadata.resourceVersion) throw Errors.conflict(type, name)
    if ((wanted === undefined || wanted === "") && options.request === true && !this.allowsUnconditionalUpdate(type)) {
      throw Errors.invalid({ group: type.group, kind: type.resource }, name, [{ field: "metadata.resourceVersion", message: "Invalid value: 0x0: must be specified for an update" }])
    }
    const decoded = structuredClone(body)
    if (options.request === true) this.decodeBody(type, decoded, options)
    const incoming = this.stored(type, decoded)
    if (options.request === true && options.subresource === undefined) this.decodeDefaults(type, incoming)
    let next = this.merged(type, current, incoming, options.subresource)
    if (options.request === true) {
      this.validateUpdate(type, next, current, uid)
      next = this.validate(type, next, current, options)
      if (options.manager !== undefined) next = this.track(type, current, next, options.manager, options.subresource)
    }
    if (options.dryRun === true) return this.present(type, next)
    if (isEqual({ ...next, metadata: { ...next.metadata, resourceVersion: undefined } }, { ...current, metadata: { ...current.metadata, resourceVersion: undefined } })) {
      return this.present(type, current)
    }
    if (
      next.metadata.deletionTimestamp !== undefined && (next.metadata.finalizers ?? []).length === 0 && !this.pendingNamespace(type, next) &&
      (next.metadata.deletionGracePeriodSeconds ?? 0) === 0
    ) {
      return this.present(type, this.store.remove(storeKey(type), ns, name, next)!)
    }
    return this.present(type, this.store.update(storeKey(type), next))
  }

  /** The `openAPIV3Schema` of a custom resource type's CRD version, if it has one. */
  schemaOf(type: ResourceType): SchemaProps | undefined {
    if (type.custom !== true) return undefined
    const crd = this.store.get(CRD_KEY, "", `${type.resource}.${type.group}`)
    const versions = (crd?.["spec"] as CrdSpec | undefined)?.versions ?? []
    return versions.find((version) => version.name === type.version)?.schema?.openAPIV3Schema
  }

  /** How server-side apply merges and tracks the fields of `type`'s objects. */
  shapeOf(type: ResourceType): Apply.Shape {
    const schema = this.schemaOf(type)
    return schema === undefined ? Apply.builtinShape(type.group, type.kind) : Apply.schemaShape(schema, { statusSubresource: type.subresources.includes("status") })
  }

  /**
   * The strict decoding of a request body: a built-in kind's JSON type mismatches are 400, and unknown fields are
   * dropped, reported as warnings or refused, as `fieldValidation` says (custom resources: see `validate`).
   */
  private decodeBody(type: ResourceType, body: KubeObject, options: WriteOptions): void {
    if (type.custom === true) return
    const { unknownFields } = Builtin.decodeBuiltin(type, body)
    this.unknownFields(type, unknownFields, options)
    for (const path of unknownFields) dropPath(body, path)
  }

  private unknownFields(type: ResourceType, fields: ReadonlyArray<string>, options: WriteOptions): void {
    if (fields.length === 0) return
    const texts = fields.map((field) => `unknown field ${JSON.stringify(field)}`)
    const mode = options.fieldValidation ?? "Warn"
    if (mode === "Strict") {
      throw Errors.badRequest(`${type.kind} in version ${JSON.stringify(type.version)} cannot be handled as a ${type.kind}: strict decoding error: ${texts.join(", ")}`)
    }
    if (mode === "Warn") options.warnings?.push(...texts)
  }

  /**
   * Schema validation of a request's result: a built-in kind's rules (and, on update, its immutable fields); a
   * custom resource is pruned, defaulted and validated against its CRD's schema, CEL rules included. 422 on failure.
   */
  private validate(type: ResourceType, object: KubeObject, old: KubeObject | undefined, options: WriteOptions): KubeObject {
    const name = object.metadata.name ?? ""
    const causes: Array<FieldCause> = []
    let result = object
    if (type.custom === true) {
      const schema = this.schemaOf(type)
      if (schema !== undefined) {
        const admitted = Structural.admitCustom(schema, object, old)
        this.unknownFields(type, admitted.unknownFields, options)
        result = admitted.object
        causes.push(...admitted.causes)
      }
      causes.push(...Builtin.validateMetadata(object))
    } else {
      const view = (stored: KubeObject) => (isEventsV1(type) && stored.apiVersion !== apiVersionOf(type) ? convertEvent(stored, true) : stored)
      causes.push(...Builtin.validateBuiltin(type, view(object)))
      if (old !== undefined) causes.push(...Builtin.validateBuiltinUpdate(type, view(object), view(old)))
    }
    if (causes.length > 0) throw Errors.invalid(type, name, causes)
    return result
  }

  private track(type: ResourceType, old: KubeObject | undefined, next: KubeObject, manager: string, subresource: string | undefined): KubeObject {
    return Apply.trackUpdate({
      old,
      next,
      manager,
      shape: this.shapeOf(type),
      apiVersion: apiVersionOf(type),
      now: now(),
      ...(subresource === undefined ? {} : { subresource })
    })
  }

  /** Custom resources and CRDs refuse an update without a resourceVersion (their strategies' AllowUnconditionalUpdate). */
  private allowsUnconditionalUpdate(type: ResourceType): boolean {
    return type.custom !== true && typeKey(type) !== CRD_KEY
  }

  /** The checks of ValidateObjectMetaUpdate and of the kinds' update validation that the simulator enforces. */
  private validateUpdate(type: ResourceType, next: KubeObject, current: KubeObject, uid: string | undefined): void {
    const kind = { group: type.group, kind: type.kind }
    const name = current.metadata.name!
    if (uid !== undefined && uid !== "" && uid !== current.metadata.uid) {
      throw Errors.invalid(kind, name, [{ field: "metadata.uid", message: `Invalid value: ${JSON.stringify(uid)}: field is immutable` }])
    }
    const immutableSpec = type.group === "resource.k8s.io" && (type.resource === "resourceclaims" || type.resource === "resourceclaimtemplates")
    if (immutableSpec && !isEqual(next["spec"], current["spec"])) {
      throw Errors.invalid(kind, name, [{ field: "spec", message: `Invalid value: ${JSON.stringify(next["spec"] ?? null)}: field is immutable` }])
    }
  }

  private merged(type: ResourceType, current: KubeObject, body: KubeObject, subresource: string | undefined): KubeObject {
    const hasStatus = type.subresources.includes("status")
    let next: KubeObject
    if (subresource === "status") {
      next = { ...current }
      if (body["status"] === undefined) delete next["status"]
      else next["status"] = body["status"]
      return next
    }
    next = { ...body, apiVersion: current.apiVersion, kind: current.kind, metadata: { ...body.metadata } }
    next.metadata = {
      ...next.metadata,
      name: current.metadata.name,
      namespace: current.metadata.namespace,
      uid: current.metadata.uid,
      creationTimestamp: current.metadata.creationTimestamp,
      resourceVersion: current.metadata.resourceVersion,
      generation: current.metadata.generation,
      managedFields: body.metadata?.managedFields ?? current.metadata.managedFields
    }
    if (next.metadata.managedFields === undefined) delete next.metadata.managedFields
    if (next.metadata.namespace === undefined) delete next.metadata.namespace
    if (current.metadata.deletionTimestamp !== undefined) {
      next.metadata.deletionTimestamp = current.metadata.deletionTimestamp
      next.metadata.deletionGracePeriodSeconds = current.metadata.deletionGracePeriodSeconds
    } else {
      delete next.metadata.deletionTimestamp
      delete next.metadata.deletionGracePeriodSeconds
    }
    if (hasStatus) {
      if (current["status"] === undefined) delete next["status"]
      else next["status"] = current["status"]
    }
    if (typeKey(type) === "/services") this.keepAllocated(next, current)
    const specOf = (object: KubeObject) => Object.fromEntries(Object.entries(object).filter(([key]) => !["metadata", "status", "apiVersion", "kind"].includes(key)))
    if (!isEqual(specOf(next), specOf(current))) next.metadata.generation = (current.metadata.generation ?? 1) + 1
    return next
  }

  delete(type: ResourceType, namespace: string, name: string, options: DeleteOptions = {}): DeleteResult {
    const ns = type.namespaced ? namespace : ""
    const current = this.store.get(storeKey(type), ns, name)
    if (current === undefined) throw Errors.notFound(type, name)
    const pre = options.preconditions
    const byKind = { group: type.group, resource: type.kind }
    if (pre?.uid !== undefined && pre.uid !== current.metadata.uid) {
      throw Errors.conflictWith(byKind, name, `the UID in the precondition (${pre.uid}) does not match the UID in record (${current.metadata.uid}). The object might have been deleted and then recreated`)
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw Errors.conflictWith(byKind, name, `the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${current.metadata.resourceVersion}). The object might have been modified`)
    }
    const policy = options.propagationPolicy ?? this.defaultPolicy(type)
    const finalizers = [...(current.metadata.finalizers ?? [])]
    if (policy === "Foreground" && !finalizers.includes("foregroundDeletion")) finalizers.push("foregroundDeletion")
    if (policy === "Orphan" && !finalizers.includes("orphan")) finalizers.push("orphan")
    if (type.resource === "customresourcedefinitions" && !finalizers.includes("customresourcecleanup.apiextensions.k8s.io")) {
      finalizers.push("customresourcecleanup.apiextensions.k8s.io")
    }
    const isNamespace = typeKey(type) === NAMESPACE_KEY
    const grace = this.gracePeriodOf(type, current, options)
    if (finalizers.length === 0 && !isNamespace && grace === 0) {
      if (options.dryRun === true) return { _tag: "Removed", object: this.present(type, current) }
      return { _tag: "Removed", object: this.present(type, this.store.remove(storeKey(type), ns, name)!) }
    }
    const next: KubeObject = {
      ...current,
      metadata: {
        ...current.metadata,
        finalizers,
        deletionTimestamp: current.metadata.deletionTimestamp ?? (grace > 0 ? new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") : now()),
        deletionGracePeriodSeconds: grace
      }
    }
    if ((next.metadata.finalizers ?? []).length === 0) delete next.metadata.finalizers
    if (isNamespace) next["status"] = { ...(current["status"] as object | undefined), phase: "Terminating" }
    if (options.dryRun === true) return { _tag: "Pending", object: this.present(type, next) }
    if (isEqual(next, current)) return { _tag: "Pending", object: this.present(type, current) }
    return { _tag: "Pending", object: this.present(type, this.store.update(storeKey(type), next)) }
  }

  /**
   * The grace period a delete leaves an object (pods only): a pod already terminating keeps its own unless this
   * delete forces it (0); a running pod its kubelet stops gracefully gets the asked period, else its
   * `terminationGracePeriodSeconds` (default 30); anything else 0, which removes it once no finalizer holds it.
   */
  private gracePeriodOf(type: ResourceType, current: KubeObject, options: DeleteOptions): number {
    if (typeKey(type) !== "/pods" || options.gracePeriodSeconds === 0) return 0
    if (current.metadata.deletionTimestamp !== undefined) return current.metadata.deletionGracePeriodSeconds ?? 0
    if (this.stopsGracefully?.(current) !== true) return 0
    const spec = (current["spec"] ?? {}) as { terminationGracePeriodSeconds?: unknown }
    const own = typeof spec.terminationGracePeriodSeconds === "number" ? spec.terminationGracePeriodSeconds : 30
    return Math.max(0, options.gracePeriodSeconds ?? own)
  }

  /** batch/v1 Jobs keep the legacy default of orphaning their pods; everything else deletes in the background. */
  private defaultPolicy(type: ResourceType): PropagationPolicy {
    return type.group === "batch" && type.resource === "jobs" ? "Orphan" : "Background"
  }

  private pendingNamespace(type: ResourceType, object: KubeObject): boolean {
    return typeKey(type) === NAMESPACE_KEY && ((object["spec"] as { finalizers?: Array<string> } | undefined)?.finalizers ?? []).length > 0
  }

  // -------------------------------------------------------------------------------------------------------------
  // Admission: the checks and defaults of a create

  /**
   * The checks of decoding a request body for `type`: a kind the endpoint cannot take is 400 (`Secret in version "v1"
   * cannot be handled as a ConfigMap: …`) for built-in kinds and 422 (`kind: Invalid value`) for custom resources, an
   * API version of the same kind that the endpoint does not serve is 400.
   */
  private checkTypeOf(type: ResourceType, body: KubeObject, name: string): void {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw Errors.badRequest("the body of the request is not a JSON object")
    const expected = apiVersionOf(type)
    const apiVersion = typeof body.apiVersion === "string" && body.apiVersion !== "" ? body.apiVersion : expected
    const kind = typeof body.kind === "string" && body.kind !== "" ? body.kind : type.kind
    if (apiVersion === expected && kind === type.kind) return
    const version = apiVersion.includes("/") ? apiVersion.slice(apiVersion.indexOf("/") + 1) : apiVersion
    if (type.custom === true) {
      const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : ""
      if (kind !== type.kind) {
        throw Errors.invalid({ group, kind }, name, [{ field: "kind", message: `Invalid value: ${JSON.stringify(kind)}: must be ${type.kind}` }])
      }
      throw Errors.badRequest(`the API version in the data (${apiVersion}) does not match the expected API version (${expected})`)
    }
    const known = this.registry.byKind(apiVersion, kind) !== undefined
    const cannot = `${kind} in version ${JSON.stringify(version)} cannot be handled as a ${type.kind}`
    if (!known) throw Errors.badRequest(`${cannot}: no kind ${JSON.stringify(kind)} is registered for version ${JSON.stringify(apiVersion)} in scheme ${JSON.stringify(LEGACY_SCHEME)}`)
    if (kind !== type.kind && !(isEventsV1(type) && kind === "Event")) {
      throw Errors.badRequest(`${cannot}: converting (${version}.${kind}) to (${internalPackage(type.group)}.${type.kind}): unknown conversion`)
    }
    throw Errors.badRequest(`the API version in the data (${apiVersion}) does not match the expected API version (${expected})`)
  }

  private admit(type: ResourceType, namespace: string, body: KubeObject): KubeObject {
    this.checkTypeOf(type, body, typeof body?.metadata?.name === "string" ? body.metadata.name : "")
    const metadata = { ...(body.metadata ?? {}) }
    if (type.namespaced) {
      if (metadata.namespace !== undefined && metadata.namespace !== "" && metadata.namespace !== namespace) {
        throw Errors.badRequest("the namespace of the provided object does not match the namespace sent on the request")
      }
      metadata.namespace = namespace
    } else delete metadata.namespace
    if ((metadata.name ?? "") === "" && (metadata.generateName ?? "") !== "") {
      let suffix = ""
      for (let i = 0; i < 5; i++) suffix += NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)]
      metadata.name = `${metadata.generateName}${suffix}`
    }
    const name = metadata.name ?? ""
    if (name === "") throw Errors.invalid(type, "", [{ field: "metadata.name", message: "Required value: name or generateName is required", reason: "FieldValueRequired" }])
    const problems = nameProblems(type, name)
    if (problems.length > 0) {
      throw Errors.invalid(type, name, problems.map((problem) => ({ field: "metadata.name", message: `Invalid value: ${JSON.stringify(name)}: ${problem}` })))
    }
    return structuredClone({ ...body, apiVersion: apiVersionOf(type), kind: type.kind, metadata })
  }

  /** What a real server's defaulting (SetDefaults_*) adds to a request body of these kinds as it decodes it. */
  private decodeDefaults(type: ResourceType, object: KubeObject): void {
    const key = typeKey(type)
    const spec = record(object["spec"])
    if (key === "/pods" && spec !== undefined) defaultPodSpec(spec, true)
    if (key === "batch/jobs" && spec !== undefined) {
      if (spec["completions"] === undefined && spec["parallelism"] === undefined) spec["completions"] = 1
      spec["parallelism"] ??= 1
      spec["backoffLimit"] ??= spec["backoffLimitPerIndex"] === undefined ? 6 : 2147483647
      spec["completionMode"] ??= "NonIndexed"
      spec["suspend"] ??= false
      spec["podReplacementPolicy"] ??= spec["podFailurePolicy"] === undefined ? "TerminatingOrFailed" : "Failed"
      const template = record(spec["template"])
      const templateSpec = record(template?.["spec"])
      if (templateSpec !== undefined) defaultPodSpec(templateSpec, false)
    }
    if (key === "/secrets") {
      object["type"] ??= "Opaque"
      const stringData = record(object["stringData"])
      if (stringData !== undefined) {
        const data = { ...record(object["data"]) }
        for (const [field, value] of Object.entries(stringData)) data[field] = Buffer.from(String(value), "utf8").toString("base64")
        object["data"] = data
      }
      delete object["stringData"]
    }
    if (key === "/services" && spec !== undefined) {
      spec["type"] ??= "ClusterIP"
      spec["sessionAffinity"] ??= "None"
      if (spec["type"] !== "ExternalName") spec["internalTrafficPolicy"] ??= "Cluster"
      if (spec["type"] === "NodePort" || spec["type"] === "LoadBalancer") spec["externalTrafficPolicy"] ??= "Cluster"
      if (spec["type"] === "LoadBalancer") spec["allocateLoadBalancerNodePorts"] ??= true
      for (const port of (Array.isArray(spec["ports"]) ? spec["ports"] : []) as Array<Json>) {
        port["protocol"] ??= "TCP"
        if (port["targetPort"] === undefined || port["targetPort"] === 0 || port["targetPort"] === "") port["targetPort"] = port["port"]
      }
    }
  }

  /** The create strategies (PrepareForCreate) and admission plugins of a real server for these kinds. */
  private prepareForCreate(type: ResourceType, object: KubeObject): void {
    const key = typeKey(type)
    const spec = record(object["spec"])
    if (key === "/pods") {
      if (spec !== undefined) {
        spec["serviceAccountName"] ??= "default"
        spec["serviceAccount"] ??= spec["serviceAccountName"]
        spec["priority"] ??= 0
        spec["preemptionPolicy"] ??= "PreemptLowerPriority"
        const tolerations = (Array.isArray(spec["tolerations"]) ? spec["tolerations"] : []) as Array<Json>
        for (const taint of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]) {
          const covers = (toleration: Json) => {
            const tolerated = toleration["key"] ?? ""
            const effect = toleration["effect"] ?? ""
            return (tolerated === taint || tolerated === "") && (effect === "NoExecute" || effect === "")
          }
          if (!tolerations.some(covers)) {
            tolerations.push({ key: taint, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 })
          }
        }
        spec["tolerations"] = tolerations
      }
      object["status"] = { phase: "Pending", qosClass: qosClass(spec ?? {}) }
    } else if (key === "batch/jobs") {
      object["status"] = {}
      if (spec !== undefined && spec["manualSelector"] !== true) {
        const template = (spec["template"] ??= {}) as Json
        const templateMetadata = (template["metadata"] ??= {}) as { labels?: Record<string, string> }
        const hadLabels = templateMetadata.labels !== undefined
        const labels = (templateMetadata.labels ??= {})
        const { name, uid } = object.metadata as { name: string; uid: string }
        for (const label of ["job-name", "batch.kubernetes.io/job-name"]) labels[label] ??= name
        for (const label of ["controller-uid", "batch.kubernetes.io/controller-uid"]) labels[label] ??= uid
        const selector = (spec["selector"] ??= {}) as { matchLabels?: Record<string, string> }
        selector.matchLabels = { ...selector.matchLabels, "batch.kubernetes.io/controller-uid": selector.matchLabels?.["batch.kubernetes.io/controller-uid"] ?? uid }
        if (hadLabels && Object.keys(object.metadata.labels ?? {}).length === 0) object.metadata.labels = { ...labels }
      }
    } else if (key === "/services") {
      object["status"] = { loadBalancer: {} }
      if (spec !== undefined) this.allocate(spec, undefined)
    } else if (key === "resource.k8s.io/resourceclaims") {
      object["status"] = {}
    }
  }

  /** Allocates a service's cluster IP and node ports (lowest free ones; a real allocator picks at random). */
  private allocate(spec: Json, previous: Json | undefined): void {
    const services = this.store.list("/services") ?? []
    const specs = services.map((service) => record(service["spec"]) ?? {})
    if (spec["type"] !== "ExternalName") {
      if (spec["clusterIP"] === undefined || spec["clusterIP"] === "") {
        const used = new Set(specs.map((other) => other["clusterIP"]))
        let offset = 1
        while (offset < SERVICE_CIDR_SIZE - 1 && used.has(ipv4(SERVICE_CIDR_BASE + offset))) offset++
        spec["clusterIP"] = ipv4(SERVICE_CIDR_BASE + offset)
      }
      spec["clusterIPs"] ??= [spec["clusterIP"]]
      spec["ipFamilies"] ??= ["IPv4"]
      spec["ipFamilyPolicy"] ??= "SingleStack"
    }
    if (spec["type"] === "NodePort" || (spec["type"] === "LoadBalancer" && spec["allocateLoadBalancerNodePorts"] !== false)) {
      const used = new Set<unknown>()
      for (const other of specs) for (const port of (Array.isArray(other["ports"]) ? other["ports"] : []) as Array<Json>) used.add(port["nodePort"])
      const before = (Array.isArray(previous?.["ports"]) ? previous["ports"] : []) as Array<Json>
      for (const port of (Array.isArray(spec["ports"]) ? spec["ports"] : []) as Array<Json>) {
        if (port["nodePort"] !== undefined) continue
        const kept = before.find((old) => old["port"] === port["port"] && (old["protocol"] ?? "TCP") === (port["protocol"] ?? "TCP"))?.["nodePort"]
        if (kept !== undefined) {
          port["nodePort"] = kept
          continue
        }
        let candidate = 30000
        while (candidate < 32767 && used.has(candidate)) candidate++
        port["nodePort"] = candidate
        used.add(candidate)
      }
    }
  }

  /** An update of a service keeps the cluster IPs and node ports it leaves out (patchAllocatedValues). */
  private keepAllocated(next: KubeObject, current: KubeObject): void {
    const spec = record(next["spec"])
    const old = record(current["spec"])
    if (spec === undefined || old === undefined || spec["type"] === "ExternalName") return
    if ((spec["clusterIP"] === undefined || spec["clusterIP"] === "") && old["clusterIP"] !== undefined) {
      spec["clusterIP"] = old["clusterIP"]
      spec["clusterIPs"] ??= old["clusterIPs"]
    }
    spec["ipFamilies"] ??= old["ipFamilies"]
    spec["ipFamilyPolicy"] ??= old["ipFamilyPolicy"]
    for (const field of ["clusterIPs", "ipFamilies", "ipFamilyPolicy"]) if (spec[field] === undefined) delete spec[field]
    if (spec["type"] === "NodePort" || spec["type"] === "LoadBalancer") this.allocate(spec, old)
  }

  /** Defaults of every write, seeded or requested. */
  private defaults(type: ResourceType, object: KubeObject): void {
    const key = typeKey(type)
    if (key === NAMESPACE_KEY) {
      object.metadata.labels = { ...object.metadata.labels, "kubernetes.io/metadata.name": object.metadata.name! }
      object["spec"] = { ...(object["spec"] as object | undefined), finalizers: ["kubernetes"] }
      object["status"] = { phase: "Active" }
    } else if (key === "/pods" && object["status"] === undefined) {
      object["status"] = { phase: "Pending" }
    } else if (key === CRD_KEY) {
      delete object["status"]
    } else if (type.subresources.includes("status") && type.custom === true) {
      delete object["status"]
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Controllers: garbage collection, namespace lifecycle, CRDs. They react to store changes, one pass at a time.

  private observe(change: Change): void {
    const uid = change.object.metadata.uid
    if (uid !== undefined) {
      if (change.type === "DELETED") this.uidIndex.delete(uid)
      else this.uidIndex.set(uid, { key: change.key, namespace: change.namespace, name: change.name })
    }
    if (change.key === CRD_KEY) this.syncCrd(change)
    const relevant = change.type === "DELETED" || change.object.metadata.deletionTimestamp !== undefined ||
      (change.object.metadata.ownerReferences ?? []).length > 0
    if (relevant && !this.gcScheduled) {
      this.gcScheduled = true
      setImmediate(() => {
        this.gcScheduled = false
        this.collect()
      })
    }
  }

  private typeOfKey(key: string): ResourceType | undefined {
    return this.registry.byTypeKey(key)[0]
  }

  private removeFinalizer(key: string, object: KubeObject, finalizer: string): void {
    const type = this.typeOfKey(key)
    if (type === undefined) return
    const finalizers = (object.metadata.finalizers ?? []).filter((candidate) => candidate !== finalizer)
    const next: KubeObject = { ...object, metadata: { ...object.metadata, finalizers } }
    if (finalizers.length === 0) delete next.metadata.finalizers
    this.update(type, object.metadata.namespace ?? "", object.metadata.name!, next)
  }

  private deleteQuietly(key: string, object: KubeObject, policy: PropagationPolicy): void {
    const type = this.typeOfKey(key)
    if (type === undefined || object.metadata.deletionTimestamp !== undefined) return
    try {
      this.delete(type, object.metadata.namespace ?? "", object.metadata.name!, { propagationPolicy: policy })
    } catch (error) {
      if (!(error instanceof Errors.StatusError && error.code === 404)) throw error
    }
  }

  /** One pass of the garbage collector and the namespace controller. */
  collect(): void {
    const everything: Array<{ key: string; object: KubeObject }> = []
    for (const key of this.store.keys()) {
      const view = this.store.snapshot(key)
      for (const id of view?.ids ?? []) everything.push({ key, object: view!.get(id)! })
    }
    const dependents = new Map<string, Array<{ key: string; object: KubeObject }>>()
    for (const entry of everything) {
      for (const owner of entry.object.metadata.ownerReferences ?? []) {
        const list = dependents.get(owner.uid) ?? []
        list.push(entry)
        dependents.set(owner.uid, list)
      }
    }
    for (const entry of everything) {
      const key = entry.key
      const object = this.store.get(key, entry.object.metadata.namespace ?? "", entry.object.metadata.name!)
      if (object === undefined || object.metadata.uid !== entry.object.metadata.uid) continue
      const uid = object.metadata.uid!
      const finalizers = object.metadata.finalizers ?? []
      const deleting = object.metadata.deletionTimestamp !== undefined
      if (deleting && finalizers.includes("orphan")) {
        for (const dependent of dependents.get(uid) ?? []) this.dropOwner(dependent.key, dependent.object, uid)
        this.removeFinalizer(key, object, "orphan")
        continue
      }
      if (deleting && finalizers.includes("foregroundDeletion")) {
        const mine = dependents.get(uid) ?? []
        if (mine.length === 0) this.removeFinalizer(key, object, "foregroundDeletion")
        else for (const dependent of mine) this.deleteQuietly(dependent.key, dependent.object, "Foreground")
        continue
      }
      if (deleting && key === CRD_KEY && finalizers.includes("customresourcecleanup.apiextensions.k8s.io")) {
        const names = (object["spec"] as { group: string; names: { plural: string } })
        const crKey = `${names.group}/${names.names.plural}`
        const remaining = this.store.list(crKey) ?? []
        if (remaining.length === 0) {
          this.registry.remove(names.group, names.names.plural)
          this.removeFinalizer(key, object, "customresourcecleanup.apiextensions.k8s.io")
        } else for (const cr of remaining) this.deleteQuietly(crKey, cr, "Background")
        continue
      }
      if (key === NAMESPACE_KEY && deleting) {
        this.finalizeNamespace(object)
        continue
      }
      const owners = object.metadata.ownerReferences ?? []
      if (owners.length > 0 && !deleting) {
        const alive = owners.filter((owner) => this.uidIndex.has(owner.uid))
        if (alive.length === 0) this.deleteQuietly(key, object, "Background")
        else if (alive.length < owners.length) {
          const type = this.typeOfKey(key)
          if (type !== undefined) this.update(type, object.metadata.namespace ?? "", object.metadata.name!, { ...object, metadata: { ...object.metadata, ownerReferences: alive } })
        }
      }
    }
  }

  private dropOwner(key: string, object: KubeObject, ownerUid: string): void {
    const type = this.typeOfKey(key)
    if (type === undefined) return
    const owners = (object.metadata.ownerReferences ?? []).filter((owner) => owner.uid !== ownerUid)
    const next: KubeObject = { ...object, metadata: { ...object.metadata, ownerReferences: owners } }
    if (owners.length === 0) delete next.metadata.ownerReferences
    this.update(type, object.metadata.namespace ?? "", object.metadata.name!, next)
  }

  /** Deletes what a terminating namespace holds; when nothing is left, lifts its `kubernetes` finalizer. */
  private finalizeNamespace(namespace: KubeObject): void {
    const name = namespace.metadata.name!
    let remaining = 0
    for (const key of this.store.keys()) {
      const type = this.typeOfKey(key)
      if (type === undefined || !type.namespaced) continue
      for (const object of this.store.list(key, name) ?? []) {
        remaining++
        this.deleteQuietly(key, object, "Background")
      }
    }
    const spec = (namespace["spec"] ?? {}) as { finalizers?: Array<string> }
    if (remaining > 0 || !(spec.finalizers ?? []).includes("kubernetes")) {
      if (remaining === 0 && (namespace.metadata.finalizers ?? []).length === 0) this.store.remove(NAMESPACE_KEY, "", name)
      return
    }
    const next: KubeObject = { ...namespace, spec: { ...spec, finalizers: (spec.finalizers ?? []).filter((f) => f !== "kubernetes") } }
    const updated = this.store.update(NAMESPACE_KEY, next)
    if ((updated.metadata.finalizers ?? []).length === 0) this.store.remove(NAMESPACE_KEY, "", name)
  }

  // -------------------------------------------------------------------------------------------------------------
  // CRDs

  private syncCrd(change: Change): void {
    if (change.type === "DELETED") return
    const crd = change.object
    const spec = crd["spec"] as CrdSpec | undefined
    if (spec === undefined || crd.metadata.deletionTimestamp !== undefined) return
    for (const version of spec.versions ?? []) {
      if (version.served === false) continue
      this.registry.add(crdResourceType(spec, version))
    }
    const status = crd["status"] as { conditions?: Array<{ type: string; status: string }> } | undefined
    const established = (status?.conditions ?? []).some((condition) => condition.type === "Established" && condition.status === "True")
    if (!established) {
      setImmediate(() => {
        const current = this.store.get(CRD_KEY, "", crd.metadata.name!)
        if (current === undefined || current.metadata.deletionTimestamp !== undefined) return
        const time = now()
        current["status"] = {
          conditions: [
            { type: "NamesAccepted", status: "True", lastTransitionTime: time, reason: "NoConflicts", message: "no conflicts found" },
            { type: "Established", status: "True", lastTransitionTime: time, reason: "InitialNamesAccepted", message: "the initial names have been accepted" }
          ],
          acceptedNames: spec.names,
          storedVersions: (spec.versions ?? []).filter((version) => version.storage === true).map((version) => version.name)
        }
        this.store.update(CRD_KEY, current)
      })
    }
  }
}

interface CrdVersion {
  name: string
  schema?: { openAPIV3Schema?: SchemaProps }
  served?: boolean
  storage?: boolean
  subresources?: { status?: object; scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string } }
  additionalPrinterColumns?: Array<{ name: string; type: string; jsonPath: string; description?: string; priority?: number; format?: string }>
}

interface CrdSpec {
  group: string
  scope: "Namespaced" | "Cluster"
  names: { plural: string; singular?: string; kind: string; listKind?: string; shortNames?: Array<string>; categories?: Array<string> }
  versions?: Array<CrdVersion>
}

const crdResourceType = (spec: CrdSpec, version: CrdVersion): ResourceType => ({
  group: spec.group,
  version: version.name,
  resource: spec.names.plural,
  kind: spec.names.kind,
  listKind: spec.names.listKind ?? `${spec.names.kind}List`,
  singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
  namespaced: spec.scope === "Namespaced",
  shortNames: spec.names.shortNames ?? [],
  categories: spec.names.categories ?? [],
  verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
  subresources: [...(version.subresources?.status === undefined ? [] : ["status"]), ...(version.subresources?.scale === undefined ? [] : ["scale"])],
  fieldSelectors: [],
  ...(version.additionalPrinterColumns === undefined ? {} : { printerColumns: version.additionalPrinterColumns }),
  ...(version.subresources?.scale === undefined ? {} : { scale: version.subresources.scale }),
  custom: true
})

