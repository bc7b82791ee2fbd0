/**
 * Decoding and validation of the built-in kinds the simulator serves, as pure functions that reproduce what a
 * Kubernetes 1.35 kube-apiserver answers: the typed decode (400 on a type mismatch, unknown fields for field
 * validation), create validation and update validation (causes of a 422 Invalid). The schemas come from
 * `@kubernetes/client-node` (known fields and types) and `kubernetes-models` (required fields, enums, formats), loaded
 * per kind on first use; docs/adr/0003-kube-sim-builtin-schemas.md explains the choice.
 */
import { type StatusError, badRequest } from "./errors.ts"
import type { FieldCause } from "./schema-types.ts"
import type { KubeObject } from "./types.ts"
import { type AjvError, type FieldType, ajvErrors, classFields } from "./builtin-schema.ts"
import { decodeObject } from "./builtin-decode.ts"
import { goQuote, isRecord, notSupported, required } from "./builtin-messages.ts"
import * as Rules from "./builtin-rules.ts"
import { UPDATE_RULES } from "./builtin-update.ts"

export interface BuiltinKind {
  group: string
  version: string
  kind: string
}

type Json = Record<string, unknown>

interface KindSchema {
  /** The kubernetes-models definition. */
  readonly definition: string
  /** The client-node model class. */
  readonly model: string
  /** Kind-specific create rules, in the order the Go validation runs them (after the object metadata). */
  readonly rules?: (object: Json) => Array<FieldCause>
  /** Whether the object metadata is validated here (TokenRequest and SelfSubjectAccessReview are not persisted). */
  readonly metadata: "core" | "generic" | "none"
}

const KINDS: ReadonlyMap<string, KindSchema> = new Map<string, KindSchema>([
  ["/v1/Namespace", { definition: "IoK8sApiCoreV1Namespace", model: "V1Namespace", metadata: "core" }],
  ["/v1/Node", { definition: "IoK8sApiCoreV1Node", model: "V1Node", metadata: "core", rules: Rules.validateNode }],
  ["/v1/Pod", { definition: "IoK8sApiCoreV1Pod", model: "V1Pod", metadata: "core", rules: Rules.validatePod }],
  ["/v1/Service", { definition: "IoK8sApiCoreV1Service", model: "V1Service", metadata: "core", rules: Rules.validateService }],
  ["/v1/ConfigMap", { definition: "IoK8sApiCoreV1ConfigMap", model: "V1ConfigMap", metadata: "core", rules: Rules.validateConfigMap }],
  ["/v1/Secret", { definition: "IoK8sApiCoreV1Secret", model: "V1Secret", metadata: "core", rules: Rules.validateSecret }],
  ["/v1/ServiceAccount", { definition: "IoK8sApiCoreV1ServiceAccount", model: "V1ServiceAccount", metadata: "core" }],
  ["/v1/Event", { definition: "IoK8sApiCoreV1Event", model: "CoreV1Event", metadata: "core", rules: Rules.validateCoreEvent }],
  ["events.k8s.io/v1/Event", { definition: "IoK8sApiEventsV1Event", model: "EventsV1Event", metadata: "core", rules: Rules.validateEventsEvent }],
  ["discovery.k8s.io/v1/EndpointSlice", { definition: "IoK8sApiDiscoveryV1EndpointSlice", model: "V1EndpointSlice", metadata: "core", rules: Rules.validateEndpointSlice }],
  ["batch/v1/Job", { definition: "IoK8sApiBatchV1Job", model: "V1Job", metadata: "core" }],
  ["coordination.k8s.io/v1/Lease", { definition: "IoK8sApiCoordinationV1Lease", model: "V1Lease", metadata: "core", rules: Rules.validateLease }],
  [
    "apiextensions.k8s.io/v1/CustomResourceDefinition",
    { definition: "IoK8sApiextensionsApiserverPkgApisApiextensionsV1CustomResourceDefinition", model: "V1CustomResourceDefinition", metadata: "generic" }
  ],
  ["resource.k8s.io/v1/DeviceClass", { definition: "IoK8sApiResourceV1DeviceClass", model: "V1DeviceClass", metadata: "core", rules: Rules.validateDeviceClass }],
  ["resource.k8s.io/v1/ResourceSlice", { definition: "IoK8sApiResourceV1ResourceSlice", model: "V1ResourceSlice", metadata: "core", rules: Rules.validateResourceSlice }],
  ["resource.k8s.io/v1/ResourceClaim", { definition: "IoK8sApiResourceV1ResourceClaim", model: "ResourceV1ResourceClaim", metadata: "core", rules: Rules.validateResourceClaim }],
  [
    "resource.k8s.io/v1/ResourceClaimTemplate",
    { definition: "IoK8sApiResourceV1ResourceClaimTemplate", model: "V1ResourceClaimTemplate", metadata: "core", rules: Rules.validateResourceClaimTemplate }
  ],
  ["rbac.authorization.k8s.io/v1/Role", { definition: "IoK8sApiRbacV1Role", model: "V1Role", metadata: "core", rules: Rules.validateRole }],
  ["rbac.authorization.k8s.io/v1/ClusterRole", { definition: "IoK8sApiRbacV1ClusterRole", model: "V1ClusterRole", metadata: "core", rules: Rules.validateClusterRole }],
  ["rbac.authorization.k8s.io/v1/RoleBinding", { definition: "IoK8sApiRbacV1RoleBinding", model: "V1RoleBinding", metadata: "core", rules: Rules.validateRoleBinding }],
  [
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding",
    { definition: "IoK8sApiRbacV1ClusterRoleBinding", model: "V1ClusterRoleBinding", metadata: "core", rules: Rules.validateClusterRoleBinding }
  ],
  [
    "authorization.k8s.io/v1/SelfSubjectAccessReview",
    { definition: "IoK8sApiAuthorizationV1SelfSubjectAccessReview", model: "V1SelfSubjectAccessReview", metadata: "none" }
  ],
  ["authentication.k8s.io/v1/TokenRequest", { definition: "IoK8sApiAuthenticationV1TokenRequest", model: "AuthenticationV1TokenRequest", metadata: "none" }]
])

