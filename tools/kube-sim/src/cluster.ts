/**
 * The object semantics of the API server, below HTTP: create, update (whole, status), delete with finalizers
 * and propagation, garbage collection of dependents, namespace lifecycle and CRDs that register their kinds.
 */
import { randomUUID } from "node:crypto"
import * as Errors from "./errors.ts"
import { BUILTIN, Registry } from "./resources.ts"
import { type Change, Store, type StoreOptions } from "./store.ts"
import { apiVersionOf, type KubeObject, type ResourceType, typeKey } from "./types.ts"

export type PropagationPolicy = "Foreground" | "Background" | "Orphan"

export interface WriteOptions {
  readonly dryRun?: boolean | undefined
}

export interface DeleteOptions extends WriteOptions {
  readonly propagationPolicy?: PropagationPolicy | undefined
  readonly preconditions?: { uid?: string | undefined; resourceVersion?: string | undefined } | undefined
}

export type DeleteResult =
  | { readonly _tag: "Removed"; readonly object: KubeObject }
  | { readonly _tag: "Pending"; readonly object: KubeObject }

const NAMESPACE_KEY = "/namespaces"
const CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"
const NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z")
const isEqual = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

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

export class Cluster {
  readonly registry: Registry
  readonly store: Store
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
    const found = this.store.get(typeKey(type), type.namespaced ? namespace : "", name)
    if (found === undefined) throw Errors.notFound(type, name)
    return this.present(type, found)
  }

  /** The object as served at `type`'s version (objects are stored under whatever version wrote them). */
  present(type: ResourceType, object: KubeObject): KubeObject {
    object.apiVersion = apiVersionOf(type)
    object.kind = type.kind
    return object
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
    if (this.store.get(typeKey(type), object.metadata.namespace ?? "", name) !== undefined) throw Errors.alreadyExists(type, name)
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
    this.defaults(type, created)
    if (options.dryRun === true) return created
    return this.present(type, this.store.create(typeKey(type), created))
  }

  /** Replaces the object (or, with `subresource: "status"`, its status only). */
  update(type: ResourceType, namespace: string, name: string, body: KubeObject, options: WriteOptions & { subresource?: string | undefined } = {}): KubeObject {
    const ns = type.namespaced ? namespace : ""
    const current = this.store.get(typeKey(type), ns, name)
    if (current === undefined) throw Errors.notFound(type, name)
    if (body.metadata?.name !== undefined && body.metadata.name !== name) {
      throw Errors.badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`)
    }
    this.checkTypeOf(type, body)
    const wanted = body.metadata?.resourceVersion
    if (wanted !== undefined && wanted !== "" && wanted !== current.metadata.resourceVersion) throw Errors.conflict(type, name)
    const next = this.merged(type, current, body, options.subresource)
    if (options.dryRun === true) return this.present(type, next)
    if (isEqual({ ...next, metadata: { ...next.metadata, resourceVersion: undefined } }, { ...current, metadata: { ...current.metadata, resourceVersion: undefined } })) {
      return this.present(type, current)
    }
    if (next.metadata.deletionTimestamp !== undefined && (next.metadata.finalizers ?? []).length === 0 && !this.pendingNamespace(type, next)) {
      return this.present(type, this.store.remove(typeKey(type), ns, name)!)
    }
    return this.present(type, this.store.update(typeKey(type), next))
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
      generation: current.metadata.generation
    }
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
    const specOf = (object: KubeObject) => Object.fromEntries(Object.entries(object).filter(([key]) => !["metadata", "status", "apiVersion", "kind"].includes(key)))
    if (!isEqual(specOf(next), specOf(current))) next.metadata.generation = (current.metadata.generation ?? 1) + 1
    return next
  }

  delete(type: ResourceType, namespace: string, name: string, options: DeleteOptions = {}): DeleteResult {
    const ns = type.namespaced ? namespace : ""
    const current = this.store.get(typeKey(type), ns, name)
    if (current === undefined) throw Errors.notFound(type, name)
    const pre = options.preconditions
    if (pre?.uid !== undefined && pre.uid !== current.metadata.uid) {
      throw Errors.conflictWith(type, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`)
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw Errors.conflictWith(type, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`)
    }
    const policy = options.propagationPolicy ?? this.defaultPolicy(type)
    const finalizers = [...(current.metadata.finalizers ?? [])]
    if (policy === "Foreground" && !finalizers.includes("foregroundDeletion")) finalizers.push("foregroundDeletion")
    if (policy === "Orphan" && !finalizers.includes("orphan")) finalizers.push("orphan")
    if (type.resource === "customresourcedefinitions" && !finalizers.includes("customresourcecleanup.apiextensions.k8s.io")) {
      finalizers.push("customresourcecleanup.apiextensions.k8s.io")
    }
    const isNamespace = typeKey(type) === NAMESPACE_KEY
    if (finalizers.length === 0 && !isNamespace) {
      if (options.dryRun === true) return { _tag: "Removed", object: this.present(type, current) }
      return { _tag: "Removed", object: this.present(type, this.store.remove(typeKey(type), ns, name)!) }
    }
    const next: KubeObject = {
      ...current,
      metadata: {
        ...current.metadata,
        finalizers,
        deletionTimestamp: current.metadata.deletionTimestamp ?? now(),
        deletionGracePeriodSeconds: current.metadata.deletionGracePeriodSeconds ?? 0
      }
    }
    if ((next.metadata.finalizers ?? []).length === 0) delete next.metadata.finalizers
    if (isNamespace) next["status"] = { ...(current["status"] as object | undefined), phase: "Terminating" }
    if (options.dryRun === true) return { _tag: "Pending", object: this.present(type, next) }
    if (isEqual(next, current)) return { _tag: "Pending", object: this.present(type, current) }
    return { _tag: "Pending", object: this.present(type, this.store.update(typeKey(type), next)) }
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

  private checkTypeOf(type: ResourceType, body: KubeObject): void {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw Errors.badRequest("the body of the request is not a JSON object")
    const expected = apiVersionOf(type)
    if (body.apiVersion !== undefined && body.apiVersion !== expected && this.registry.byKind(body.apiVersion, body.kind ?? type.kind) === undefined) {
      throw Errors.badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${expected})`)
    }
    if (body.kind !== undefined && body.kind !== type.kind) {
      throw Errors.badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${type.kind})`)
    }
  }

  private admit(type: ResourceType, namespace: string, body: KubeObject): KubeObject {
    this.checkTypeOf(type, body)
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
    return { ...body, apiVersion: apiVersionOf(type), kind: type.kind, metadata }
  }

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
    for (const key of this.store.keys()) for (const object of this.store.list(key) ?? []) everything.push({ key, object })
    const dependents = new Map<string, Array<{ key: string; object: KubeObject }>>()
    for (const entry of everything) {
      for (const owner of entry.object.metadata.ownerReferences ?? []) {
        const list = dependents.get(owner.uid) ?? []
        list.push(entry)
        dependents.set(owner.uid, list)
      }
    }
    for (const { key, object } of everything) {
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

