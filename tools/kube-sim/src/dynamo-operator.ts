/**
 * The Dynamo operator (ai-dynamo/dynamo, deploy/cloud/operator) for `nvidia.com/v1alpha1` DynamoGraphDeployments.
 *
 * Upstream, a DGD becomes one DynamoComponentDeployment per service (`<dgd>-<service lower-cased>`), each a Deployment
 * of that name and, for frontends, a Service of that name; `status.state` is `successful` once every component is
 * Available, else `pending`, with a `Ready` condition (internal/controller/dynamographdeployment_controller.go,
 * dynamocomponentdeployment_controller.go, internal/dynamo/graph.go). Here the pods are created directly, named as the
 * Deployment's ReplicaSet names them (`<dgd>-<service>-<pod-template-hash>-<5 chars>`) and owned by the DGD; there are
 * no DynamoComponentDeployment, Deployment or ReplicaSet objects. A DGD is also `failed` when a pod fails or stays
 * unschedulable longer than a grace period (upstream stays `pending`).
 */
import * as Errors from "./errors.ts"
import type { Change } from "./store.ts"
import type { KubeObject, OwnerReference, ResourceType } from "./types.ts"
import { ReconcileQueue } from "./simulation.ts"
import type { Controller, World } from "./world.ts"

type Json = Record<string, unknown>

const NAME = "dynamo-operator"
const GROUP = "nvidia.com"
const VERSION = "v1alpha1"
const DGD_KEY = `${GROUP}/dynamographdeployments`
const POD_KEY = "/pods"
const SERVICE_KEY = "/services"
const KIND = "DynamoGraphDeployment"

/** Label keys of internal/consts/consts.go. */
export const DynamoLabels = {
  graphDeploymentName: "nvidia.com/dynamo-graph-deployment-name",
  component: "nvidia.com/dynamo-component",
  componentType: "nvidia.com/dynamo-component-type",
  subComponentType: "nvidia.com/dynamo-sub-component-type",
  namespace: "nvidia.com/dynamo-namespace",
  selector: "nvidia.com/selector",
  metricsEnabled: "nvidia.com/metrics-enabled"
} as const

const POD_TEMPLATE_HASH = "pod-template-hash"
const FRONTEND_PORT = 8000
const SYSTEM_PORT = 9090
const SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"

const record = (value: unknown): Json | undefined => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined)
const records = (value: unknown): Array<Json> => (Array.isArray(value) ? value.filter((item): item is Json => record(item) !== undefined) : [])
const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)
const strings = (value: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(record(value) ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === "string"))
const clone = <A>(value: A): A => structuredClone(value)
const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z")

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

/** The `pod-template-hash` of a pod template: FNV-1a of the template, its decimal digits mapped as rand.SafeEncodeString does. */
const templateHash = (template: unknown): string => {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(stableJson(template), "utf8")) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0
  return [...String(hash >>> 0)].map((digit) => SAFE_CHARS[digit.charCodeAt(0) % SAFE_CHARS.length]).join("")
}

/** MergeEnvs of internal/dynamo/graph.go: later lists win by name, the result sorted by name. */
const mergeEnvs = (...lists: ReadonlyArray<ReadonlyArray<Json>>): Array<Json> => {
  const byName = new Map<string, Json>()
  for (const env of lists.flat()) {
    const name = text(env["name"])
    if (name !== undefined) byName.set(name, env)
  }
  return [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, env]) => env)
}

const podCondition = (pod: KubeObject, type: string): Json | undefined => records(record(pod["status"])?.["conditions"]).find((condition) => condition["type"] === type)
const podPhase = (pod: KubeObject): string => text(record(pod["status"])?.["phase"]) ?? "Pending"
const isReady = (pod: KubeObject): boolean => podCondition(pod, "Ready")?.["status"] === "True"
const isTerminating = (pod: KubeObject): boolean => pod.metadata.deletionTimestamp !== undefined
const isUnschedulable = (pod: KubeObject): boolean => {
  const scheduled = podCondition(pod, "PodScheduled")
  return scheduled?.["status"] === "False" && scheduled["reason"] === "Unschedulable"
}

