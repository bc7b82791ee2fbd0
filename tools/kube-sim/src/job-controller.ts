/**
 * The Job controller of Kubernetes 1.35 (pkg/controller/job/job_controller.go) with the TTL-after-finished controller:
 * pods for Jobs (parallelism, completions, Indexed completion), pod tracking with the `batch.kubernetes.io/job-tracking`
 * finalizer and `uncountedTerminatedPods`, `backoffLimit` with the pod failure back-off, `activeDeadlineSeconds`,
 * `suspend`, the interim `SuccessCriteriaMet`/`FailureTarget` conditions before `Complete`/`Failed`, and deletion
 * `ttlSecondsAfterFinished` after the Job finished.
 */
import { StatusError } from "./errors.ts"
import type { KubeObject, ObjectMeta, OwnerReference, ResourceType } from "./types.ts"
import type { Controller, World } from "./world.ts"

type Json = Record<string, unknown>

interface Condition {
  type: string
  status: string
  lastProbeTime: string
  lastTransitionTime: string
  reason: string
  message: string
}

/** A Job's spec with the defaults a real server gives it (a directly stored Job may lack them). */
interface JobSpec {
  completions: number | undefined
  parallelism: number
  backoffLimit: number
  indexed: boolean
  suspend: boolean
  /** `podReplacementPolicy: Failed`: terminating pods are neither failures nor replaced until they are gone. */
  replaceFailedOnly: boolean
  activeDeadlineSeconds: number | undefined
  ttlSecondsAfterFinished: number | undefined
  restartPolicy: string
  manualSelector: boolean
  template: Json
}

const TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
const INDEX_KEY = "batch.kubernetes.io/job-completion-index"
/** DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff (simulated time). */
const POD_BACKOFF_INITIAL_MS = 10_000
const POD_BACKOFF_MAX_MS = 600_000
const PAUSE_POLL_MS = 20
const RETRY_MS = 10
/** Names from generateName: the base is cut to leave room for the 5-character suffix (names.SimpleNameGenerator). */
const MAX_NAME_BASE = 58

const BACKOFF_LIMIT_MESSAGE = "Job has reached the specified backoff limit"
const DEADLINE_MESSAGE = "Job was active longer than specified deadline"
const COMPLETIONS_MESSAGE = "Reached expected number of succeeded pods"

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z")
const record = (value: unknown): Json | undefined => (value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined)
const array = (value: unknown): Array<unknown> => (Array.isArray(value) ? value : [])
const integer = (value: unknown): number | undefined => (typeof value === "number" && Number.isInteger(value) ? value : undefined)
const strings = (value: unknown): Array<string> => array(value).filter((entry): entry is string => typeof entry === "string")

const phaseOf = (pod: KubeObject): unknown => record(pod["status"])?.["phase"]
const uidOf = (pod: KubeObject): string => pod.metadata.uid ?? ""
const isTerminal = (pod: KubeObject): boolean => phaseOf(pod) === "Succeeded" || phaseOf(pod) === "Failed"
const isActive = (pod: KubeObject): boolean => !isTerminal(pod) && pod.metadata.deletionTimestamp === undefined
const isTerminating = (pod: KubeObject): boolean => !isTerminal(pod) && pod.metadata.deletionTimestamp !== undefined
const hasFinalizer = (pod: KubeObject): boolean => (pod.metadata.finalizers ?? []).includes(TRACKING_FINALIZER)
const isReady = (pod: KubeObject): boolean =>
  array(record(pod["status"])?.["conditions"]).some((entry) => record(entry)?.["type"] === "Ready" && record(entry)?.["status"] === "True")

/** The Job that controls a pod (its controller owner reference of kind Job). */
const jobOwner = (pod: KubeObject | undefined): OwnerReference | undefined =>
  pod?.metadata.ownerReferences?.find((owner) => owner.controller === true && owner.kind === "Job" && owner.apiVersion.startsWith("batch/"))

const indexOf = (pod: KubeObject): number | undefined => {
  const text = pod.metadata.annotations?.[INDEX_KEY] ?? pod.metadata.labels?.[INDEX_KEY]
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined
}

