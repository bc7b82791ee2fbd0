/**
 * The OpenAPI v3 documents of `/openapi/v3`, as far as kubectl 1.35 reads them: the root lists one document per
 * group-version; each document has the resource paths with their operations, the `x-kubernetes-group-version-kind`
 * and `x-kubernetes-action` extensions, the write parameters (`dryRun`, `fieldManager`, `fieldValidation`, `force`)
 * and the patch media types. kubectl checks the `fieldValidation` parameter of a kind's PATCH operation to decide
 * whether the server validates fields (then it sends `fieldValidation=Strict` instead of validating itself).
 *
 * Simpler than a real server: built-in kinds' component schemas are stubs (type and GVK only; `kubectl explain`
 * of a built-in kind shows no fields), custom resources carry their CRD's `openAPIV3Schema`. PATCH operations do
 * not list `application/strategic-merge-patch+json`, so `kubectl apply` computes its strategic merge patch from its
 * compiled-in types (the same Go types a real schema is generated from) rather than from the document.
 */
import { createHash } from "node:crypto"
import type { Registry } from "./resources.ts"
import type { SchemaProps } from "./schema-types.ts"
import type { ResourceType } from "./types.ts"

/** `api/v1` or `apis/<group>/<version>`: the key of a group-version in the root document. */
export const groupVersionPath = (group: string, version: string): string => (group === "" ? `api/${version}` : `apis/${group}/${version}`)

const BUILTIN_PATCH = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]

const queryParameter = (name: string, description: string, type: "string" | "boolean" = "string") => ({
  name,
  in: "query",
  description,
  schema: { type, uniqueItems: true }
})

const PARAMETERS = {
  dryRun: queryParameter("dryRun", "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed"),
  fieldManager: queryParameter("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."),
  fieldValidation: queryParameter(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn (the default), Strict."
  ),
  force: queryParameter("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people.", "boolean"),
  pretty: queryParameter("pretty", "If 'true', then the output is pretty printed.")
}

/** `io.k8s.api.batch.v1.Job` for built-ins, `com.nvidia.v1alpha1.DynamoGraphDeployment` for custom resources. */
export const componentName = (type: Pick<ResourceType, "group" | "version" | "kind" | "custom">): string => {
  if (type.custom === true) return `${type.group.split(".").reverse().join(".")}.${type.version}.${type.kind}`
  const group = type.group === "" ? "core" : type.group.replace(/\.k8s\.io$/, "").replace(/\./g, "")
  return `io.k8s.api.${group}.${type.version}.${type.kind}`
}

const operationId = (action: string, type: ResourceType, namespaced: boolean, suffix = ""): string => {
  const group = type.group === "" ? "Core" : type.group.split(".")[0]!.replace(/^./, (c) => c.toUpperCase())
  const version = type.version.replace(/^./, (c) => c.toUpperCase())
  return `${action}${group}${version}${namespaced ? "Namespaced" : ""}${type.kind}${suffix}`
}

const gvk = (type: ResourceType) => ({ group: type.group, version: type.version, kind: type.kind })

const ok = (ref: string) => ({
  "200": { description: "OK", content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } } },
  "401": { description: "Unauthorized" }
})

const body = (ref: string, mediaTypes: ReadonlyArray<string> = ["*/*"]) => ({
  content: Object.fromEntries(mediaTypes.map((mediaType) => [mediaType, { schema: { $ref: `#/components/schemas/${ref}` } }])),
  required: true
})

const operation = (type: ResourceType, action: string, verb: string, extra: object = {}) => ({
  tags: [type.group === "" ? "core_v1" : `${type.group.split(".")[0]}_${type.version}`],
  operationId: operationId(verb, type, type.namespaced),
  "x-kubernetes-action": action,
  "x-kubernetes-group-version-kind": gvk(type),
  ...extra
})

const writeParameters = [PARAMETERS.dryRun, PARAMETERS.fieldManager, PARAMETERS.fieldValidation]

