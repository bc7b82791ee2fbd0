/**
 * Server-side apply and managed-fields tracking as a real API server does them: the structured-merge-diff v4 merge,
 * prune and conflict rules (`sigs.k8s.io/structured-merge-diff/merge/update.go`) wrapped in the apiserver's field
 * manager layers (`k8s.io/apimachinery/pkg/util/managedfields/internal`: strip of system fields, managed-fields
 * timestamps, the cap of ten Update entries, `before-first-apply`, the kubectl last-applied upgrade), as pure
 * functions over JSON objects.
 */
import { StatusError, type StatusBody, badRequest } from "./errors.ts"
import {
  FieldSet,
  type Json,
  type Path,
  type PathElement,
  compareStrings,
  elementString,
  fieldElement,
  goJson,
  goQuote,
  keyElement,
  pathString,
  serializeElement,
  valueElement
} from "./fieldset.ts"
import type { SchemaProps } from "./schema-types.ts"
import type { KubeObject } from "./types.ts"

type JsonObject = { [key: string]: Json }

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === "object" && !Array.isArray(value)
const hasOwn = (object: object, key: string) => Object.hasOwn(object, key)
const clone = <T>(value: T): T => structuredClone(value)

const deepEqual = (a: Json | undefined, b: Json | undefined): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, index) => deepEqual(item, b[index]))
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((key) => hasOwn(b, key) && deepEqual(a[key], b[key]))
  }
  return false
}

// ---------------------------------------------------------------------------------------------------------------
// Shapes

/** How a list merges: replaced whole (`atomic`), as a set of scalars, or item by item by its key fields. */
export type ListType =
  | { type: "atomic" }
  | { type: "set" }
  | { type: "map"; keys: ReadonlyArray<string>; /** Keys an item may leave out (e.g. DRA `shareID`). */ optional?: ReadonlyArray<string> }

/** The merge semantics of one node of an object, as the OpenAPI schema's list/map/struct markers give them. */
export interface Shape {
  /** For arrays: how the list merges. Absent means atomic. */
  list?: ListType
  /** For objects: replaced whole (`x-kubernetes-map-type: atomic`, `+structType=atomic`). */
  atomic?: boolean
  /** Whether `name` is a declared field (a struct member) rather than a key of a map. Absent means declared. */
  declares?(name: string): boolean
  /** The schema default of a scalar: what a list-map item that leaves out this key field is keyed by. */
  default?: Json
  /** Root only: a typed built-in kind; nulls and maps or lists emptied by pruning are dropped as Go's encoding drops them. */
  omitEmpty?: boolean
  /** Root only: the kind serves a `status` subresource (main-resource writes do not own `status`, status writes do not own `spec`). */
  statusSubresource?: boolean
  /** Root only: the JSON of the kind's zero object: the old object of a create, as the real server compares against. */
  zero?: JsonObject
  field(name: string): Shape
  item(): Shape
}

const TYPED: Shape = { field: () => TYPED, item: () => TYPED }
const leaf = (value: Json): Shape => ({ default: value, field: () => TYPED, item: () => TYPED })
const struct = (fields: Readonly<Record<string, Shape>>, atomic = false): Shape => ({
  ...(atomic ? { atomic } : {}),
  field: (name) => (hasOwn(fields, name) ? fields[name]! : TYPED),
  item: () => TYPED
})
const ATOMIC = struct({}, true)
const mapOf = (value: Shape = TYPED, atomic = false): Shape => ({ ...(atomic ? { atomic } : {}), declares: () => false, field: () => value, item: () => TYPED })
const listMap = (keys: ReadonlyArray<string>, item: Shape, optional?: ReadonlyArray<string>): Shape => ({
  list: optional === undefined ? { type: "map", keys } : { type: "map", keys, optional },
  field: () => TYPED,
  item: () => item
})
const SET: Shape = { list: { type: "set" }, field: () => TYPED, item: () => TYPED }

const NAMED = struct({ name: leaf("") })
const CONDITIONS = listMap(["type"], struct({ type: leaf("") }))
const OBJECT_META = struct({
  labels: mapOf(),
  annotations: mapOf(),
  finalizers: SET,
  ownerReferences: listMap(["uid"], struct({ uid: leaf("") }, true))
})
const RESOURCES = struct({ limits: mapOf(), requests: mapOf(), claims: listMap(["name"], NAMED) })
const ENV_VAR = struct({
  name: leaf(""),
  valueFrom: struct({ configMapKeyRef: ATOMIC, secretKeyRef: ATOMIC, fieldRef: ATOMIC, resourceFieldRef: ATOMIC, fileKeyRef: ATOMIC })
})
const CONTAINER = struct({
  name: leaf(""),
  env: listMap(["name"], ENV_VAR),
  ports: listMap(["containerPort", "protocol"], struct({ containerPort: leaf(0), protocol: leaf("TCP") })),
  resources: RESOURCES,
  volumeMounts: listMap(["mountPath"], struct({ mountPath: leaf("") })),
  volumeDevices: listMap(["devicePath"], struct({ devicePath: leaf("") }))
})
const PVC_SPEC = struct({ selector: ATOMIC, dataSource: ATOMIC, resources: struct({ limits: mapOf(), requests: mapOf() }) })
const VOLUME = struct({
  name: leaf(""),
  csi: struct({ nodePublishSecretRef: ATOMIC, volumeAttributes: mapOf() }),
  ephemeral: struct({ volumeClaimTemplate: struct({ metadata: OBJECT_META, spec: PVC_SPEC }) })
})
const POD_SPEC = struct({
  volumes: listMap(["name"], VOLUME),
  initContainers: listMap(["name"], CONTAINER),
  containers: listMap(["name"], CONTAINER),
  ephemeralContainers: listMap(["name"], CONTAINER),
  imagePullSecrets: listMap(["name"], ATOMIC),
  hostAliases: listMap(["ip"], TYPED),
  topologySpreadConstraints: listMap(
    ["topologyKey", "whenUnsatisfiable"],
    struct({ topologyKey: leaf(""), whenUnsatisfiable: leaf(""), labelSelector: ATOMIC })
  ),
  resourceClaims: listMap(["name"], NAMED),
  schedulingGates: listMap(["name"], NAMED),
  nodeSelector: mapOf(TYPED, true),
  overhead: mapOf(),
  affinity: struct({ nodeAffinity: struct({ requiredDuringSchedulingIgnoredDuringExecution: ATOMIC }) }),
  resources: RESOURCES
})
const POD_STATUS = struct({ conditions: CONDITIONS, podIPs: listMap(["ip"], TYPED), resourceClaimStatuses: listMap(["name"], NAMED) })
const POD_TEMPLATE = struct({ metadata: OBJECT_META, spec: POD_SPEC })
const TEMPLATE_ZERO: JsonObject = { metadata: { creationTimestamp: null }, spec: { containers: null } }
const WORKLOAD = (status: Shape = struct({ conditions: CONDITIONS })) => ({ spec: struct({ selector: ATOMIC, template: POD_TEMPLATE }), status })

