/**
 * API discovery as a Kubernetes 1.35 API server serves it: `/version`, the legacy `/api` and `/apis` documents,
 * per group-version resource lists, and the aggregated `apidiscovery.k8s.io/v2` lists kubectl asks for first.
 */
import { createHash } from "node:crypto"
import type { Registry } from "./resources.ts"
import type { ResourceType } from "./types.ts"

/** Content type of an aggregated discovery answer (and what a client's Accept names to get one). */
export const AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

/** `GET /version`: the shape of a 1.35 server's `version.Info`. */
export const versionInfo = (): object => ({
  major: "1",
  minor: "35",
  emulationMajor: "1",
  emulationMinor: "35",
  minCompatibilityMajor: "1",
  minCompatibilityMinor: "34",
  gitVersion: "v1.35.0-aicr-sim",
  gitCommit: "a1c25100000000000000000000000000000a1c25",
  gitTreeState: "clean",
  buildDate: "2025-12-17T00:00:00Z",
  goVersion: "go1.25.5",
  compiler: "gc",
  platform: "linux/amd64"
})

// ---------------------------------------------------------------------------------------------------------------
// Content negotiation

/** One entry of an Accept header: `type/subtype` with its parameters (`q` taken out). */
export interface MediaRange {
  readonly type: string
  readonly subtype: string
  readonly params: Readonly<Record<string, string>>
  readonly q: number
}

/** The entries of an Accept header, most preferred first (by `q`, then as written); `q=0` entries dropped. */
export const parseAccept = (accept: string | undefined): ReadonlyArray<MediaRange> => {
  if (accept === undefined || accept.trim() === "") return [{ type: "*", subtype: "*", params: {}, q: 1 }]
  const ranges: Array<MediaRange> = []
  for (const entry of accept.split(",")) {
    const [mediaType = "", ...rawParams] = entry.split(";").map((part) => part.trim())
    const [type = "", subtype = ""] = mediaType.toLowerCase().split("/", 2)
    if (type === "" || subtype === "") continue
    const params: Record<string, string> = {}
    let q = 1
    for (const raw of rawParams) {
      const at = raw.indexOf("=")
      if (at <= 0) continue
      const key = raw.slice(0, at).trim().toLowerCase()
      const value = raw.slice(at + 1).trim().replace(/^"(.*)"$/, "$1")
      if (key === "q") q = Number.isFinite(Number(value)) ? Number(value) : 0
      else params[key] = value
    }
    if (q > 0) ranges.push({ type, subtype, params, q })
  }
  return ranges.map((range, index) => ({ range, index })).sort((a, b) => b.range.q - a.range.q || a.index - b.index).map(({ range }) => range)
}

/** True when a range can be answered with JSON at all (`application/json`, `application/*`, `*∕*`). */
export const isJsonRange = (range: MediaRange): boolean =>
  (range.type === "*" && range.subtype === "*") || (range.type === "application" && (range.subtype === "*" || range.subtype === "json"))

/** The first range of `accept` that `serves` says the server can produce, or undefined. */
export const firstAcceptable = (accept: string | undefined, serves: (range: MediaRange) => boolean): MediaRange | undefined =>
  parseAccept(accept).find(serves)

const isAggregatedV2 = (range: MediaRange): boolean =>
  range.type === "application" &&
  range.subtype === "json" &&
  range.params["g"] === "apidiscovery.k8s.io" &&
  range.params["v"] === "v2" &&
  range.params["as"] === "APIGroupDiscoveryList"

const servesDiscovery = (range: MediaRange): boolean => isJsonRange(range) && (range.params["as"] === undefined || isAggregatedV2(range))

/**
 * True when the first Accept entry the simulator can serve asks for the v2 aggregated list. Entries it cannot
 * produce (protobuf, `v2beta1`) are skipped, the way a real server skips them, so kubectl's
 * `…v=v2;as=APIGroupDiscoveryList,…v=v2beta1…,application/json` gets the aggregated list and a plain
 * `application/json` or a missing header gets the legacy document.
 */
