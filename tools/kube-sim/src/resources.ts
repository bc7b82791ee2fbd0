/** The resource types the simulator serves: built-in kinds, and custom resources of installed CRDs. */
import { type ResourceType, typeKey } from "./types.ts"

const CRUD = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

const builtin = (
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {}
): ResourceType => ({
  group,
  version,
  resource,
  kind,
  listKind: `${kind}List`,
  singular: kind.toLowerCase(),
  namespaced,
  shortNames: [],
  categories: [],
  verbs: CRUD,
  subresources: [],
  fieldSelectors: [],
  ...extra
})

/** The built-in kinds of this simulator (Kubernetes 1.35 shapes). */
export const BUILTIN: ReadonlyArray<ResourceType> = [
  builtin("", "v1", "namespaces", "Namespace", false, {
    shortNames: ["ns"],
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    subresources: ["status", "finalize"],
    fieldSelectors: ["status.phase"],
    printerColumns: [{ name: "Status", type: "string", jsonPath: ".status.phase" }]
  }),
  builtin("", "v1", "nodes", "Node", false, {
    shortNames: ["no"],
    subresources: ["status", "proxy"],
    fieldSelectors: ["spec.unschedulable"]
  }),
  builtin("", "v1", "pods", "Pod", true, {
    shortNames: ["po"],
    categories: ["all"],
    subresources: ["status", "log", "binding", "eviction", "proxy"],
    fieldSelectors: ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"]
  }),
  builtin("", "v1", "services", "Service", true, {
    shortNames: ["svc"],
    categories: ["all"],
    subresources: ["status", "proxy"],
    fieldSelectors: ["spec.clusterIP", "spec.type"],
    printerColumns: [
      { name: "Type", type: "string", jsonPath: ".spec.type" },
      { name: "Cluster-IP", type: "string", jsonPath: ".spec.clusterIP" }
    ]
  }),
  builtin("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, {
    printerColumns: [{ name: "AddressType", type: "string", jsonPath: ".addressType" }]
  }),
  builtin("", "v1", "configmaps", "ConfigMap", true, { shortNames: ["cm"] }),
  builtin("", "v1", "secrets", "Secret", true, {
    fieldSelectors: ["type"],
    printerColumns: [{ name: "Type", type: "string", jsonPath: ".type" }]
  }),
  builtin("", "v1", "serviceaccounts", "ServiceAccount", true, { shortNames: ["sa"], subresources: ["token"] }),
  builtin("", "v1", "events", "Event", true, {
    shortNames: ["ev"],
    fieldSelectors: [
      "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
      "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
      "reportingComponent", "source", "type"
    ],
    printerColumns: [
      { name: "Type", type: "string", jsonPath: ".type" },
      { name: "Reason", type: "string", jsonPath: ".reason" },
      { name: "Message", type: "string", jsonPath: ".message" }
    ]
  }),
  builtin("events.k8s.io", "v1", "events", "Event", true, {
    shortNames: ["ev"],
    fieldSelectors: [
      "regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "regarding.apiVersion",
      "regarding.resourceVersion", "regarding.fieldPath", "reason", "reportingController", "source", "type"
    ]
  }),
  builtin("batch", "v1", "jobs", "Job", true, {
    categories: ["all"],
    subresources: ["status"],
    fieldSelectors: ["status.successful"],
    printerColumns: [{ name: "Completions", type: "string", jsonPath: ".spec.completions" }]
  }),
  builtin("coordination.k8s.io", "v1", "leases", "Lease", true, {
    printerColumns: [{ name: "Holder", type: "string", jsonPath: ".spec.holderIdentity" }]
  }),
  builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, {
    shortNames: ["crd", "crds"],
    categories: ["api-extensions"],
    subresources: ["status"],
    printerColumns: [{ name: "Created At", type: "date", jsonPath: ".metadata.creationTimestamp" }]
  }),
  builtin("resource.k8s.io", "v1", "deviceclasses", "DeviceClass", false),
  builtin("resource.k8s.io", "v1", "resourceslices", "ResourceSlice", false, {
    fieldSelectors: ["spec.nodeName", "spec.driver"],
    printerColumns: [
      { name: "Node", type: "string", jsonPath: ".spec.nodeName" },
      { name: "Driver", type: "string", jsonPath: ".spec.driver" },
      { name: "Pool", type: "string", jsonPath: ".spec.pool.name" }
    ]
  }),
  builtin("resource.k8s.io", "v1", "resourceclaims", "ResourceClaim", true, {
    subresources: ["status"],
    printerColumns: [{ name: "State", type: "string", jsonPath: ".status.allocation" }]
  }),
  builtin("resource.k8s.io", "v1", "resourceclaimtemplates", "ResourceClaimTemplate", true),
  builtin("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
  builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true),
  builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false),
  builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false),
  builtin("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", false, { verbs: ["create"] })
]

/** The set of served resource types; custom resources come and go with their CRDs. */
export class Registry {
  private readonly types = new Map<string, ResourceType>()

  constructor(initial: ReadonlyArray<ResourceType> = BUILTIN) {
    for (const type of initial) this.add(type)
  }

  add(type: ResourceType): void {
    this.types.set(`${type.group}/${type.version}/${type.resource}`, type)
  }

  remove(group: string, resource: string): void {
    for (const [key, type] of this.types) if (type.group === group && type.resource === resource) this.types.delete(key)
  }

  /** The type served at `group/version/resource`, if any. */
  find(group: string, version: string, resource: string): ResourceType | undefined {
    return this.types.get(`${group}/${version}/${resource}`)
  }

  /** The type of an object's `apiVersion` and `kind`. */
  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/", 2) as [string, string] : ["", apiVersion]
    return this.all().find((type) => type.group === group && type.version === version && type.kind === kind)
  }

  /** Every served type of a group (any version) under the same store key. */
  byTypeKey(key: string): ReadonlyArray<ResourceType> {
    return this.all().filter((type) => typeKey(type) === key)
  }

  all(): ReadonlyArray<ResourceType> {
    return [...this.types.values()]
  }

  /** Group → versions, in the order they were added (the first is the preferred version). */
  groups(): ReadonlyMap<string, ReadonlyArray<string>> {
    const groups = new Map<string, Array<string>>()
    for (const type of this.types.values()) {
      const versions = groups.get(type.group) ?? []
      if (!versions.includes(type.version)) versions.push(type.version)
      groups.set(type.group, versions)
    }
    return groups
  }
}