const kind = (fields: Readonly<Record<string, Shape>>, options: { status?: boolean; zero?: JsonObject } = {}): Shape => ({
  ...struct({ metadata: OBJECT_META, ...fields }),
  omitEmpty: true,
  ...(options.status === true ? { statusSubresource: true } : {}),
  zero: { metadata: { creationTimestamp: null }, ...options.zero }
})

const CLAIM_SPEC_ZERO: JsonObject = { devices: { requests: null } }

/** The built-in kinds by `group/Kind`, with the list types and atomic structs of the Kubernetes 1.35 OpenAPI. */
const BUILTIN_SHAPES: Readonly<Record<string, Shape>> = {
  "/Pod": kind({ spec: POD_SPEC, status: POD_STATUS }, { status: true, zero: { spec: { containers: null }, status: {} } }),
  "/PodTemplate": kind({ template: POD_TEMPLATE }, { zero: { template: TEMPLATE_ZERO } }),
  "/ConfigMap": kind({ data: mapOf(), binaryData: mapOf() }),
  "/Secret": kind({ data: mapOf(), stringData: mapOf() }),
  "/ServiceAccount": kind({ secrets: listMap(["name"], ATOMIC) }),
  "/Namespace": kind({ status: struct({ conditions: CONDITIONS }) }, { status: true, zero: { spec: {}, status: {} } }),
  "/Node": kind(
    {
      spec: struct({ podCIDRs: SET }),
      status: struct({ conditions: CONDITIONS, addresses: listMap(["type"], struct({ type: leaf("") })), capacity: mapOf(), allocatable: mapOf() })
    },
    {
      status: true,
      zero: {
        spec: {},
        status: {
          daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
          nodeInfo: {
            machineID: "",
            systemUUID: "",
            bootID: "",
            kernelVersion: "",
            osImage: "",
            containerRuntimeVersion: "",
            kubeletVersion: "",
            kubeProxyVersion: "",
            operatingSystem: "",
            architecture: ""
          }
        }
      }
    }
  ),
  "/Service": kind(
    {
      spec: struct({ ports: listMap(["port", "protocol"], struct({ port: leaf(0), protocol: leaf("TCP") })), selector: mapOf(TYPED, true) }),
      status: struct({ conditions: CONDITIONS })
    },
    { status: true, zero: { spec: {}, status: { loadBalancer: {} } } }
  ),
  "/Event": kind(
    { involvedObject: ATOMIC, related: ATOMIC },
    {
      zero: {
        involvedObject: {},
        source: {},
        firstTimestamp: null,
        lastTimestamp: null,
        eventTime: null,
        reportingComponent: "",
        reportingInstance: ""
      }
    }
  ),
  "events.k8s.io/Event": kind(
    { regarding: ATOMIC, related: ATOMIC },
    { zero: { eventTime: null, regarding: {}, deprecatedSource: {}, deprecatedFirstTimestamp: null, deprecatedLastTimestamp: null } }
  ),
  "discovery.k8s.io/EndpointSlice": kind({}, { zero: { addressType: "", endpoints: null } }),
  "batch/Job": kind(
    { spec: struct({ selector: ATOMIC, template: POD_TEMPLATE }), status: struct({ uncountedTerminatedPods: struct({ succeeded: SET, failed: SET }) }) },
    { status: true, zero: { spec: { template: TEMPLATE_ZERO }, status: {} } }
  ),
  "apps/Deployment": kind(WORKLOAD(), { status: true, zero: { spec: { selector: null, template: TEMPLATE_ZERO, strategy: {} }, status: {} } }),
  "apps/StatefulSet": kind(WORKLOAD(), {
    status: true,
    zero: { spec: { selector: null, template: TEMPLATE_ZERO, updateStrategy: {} }, status: { replicas: 0, availableReplicas: 0 } }
  }),
  "apps/DaemonSet": kind(WORKLOAD(), {
    status: true,
    zero: {
      spec: { selector: null, template: TEMPLATE_ZERO, updateStrategy: {} },
      status: { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 }
    }
  }),
  "apps/ReplicaSet": kind(WORKLOAD(), { status: true, zero: { spec: { selector: null, template: TEMPLATE_ZERO }, status: { replicas: 0 } } }),
  "coordination.k8s.io/Lease": kind({}, { zero: { spec: {} } }),
  "apiextensions.k8s.io/CustomResourceDefinition": kind(
    { status: struct({ conditions: CONDITIONS }) },
    {
      status: true,
      zero: {
        spec: { group: "", names: { plural: "", kind: "" }, scope: "", versions: null },
        status: { acceptedNames: { plural: "", kind: "" }, storedVersions: null }
      }
    }
  ),
  "resource.k8s.io/DeviceClass": kind({}, { zero: { spec: {} } }),
  "resource.k8s.io/ResourceSlice": kind(
    { spec: struct({ nodeSelector: ATOMIC }) },
    { zero: { spec: { driver: "", pool: { name: "", generation: 0, resourceSliceCount: 0 } } } }
  ),
  "resource.k8s.io/ResourceClaim": kind(
    {
      status: struct({
        allocation: struct({ nodeSelector: ATOMIC }),
        reservedFor: listMap(["uid"], struct({ uid: leaf("") })),
        devices: listMap(
          ["driver", "device", "pool", "shareID"],
          struct({ driver: leaf(""), device: leaf(""), pool: leaf(""), conditions: CONDITIONS }),
          ["shareID"]
        )
      })
    },
    { status: true, zero: { spec: CLAIM_SPEC_ZERO, status: {} } }
  ),
  "resource.k8s.io/ResourceClaimTemplate": kind(
    { spec: struct({ metadata: OBJECT_META }) },
    { zero: { spec: { metadata: { creationTimestamp: null }, spec: CLAIM_SPEC_ZERO } } }
  ),
  "rbac.authorization.k8s.io/Role": kind({}, { zero: { rules: null } }),
  "rbac.authorization.k8s.io/ClusterRole": kind({}, { zero: { rules: null } }),
  "rbac.authorization.k8s.io/RoleBinding": kind({ roleRef: ATOMIC }, { zero: { roleRef: { apiGroup: "", kind: "", name: "" } } }),
  "rbac.authorization.k8s.io/ClusterRoleBinding": kind({ roleRef: ATOMIC }, { zero: { roleRef: { apiGroup: "", kind: "", name: "" } } })
}

const GENERIC_KIND = kind({})

/**
 * The merge shape of a built-in kind: the list-map keys (containers, env, volumes, volumeMounts by name or mount
 * path, ports by containerPort+protocol, conditions by type, ownerReferences by uid…), sets (finalizers), atomic
 * lists (the default: args, command, tolerations, DRA device requests…) and atomic structs (label selectors, object
 * references) of the real OpenAPI schema. Unknown kinds get a shape that only knows `metadata`.
 */