export const wantsAggregated = (accept: string | undefined): boolean => {
  const range = firstAcceptable(accept, servesDiscovery)
  return range !== undefined && isAggregatedV2(range)
}

// ---------------------------------------------------------------------------------------------------------------
// Groups and their order

/** `groupPriorityMinimum` of the built-in APIServices of a 1.35 kube-apiserver; CRD groups get 1000. */
const GROUP_PRIORITY: Readonly<Record<string, number>> = {
  apps: 17800,
  "events.k8s.io": 17750,
  "authentication.k8s.io": 17700,
  "authorization.k8s.io": 17600,
  autoscaling: 17500,
  batch: 17400,
  "certificates.k8s.io": 17300,
  "networking.k8s.io": 17200,
  policy: 17100,
  "rbac.authorization.k8s.io": 17000,
  "storage.k8s.io": 16800,
  "apiextensions.k8s.io": 16700,
  "admissionregistration.k8s.io": 16700,
  "scheduling.k8s.io": 16600,
  "coordination.k8s.io": 16500,
  "node.k8s.io": 16300,
  "discovery.k8s.io": 16200,
  "flowcontrol.apiserver.k8s.io": 16100,
  "internal.apiserver.k8s.io": 16000,
  "resource.k8s.io": 15900,
  "storagemigration.k8s.io": 15800
}
const CRD_GROUP_PRIORITY = 1000

const KUBE_VERSION = /^v(\d+)(?:(alpha|beta)(\d+))?$/

/**
 * `version.CompareKubeAwareVersionStrings`: negative when `a` sorts first (has the higher priority). GA before
 * beta before alpha, higher numbers first; versions that are not Kubernetes-like come last, alphabetically.
 */
export const compareKubeAwareVersions = (a: string, b: string): number => {
  const ma = KUBE_VERSION.exec(a)
  const mb = KUBE_VERSION.exec(b)
  if (ma === null && mb === null) return a < b ? -1 : a > b ? 1 : 0
  if (ma === null) return 1
  if (mb === null) return -1
  const stability = (stage: string | undefined) => (stage === undefined ? 2 : stage === "beta" ? 1 : 0)
  const byStability = stability(mb[2]) - stability(ma[2])
  if (byStability !== 0) return byStability
  const byMajor = Number(mb[1]) - Number(ma[1])
  if (byMajor !== 0) return byMajor
  return Number(mb[3] ?? 0) - Number(ma[3] ?? 0)
}

interface GroupVersions {
  readonly name: string
  /** Preferred first. */
  readonly versions: ReadonlyArray<string>
}

const isCustomGroup = (registry: Registry, group: string): boolean =>
  registry.all().some((type) => type.group === group && type.custom === true)

/** A group's versions, preferred first: CRD groups by Kubernetes version priority, built-in groups as registered. */
const versionsOf = (registry: Registry, group: string, registered: ReadonlyArray<string>): ReadonlyArray<string> =>
  isCustomGroup(registry, group) ? [...registered].sort(compareKubeAwareVersions) : registered

/**
 * The named groups in the order the aggregator lists them: its APIServices (`version.group`) sorted by group
 * priority (highest first) then name, each group placed where its first APIService falls.
 */
const namedGroups = (registry: Registry): ReadonlyArray<GroupVersions> => {
  const byGroup = new Map<string, ReadonlyArray<string>>()
  for (const [group, versions] of registry.groups()) if (group !== "") byGroup.set(group, versionsOf(registry, group, versions))
  const priority = (group: string) => (isCustomGroup(registry, group) ? CRD_GROUP_PRIORITY : (GROUP_PRIORITY[group] ?? CRD_GROUP_PRIORITY))
  const services = [...byGroup].flatMap(([group, versions]) => versions.map((version) => ({ group, name: `${version}.${group}`, priority: priority(group) })))
  services.sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const order: Array<string> = []
  for (const service of services) if (!order.includes(service.group)) order.push(service.group)
  return order.map((name) => ({ name, versions: byGroup.get(name) ?? [] }))
}

