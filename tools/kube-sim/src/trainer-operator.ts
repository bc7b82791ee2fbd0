/**
 * The Kubeflow Trainer v2 controller (kubeflow/trainer v2.2) for `trainer.kubeflow.org/v1alpha1` TrainJobs, together
 * with the JobSet and Job controllers below it.
 *
 * Upstream, a TrainJob and its TrainingRuntime or ClusterTrainingRuntime become a JobSet of the TrainJob's name (one
 * Job `<trainjob>-<replicatedJob>-<jobIndex>` per replica of each replicatedJob, Indexed, pods
 * `<job>-<completionIndex>-<5 chars>`), a headless Service for the pods' DNS names, and with the MPI policy an SSH
 * Secret `<trainjob>-mpi-ssh-auth` and a hostfile ConfigMap `<trainjob>-mpi-hostfile`
 * (pkg/runtime/core/trainingruntime.go, pkg/runtime/framework/plugins/{jobset,mpi}, sigs.k8s.io/jobset
 * pkg/controllers/jobset_controller.go). Here the pods are created directly, owned by the TrainJob, with the labels,
 * annotations, hostname and subdomain the JobSet and Job controllers give them; there are no JobSet or Job objects.
 * An MPI launcher that runs while a worker is not Running for a grace period fails as mpirun does when ssh cannot
 * reach a host.
 */
import { createHash } from "node:crypto"
import * as Errors from "./errors.ts"
import type { Change } from "./store.ts"
import type { KubeObject, OwnerReference, ResourceType } from "./types.ts"
import { ReconcileQueue } from "./simulation.ts"
import type { Controller, Random, World } from "./world.ts"

type Json = Record<string, unknown>

const NAME = "trainer-controller"
const GROUP = "trainer.kubeflow.org"
const VERSION = "v1alpha1"
const TRAINJOB_KEY = `${GROUP}/trainjobs`
const RUNTIME_KEY = `${GROUP}/trainingruntimes`
const CLUSTER_RUNTIME_KEY = `${GROUP}/clustertrainingruntimes`
const POD_KEY = "/pods"
const OWNED_KEYS = new Set([POD_KEY, "/configmaps", "/secrets", "/services"])
const KIND = "TrainJob"
const CONTROLLER_NAME = "trainer.kubeflow.org/trainjob-controller"

/** Label and annotation keys of sigs.k8s.io/jobset api/jobset/v1alpha2 and pkg/constants. */
export const JobSetLabels = {
  jobSetName: "jobset.sigs.k8s.io/jobset-name",
  replicatedJobName: "jobset.sigs.k8s.io/replicatedjob-name",
  restartAttempt: "jobset.sigs.k8s.io/restart-attempt",
  replicatedJobReplicas: "jobset.sigs.k8s.io/replicatedjob-replicas",
  globalReplicas: "jobset.sigs.k8s.io/global-replicas",
  jobIndex: "jobset.sigs.k8s.io/job-index",
  jobKey: "jobset.sigs.k8s.io/job-key",
  jobGlobalIndex: "jobset.sigs.k8s.io/job-global-index"
} as const

const COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
const LAUNCHER = "launcher"
const NODE = "node"
const ANCESTOR_LABEL = "trainer.kubeflow.org/trainjob-ancestor-step"
const SSH_VOLUME = "mpi-ssh-auth"
const HOSTFILE_VOLUME = "mpi-hostfile"
const HOSTFILE_DIR = "/etc/mpi"
const HOSTFILE_NAME = "hostfile"
const DEFAULT_BACKOFF_LIMIT = 6

/**
 * Condition reasons and messages of a v2.2 TrainJob (pkg/apis/trainer/v1alpha1/trainjob_types.go, pkg/constants) and of
 * the JobSet conditions it copies (sigs.k8s.io/jobset pkg/constants/constants.go). v2.2 has no `Created` condition
 * (removed in kubeflow/trainer#2621).
 */
export const TrainJobConditions = {
  completeReason: "AllJobsCompleted",
  completeMessage: "jobset completed successfully",
  failedReason: "FailedJobs",
  failedMessage: "jobset failed due to one or more job failures",
  runtimeNotSupportedReason: "TrainingRuntimeNotSupported",
  suspendedReason: "Suspended",
  suspendedMessage: "TrainJob is suspended",
  resumedReason: "Resumed",
  resumedMessage: "TrainJob is resumed"
} as const

const record = (value: unknown): Json | undefined => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined)
const records = (value: unknown): Array<Json> => (Array.isArray(value) ? value.filter((item): item is Json => record(item) !== undefined) : [])
const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)
const int = (value: unknown): number | undefined => (typeof value === "number" && Number.isInteger(value) ? value : undefined)
const strings = (value: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(record(value) ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === "string"))
const clone = <A>(value: A): A => structuredClone(value)
const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z")
const sha1 = (input: string): string => createHash("sha1").update(input).digest("hex")

const stableJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`
  const object = record(value)
  if (object === undefined) return JSON.stringify(value) ?? "null"
  return `{${Object.keys(object)
    .filter((key) => object[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${stableJson(object[key])}`)
    .join(",")}}`
}

/** A stable UUID-shaped identifier (the `controller-uid` of a Job that exists only in name here). */
const derivedUid = (seed: string): string => {
  const hex = sha1(seed)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${hex.slice(18, 20)}-${hex.slice(20, 32)}`
}

/** apply.UpsertEnvVars / UpsertVolumes: replace the entry of the same name, else append. */
const upsert = (list: Array<Json>, entries: ReadonlyArray<Json>): Array<Json> => {
  const out = [...list]
  for (const entry of entries) {
    const index = out.findIndex((existing) => existing["name"] === entry["name"])
    if (index === -1) out.push(entry)
    else out[index] = entry
  }
  return out
}

const podCondition = (pod: KubeObject, type: string): Json | undefined => records(record(pod["status"])?.["conditions"]).find((condition) => condition["type"] === type)
const podPhase = (pod: KubeObject): string => text(record(pod["status"])?.["phase"]) ?? "Pending"
const isReady = (pod: KubeObject): boolean => podCondition(pod, "Ready")?.["status"] === "True"
const isFinished = (pod: KubeObject): boolean => podPhase(pod) === "Succeeded" || podPhase(pod) === "Failed"
const isActive = (pod: KubeObject): boolean => !isFinished(pod) && pod.metadata.deletionTimestamp === undefined
const ownedBy = (object: KubeObject, uid: string | undefined): boolean => (object.metadata.ownerReferences ?? []).some((owner) => owner.uid === uid)

/** One replicatedJob of the JobSet: its Jobs' pod template after the Trainer plugins ran. */
interface PodSetPlan {
  readonly name: string
  readonly replicas: number
  readonly count: number
  readonly backoffLimit: number
  readonly restartPolicy: string
  readonly metadata: { labels: Record<string, string>; annotations: Record<string, string> }
  readonly spec: Json
}

/** What the TrainJob's JobSet would be: built once, as the Trainer does not update a running JobSet. */
interface Plan {
  readonly subdomain: string
  readonly dnsHostnames: boolean
  readonly publishNotReadyAddresses: boolean
  readonly podSets: ReadonlyArray<PodSetPlan>
  readonly successOperator: string
  readonly successTargets: ReadonlyArray<string>
  readonly mpi: { readonly hostfile: string; readonly runLauncherAsNode: boolean } | undefined
}

interface LauncherWatch {
  expired: boolean
  readonly cancel: () => void
}

/** What the controller remembers of a TrainJob (by uid). */
interface JobState {
  plan?: Plan
  missingRuntimeMessage?: string
  readonly failedJobs: Set<string>
  readonly launchers: Map<string, LauncherWatch>
}

/** One Job of the JobSet, as the Job controller would report it. */
interface JobView {
  readonly podSet: PodSetPlan
  readonly index: number
  readonly name: string
  readonly pods: ReadonlyArray<KubeObject>
  readonly succeeded: ReadonlySet<number>
  readonly complete: boolean
  readonly failed: boolean
}

export interface TrainerOperatorOptions {
  /**
   * Fail a Running MPI launcher whose workers are not all Running after `launcherGraceSeconds` (default true). The
   * controller then writes the launcher's status itself; turn it off where the launcher's workload fails on its own.
   */
  readonly failStrandedLaunchers?: boolean
  /** Simulated seconds an MPI launcher keeps trying to reach its workers before it fails (default 60). */
  readonly launcherGraceSeconds?: number
}

/** Runs TrainJobs: launcher and worker pods, the MPI Secret and ConfigMap, the headless Service, and the TrainJob status. */
export class TrainerOperator implements Controller {
  readonly name = NAME
  private readonly graceMs: number
  private readonly failStranded: boolean
  private world: World | undefined
  private unsubscribe: (() => void) | undefined
  private queue: ReconcileQueue | undefined
  private readonly jobs = new Map<string, JobState>()

  constructor(options: TrainerOperatorOptions = {}) {
    this.graceMs = (options.launcherGraceSeconds ?? 60) * 1000
    this.failStranded = options.failStrandedLaunchers ?? true
  }

  start(world: World): void {
    this.world = world
    this.queue = new ReconcileQueue(NAME, world, (key) => this.reconcile(world, key))
    this.unsubscribe = world.cluster.store.subscribe((change) => this.observe(change))
    for (const trainJob of world.cluster.store.list(TRAINJOB_KEY) ?? []) this.enqueue(`${trainJob.metadata.namespace ?? ""}/${trainJob.metadata.name ?? ""}`)
  }

  stop(): void {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.queue?.stop()
    this.queue = undefined
    for (const state of this.jobs.values()) for (const watch of state.launchers.values()) watch.cancel()
    this.jobs.clear()
    this.world = undefined
  }

  private observe(change: Change): void {
    if (change.key === TRAINJOB_KEY) {
      this.enqueue(`${change.namespace}/${change.name}`)
      return
    }
    if (change.key === RUNTIME_KEY || change.key === CLUSTER_RUNTIME_KEY) {
      const kind = change.key === RUNTIME_KEY ? "TrainingRuntime" : "ClusterTrainingRuntime"
      for (const trainJob of this.world?.cluster.store.list(TRAINJOB_KEY, kind === "TrainingRuntime" ? change.namespace : undefined) ?? []) {
        const ref = runtimeRef(trainJob)
        if (ref.kind === kind && ref.name === change.name) this.enqueue(`${trainJob.metadata.namespace ?? ""}/${trainJob.metadata.name ?? ""}`)
      }
      return
    }
    if (!OWNED_KEYS.has(change.key)) return
    for (const owner of change.object.metadata.ownerReferences ?? []) {
      if (owner.kind === KIND && owner.apiVersion.startsWith(`${GROUP}/`)) this.enqueue(`${change.namespace}/${owner.name}`)
    }
  }

  private enqueue(key: string): void {
    this.queue?.add(key)
  }

  private type(world: World, group: string, version: string, resource: string): ResourceType {
    const found = world.cluster.registry.find(group, version, resource)
    if (found === undefined) throw new Errors.StatusError(404, "NotFound", `the server could not find the requested resource (${resource})`)
    return found
  }

  private reconcile(world: World, key: string): void {
    const slash = key.indexOf("/")
    const namespace = key.slice(0, slash)
    const name = key.slice(slash + 1)
    const trainJobType = world.cluster.registry.find(GROUP, VERSION, "trainjobs")
    const trainJob = world.cluster.store.get(TRAINJOB_KEY, namespace, name)
    if (trainJobType === undefined || trainJob === undefined) {
      this.forget(world)
      return
    }
    const spec = record(trainJob["spec"]) ?? {}
    if (trainJob.metadata.deletionTimestamp !== undefined || (text(spec["managedBy"]) ?? CONTROLLER_NAME) !== CONTROLLER_NAME) return
    const uid = trainJob.metadata.uid ?? ""
    let state = this.jobs.get(uid)
    if (state === undefined) {
      state = { failedJobs: new Set(), launchers: new Map() }
      this.jobs.set(uid, state)
    }
    const status = clone(record(trainJob["status"]) ?? {})
    let conditions = records(status["conditions"])
    const ref = runtimeRef(trainJob)
    if (ref.apiGroup !== GROUP || (ref.kind !== "TrainingRuntime" && ref.kind !== "ClusterTrainingRuntime")) {
      conditions = setCondition(conditions, { type: "Failed", status: "True", reason: TrainJobConditions.runtimeNotSupportedReason, message: `unsupported runtime: ${ref.kind}.${ref.apiGroup}` })
      this.writeStatus(world, trainJobType, trainJob, { ...status, conditions })
      return
    }
    conditions = conditions.filter((condition) => !(condition["type"] === "Failed" && condition["reason"] === TrainJobConditions.runtimeNotSupportedReason))

    const finished = conditions.some((condition) => (condition["type"] === "Complete" || condition["type"] === "Failed") && condition["status"] === "True")
    if (state.plan === undefined && !finished) {
      const runtime = ref.kind === "TrainingRuntime" ? world.cluster.store.get(RUNTIME_KEY, namespace, ref.name) : world.cluster.store.get(CLUSTER_RUNTIME_KEY, "", ref.name)
      if (runtime === undefined) {
        const resource = ref.kind === "TrainingRuntime" ? "trainingruntimes" : "clustertrainingruntimes"
        // pkg/controller/trainjob_controller.go: "TrainJob resources reconciliation failed: %.950v" around
        // pkg/runtime/core/{training,clustertraining}runtime.go's "<Kind> specified in TrainJob is not found: %w".
        const message = `TrainJob resources reconciliation failed: ${ref.kind} specified in TrainJob is not found: ${resource}.${GROUP} "${ref.name}" not found`
        if (state.missingRuntimeMessage !== message) {
          state.missingRuntimeMessage = message
          world.event(trainJob, "Warning", "TrainJobResourcesCreationFailed", message, NAME)
        }
        return
      }
      state.missingRuntimeMessage = undefined
      state.plan = buildPlan(trainJob, runtime)
    }
    const plan = state.plan
    if (plan === undefined) return
    const suspended = spec["suspend"] === true
    const owner: OwnerReference = { apiVersion: `${GROUP}/${VERSION}`, kind: KIND, name, uid, controller: true, blockOwnerDeletion: true }
    const podType = this.type(world, "", "v1", "pods")

    if (!finished) this.syncSupport(world, trainJob, owner, plan)
    let jobs = this.jobViews(namespace, name, uid, plan, state)
    if (!finished && !suspended) {
      this.failStrandedLaunchers(world, podType, key, state, plan, jobs)
      jobs = this.jobViews(namespace, name, uid, plan, state)
      for (const job of jobs) {
        if (job.failed) for (const pod of job.pods.filter(isActive)) this.deletePod(world, podType, pod)
        else if (!job.complete) this.createMissingPods(world, podType, trainJob, owner, plan, job)
      }
      jobs = this.jobViews(namespace, name, uid, plan, state)
    }
    if (suspended && !finished) for (const job of jobs) for (const pod of job.pods.filter(isActive)) this.deletePod(world, podType, pod)

    conditions = suspendedCondition(conditions, suspended)
    if (!finished) {
      const targets = plan.successTargets.length === 0 ? plan.podSets.map((podSet) => podSet.name) : plan.successTargets
      const targeted = jobs.filter((job) => targets.includes(job.podSet.name))
      const succeeded = plan.successOperator === "Any" ? targeted.some((job) => job.complete) : targeted.length > 0 && targeted.every((job) => job.complete)
      const terminal = jobs.some((job) => job.failed)
        ? { type: "Failed", status: "True", reason: TrainJobConditions.failedReason, message: TrainJobConditions.failedMessage }
        : succeeded
          ? { type: "Complete", status: "True", reason: TrainJobConditions.completeReason, message: TrainJobConditions.completeMessage }
          : undefined
      if (terminal !== undefined) {
        conditions = setCondition(conditions, terminal)
        for (const job of jobs) for (const pod of job.pods.filter(isActive)) this.deletePod(world, podType, pod)
        for (const watch of state.launchers.values()) watch.cancel()
        state.launchers.clear()
        jobs = this.jobViews(namespace, name, uid, plan, state)
      }
    }
    this.writeStatus(world, trainJobType, trainJob, { ...status, conditions, jobsStatus: jobsStatus(plan, jobs, suspended) })
  }

  /** Drops what is remembered of TrainJobs that no longer exist. */
  private forget(world: World): void {
    const live = new Set((world.cluster.store.list(TRAINJOB_KEY) ?? []).map((trainJob) => trainJob.metadata.uid))
    for (const [uid, state] of this.jobs) {
      if (live.has(uid)) continue
      for (const watch of state.launchers.values()) watch.cancel()
      this.jobs.delete(uid)
    }
  }

  /** The pods of each Job of the JobSet and what the Job controller would conclude from them. */
  private jobViews(namespace: string, name: string, uid: string, plan: Plan, state: JobState): Array<JobView> {
    const pods = (this.world?.cluster.store.list(POD_KEY, namespace) ?? []).filter((pod) => ownedBy(pod, uid) && pod.metadata.labels?.[JobSetLabels.jobSetName] === name)
    const views: Array<JobView> = []
    for (const podSet of plan.podSets) {
      for (let index = 0; index < podSet.replicas; index++) {
        const jobName = `${name}-${podSet.name}-${index}`
        const mine = pods.filter((pod) => pod.metadata.labels?.[JobSetLabels.replicatedJobName] === podSet.name && pod.metadata.labels[JobSetLabels.jobIndex] === String(index))
        const succeeded = new Set<number>()
        let failures = 0
        for (const pod of mine) {
          const completion = Number(pod.metadata.labels?.[COMPLETION_INDEX])
          if (podPhase(pod) === "Succeeded") succeeded.add(completion)
          if (podPhase(pod) === "Failed") failures++
          if (podSet.restartPolicy === "OnFailure" && isActive(pod)) {
            for (const status of records(record(pod["status"])?.["containerStatuses"])) failures += int(status["restartCount"]) ?? 0
          }
        }
        const complete = succeeded.size >= podSet.count
        if (!complete && failures > podSet.backoffLimit) state.failedJobs.add(jobName)
        views.push({ podSet, index, name: jobName, pods: mine, succeeded, complete, failed: !complete && state.failedJobs.has(jobName) })
      }
    }
    return views
  }

  /** The SSH Secret and hostfile ConfigMap of the MPI plugin and the JobSet's headless Service. */
  private syncSupport(world: World, trainJob: KubeObject, owner: OwnerReference, plan: Plan): void {
    const namespace = trainJob.metadata.namespace ?? ""
    const name = trainJob.metadata.name ?? ""
    const stuck = world.faults.stuckFinalizers.get(NAME)
    const metadata = (objectName: string): KubeObject["metadata"] => ({
      name: objectName,
      namespace,
      ownerReferences: [{ ...owner }],
      ...(stuck === undefined ? {} : { finalizers: [stuck] })
    })
    if (plan.mpi !== undefined) {
      const secretName = `${name}-mpi-ssh-auth`
      if (world.cluster.store.get("/secrets", namespace, secretName) === undefined) {
        const keys = sshKeys(world.random(NAME))
        world.cluster.create(this.type(world, "", "v1", "secrets"), namespace, {
          apiVersion: "v1",
          kind: "Secret",
          metadata: metadata(secretName),
          type: "kubernetes.io/ssh-auth",
          immutable: true,
          data: { "ssh-privatekey": Buffer.from(keys.privateKey).toString("base64"), "ssh-publickey": Buffer.from(keys.publicKey).toString("base64") }
        })
      }
      const configMapName = `${name}-mpi-hostfile`
      const configMapType = this.type(world, "", "v1", "configmaps")
      const data = { [HOSTFILE_NAME]: plan.mpi.hostfile }
      const existing = world.cluster.store.get("/configmaps", namespace, configMapName)
      if (existing === undefined) world.cluster.create(configMapType, namespace, { apiVersion: "v1", kind: "ConfigMap", metadata: metadata(configMapName), data })
      else if (ownedBy(existing, owner.uid) && stableJson(existing["data"]) !== stableJson(data)) world.cluster.update(configMapType, namespace, configMapName, { ...existing, data })
    }
    if (plan.dnsHostnames && world.cluster.store.get("/services", namespace, plan.subdomain) === undefined) {
      world.cluster.create(this.type(world, "", "v1", "services"), namespace, {
        apiVersion: "v1",
        kind: "Service",
        metadata: metadata(plan.subdomain),
        spec: { clusterIP: "None", clusterIPs: ["None"], selector: { [JobSetLabels.jobSetName]: name }, publishNotReadyAddresses: plan.publishNotReadyAddresses }
      })
    }
  }

  /** The Job controller of one Indexed Job: a pod for every completion index without a succeeded or running one. */
  private createMissingPods(world: World, type: ResourceType, trainJob: KubeObject, owner: OwnerReference, plan: Plan, job: JobView): void {
    const namespace = trainJob.metadata.namespace ?? ""
    const name = trainJob.metadata.name ?? ""
    const random = world.random(NAME)
    const stuck = world.faults.stuckFinalizers.get(NAME)
    const globalReplicas = plan.podSets.reduce((sum, podSet) => sum + podSet.replicas, 0)
    let globalIndex = job.index
    for (const podSet of plan.podSets) {
      if (podSet === job.podSet) break
      globalIndex += podSet.replicas
    }
    const jobSetValues: Record<string, string> = {
      [JobSetLabels.jobSetName]: name,
      [JobSetLabels.replicatedJobName]: job.podSet.name,
      [JobSetLabels.restartAttempt]: "0",
      [JobSetLabels.replicatedJobReplicas]: String(job.podSet.replicas),
      [JobSetLabels.globalReplicas]: String(globalReplicas),
      [JobSetLabels.jobIndex]: String(job.index),
      [JobSetLabels.jobKey]: sha1(`${namespace}/${job.name}`),
      [JobSetLabels.jobGlobalIndex]: String(globalIndex)
    }
    const controllerUid = derivedUid(`${owner.uid}/${job.name}`)
    for (let completion = 0; completion < job.podSet.count; completion++) {
      if (job.succeeded.has(completion)) continue
      if (job.pods.some((pod) => isActive(pod) && pod.metadata.labels?.[COMPLETION_INDEX] === String(completion))) continue
      let podName = ""
      do podName = `${job.name}-${completion}-${random.suffix(5)}`
      while (world.cluster.store.get(POD_KEY, namespace, podName) !== undefined)
      const spec = clone(job.podSet.spec)
      spec["restartPolicy"] = job.podSet.restartPolicy
      if (text(spec["hostname"]) === undefined) spec["hostname"] = `${job.name}-${completion}`
      if (plan.dnsHostnames) spec["subdomain"] = plan.subdomain
      const indexEnv = { name: "JOB_COMPLETION_INDEX", valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX}']` } } }
      for (const list of ["initContainers", "containers"]) {
        for (const container of records(spec[list])) {
          const env = records(container["env"])
          if (!env.some((entry) => entry["name"] === "JOB_COMPLETION_INDEX")) container["env"] = [...env, clone(indexEnv)]
        }
      }
      world.cluster.create(type, namespace, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: podName,
          namespace,
          labels: {
            ...job.podSet.metadata.labels,
            ...jobSetValues,
            "batch.kubernetes.io/controller-uid": controllerUid,
            "batch.kubernetes.io/job-name": job.name,
            "controller-uid": controllerUid,
            "job-name": job.name,
            [COMPLETION_INDEX]: String(completion)
          },
          annotations: { ...job.podSet.metadata.annotations, ...jobSetValues, [COMPLETION_INDEX]: String(completion) },
          ownerReferences: [{ ...owner }],
          ...(stuck === undefined ? {} : { finalizers: [stuck] })
        },
        spec
      })
    }
  }

  /**
   * mpirun in a launcher reaches its workers over ssh (ConnectionAttempts=10): a launcher Running for the grace period
   * while a worker is not Running fails with ORTE's message.
   */
  private failStrandedLaunchers(world: World, type: ResourceType, key: string, state: JobState, plan: Plan, jobs: ReadonlyArray<JobView>): void {
    if (!this.failStranded || plan.mpi === undefined || plan.mpi.runLauncherAsNode) return
    const launchers = jobs.filter((job) => job.podSet.name === LAUNCHER).flatMap((job) => job.pods.filter((pod) => isActive(pod) && podPhase(pod) === "Running"))
    const running = new Set(launchers.map((pod) => pod.metadata.uid ?? ""))
    for (const [uid, watch] of state.launchers) {
      if (running.has(uid)) continue
      watch.cancel()
      state.launchers.delete(uid)
    }
    const workers = jobs.filter((job) => job.podSet.name === NODE)
    for (const launcher of launchers) {
      const uid = launcher.metadata.uid ?? ""
      let watch = state.launchers.get(uid)
      if (watch === undefined) {
        const created: LauncherWatch = {
          expired: false,
          cancel: world.clock.after(this.graceMs, () => {
            created.expired = true
            this.enqueue(key)
          })
        }
        watch = created
        state.launchers.set(uid, created)
      }
      if (!watch.expired) continue
      const stranded = workers
        .flatMap((job) => Array.from({ length: job.podSet.count }, (_, completion) => ({ job, completion })))
        .find(({ job, completion }) => !job.pods.some((pod) => isActive(pod) && podPhase(pod) === "Running" && pod.metadata.labels?.[COMPLETION_INDEX] === String(completion)))
      if (stranded === undefined) continue
      const worker = stranded.job.pods.find((pod) => isActive(pod) && pod.metadata.labels?.[COMPLETION_INDEX] === String(stranded.completion))
      const host = `${stranded.job.name}-${stranded.completion}.${plan.subdomain}`
      const podIp = worker === undefined ? undefined : text(record(worker["status"])?.["podIP"])
      const sshError = podIp === undefined ? `ssh: Could not resolve hostname ${host}: Name or service not known` : `ssh: connect to host ${host} port 22: Connection refused`
      this.failLauncher(world, type, launcher, sshError)
      watch.cancel()
      state.launchers.delete(uid)
    }
  }

  private failLauncher(world: World, type: ResourceType, pod: KubeObject, sshError: string): void {
    const namespace = pod.metadata.namespace ?? ""
    const name = pod.metadata.name ?? ""
    const time = now()
    const status = clone(record(pod["status"]) ?? {})
    const containers = records(record(pod["spec"])?.["containers"])
    const message = "ORTE was unable to reliably start one or more daemons."
    const previous = records(status["containerStatuses"])
    status["phase"] = "Failed"
    status["conditions"] = records(status["conditions"]).map((condition) =>
      condition["type"] === "Ready" || condition["type"] === "ContainersReady" ? { ...condition, status: "False", reason: "PodFailed", lastTransitionTime: time } : condition
    )
    status["containerStatuses"] = containers.map((container) => {
      const before = previous.find((entry) => entry["name"] === container["name"]) ?? {}
      const running = record(record(before["state"])?.["running"])
      return {
        ...before,
        name: container["name"],
        image: before["image"] ?? container["image"],
        ready: false,
        started: false,
        restartCount: int(before["restartCount"]) ?? 0,
        state: {
          terminated: {
            exitCode: 1,
            reason: "Error",
            ...(container["name"] === NODE ? { message: `${sshError}\n${message}\n` } : {}),
            startedAt: text(running?.["startedAt"]) ?? time,
            finishedAt: time
          }
        }
      }
    })
    world.cluster.update(type, namespace, name, { ...pod, status }, { subresource: "status" })
    for (const container of containers) {
      const containerName = text(container["name"]) ?? ""
      if (containerName !== NODE) continue
      world.logs.append(namespace, name, containerName, `${sshError}\r\n--------------------------------------------------------------------------\n${message}\n--------------------------------------------------------------------------\n`)
      world.logs.end(namespace, name, containerName)
    }
  }

  private deletePod(world: World, type: ResourceType, pod: KubeObject): void {
    try {
      world.cluster.delete(type, pod.metadata.namespace ?? "", pod.metadata.name ?? "")
    } catch (error) {
      if (!(error instanceof Errors.StatusError && error.code === 404)) throw error
    }
  }

  private writeStatus(world: World, type: ResourceType, trainJob: KubeObject, status: Json): void {
    const next = Object.fromEntries(Object.entries(status).filter(([, value]) => !(Array.isArray(value) && value.length === 0)))
    if (stableJson(next) === stableJson(record(trainJob["status"]) ?? {})) return
    world.cluster.update(type, trainJob.metadata.namespace ?? "", trainJob.metadata.name ?? "", { ...trainJob, status: next }, { subresource: "status" })
  }
}