const keyOf = (kind: BuiltinKind) => `${kind.group}/${kind.version}/${kind.kind}`

/** Whether these functions know the kind. */
export const isBuiltinKind = (kind: BuiltinKind): boolean => KINDS.has(keyOf(kind))

/** The 400 a real server answers when the typed decode fails: `Job in version "v1" cannot be handled as a Job: …`. */
const cannotBeHandled = (kind: BuiltinKind, detail: string): StatusError =>
  badRequest(`${kind.kind} in version ${goQuote(kind.version)} cannot be handled as a ${kind.kind}: ${detail}`)

/**
 * The typed decode of a request body: throws the 400 BadRequest a real server answers on a JSON type mismatch
 * (`json: cannot unmarshal string into Go struct field JobSpec.spec.parallelism of type int32`), a malformed
 * quantity, time or base64 value; returns the unknown field paths (`spec.template.spec.containers[0].bogus`) in
 * document order, for `fieldValidation=Strict` (see `strictDecodingError`) or `Warn` (`unknown field "…"` warnings).
 */
export const decodeBuiltin = (kind: BuiltinKind, object: KubeObject): { unknownFields: Array<string> } => {
  const schema = KINDS.get(keyOf(kind))
  if (schema === undefined) return { unknownFields: [] }
  const result = decodeObject(object, schema.model, ajvErrors(schema.definition, object))
  if (result.error !== undefined) throw cannotBeHandled(kind, result.error)
  return { unknownFields: result.unknownFields }
}

