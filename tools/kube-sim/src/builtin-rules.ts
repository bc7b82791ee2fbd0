/**
 * The create validation of the built-in kinds that the schemas cannot express, with the messages of Kubernetes 1.35:
 * `pkg/apis/core/validation/validation.go` (object metadata, pods, services, config maps, secrets, nodes),
 * `pkg/apis/core/validation/events.go`, `pkg/apis/batch/validation/validation.go`,
 * `pkg/apis/resource/validation/validation.go`, `pkg/apis/rbac/validation/validation.go`,
 * `pkg/apis/coordination/validation/validation.go` and `pkg/apis/discovery/validation/validation.go`.
 * Every function reads a defaulted object and treats a missing defaulted field as its default.
 */
import type { FieldCause } from "./schema-types.ts"
import {
  configMapKeyErrors,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  duplicate,
  forbidden,
  goStringSlice,
  invalid,
  isRecord,
  labelKeyErrors,
  labelValueErrors,
  list,
  notFound,
  notSupported,
  num,
  obj,
  portNameErrors,
  portNumberErrors,
  required,
  str,
  validateAnnotations,
  validateLabelSelector,
  validateLabels
} from "./builtin-messages.ts"

type Causes = Array<FieldCause>
type Json = Record<string, unknown>

const STANDARD_FINALIZERS = new Set(["kubernetes", "orphan", "foregroundDeletion"])

/** `ValidateObjectMeta` without the name: labels, annotations, finalizers (`kubeFinalizers`: the core check too). */
export const validateObjectMeta = (meta: unknown, kubeFinalizers: boolean): Causes => {
  const causes = [...validateLabels(obj(meta, "labels"), "metadata.labels"), ...validateAnnotations(obj(meta, "annotations"), "metadata.annotations")]
  list(meta, "finalizers").forEach((finalizer, index) => {
    if (typeof finalizer !== "string") return
    const field = `metadata.finalizers[${index}]`
    for (const message of labelKeyErrors(finalizer)) causes.push(invalid(field, finalizer, message))
    if (kubeFinalizers && !finalizer.includes("/") && !STANDARD_FINALIZERS.has(finalizer)) {
      causes.push(invalid(field, finalizer, "name is neither a standard finalizer name nor is it fully qualified"))
    }
  })
  return causes
}

const nonNegative = (spec: unknown, key: string, field: string): Causes => {
  const value = num(spec, key)
  return value !== undefined && value < 0 ? [invalid(field, value, "must be greater than or equal to 0")] : []
}

const dnsLabel = (value: string, field: string): Causes => dns1123LabelErrors(value).map((message) => invalid(field, value, message))

const dnsSubdomain = (value: string, field: string): Causes => dns1123SubdomainErrors(value).map((message) => invalid(field, value, message))

// ---------------------------------------------------------------------------------------------------------------
// Pods and pod templates

const PROTOCOLS = ["SCTP", "TCP", "UDP"]
const RESTART_POLICIES = ["Always", "OnFailure", "Never"]

const validatePorts = (ports: Array<unknown>, at: string): Causes => {
  const causes: Causes = []
  const names = new Set<string>()
  ports.forEach((port, index) => {
    const field = `${at}[${index}]`
    const name = str(port, "name")
    if (name !== "") {
      const errors = portNameErrors(name)
      for (const message of errors) causes.push(invalid(`${field}.name`, name, message))
      if (errors.length === 0 && names.has(name)) causes.push(duplicate(`${field}.name`, name))
      names.add(name)
    }
    const containerPort = num(port, "containerPort") ?? 0
    if (containerPort === 0) causes.push(required(`${field}.containerPort`))
    else for (const message of portNumberErrors(containerPort)) causes.push(invalid(`${field}.containerPort`, containerPort, message))
    const hostPort = num(port, "hostPort") ?? 0
    if (hostPort !== 0) for (const message of portNumberErrors(hostPort)) causes.push(invalid(`${field}.hostPort`, hostPort, message))
    const protocol = str(port, "protocol")
    if (protocol !== "" && !PROTOCOLS.includes(protocol)) causes.push(notSupported(`${field}.protocol`, protocol, PROTOCOLS))
  })
  return causes
}