export const builtinShape = (group: string, kind: string): Shape => BUILTIN_SHAPES[`${group}/${kind}`] ?? GENERIC_KIND

/** Preserve-unknown-fields and untyped content: maps merge key by key (keys are not declared fields), lists are atomic. */
const DEDUCED: Shape = { declares: () => false, field: () => DEDUCED, item: () => DEDUCED }

const schemaShapes = new WeakMap<SchemaProps, Shape>()

const fromSchema = (schema: SchemaProps): Shape => {
  const cached = schemaShapes.get(schema)
  if (cached !== undefined) return cached
  const defaults = schema.default === undefined ? {} : { default: schema.default as Json }
  let shape: Shape
  if (schema.type === "array" || schema.items !== undefined) {
    const listType = schema["x-kubernetes-list-type"]
    const keys = schema["x-kubernetes-list-map-keys"] ?? []
    const list: ListType = listType === "set" ? { type: "set" } : listType === "map" ? { type: "map", keys } : { type: "atomic" }
    const items = schema.items ?? {}
    shape = { list, ...defaults, field: () => DEDUCED, item: () => fromSchema(items) }
  } else if (schema.type === "object" || schema.properties !== undefined || schema.additionalProperties !== undefined) {
    const properties = schema.properties ?? {}
    const embedded = schema["x-kubernetes-embedded-resource"] === true
    const additional = schema.additionalProperties
    const values = typeof additional === "object" ? fromSchema(additional) : DEDUCED
    const declared = (name: string) => hasOwn(properties, name) || (embedded && (name === "apiVersion" || name === "kind" || name === "metadata"))
    shape = {
      ...(schema["x-kubernetes-map-type"] === "atomic" ? { atomic: true } : {}),
      ...defaults,
      declares: declared,
      field: (name) => (hasOwn(properties, name) ? fromSchema(properties[name]!) : embedded && name === "metadata" ? OBJECT_META : values),
      item: () => DEDUCED
    }
  } else {
    shape = { ...defaults, field: () => DEDUCED, item: () => DEDUCED }
  }
  schemaShapes.set(schema, shape)
  return shape
}

/**
 * The merge shape of a custom resource from its CRD version's `openAPIV3Schema`: `x-kubernetes-list-type`
 * (lists without one are atomic), `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`, `additionalProperties`
 * maps and preserve-unknown-fields content; `metadata` merges as ObjectMeta. Pass `statusSubresource` when the
 * version serves `/status`.
 */
export const schemaShape = (schema: SchemaProps, options: { statusSubresource?: boolean } = {}): Shape => {
  const root = fromSchema(schema)
  return {
    ...(options.statusSubresource === true ? { statusSubresource: true } : {}),
    declares: (name) => name === "apiVersion" || name === "kind" || name === "metadata" || (root.declares?.(name) ?? true),
    field: (name) => (name === "metadata" ? OBJECT_META : root.field(name)),
    item: () => DEDUCED
  }
}

const declares = (shape: Shape, name: string): boolean => shape.declares?.(name) ?? true
const listTypeOf = (shape: Shape): ListType => {
  const list = shape.list ?? { type: "atomic" }
  return list.type === "map" && list.keys.length === 0 ? { type: "set" } : list
}
const shapeAt = (root: Shape, path: Path): Shape => path.reduce((shape, element) => (element.kind === "field" ? shape.field(element.name) : shape.item()), root)

// ---------------------------------------------------------------------------------------------------------------
// Typed values: list item identity, field sets, merge, compare, removal

/** A value the typed conversion rejects (a list-map item without its key, duplicates in an applied list…). */
class TypedError extends Error {
  readonly issues: ReadonlyArray<string>
  constructor(issues: ReadonlyArray<string>) {
    super(issues.length === 1 ? issues[0]! : ["errors:", ...issues.map((issue) => `  ${issue}`)].join("\n"))
    this.issues = issues
  }
}

/** The path element of a list item, or why the item cannot have one (`listItemToPathElement`). */
const itemElement = (list: ListType, itemShape: Shape, item: Json, index: number): PathElement | string => {
  if (list.type === "set") {
    if (item === null) return "associative list without keys has an element that's an explicit null"
    if (Array.isArray(item)) return "not supported: associative list with lists as elements"
    if (isObject(item)) return "associative list without keys has an element that's a map type"
    return valueElement(item)
  }
  if (list.type === "map") {
    if (item === null) return "associative list with keys may not have a null element"
    if (!isObject(item)) return "associative list with keys may not have non-map elements"
    const fields: Array<readonly [string, Json]> = []
    for (const key of list.keys) {
      if (hasOwn(item, key)) fields.push([key, item[key]!])
      else {
        const fallback = itemShape.field(key).default
        if (fallback !== undefined) fields.push([key, fallback])
        else if (!(list.optional ?? []).includes(key)) {
          return `associative list with keys has an element that omits key field ${goQuote(key)} (and doesn't have default value)`
        }
      }
    }
    return keyElement(fields)
  }
  return { kind: "index", index }
}

interface Indexed {
  readonly element: PathElement
  readonly id: string
  readonly item: Json
}

const indexList = (items: ReadonlyArray<Json>, list: ListType, itemShape: Shape, path: Path): Array<Indexed> =>
  items.map((item, index) => {
    const element = itemElement(list, itemShape, item, index)
    if (typeof element === "string") throw new TypedError([`${pathString(path)}: element ${index}: ${element}`])
    return { element, id: serializeElement(element), item }
  })

/** The typed conversion's checks: every list-map and set item has an identity; no duplicates unless allowed. */
const validate = (value: Json, shape: Shape, path: Path, allowDuplicates: boolean, issues: Array<string>): void => {
  if (Array.isArray(value)) {
    const list = listTypeOf(shape)
    if (list.type === "atomic") return
    const seen = new Set<string>()
    for (const [index, item] of value.entries()) {
      const element = itemElement(list, shape.item(), item, index)
      if (typeof element === "string") {
        issues.push(`${pathString(path)}: element ${index}: ${element}`)
        return
      }
      const id = serializeElement(element)
      if (seen.has(id) && !allowDuplicates) issues.push(`${pathString(path)}: duplicate entries for key ${elementString(element)}`)
      seen.add(id)
      validate(item, shape.item(), [...path, element], allowDuplicates, issues)
    }
    return
  }
  if (isObject(value) && shape.atomic !== true) {
    for (const [key, child] of Object.entries(value)) validate(child, shape.field(key), [...path, fieldElement(key)], allowDuplicates, issues)
  }
}

const typedIssues = (value: Json, shape: Shape, allowDuplicates: boolean): ReadonlyArray<string> => {
  const issues: Array<string> = []
  validate(value, shape, [], allowDuplicates, issues)
  return issues
}