const groupVersionFor = (group: string, version: string) => ({ groupVersion: `${group}/${version}`, version })

const discoveryGroup = (group: GroupVersions) => ({
  name: group.name,
  versions: group.versions.map((version) => groupVersionFor(group.name, version)),
  preferredVersion: groupVersionFor(group.name, group.versions[0] ?? "")
})

/** `GET /api`: the legacy core group's versions. */
export const coreApiVersions = (serverAddress: string): object => ({
  kind: "APIVersions",
  versions: ["v1"],
  serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }]
})

/** `GET /apis`: every named group (not the core group), in the aggregator's order. */
export const apiGroupList = (registry: Registry): object => ({
  kind: "APIGroupList",
  apiVersion: "v1",
  groups: namedGroups(registry).map(discoveryGroup)
})

/** `GET /apis/{group}`, or undefined when no such group is served. */
export const apiGroup = (registry: Registry, group: string): object | undefined => {
  const found = namedGroups(registry).find((entry) => entry.name === group)
  return found === undefined ? undefined : { kind: "APIGroup", apiVersion: "v1", ...discoveryGroup(found) }
}

// ---------------------------------------------------------------------------------------------------------------
// Resources

interface SubresourceShape {
  readonly group?: string
  readonly version?: string
  readonly kind: string
  readonly verbs: ReadonlyArray<string>
}

const GET_PATCH_UPDATE = ["get", "patch", "update"]
const PROXY_VERBS = ["create", "delete", "get", "patch", "update"]
const CONNECT_VERBS = ["create", "get"]

/** What each subresource answers with and which verbs it takes, as the real registry declares them. */
const SUBRESOURCES: Readonly<Record<string, (type: ResourceType) => SubresourceShape>> = {
  status: (type) => ({ kind: type.kind, verbs: GET_PATCH_UPDATE }),
  scale: () => ({ group: "autoscaling", version: "v1", kind: "Scale", verbs: GET_PATCH_UPDATE }),
  log: () => ({ kind: "Pod", verbs: ["get"] }),
  binding: () => ({ kind: "Binding", verbs: ["create"] }),
  eviction: () => ({ group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] }),
  proxy: (type) => ({ kind: `${type.kind}ProxyOptions`, verbs: PROXY_VERBS }),
  finalize: (type) => ({ kind: type.kind, verbs: ["update"] }),
  token: () => ({ group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", verbs: ["create"] }),
  exec: () => ({ kind: "PodExecOptions", verbs: CONNECT_VERBS }),
  attach: () => ({ kind: "PodAttachOptions", verbs: CONNECT_VERBS }),
  portforward: () => ({ kind: "PodPortForwardOptions", verbs: CONNECT_VERBS }),
  ephemeralcontainers: (type) => ({ kind: type.kind, verbs: GET_PATCH_UPDATE }),
  resize: (type) => ({ kind: type.kind, verbs: GET_PATCH_UPDATE })
}

const subresourceShape = (type: ResourceType, name: string): SubresourceShape =>
  SUBRESOURCES[name]?.(type) ?? { kind: type.kind, verbs: ["get"] }

/** Subresources in discovery order: alphabetical for built-ins, status then scale for custom resources. */
const subresourcesOf = (type: ResourceType): ReadonlyArray<string> =>
  type.custom === true ? ["status", "scale"].filter((name) => type.subresources.includes(name)) : [...type.subresources].sort()

/** `discovery.StorageVersionHash`: base64 of the first 8 bytes of sha256(`group/version/kind`) of the storage version. */
export const storageVersionHash = (group: string, version: string, kind: string): string =>
  createHash("sha256").update(`${group}/${version}/${kind}`).digest().subarray(0, 8).toString("base64")

/** events.k8s.io Events are stored as core v1 Events, like on a real server. */
const storageGvk = (type: ResourceType): [string, string, string] =>
  type.group === "events.k8s.io" && type.resource === "events" ? ["", "v1", "Event"] : [type.group, type.version, type.kind]

const typesOf = (registry: Registry, group: string, version: string): ReadonlyArray<ResourceType> =>
  registry
    .all()
    .filter((type) => type.group === group && type.version === version)
    .sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0))

