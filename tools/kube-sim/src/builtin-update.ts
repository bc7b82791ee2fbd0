/**
 * The update validation of the built-in kinds: immutable fields with the messages of Kubernetes 1.35
 * (`ValidateJobSpecUpdate` in pkg/apis/batch/validation, `ValidatePodUpdate`, `ValidateServiceUpdate`,
 * `ValidateConfigMapUpdate` and `ValidateSecretUpdate` in pkg/apis/core/validation,
 * `ValidateResourceClaim(Template)Update` and `ValidateResourceSliceUpdate` in pkg/apis/resource/validation,
 * `ValidateRoleBindingUpdate` in pkg/apis/rbac/validation, `ValidateEndpointSliceUpdate` in pkg/apis/discovery).
 *
 * Equality is `apiequality.Semantic.DeepEqual` on the decoded Go structs, approximated on JSON: missing, `null`, `""`,
 * `false`, `0`, `[]` and `{}` are all the zero value. Struct values print as their Go type followed by their JSON
 * (a real server prints Go's `%#v` of the internal struct, addresses included, which cannot be reproduced).
 */
import type { FieldCause } from "./schema-types.ts"
import { GoLiteral, forbidden, goQuote, goStringSlice, goStruct, invalid, isRecord, list, num, obj, str } from "./builtin-messages.ts"

type Causes = Array<FieldCause>
type Json = Record<string, unknown>

const isZero = (value: unknown): boolean =>
  value === undefined || value === null || value === "" || value === false || value === 0 ||
  (Array.isArray(value) && value.length === 0) || (isRecord(value) && Object.keys(value).length === 0)

const normalize = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(normalize)
  if (!isRecord(value)) return value
  const out: Json = {}
  for (const key of Object.keys(value).sort()) {
    const item = normalize(value[key])
    if (!isZero(item)) out[key] = item
  }
  return out
}

const deepEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, index) => deepEqual(item, b[index]))
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]))
  }
  return false
}

/** Semantic equality of two decoded values. */
export const same = (a: unknown, b: unknown): boolean => {
  const left = normalize(a)
  const right = normalize(b)
  return (isZero(left) && isZero(right)) || deepEqual(left, right)
}

const immutable = (field: string, value: unknown): FieldCause => invalid(field, value, "field is immutable")

/** A pointer field as `ErrorBody` prints it: the pointee, or `null`. */
const pointee = (value: unknown): unknown => (value === undefined ? null : value)

// ---------------------------------------------------------------------------------------------------------------
// batch/v1 Job

const completionsOf = (spec: unknown): number | undefined =>
  num(spec, "completions") ?? (num(spec, "parallelism") === undefined ? 1 : undefined)

const parallelismOf = (spec: unknown): number => num(spec, "parallelism") ?? 1

/** The template fields a suspended job that never started may change (`AllowMutableSchedulingDirectives`). */
const schedulingDirectivesOf = (oldTemplate: unknown, newTemplate: unknown): unknown => {
  const template = structuredClone(isRecord(oldTemplate) ? oldTemplate : {})
  const next = isRecord(newTemplate) ? newTemplate : {}
  const metadata = { ...(obj(template, "metadata") ?? {}) }
  const nextMetadata = obj(next, "metadata") ?? {}
  metadata["labels"] = nextMetadata["labels"]
  metadata["annotations"] = nextMetadata["annotations"]
  template["metadata"] = metadata
  const spec = { ...(obj(template, "spec") ?? {}) }
  const nextSpec = obj(next, "spec") ?? {}
  for (const key of ["nodeSelector", "tolerations", "schedulingGates"]) spec[key] = nextSpec[key]
  const affinity = obj(spec, "affinity")
  const nextAffinity = obj(nextSpec, "affinity")
  if (affinity !== undefined || nextAffinity !== undefined) spec["affinity"] = { ...(affinity ?? {}), nodeAffinity: nextAffinity?.["nodeAffinity"] }
  template["spec"] = spec
  return template
}