const specOf = (job: KubeObject): JobSpec => {
  const spec = record(job["spec"]) ?? {}
  let completions = integer(spec["completions"])
  const parallelism = integer(spec["parallelism"])
  if (completions === undefined && parallelism === undefined) completions = 1
  const policy = spec["podReplacementPolicy"] ?? (spec["podFailurePolicy"] === undefined ? "TerminatingOrFailed" : "Failed")
  const template = record(spec["template"]) ?? {}
  return {
    completions,
    parallelism: parallelism ?? 1,
    backoffLimit: integer(spec["backoffLimit"]) ?? 6,
    indexed: spec["completionMode"] === "Indexed" && completions !== undefined,
    suspend: spec["suspend"] === true,
    replaceFailedOnly: policy === "Failed",
    activeDeadlineSeconds: integer(spec["activeDeadlineSeconds"]),
    ttlSecondsAfterFinished: integer(spec["ttlSecondsAfterFinished"]),
    restartPolicy: String(record(template["spec"])?.["restartPolicy"] ?? ""),
    manualSelector: spec["manualSelector"] === true,
    template
  }
}

const conditionsOf = (status: Json): Array<Condition> => array(status["conditions"]).flatMap((entry) => (record(entry) === undefined ? [] : [entry as Condition]))
const findCondition = (conditions: ReadonlyArray<Condition>, type: string): Condition | undefined => conditions.find((condition) => condition.type === type)
const isTrue = (conditions: ReadonlyArray<Condition>, type: string): boolean => findCondition(conditions, type)?.status === "True"

const newCondition = (type: string, reason: string, message: string, status = "True"): Condition => {
  const time = now()
  return { type, status, lastProbeTime: time, lastTransitionTime: time, reason, message }
}

/** ensureJobConditionStatus: appends or replaces the condition of `type`; a False condition is never added. Returns whether it changed. */
const ensureCondition = (conditions: Array<Condition>, type: string, status: string, reason: string, message: string): boolean => {
  const index = conditions.findIndex((condition) => condition.type === type)
  if (index >= 0) {
    const found = conditions[index]!
    if (found.status === status && found.reason === reason && found.message === message) return false
    conditions[index] = newCondition(type, reason, message, status)
    return true
  }
  if (status === "False") return false
  conditions.push(newCondition(type, reason, message, status))
  return true
}

/** `1,3-5` ↔ sorted indexes (status.completedIndexes); indexes at or past `completions` are dropped. */
const parseIndexes = (text: unknown, completions: number): Set<number> => {
  const out = new Set<number>()
  for (const part of typeof text === "string" && text !== "" ? text.split(",") : []) {
    const [low, high] = part.split("-").map(Number)
    if (low === undefined || !Number.isInteger(low)) continue
    for (let index = low; index <= (high ?? low) && index < completions; index++) out.add(index)
  }
  return out
}

const formatIndexes = (indexes: ReadonlySet<number>): string => {
  const sorted = [...indexes].sort((a, b) => a - b)
  const parts: Array<string> = []
  for (let start = 0; start < sorted.length; ) {
    let end = start
    while (end + 1 < sorted.length && sorted[end + 1] === sorted[end]! + 1) end++
    parts.push(start === end ? String(sorted[start]) : `${sorted[start]}-${sorted[end]}`)
    start = end + 1
  }
  return parts.join(",")
}