const ownedBy = (object: KubeObject, uid: string | undefined): boolean => (object.metadata.ownerReferences ?? []).some((owner) => owner.uid === uid)

const isFrontend = (componentType: string): boolean => componentType === "frontend" || componentType === "main"
const isWorker = (componentType: string): boolean => componentType === "worker" || componentType === "prefill" || componentType === "decode"

/** GetResourcesConfig of controller_common: a Dynamo `ResourceItem` (cpu, memory, gpu, custom) as a ResourceList. */
const resourceList = (item: unknown): Record<string, string> => {
  const source = record(item) ?? {}
  const out: Record<string, string> = {}
  for (const [field, resource] of [["cpu", "cpu"], ["memory", "memory"], ["gpu", "nvidia.com/gpu"]] as const) {
    const value = text(source[field])
    if (value !== undefined && value !== "") out[resource] = value
  }
  return { ...out, ...strings(source["custom"]) }
}

/** One desired service of a DGD: the pod template its Deployment would carry. */
interface ServicePlan {
  readonly service: string
  readonly component: string
  readonly componentType: string
  readonly replicas: number
  readonly dynamoNamespace: string
  readonly labels: Record<string, string>
  readonly annotations: Record<string, string>
  readonly spec: Json
  readonly hash: string
}

interface UnschedulableWatch {
  expired: boolean
  readonly cancel: () => void
}

export interface DynamoOperatorOptions {
  /** Simulated seconds a pod may stay unschedulable before its DGD becomes `failed` (default 300). */
  readonly unschedulableGraceSeconds?: number
}

/** Runs DynamoGraphDeployments: pods per service, the frontend Service, and `status.state` with a `Ready` condition. */
export class DynamoOperator implements Controller {
  readonly name = NAME
  private readonly graceMs: number
  private unsubscribe: (() => void) | undefined
  private queue: ReconcileQueue | undefined
  /** Per DGD (`namespace/name`), the pods seen unschedulable and whether their grace period has run out. */
  private readonly unschedulable = new Map<string, Map<string, UnschedulableWatch>>()

  constructor(options: DynamoOperatorOptions = {}) {
    this.graceMs = (options.unschedulableGraceSeconds ?? 300) * 1000
  }

  start(world: World): void {
    this.queue = new ReconcileQueue(NAME, world, (key) => this.reconcile(world, key))
    this.unsubscribe = world.cluster.store.subscribe((change) => this.observe(change))
    for (const dgd of world.cluster.store.list(DGD_KEY) ?? []) this.enqueue(`${dgd.metadata.namespace ?? ""}/${dgd.metadata.name ?? ""}`)
  }

  stop(): void {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.queue?.stop()
    this.queue = undefined
    for (const watches of this.unschedulable.values()) for (const watch of watches.values()) watch.cancel()
    this.unschedulable.clear()
  }

  private observe(change: Change): void {
    if (change.key === DGD_KEY) {
      this.enqueue(`${change.namespace}/${change.name}`)
      return
    }
    if (change.key !== POD_KEY && change.key !== SERVICE_KEY) return
    for (const owner of change.object.metadata.ownerReferences ?? []) {
      if (owner.kind === KIND && owner.apiVersion.startsWith(`${GROUP}/`)) this.enqueue(`${change.namespace}/${owner.name}`)
    }
  }

  private enqueue(key: string): void {
    this.queue?.add(key)
  }

  private types(world: World): { dgd: ResourceType; pod: ResourceType; service: ResourceType } | undefined {
    const dgd = world.cluster.registry.find(GROUP, VERSION, "dynamographdeployments")
    const pod = world.cluster.registry.find("", "v1", "pods")
    const service = world.cluster.registry.find("", "v1", "services")
    return dgd === undefined || pod === undefined || service === undefined ? undefined : { dgd, pod, service }
  }

