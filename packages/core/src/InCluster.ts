/**
 * The objects of the in-cluster runner (docs/adr/0005): the shared validation namespace, the run's input
 * ConfigMap (one key per check) and one Job per check running `aicr check <name>` from the validator image.
 * Pure builders; the orchestration that creates, watches and releases them is elsewhere.
 *
 * Details: names are per run (`aicr-input-<hash>`, `aicr-<check>-<hash>`), every object carries the run's labels and
 * upstream's validation labels. A Job never retries (`backoffLimit: 0`), stops at the check's timeout plus
 * {@link DEADLINE_HEADROOM_SECONDS} (so the check's own deadline fires first and its record survives), is
 * garbage-collected after {@link TTL_SECONDS}, prefers nodes without GPUs, tolerates every taint (the check's inner
 * workloads get `--node-selector` / `--toleration` through its input instead) and runs non-root on a read-only root
 * filesystem with `/tmp` as an `emptyDir`.
 */
import type { KubeObject } from "./KubeClient.ts"
import * as RunContext from "./RunContext.ts"

/** The validation namespace when neither `--namespace` nor `AICR_NAMESPACE` names one (upstream's). */
export const DEFAULT_NAMESPACE = "aicr-validation"

/** The API server's object size limit (etcd's request limit): a larger input ConfigMap is refused before anything is created. */
export const MAX_OBJECT_BYTES = 1024 * 1024

/** Seconds a Job may run beyond its check's timeout (upstream's `ValidatorJobDeadlineHeadroom`, 3m30s). */
export const DEADLINE_HEADROOM_SECONDS = 210

/** Seconds a finished Job is kept before the TTL controller removes it (upstream's one hour). */
export const TTL_SECONDS = 3600

/** Seconds from SIGTERM to SIGKILL: time for the check's releases (each bounded by its own timeout). */
export const TERMINATION_GRACE_SECONDS = 120

export const CONTAINER = "validator"
export const INPUT_MOUNT = "/data/input"
export const TERMINATION_LOG = "/dev/termination-log"

/** Upstream's labels of validation objects, plus ours. */
export const LABEL_NAME = "app.kubernetes.io/name"
export const LABEL_COMPONENT = "app.kubernetes.io/component"
export const LABEL_JOB_TYPE = "aicr.nvidia.com/job-type"
export const LABEL_PHASE = "aicr.nvidia.com/phase"

export interface Run {
  readonly runId: string
  /** The validation namespace. */
  readonly namespace: string
}

const hash = (run: Run) => RunContext.hashOf(run.runId)

const baseLabels = (run: Run): Record<string, string> => ({
  [LABEL_NAME]: "aicr",
  [LABEL_COMPONENT]: "validation",
  [RunContext.LABEL_MANAGED_BY]: "aicr",
  [RunContext.LABEL_RUN_ID]: run.runId
})

/** The shared validation namespace, created when absent and never deleted by a run (upstream's behaviour). */
export const namespace = (name: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, labels: { [LABEL_NAME]: "aicr", [LABEL_COMPONENT]: "validation", [RunContext.LABEL_MANAGED_BY]: "aicr" } }
})

/** The input ConfigMap's name and a check's key in it. */
export const inputName = (run: Run): string => `aicr-input-${hash(run)}`
export const inputKey = (check: string): string => `${check}.json`

/** The run's input ConfigMap: one `<check>.json` per check (the encoded CheckInput documents). */
export const inputConfigMap = (run: Run, inputs: Readonly<Record<string, string>>): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: inputName(run), namespace: run.namespace, labels: baseLabels(run) },
  data: Object.fromEntries(Object.entries(inputs).map(([check, text]) => [inputKey(check), text]))
})

/** The size the API server stores for a ConfigMap, close enough to refuse one over {@link MAX_OBJECT_BYTES}. */
export const sizeOf = (object: KubeObject): number => Buffer.byteLength(JSON.stringify(object), "utf8")

/** Why the input ConfigMap cannot be stored, naming the largest inputs; undefined when it fits. */
export const inputTooLarge = (configMap: KubeObject): string | undefined => {
  const size = sizeOf(configMap)
  if (size <= MAX_OBJECT_BYTES) return undefined
  const data = (configMap["data"] ?? {}) as Record<string, string>
  const largest = Object.entries(data)
    .map(([key, text]) => [key, Buffer.byteLength(text, "utf8")] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([key, bytes]) => `${key} ${bytes} bytes`)
  return `the checks' input (${size} bytes: ${largest.join(", ")}) exceeds the ${MAX_OBJECT_BYTES}-byte limit of a Kubernetes object; ` +
    "shrink the recipe (a resolved recipe with its constraints is usually a few KiB)"
}

/** The Job of a check: `aicr-<check>-<hash>`, the check name cut to fit 63 characters. */
export const jobName = (run: Run, check: string): string => RunContext.dnsName(check, hash(run))

/** What a check's Job needs besides the run. */
export interface JobInput {
  readonly check: string
  readonly phase: string
  /** The resolved validator image. */
  readonly image: string
  readonly pullPolicy: "Always" | "IfNotPresent"
  readonly timeoutMs: number
  readonly serviceAccount: string
  readonly imagePullSecrets: ReadonlyArray<string>
  /** `--node-selector` and `--toleration` as upstream's variables (informational: the input carries them). */
  readonly nodeSelector: Readonly<Record<string, string>>
  readonly tolerations: ReadonlyArray<RunContext.Toleration> | undefined
  /** Further environment for the check (its knobs, e.g. `AICR_NCCL_*`), after ours; ours win. */
  readonly env?: Readonly<Record<string, string>> | undefined
}

