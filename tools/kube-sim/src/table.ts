/**
 * Server-side printing: the `meta.k8s.io/v1` Table a real API server returns when `kubectl get` asks for one,
 * with the columns and cells of the kube-apiserver printers for the kinds the simulator serves, and the
 * additionalPrinterColumns of custom resources.
 */
import { firstAcceptable, isJsonRange, type MediaRange } from "./discovery.ts"
import { type KubeObject, type PrinterColumn, type ResourceType, typeKey } from "./types.ts"

/** Content type of a Table answer. */
export const TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"

const isTableV1 = (range: MediaRange): boolean =>
  range.type === "application" &&
  range.subtype === "json" &&
  range.params["as"] === "Table" &&
  range.params["g"] === "meta.k8s.io" &&
  range.params["v"] === "v1"

const servesObjects = (range: MediaRange): boolean => isJsonRange(range) && (range.params["as"] === undefined || isTableV1(range))

/**
 * True when the first Accept entry the simulator can serve is a `meta.k8s.io/v1` Table, as in kubectl's
 * `application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json`.
 */
export const wantsTable = (accept: string | undefined): boolean => {
  const range = firstAcceptable(accept, servesObjects)
  return range !== undefined && isTableV1(range)
}

export interface ColumnDefinition {
  readonly name: string
  readonly type: string
  readonly format: string
  readonly description: string
  readonly priority: number
}

export type Cell = string | number | boolean | null

export interface RowCondition {
  readonly type: string
  readonly status: string
  readonly reason: string
  readonly message: string
}