const runtimeRef = (trainJob: KubeObject): { name: string; apiGroup: string; kind: string } => {
  const ref = record(record(trainJob["spec"])?.["runtimeRef"]) ?? {}
  return { name: text(ref["name"]) ?? "", apiGroup: text(ref["apiGroup"]) ?? GROUP, kind: text(ref["kind"]) ?? "ClusterTrainingRuntime" }
}

/** meta.SetStatusCondition: replaces the condition of the same type, keeping its transition time when the status holds. */
const setCondition = (conditions: ReadonlyArray<Json>, condition: Json): Array<Json> => {
  const index = conditions.findIndex((existing) => existing["type"] === condition["type"])
  const previous = index === -1 ? undefined : conditions[index]
  const lastTransitionTime = previous !== undefined && previous["status"] === condition["status"] ? previous["lastTransitionTime"] : now()
  const next = { ...condition, lastTransitionTime }
  if (previous === undefined) return [...conditions, next]
  if (previous["reason"] === condition["reason"] && previous["message"] === condition["message"] && previous["status"] === condition["status"]) return [...conditions]
  return conditions.map((existing, position) => (position === index ? next : existing))
}

/** setSuspendedCondition of pkg/controller/trainjob_controller.go. */
const suspendedCondition = (conditions: ReadonlyArray<Json>, suspended: boolean): Array<Json> => {
  if (suspended) return setCondition(conditions, { type: "Suspended", status: "True", reason: TrainJobConditions.suspendedReason, message: TrainJobConditions.suspendedMessage })
  if (conditions.some((condition) => condition["type"] === "Suspended" && condition["status"] === "True")) {
    return setCondition(conditions, { type: "Suspended", status: "False", reason: TrainJobConditions.resumedReason, message: TrainJobConditions.resumedMessage })
  }
  return [...conditions]
}