  private reconcile(world: World, key: string): void {
    const slash = key.indexOf("/")
    const namespace = key.slice(0, slash)
    const name = key.slice(slash + 1)
    const types = this.types(world)
    const dgd = world.cluster.store.get(DGD_KEY, namespace, name)
    if (types === undefined || dgd === undefined || dgd.metadata.deletionTimestamp !== undefined) {
      this.forgetUnschedulable(key, new Set())
      return
    }
    const owner: OwnerReference = { apiVersion: `${GROUP}/${VERSION}`, kind: KIND, name, uid: dgd.metadata.uid ?? "", controller: true, blockOwnerDeletion: true }
    const plans = this.plans(dgd)
    const pods = (world.cluster.store.list(POD_KEY, namespace) ?? []).filter((pod) => ownedBy(pod, dgd.metadata.uid))
    const live = pods.filter((pod) => !isTerminating(pod))
    const stuck = world.faults.stuckFinalizers.get(NAME)
    const random = world.random(NAME)

    for (const pod of live) {
      const plan = plans.find((candidate) => candidate.service === pod.metadata.labels?.[DynamoLabels.component])
      if (plan === undefined || pod.metadata.labels?.[POD_TEMPLATE_HASH] !== plan.hash) this.deletePod(world, types.pod, pod)
    }
    for (const plan of plans) {
      const current = live.filter((pod) => pod.metadata.labels?.[DynamoLabels.component] === plan.service && pod.metadata.labels[POD_TEMPLATE_HASH] === plan.hash)
      const active = current.filter((pod) => podPhase(pod) !== "Failed" && podPhase(pod) !== "Succeeded")
      const taken = new Set(pods.map((pod) => pod.metadata.name))
      for (let count = active.length; count < plan.replicas; count++) {
        let podName = ""
        do podName = `${plan.component}-${plan.hash}-${random.suffix(5)}`
        while (taken.has(podName))
        taken.add(podName)
        world.cluster.create(types.pod, namespace, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name: podName,
            namespace,
            labels: { ...plan.labels, [POD_TEMPLATE_HASH]: plan.hash },
            ...(Object.keys(plan.annotations).length === 0 ? {} : { annotations: { ...plan.annotations } }),
            ownerReferences: [{ ...owner }],
            ...(stuck === undefined ? {} : { finalizers: [stuck] })
          },
          spec: clone(plan.spec)
        })
      }
      const surplus = [...active].sort((a, b) => surplusRank(a) - surplusRank(b) || (b.metadata.name ?? "").localeCompare(a.metadata.name ?? ""))
      for (const pod of surplus.slice(0, Math.max(0, active.length - plan.replicas))) this.deletePod(world, types.pod, pod)
    }
    this.syncServices(world, types.service, dgd, owner, plans)
    this.writeStatus(world, types.dgd, key, dgd, plans, (world.cluster.store.list(POD_KEY, namespace) ?? []).filter((pod) => ownedBy(pod, dgd.metadata.uid)))
  }

  private deletePod(world: World, type: ResourceType, pod: KubeObject): void {
    try {
      world.cluster.delete(type, pod.metadata.namespace ?? "", pod.metadata.name ?? "")
    } catch (error) {
      if (!(error instanceof Errors.StatusError && error.code === 404)) throw error
    }
  }

  /** The services of a DGD in name order, each as the pod template its DynamoComponentDeployment's Deployment carries. */
  private plans(dgd: KubeObject): Array<ServicePlan> {
    const spec = record(dgd["spec"]) ?? {}
    const services = record(spec["services"]) ?? {}
    const dgdName = dgd.metadata.name ?? ""
    const namespace = dgd.metadata.namespace ?? ""
    const metricsDisabled = dgd.metadata.annotations?.["nvidia.com/enable-metrics"] === "false"
    return Object.keys(services)
      .sort()
      .map((service) => {
        const config = record(services[service]) ?? {}
        const componentType = text(config["componentType"]) ?? ""
        const component = `${dgdName}-${service.toLowerCase()}`
        const dynamoNamespace = text(config["dynamoNamespace"]) || `${namespace}-${dgdName}`
        const extraPodMetadata = record(config["extraPodMetadata"]) ?? {}
        const subComponentType = text(config["subComponentType"]) ?? ""
        const labels: Record<string, string> = {
          [DynamoLabels.component]: service,
          [DynamoLabels.namespace]: dynamoNamespace,
          [DynamoLabels.graphDeploymentName]: dgdName,
          ...(metricsDisabled ? {} : { [DynamoLabels.metricsEnabled]: "true" }),
          ...(componentType === "" ? {} : { [DynamoLabels.componentType]: componentType }),
          ...(subComponentType === "" ? {} : { [DynamoLabels.subComponentType]: subComponentType }),
          ...strings(config["labels"]),
          [DynamoLabels.selector]: component,
          ...strings(extraPodMetadata["labels"])
        }
        const annotations = { ...strings(config["annotations"]), ...strings(extraPodMetadata["annotations"]) }
        const podSpec = this.podSpec(dgd, config, componentType, dynamoNamespace)
        const replicas = typeof config["replicas"] === "number" ? config["replicas"] : 1
        return { service, component, componentType, replicas, dynamoNamespace, labels, annotations, spec: podSpec, hash: templateHash({ labels, annotations, spec: podSpec }) }
      })
  }

  /** GenerateBasePodSpec of internal/dynamo/graph.go for one service (single node; no backend-specific changes). */
  private podSpec(dgd: KubeObject, config: Json, componentType: string, dynamoNamespace: string): Json {
    const extraPodSpec = clone(record(config["extraPodSpec"]) ?? {})
    const main = record(extraPodSpec["mainContainer"]) ?? {}
    delete extraPodSpec["mainContainer"]

    const container: Json = { name: "main" }
    let env: Array<Json> = [
      { name: "DYN_NAMESPACE", value: dynamoNamespace },
      { name: "DYN_PARENT_DGD_K8S_NAME", value: dgd.metadata.name ?? "" },
      { name: "DYN_PARENT_DGD_K8S_NAMESPACE", value: dgd.metadata.namespace ?? "" }
    ]
    if (isFrontend(componentType)) {
      container["ports"] = [{ protocol: "TCP", name: "http", containerPort: FRONTEND_PORT }]
      container["resources"] = { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "1", memory: "2Gi" } }
      env.push({ name: "DYNAMO_PORT", value: String(FRONTEND_PORT) })
    } else if (isWorker(componentType)) {
      container["ports"] = [{ protocol: "TCP", name: "system", containerPort: SYSTEM_PORT }]
      env.push(
        { name: "DYN_SYSTEM_ENABLED", value: "true" },
        { name: "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", value: '["generate"]' },
        { name: "DYN_SYSTEM_PORT", value: String(SYSTEM_PORT) },
        { name: "DYN_HEALTH_CHECK_ENABLED", value: "false" }
      )
    }
    for (const [field, value] of Object.entries(main)) {
      if (field === "env" || value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0)) continue
      if (field === "resources") {
        const base = record(container["resources"]) ?? {}
        const overlay = record(value) ?? {}
        container["resources"] = { ...base, ...overlay, requests: { ...record(base["requests"]), ...record(overlay["requests"]) }, limits: { ...record(base["limits"]), ...record(overlay["limits"]) } }
      } else container[field] = clone(value)
    }
    env = mergeEnvs(env, records(main["env"]))
    env = mergeEnvs(env, mergeEnvs(records(record(dgd["spec"])?.["envs"]), records(config["envs"])))
    container["env"] = env

    for (const probe of ["livenessProbe", "readinessProbe"]) {
      if (record(config[probe]) !== undefined) container[probe] = clone(config[probe])
    }
    const resources = record(config["resources"])
    if (resources !== undefined) {
      const current = record(container["resources"]) ?? {}
      const requests = { ...record(current["requests"]), ...resourceList(resources["requests"]) }
      const limits = { ...record(current["limits"]), ...resourceList(resources["limits"]) }
      const claims = [...records(current["claims"]), ...records(resources["claims"]).map(clone)]
      container["resources"] = {
        ...current,
        ...(Object.keys(requests).length === 0 ? {} : { requests }),
        ...(Object.keys(limits).length === 0 ? {} : { limits }),
        ...(claims.length === 0 ? {} : { claims })
      }
    }
    const envFromSecret = text(config["envFromSecret"])
    if (envFromSecret !== undefined && envFromSecret !== "") container["envFrom"] = [...records(container["envFrom"]), { secretRef: { name: envFromSecret } }]

    const volumes: Array<Json> = []
    const mounts: Array<Json> = records(container["volumeMounts"])
    for (const volumeMount of records(config["volumeMounts"])) {
      const volumeName = text(volumeMount["name"]) ?? ""
      const mountPath = text(volumeMount["mountPoint"]) || (volumeMount["useAsCompilationCache"] === true ? "/root/.cache/vllm" : "")
      volumes.push({ name: volumeName, persistentVolumeClaim: { claimName: volumeName } })
      mounts.push({ name: volumeName, mountPath })
    }
    const sharedMemory = record(config["sharedMemory"])
    if (sharedMemory?.["disabled"] !== true) {
      const size = sharedMemory?.["size"]
      volumes.push({ name: "shared-memory", emptyDir: { medium: "Memory", sizeLimit: typeof size === "string" || typeof size === "number" ? size : "8Gi" } })
      mounts.push({ name: "shared-memory", mountPath: "/dev/shm" })
    }
    if (mounts.length > 0) container["volumeMounts"] = mounts

    const spec: Json = { ...extraPodSpec }
    if (record(extraPodSpec["securityContext"]) === undefined) spec["securityContext"] = { fsGroup: 1000 }
    spec["containers"] = [...records(extraPodSpec["containers"]), container]
    const allVolumes = [...records(extraPodSpec["volumes"]), ...volumes]
    if (allVolumes.length > 0) spec["volumes"] = allVolumes
    if (!text(spec["serviceAccountName"])) spec["serviceAccountName"] = componentType === "planner" ? "planner-serviceaccount" : "default"
    spec["restartPolicy"] = "Always"
    return spec
  }

  /** The Service of each frontend service (`<dgd>-<service>`, port `http` 8000), as the DynamoComponentDeployment makes it. */
  private syncServices(world: World, type: ResourceType, dgd: KubeObject, owner: OwnerReference, plans: ReadonlyArray<ServicePlan>): void {
    const namespace = dgd.metadata.namespace ?? ""
    const desired = plans.filter((plan) => isFrontend(plan.componentType))
    const existing = (world.cluster.store.list(SERVICE_KEY, namespace) ?? []).filter((service) => ownedBy(service, dgd.metadata.uid))
    for (const service of existing) {
      if (service.metadata.deletionTimestamp !== undefined || desired.some((plan) => plan.component === service.metadata.name)) continue
      try {
        world.cluster.delete(type, namespace, service.metadata.name ?? "")
      } catch (error) {
        if (!(error instanceof Errors.StatusError && error.code === 404)) throw error
      }
    }
    const stuck = world.faults.stuckFinalizers.get(NAME)
    for (const plan of desired) {
      const labels = { [DynamoLabels.component]: plan.service, [DynamoLabels.namespace]: plan.dynamoNamespace, [DynamoLabels.graphDeploymentName]: dgd.metadata.name ?? "" }
      const spec: Json = {
        type: "ClusterIP",
        selector: { [DynamoLabels.componentType]: plan.componentType, [DynamoLabels.namespace]: plan.dynamoNamespace },
        ports: [{ name: "http", port: FRONTEND_PORT, targetPort: "http", protocol: "TCP" }]
      }
      const current = existing.find((service) => service.metadata.name === plan.component)
      if (current === undefined) {
        if (world.cluster.store.get(SERVICE_KEY, namespace, plan.component) !== undefined) continue
        world.cluster.create(type, namespace, {
          apiVersion: "v1",
          kind: "Service",
          metadata: {
            name: plan.component,
            namespace,
            labels,
            ...(Object.keys(plan.annotations).length === 0 ? {} : { annotations: { ...plan.annotations } }),
            ownerReferences: [{ ...owner }],
            ...(stuck === undefined ? {} : { finalizers: [stuck] })
          },
          spec
        })
        continue
      }
      const currentSpec = record(current["spec"]) ?? {}
      if (stableJson(currentSpec["selector"]) === stableJson(spec["selector"]) && stableJson(currentSpec["ports"]) === stableJson(spec["ports"])) continue
      world.cluster.update(type, namespace, plan.component, { ...current, spec: { ...currentSpec, selector: spec["selector"], ports: spec["ports"] } })
    }
  }

  /** Whether `pod` has been unschedulable for the whole grace period (simulated time); starts its clock when first seen. */
  private unschedulableTooLong(world: World, key: string, pod: KubeObject): boolean {
    const uid = pod.metadata.uid ?? ""
    let watches = this.unschedulable.get(key)
    if (watches === undefined) {
      watches = new Map()
      this.unschedulable.set(key, watches)
    }
    const watch = watches.get(uid)
    if (watch !== undefined) return watch.expired
    const created: UnschedulableWatch = {
      expired: false,
      cancel: world.clock.after(this.graceMs, () => {
        created.expired = true
        this.enqueue(key)
      })
    }
    watches.set(uid, created)
    return false
  }

  private forgetUnschedulable(key: string, keep: ReadonlySet<string>): void {
    const watches = this.unschedulable.get(key)
    if (watches === undefined) return
    for (const [uid, watch] of watches) {
      if (keep.has(uid)) continue
      watch.cancel()
      watches.delete(uid)
    }
    if (watches.size === 0) this.unschedulable.delete(key)
  }

  private writeStatus(world: World, type: ResourceType, key: string, dgd: KubeObject, plans: ReadonlyArray<ServicePlan>, pods: ReadonlyArray<KubeObject>): void {
    const failures: Array<string> = []
    const notReady: Array<string> = []
    const seen = new Set<string>()
    for (const plan of plans) {
      const current = pods.filter((pod) => !isTerminating(pod) && pod.metadata.labels?.[DynamoLabels.component] === plan.service && pod.metadata.labels[POD_TEMPLATE_HASH] === plan.hash)
      for (const pod of current) {
        const podName = pod.metadata.name ?? ""
        if (podPhase(pod) === "Failed") {
          const status = record(pod["status"]) ?? {}
          const why = text(status["message"]) || text(status["reason"]) || "pod phase is Failed"
          failures.push(`${plan.component}: pod ${podName} failed: ${why}`)
        } else if (isUnschedulable(pod)) {
          seen.add(pod.metadata.uid ?? "")
          if (this.unschedulableTooLong(world, key, pod)) {
            const message = text(podCondition(pod, "PodScheduled")?.["message"]) ?? ""
            failures.push(`${plan.component}: pod ${podName} unschedulable for more than ${this.graceMs / 1000}s${message === "" ? "" : `: ${message}`}`)
          }
        }
      }
      const ready = current.filter((pod) => podPhase(pod) === "Running" && isReady(pod)).length
      if (ready < plan.replicas) notReady.push(`${plan.component}: Component deployment not ready - Available condition not true`)
    }
    this.forgetUnschedulable(key, seen)

    const [state, reason, message] =
      failures.length > 0
        ? ["failed", "some_resources_failed", `Resources failed: ${failures.join("; ")}`]
        : notReady.length > 0
          ? ["pending", "some_resources_are_not_ready", `Resources not ready: ${notReady.join("; ")}`]
          : ["successful", "all_resources_are_ready", "All resources are ready"]
    const status = record(dgd["status"]) ?? {}
    const conditions = records(status["conditions"])
    const previous = conditions.find((condition) => condition["type"] === "Ready")
    const readyStatus = state === "successful" ? "True" : "False"
    if (status["state"] === state && previous?.["status"] === readyStatus && previous["reason"] === reason && previous["message"] === message) return
    const condition = {
      type: "Ready",
      status: readyStatus,
      reason,
      message,
      lastTransitionTime: previous !== undefined && previous["status"] === readyStatus ? previous["lastTransitionTime"] : now()
    }
    const next = {
      ...status,
      state,
      conditions: previous === undefined ? [...conditions, condition] : conditions.map((existing) => (existing === previous ? condition : existing))
    }
    world.cluster.update(type, dgd.metadata.namespace ?? "", dgd.metadata.name ?? "", { ...dgd, status: next }, { subresource: "status" })
  }
}

/** A ReplicaSet scales down unscheduled, then pending, then not-ready pods first. */
const surplusRank = (pod: KubeObject): number => {
  const scheduled = record(pod["spec"])?.["nodeName"] !== undefined
  if (!scheduled) return 0
  if (podPhase(pod) === "Pending") return 1
  return isReady(pod) ? 3 : 2
}