const validateEnv = (env: Array<unknown>, at: string): Causes => {
  const causes: Causes = []
  env.forEach((variable, index) => {
    const field = `${at}[${index}].name`
    const name = str(variable, "name")
    if (name === "") causes.push(required(field), invalid(field, name, "environment variable name must be non-empty"))
    else if ([...name].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) > 0x7e || char === "=")) {
      causes.push(invalid(field, name, "a valid environment variable name must consist only of printable ASCII characters other than '='"))
    }
  })
  return causes
}

const validateVolumeMounts = (mounts: Array<unknown>, volumes: ReadonlySet<string>, at: string): Causes => {
  const causes: Causes = []
  const paths = new Set<string>()
  mounts.forEach((mount, index) => {
    const field = `${at}[${index}]`
    const name = str(mount, "name")
    if (name === "") causes.push(required(`${field}.name`))
    if (!volumes.has(name)) causes.push(notFound(`${field}.name`, name))
    const path = str(mount, "mountPath")
    if (path === "") causes.push(required(`${field}.mountPath`))
    else if (paths.has(path)) causes.push(invalid(`${field}.mountPath`, path, "must be unique"))
    paths.add(path)
  })
  return causes
}

/** `validateContainerCommon`, for what the simulator checks. */
const validateContainer = (container: unknown, volumes: ReadonlySet<string>, at: string): Causes => {
  const causes: Causes = []
  const name = str(container, "name")
  if (name === "") causes.push(required(`${at}.name`))
  else causes.push(...dnsLabel(name, `${at}.name`))
  if (str(container, "image") === "") causes.push(required(`${at}.image`))
  causes.push(...validatePorts(list(container, "ports"), `${at}.ports`))
  causes.push(...validateEnv(list(container, "env"), `${at}.env`))
  causes.push(...validateVolumeMounts(list(container, "volumeMounts"), volumes, `${at}.volumeMounts`))
  return causes
}

/** `ValidatePodSpec` at `at` (`spec` or `spec.template.spec`), for what the simulator checks. */
export const validatePodSpec = (spec: unknown, at: string): Causes => {
  const causes: Causes = []
  const volumes = new Set<string>()
  list(spec, "volumes").forEach((volume, index) => {
    const field = `${at}.volumes[${index}].name`
    const name = str(volume, "name")
    const errors = name === "" ? [required(field)] : dnsLabel(name, field)
    if (volumes.has(name)) errors.push(duplicate(field, name))
    if (errors.length === 0) volumes.add(name)
    causes.push(...errors)
  })
  const containers = list(spec, "containers")
  const containerNames = new Set(containers.map((container) => str(container, "name")))
  const initNames = new Set<string>(containerNames)
  list(spec, "initContainers").forEach((container, index) => {
    const field = `${at}.initContainers[${index}]`
    causes.push(...validateContainer(container, volumes, field))
    const name = str(container, "name")
    if (initNames.has(name)) causes.push(duplicate(`${field}.name`, name))
    else if (name !== "") initNames.add(name)
  })
  if (containers.length === 0) causes.push(required(`${at}.containers`))
  const seen = new Set<string>()
  containers.forEach((container, index) => {
    const field = `${at}.containers[${index}]`
    causes.push(...validateContainer(container, volumes, field))
    const name = str(container, "name")
    if (seen.has(name)) causes.push(duplicate(`${field}.name`, name))
    seen.add(name)
  })
  const restartPolicy = str(spec, "restartPolicy") || "Always"
  if (!RESTART_POLICIES.includes(restartPolicy)) causes.push(notSupported(`${at}.restartPolicy`, restartPolicy, RESTART_POLICIES))
  causes.push(...validateLabels(obj(spec, "nodeSelector"), `${at}.nodeSelector`))
  return causes
}