/** The JobSet's replicatedJobsStatus (counts of Jobs) as the TrainJob's `jobsStatus`. */
const jobsStatus = (plan: Plan, jobs: ReadonlyArray<JobView>, suspended: boolean): Array<Json> =>
  plan.podSets.map((podSet) => {
    const mine = jobs.filter((job) => job.podSet === podSet)
    const running = mine.filter((job) => !job.complete && !job.failed)
    return {
      name: podSet.name,
      ready: running.filter((job) => job.pods.filter((pod) => isActive(pod) && isReady(pod)).length + job.succeeded.size >= podSet.count).length,
      succeeded: mine.filter((job) => job.complete).length,
      failed: mine.filter((job) => job.failed).length,
      active: running.filter((job) => job.pods.some(isActive)).length,
      suspended: suspended ? running.length : 0
    }
  })

/** Placeholder key material shaped like the MPI plugin's (an EC P-521 key pair), drawn from the seeded stream. */
const sshKeys = (random: Random): { privateKey: string; publicKey: string } => {
  const bytes = (count: number): Buffer => Buffer.from(Array.from({ length: count }, () => random.int(256)))
  const sshString = (value: Buffer): Buffer => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(value.length)
    return Buffer.concat([length, value])
  }
  const point = Buffer.concat([Buffer.from([4]), bytes(132)])
  const blob = Buffer.concat([sshString(Buffer.from("ecdsa-sha2-nistp521")), sshString(Buffer.from("nistp521")), sshString(point)])
  const der = bytes(223).toString("base64")
  const pem = der.match(/.{1,64}/g)?.join("\n") ?? der
  return { privateKey: `-----BEGIN EC PRIVATE KEY-----\n${pem}\n-----END EC PRIVATE KEY-----\n`, publicKey: `ecdsa-sha2-nistp521 ${blob.toString("base64")}\n` }
}

