/**
 * The Kubernetes objects of one inference-perf run, as pure builders: the run namespace, copies of image pull
 * secrets, the GPU ResourceClaimTemplate, the `nvidia.com/v1alpha1` DynamoGraphDeployment (one frontend, one vLLM
 * worker replica per free GPU, all pinned to one node), the AIPerf Job, and the frontend endpoint with the request
 * that proves it serves. Nothing here talks to a cluster.
 *
 * The AIPerf Job lives in the run namespace (upstream puts it in the validator's namespace): deleting the namespace
 * removes everything the run made, the local runner has no validator namespace of its own, the copied pull secrets
 * and the frontend are next to it, and no object of the run outlives it.
 */
import type { KubeObject, ProxyRequest } from "@aicr/core/KubeClient"
import * as Dra from "@aicr/core/Dra"
import * as Image from "@aicr/core/Image"
import * as RunContext from "@aicr/core/RunContext"
import * as RunNamespace from "@aicr/core/RunNamespace"

// ---------------------------------------------------------------------------------------------------------------
// Names

export const DGD_API_VERSION = "nvidia.com/v1alpha1"
export const DGD_KIND = "DynamoGraphDeployment"

/** The DynamoGraphDeployment; a constant, as upstream: the namespace already makes it unique. */
export const DEPLOYMENT_NAME = "aicr-inference-perf"
export const CLAIM_TEMPLATE_NAME = "aicr-inference-gpu-claim"

/** The keys of `spec.services` (upstream's). */
export const FRONTEND_SERVICE = "Frontend"
export const WORKER_SERVICE = "VllmDecodeWorker"

/** The frontend's HTTP port, as the operator exposes it on the frontend Service. */
export const FRONTEND_PORT = 8000
export const FRONTEND_PORT_NAME = "http"

export const AIPERF_CONTAINER = "aiperf"

/** The container name the Dynamo operator gives every component's main container. */
export const MAIN_CONTAINER = "main"

/** Labels the Dynamo operator puts on the pods (and the frontend Service) of a DynamoGraphDeployment. */
export const DynamoLabels = {
  graphDeploymentName: "nvidia.com/dynamo-graph-deployment-name",
  component: "nvidia.com/dynamo-component",
  componentType: "nvidia.com/dynamo-component-type",
  namespace: "nvidia.com/dynamo-namespace"
} as const

/** Our own label on the pods of each component (set through `extraPodMetadata`), independent of the operator. */
export const ROLE_LABEL = "aicr.nvidia.com/inference-role"

export type Role = "frontend" | "worker"

export const LABEL_COMPONENT = "app.kubernetes.io/component"
export const LABEL_NAME = "app.kubernetes.io/name"
export const COMPONENT = "inference-perf"
export const HOSTNAME_LABEL = "kubernetes.io/hostname"

/** Grove (PodCliqueSet pods): the PodCliqueSet name plus a standalone PodClique name may not exceed 45 characters. */
export const GROVE_COMBINED_LIMIT = 45

/** DNS-1123 labels: names of Services, Jobs, namespaces, and label values. */
export const DNS_LABEL_LIMIT = 63

/** Every name a run uses, derived from its hash (8 hex digits). */
export interface Names {
  readonly namespace: string
  readonly deployment: string
  readonly claimTemplate: string
  readonly frontendService: string
  readonly aiperfJob: string
}

/** `<dgd>-<service lower-cased>`: the name the operator gives a service's component deployment and Service. */
export const componentName = (service: string): string => `${DEPLOYMENT_NAME}-${service.toLowerCase()}`

export const names = (hash: string): Names => ({
  namespace: RunContext.dnsName(COMPONENT, hash),
  deployment: DEPLOYMENT_NAME,
  claimTemplate: CLAIM_TEMPLATE_NAME,
  frontendService: componentName(FRONTEND_SERVICE),
  aiperfJob: RunContext.dnsName("aiperf", hash)
})

/** A generated name and the limit it must stay within. */
export interface NameBudget {
  readonly what: string
  readonly value: string
  readonly limit: number
}

/**
 * The names a run creates and those the operator derives from them, each with its limit: object names and label
 * values (63), the Dynamo namespace label `<namespace>-<dgd>` (63), Grove's `<dgd>` + `<service>` (45), and the
 * longest pod name of a component Deployment (`<dgd>-<service>-<10-char template hash>-<5>`, 63).
 */