/** `ValidatePodTemplateSpec` at `at` with the template's effective labels. */
const validatePodTemplate = (template: unknown, labels: unknown, at: string): Causes => {
  const causes = [
    ...validateLabels(labels, `${at}.labels`),
    ...validateAnnotations(obj(obj(template, "metadata"), "annotations"), `${at}.annotations`),
    ...validatePodSpec(obj(template, "spec") ?? {}, `${at}.spec`)
  ]
  if (list(obj(template, "spec"), "ephemeralContainers").length > 0) causes.push(forbidden(`${at}.spec.ephemeralContainers`, "ephemeral containers not allowed in pod template"))
  return causes
}

export const validatePod = (pod: Json): Causes => validatePodSpec(obj(pod, "spec") ?? {}, "spec")

// ---------------------------------------------------------------------------------------------------------------
// batch/v1 Job

/** The labels the job registry adds to the pod template when it generates the selector. */
const JOB_NAME_LABELS = ["batch.kubernetes.io/job-name", "job-name"]

const dedupe = (causes: Causes): Causes => {
  const seen = new Set<string>()
  return causes.filter((cause) => {
    const key = `${cause.field}\u0000${cause.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/**
 * `ValidateJob` after the job registry's `generateSelector`: the template gets `batch.kubernetes.io/job-name` and
 * `job-name` labels with the job's name, so a name longer than 63 bytes fails at `spec.template.labels`. The real
 * server reports that cause once per label; the aggregated message prints it once, and so does this function.
 */
export const validateJob = (job: Json): { meta: Causes; rest: Causes } => {
  const spec = obj(job, "spec") ?? {}
  const template = obj(spec, "template") ?? {}
  const name = str(job.metadata, "name")
  const manualSelector = spec["manualSelector"] === true
  const templateLabels: Json = { ...(obj(obj(template, "metadata"), "labels") ?? {}) }
  if (!manualSelector) for (const key of JOB_NAME_LABELS) templateLabels[key] ??= name
  const causes: Causes = [
    ...nonNegative(spec, "parallelism", "spec.parallelism"),
    ...nonNegative(spec, "completions", "spec.completions"),
    ...nonNegative(spec, "activeDeadlineSeconds", "spec.activeDeadlineSeconds"),
    ...nonNegative(spec, "backoffLimit", "spec.backoffLimit"),
    ...nonNegative(spec, "ttlSecondsAfterFinished", "spec.ttlSecondsAfterFinished"),
    ...nonNegative(spec, "backoffLimitPerIndex", "spec.backoffLimitPerIndex"),
    ...nonNegative(spec, "maxFailedIndexes", "spec.maxFailedIndexes")
  ]
  const indexed = str(spec, "completionMode") === "Indexed"
  if (indexed && num(spec, "completions") === undefined) causes.push(required("spec.completions", "when completion mode is Indexed"))
  causes.push(...dedupe(validatePodTemplate(template, templateLabels, "spec.template")))
  const restartPolicy = str(obj(template, "spec"), "restartPolicy") || "Always"
  if (restartPolicy === "Always") causes.push(required("spec.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'))
  else if (restartPolicy !== "OnFailure" && restartPolicy !== "Never") causes.push(notSupported("spec.template.spec.restartPolicy", restartPolicy, ["OnFailure", "Never"]))
  else if (obj(spec, "podFailurePolicy") !== undefined && restartPolicy !== "Never") {
    causes.push(invalid("spec.template.spec.restartPolicy", restartPolicy, 'only "Never" is supported when podFailurePolicy is specified'))
  }
  if (manualSelector) {
    const selector = obj(spec, "selector")
    if (selector === undefined) causes.push(required("spec.selector"))
    else causes.push(...validateLabelSelector(selector, "spec.selector"))
  }
  const completions = num(spec, "completions")
  if (indexed && completions !== undefined && completions > 0) {
    const hostname = `${name}-${completions - 1}`
    if (dns1123LabelErrors(hostname).length > 0) causes.push(invalid("metadata.name", name, `will not able to create pod with invalid DNS label: ${hostname}`))
  }
  const jobLabels = obj(job.metadata, "labels")
  const templateUserLabels = obj(obj(template, "metadata"), "labels")
  const meta = jobLabels === undefined || Object.keys(jobLabels).length === 0 ? validateLabels(templateUserLabels, "metadata.labels") : []
  return { meta, rest: causes }
}

// ---------------------------------------------------------------------------------------------------------------
// resource.k8s.io/v1: ResourceClaim, ResourceClaimTemplate, DeviceClass, ResourceSlice

const validateSelectors = (selectors: Array<unknown>, at: string): Causes =>
  selectors.flatMap((selector, index) => (obj(selector, "cel") === undefined ? [required(`${at}[${index}].cel`)] : []))

const validateDeviceClassName = (value: string, field: string): Causes => (value === "" ? [required(field)] : dnsSubdomain(value, field))

const validateAllocationMode = (request: unknown, at: string): Causes => {
  const mode = str(request, "allocationMode") || "ExactCount"
  const given = num(request, "count") ?? 0
  const count = mode === "ExactCount" && given === 0 ? 1 : given
  if (mode === "All") return count !== 0 ? [invalid(`${at}.count`, count, "must not be specified when allocationMode is 'All'")] : []
  if (mode === "ExactCount") return count <= 0 ? [invalid(`${at}.count`, count, "must be greater than zero")] : []
  return [notSupported(`${at}.allocationMode`, mode, ["All", "ExactCount"])]
}

const validateExactRequest = (request: unknown, at: string): Causes => [
  ...validateDeviceClassName(str(request, "deviceClassName"), `${at}.deviceClassName`),
  ...validateSelectors(list(request, "selectors"), `${at}.selectors`),
  ...validateAllocationMode(request, at)
]

const validateDeviceConfiguration = (config: unknown, at: string): Causes => {
  const opaque = obj(config, "opaque")
  if (opaque === undefined) return [required(`${at}.opaque`)]
  const causes: Causes = []
  if (str(opaque, "driver") === "") causes.push(required(`${at}.opaque.driver`))
  if (opaque["parameters"] === undefined || opaque["parameters"] === null) causes.push(required(`${at}.opaque.parameters`))
  return causes
}

/** `validateDeviceClaim`: requests (`exactly` or `firstAvailable`), config. CEL selectors are not compiled. */
const validateDeviceClaim = (devices: unknown, at: string): Causes => {
  const causes: Causes = []
  const names = new Map<string, Set<string>>()
  list(devices, "requests").forEach((request, index) => {
    const field = `${at}.requests[${index}]`
    const name = str(request, "name")
    causes.push(...dnsLabel(name, `${field}.name`))
    const firstAvailable = list(request, "firstAvailable")
    const exactly = isRecord(request) ? request["exactly"] : undefined
    const hasExactly = exactly !== undefined && exactly !== null
    const kinds = (firstAvailable.length > 0 ? 1 : 0) + (hasExactly ? 1 : 0)
    names.set(name, new Set(firstAvailable.map((sub) => str(sub, "name"))))
    if (kinds === 0) causes.push(required(field, "exactly one of `exactly` or `firstAvailable` is required"))
    else if (kinds > 1) causes.push(invalid(field, null, "exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set"))
    else if (hasExactly) causes.push(...validateExactRequest(exactly, `${field}.exactly`))
    else {
      firstAvailable.forEach((sub, subIndex) => {
        const subField = `${field}.firstAvailable[${subIndex}]`
        causes.push(...dnsLabel(str(sub, "name"), `${subField}.name`), ...validateExactRequest(sub, subField))
      })
    }
  })
  list(devices, "config").forEach((config, index) => {
    const field = `${at}.config[${index}]`
    list(config, "requests").forEach((reference, refIndex) => {
      if (typeof reference !== "string") return
      const [request, sub, ...more] = reference.split("/")
      const known = more.length === 0 && names.has(request!) && (sub === undefined || names.get(request!)!.has(sub))
      if (!known) causes.push(invalid(`${field}.requests[${refIndex}]`, reference, "must be the name of a request in the claim or the name of a request and a subrequest separated by '/'"))
    })
    causes.push(...validateDeviceConfiguration(config, field))
  })
  return causes
}

export const validateResourceClaim = (claim: Json): Causes => validateDeviceClaim(obj(obj(claim, "spec"), "devices"), "spec.devices")

export const validateResourceClaimTemplate = (template: Json): Causes => {
  const spec = obj(template, "spec")
  const meta = obj(spec, "metadata")
  return [
    ...validateAnnotations(obj(meta, "annotations"), "spec.metadata.annotations"),
    ...validateLabels(obj(meta, "labels"), "spec.metadata.labels"),
    ...validateDeviceClaim(obj(obj(spec, "spec"), "devices"), "spec.spec.devices")
  ]
}

export const validateDeviceClass = (deviceClass: Json): Causes => {
  const spec = obj(deviceClass, "spec")
  return [
    ...validateSelectors(list(spec, "selectors"), "spec.selectors"),
    ...list(spec, "config").flatMap((config, index) => validateDeviceConfiguration(config, `spec.config[${index}]`))
  ]
}

export const validateResourceSlice = (slice: Json): Causes => {
  const spec = obj(slice, "spec") ?? {}
  const causes: Causes = []
  if (str(spec, "driver") === "") causes.push(required("spec.driver"))
  const pool = obj(spec, "pool")
  if (str(pool, "name") === "") causes.push(required("spec.pool.name"))
  const sliceCount = num(pool, "resourceSliceCount") ?? 0
  if (sliceCount <= 0) causes.push(invalid("spec.pool.resourceSliceCount", sliceCount, "must be greater than zero"))
  const generation = num(pool, "generation") ?? 0
  if (generation < 0) causes.push(invalid("spec.pool.generation", generation, "must be greater than or equal to zero"))
  const set: Array<string> = []
  if (str(spec, "nodeName") !== "") set.push("`nodeName`")
  if (obj(spec, "nodeSelector") !== undefined) set.push("`nodeSelector`")
  for (const key of ["allNodes", "perDeviceNodeSelection"]) {
    if (spec[key] === true) set.push(`\`${key}\``)
    else if (spec[key] === false) causes.push(invalid(`spec.${key}`, false, "must be either unset or set to true"))
  }
  const which = "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"
  if (set.length === 0) causes.push(required("spec", which))
  else if (set.length > 1) causes.push(invalid("spec", `{${set.join(", ")}}`, `${which}, but multiple fields are set`))
  const devices = new Set<string>()
  list(spec, "devices").forEach((device, index) => {
    const field = `spec.devices[${index}]`
    const name = str(device, "name")
    causes.push(...dnsLabel(name, `${field}.name`))
    if (devices.has(name)) causes.push(duplicate(field, name))
    devices.add(name)
  })
  return causes
}