const apiResource = (type: ResourceType) => ({
  name: type.resource,
  singularName: type.singular,
  namespaced: type.namespaced,
  kind: type.kind,
  verbs: [...type.verbs],
  ...(type.shortNames.length === 0 ? {} : { shortNames: [...type.shortNames] }),
  ...(type.categories.length === 0 ? {} : { categories: [...type.categories] }),
  storageVersionHash: storageVersionHash(...storageGvk(type))
})

const apiSubresource = (type: ResourceType, name: string) => {
  const shape = subresourceShape(type, name)
  return {
    name: `${type.resource}/${name}`,
    singularName: "",
    namespaced: type.namespaced,
    ...(shape.group === undefined ? {} : { group: shape.group }),
    ...(shape.version === undefined ? {} : { version: shape.version }),
    kind: shape.kind,
    verbs: [...shape.verbs]
  }
}

/**
 * `GET /api/v1` or `GET /apis/{group}/{version}`: an APIResourceList with every resource and subresource entry,
 * or undefined when nothing is served there. The core list carries no `apiVersion`, like a real server's.
 */
export const apiResourceList = (registry: Registry, group: string, version: string): object | undefined => {
  const types = typesOf(registry, group, version)
  if (types.length === 0) return undefined
  return {
    kind: "APIResourceList",
    ...(group === "" ? {} : { apiVersion: "v1" }),
    groupVersion: group === "" ? version : `${group}/${version}`,
    resources: types.flatMap((type) => [apiResource(type), ...subresourcesOf(type).map((name) => apiSubresource(type, name))])
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Aggregated discovery (apidiscovery.k8s.io/v2)

/**
 * A response kind as the aggregated list reports it. Built-in resources name only the kind (group and version
 * stay empty unless the storage answers with another group's kind, like `pods/eviction`); custom resources name
 * their full group, version and kind, as the apiextensions server fills them in.
 */
const responseKind = (type: ResourceType, shape: { group?: string | undefined; version?: string | undefined; kind: string }) => ({
  group: shape.group ?? (type.custom === true ? type.group : ""),
  version: shape.version ?? (type.custom === true ? type.version : ""),
  kind: shape.kind
})

const resourceDiscovery = (type: ResourceType) => {
  const subresources = subresourcesOf(type).map((name) => {
    const shape = subresourceShape(type, name)
    return { subresource: name, responseKind: responseKind(type, shape), verbs: [...shape.verbs] }
  })
  return {
    resource: type.resource,
    responseKind: responseKind(type, { kind: type.kind }),
    scope: type.namespaced ? "Namespaced" : "Cluster",
    singularResource: type.singular,
    verbs: [...type.verbs],
    ...(type.shortNames.length === 0 ? {} : { shortNames: [...type.shortNames] }),
    ...(type.categories.length === 0 ? {} : { categories: [...type.categories] }),
    ...(subresources.length === 0 ? {} : { subresources })
  }
}

const groupDiscovery = (registry: Registry, group: GroupVersions) => ({
  metadata: group.name === "" ? {} : { name: group.name },
  versions: group.versions.map((version) => ({
    version,
    resources: typesOf(registry, group.name, version).map(resourceDiscovery),
    freshness: "Current"
  }))
})

/**
 * The `apidiscovery.k8s.io/v2` APIGroupDiscoveryList served at `/api` (the core group) or `/apis` (every named
 * group, in the aggregator's order) when the client's Accept asks for it.
 */
export const aggregatedDiscovery = (registry: Registry, which: "api" | "apis"): object => {
  const coreVersions = registry.groups().get("") ?? []
  const groups: ReadonlyArray<GroupVersions> = which === "api" ? (coreVersions.length === 0 ? [] : [{ name: "", versions: coreVersions }]) : namedGroups(registry)
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: "apidiscovery.k8s.io/v2",
    metadata: {},
    items: groups.map((group) => groupDiscovery(registry, group))
  }
}