/** The 400 of `fieldValidation=Strict` for unknown fields: `… cannot be handled as a Job: strict decoding error: unknown field "spec.foo"`. */
export const strictDecodingError = (kind: BuiltinKind, unknownFields: ReadonlyArray<string>): StatusError =>
  cannotBeHandled(kind, `strict decoding error: ${unknownFields.map((field) => `unknown field ${goQuote(field)}`).join(", ")}`)

/** The `Warning` header text of `fieldValidation=Warn` for one unknown field. */
export const unknownFieldWarning = (field: string): string => `unknown field ${goQuote(field)}`

// ---------------------------------------------------------------------------------------------------------------
// Required fields and enums from kubernetes-models

/**
 * The fields the OpenAPI schema marks required for which the Go validation answers a plain `Required value` at the
 * same path. Other required fields are defaulted, or validated differently (`roleRef.kind` is `Unsupported value`,
 * a request `name` an invalid DNS label), or not required by the server at all (`ResourcePool.generation`).
 */
const PLAIN_REQUIRED = new Set([
  "V1PodSpec.containers",
  "V1Container.name",
  "V1EphemeralContainer.name",
  "V1ContainerPort.containerPort",
  "V1EnvVar.name",
  "V1Volume.name",
  "V1VolumeMount.name",
  "V1VolumeMount.mountPath",
  "V1KeyToPath.key",
  "V1KeyToPath.path",
  "V1ConfigMapKeySelector.key",
  "V1SecretKeySelector.key",
  "V1ObjectFieldSelector.fieldPath",
  "V1ResourceFieldSelector.resource",
  "V1PersistentVolumeClaimVolumeSource.claimName",
  "V1HostPathVolumeSource.path",
  "V1NFSVolumeSource.server",
  "V1NFSVolumeSource.path",
  "V1CSIVolumeSource.driver",
  "V1DownwardAPIVolumeFile.path",
  "V1ServiceAccountTokenProjection.path",
  "V1ExactDeviceRequest.deviceClassName",
  "V1DeviceSubRequest.deviceClassName",
  "V1OpaqueDeviceConfiguration.driver",
  "V1OpaqueDeviceConfiguration.parameters",
  "V1ResourceSliceSpec.driver",
  "V1CounterSet.name",
  "V1CounterSet.counters",
  "V1EndpointSlice.addressType",
  "V1CustomResourceDefinitionSpec.group",
  "V1CustomResourceDefinitionSpec.scope",
  "V1CustomResourceDefinitionNames.plural",
  "V1CustomResourceDefinitionNames.kind",
  "V1CustomResourceColumnDefinition.name",
  "V1CustomResourceColumnDefinition.type",
  "V1CustomResourceColumnDefinition.jsonPath"
])

/** Enums whose Go validation lists the supported values in another order than the (sorted) OpenAPI enum. */
const ENUM_ORDER: ReadonlyMap<string, ReadonlyArray<string>> = new Map([
  ["V1Taint.effect", ["NoSchedule", "PreferNoSchedule", "NoExecute"]],
  ["V1Toleration.effect", ["NoSchedule", "PreferNoSchedule", "NoExecute"]],
  ["V1JobSpec.completionMode", ["NonIndexed", "Indexed"]],
  ["V1PodSpec.restartPolicy", ["Always", "OnFailure", "Never"]]
])

interface Located {
  /** The Kubernetes field path: `spec.template.spec.containers[0].name`, `data[key]`. */
  readonly field: string
  /** `Class.field` of the innermost struct field on the path. */
  readonly owner: string
  readonly value: unknown
}

/** Follows JSON pointer segments through the object and client-node's types. */
const locate = (model: string, object: unknown, segments: ReadonlyArray<string>): Located | undefined => {
  let type: FieldType = { kind: "class", name: model }
  let value = object
  let field = ""
  let owner = ""
  for (const segment of segments) {
    const next: unknown = isRecord(value) ? value[segment] : Array.isArray(value) ? value[Number(segment)] : undefined
    switch (type.kind) {
      case "class": {
        const fieldType: FieldType | undefined = classFields(type.name)?.get(segment)
        if (fieldType === undefined) return undefined
        owner = `${type.name}.${segment}`
        field = field === "" ? segment : `${field}.${segment}`
        type = fieldType
        break
      }
      case "array":
        field = `${field}[${segment}]`
        type = type.item
        break
      case "map":
        field = `${field}[${segment}]`
        type = type.value
        break
      default:
        return undefined
    }
    value = next
  }
  return { field, owner, value }
}