const validateJobUpdate = (next: Json, old: Json): Causes => {
  const spec = obj(next, "spec") ?? {}
  const oldSpec = obj(old, "spec") ?? {}
  const causes: Causes = []
  const completions = completionsOf(spec)
  if (completions !== completionsOf(oldSpec)) {
    if (str(spec, "completionMode") !== "Indexed") causes.push(immutable("spec.completions", pointee(completions)))
    else if (completions !== undefined && completions !== parallelismOf(spec)) {
      causes.push(invalid("spec.completions", completions, "can only be modified in tandem with spec.parallelism"))
    }
  }
  if (!same(spec["selector"], oldSpec["selector"])) {
    causes.push(immutable("spec.selector", spec["selector"] === undefined ? null : goStruct("v1.LabelSelector", spec["selector"])))
  }
  const suspendedNotStarted = spec["suspend"] === true && obj(old, "status")?.["startTime"] === undefined
  const oldTemplate = suspendedNotStarted ? schedulingDirectivesOf(oldSpec["template"], spec["template"]) : oldSpec["template"]
  if (!same(spec["template"], oldTemplate)) causes.push(immutable("spec.template", goStruct("core.PodTemplateSpec", spec["template"])))
  const mode = str(spec, "completionMode") || "NonIndexed"
  if (mode !== (str(oldSpec, "completionMode") || "NonIndexed")) causes.push(immutable("spec.completionMode", mode))
  if (!same(spec["podFailurePolicy"], oldSpec["podFailurePolicy"])) {
    causes.push(immutable("spec.podFailurePolicy", spec["podFailurePolicy"] === undefined ? null : goStruct("batch.PodFailurePolicy", spec["podFailurePolicy"])))
  }
  if (num(spec, "backoffLimitPerIndex") !== num(oldSpec, "backoffLimitPerIndex")) causes.push(immutable("spec.backoffLimitPerIndex", pointee(spec["backoffLimitPerIndex"])))
  if (spec["managedBy"] !== oldSpec["managedBy"]) causes.push(immutable("spec.managedBy", pointee(spec["managedBy"])))
  if (!same(spec["successPolicy"], oldSpec["successPolicy"])) {
    causes.push(immutable("spec.successPolicy", spec["successPolicy"] === undefined ? null : goStruct("batch.SuccessPolicy", spec["successPolicy"])))
  }
  return causes
}

// ---------------------------------------------------------------------------------------------------------------
// v1 Pod

/** `updatablePodSpecFields`, as `ValidatePodUpdate` lists them. */
const POD_UPDATABLE =
  "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations)," +
  "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

const diffLines = (a: unknown, b: unknown, path: string, out: Array<string>) => {
  if (deepEqual(a, b)) return
  if (isRecord(a) && isRecord(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])]) diffLines(a[key], b[key], `${path}.${key}`, out)
    return
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((item, index) => diffLines(item, b[index], `${path}[${index}]`, out))
    return
  }
  if (a !== undefined) out.push(`- ${path}: ${JSON.stringify(a)}`)
  if (b !== undefined) out.push(`+ ${path}: ${JSON.stringify(b)}`)
}

/**
 * `ValidatePodUpdate` for `spec`: only the updatable fields may differ. The real message ends with a `cmp.Diff` of
 * the internal `core.PodSpec`; this one ends with `- path: old` / `+ path: new` lines instead.
 */
const validatePodUpdate = (next: Json, old: Json): Causes => {
  const spec = obj(next, "spec") ?? {}
  const oldSpec = obj(old, "spec") ?? {}
  if (list(spec, "containers").length !== list(oldSpec, "containers").length) {
    return [forbidden("spec.containers", "pod updates may not add or remove containers")]
  }
  const munged = structuredClone(spec)
  for (const key of ["containers", "initContainers"]) {
    const containers = list(munged, key)
    const oldContainers = list(oldSpec, key)
    if (containers.length !== oldContainers.length) continue
    containers.forEach((container, index) => {
      const oldContainer = oldContainers[index]
      if (isRecord(container)) container["image"] = isRecord(oldContainer) ? oldContainer["image"] : undefined
    })
  }
  munged["activeDeadlineSeconds"] = oldSpec["activeDeadlineSeconds"]
  const tolerations = list(spec, "tolerations")
  if (list(oldSpec, "tolerations").every((toleration) => tolerations.some((candidate) => same(candidate, toleration)))) {
    munged["tolerations"] = oldSpec["tolerations"]
  }
  const grace = num(oldSpec, "terminationGracePeriodSeconds")
  if (grace !== undefined && grace < 0 && num(spec, "terminationGracePeriodSeconds") === 1) munged["terminationGracePeriodSeconds"] = grace
  const gates = list(oldSpec, "schedulingGates")
  if (list(spec, "schedulingGates").every((gate) => gates.some((candidate) => same(candidate, gate)))) munged["schedulingGates"] = oldSpec["schedulingGates"]
  if (same(munged, oldSpec)) return []
  const lines: Array<string> = []
  diffLines(normalize(oldSpec), normalize(munged), "spec", lines)
  return [forbidden("spec", `pod updates may not change fields other than ${POD_UPDATABLE}\n${lines.join("\n")}`)]
}

// ---------------------------------------------------------------------------------------------------------------
// v1 Service, ConfigMap, Secret

const clusterIPsOf = (spec: unknown): Array<string> => {
  const ips = list(spec, "clusterIPs").filter((ip): ip is string => typeof ip === "string")
  if (ips.length > 0) return ips
  const ip = str(spec, "clusterIP")
  return ip === "" ? [] : [ip]
}

/**
 * `validateUpgradeDowngradeClusterIPs`: the primary cluster IP may not change once set. An update that leaves the
 * cluster IP out keeps the allocated one (the service registry copies it before validating).
 */