// ---------------------------------------------------------------------------------------------------------------
// rbac.authorization.k8s.io/v1

const RBAC_GROUP = "rbac.authorization.k8s.io"

const validatePolicyRules = (role: Json, namespaced: boolean): Causes =>
  list(role, "rules").flatMap((rule, index) => {
    const field = `rules[${index}]`
    const causes: Causes = []
    if (list(rule, "verbs").length === 0) causes.push(required(`${field}.verbs`, "verbs must contain at least one value"))
    const urls = list(rule, "nonResourceURLs")
    if (urls.length > 0) {
      const rendered = goStringSlice(urls.filter((url): url is string => typeof url === "string"))
      if (namespaced) causes.push(invalid(`${field}.nonResourceURLs`, rendered, "namespaced rules cannot apply to non-resource URLs"))
      if (list(rule, "apiGroups").length > 0 || list(rule, "resources").length > 0 || list(rule, "resourceNames").length > 0) {
        causes.push(invalid(`${field}.nonResourceURLs`, rendered, "rules cannot apply to both regular resources and non-resource URLs"))
      }
      return causes
    }
    if (list(rule, "apiGroups").length === 0) causes.push(required(`${field}.apiGroups`, "resource rules must supply at least one api group"))
    if (list(rule, "resources").length === 0) causes.push(required(`${field}.resources`, "resource rules must supply at least one resource"))
    return causes
  })