/** `TypedValue.ToFieldSet`: leaves, list items and atomic values; map entries that are null, empty or undeclared keys. */
const collectFields = (value: Json, shape: Shape, path: Path, out: Array<Path>): void => {
  if (Array.isArray(value)) {
    const list = listTypeOf(shape)
    if (list.type === "atomic") {
      out.push(path)
      return
    }
    const indexed = indexList(value, list, shape.item(), path)
    const counts = new Map<string, number>()
    for (const entry of indexed) counts.set(entry.id, (counts.get(entry.id) ?? 0) + 1)
    const done = new Set<string>()
    for (const entry of indexed) {
      const itemPath = [...path, entry.element]
      if ((counts.get(entry.id) ?? 0) > 1) {
        if (!done.has(entry.id)) out.push(itemPath)
        done.add(entry.id)
        continue
      }
      collectFields(entry.item, shape.item(), itemPath, out)
      out.push(itemPath)
    }
    return
  }
  if (isObject(value)) {
    if (shape.atomic === true) {
      out.push(path)
      return
    }
    for (const [key, child] of Object.entries(value)) {
      const childPath = [...path, fieldElement(key)]
      collectFields(child, shape.field(key), childPath, out)
      if (child === null || (isObject(child) && Object.keys(child).length === 0) || !declares(shape, key)) out.push(childPath)
    }
    return
  }
  out.push(path)
}

const toFieldSet = (value: Json, shape: Shape): FieldSet => {
  const out: Array<Path> = []
  collectFields(value, shape, [], out)
  return FieldSet.of(out)
}

/** `Set.EnsureNamedFieldsAreMembers`: declared fields with owned children become members themselves. */
const ensureNamed = (set: FieldSet, root: Shape): FieldSet =>
  set.mapNodes((path, children) => {
    const shape = shapeAt(root, path)
    return children.filter((element) => element.kind === "field" && declares(shape, element.name))
  })

const listish = (value: Json | undefined): value is Array<Json> | null | undefined => value === undefined || value === null || Array.isArray(value)
const mapish = (value: Json | undefined): value is JsonObject | null | undefined => value === undefined || value === null || isObject(value)

/** Merges `rhs` into `lhs` (`TypedValue.Merge`, keep-RHS rule): granular maps and lists merge, everything else is replaced. */
const mergeValues = (lhs: Json | undefined, rhs: Json | undefined, shape: Shape, path: Path): Json | undefined => {
  if (rhs === undefined) return lhs === undefined ? undefined : clone(lhs)
  if (lhs === undefined) return clone(rhs)
  if (Array.isArray(lhs) || Array.isArray(rhs)) {
    const list = listTypeOf(shape)
    if (list.type === "atomic" || !listish(lhs) || !listish(rhs)) return clone(rhs)
    const left = lhs ?? []
    const right = rhs ?? []
    if (left.length === 0 && right.length === 0) return clone(rhs)
    return mergeLists(left, right, list, shape.item(), path)
  }
  if (isObject(lhs) || isObject(rhs)) {
    if (shape.atomic === true || !mapish(lhs) || !mapish(rhs)) return clone(rhs)
    const left = lhs ?? {}
    const right = rhs ?? {}
    if (Object.keys(left).length === 0 && Object.keys(right).length === 0) return clone(rhs)
    const out: JsonObject = {}
    for (const [key, value] of Object.entries(left)) {
      const merged = mergeValues(value, hasOwn(right, key) ? right[key] : undefined, shape.field(key), [...path, fieldElement(key)])
      if (merged !== undefined) out[key] = merged
    }
    for (const [key, value] of Object.entries(right)) if (!hasOwn(left, key)) out[key] = clone(value)
    return out
  }
  return clone(rhs)
}

/**
 * The item order of a merged granular list: live items keep their places, applied items come in applied order,
 * an applied item new to the list goes before the next live item the applied list shares.
 */
const mergeLists = (lhs: ReadonlyArray<Json>, rhs: ReadonlyArray<Json>, list: ListType, itemShape: Shape, path: Path): Array<Json> => {
  const left = indexList(lhs, list, itemShape, path)
  const right = indexList(rhs, list, itemShape, path)
  const rightItems = new Map(right.map((entry) => [entry.id, entry.item]))
  const leftItems = new Map<string, Json | undefined>()
  for (const entry of left) leftItems.set(entry.id, leftItems.has(entry.id) ? undefined : entry.item)
  const shared = right.filter((entry) => leftItems.has(entry.id)).map((entry) => entry.id)
  let sharedAt = 0
  let nextShared = shared[sharedAt++]
  const merged = new Set<string>()
  const out: Array<Json> = []
  const mergeItem = (entry: Indexed) => {
    merged.add(entry.id)
    const value = mergeValues(leftItems.get(entry.id), rightItems.get(entry.id), itemShape, [...path, entry.element])
    if (value !== undefined) out.push(value)
  }
  let l = 0
  let r = 0
  while (l < left.length || r < right.length) {
    if (l < left.length && r < right.length) {
      const id = left[l]!.id
      if (id === right[r]!.id) {
        mergeItem(right[r]!)
        l++
        r++
        nextShared = shared[sharedAt++]
        continue
      }
      if (rightItems.has(id) && nextShared !== undefined && nextShared !== id) {
        l++
        continue
      }
    }
    if (l < left.length) {
      const entry = left[l]!
      if (!rightItems.has(entry.id)) {
        out.push(clone(entry.item))
        l++
        continue
      }
      if (merged.has(entry.id)) {
        l++
        continue
      }
    }
    if (r < right.length) {
      const entry = right[r]!
      mergeItem(entry)
      r++
      if (nextShared === entry.id) nextShared = shared[sharedAt++]
    }
  }
  return out
}

interface Comparison {
  readonly added: FieldSet
  readonly modified: FieldSet
  readonly removed: FieldSet
}

