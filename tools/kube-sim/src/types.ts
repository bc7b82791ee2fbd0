/** Shapes shared by the simulator's modules. */

export interface OwnerReference {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller?: boolean
  blockOwnerDeletion?: boolean
}

export interface ObjectMeta {
  name?: string
  generateName?: string
  namespace?: string
  uid?: string
  resourceVersion?: string
  generation?: number
  creationTimestamp?: string
  deletionTimestamp?: string
  deletionGracePeriodSeconds?: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  finalizers?: Array<string>
  ownerReferences?: Array<OwnerReference>
  managedFields?: Array<ManagedFieldsEntry>
  [key: string]: unknown
}

/** One entry of `metadata.managedFields`: the fields a manager owns, in the FieldsV1 encoding. */
export interface ManagedFieldsEntry {
  manager: string
  operation: "Apply" | "Update"
  apiVersion: string
  /** Absent when the manager's fields were recorded without changing the object. */
  time?: string
  fieldsType: "FieldsV1"
  fieldsV1: Record<string, unknown>
  subresource?: string
}

/** A stored object, as JSON. */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  [key: string]: unknown
}

export interface PrinterColumn {
  name: string
  type: string
  jsonPath: string
  description?: string
  priority?: number
  format?: string
}

/** One resource of the API: where it is served, its kind, scope and what it supports. */
export interface ResourceType {
  group: string
  version: string
  /** The plural resource name in URLs: `pods`, `resourceclaims`. */
  resource: string
  kind: string
  listKind: string
  singular: string
  namespaced: boolean
  shortNames: Array<string>
  categories: Array<string>
  verbs: Array<string>
  /** Subresources served: `status`, `scale`, `log`, `proxy`, `finalize`. */
  subresources: Array<string>
  /** Field selector keys beyond `metadata.name` and `metadata.namespace`. */
  fieldSelectors: Array<string>
  /** Extra columns for `kubectl get` (Table responses); NAME and AGE are always there. */
  printerColumns?: Array<PrinterColumn>
  /** Scale subresource paths, for custom resources that declare one. */
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string }
  /** True for custom resources (served from an installed CRD). */
  custom?: boolean
}

/** `group/resource` (core group: `/resource`): the key of a resource type in the store. */
export const typeKey = (type: Pick<ResourceType, "group" | "resource">): string => `${type.group}/${type.resource}`

/** `apiVersion` of a resource type: `v1` for the core group, else `group/version`. */
export const apiVersionOf = (type: Pick<ResourceType, "group" | "version">): string =>
  type.group === "" ? type.version : `${type.group}/${type.version}`

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR"

/** What a request is about, as the audit log and fault rules see it; empty parts are left out. */
export interface RequestTarget {
  verb: string
  /** Plural resource, `""` for non-resource URLs (discovery, `/version`). */
  resource: string
  group: string
  subresource?: string
  namespace?: string
  name?: string
}