export const validateRole = (role: Json): Causes => validatePolicyRules(role, true)

export const validateClusterRole = (role: Json): Causes => validatePolicyRules(role, false)

const pathSegmentErrors = (name: string): Array<string> => {
  if (name === "." || name === "..") return [`may not be '${name}'`]
  const errors: Array<string> = []
  for (const illegal of ["/", "%"]) if (name.includes(illegal)) errors.push(`may not contain '${illegal}'`)
  return errors
}

const validateBinding = (binding: Json, namespaced: boolean): Causes => {
  const causes: Causes = []
  const roleRef = obj(binding, "roleRef")
  const apiGroup = str(roleRef, "apiGroup")
  if (apiGroup !== RBAC_GROUP) causes.push(notSupported("roleRef.apiGroup", apiGroup, [RBAC_GROUP]))
  const kind = str(roleRef, "kind")
  const kinds = namespaced ? ["Role", "ClusterRole"] : ["ClusterRole"]
  if (!kinds.includes(kind)) causes.push(notSupported("roleRef.kind", kind, kinds))
  const name = str(roleRef, "name")
  if (name === "") causes.push(required("roleRef.name"))
  else for (const message of pathSegmentErrors(name)) causes.push(invalid("roleRef.name", name, message))
  list(binding, "subjects").forEach((subject, index) => {
    const field = `subjects[${index}]`
    const subjectName = str(subject, "name")
    if (subjectName === "") causes.push(required(`${field}.name`))
    const group = isRecord(subject) && typeof subject["apiGroup"] === "string" ? subject["apiGroup"] : undefined
    switch (str(subject, "kind")) {
      case "ServiceAccount":
        if (subjectName !== "") causes.push(...dnsSubdomain(subjectName, `${field}.name`))
        if (group !== undefined && group !== "") causes.push(notSupported(`${field}.apiGroup`, group, [""]))
        if (!namespaced && str(subject, "namespace") === "") causes.push(required(`${field}.namespace`))
        break
      case "User":
      case "Group":
        if (group !== undefined && group !== RBAC_GROUP) causes.push(notSupported(`${field}.apiGroup`, group, [RBAC_GROUP]))
        break
      default:
        causes.push(notSupported(`${field}.kind`, str(subject, "kind"), ["ServiceAccount", "User", "Group"]))
    }
  })
  return causes
}