/** `TypedValue.Compare`: leaves added, modified or removed, and granular maps and lists that appeared or disappeared. */
const compare = (lhs: Json, rhs: Json, shape: Shape): Comparison => {
  const added: Array<Path> = []
  const modified: Array<Path> = []
  const removed: Array<Path> = []
  const walk = (left: Json | undefined, right: Json | undefined, node: Shape, path: Path): void => {
    const granularList = (Array.isArray(left) || Array.isArray(right)) && listTypeOf(node).type !== "atomic" && listish(left) && listish(right)
    const granularMap =
      !Array.isArray(left) && !Array.isArray(right) && (isObject(left) || isObject(right)) && node.atomic !== true && mapish(left) && mapish(right)
    if (granularList) {
      const l = (left ?? []) as Array<Json>
      const r = (right ?? []) as Array<Json>
      if (l.length > 0 || r.length > 0) {
        const list = listTypeOf(node)
        const leftItems = new Map<string, Indexed>()
        const rightItems = new Map<string, Indexed>()
        for (const entry of indexList(l, list, node.item(), path)) if (!leftItems.has(entry.id)) leftItems.set(entry.id, entry)
        for (const entry of indexList(r, list, node.item(), path)) if (!rightItems.has(entry.id)) rightItems.set(entry.id, entry)
        for (const [id, entry] of leftItems) walk(entry.item, rightItems.get(id)?.item, node.item(), [...path, entry.element])
        for (const [id, entry] of rightItems) if (!leftItems.has(id)) walk(undefined, entry.item, node.item(), [...path, entry.element])
        after(left, right, path)
        return
      }
    } else if (granularMap) {
      const l = (left ?? {}) as JsonObject
      const r = (right ?? {}) as JsonObject
      if (Object.keys(l).length > 0 || Object.keys(r).length > 0) {
        for (const [key, value] of Object.entries(l)) walk(value, hasOwn(r, key) ? r[key] : undefined, node.field(key), [...path, fieldElement(key)])
        for (const [key, value] of Object.entries(r)) if (!hasOwn(l, key)) walk(undefined, value, node.field(key), [...path, fieldElement(key)])
        after(left, right, path)
        return
      }
    }
    if (left === undefined) added.push(path)
    else if (right === undefined) removed.push(path)
    else if (!deepEqual(left, right)) modified.push(path)
  }
  const after = (left: Json | undefined, right: Json | undefined, path: Path) => {
    if (left === undefined) added.push(path)
    else if (right === undefined) removed.push(path)
  }
  walk(lhs, rhs, shape, [])
  return { added: FieldSet.of(added), modified: FieldSet.of(modified), removed: FieldSet.of(removed) }
}

/** `TypedValue.RemoveItems`: drops the members of `set`; typed kinds also lose the maps and lists this empties. */
const removeItems = (value: Json, set: FieldSet, shape: Shape, omitEmpty: boolean): Json => {
  const emptied = (before: Json, after: Json) =>
    omitEmpty && ((Array.isArray(after) && after.length === 0 && Array.isArray(before) && before.length > 0) ||
      (isObject(after) && Object.keys(after).length === 0 && isObject(before) && Object.keys(before).length > 0))
  if (Array.isArray(value)) {
    const list = listTypeOf(shape)
    if (value.length === 0 || list.type === "atomic") return value
    const out: Array<Json> = []
    for (const entry of indexList(value, list, shape.item(), [])) {
      if (set.hasMember(entry.element)) continue
      const below = set.child(entry.element)
      out.push(below === undefined ? entry.item : removeItems(entry.item, below, shape.item(), omitEmpty))
    }
    return out
  }
  if (isObject(value)) {
    if (shape.atomic === true) return value
    const out: JsonObject = {}
    for (const [key, child] of Object.entries(value)) {
      const element = fieldElement(key)
      if (set.hasMember(element)) continue
      const below = set.child(element)
      if (below === undefined) {
        out[key] = child
        continue
      }
      const kept = removeItems(child, below, shape.field(key), omitEmpty)
      if (!emptied(child, kept)) out[key] = kept
    }
    return out
  }
  return value
}