export interface TableOptions {
  readonly includeObject: "None" | "Metadata" | "Object"
  readonly now: Date
  readonly listMeta?: { resourceVersion?: string; continue?: string; remainingItemCount?: number } | undefined
  /** Leave out `columnDefinitions` (a real server does for every watch event after the first). */
  readonly noHeaders?: boolean | undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Durations and times

/**
 * `duration.HumanDuration` of k8s.io/apimachinery: ~2-3 significant figures (`5s`, `3m20s`, `2d3h`, `45h`, `10d`).
 * Slightly negative durations (clock skew under 2s) print as `0s`; more negative as `<invalid>`.
 */
export const humanDuration = (ms: number): string => {
  const seconds = Math.trunc(ms / 1000)
  if (seconds < -1) return "<invalid>"
  if (seconds < 0) return "0s"
  if (seconds < 60 * 2) return `${seconds}s`
  const minutes = Math.trunc(ms / 60_000)
  if (minutes < 10) {
    const s = seconds % 60
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`
  }
  if (minutes < 60 * 3) return `${minutes}m`
  const hours = Math.trunc(ms / 3_600_000)
  if (hours < 8) {
    const m = minutes % 60
    return m === 0 ? `${hours}h` : `${hours}h${m}m`
  }
  if (hours < 48) return `${hours}h`
  const days = Math.trunc(hours / 24)
  if (hours < 24 * 8) {
    const h = hours % 24
    return h === 0 ? `${days}d` : `${days}d${h}h`
  }
  if (hours < 24 * 365 * 2) return `${days}d`
  const years = Math.trunc(days / 365)
  if (hours < 24 * 365 * 8) {
    const dy = days % 365
    return dy === 0 ? `${years}y` : `${years}y${dy}d`
  }
  return `${years}y`
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** Milliseconds of an RFC 3339 timestamp; undefined when absent, empty or malformed. */
const timeOf = (value: unknown): number | undefined => {
  if (typeof value !== "string" || !RFC3339.test(value)) return undefined
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : ms
}

/** `translateTimestampSince`: the age of a timestamp, `<unknown>` when there is none. */
const since = (value: unknown, now: Date): string => {
  const ms = timeOf(value)
  return ms === undefined ? "<unknown>" : humanDuration(now.getTime() - ms)
}

// ---------------------------------------------------------------------------------------------------------------
// Reading objects

type Json = Record<string, unknown>

const rec = (value: unknown): Json => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : {})
const arr = (value: unknown): ReadonlyArray<unknown> => (Array.isArray(value) ? value : [])
const str = (value: unknown): string => (typeof value === "string" ? value : "")
const int = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? Math.trunc(value) : 0)
const keyCount = (value: unknown): number => Object.keys(rec(value)).length
const at = (object: unknown, ...path: ReadonlyArray<string>): unknown => path.reduce<unknown>((value, key) => rec(value)[key], object)

/** `labels.FormatLabels`: `k=v` pairs sorted by key, `<none>` when empty. */
const formatLabels = (labels: unknown): string => {
  const entries = Object.entries(rec(labels)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return entries.length === 0 ? "<none>" : entries.map(([key, value]) => `${key}=${str(value)}`).join(",")
}

/** `metav1.FormatLabelSelector`: the selector's requirements sorted by key, `<none>` when it selects by nothing. */
const formatLabelSelector = (selector: unknown): string => {
  const requirements: Array<{ key: string; text: string }> = []
  for (const [key, value] of Object.entries(rec(at(selector, "matchLabels")))) requirements.push({ key, text: `${key}=${str(value)}` })
  for (const expression of arr(at(selector, "matchExpressions"))) {
    const key = str(at(expression, "key"))
    const values = arr(at(expression, "values")).map(str).sort()
    switch (str(at(expression, "operator"))) {
      case "In":
        requirements.push({ key, text: `${key} in (${values.join(",")})` })
        break
      case "NotIn":
        requirements.push({ key, text: `${key} notin (${values.join(",")})` })
        break
      case "Exists":
        requirements.push({ key, text: key })
        break
      case "DoesNotExist":
        requirements.push({ key, text: `!${key}` })
        break
      default:
        return "<error>"
    }
  }
  const text = requirements.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((requirement) => requirement.text).join(",")
  return text === "" ? "<none>" : text
}

/** Names and images of a pod template's containers, comma-separated (`layoutContainerCells`). */
const containerCells = (podSpec: unknown): [string, string] => {
  const containers = arr(at(podSpec, "containers"))
  return [containers.map((container) => str(at(container, "name"))).join(","), containers.map((container) => str(at(container, "image"))).join(",")]
}

const conditionStatus = (conditions: unknown, type: string): string | undefined =>
  str(at(arr(conditions).find((condition) => at(condition, "type") === type), "status")) || undefined

// ---------------------------------------------------------------------------------------------------------------
// Column definitions

const NAME_DESCRIPTION =
  "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
const AGE_DESCRIPTION =
  "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
const CONTAINERS_DESCRIPTION = "Names of each container in the template."
const IMAGES_DESCRIPTION = "Images referenced by each container in the template."

const column = (name: string, type: string, description: string, priority = 0, format = ""): ColumnDefinition => ({ name, type, format, description, priority })
const NAME = column("Name", "string", NAME_DESCRIPTION, 0, "name")
const AGE = column("Age", "string", AGE_DESCRIPTION)

// ---------------------------------------------------------------------------------------------------------------
// Printers of the built-in kinds

interface Printer {
  readonly columns: ReadonlyArray<ColumnDefinition>
  readonly cells: (object: KubeObject, now: Date) => ReadonlyArray<Cell>
  readonly conditions?: (object: KubeObject) => ReadonlyArray<RowCondition> | undefined
}

const nameOf = (object: KubeObject): string => object.metadata.name ?? ""
const ageOf = (object: KubeObject, now: Date): string => since(object.metadata.creationTimestamp, now)

const restartable = (container: unknown): boolean => at(container, "restartPolicy") === "Always"

/** `printPod`: READY, STATUS (the reason kubectl shows), RESTARTS, and the wide cells. */
const podCells = (pod: KubeObject, now: Date): ReadonlyArray<Cell> => {
  const spec = rec(pod["spec"])
  const status = rec(pod["status"])
  const initContainers = arr(spec["initContainers"])
  const initByName = new Map(initContainers.map((container) => [str(at(container, "name")), container]))
  const initStatuses = arr(status["initContainerStatuses"])
  const statuses = arr(status["containerStatuses"])
  const phase = str(status["phase"])
  let reason = str(status["reason"]) || phase
  for (const condition of arr(status["conditions"])) {
    if (at(condition, "type") === "PodScheduled" && at(condition, "reason") === "SchedulingGated") reason = "SchedulingGated"
  }
  const total = arr(spec["containers"]).length + initContainers.filter(restartable).length
  let ready = 0
  let restarts = 0
  let restartableRestarts = 0
  let lastRestart: number | undefined
  let lastRestartableRestart: number | undefined
  const later = (current: number | undefined, candidate: number | undefined) =>
    candidate !== undefined && (current === undefined || candidate > current) ? candidate : current

  let initializing = false
  for (const [index, container] of initStatuses.entries()) {
    const finished = timeOf(at(container, "lastState", "terminated", "finishedAt"))
    restarts += int(at(container, "restartCount"))
    lastRestart = later(lastRestart, finished)
    const isRestartable = restartable(initByName.get(str(at(container, "name"))))
    if (isRestartable) {
      restartableRestarts += int(at(container, "restartCount"))
      lastRestartableRestart = later(lastRestartableRestart, finished)
    }
    const terminated = at(container, "state", "terminated")
    const waiting = at(container, "state", "waiting")
    if (terminated !== undefined && int(at(terminated, "exitCode")) === 0) continue
    if (isRestartable && at(container, "started") === true) {
      if (at(container, "ready") === true) ready++
      continue
    }
    if (terminated !== undefined) {
      const why = str(at(terminated, "reason"))
      const signal = int(at(terminated, "signal"))
      reason = why !== "" ? `Init:${why}` : signal !== 0 ? `Init:Signal:${signal}` : `Init:ExitCode:${int(at(terminated, "exitCode"))}`
    } else if (waiting !== undefined && str(at(waiting, "reason")) !== "" && at(waiting, "reason") !== "PodInitializing") {
      reason = `Init:${str(at(waiting, "reason"))}`
    } else {
      reason = `Init:${index}/${initContainers.length}`
    }
    initializing = true
    break
  }

  if (!initializing || conditionStatus(status["conditions"], "Initialized") === "True") {
    restarts = restartableRestarts
    lastRestart = lastRestartableRestart
    let hasRunning = false
    for (let index = statuses.length - 1; index >= 0; index--) {
      const container = statuses[index]
      restarts += int(at(container, "restartCount"))
      lastRestart = later(lastRestart, timeOf(at(container, "lastState", "terminated", "finishedAt")))
      const waiting = at(container, "state", "waiting")
      const terminated = at(container, "state", "terminated")
      if (waiting !== undefined && str(at(waiting, "reason")) !== "") reason = str(at(waiting, "reason"))
      else if (terminated !== undefined && str(at(terminated, "reason")) !== "") reason = str(at(terminated, "reason"))
      else if (terminated !== undefined) {
        const signal = int(at(terminated, "signal"))
        reason = signal !== 0 ? `Signal:${signal}` : `ExitCode:${int(at(terminated, "exitCode"))}`
      } else if (at(container, "ready") === true && at(container, "state", "running") !== undefined) {
        hasRunning = true
        ready++
      }
    }
    if (reason === "Completed" && hasRunning) reason = conditionStatus(status["conditions"], "Ready") === "True" ? "Running" : "NotReady"
  }

  const deleting = pod.metadata.deletionTimestamp !== undefined
  if (deleting && status["reason"] === "NodeLost") reason = "Unknown"
  else if (deleting && phase !== "Succeeded" && phase !== "Failed") reason = "Terminating"

  const restartText = restarts !== 0 && lastRestart !== undefined ? `${restarts} (${humanDuration(now.getTime() - lastRestart)} ago)` : String(restarts)
  const podIP = str(status["podIP"]) || str(at(arr(status["podIPs"])[0], "ip")) || "<none>"
  const gates = arr(spec["readinessGates"])
  const gateText =
    gates.length === 0
      ? "<none>"
      : `${gates.filter((gate) => conditionStatus(status["conditions"], str(at(gate, "conditionType"))) === "True").length}/${gates.length}`
  return [
    nameOf(pod),
    `${ready}/${total}`,
    reason,
    restartText,
    ageOf(pod, now),
    podIP,
    str(spec["nodeName"]) || "<none>",
    str(status["nominatedNodeName"]) || "<none>",
    gateText
  ]
}

const podConditions = (pod: KubeObject): ReadonlyArray<RowCondition> | undefined => {
  switch (at(pod, "status", "phase")) {
    case "Succeeded":
      return [{ type: "Completed", status: "True", reason: "Succeeded", message: "The pod has completed successfully." }]
    case "Failed":
      return [{ type: "Completed", status: "True", reason: "Failed", message: "The pod failed." }]
    default:
      return undefined
  }
}

/** `printJob`: STATUS from the conditions, COMPLETIONS as succeeded/wanted, DURATION from start to completion (or now). */
const jobCells = (job: KubeObject, now: Date): ReadonlyArray<Cell> => {
  const spec = rec(job["spec"])
  const status = rec(job["status"])
  const succeeded = int(status["succeeded"])
  const parallelism = int(spec["parallelism"])
  const completions =
    typeof spec["completions"] === "number"
      ? `${succeeded}/${int(spec["completions"])}`
      : parallelism > 1
        ? `${succeeded}/1 of ${parallelism}`
        : `${succeeded}/1`
  const started = timeOf(status["startTime"])
  const completed = timeOf(status["completionTime"])
  const duration = started === undefined ? "" : humanDuration((completed ?? now.getTime()) - started)
  const is = (type: string) => conditionStatus(status["conditions"], type) === "True"
  const state = is("Complete")
    ? "Complete"
    : is("Failed")
      ? "Failed"
      : job.metadata.deletionTimestamp !== undefined
        ? "Terminating"
        : is("Suspended")
          ? "Suspended"
          : is("FailureTarget")
            ? "FailureTarget"
            : "Running"
  const [names, images] = containerCells(at(spec, "template", "spec"))
  return [nameOf(job), state, completions, duration, ageOf(job, now), names, images, formatLabelSelector(spec["selector"])]
}

const serviceExternalIP = (service: KubeObject): string => {
  const externalIPs = arr(at(service, "spec", "externalIPs")).map(str)
  switch (str(at(service, "spec", "type")) || "ClusterIP") {
    case "ClusterIP":
    case "NodePort":
      return externalIPs.length > 0 ? externalIPs.join(",") : "<none>"
    case "LoadBalancer": {
      const ingress = arr(at(service, "status", "loadBalancer", "ingress")).map((entry) => str(at(entry, "ip")) || str(at(entry, "hostname"))).filter((entry) => entry !== "")
      const balancers = [...new Set(ingress)].sort()
      if (externalIPs.length > 0) return [...balancers, ...externalIPs].join(",")
      return balancers.length > 0 ? balancers.join(",") : "<pending>"
    }
    case "ExternalName":
      return str(at(service, "spec", "externalName"))
    default:
      return "<unknown>"
  }
}

const serviceCells = (service: KubeObject, now: Date): ReadonlyArray<Cell> => {
  const spec = rec(service["spec"])
  const clusterIP = str(spec["clusterIP"]) || str(arr(spec["clusterIPs"])[0]) || "<none>"
  const ports = arr(spec["ports"]).map((port) => {
    const protocol = str(at(port, "protocol")) || "TCP"
    const nodePort = int(at(port, "nodePort"))
    return nodePort > 0 ? `${int(at(port, "port"))}:${nodePort}/${protocol}` : `${int(at(port, "port"))}/${protocol}`
  })
  return [
    nameOf(service),
    str(spec["type"]) || "ClusterIP",
    clusterIP,
    serviceExternalIP(service),
    ports.length === 0 ? "<none>" : ports.join(","),
    ageOf(service, now),
    formatLabels(spec["selector"])
  ]
}

const nodeCells = (node: KubeObject, now: Date): ReadonlyArray<Cell> => {
  const status = rec(node["status"])
  const ready = arr(status["conditions"]).filter((condition) => at(condition, "type") === "Ready").at(-1)
  const states = [ready === undefined ? "Unknown" : at(ready, "status") === "True" ? "Ready" : "NotReady"]
  if (at(node, "spec", "unschedulable") === true) states.push("SchedulingDisabled")
  const roles = new Set<string>()
  for (const [key, value] of Object.entries(node.metadata.labels ?? {})) {
    if (key.startsWith("node-role.kubernetes.io/") && key.length > "node-role.kubernetes.io/".length) roles.add(key.slice("node-role.kubernetes.io/".length))
    else if (key === "kubernetes.io/role" && value !== "") roles.add(value)
  }
  const address = (type: string) => str(at(arr(status["addresses"]).find((entry) => at(entry, "type") === type), "address")) || "<none>"
  const info = rec(status["nodeInfo"])
  return [
    nameOf(node),
    states.join(","),
    roles.size === 0 ? "<none>" : [...roles].sort().join(","),
    ageOf(node, now),
    str(info["kubeletVersion"]),
    address("InternalIP"),
    address("ExternalIP"),
    str(info["osImage"]) || "<unknown>",
    str(info["kernelVersion"]) || "<unknown>",
    str(info["containerRuntimeVersion"]) || "<unknown>"
  ]
}

interface EventView {
  readonly name: string
  readonly type: string
  readonly reason: string
  readonly message: string
  readonly involved: unknown
  readonly source: unknown
  readonly reportingController: string
  readonly reportingInstance: string
  readonly firstTimestamp: unknown
  readonly lastTimestamp: unknown
  readonly eventTime: unknown
  readonly count: number
  readonly series: unknown
}

/** A core/v1 Event, or an events.k8s.io/v1 Event read the way the server converts it to the core shape. */
const eventView = (event: KubeObject): EventView =>
  event.apiVersion === "events.k8s.io/v1"
    ? {
      name: nameOf(event),
      type: str(event["type"]),
      reason: str(event["reason"]),
      message: str(event["note"]),
      involved: event["regarding"],
      source: event["deprecatedSource"],
      reportingController: str(event["reportingController"]),
      reportingInstance: str(event["reportingInstance"]),
      firstTimestamp: event["deprecatedFirstTimestamp"],
      lastTimestamp: event["deprecatedLastTimestamp"],
      eventTime: event["eventTime"],
      count: int(event["deprecatedCount"]),
      series: event["series"]
    }
    : {
      name: nameOf(event),
      type: str(event["type"]),
      reason: str(event["reason"]),
      message: str(event["message"]),
      involved: event["involvedObject"],
      source: event["source"],
      reportingController: str(event["reportingComponent"]),
      reportingInstance: str(event["reportingInstance"]),
      firstTimestamp: event["firstTimestamp"],
      lastTimestamp: event["lastTimestamp"],
      eventTime: event["eventTime"],
      count: int(event["count"]),
      series: event["series"]
    }

/** `printEvent`: LAST SEEN, TYPE, REASON, OBJECT (`kind/name`), MESSAGE, then the wide cells. */
const eventCells = (object: KubeObject, now: Date): ReadonlyArray<Cell> => {
  const event = eventView(object)
  const firstSeen = timeOf(event.firstTimestamp) === undefined ? since(event.eventTime, now) : since(event.firstTimestamp, now)
  let lastSeen = timeOf(event.lastTimestamp) === undefined ? firstSeen : since(event.lastTimestamp, now)
  let count = event.count
  if (event.series !== undefined && event.series !== null) {
    lastSeen = since(at(event.series, "lastObservedTime"), now)
    count = int(at(event.series, "count"))
  } else if (count === 0) {
    count = 1
  }
  const kind = str(at(event.involved, "kind")).toLowerCase()
  const involvedName = str(at(event.involved, "name"))
  const component = str(at(event.source, "component")) || event.reportingController
  const instance = str(at(event.source, "host")) || event.reportingInstance
  return [
    lastSeen,
    event.type,
    event.reason,
    involvedName === "" ? kind : `${kind}/${involvedName}`,
    str(at(event.involved, "fieldPath")),
    instance === "" ? component : `${component}, ${instance}`,
    event.message.trim(),
    firstSeen,
    count,
    event.name
  ]
}

const EVENT_COLUMNS: ReadonlyArray<ColumnDefinition> = [
  column("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
  column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
  column("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
  column("Object", "string", "The object that this event is about."),
  column("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].", 1),
  column("Source", "string", "The component reporting this event. Should be a short machine understandable string.", 1),
  column("Message", "string", "A human-readable description of the status of this operation."),
  column("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", 1),
  column("Count", "string", "The number of times this event has occurred.", 1),
  column("Name", "string", NAME_DESCRIPTION, 1, "name")
]

/** `resourceClaimState`: `pending`, `allocated`, `allocated,reserved`, with `deleted` first while deleting. */
const resourceClaimState = (claim: KubeObject): string => {
  const states: Array<string> = []
  const deleting = claim.metadata.deletionTimestamp !== undefined
  if (deleting) states.push("deleted")
  const allocation = at(claim, "status", "allocation")
  if (allocation === undefined || allocation === null) {
    if (!deleting) states.push("pending")
  } else {
    states.push("allocated")
    if (arr(at(claim, "status", "reservedFor")).length > 0) states.push("reserved")
  }
  return states.join(",")
}

/** At most three items, then `+ N more...`; `<unset>` when there are none. */
const listWithMore = (items: ReadonlyArray<string>): string => {
  if (items.length > 3) return `${items.slice(0, 3).join(",")} + ${items.length - 3} more...`
  return items.length === 0 ? "<unset>" : items.join(",")
}

const endpointSliceCells = (slice: KubeObject, now: Date): ReadonlyArray<Cell> => {
  const ports = arr(slice["ports"]).map((port) => {
    const number = at(port, "port")
    if (typeof number === "number") return String(number)
    const name = at(port, "name")
    return typeof name === "string" ? name : "*"
  })
  const addresses = arr(slice["endpoints"]).flatMap((endpoint) => arr(at(endpoint, "addresses")).map(str))
  return [nameOf(slice), str(slice["addressType"]), listWithMore(ports), listWithMore(addresses), ageOf(slice, now)]
}

/** `Created At` of the default table convertor: the creation time in RFC 3339, UTC. */
const createdAt = (object: KubeObject): string => {
  const ms = timeOf(object.metadata.creationTimestamp)
  return ms === undefined ? "0001-01-01T00:00:00Z" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z")
}

const nameAndAge: Printer = { columns: [NAME, AGE], cells: (object, now) => [nameOf(object), ageOf(object, now)] }

/** The printers of the built-in kinds, by `group/resource`. */
const PRINTERS: Readonly<Record<string, Printer>> = {
  "/namespaces": {
    columns: [NAME, column("Status", "string", "The status of the namespace"), AGE],
    cells: (object, now) => [nameOf(object), str(at(object, "status", "phase")), ageOf(object, now)]
  },
  "/configmaps": {
    columns: [
      NAME,
      column("Data", "string", "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process."),
      AGE
    ],
    cells: (object, now) => [nameOf(object), keyCount(object["data"]) + keyCount(object["binaryData"]), ageOf(object, now)]
  },
  "/secrets": {
    columns: [
      NAME,
      column("Type", "string", "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
      column("Data", "string", "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"),
      AGE
    ],
    cells: (object, now) => [nameOf(object), str(object["type"]), keyCount(object["data"]), ageOf(object, now)]
  },
  "/serviceaccounts": {
    columns: [
      NAME,
      column("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret"),
      AGE
    ],
    cells: (object, now) => [nameOf(object), arr(object["secrets"]).length, ageOf(object, now)]
  },
  "/pods": {
    columns: [
      NAME,
      column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
      column("Status", "string", "The aggregate status of the containers in this pod."),
      column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
      AGE,
      column("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", 1),
      column("Node", "string", "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename", 1),
      column("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.", 1),
      column("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates", 1)
    ],
    cells: podCells,
    conditions: podConditions
  },
  "batch/jobs": {
    columns: [
      NAME,
      column("Status", "string", "Status of the job."),
      column("Completions", "string", "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs."),
      column("Duration", "string", "Time required to complete the job."),
      AGE,
      column("Containers", "string", CONTAINERS_DESCRIPTION, 1),
      column("Images", "string", IMAGES_DESCRIPTION, 1),
      column("Selector", "string", "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors", 1)
    ],
    cells: jobCells
  },
  "/services": {
    columns: [
      NAME,
      column("Type", "string", "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer."),
      column("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
      column("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
      column("Port(s)", "string", "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
      AGE,
      column("Selector", "string", "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/", 1)
    ],
    cells: serviceCells
  },
  "/nodes": {
    columns: [
      NAME,
      column("Status", "string", "The status of the node"),
      column("Roles", "string", "The roles of the node"),
      AGE,
      column("Version", "string", "Kubelet Version reported by the node."),
      column("Internal-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses", 1),
      column("External-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses", 1),
      column("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
      column("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
      column("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1)
    ],
    cells: nodeCells
  },
  "/events": { columns: EVENT_COLUMNS, cells: eventCells },
  "events.k8s.io/events": { columns: EVENT_COLUMNS, cells: eventCells },
  "coordination.k8s.io/leases": {
    columns: [NAME, column("Holder", "string", "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field."), AGE],
    cells: (object, now) => [nameOf(object), str(at(object, "spec", "holderIdentity")), ageOf(object, now)]
  },
  "apiextensions.k8s.io/customresourcedefinitions": {
    columns: [NAME, column("Created At", "date", AGE_DESCRIPTION)],
    cells: (object) => [nameOf(object), createdAt(object)]
  },
  "discovery.k8s.io/endpointslices": {
    columns: [
      NAME,
      column("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name. (Deprecated) The EndpointSlice controller only generates, and kube-proxy only processes, slices of addressType \"IPv4\" and \"IPv6\". No semantics are defined for the \"FQDN\" type."),
      column("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. Each slice may include a maximum of 100 ports. Services always have at least 1 port, so EndpointSlices generated by the EndpointSlice controller will likewise always have at least 1 port. EndpointSlices used for other purposes may have an empty ports list."),
      column("Endpoints", "string", "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints."),
      AGE
    ],
    cells: endpointSliceCells
  },
  "resource.k8s.io/resourceclaims": {
    columns: [NAME, column("State", "string", "A summary of the current state (allocated, pending, reserved, etc.)."), AGE],
    cells: (object, now) => [nameOf(object), resourceClaimState(object), ageOf(object, now)]
  },
  "resource.k8s.io/resourceslices": {
    columns: [
      NAME,
      column("Node", "string", "NodeName identifies the node which provides the resources in this pool. A field selector can be used to list only ResourceSlice objects belonging to a certain node."),
      column("Driver", "string", "Driver identifies the DRA driver providing the capacity information. A field selector can be used to list only ResourceSlice objects with a certain driver name."),
      column("Pool", "string", "Name is used to identify the pool. For node-local devices, this is often the node name, but this is not required."),
      AGE
    ],
    cells: (object, now) => [nameOf(object), str(at(object, "spec", "nodeName")), str(at(object, "spec", "driver")), str(at(object, "spec", "pool", "name")), ageOf(object, now)]
  },
  "resource.k8s.io/deviceclasses": nameAndAge,
  "resource.k8s.io/resourceclaimtemplates": nameAndAge
}

// ---------------------------------------------------------------------------------------------------------------
// Custom resources: JSONPath printer columns

type Step =
  | { readonly _tag: "Field"; readonly name: string }
  | { readonly _tag: "Wildcard" }
  | { readonly _tag: "Index"; readonly index: number }
  | { readonly _tag: "Slice"; readonly start: number | undefined; readonly end: number | undefined }
  | { readonly _tag: "Filter"; readonly path: ReadonlyArray<Step>; readonly op: "==" | "!=" | "exists"; readonly value: unknown }

const parseLiteral = (text: string): unknown => {
  const trimmed = text.trim()
  if (/^(["']).*\1$/.test(trimmed)) return trimmed.slice(1, -1)
  if (trimmed === "true" || trimmed === "false") return trimmed === "true"
  if (trimmed !== "" && Number.isFinite(Number(trimmed))) return Number(trimmed)
  return trimmed
}

/** Parses the steps of a simple JSONPath: `.a.b`, `.a\.b`, `['a.b']`, `[0]`, `[-1]`, `[1:3]`, `[*]`, `.*`, `[?(@.k=="v")]`. */
const parseJsonPath = (path: string): ReadonlyArray<Step> | undefined => {
  let text = path.trim()
  if (text.startsWith("{") && text.endsWith("}")) text = text.slice(1, -1).trim()
  if (text.startsWith("$")) text = text.slice(1)
  const steps: Array<Step> = []
  let i = 0
  while (i < text.length) {
    const char = text[i]
    if (char === ".") {
      if (text[i + 1] === ".") return undefined
      i++
      let name = ""
      while (i < text.length && text[i] !== "." && text[i] !== "[") {
        if (text[i] === "\\" && i + 1 < text.length) i++
        name += text[i]
        i++
      }
      if (name === "") return undefined
      steps.push(name === "*" ? { _tag: "Wildcard" } : { _tag: "Field", name })
    } else if (char === "[") {
      const close = text.startsWith("[?(", i) ? text.indexOf(")]", i) + 1 : text.indexOf("]", i)
      if (close <= i) return undefined
      const inner = text.slice(i + 1, close).trim()
      i = close + 1
      if (inner === "*") steps.push({ _tag: "Wildcard" })
      else if (/^(["']).*\1$/.test(inner)) steps.push({ _tag: "Field", name: inner.slice(1, -1) })
      else if (/^-?\d+$/.test(inner)) steps.push({ _tag: "Index", index: Number(inner) })
      else if (/^-?\d*:-?\d*$/.test(inner)) {
        const [start = "", end = ""] = inner.split(":")
        steps.push({ _tag: "Slice", start: start === "" ? undefined : Number(start), end: end === "" ? undefined : Number(end) })
      } else if (inner.startsWith("?(") && inner.endsWith(")")) {
        const expression = inner.slice(2, -1).trim()
        const match = /^@((?:\.[^.=!<>\s]+)+)\s*(==|!=)\s*(.+)$/.exec(expression)
        const exists = /^@((?:\.[^.=!<>\s]+)+)$/.exec(expression)
        const subject = match?.[1] ?? exists?.[1]
        const sub = subject === undefined ? undefined : parseJsonPath(subject)
        if (sub === undefined) return undefined
        steps.push(match === null ? { _tag: "Filter", path: sub, op: "exists", value: undefined } : { _tag: "Filter", path: sub, op: match[2] as "==" | "!=", value: parseLiteral(match[3] ?? "") })
      } else return undefined
    } else {
      return undefined
    }
  }
  return steps
}

const applySteps = (values: ReadonlyArray<unknown>, steps: ReadonlyArray<Step>): ReadonlyArray<unknown> =>
  steps.reduce<ReadonlyArray<unknown>>((current, step) => current.flatMap((value) => applyStep(value, step)), values)

const applyStep = (value: unknown, step: Step): ReadonlyArray<unknown> => {
  switch (step._tag) {
    case "Field":
      return typeof value === "object" && value !== null && !Array.isArray(value) && Object.hasOwn(value, step.name) ? [(value as Json)[step.name]] : []
    case "Wildcard":
      return Array.isArray(value) ? value : typeof value === "object" && value !== null ? Object.values(value) : []
    case "Index": {
      if (!Array.isArray(value)) return []
      const index = step.index < 0 ? value.length + step.index : step.index
      return index >= 0 && index < value.length ? [value[index]] : []
    }
    case "Slice": {
      if (!Array.isArray(value)) return []
      const clamp = (n: number) => Math.min(Math.max(n < 0 ? value.length + n : n, 0), value.length)
      return value.slice(clamp(step.start ?? 0), clamp(step.end ?? value.length))
    }
    case "Filter": {
      const items = Array.isArray(value) ? value : typeof value === "object" && value !== null ? Object.values(value) : []
      return items.filter((item) => {
        const found = applySteps([item], step.path)
        if (step.op === "exists") return found.length > 0
        const equal = found.some((candidate) => candidate === step.value || (typeof candidate === "number" && String(candidate) === String(step.value)))
        return step.op === "==" ? equal : found.length > 0 && !equal
      })
    }
  }
}

/**
 * Every value a CRD printer-column JSONPath selects in `object`, in order (none when the path is not supported,
 * or selects nothing).
 */
export const evaluateJsonPath = (path: string, object: unknown): ReadonlyArray<unknown> => {
  const steps = parseJsonPath(path)
  return steps === undefined ? [] : applySteps([object], steps)
}

/** A non-integer float the way Go's `%v` prints it (`1.5`, `1.2345675e+06`, `1e-05`). */
const goFloat = (value: number): string => {
  const [mantissa = "", exponent = "0"] = value.toExponential().split("e")
  const exp = Number(exponent)
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`
  return String(value)
}

/** A JSON value the way Go's `fmt.Fprint` prints an unstructured value (`map[a:1 b:x]`, `[a b]`). */
const goPrint = (value: unknown): string => {
  if (value === null || value === undefined) return "<nil>"
  if (typeof value === "string") return value
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : goFloat(value)
  if (typeof value === "boolean") return String(value)
  if (Array.isArray(value)) return `[${value.map(goPrint).join(" ")}]`
  const entries = Object.entries(value as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `map[${entries.map(([key, item]) => `${key}:${goPrint(item)}`).join(" ")}]`
}

/** The cell of a custom column for its declared type, as the apiextensions table convertor builds it. */
const customCell = (type: string, value: unknown, now: Date): Cell => {
  if (value === null || value === undefined) return null
  switch (type) {
    case "string":
      return goPrint(value)
    case "integer":
      return typeof value === "number" ? Math.trunc(value) : null
    case "number":
      return typeof value === "number" ? value : null
    case "boolean":
      return typeof value === "boolean" ? value : null
    case "date": {
      if (typeof value !== "string") return null
      if (value === "" || value === "null") return "<unknown>"
      const ms = timeOf(value)
      return ms === undefined ? "<invalid>" : humanDuration(now.getTime() - ms)
    }
    default:
      return null
  }
}

/** A CRD version without additionalPrinterColumns is served with an `Age` column, as the apiextensions server defaults it. */
const DEFAULT_CUSTOM_COLUMNS: ReadonlyArray<PrinterColumn> = [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: AGE_DESCRIPTION }]

const customPrinter = (type: ResourceType): Printer => {
  const declared = type.printerColumns !== undefined && type.printerColumns.length > 0 ? type.printerColumns : DEFAULT_CUSTOM_COLUMNS
  return {
    columns: [
      NAME,
      ...declared.map((printer) =>
        column(printer.name, printer.type, printer.description ?? `Custom resource definition column (in JSONPath format): ${printer.jsonPath}`, printer.priority ?? 0, printer.format ?? "")
      )
    ],
    cells: (object, now) => [nameOf(object), ...declared.map((printer) => customCell(printer.type, evaluateJsonPath(printer.jsonPath, object)[0], now))]
  }
}

const printerFor = (type: ResourceType): Printer => (type.custom === true ? customPrinter(type) : (PRINTERS[typeKey(type)] ?? nameAndAge))

/** The column definitions a Table of `type` carries. */
export const tableColumns = (type: ResourceType): ReadonlyArray<ColumnDefinition> => printerFor(type).columns

const rowObject = (object: KubeObject, includeObject: TableOptions["includeObject"]): unknown => {
  switch (includeObject) {
    case "Object":
      return object
    case "Metadata":
      return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata }
    case "None":
      return null
  }
}

const listMetadata = (objects: ReadonlyArray<KubeObject>, listMeta: TableOptions["listMeta"]) => {
  const source: { resourceVersion?: string | undefined; continue?: string | undefined; remainingItemCount?: number | undefined } =
    listMeta ?? (objects.length === 1 ? { resourceVersion: objects[0]?.metadata.resourceVersion } : {})
  return {
    ...(source.resourceVersion === undefined || source.resourceVersion === "" ? {} : { resourceVersion: source.resourceVersion }),
    ...(source.continue === undefined || source.continue === "" ? {} : { continue: source.continue }),
    ...(source.remainingItemCount === undefined ? {} : { remainingItemCount: source.remainingItemCount })
  }
}

/**
 * A `meta.k8s.io/v1` Table of `objects` (one object for a get or a watch event, many for a list). Every column is
 * there, wide ones at priority 1; each row's `object` is the object, its PartialObjectMetadata or null, per
 * `includeObject`. Without `listMeta`, a single object's resourceVersion is the table's, as on a real server.
 */
export const toTable = (type: ResourceType, objects: ReadonlyArray<KubeObject>, options: TableOptions): object => {
  const printer = printerFor(type)
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: listMetadata(objects, options.listMeta),
    columnDefinitions: options.noHeaders === true ? null : printer.columns,
    rows: objects.map((object) => {
      const conditions = printer.conditions?.(object)
      return {
        cells: printer.cells(object, options.now),
        ...(conditions === undefined ? {} : { conditions }),
        object: rowObject(object, options.includeObject)
      }
    })
  }
}