export const nameBudgets = (run: Names): ReadonlyArray<NameBudget> => [
  { what: "run namespace", value: run.namespace, limit: DNS_LABEL_LIMIT },
  { what: "DynamoGraphDeployment", value: run.deployment, limit: DNS_LABEL_LIMIT },
  { what: "ResourceClaimTemplate", value: run.claimTemplate, limit: DNS_LABEL_LIMIT },
  { what: "AIPerf Job (job-name pod label)", value: run.aiperfJob, limit: DNS_LABEL_LIMIT },
  { what: "frontend Service", value: run.frontendService, limit: DNS_LABEL_LIMIT },
  { what: `label ${DynamoLabels.namespace}`, value: `${run.namespace}-${run.deployment}`, limit: DNS_LABEL_LIMIT },
  ...[FRONTEND_SERVICE, WORKER_SERVICE].flatMap((service) => [
    { what: `Grove PodCliqueSet + PodClique (${service})`, value: `${run.deployment}${service.toLowerCase()}`, limit: GROVE_COMBINED_LIMIT },
    { what: `component deployment pod (${service})`, value: `${componentName(service)}-xxxxxxxxxx-xxxxx`, limit: DNS_LABEL_LIMIT }
  ])
]

/** The budgets `names` break (empty when every name fits). */
export const overBudget = (run: Names): ReadonlyArray<NameBudget> =>
  nameBudgets(run).filter((budget) => budget.value.length > budget.limit)

// ---------------------------------------------------------------------------------------------------------------
// Inputs

/** What the builders need of the run: its hash and labels (a `RunContext` fits). */
export interface RunIdentity {
  readonly hash: string
  readonly labels: Readonly<Record<string, string>>
}

/** The node the workload is pinned to (a `Dra.NodeGpus` fits). */
export interface GpuNode {
  readonly name: string
  readonly labels?: Readonly<Record<string, string>> | undefined
  readonly taints: ReadonlyArray<Dra.Taint>
}

/** A resolved image; without a pull policy, `Image.pullPolicy` picks it. */
export interface ImageRef {
  readonly image: string
  readonly pullPolicy?: "Always" | "IfNotPresent" | "Never" | undefined
}

/** A container environment variable. */
export interface EnvVar {
  readonly name: string
  readonly value?: string | undefined
  readonly valueFrom?: Readonly<Record<string, unknown>> | undefined
}

/** Dynamo's frontend router modes (`DYN_ROUTER_MODE`), upstream's knob `AICR_INFERENCE_PERF_ROUTER_MODE`. */
export const ROUTER_MODES = ["kv", "round-robin", "random", "power-of-two", "least-loaded", "device-aware-weighted"] as const
export type RouterMode = (typeof ROUTER_MODES)[number]
export const DEFAULT_ROUTER_MODE: RouterMode = "least-loaded"

/** The routing mode these builders implement: Dynamo's own frontend router (no gateway, no EPP). */
export const ROUTING_MODE = "dynamo-router"

/**
 * How workers get their GPU: a DRA claim from the run's ResourceClaimTemplate, or the device plugin's
 * `nvidia.com/gpu` limit.
 */
export type GpuAllocation = "dra" | "device-plugin"