export const validateRoleBinding = (binding: Json): Causes => validateBinding(binding, true)

export const validateClusterRoleBinding = (binding: Json): Causes => validateBinding(binding, false)

// ---------------------------------------------------------------------------------------------------------------
// v1 Service, ConfigMap, Secret, Node; coordination Lease; discovery EndpointSlice

export const validateService = (service: Json): Causes => {
  const spec = obj(service, "spec") ?? {}
  const causes: Causes = []
  const type = str(spec, "type") || "ClusterIP"
  const headless = str(spec, "clusterIP") === "None"
  const ports = list(spec, "ports")
  if (ports.length === 0 && !headless && type !== "ExternalName") causes.push(required("spec.ports"))
  const names = new Set<string>()
  ports.forEach((port, index) => {
    const field = `spec.ports[${index}]`
    const name = str(port, "name")
    if (ports.length > 1 && name === "") causes.push(required(`${field}.name`))
    else if (name !== "") {
      causes.push(...dnsLabel(name, `${field}.name`))
      if (names.has(name)) causes.push(duplicate(`${field}.name`, name))
      names.add(name)
    }
    const number = num(port, "port") ?? 0
    for (const message of portNumberErrors(number)) causes.push(invalid(`${field}.port`, number, message))
    const protocol = str(port, "protocol")
    if (protocol !== "" && !PROTOCOLS.includes(protocol)) causes.push(notSupported(`${field}.protocol`, protocol, PROTOCOLS))
  })
  causes.push(...validateLabels(obj(spec, "selector"), "spec.selector"))
  return causes
}