const dropNulls = (value: Json): Json => {
  if (Array.isArray(value)) return value.map(dropNulls)
  if (!isObject(value)) return value
  const out: JsonObject = {}
  for (const [key, child] of Object.entries(value)) if (child !== null) out[key] = dropNulls(child)
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Managers

/** One `metadata.managedFields` entry, decoded. */
interface Entry {
  readonly manager: string
  readonly operation: "Apply" | "Update"
  readonly apiVersion: string
  readonly subresource?: string
  readonly time?: string
  readonly set: FieldSet
}

type Managers = Map<string, Entry>

/** `BuildManagerIdentifier`: the entry without fields and time; Apply entries without their apiVersion. */
const identifier = (entry: Pick<Entry, "manager" | "operation" | "apiVersion" | "subresource">): string =>
  goJson({
    ...(entry.manager === "" ? {} : { manager: entry.manager }),
    operation: entry.operation,
    ...(entry.operation === "Update" && entry.apiVersion !== "" ? { apiVersion: entry.apiVersion } : {}),
    ...(entry.subresource === undefined || entry.subresource === "" ? {} : { subresource: entry.subresource })
  })

/** `DecodeManagedFields`, with its error texts. */
const decodeManagers = (entries: unknown): Managers => {
  const managers: Managers = new Map()
  if (entries === undefined || entries === null) return managers
  if (!Array.isArray(entries)) throw new Error("managedFields must be a list")
  for (const [index, raw] of entries.entries()) {
    if (!isObject(raw)) throw new Error(`managed fields entry ${index} must be an object`)
    const operation = raw["operation"]
    if (operation !== "Apply" && operation !== "Update") throw new Error("operation must be `Apply` or `Update`")
    const apiVersion = typeof raw["apiVersion"] === "string" ? raw["apiVersion"] : ""
    if (apiVersion.length < 1) throw new Error("apiVersion must not be empty")
    const fieldsType = typeof raw["fieldsType"] === "string" ? raw["fieldsType"] : ""
    if (fieldsType === "") throw new Error(`missing fieldsType in managed fields entry ${index}`)
    if (fieldsType !== "FieldsV1") throw new Error(`invalid fieldsType ${goQuote(fieldsType)} in managed fields entry ${index}`)
    let set: FieldSet
    try {
      set = raw["fieldsV1"] === undefined || raw["fieldsV1"] === null ? FieldSet.EMPTY : FieldSet.fromFieldsV1(raw["fieldsV1"])
    } catch (error) {
      throw new Error(`error decoding versioned set from entry ${index}: ${(error as Error).message}`)
    }
    const manager = typeof raw["manager"] === "string" ? raw["manager"] : ""
    const subresource = typeof raw["subresource"] === "string" && raw["subresource"] !== "" ? raw["subresource"] : undefined
    const time = typeof raw["time"] === "string" ? raw["time"] : undefined
    const entry: Entry = { manager, operation, apiVersion, set, ...(subresource === undefined ? {} : { subresource }), ...(time === undefined ? {} : { time }) }
    managers.set(identifier(entry), entry)
  }
  return managers
}

const seconds = (time: string | undefined): number => {
  if (time === undefined) return 0
  const parsed = Date.parse(time)
  return Number.isNaN(parsed) ? 0 : Math.floor(parsed / 1000)
}

/** `encodeManagedFields`: sorted by operation, time (seconds), manager, apiVersion, subresource. */
const encodeManagers = (managers: Managers): Array<Record<string, unknown>> | undefined => {
  if (managers.size === 0) return undefined
  const entries = [...managers.values()].sort(
    (a, b) =>
      compareStrings(a.operation, b.operation) ||
      seconds(a.time) - seconds(b.time) ||
      compareStrings(a.manager, b.manager) ||
      compareStrings(a.apiVersion, b.apiVersion) ||
      compareStrings(a.subresource ?? "", b.subresource ?? "")
  )
  return entries.map((entry) => ({
    manager: entry.manager,
    operation: entry.operation,
    apiVersion: entry.apiVersion,
    ...(entry.time === undefined ? {} : { time: entry.time }),
    fieldsType: "FieldsV1",
    fieldsV1: entry.set.toFieldsV1(),
    ...(entry.subresource === undefined ? {} : { subresource: entry.subresource })
  }))
}

/**
 * Fields no manager owns (`stripMetaManager`). `deletionTimestamp` and `deletionGracePeriodSeconds` are added: a
 * real server sets them outside the field manager, and the simulator may track its own deletion writes.
 */
const STRIPPED = FieldSet.of(
  [
    ["apiVersion"],
    ["kind"],
    ["metadata"],
    ["metadata", "name"],
    ["metadata", "namespace"],
    ["metadata", "creationTimestamp"],
    ["metadata", "selfLink"],
    ["metadata", "uid"],
    ["metadata", "clusterName"],
    ["metadata", "generation"],
    ["metadata", "managedFields"],
    ["metadata", "resourceVersion"],
    ["metadata", "deletionTimestamp"],
    ["metadata", "deletionGracePeriodSeconds"]
  ].map((path) => path.map(fieldElement))
)

const withSet = (entry: Entry, set: FieldSet): Entry => ({ ...entry, set })

const strip = (managers: Managers): void => {
  for (const [id, entry] of managers) {
    const set = entry.set.difference(STRIPPED)
    if (set.empty()) managers.delete(id)
    else managers.set(id, withSet(entry, set))
  }
}

/** The most Update entries an object keeps (`DefaultMaxUpdateManagers`); older ones merge into `ancient-changes`. */
const MAX_UPDATE_MANAGERS = 10

const capUpdateManagers = (managers: Managers): void => {
  const updaters = [...managers].filter(([, entry]) => entry.operation === "Update").map(([id]) => id)
  if (updaters.length <= MAX_UPDATE_MANAGERS) return
  updaters.sort((a, b) => seconds(managers.get(a)!.time) - seconds(managers.get(b)!.time) || compareStrings(a, b))
  const firstByVersion = new Map<string, string>()
  let length = updaters.length
  for (let i = 0; i < updaters.length && length > MAX_UPDATE_MANAGERS; i++) {
    const id = updaters[i]!
    const entry = managers.get(id)!
    const bucket = { manager: "ancient-changes", operation: "Update", apiVersion: entry.apiVersion } as const
    const bucketId = identifier(bucket)
    const first = firstByVersion.get(entry.apiVersion)
    if (first === undefined) {
      firstByVersion.set(entry.apiVersion, id)
      continue
    }
    let existing = managers.get(bucketId)
    if (existing === undefined) {
      existing = managers.get(first)!
      managers.delete(first)
    }
    managers.set(bucketId, { ...bucket, set: entry.set.union(existing.set), ...(entry.time === undefined ? {} : { time: entry.time }) })
    managers.delete(id)
    length--
  }
}

interface Conflict {
  readonly id: string
  readonly entry: Entry
  readonly path: Path
}

class Conflicts extends Error {
  readonly conflicts: ReadonlyArray<Conflict>
  constructor(conflicts: ReadonlyArray<Conflict>) {
    super("apply conflicts")
    this.conflicts = conflicts
  }
}

/** `printManager`: `"name"`, `"name" with subresource "status"`, and ` using v1` for Update entries. */
const printManager = (entry: Entry): string =>
  `${goQuote(entry.manager)}${entry.subresource === undefined ? "" : ` with subresource ${goQuote(entry.subresource)}`}${
    entry.operation === "Update" ? ` using ${entry.apiVersion}` : ""
  }`

/**
 * The 409 of an apply with conflicts, as `NewConflictError` writes it (k8s.io/apimachinery/pkg/util/managedfields/
 * internal/conflict.go): one cause per conflicting field, the message grouped by manager for more than one.
 */
const conflictError = (conflicts: ReadonlyArray<Conflict>): StatusError => {
  let message: string
  if (conflicts.length === 1) {
    const only = conflicts[0]!
    message = `Apply failed with 1 conflict: conflict with ${printManager(only.entry)}: ${pathString(only.path)}`
  } else {
    const lines: Array<string> = []
    const ids = [...new Set(conflicts.map((conflict) => conflict.id))].sort(compareStrings)
    for (const id of ids) {
      const mine = conflicts.filter((conflict) => conflict.id === id)
      lines.push(`conflicts with ${printManager(mine[0]!.entry)}:`, ...mine.map((conflict) => `- ${pathString(conflict.path)}`))
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`
  }
  return new StatusError(409, "Conflict", message, {
    causes: conflicts.map((conflict) => ({
      reason: "FieldManagerConflict",
      message: `conflict with ${printManager(conflict.entry)}`,
      field: pathString(conflict.path)
    }))
  })
}

/** A 500 without a reason: what a real server answers for errors it does not classify (typed conversion failures). */
class UnclassifiedError extends StatusError {
  constructor(message: string) {
    super(500, "", message)
  }

  override get body(): StatusBody {
    const { reason: _reason, ...body } = super.body
    return body as StatusBody
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The field manager

interface Context {
  readonly shape: Shape
  readonly apiVersion: string
  readonly now: string
  readonly subresource: string | undefined
  /** Fields the request's strategy resets: never owned, never conflicting. */
  readonly reset: FieldSet
}

const contextOf = (shape: Shape, apiVersion: string, now: string, subresource: string | undefined): Context => {
  const sub = subresource === undefined || subresource === "" ? undefined : subresource
  let reset = FieldSet.EMPTY
  if (shape.statusSubresource === true && sub === undefined) reset = FieldSet.of([[fieldElement("status")]])
  if (shape.statusSubresource === true && sub === "status") reset = FieldSet.of([[fieldElement("spec")]])
  return { shape, apiVersion, now, subresource: sub, reset }
}

const filtered = (comparison: Comparison, reset: FieldSet): Comparison => ({
  added: comparison.added.recursiveDifference(reset),
  modified: comparison.modified.recursiveDifference(reset),
  removed: comparison.removed.recursiveDifference(reset)
})

/**
 * `Updater.update`: fields that `newer` changes are taken from every manager but `workflow` (a conflict unless
 * forced), fields it removes are dropped from all of them.
 */
const takeChanged = (older: Json, newer: Json, managers: Managers, workflow: string, force: boolean, context: Context): Comparison => {
  const comparison = filtered(compare(older, newer, context.shape), context.reset)
  const changed = comparison.modified.union(comparison.added)
  const conflicts: Array<Conflict> = []
  for (const [id, entry] of managers) {
    if (id === workflow) continue
    for (const path of entry.set.intersection(changed).paths()) conflicts.push({ id, entry, path })
  }
  if (!force && conflicts.length > 0) {
    throw new Conflicts([...conflicts].sort((a, b) => compareStrings(a.id, b.id)))
  }
  for (const [id, entry] of managers) {
    if (id === workflow) continue
    const set = entry.set.difference(changed).difference(comparison.removed)
    if (set.empty()) managers.delete(id)
    else managers.set(id, withSet(entry, set))
  }
  return comparison
}

/** An Update by `manager` (create, PUT, patch): the fields it changed become its own, taken from everyone else. */
const recordUpdate = (older: Json, newer: Json, managers: Managers, manager: string, context: Context): Managers => {
  const next: Managers = new Map(managers)
  const comparison = takeChanged(older, newer, next, "", true, context)
  strip(next)
  const own = comparison.modified.union(comparison.added).difference(STRIPPED)
  if (!own.empty()) {
    const key = { manager, operation: "Update", apiVersion: context.apiVersion, ...(context.subresource === undefined ? {} : { subresource: context.subresource }) } as const
    const id = identifier(key)
    const previous = next.get(id)
    next.set(id, { ...key, time: context.now, set: previous === undefined ? own : own.union(previous.set) })
  }
  capUpdateManagers(next)
  return next
}

/** `Updater.prune`: what `applier` applied before and no longer applies goes, unless another manager owns it. */
const prune = (merged: Json, managers: Managers, last: FieldSet | undefined, context: Context): Json => {
  if (last === undefined || last.empty()) return merged
  const { shape } = context
  const omitEmpty = shape.omitEmpty === true
  const lastNamed = ensureNamed(last, shape)
  const pruned = removeItems(merged, lastNamed, shape, omitEmpty)
  let managed = FieldSet.EMPTY
  for (const entry of managers.values()) managed = managed.union(entry.set)
  const mergedSet = ensureNamed(toFieldSet(merged, shape), shape)
  const owned = ensureNamed(toFieldSet(pruned, shape), shape).union(ensureNamed(managed, shape))
  const ownedBack = removeItems(merged, mergedSet.difference(owned), shape, omitEmpty)
  const dangling = mergedSet.difference(ensureNamed(toFieldSet(ownedBack, shape), shape)).intersection(lastNamed)
  return removeItems(merged, dangling, shape, omitEmpty)
}

interface Applied {
  readonly object: JsonObject
  readonly managers: Managers
}

/** `Updater.Apply` with the strip, timestamp and cap layers: merge, own the configuration, prune, take changed fields. */
const applyStructured = (live: JsonObject, config: JsonObject, managers: Managers, manager: string, force: boolean, context: Context): Applied => {
  const { shape } = context
  let merged = mergeValues(live, config, shape, []) as JsonObject
  if (shape.omitEmpty === true) merged = dropNulls(merged) as JsonObject
  const key = { manager, operation: "Apply", apiVersion: context.apiVersion, ...(context.subresource === undefined ? {} : { subresource: context.subresource }) } as const
  const id = identifier(key)
  const last = managers.get(id)
  const next: Managers = new Map(managers)
  next.set(id, { ...key, set: toFieldSet(config, shape).recursiveDifference(context.reset), ...(last?.time === undefined ? {} : { time: last.time }) })
  const pruned = prune(merged, next, last?.set, context) as JsonObject
  takeChanged(live, pruned, next, id, force, context)
  const changed = !deepEqual(live, pruned)
  strip(next)
  const own = next.get(id)
  if (changed && own !== undefined) next.set(id, { ...own, time: context.now })
  capUpdateManagers(next)
  return { object: changed ? pruned : clone(live), managers: next }
}

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
/** `TotalAnnotationSizeLimitB`. */
const ANNOTATIONS_LIMIT = 256 * 1024

const annotationsOf = (object: JsonObject): JsonObject | undefined => {
  const metadata = object["metadata"]
  if (!isObject(metadata)) return undefined
  const annotations = metadata["annotations"]
  return isObject(annotations) ? annotations : undefined
}

/**
 * `lastAppliedManager.allowedConflictsFromLastApplied`: the fields of the client-side-apply annotation whose values
 * still match the live object, which `kubectl` may take over without a conflict.
 */
const allowedFromLastApplied = (live: JsonObject, context: Context): FieldSet | undefined => {
  const text = annotationsOf(live)?.[LAST_APPLIED]
  if (typeof text !== "string" || text === "") return undefined
  let lastApplied: unknown
  try {
    lastApplied = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isObject(lastApplied) || lastApplied["apiVersion"] !== context.apiVersion) return undefined
  if (typedIssues(lastApplied, context.shape, false).length > 0) return undefined
  const comparison = compare(lastApplied, live, context.shape)
  return toFieldSet(lastApplied, context.shape).difference(comparison.modified).difference(comparison.added).difference(comparison.removed)
}

const sortKeys = (value: Json): Json => {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (!isObject(value)) return value
  const out: JsonObject = {}
  for (const key of Object.keys(value).sort(compareStrings)) out[key] = sortKeys(value[key]!)
  return out
}

/** `lastAppliedUpdater`: kubectl's server-side apply keeps an existing client-side-apply annotation in sync. */
const syncLastApplied = (object: JsonObject, config: JsonObject): void => {
  const annotations = annotationsOf(object)
  const current = annotations?.[LAST_APPLIED]
  if (annotations === undefined || typeof current !== "string" || current === "") return
  const applied = clone(config)
  const appliedAnnotations = annotationsOf(applied)
  if (appliedAnnotations !== undefined) delete appliedAnnotations[LAST_APPLIED]
  annotations[LAST_APPLIED] = `${goJson(sortKeys(applied))}\n`
  let size = 0
  for (const [key, value] of Object.entries(annotations)) size += Buffer.byteLength(key) + Buffer.byteLength(typeof value === "string" ? value : "")
  if (size > ANNOTATIONS_LIMIT) delete annotations[LAST_APPLIED]
}

const withoutManagedFields = (object: KubeObject): JsonObject => {
  const copy = clone(object) as unknown as JsonObject
  const metadata = copy["metadata"]
  if (isObject(metadata)) delete metadata["managedFields"]
  return copy
}

const setManagedFields = (object: JsonObject, managers: Managers): KubeObject => {
  const metadata = isObject(object["metadata"]) ? object["metadata"] : {}
  delete metadata["managedFields"]
  const encoded = encodeManagers(managers)
  if (encoded !== undefined) metadata["managedFields"] = encoded as Json
  object["metadata"] = metadata
  return object as unknown as KubeObject
}

/** `GroupVersionKind.String()`: `apps/v1, Kind=Deployment`, `/v1, Kind=ConfigMap`. */
const gvkString = (object: JsonObject): string => {
  const apiVersion = typeof object["apiVersion"] === "string" ? object["apiVersion"] : ""
  const [group, version] = apiVersion.includes("/") ? (apiVersion.split("/", 2) as [string, string]) : ["", apiVersion]
  return `${group}/${version}, Kind=${typeof object["kind"] === "string" ? object["kind"] : ""}`
}

/** `objectGVKNN`: `namespace/name; group/version, Kind=Kind`. */
const describeObject = (object: JsonObject): string => {
  const metadata = isObject(object["metadata"]) ? object["metadata"] : {}
  const text = (value: Json | undefined) => (typeof value === "string" ? value : "")
  return `${text(metadata["namespace"])}/${text(metadata["name"])}; ${gvkString(object)}`
}

/** Main-resource writes of kinds with a status subresource do not carry `status`; status writes do not carry `spec`. */
const forSubresource = (config: JsonObject, context: Context): JsonObject => {
  if (context.shape.statusSubresource !== true) return config
  const reduced = { ...config }
  if (context.subresource === undefined) delete reduced["status"]
  else if (context.subresource === "status") delete reduced["spec"]
  return reduced
}

export interface ApplyInput {
  live: KubeObject | undefined
  config: KubeObject
  manager: string
  force: boolean
  shape: Shape
  apiVersion: string
  now: string
  subresource?: string
}

/**
 * Server-side apply (`PATCH` with `application/apply-patch+yaml`): merges `config` into `live` (or creates from it),
 * makes the configuration's fields the manager's Apply set, removes what the manager applied before and no longer
 * applies unless someone else owns it, and records `metadata.managedFields`. Throws a 409 Conflict listing every
 * field another manager owns with a different value unless `force`; 400 for a configuration with
 * `metadata.managedFields` or of another type; 500 when the configuration cannot be typed (a list-map item without
 * its key, duplicate items). Does not mutate its inputs.
 */
export const serverSideApply = (input: ApplyInput): KubeObject => {
  const config = clone(input.config) as unknown as JsonObject
  const metadata = config["metadata"]
  const liveKind = input.live?.kind
  if (config["apiVersion"] !== input.apiVersion || (liveKind !== undefined && config["kind"] !== liveKind)) {
    throw badRequest(`invalid object type: ${gvkString(config)}`)
  }
  if (isObject(metadata) && metadata["managedFields"] !== undefined && metadata["managedFields"] !== null) {
    throw badRequest("metadata.managedFields must be nil")
  }
  const manager = input.manager === "" ? "unknown" : input.manager
  const context = contextOf(input.shape, input.apiVersion, input.now, input.subresource)
  let managers: Managers = new Map()
  if (input.live !== undefined) {
    try {
      managers = decodeManagers(input.live.metadata.managedFields)
    } catch (error) {
      throw new UnclassifiedError(`failed to decode managed fields: ${(error as Error).message}`)
    }
  }
  const live = input.live === undefined ? {} : withoutManagedFields(input.live)
  const patchIssues = typedIssues(config, context.shape, false)
  if (patchIssues.length > 0) throw new UnclassifiedError(`failed to create typed patch object (${describeObject(config)}): ${new TypedError(patchIssues).message}`)
  const liveIssues = typedIssues(live, context.shape, true)
  if (liveIssues.length > 0) throw new UnclassifiedError(`failed to create typed live object (${describeObject(live)}): ${new TypedError(liveIssues).message}`)
  const applied = forSubresource(config, context)

  const attempt = (force: boolean): Applied => {
    let current = managers
    if (current.size === 0 && input.live !== undefined) current = recordUpdate(context.shape.zero ?? {}, live, current, "before-first-apply", context)
    return applyStructured(live, applied, current, manager, force, context)
  }

  let result: Applied
  try {
    result = attempt(input.force)
  } catch (error) {
    if (!(error instanceof Conflicts)) throw error
    const allowed = manager === "kubectl" ? allowedFromLastApplied(live, context) : undefined
    if (allowed === undefined) throw conflictError(error.conflicts)
    const remaining = error.conflicts.filter((conflict) => !allowed.has(conflict.path))
    if (remaining.length > 0) throw conflictError(remaining)
    result = attempt(true)
  }
  if (manager === "kubectl") syncLastApplied(result.object, config)
  return setManagedFields(result.object, result.managers)
}

export interface UpdateInput {
  old: KubeObject | undefined
  next: KubeObject
  manager: string
  shape: Shape
  apiVersion: string
  now: string
  subresource?: string
}

const isZeroEntry = (entry: unknown): boolean => isObject(entry) && Object.values(entry).every((value) => value === null || value === "")

/** `isResetManagedFields`: `[]` or `[{}]` in a write clears the managed fields. */
const isReset = (managedFields: unknown): boolean =>
  Array.isArray(managedFields) && (managedFields.length === 0 || (managedFields.length === 1 && isZeroEntry(managedFields[0])))

const decodeOrEmpty = (entries: unknown): Managers => {
  try {
    return decodeManagers(entries)
  } catch {
    return new Map()
  }
}

/**
 * `next` with `metadata.managedFields` updated for an Update operation (create, PUT, JSON/merge/strategic patch, or a
 * status write with `subresource: "status"`) by `manager`: the fields that changed from `old` become the manager's,
 * taken from every other manager, with the time of the change. Like a real server: managed fields written in the
 * request are kept when non-empty (`[]` or `[{}]` clears them) except on subresources; an existing object without
 * managed fields stays untracked; an object that cannot be typed loses its managed fields.
 */
export const trackUpdate = (input: UpdateInput): KubeObject => {
  const next = clone(input.next) as unknown as JsonObject
  const manager = input.manager === "" ? "unknown" : input.manager
  const context = contextOf(input.shape, input.apiVersion, input.now, input.subresource)
  const requested = input.next.metadata.managedFields
  let managers: Managers
  if (context.subresource !== undefined) managers = decodeOrEmpty(input.old?.metadata.managedFields)
  else if (isReset(requested)) managers = new Map()
  else {
    managers = decodeOrEmpty(requested)
    if (managers.size === 0) managers = decodeOrEmpty(input.old?.metadata.managedFields)
  }
  const untracked = () => setManagedFields(next, new Map())
  const oldUid = input.old?.metadata.uid
  if (managers.size === 0 && input.old !== undefined && typeof oldUid === "string" && oldUid !== "") return untracked()
  const older = input.old === undefined ? (context.shape.zero ?? {}) : withoutManagedFields(input.old)
  const newer = withoutManagedFields(input.next)
  if (typedIssues(older, context.shape, true).length > 0 || typedIssues(newer, context.shape, true).length > 0) return untracked()
  try {
    return setManagedFields(next, recordUpdate(older, newer, managers, manager, context))
  } catch (error) {
    if (error instanceof TypedError) return untracked()
    throw error
  }
}

/** The longest field manager name (`FieldManagerMaxLength`), in bytes. */
const MAX_MANAGER_LENGTH = 128

/**
 * The field manager of a request without `fieldManager`: the User-Agent up to its first `/`, without unprintable
 * characters, cut to 128 bytes (`prefixFromUserAgent`). `""` without a User-Agent; the engine records that as
 * `unknown`, as a real server does.
 */
export const defaultManager = (userAgent: string | undefined): string => {
  const prefix = (userAgent ?? "").split("/")[0] ?? ""
  let out = ""
  let bytes = 0
  for (const char of prefix) {
    if (!/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(char)) continue
    const size = Buffer.byteLength(char)
    if (bytes + size > MAX_MANAGER_LENGTH) break
    out += char
    bytes += size
  }
  return out
}