export interface Resources {
  readonly requests?: Readonly<Record<string, string>> | undefined
  readonly limits?: Readonly<Record<string, string>> | undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Scheduling

/** Taints a toleration is never mirrored for: the node lifecycle controller's own. */
export const SYSTEM_TAINT_PREFIX = "node.kubernetes.io/"

/**
 * The tolerations of the run's pods: the user's when given (verbatim, even tolerate-all), else one `Equal`
 * toleration per taint of the node, except the node lifecycle taints (`node.kubernetes.io/*`).
 */
export const tolerationsFor = (
  node: GpuNode,
  explicit: ReadonlyArray<RunContext.Toleration> | undefined
): ReadonlyArray<RunContext.Toleration> => {
  if (explicit !== undefined) return explicit.map(cleanToleration)
  const mirrored = node.taints
    .filter((taint) => !taint.key.startsWith(SYSTEM_TAINT_PREFIX))
    .map((taint): RunContext.Toleration => ({
      key: taint.key,
      operator: "Equal",
      value: taint.value,
      effect: taint.effect as RunContext.Toleration["effect"]
    }))
    .map(cleanToleration)
  const seen = new Set<string>()
  return mirrored.filter((toleration) => {
    const key = JSON.stringify(toleration)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

const cleanToleration = (toleration: RunContext.Toleration): RunContext.Toleration => ({
  ...(nonEmpty(toleration.key) ? { key: toleration.key } : {}),
  operator: toleration.operator,
  ...(nonEmpty(toleration.value) ? { value: toleration.value } : {}),
  ...(nonEmpty(toleration.effect) ? { effect: toleration.effect } : {})
})

const nonEmpty = (text: string | undefined): text is string => text !== undefined && text !== ""

/** The node selector every DGD pod gets: the node's `kubernetes.io/hostname` label (its name when absent). */
export const pinnedSelector = (node: GpuNode): Readonly<Record<string, string>> => ({
  [HOSTNAME_LABEL]: node.labels?.[HOSTNAME_LABEL] ?? node.name
})

const pullPolicyOf = (ref: ImageRef): string => ref.pullPolicy ?? Image.pullPolicy(ref.image, { tagForced: false })

const pullSecretRefs = (secrets: ReadonlyArray<string> | undefined) =>
  secrets === undefined || secrets.length === 0 ? {} : { imagePullSecrets: secrets.map((name) => ({ name })) }

const envList = (env: ReadonlyArray<EnvVar>) =>
  env.map((variable) => ({
    name: variable.name,
    ...(variable.valueFrom === undefined ? { value: variable.value ?? "" } : { valueFrom: variable.valueFrom })
  }))

// ---------------------------------------------------------------------------------------------------------------
// Namespace, pull secrets, claim template

/** The run namespace `aicr-inference-perf-<hash>`, with the run labels and `app.kubernetes.io/component`. */
export const namespace = (run: RunIdentity): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name: names(run.hash).namespace, labels: { ...run.labels, [LABEL_COMPONENT]: COMPONENT } }
})

/**
 * A copy of an image pull secret in the run namespace: same name, type and data, the run labels, nothing of the
 * source's server-set metadata, annotations or owners.
 */
export const pullSecretCopy = (source: KubeObject, run: RunIdentity): KubeObject =>
  RunNamespace.pullSecretCopy(source, names(run.hash).namespace, run.labels)

/** The ResourceClaimTemplate whose claims ask for one `gpu.nvidia.com` device (one per worker pod). */
export const claimTemplate = (run: RunIdentity): KubeObject =>
  Dra.resourceClaimTemplate({
    name: CLAIM_TEMPLATE_NAME,
    namespace: names(run.hash).namespace,
    count: 1,
    labels: run.labels
  })

// ---------------------------------------------------------------------------------------------------------------
// DynamoGraphDeployment

export interface DeploymentInput {
  readonly run: RunIdentity
  /** The node every pod is pinned to. */
  readonly node: GpuNode
  /** Worker replicas: the free GPUs of the node, one each. */
  readonly workers: number
  /** Hugging Face model ID served by the workers and asked for by clients. */
  readonly model: string
  readonly images: { readonly frontend: ImageRef; readonly worker: ImageRef }
  /** The user's `--toleration`s; undefined mirrors the node's taints. */
  readonly tolerations?: ReadonlyArray<RunContext.Toleration> | undefined
  readonly routerMode?: RouterMode | undefined
  readonly gpuAllocation?: GpuAllocation | undefined
  /** Names of pull secrets present in the run namespace. */
  readonly imagePullSecrets?: ReadonlyArray<string> | undefined
  /** Extra environment for every component (`spec.envs`), e.g. an HF token from a Secret. */
  readonly env?: ReadonlyArray<EnvVar> | undefined
}

/** Dynamo's runtime settings of upstream's template: in-memory discovery store, ZMQ event plane. */
const RUNTIME_ENV: ReadonlyArray<EnvVar> = [
  { name: "DYN_STORE_KV", value: "mem" },
  { name: "DYN_EVENT_PLANE", value: "zmq" }
]

/** The worker flag that publishes KV-cache events, which only the `kv` router consumes. */
export const KV_EVENTS_CONFIG = JSON.stringify({ enable_kv_cache_events: true, publisher: "zmq", endpoint: "tcp://*:5557" })

export const WORKER_SHARED_MEMORY = "2Gi"

const podMetadata = (run: RunIdentity, role: Role) => {
  const labels = { ...run.labels, [ROLE_LABEL]: role }
  return { labels, extraPodMetadata: { labels } }
}

/**
 * The `nvidia.com/v1alpha1` DynamoGraphDeployment `aicr-inference-perf`: service `Frontend` (componentType
 * `frontend`, one replica, `python3 -m dynamo.frontend`, `DYN_ROUTER_MODE`) and service `VllmDecodeWorker`
 * (componentType `worker`, one replica per GPU, `python3 -m dynamo.vllm --model <model>`, one GPU each), every pod
 * pinned to the node by hostname with the same tolerations and labelled with the run labels and `ROLE_LABEL`.
 *
 * Commands are `python3` with `-m <module>` in the args: the operator's own frontend default has that shape, and it
 * merges the main container over its default field by field, so a module in `command` would be run with the
 * default's `-m dynamo.frontend` appended.
 */
export const dynamoGraphDeployment = (input: DeploymentInput): KubeObject => {
  if (!Number.isInteger(input.workers) || input.workers < 1) {
    throw new RangeError(`the worker count must be a whole number >= 1, got ${input.workers}`)
  }
  const routerMode = input.routerMode ?? DEFAULT_ROUTER_MODE
  const tolerations = tolerationsFor(input.node, input.tolerations)
  const scheduling = {
    nodeSelector: pinnedSelector(input.node),
    ...(tolerations.length === 0 ? {} : { tolerations }),
    ...pullSecretRefs(input.imagePullSecrets)
  }
  const dra = (input.gpuAllocation ?? "dra") === "dra"
  return {
    apiVersion: DGD_API_VERSION,
    kind: DGD_KIND,
    metadata: { name: DEPLOYMENT_NAME, namespace: names(input.run.hash).namespace, labels: { ...input.run.labels } },
    spec: {
      backendFramework: "vllm",
      ...(input.env === undefined || input.env.length === 0 ? {} : { envs: envList(input.env) }),
      services: {
        [FRONTEND_SERVICE]: {
          componentType: "frontend",
          replicas: 1,
          ...podMetadata(input.run, "frontend"),
          envs: envList([
            { name: "SERVED_MODEL_NAME", value: input.model },
            { name: "DYN_ROUTER_MODE", value: routerMode },
            ...RUNTIME_ENV
          ]),
          extraPodSpec: {
            ...scheduling,
            mainContainer: {
              image: input.images.frontend.image,
              imagePullPolicy: pullPolicyOf(input.images.frontend),
              command: ["python3"],
              args: ["-m", "dynamo.frontend"]
            }
          }
        },
        [WORKER_SERVICE]: {
          componentType: "worker",
          replicas: input.workers,
          ...podMetadata(input.run, "worker"),
          envs: envList(RUNTIME_ENV),
          sharedMemory: { size: WORKER_SHARED_MEMORY },
          resources: dra ? { claims: [{ name: Dra.REQUEST_NAME }] } : { limits: { gpu: "1" } },
          extraPodSpec: {
            ...scheduling,
            ...(dra ? { resourceClaims: [{ name: Dra.REQUEST_NAME, resourceClaimTemplateName: CLAIM_TEMPLATE_NAME }] } : {}),
            mainContainer: {
              image: input.images.worker.image,
              imagePullPolicy: pullPolicyOf(input.images.worker),
              command: ["python3"],
              args: ["-m", "dynamo.vllm", "--model", input.model, ...(routerMode === "kv" ? ["--kv-events-config", KV_EVENTS_CONFIG] : [])]
            }
          }
        }
      }
    }
  }
}

/** The label selector of a component's pods in the run namespace (our label, set through `extraPodMetadata`). */
export const podSelector = (role: Role): Readonly<Record<string, string>> => ({ [ROLE_LABEL]: role })

/** The same pods as the Dynamo operator labels them (for clusters where the pod metadata was not propagated). */
export const operatorPodSelector = (role: Role): Readonly<Record<string, string>> => ({
  [DynamoLabels.graphDeploymentName]: DEPLOYMENT_NAME,
  [DynamoLabels.componentType]: role
})

// ---------------------------------------------------------------------------------------------------------------
// AIPerf Job

export interface AiperfJobInput {
  readonly run: RunIdentity
  readonly image: ImageRef
  /** The container command; the image's entrypoint when absent. */
  readonly command?: ReadonlyArray<string> | undefined
  readonly args: ReadonlyArray<string>
  readonly env?: ReadonlyArray<EnvVar> | undefined
  readonly activeDeadlineSeconds: number
  readonly ttlSecondsAfterFinished?: number | undefined
  /** The GPU node being benchmarked: the Job prefers any other node, CPU-only nodes first. */
  readonly gpuNode: GpuNode
  /** The user's `--toleration`s; undefined mirrors the GPU node's taints (so it may fall back to that node). */
  readonly tolerations?: ReadonlyArray<RunContext.Toleration> | undefined
  readonly imagePullSecrets?: ReadonlyArray<string> | undefined
  readonly resources?: Resources | undefined
}

export const AIPERF_TTL_SECONDS = 3600

/** The uid:gid of the aiperf-bench image (`USER 65532:65532`). */
export const AIPERF_USER = 65532

/**
 * Requests sized for a load generator at thousands of concurrent streams; a memory limit, and no CPU limit so that
 * throttling never shows up as latency.
 */
export const AIPERF_RESOURCES: Resources = {
  requests: { cpu: "2", memory: "4Gi" },
  limits: { memory: "16Gi" }
}

/** GPU Feature Discovery's label on GPU nodes. */
export const GPU_PRESENT_LABEL = "nvidia.com/gpu.present"

/** The labels of the AIPerf Job and its pod. */
export const aiperfLabels = (run: RunIdentity): Readonly<Record<string, string>> => ({
  ...run.labels,
  [LABEL_NAME]: "aicr-aiperf",
  [LABEL_COMPONENT]: COMPONENT
})

/**
 * The AIPerf Job `aicr-aiperf-<hash>` in the run namespace: one container `aiperf` running `args` (after `command`,
 * or the image's entrypoint), no retries, a deadline, non-root, no service account token, termination message from
 * `/dev/termination-log` (the log tail when the container fails without writing one).
 */
export const aiperfJob = (input: AiperfJobInput): KubeObject => {
  if (!Number.isInteger(input.activeDeadlineSeconds) || input.activeDeadlineSeconds < 1) {
    throw new RangeError(`activeDeadlineSeconds must be a whole number >= 1, got ${input.activeDeadlineSeconds}`)
  }
  const run = names(input.run.hash)
  const labels = aiperfLabels(input.run)
  const tolerations = tolerationsFor(input.gpuNode, input.tolerations)
  const env = input.env ?? []
  const resources = input.resources ?? AIPERF_RESOURCES
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: run.aiperfJob, namespace: run.namespace, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: input.activeDeadlineSeconds,
      ttlSecondsAfterFinished: input.ttlSecondsAfterFinished ?? AIPERF_TTL_SECONDS,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: AIPERF_USER,
            runAsGroup: AIPERF_USER,
            fsGroup: AIPERF_USER,
            seccompProfile: { type: "RuntimeDefault" }
          },
          affinity: {
            nodeAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, preference: { matchExpressions: [{ key: GPU_PRESENT_LABEL, operator: "DoesNotExist" }] } },
                {
                  weight: 50,
                  preference: {
                    matchExpressions: [{ key: HOSTNAME_LABEL, operator: "NotIn", values: [pinnedSelector(input.gpuNode)[HOSTNAME_LABEL]!] }]
                  }
                }
              ]
            }
          },
          ...(tolerations.length === 0 ? {} : { tolerations }),
          ...pullSecretRefs(input.imagePullSecrets),
          containers: [{
            name: AIPERF_CONTAINER,
            image: input.image.image,
            imagePullPolicy: pullPolicyOf(input.image),
            ...(input.command === undefined ? {} : { command: [...input.command] }),
            args: [...input.args],
            env: envList([
              ...(env.some((variable) => variable.name === "HOME") ? [] : [{ name: "HOME", value: "/tmp" }]),
              ...env
            ]),
            resources: {
              ...(resources.requests === undefined ? {} : { requests: { ...resources.requests } }),
              ...(resources.limits === undefined ? {} : { limits: { ...resources.limits } })
            },
            terminationMessagePolicy: "FallbackToLogsOnError",
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } }
          }]
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Endpoint