/** A duration as Go prints it for whole seconds: `1h5m0s`, `30m0s`, `45s`. */
export const goDuration = (ms: number): string => {
  const total = Math.max(0, Math.ceil(ms / 1000))
  const hours = Math.floor(total / 3600)
  const minutes = Math.floor((total % 3600) / 60)
  const seconds = total % 60
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`
  if (minutes > 0) return `${minutes}m${seconds}s`
  return `${seconds}s`
}

/** `--node-selector` as upstream's `AICR_NODE_SELECTOR`: `k=v,k2=v2`, sorted by key. */
export const formatNodeSelector = (selector: Readonly<Record<string, string>>): string =>
  Object.entries(selector).sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => `${key}=${value}`).join(",")

/** `--toleration` as upstream's `AICR_TOLERATIONS`: `key=value:Effect`, `key:Effect`, `*` for tolerate-all. */
export const formatTolerations = (tolerations: ReadonlyArray<RunContext.Toleration> | undefined): string =>
  (tolerations ?? [{ operator: "Exists" }]).map((toleration) => {
    if (toleration.key === undefined || toleration.key === "") return toleration.effect === undefined ? "*" : `:${toleration.effect}`
    const head = toleration.operator === "Equal" && toleration.value !== undefined ? `${toleration.key}=${toleration.value}` : toleration.key
    return toleration.effect === undefined ? head : `${head}:${toleration.effect}`
  }).join(",")

/** Names our own variables in the check's environment; a knob of the same name is dropped (trust boundary). */
export const RESERVED_ENV = new Set([
  "AICR_CHECK_INPUT",
  "AICR_VALIDATOR_NAME",
  "AICR_VALIDATOR_PHASE",
  RunContext.ENV_RUN_ID,
  "AICR_NAMESPACE",
  "AICR_CHECK_TIMEOUT",
  "AICR_NODE_SELECTOR",
  "AICR_TOLERATIONS",
  "AICR_TERMINATION_LOG",
  "AICR_STATE_DIR",
  "AICR_SERVICEACCOUNT_DIR",
  "HOME"
])

/** The check's Job. */
export const job = (run: Run, input: JobInput): KubeObject => {
  const labels = {
    ...baseLabels(run),
    [LABEL_JOB_TYPE]: "validation",
    [RunContext.LABEL_VALIDATOR]: input.check,
    [LABEL_PHASE]: input.phase
  }
  const env = [
    { name: "AICR_CHECK_INPUT", value: `${INPUT_MOUNT}/${inputKey(input.check)}` },
    { name: "AICR_VALIDATOR_NAME", value: input.check },
    { name: "AICR_VALIDATOR_PHASE", value: input.phase },
    { name: RunContext.ENV_RUN_ID, value: run.runId },
    { name: "AICR_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    { name: "AICR_CHECK_TIMEOUT", value: goDuration(input.timeoutMs) },
    { name: "AICR_NODE_SELECTOR", value: formatNodeSelector(input.nodeSelector) },
    { name: "AICR_TOLERATIONS", value: formatTolerations(input.tolerations) },
    { name: "AICR_TERMINATION_LOG", value: TERMINATION_LOG },
    { name: "AICR_STATE_DIR", value: "/tmp/aicr-state" },
    { name: "HOME", value: "/tmp" },
    ...Object.entries(input.env ?? {})
      .filter(([name]) => !RESERVED_ENV.has(name))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => ({ name, value }))
  ]
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: jobName(run, input.check), namespace: run.namespace, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: Math.ceil(input.timeoutMs / 1000) + DEADLINE_HEADROOM_SECONDS,
      ttlSecondsAfterFinished: TTL_SECONDS,
      template: {
        metadata: { labels: { [LABEL_NAME]: "aicr", [LABEL_COMPONENT]: "validation", [RunContext.LABEL_VALIDATOR]: input.check, [RunContext.LABEL_RUN_ID]: run.runId } },
        spec: {
          serviceAccountName: input.serviceAccount,
          automountServiceAccountToken: true,
          restartPolicy: "Never",
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          ...(input.imagePullSecrets.length === 0 ? {} : { imagePullSecrets: input.imagePullSecrets.map((name) => ({ name })) }),
          tolerations: [{ operator: "Exists" }],
          affinity: {
            nodeAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, preference: { matchExpressions: [{ key: "nvidia.com/gpu.present", operator: "DoesNotExist" }] } }
              ]
            }
          },
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
          containers: [{
            name: CONTAINER,
            image: input.image,
            imagePullPolicy: input.pullPolicy,
            args: [input.check],
            env,
            resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "1Gi" } },
            terminationMessagePath: TERMINATION_LOG,
            terminationMessagePolicy: "File",
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
            volumeMounts: [
              { name: "input", mountPath: INPUT_MOUNT, readOnly: true },
              { name: "tmp", mountPath: "/tmp" }
            ]
          }],
          volumes: [
            { name: "input", configMap: { name: inputName(run), items: [{ key: inputKey(input.check), path: inputKey(input.check) }] } },
            { name: "tmp", emptyDir: { sizeLimit: "256Mi" } }
          ]
        }
      }
    }
  }
}