/**
 * The JobSet the Trainer would build for a TrainJob from its runtime: counts from `parallelism`, `mlPolicy.numNodes`
 * and `trainer.numNodes`; the trainer's image, command, args, env and `resourcesPerNode` on the `node` containers;
 * with `mlPolicy.mpi`, the SSH volume on launcher and workers and the hostfile volume and OpenMPI env on the launcher.
 */
const buildPlan = (trainJob: KubeObject, runtime: KubeObject): Plan => {
  const name = trainJob.metadata.name ?? ""
  const trainer = record(record(trainJob["spec"])?.["trainer"]) ?? {}
  const runtimeSpec = record(runtime["spec"]) ?? {}
  const mlPolicy = record(runtimeSpec["mlPolicy"])
  const mpi = record(mlPolicy?.["mpi"])
  const jobSetSpec = record(record(runtimeSpec["template"])?.["spec"]) ?? {}
  const network = record(jobSetSpec["network"]) ?? {}
  const subdomain = text(network["subdomain"]) || name
  const runLauncherAsNode = mpi?.["runLauncherAsNode"] === true
  const trainerNumNodes = int(trainer["numNodes"])

  const podSets = records(jobSetSpec["replicatedJobs"]).map((replicatedJob) => {
    const podSetName = text(replicatedJob["name"]) ?? ""
    const jobTemplate = record(replicatedJob["template"]) ?? {}
    const jobSpec = record(jobTemplate["spec"]) ?? {}
    const podTemplate = clone(record(jobSpec["template"]) ?? {})
    const ancestor = strings(record(jobTemplate["metadata"])?.["labels"])[ANCESTOR_LABEL]
    let count = int(jobSpec["parallelism"]) ?? 1
    let replicas = int(replicatedJob["replicas"]) ?? 1
    if (ancestor === "trainer" && mlPolicy !== undefined) {
      count = int(mlPolicy["numNodes"]) ?? 1
      replicas = 1
    }
    if (trainerNumNodes !== undefined) {
      if (mpi !== undefined && podSetName === NODE) count = runLauncherAsNode ? Math.max(trainerNumNodes - 1, 1) : trainerNumNodes
      else if (mpi === undefined && ancestor === "trainer") count = trainerNumNodes
    }
    const podMetadata = record(podTemplate["metadata"]) ?? {}
    return {
      name: podSetName,
      replicas,
      count,
      backoffLimit: int(jobSpec["backoffLimit"]) ?? DEFAULT_BACKOFF_LIMIT,
      restartPolicy: text(record(podTemplate["spec"])?.["restartPolicy"]) || "OnFailure",
      metadata: { labels: strings(podMetadata["labels"]), annotations: strings(podMetadata["annotations"]) },
      spec: record(podTemplate["spec"]) ?? {}
    }
  })

  const trainerContainer = (podSetName: string, containerName: string): boolean => containerName === NODE || (containerName === LAUNCHER && runLauncherAsNode && podSetName === LAUNCHER)
  const resourcesPerNode = record(trainer["resourcesPerNode"])
  for (const podSet of podSets) {
    for (const container of records(podSet.spec["containers"])) {
      if (!trainerContainer(podSet.name, text(container["name"]) ?? "")) continue
      if (text(trainer["image"]) !== undefined) container["image"] = trainer["image"]
      if (Array.isArray(trainer["command"])) container["command"] = clone(trainer["command"])
      if (Array.isArray(trainer["args"])) container["args"] = clone(trainer["args"])
      if (resourcesPerNode !== undefined && (record(resourcesPerNode["limits"]) !== undefined || record(resourcesPerNode["requests"]) !== undefined)) {
        container["resources"] = clone(resourcesPerNode)
      }
      const env = records(trainer["env"])
      if (env.length > 0) container["env"] = upsert(records(container["env"]), clone(env))
    }
  }

  let hostfile = ""
  if (mpi !== undefined) {
    let slots = int(trainer["numProcPerNode"]) ?? int(mpi["numProcPerNode"]) ?? 1
    if (int(trainer["numProcPerNode"]) === undefined && slots === 1) {
      const nodeContainer = records(podSets.find((podSet) => podSet.name === NODE)?.spec["containers"]).find((container) => container["name"] === NODE)
      const resources = resourcesPerNode ?? record(nodeContainer?.["resources"]) ?? {}
      const gpus = Number(strings(resources["limits"])["nvidia.com/gpu"] ?? record(resources["limits"])?.["nvidia.com/gpu"] ?? 0)
      if (gpus > 1) slots = gpus
    }
    const sshAuthMountPath = text(mpi["sshAuthMountPath"]) || "/root/.ssh"
    for (const podSet of podSets) {
      if (podSet.name !== NODE && podSet.name !== LAUNCHER) continue
      const volumes: Array<Json> = [
        {
          name: SSH_VOLUME,
          secret: {
            secretName: `${name}-mpi-ssh-auth`,
            defaultMode: 0o640,
            items: [
              { key: "ssh-privatekey", path: "id_rsa" },
              { key: "ssh-publickey", path: "id_rsa.pub" },
              { key: "ssh-publickey", path: "authorized_keys" }
            ]
          }
        }
      ]
      if (podSet.name === LAUNCHER) {
        volumes.push({ name: HOSTFILE_VOLUME, configMap: { name: `${name}-mpi-hostfile`, items: [{ key: HOSTFILE_NAME, path: HOSTFILE_NAME, mode: 0o444 }] } })
      }
      podSet.spec["volumes"] = upsert(records(podSet.spec["volumes"]), volumes)
      for (const container of records(podSet.spec["containers"])) {
        if (container["name"] !== NODE) continue
        const mounts = [{ name: SSH_VOLUME, mountPath: sshAuthMountPath }]
        if (podSet.name === LAUNCHER) mounts.push({ name: HOSTFILE_VOLUME, mountPath: HOSTFILE_DIR })
        container["volumeMounts"] = upsert(records(container["volumeMounts"]), mounts)
        if (podSet.name === LAUNCHER) {
          container["env"] = upsert(records(container["env"]), [
            { name: "OMPI_MCA_orte_default_hostfile", value: `${HOSTFILE_DIR}/${HOSTFILE_NAME}` },
            { name: "OMPI_MCA_orte_keep_fqdn_hostnames", value: "true" },
            { name: "OMPI_MCA_orte_set_default_slots", value: String(slots) },
            { name: "OMPI_MCA_plm_rsh_args", value: "-o ConnectionAttempts=10" }
          ])
        }
      }
    }
    for (const podSet of podSets) {
      if (!((runLauncherAsNode && podSet.name === LAUNCHER) || podSet.name === NODE)) continue
      for (let index = 0; index < podSet.count; index++) hostfile += `${name}-${podSet.name}-0-${index}.${subdomain} slots=${slots}\n`
    }
  }

  const successPolicy = record(jobSetSpec["successPolicy"]) ?? {}
  return {
    subdomain,
    dnsHostnames: network["enableDNSHostnames"] !== false,
    publishNotReadyAddresses: network["publishNotReadyAddresses"] === true,
    podSets,
    successOperator: text(successPolicy["operator"]) ?? "All",
    successTargets: (Array.isArray(successPolicy["targetReplicatedJobs"]) ? successPolicy["targetReplicatedJobs"] : []).filter((target): target is string => typeof target === "string"),
    mpi: mpi === undefined ? undefined : { hostfile, runLauncherAsNode }
  }
}