const validateServiceUpdate = (next: Json, old: Json): Causes => {
  const spec = obj(next, "spec") ?? {}
  const oldSpec = obj(old, "spec") ?? {}
  if ((str(spec, "type") || "ClusterIP") === "ExternalName" || (str(oldSpec, "type") || "ClusterIP") === "ExternalName") return []
  const oldIPs = clusterIPsOf(oldSpec)
  const ips = clusterIPsOf(spec)
  if (oldIPs.length === 0 || ips.length === 0) return []
  if (oldIPs[0] === "None" && ips[0] === "None") return []
  return ips[0] === oldIPs[0] ? [] : [invalid("spec.clusterIPs[0]", goStringSlice(ips), "may not change once set")]
}

const IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"

const validateConfigMapUpdate = (next: Json, old: Json): Causes => {
  if (old["immutable"] !== true) return []
  const causes: Causes = []
  if (next["immutable"] !== true) causes.push(forbidden("immutable", IMMUTABLE_WHEN_SET))
  if (!same(next["data"], old["data"])) causes.push(forbidden("data", IMMUTABLE_WHEN_SET))
  if (!same(next["binaryData"], old["binaryData"])) causes.push(forbidden("binaryData", IMMUTABLE_WHEN_SET))
  return causes
}

/** A secret's data as stored: `data` with `stringData` merged in (base64-encoded). */
const secretData = (secret: Json): Json => {
  const data: Json = { ...(obj(secret, "data") ?? {}) }
  for (const [key, value] of Object.entries(obj(secret, "stringData") ?? {})) {
    if (typeof value === "string") data[key] = Buffer.from(value, "utf8").toString("base64")
  }
  return data
}

const validateSecretUpdate = (next: Json, old: Json): Causes => {
  const causes: Causes = []
  const type = str(next, "type") || "Opaque"
  if (type !== (str(old, "type") || "Opaque")) causes.push(immutable("type", type))
  if (old["immutable"] === true) {
    if (next["immutable"] !== true) causes.push(forbidden("immutable", IMMUTABLE_WHEN_SET))
    if (!same(secretData(next), secretData(old))) causes.push(forbidden("data", IMMUTABLE_WHEN_SET))
  }
  return causes
}

// ---------------------------------------------------------------------------------------------------------------
// resource.k8s.io, rbac, discovery

const validateResourceClaimUpdate = (next: Json, old: Json): Causes =>
  same(next["spec"], old["spec"]) ? [] : [immutable("spec", goStruct("resource.ResourceClaimSpec", next["spec"]))]

const validateResourceClaimTemplateUpdate = (next: Json, old: Json): Causes =>
  same(next["spec"], old["spec"]) ? [] : [immutable("spec", goStruct("resource.ResourceClaimTemplateSpec", next["spec"]))]

const validateResourceSliceUpdate = (next: Json, old: Json): Causes => {
  const spec = obj(next, "spec") ?? {}
  const oldSpec = obj(old, "spec") ?? {}
  const causes: Causes = []
  if (str(spec, "nodeName") !== str(oldSpec, "nodeName")) causes.push(immutable("spec.nodeName", pointee(spec["nodeName"])))
  if (str(spec, "driver") !== str(oldSpec, "driver")) causes.push(immutable("spec.driver", str(spec, "driver")))
  return causes
}

const roleRefOf = (binding: Json) => {
  const ref = obj(binding, "roleRef")
  return new GoLiteral(`rbac.RoleRef{APIGroup:${goQuote(str(ref, "apiGroup"))}, Kind:${goQuote(str(ref, "kind"))}, Name:${goQuote(str(ref, "name"))}}`)
}

const validateBindingUpdate = (next: Json, old: Json): Causes => {
  const ref = roleRefOf(next)
  return ref.text === roleRefOf(old).text ? [] : [invalid("roleRef", ref, "cannot change roleRef")]
}

const validateEndpointSliceUpdate = (next: Json, old: Json): Causes =>
  str(next, "addressType") === str(old, "addressType") ? [] : [immutable("addressType", str(next, "addressType"))]

/** Update rules by `group/version/kind`. */
export const UPDATE_RULES: ReadonlyMap<string, (next: Json, old: Json) => Causes> = new Map([
  ["batch/v1/Job", validateJobUpdate],
  ["/v1/Pod", validatePodUpdate],
  ["/v1/Service", validateServiceUpdate],
  ["/v1/ConfigMap", validateConfigMapUpdate],
  ["/v1/Secret", validateSecretUpdate],
  ["resource.k8s.io/v1/ResourceClaim", validateResourceClaimUpdate],
  ["resource.k8s.io/v1/ResourceClaimTemplate", validateResourceClaimTemplateUpdate],
  ["resource.k8s.io/v1/ResourceSlice", validateResourceSliceUpdate],
  ["rbac.authorization.k8s.io/v1/RoleBinding", validateBindingUpdate],
  ["rbac.authorization.k8s.io/v1/ClusterRoleBinding", validateBindingUpdate],
  ["discovery.k8s.io/v1/EndpointSlice", validateEndpointSliceUpdate]
])