/** The QoS class of a pod spec: BestEffort without cpu/memory requests or limits, Guaranteed when limits equal requests everywhere. */
const qosClassOf = (spec: Json): string => {
  const containers = [...array(spec["initContainers"]), ...array(spec["containers"])].map((entry) => record(entry) ?? {})
  let any = false
  let guaranteed = containers.length > 0
  for (const container of containers) {
    const resources = record(container["resources"]) ?? {}
    const limits = record(resources["limits"]) ?? {}
    const requests = { ...limits, ...record(resources["requests"]) }
    for (const name of ["cpu", "memory"]) {
      if (requests[name] !== undefined || limits[name] !== undefined) any = true
      if (limits[name] === undefined || String(requests[name]) !== String(limits[name])) guaranteed = false
    }
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable"
}

/** controller.ActivePods order: unscheduled, then pending, then not ready, then newest — the first are removed first. */
const removalOrder = (a: KubeObject, b: KubeObject): number => {
  const scheduled = (pod: KubeObject) => (typeof record(pod["spec"])?.["nodeName"] === "string" ? 1 : 0)
  const running = (pod: KubeObject) => (phaseOf(pod) === "Running" ? 1 : 0)
  const ready = (pod: KubeObject) => (isReady(pod) ? 1 : 0)
  return (
    scheduled(a) - scheduled(b) ||
    running(a) - running(b) ||
    ready(a) - ready(b) ||
    String(b.metadata.creationTimestamp ?? "").localeCompare(String(a.metadata.creationTimestamp ?? ""))
  )
}

interface Backoff {
  readonly uid: string
  failures: number
  waiting: boolean
  cancel: (() => void) | undefined
}

/** What one sync of a Job has found and decided. */
interface Sync {
  readonly key: string
  readonly job: KubeObject
  readonly spec: JobSpec
  readonly status: Json
  readonly conditions: Array<Condition>
  readonly pods: Array<KubeObject>
  active: Array<KubeObject>
  activeCount: number
  terminating: number
  ready: number
  succeeded: number
  succeededIndexes: Set<number>
  finished: Condition | undefined
}

/** The Job and TTL-after-finished controllers. */
export class JobController implements Controller {
  readonly name = "job-controller"
  private world: World | undefined
  private jobType: ResourceType | undefined
  private podType: ResourceType | undefined
  private readonly queue = new Set<string>()
  private readonly orphans = new Set<string>()
  private readonly backoffs = new Map<string, Backoff>()
  private readonly deadlines = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly expiries = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private unsubscribe: (() => void) | undefined
  private scheduled = false
  private stopped = false

  start(world: World): void {
    this.world = world
    this.stopped = false
    this.jobType = world.cluster.registry.find("batch", "v1", "jobs")
    this.podType = world.cluster.registry.find("", "v1", "pods")
    this.unsubscribe = world.cluster.store.subscribe((change) => {
      if (change.key === "batch/jobs") this.enqueue(`${change.namespace}/${change.name}`)
      if (change.key !== "/pods") return
      for (const pod of [change.object, change.previous]) {
        const owner = jobOwner(pod)
        if (owner !== undefined) this.enqueue(`${change.namespace}/${owner.name}`)
      }
      if (change.type !== "DELETED" && hasFinalizer(change.object) && jobOwner(change.object) === undefined) {
        this.orphans.add(`${change.namespace}/${change.name}`)
        this.schedule()
      }
    })
    for (const job of world.cluster.store.list("batch/jobs") ?? []) this.enqueue(`${job.metadata.namespace}/${job.metadata.name}`)
    this.schedule()
  }

  stop(): void {
    this.stopped = true
    this.unsubscribe?.()
    this.unsubscribe = undefined
    for (const timer of [...this.timers, ...this.deadlines.values(), ...this.expiries.values()]) clearTimeout(timer)
    this.timers.clear()
    this.deadlines.clear()
    this.expiries.clear()
    for (const backoff of this.backoffs.values()) backoff.cancel?.()
    this.backoffs.clear()
    this.queue.clear()
    this.orphans.clear()
    this.scheduled = false
  }

  private get w(): World {
    if (this.world === undefined) throw new Error("job-controller: not started")
    return this.world
  }

  // -------------------------------------------------------------------------------------------------------------
  // Work queue

  private enqueue(key: string): void {
    this.queue.add(key)
    this.schedule()
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      fn()
    }, ms)
    this.timers.add(timer)
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return
    this.scheduled = true
    const go = () => {
      if (this.stopped) return
      if (this.w.faults.paused.has(this.name)) {
        this.later(PAUSE_POLL_MS, go)
        return
      }
      this.scheduled = false
      this.pass()
    }
    const delay = this.w.faults.delayMs.get(this.name) ?? 0
    if (delay > 0) this.later(delay, go)
    else setImmediate(go)
  }

  private pass(): void {
    const keys = [...this.queue].sort()
    this.queue.clear()
    for (const key of keys) {
      try {
        this.sync(key)
      } catch (error) {
        if (!(error instanceof StatusError && (error.code === 404 || error.code === 409))) throw error
        this.later(RETRY_MS, () => this.enqueue(key))
      }
    }
    const orphans = [...this.orphans].sort()
    this.orphans.clear()
    for (const key of orphans) this.releaseOrphan(key)
  }

  // -------------------------------------------------------------------------------------------------------------
  // syncJob

  private sync(key: string): void {
    const slash = key.indexOf("/")
    const namespace = key.slice(0, slash)
    const name = key.slice(slash + 1)
    const store = this.w.cluster.store
    const job = store.get("batch/jobs", namespace, name)
    if (job === undefined) {
      this.forget(key)
      // Running pods keep the finalizer until the garbage collector deletes them (their change brings them back
      // here), so a deleted Job's pods always go through Terminating with the finalizer, then without it.
      for (const pod of store.list("/pods", namespace) ?? []) {
        const settled = pod.metadata.deletionTimestamp !== undefined || phaseOf(pod) === "Succeeded" || phaseOf(pod) === "Failed"
        if (jobOwner(pod)?.name === name && hasFinalizer(pod) && settled) this.removeFinalizer(pod)
      }
      return
    }
    const uid = job.metadata.uid ?? ""
    const spec = specOf(job)
    const status: Json = structuredClone(record(job["status"]) ?? {})
    const conditions = conditionsOf(status)
    if (isTrue(conditions, "Complete") || isTrue(conditions, "Failed")) {
      this.expire(key, job, spec, conditions)
      return
    }
    const pods = (store.list("/pods", namespace) ?? []).filter((pod) => jobOwner(pod)?.uid === uid)
    const uncounted = record(status["uncountedTerminatedPods"]) ?? {}
    const uncountedSucceeded = new Set(strings(uncounted["succeeded"]))
    const uncountedFailed = new Set(strings(uncounted["failed"]))
    const validIndex = (pod: KubeObject) => !spec.indexed || (indexOf(pod) ?? Number.POSITIVE_INFINITY) < (spec.completions ?? 0)
    const newSucceeded = pods.filter((pod) => hasFinalizer(pod) && !uncountedSucceeded.has(uidOf(pod)) && validIndex(pod) && phaseOf(pod) === "Succeeded")
    const newFailed = pods.filter((pod) => hasFinalizer(pod) && !uncountedFailed.has(uidOf(pod)) && validIndex(pod) && this.isFailed(pod, spec))
    const active = pods.filter(isActive)
    const sync: Sync = {
      key,
      job,
      spec,
      status,
      conditions,
      pods,
      active,
      activeCount: active.length,
      terminating: pods.filter(isTerminating).length,
      ready: active.filter(isReady).length,
      succeeded: (integer(status["succeeded"]) ?? 0) + newSucceeded.length + uncountedSucceeded.size,
      succeededIndexes: new Set(),
      finished: undefined
    }
    const failed = (integer(status["failed"]) ?? 0) + newFailed.length + uncountedFailed.size
    if (status["startTime"] === undefined && !spec.suspend) status["startTime"] = now()
    this.recordBackoff(key, uid, newSucceeded.length, newFailed.length)

    const successTarget = findCondition(conditions, "SuccessCriteriaMet")
    const failureTarget = findCondition(conditions, "FailureTarget")
    if (successTarget?.status === "True") sync.finished = successTarget
    else if (failureTarget?.status === "True") sync.finished = newCondition("Failed", failureTarget.reason, failureTarget.message)
    else if (failed > spec.backoffLimit || this.pastBackoffLimitOnFailure(spec, pods)) {
      sync.finished = newCondition("FailureTarget", "BackoffLimitExceeded", BACKOFF_LIMIT_MESSAGE)
    } else if (this.pastActiveDeadline(spec, status)) {
      sync.finished = newCondition("FailureTarget", "DeadlineExceeded", DEADLINE_MESSAGE)
    } else if (spec.activeDeadlineSeconds !== undefined && !spec.suspend) {
      this.wakeAtDeadline(key, spec.activeDeadlineSeconds, status)
    }
    if (spec.indexed) {
      const completions = spec.completions ?? 0
      sync.succeededIndexes = parseIndexes(status["completedIndexes"], completions)
      for (const pod of pods) {
        const index = indexOf(pod)
        if (phaseOf(pod) === "Succeeded" && index !== undefined && index < completions) sync.succeededIndexes.add(index)
      }
      sync.succeeded = sync.succeededIndexes.size
    }

    if (sync.finished !== undefined) {
      for (const pod of active) {
        if (!this.deletePod(job, pod)) continue
        sync.activeCount--
        sync.terminating++
        if (isReady(pod)) sync.ready--
      }
    } else {
      const managed = job.metadata.deletionTimestamp === undefined
      if (managed) this.manage(sync)
      const complete =
        spec.completions === undefined ? sync.succeeded > 0 && sync.activeCount === 0 : sync.succeeded >= spec.completions && sync.activeCount === 0
      if (complete) sync.finished = newCondition("SuccessCriteriaMet", "CompletionsReached", COMPLETIONS_MESSAGE)
      else if (managed) this.suspension(sync)
    }
    status["active"] = sync.activeCount
    status["ready"] = sync.ready
    status["terminating"] = sync.terminating
    this.track(sync)
  }

  /** manageJob: creates or deletes pods so that the wanted number are active (none while suspended). */
  private manage(sync: Sync): void {
    const { job, spec } = sync
    if (spec.suspend) {
      for (const pod of sync.active) {
        this.removeFinalizer(pod)
        if (!this.deletePod(job, pod)) continue
        sync.activeCount--
        sync.terminating++
        if (isReady(pod)) sync.ready--
      }
      return
    }
    const wanted =
      spec.completions === undefined
        ? sync.succeeded > 0
          ? sync.activeCount
          : spec.parallelism
        : Math.max(0, Math.min(spec.completions - sync.succeeded, spec.parallelism))
    const excess = sync.activeCount - wanted
    if (excess > 0) {
      for (const pod of [...sync.active].sort(removalOrder).slice(0, excess)) {
        this.removeFinalizer(pod)
        if (!this.deletePod(job, pod)) continue
        sync.activeCount--
        sync.terminating++
        if (isReady(pod)) sync.ready--
      }
      return
    }
    const missing = wanted - (spec.replaceFailedOnly ? sync.terminating : 0) - sync.activeCount
    if (missing <= 0 || this.backoffs.get(sync.key)?.waiting === true) return
    if (spec.indexed) {
      const taken = new Set(sync.succeededIndexes)
      for (const pod of sync.active) {
        const index = indexOf(pod)
        if (index !== undefined) taken.add(index)
      }
      const indexes: Array<number> = []
      for (let index = 0; index < (spec.completions ?? 0) && indexes.length < missing; index++) if (!taken.has(index)) indexes.push(index)
      for (const index of indexes) if (this.createPod(job, spec, index)) sync.activeCount++
      return
    }
    for (let count = 0; count < missing; count++) if (this.createPod(job, spec, undefined)) sync.activeCount++
  }

  /** The Suspended condition, its events, and a new startTime on resume. */
  private suspension(sync: Sync): void {
    if (sync.spec.suspend) {
      if (ensureCondition(sync.conditions, "Suspended", "True", "JobSuspended", "Job suspended")) this.w.event(sync.job, "Normal", "Suspended", "Job suspended", this.name)
      return
    }
    if (ensureCondition(sync.conditions, "Suspended", "False", "JobResumed", "Job resumed")) {
      this.w.event(sync.job, "Normal", "Resumed", "Job resumed", this.name)
      sync.status["startTime"] = now()
    }
  }

  /**
   * trackJobStatusAndRemoveFinalizers: finished pods go to `uncountedTerminatedPods` (with an interim
   * SuccessCriteriaMet or FailureTarget condition), their finalizers are removed, then they are counted and the
   * Job gets its final condition once nothing is uncounted or terminating.
   */
  private track(sync: Sync): void {
    const { job, spec, status, conditions, pods } = sync
    const uncounted = record(status["uncountedTerminatedPods"]) ?? {}
    let uncountedSucceeded = strings(uncounted["succeeded"])
    let uncountedFailed = strings(uncounted["failed"])
    const withFinalizer = new Set(pods.filter(hasFinalizer).map(uidOf))
    const settle = () => {
      const succeeded = uncountedSucceeded.filter((uid) => withFinalizer.has(uid))
      const failed = uncountedFailed.filter((uid) => withFinalizer.has(uid))
      if (!spec.indexed) status["succeeded"] = (integer(status["succeeded"]) ?? 0) + uncountedSucceeded.length - succeeded.length
      status["failed"] = (integer(status["failed"]) ?? 0) + uncountedFailed.length - failed.length
      uncountedSucceeded = succeeded
      uncountedFailed = failed
    }
    settle()
    const ordered = spec.indexed ? [...pods].sort((a, b) => (indexOf(a) ?? Number.MAX_SAFE_INTEGER) - (indexOf(b) ?? Number.MAX_SAFE_INTEGER)) : pods
    const release: Array<KubeObject> = []
    const finished = sync.finished
    for (const pod of ordered) {
      if (!hasFinalizer(pod)) continue
      const failed = this.isFailed(pod, spec)
      if (job.metadata.deletionTimestamp === undefined && finished === undefined && phaseOf(pod) !== "Succeeded" && !failed) continue
      release.push(pod)
      const uid = uidOf(pod)
      const index = indexOf(pod)
      const inRange = !spec.indexed || (index !== undefined && index < (spec.completions ?? 0))
      if (phaseOf(pod) === "Succeeded" && !uncountedFailed.includes(uid)) {
        if (spec.indexed) {
          if (inRange) sync.succeededIndexes.add(index!)
        } else if (!uncountedSucceeded.includes(uid)) uncountedSucceeded.push(uid)
      } else if (failed || (finished !== undefined && finished.type !== "SuccessCriteriaMet")) {
        if (!uncountedFailed.includes(uid) && inRange) uncountedFailed.push(uid)
      }
    }
    if (spec.indexed) {
      status["completedIndexes"] = formatIndexes(sync.succeededIndexes)
      status["succeeded"] = sync.succeededIndexes.size
    }
    let final: Condition | undefined
    if (finished?.type === "FailureTarget") {
      conditions.push(finished)
      final = newCondition("Failed", finished.reason, finished.message)
    } else if (finished?.type === "SuccessCriteriaMet") {
      if (findCondition(conditions, "SuccessCriteriaMet") === undefined) conditions.push(finished)
      final = newCondition("Complete", finished.reason, finished.message)
    } else final = finished
    const uncountedNow = () => ({
      ...(uncountedSucceeded.length > 0 ? { succeeded: [...uncountedSucceeded] } : {}),
      ...(uncountedFailed.length > 0 ? { failed: [...uncountedFailed] } : {})
    })
    status["uncountedTerminatedPods"] = uncountedNow()
    status["conditions"] = conditions
    this.writeStatus(job, status)

    for (const pod of release) if (this.removeFinalizer(pod)) withFinalizer.delete(uidOf(pod))
    settle()
    status["uncountedTerminatedPods"] = uncountedNow()
    let done = false
    if (final !== undefined && uncountedSucceeded.length + uncountedFailed.length === 0 && sync.terminating === 0) {
      ensureCondition(conditions, final.type, final.status, final.reason, final.message)
      if (final.type === "Complete") status["completionTime"] = findCondition(conditions, "Complete")!.lastTransitionTime
      done = true
    }
    const written = this.writeStatus(job, status)
    if (!done || written === undefined) return
    if (final!.type === "Complete") {
      if (spec.completions !== undefined && (integer(status["succeeded"]) ?? 0) > spec.completions) {
        this.w.event(written, "Warning", "TooManySucceededPods", "Too many succeeded pods running after completion count reached", this.name)
      }
      this.w.event(written, "Normal", "Completed", "Job completed", this.name)
    } else this.w.event(written, "Warning", final!.reason, final!.message, this.name)
    this.clearDeadline(sync.key)
    this.expire(sync.key, written, spec, conditionsOf(record(written["status"]) ?? {}))
  }

  // -------------------------------------------------------------------------------------------------------------
  // Pods

  private isFailed(pod: KubeObject, spec: JobSpec): boolean {
    if (phaseOf(pod) === "Failed") return true
    if (spec.replaceFailedOnly) return false
    return pod.metadata.deletionTimestamp !== undefined && phaseOf(pod) !== "Succeeded"
  }

  /** With restartPolicy OnFailure, container restarts of pending and running pods count against backoffLimit. */
  private pastBackoffLimitOnFailure(spec: JobSpec, pods: ReadonlyArray<KubeObject>): boolean {
    if (spec.restartPolicy !== "OnFailure") return false
    let restarts = 0
    for (const pod of pods) {
      if (phaseOf(pod) !== "Running" && phaseOf(pod) !== "Pending") continue
      const status = record(pod["status"]) ?? {}
      for (const entry of [...array(status["initContainerStatuses"]), ...array(status["containerStatuses"])]) restarts += integer(record(entry)?.["restartCount"]) ?? 0
    }
    return spec.backoffLimit === 0 ? restarts > 0 : restarts >= spec.backoffLimit
  }

  private createPod(job: KubeObject, spec: JobSpec, index: number | undefined): boolean {
    const world = this.w
    const jobName = job.metadata.name!
    const namespace = job.metadata.namespace ?? "default"
    const uid = job.metadata.uid ?? ""
    const template = spec.template
    const metadata = record(template["metadata"]) ?? {}
    const labels: Record<string, string> = { ...(record(metadata["labels"]) as Record<string, string> | undefined) }
    if (!spec.manualSelector) {
      labels["batch.kubernetes.io/controller-uid"] ??= uid
      labels["batch.kubernetes.io/job-name"] ??= jobName
      labels["controller-uid"] ??= uid
      labels["job-name"] ??= jobName
    }
    const annotations: Record<string, string> = { ...(record(metadata["annotations"]) as Record<string, string> | undefined) }
    const podSpec: Json = structuredClone(record(template["spec"]) ?? {})
    if (index !== undefined) {
      annotations[INDEX_KEY] = String(index)
      labels[INDEX_KEY] = String(index)
      podSpec["hostname"] = `${jobName}-${index}`
      for (const field of ["initContainers", "containers"]) {
        for (const entry of array(podSpec[field])) {
          const container = record(entry)
          if (container === undefined) continue
          const env = array(container["env"])
          if (env.some((variable) => record(variable)?.["name"] === "JOB_COMPLETION_INDEX")) continue
          container["env"] = [...env, { name: "JOB_COMPLETION_INDEX", valueFrom: { fieldRef: { fieldPath: `metadata.labels['${INDEX_KEY}']` } } }]
        }
      }
    }
    podSpec["serviceAccountName"] ??= "default"
    podSpec["serviceAccount"] ??= podSpec["serviceAccountName"]
    const finalizers = strings(metadata["finalizers"])
    if (!finalizers.includes(TRACKING_FINALIZER)) finalizers.push(TRACKING_FINALIZER)
    const stuck = world.faults.stuckFinalizers.get(this.name)
    if (stuck !== undefined && !finalizers.includes(stuck)) finalizers.push(stuck)
    const base = (index === undefined ? `${jobName}-` : `${jobName}-${index}-`).slice(0, MAX_NAME_BASE)
    const random = world.random("job-controller/pod-names")
    for (let attempt = 0; attempt < 8; attempt++) {
      const name = `${base}${random.suffix(5)}`
      try {
        world.cluster.create(this.podType!, namespace, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name,
            generateName: base,
            namespace,
            labels,
            ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
            finalizers,
            ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: jobName, uid, controller: true, blockOwnerDeletion: true }]
          },
          spec: podSpec,
          status: { phase: "Pending", qosClass: qosClassOf(podSpec) }
        })
        world.event(job, "Normal", "SuccessfulCreate", `Created pod: ${name}`, this.name)
        return true
      } catch (error) {
        if (error instanceof StatusError && error.reason === "AlreadyExists") continue
        world.event(job, "Warning", "FailedCreate", `Error creating: ${error instanceof Error ? error.message : String(error)}`, this.name)
        return false
      }
    }
    return false
  }

  /** Deletes a pod (its tracking finalizer keeps it until counted); true when it is being deleted or gone. */
  private deletePod(job: KubeObject, pod: KubeObject): boolean {
    const world = this.w
    try {
      world.cluster.delete(this.podType!, pod.metadata.namespace ?? "", pod.metadata.name!, { preconditions: { uid: uidOf(pod) } })
    } catch (error) {
      if (error instanceof StatusError && error.code === 404) return true
      if (error instanceof StatusError && error.code === 409) return false
      throw error
    }
    world.event(job, "Normal", "SuccessfulDelete", `Deleted pod: ${pod.metadata.name}`, this.name)
    return true
  }

  /** Removes the tracking finalizer from the pod's latest version; true when it no longer has it. */
  private removeFinalizer(pod: KubeObject): boolean {
    const world = this.w
    const namespace = pod.metadata.namespace ?? ""
    const current = world.cluster.store.get("/pods", namespace, pod.metadata.name!)
    if (current === undefined || uidOf(current) !== uidOf(pod)) return true
    if (!hasFinalizer(current)) return true
    const finalizers = (current.metadata.finalizers ?? []).filter((finalizer) => finalizer !== TRACKING_FINALIZER)
    const metadata: ObjectMeta = { ...current.metadata, finalizers }
    delete metadata.resourceVersion
    if (finalizers.length === 0) delete metadata.finalizers
    try {
      world.cluster.update(this.podType!, namespace, pod.metadata.name!, { ...current, metadata })
    } catch (error) {
      if (error instanceof StatusError && error.code === 404) return true
      throw error
    }
    return true
  }

  /** A pod with the tracking finalizer whose Job is gone (or that no Job controls any more) is released. */
  private releaseOrphan(key: string): void {
    const slash = key.indexOf("/")
    const pod = this.w.cluster.store.get("/pods", key.slice(0, slash), key.slice(slash + 1))
    if (pod === undefined || !hasFinalizer(pod)) return
    const owner = jobOwner(pod)
    if (owner !== undefined) {
      const job = this.w.cluster.store.get("batch/jobs", pod.metadata.namespace ?? "", owner.name)
      if (job?.metadata.uid === owner.uid) return
    }
    this.removeFinalizer(pod)
  }

  private writeStatus(job: KubeObject, status: Json): KubeObject | undefined {
    const world = this.w
    const namespace = job.metadata.namespace ?? ""
    const current = world.cluster.store.get("batch/jobs", namespace, job.metadata.name!)
    if (current === undefined || current.metadata.uid !== job.metadata.uid) return undefined
    const tidy: Json = { ...status }
    for (const field of ["active", "succeeded", "failed"]) if (tidy[field] === 0) delete tidy[field]
    if (array(tidy["conditions"]).length === 0) delete tidy["conditions"]
    if (tidy["completedIndexes"] === "") delete tidy["completedIndexes"]
    return world.cluster.update(this.jobType!, namespace, job.metadata.name!, { ...current, status: structuredClone(tidy) }, { subresource: "status" })
  }

  // -------------------------------------------------------------------------------------------------------------
  // Timers: pod failure back-off (simulated), activeDeadlineSeconds and ttlSecondsAfterFinished (real time)

  /** Failed pods delay the next creation by 10 s × 2^(failures−1) (at most 10 minutes); a success resets the count. */
  private recordBackoff(key: string, uid: string, succeeded: number, failed: number): void {
    let backoff = this.backoffs.get(key)
    if (backoff === undefined || backoff.uid !== uid) {
      backoff?.cancel?.()
      backoff = { uid, failures: 0, waiting: false, cancel: undefined }
      this.backoffs.set(key, backoff)
    }
    if (succeeded > 0) {
      backoff.failures = 0
      backoff.cancel?.()
      backoff.cancel = undefined
      backoff.waiting = false
    }
    if (failed === 0) return
    backoff.failures += failed
    backoff.cancel?.()
    backoff.waiting = true
    const delay = Math.min(POD_BACKOFF_INITIAL_MS * 2 ** (backoff.failures - 1), POD_BACKOFF_MAX_MS)
    const current = backoff
    backoff.cancel = this.w.clock.after(delay, () => {
      current.waiting = false
      current.cancel = undefined
      this.enqueue(key)
    })
  }

  private pastActiveDeadline(spec: JobSpec, status: Json): boolean {
    const start = status["startTime"]
    if (spec.activeDeadlineSeconds === undefined || typeof start !== "string" || spec.suspend) return false
    return Date.now() - Date.parse(start) >= spec.activeDeadlineSeconds * 1000
  }

  private wakeAtDeadline(key: string, seconds: number, status: Json): void {
    const start = Date.parse(String(status["startTime"]))
    this.clearDeadline(key)
    const timer = setTimeout(() => {
      this.deadlines.delete(key)
      this.enqueue(key)
    }, Math.max(0, start + seconds * 1000 - Date.now()))
    this.deadlines.set(key, timer)
  }

  private clearDeadline(key: string): void {
    const timer = this.deadlines.get(key)
    if (timer !== undefined) clearTimeout(timer)
    this.deadlines.delete(key)
  }

  /** ttlSecondsAfterFinished: the finished Job is deleted (background propagation) once its time is up. */
  private expire(key: string, job: KubeObject, spec: JobSpec, conditions: ReadonlyArray<Condition>): void {
    this.clearDeadline(key)
    const ttl = spec.ttlSecondsAfterFinished
    if (ttl === undefined || job.metadata.deletionTimestamp !== undefined) return
    const finish = conditions.find((condition) => (condition.type === "Complete" || condition.type === "Failed") && condition.status === "True")
    if (finish === undefined) return
    const remaining = Date.parse(finish.lastTransitionTime) + ttl * 1000 - Date.now()
    if (remaining > 0) {
      if (!this.expiries.has(key)) {
        this.expiries.set(
          key,
          setTimeout(() => {
            this.expiries.delete(key)
            this.enqueue(key)
          }, remaining)
        )
      }
      return
    }
    try {
      this.w.cluster.delete(this.jobType!, job.metadata.namespace ?? "", job.metadata.name!, { propagationPolicy: "Background", preconditions: { uid: job.metadata.uid } })
    } catch (error) {
      if (!(error instanceof StatusError && (error.code === 404 || error.code === 409))) throw error
    }
  }

  private forget(key: string): void {
    this.clearDeadline(key)
    const expiry = this.expiries.get(key)
    if (expiry !== undefined) clearTimeout(expiry)
    this.expiries.delete(key)
    this.backoffs.get(key)?.cancel?.()
    this.backoffs.delete(key)
  }
}