/** The paths of one resource type: the collection, the item and the subresources that take writes. */
const pathsOf = (type: ResourceType): Record<string, object> => {
  const prefix = `/${groupVersionPath(type.group, type.version)}${type.namespaced ? "/namespaces/{namespace}" : ""}/${type.resource}`
  const ref = componentName(type)
  const listRef = `${ref}List`
  const verbs = new Set(type.verbs)
  const paths: Record<string, object> = {}
  const collection: Record<string, object> = {}
  if (verbs.has("list")) collection["get"] = operation(type, "list", "list", { responses: ok(listRef) })
  if (verbs.has("create")) collection["post"] = operation(type, "post", "create", { requestBody: body(ref), responses: ok(ref), parameters: writeParameters })
  if (verbs.has("deletecollection")) collection["delete"] = operation(type, "deletecollection", "deleteCollection", { responses: ok("io.k8s.apimachinery.pkg.apis.meta.v1.Status") })
  if (Object.keys(collection).length > 0) paths[prefix] = { ...collection, parameters: [PARAMETERS.pretty] }
  const item: Record<string, object> = {}
  if (verbs.has("get")) item["get"] = operation(type, "get", "read", { responses: ok(ref) })
  if (verbs.has("update")) item["put"] = operation(type, "put", "replace", { requestBody: body(ref), responses: ok(ref), parameters: writeParameters })
  if (verbs.has("patch")) {
    item["patch"] = operation(type, "patch", "patch", {
      requestBody: body("io.k8s.apimachinery.pkg.apis.meta.v1.Patch", BUILTIN_PATCH),
      responses: ok(ref),
      parameters: [...writeParameters, PARAMETERS.force]
    })
  }
  if (verbs.has("delete")) item["delete"] = operation(type, "delete", "delete", { responses: ok("io.k8s.apimachinery.pkg.apis.meta.v1.Status"), parameters: [PARAMETERS.dryRun] })
  if (Object.keys(item).length > 0) paths[`${prefix}/{name}`] = item
  if (type.subresources.includes("status")) {
    paths[`${prefix}/{name}/status`] = {
      get: operation(type, "get", "read", { operationId: operationId("read", type, type.namespaced, "Status"), responses: ok(ref) }),
      put: operation(type, "put", "replace", { operationId: operationId("replace", type, type.namespaced, "Status"), requestBody: body(ref), responses: ok(ref), parameters: writeParameters }),
      patch: operation(type, "patch", "patch", {
        operationId: operationId("patch", type, type.namespaced, "Status"),
        requestBody: body("io.k8s.apimachinery.pkg.apis.meta.v1.Patch", BUILTIN_PATCH),
        responses: ok(ref),
        parameters: [...writeParameters, PARAMETERS.force]
      })
    }
  }
  return paths
}

const stub = (description: string, extensions: object = {}) => ({ type: "object", description, ...extensions })

/** The OpenAPI v3 document of one group-version, or undefined when the group-version is not served. */
export const groupVersionDocument = (
  registry: Registry,
  group: string,
  version: string,
  schemaOf: (type: ResourceType) => SchemaProps | undefined
): object | undefined => {
  const types = registry.all().filter((type) => type.group === group && type.version === version)
  if (types.length === 0) return undefined
  const paths: Record<string, object> = {}
  const schemas: Record<string, object> = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": stub("Patch is provided to give a concrete name and type to the Kubernetes PATCH request body."),
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status": stub("Status is a return value for calls that don't return other objects.", {
      "x-kubernetes-group-version-kind": [{ group: "", version: "v1", kind: "Status" }]
    })
  }
  for (const type of [...types].sort((a, b) => a.resource.localeCompare(b.resource))) {
    Object.assign(paths, pathsOf(type))
    const name = componentName(type)
    const custom = type.custom === true ? schemaOf(type) : undefined
    schemas[name] = {
      ...(custom ?? stub(`${type.kind} (${group === "" ? "core" : group}/${version})`)),
      "x-kubernetes-group-version-kind": [gvk(type)]
    }
    schemas[`${name}List`] = stub(`${type.listKind} is a list of ${type.kind}`, {
      "x-kubernetes-group-version-kind": [{ group: type.group, version: type.version, kind: type.listKind }]
    })
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.35.0" },
    paths,
    components: { schemas }
  }
}

/** The `hash` query parameter of a document's `serverRelativeURL`: the SHA-512 of its JSON, upper-case hex, as a real server's ETag. */
export const documentHash = (document: object): string => createHash("sha512").update(JSON.stringify(document)).digest("hex").toUpperCase()

/** The root document `/openapi/v3`: one entry per served group-version with a hash that changes with its content. */
export const rootDocument = (registry: Registry, documentOf: (group: string, version: string) => object | undefined): object => {
  const paths: Record<string, { serverRelativeURL: string }> = {}
  const entries: Array<[string, string]> = []
  for (const [group, versions] of registry.groups()) for (const version of versions) entries.push([group, version])
  entries.sort(([ga, va], [gb, vb]) => groupVersionPath(ga, va).localeCompare(groupVersionPath(gb, vb)))
  for (const [group, version] of entries) {
    const document = documentOf(group, version)
    if (document === undefined) continue
    const path = groupVersionPath(group, version)
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${documentHash(document)}` }
  }
  return { paths }
}