const segmentsOf = (pointer: string): Array<string> =>
  pointer === "" ? [] : pointer.slice(1).split("/").map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"))

/**
 * The causes kubernetes-models' required and enum errors stand for, outside `status` and `managedFields`. An empty
 * string is not an enum violation: the server's defaulting treats it as unset (`protocol: ""` becomes `TCP`).
 */
const schemaCauses = (model: string, object: Json, errors: ReadonlyArray<AjvError>): Array<FieldCause> => {
  const causes: Array<FieldCause> = []
  for (const error of errors) {
    const segments = segmentsOf(error.instancePath)
    if (error.keyword === "required" && typeof error.params["missingProperty"] === "string") segments.push(error.params["missingProperty"])
    else if (error.keyword !== "enum") continue
    if (segments[0] === "status" || (segments[0] === "metadata" && segments[1] === "managedFields")) continue
    const located = locate(model, object, segments)
    if (located === undefined) continue
    if (error.keyword === "required") {
      if (PLAIN_REQUIRED.has(located.owner)) causes.push(required(located.field))
    } else if (typeof located.value === "string" && located.value !== "") {
      const allowed = Array.isArray(error.params["allowedValues"]) ? error.params["allowedValues"].filter((item): item is string => typeof item === "string") : []
      causes.push(notSupported(located.field, located.value, ENUM_ORDER.get(located.owner) ?? allowed))
    }
  }
  return causes
}

const metadataCauses = (schema: KindSchema, object: Json): Array<FieldCause> =>
  schema.metadata === "none" ? [] : Rules.validateObjectMeta(object["metadata"], schema.metadata === "core")

/** The object metadata checks every kind has (labels, annotations, finalizer names): for custom resources. */
export const validateMetadata = (object: KubeObject): Array<FieldCause> => Rules.validateObjectMeta(object.metadata, false)

/**
 * Create validation of a defaulted object: the field causes of the 422 Invalid a real server answers, in the order
 * its validation reports them (object metadata, then the kind's rules), followed by the required fields and enum
 * values the schema reports that the rules do not cover. `metadata.name` is not checked here.
 */
export const validateBuiltin = (kind: BuiltinKind, object: KubeObject): Array<FieldCause> => {
  const schema = KINDS.get(keyOf(kind))
  if (schema === undefined) return []
  const json = object as Json
  let causes: Array<FieldCause>
  if (keyOf(kind) === "batch/v1/Job") {
    const job = Rules.validateJob(json)
    causes = [...metadataCauses(schema, json), ...job.meta, ...job.rest]
  } else {
    causes = [...metadataCauses(schema, json), ...(schema.rules?.(json) ?? [])]
  }
  const covered = new Set(causes.map((cause) => cause.field))
  const seen = new Set<string>()
  for (const cause of schemaCauses(schema.model, json, ajvErrors(schema.definition, object))) {
    const key = `${cause.field}\u0000${cause.message}`
    if (covered.has(cause.field) || seen.has(key)) continue
    seen.add(key)
    causes.push(cause)
  }
  return causes
}

/**
 * Update validation: the causes only an update has (immutable fields, with the real messages). The server answers
 * `[...validateBuiltin(kind, next), ...validateBuiltinUpdate(kind, next, old)]` for an update.
 */
export const validateBuiltinUpdate = (kind: BuiltinKind, next: KubeObject, old: KubeObject): Array<FieldCause> =>
  UPDATE_RULES.get(keyOf(kind))?.(next as Json, old as Json) ?? []