/** Where the frontend serves the OpenAI API: its Service (made by the operator) and the in-cluster URL. */
export interface FrontendEndpoint {
  readonly namespace: string
  readonly service: string
  readonly port: number
  readonly portName: string
  /** `http://<service>.<namespace>.svc:8000`, what the AIPerf Job's `--url` names. */
  readonly url: string
}

export const frontendEndpoint = (hash: string): FrontendEndpoint => {
  const run = names(hash)
  return {
    namespace: run.namespace,
    service: run.frontendService,
    port: FRONTEND_PORT,
    portName: FRONTEND_PORT_NAME,
    url: `http://${run.frontendService}.${run.namespace}.svc:${FRONTEND_PORT}`
  }
}

export const CHAT_COMPLETIONS_PATH = "/v1/chat/completions"

/** The probe body: one tiny chat completion, non-streaming, so a reply proves a worker generates tokens. */
export const readinessBody = (model: string) => ({
  model,
  messages: [{ role: "user", content: "hi" }],
  max_tokens: 4,
  stream: false
})

/** The probe as a request through the API server's service proxy. */
export const readinessRequest = (hash: string, model: string): ProxyRequest => {
  const endpoint = frontendEndpoint(hash)
  return {
    namespace: endpoint.namespace,
    service: endpoint.service,
    port: endpoint.port,
    path: CHAT_COMPLETIONS_PATH,
    method: "POST",
    json: readinessBody(model)
  }
}