export const validateConfigMap = (configMap: Json): Causes => {
  const causes: Causes = []
  const data = obj(configMap, "data") ?? {}
  const binaryData = obj(configMap, "binaryData") ?? {}
  for (const key of Object.keys(data)) {
    for (const message of configMapKeyErrors(key)) causes.push(invalid(`data[${key}]`, key, message))
    if (Object.hasOwn(binaryData, key)) causes.push(invalid(`data[${key}]`, key, "duplicate of key present in binaryData"))
  }
  for (const key of Object.keys(binaryData)) for (const message of configMapKeyErrors(key)) causes.push(invalid(`binaryData[${key}]`, key, message))
  return causes
}

/** `ValidateSecret`; `stringData` keys count as `data` keys (the conversion merges them). */
export const validateSecret = (secret: Json): Causes => {
  const causes: Causes = []
  const keys = new Set([...Object.keys(obj(secret, "data") ?? {}), ...Object.keys(obj(secret, "stringData") ?? {})])
  for (const key of keys) for (const message of configMapKeyErrors(key)) causes.push(invalid(`data[${key}]`, key, message))
  switch (str(secret, "type") || "Opaque") {
    case "kubernetes.io/service-account-token":
      if (str(obj(secret.metadata, "annotations"), "kubernetes.io/service-account.name") === "") {
        causes.push(required("metadata.annotations[kubernetes.io/service-account.name]"))
      }
      break
    case "kubernetes.io/dockercfg":
      if (!keys.has(".dockercfg")) causes.push(required("data[.dockercfg]"))
      break
    case "kubernetes.io/dockerconfigjson":
      if (!keys.has(".dockerconfigjson")) causes.push(required("data[.dockerconfigjson]"))
      break
    case "kubernetes.io/basic-auth":
      if (!keys.has("username") && !keys.has("password")) causes.push(required("data[%s][username]"), required("data[%s][password]"))
      break
    case "kubernetes.io/ssh-auth":
      if (!keys.has("ssh-privatekey")) causes.push(required("data[%s][ssh-privatekey]"))
      break
    case "kubernetes.io/tls":
      if (!keys.has("tls.crt")) causes.push(required("data[tls.crt]"))
      if (!keys.has("tls.key")) causes.push(required("data[tls.key]"))
      break
  }
  return causes
}

const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]

export const validateNode = (node: Json): Causes =>
  list(obj(node, "spec"), "taints").flatMap((taint, index) => {
    const field = `spec.taints[${index}]`
    const key = str(taint, "key")
    const causes = labelKeyErrors(key).map((message) => invalid(`${field}.key`, key, message))
    const value = str(taint, "value")
    causes.push(...labelValueErrors(value).map((message) => invalid(`${field}.value`, value, message)))
    const effect = str(taint, "effect")
    if (effect === "") causes.push(required(`${field}.effect`))
    else if (!TAINT_EFFECTS.includes(effect)) causes.push(notSupported(`${field}.effect`, effect, TAINT_EFFECTS))
    return causes
  })

export const validateLease = (lease: Json): Causes => {
  const spec = obj(lease, "spec")
  const causes: Causes = []
  const duration = num(spec, "leaseDurationSeconds")
  if (duration !== undefined && duration <= 0) causes.push(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
  const transitions = num(spec, "leaseTransitions")
  if (transitions !== undefined && transitions < 0) causes.push(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
  return causes
}

export const validateEndpointSlice = (slice: Json): Causes =>
  list(slice, "endpoints").flatMap((endpoint, index) =>
    list(endpoint, "addresses").length === 0 ? [required(`endpoints[${index}].addresses`, "must contain at least 1 address")] : []
  )

// ---------------------------------------------------------------------------------------------------------------
// Events: v1 Event (legacy rules only) and events.k8s.io/v1 Event (strict rules as well)

interface EventView {
  readonly namespace: string
  readonly involvedNamespace: string
  readonly eventTime: unknown
  readonly reportingController: string
  readonly reportingInstance: string
  readonly action: string
  readonly reason: string
  readonly message: string
  readonly type: string
  readonly firstTimestamp: unknown
  readonly lastTimestamp: unknown
  readonly count: number
  readonly source: unknown
  readonly series: Record<string, unknown> | undefined
}

const present = (value: unknown) => value !== undefined && value !== null && value !== ""

/** `legacyValidateEvent` and, for events.k8s.io, the strict part of `ValidateEventCreate` (internal field names). */
const validateEventView = (event: EventView, strict: boolean): Causes => {
  const causes: Causes = []
  const mismatch = () => invalid("involvedObject.namespace", event.involvedNamespace, "does not match event.namespace")
  if (!present(event.eventTime)) {
    if (event.involvedNamespace === "") {
      if (event.namespace !== "" && event.namespace !== "default") causes.push(mismatch())
    } else if (event.namespace !== event.involvedNamespace) causes.push(mismatch())
  } else {
    if (event.involvedNamespace === "" && event.namespace !== "default" && event.namespace !== "kube-system") causes.push(mismatch())
    if (event.reportingController === "") causes.push(required("reportingController"))
    for (const message of labelKeyErrors(event.reportingController)) causes.push(invalid("reportingController", event.reportingController, message))
    if (event.reportingInstance === "") causes.push(required("reportingInstance"))
    if (event.reportingInstance.length > 128) causes.push(invalid("reportingInstance", "", "can have at most 128 characters"))
    if (event.action === "") causes.push(required("action"))
    if (event.action.length > 128) causes.push(invalid("action", "", "can have at most 128 characters"))
    if (event.reason === "") causes.push(required("reason"))
    if (event.reason.length > 128) causes.push(invalid("reason", "", "can have at most 128 characters"))
    if (event.message.length > 1024) causes.push(invalid("message", "", "can have at most 1024 characters"))
  }
  if (!strict) return causes
  if (event.series !== undefined) {
    if ((num(event.series, "count") ?? 0) < 2) causes.push(invalid("series.count", "", "should be at least 2"))
    if (!present(event.series["lastObservedTime"])) causes.push(required("series.lastObservedTime"))
  }
  if (!present(event.eventTime)) causes.push(required("eventTime"))
  if (event.type !== "Normal" && event.type !== "Warning") causes.push(invalid("type", "", `has invalid value: ${event.type}`))
  if (present(event.firstTimestamp)) causes.push(invalid("firstTimestamp", "", "needs to be unset"))
  if (present(event.lastTimestamp)) causes.push(invalid("lastTimestamp", "", "needs to be unset"))
  if (event.count !== 0) causes.push(invalid("count", "", "needs to be unset"))
  if (str(event.source, "component") !== "" || str(event.source, "host") !== "") causes.push(invalid("source", "", "needs to be unset"))
  return causes
}

export const validateCoreEvent = (event: Json): Causes =>
  validateEventView(
    {
      namespace: str(event.metadata, "namespace"),
      involvedNamespace: str(obj(event, "involvedObject"), "namespace"),
      eventTime: event["eventTime"],
      reportingController: str(event, "reportingComponent"),
      reportingInstance: str(event, "reportingInstance"),
      action: str(event, "action"),
      reason: str(event, "reason"),
      message: str(event, "message"),
      type: str(event, "type"),
      firstTimestamp: event["firstTimestamp"],
      lastTimestamp: event["lastTimestamp"],
      count: num(event, "count") ?? 0,
      source: event["source"],
      series: obj(event, "series")
    },
    false
  )

export const validateEventsEvent = (event: Json): Causes =>
  validateEventView(
    {
      namespace: str(event.metadata, "namespace"),
      involvedNamespace: str(obj(event, "regarding"), "namespace"),
      eventTime: event["eventTime"],
      reportingController: str(event, "reportingController"),
      reportingInstance: str(event, "reportingInstance"),
      action: str(event, "action"),
      reason: str(event, "reason"),
      message: str(event, "note"),
      type: str(event, "type"),
      firstTimestamp: event["deprecatedFirstTimestamp"],
      lastTimestamp: event["deprecatedLastTimestamp"],
      count: num(event, "deprecatedCount") ?? 0,
      source: event["deprecatedSource"],
      series: obj(event, "series")
    },
    true
  )
