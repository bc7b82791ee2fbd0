/**
 * The Kubernetes objects of one nccl-all-reduce-bw run, as pure builders: the run namespace, the namespaced Kubeflow
 * Trainer `TrainingRuntime` (MPI policy; a JobSet of `node` workers running sshd and one `launcher` running
 * `mpirun … all_reduce_perf`) made from a platform template, the `TrainJob` that references it, the optional GPU
 * ResourceClaimTemplate, and the label selectors of the pods the Trainer derives. Nothing here talks to a cluster.
 *
 * Every object and pod template carries the run labels. The runtime lives in the run namespace next to its TrainJob
 * (upstream creates both in the validator's namespace under fixed names, so a killed run blocked the next): deleting
 * the namespace removes everything the run made. Workers are pinned to the picked nodes by name and each takes all
 * the GPUs of its node.
 *
 * The launcher's result: the log of container `node` of the launcher pod holds the whole nccl-tests output; when
 * mpirun exits 0 the launcher also writes the table rows and the `# Avg bus bandwidth` line (the last 3,900 bytes)
 * to its termination message, which survives log rotation; when it fails, the kubelet puts the log tail there
 * (`FallbackToLogsOnError`).
 */
import type { KubeObject } from "@aicr/core/KubeClient"
import * as Dra from "@aicr/core/Dra"
import * as Image from "@aicr/core/Image"
import * as RunContext from "@aicr/core/RunContext"
import type * as Platform from "./Platform.ts"

// ---------------------------------------------------------------------------------------------------------------
// Names

export const TRAINER_GROUP = "trainer.kubeflow.org"
export const TRAINER_API_VERSION = `${TRAINER_GROUP}/v1alpha1`
export const TRAINING_RUNTIME_KIND = "TrainingRuntime"
export const TRAINJOB_KIND = "TrainJob"

/** The TrainingRuntime and TrainJob (upstream's names; the run namespace makes them unique). */
export const RUNTIME_NAME = "nccl-all-reduce-runtime"
export const TRAINJOB_NAME = "nccl-all-reduce-tj"
export const CLAIM_TEMPLATE_NAME = "nccl-gpu-claim"

/** The replicatedJobs of the MPI runtime; `node` is also the container the Trainer's MPI plugin wires (SSH, hostfile). */
export const LAUNCHER = "launcher"
export const NODE = "node"
export const MAIN_CONTAINER = "node"
export const SSH_INIT_CONTAINER = "fix-ssh-perms"
export const TCPXO_CONTAINER = "tcpxo-daemon"

export const LABEL_COMPONENT = "app.kubernetes.io/component"
export const COMPONENT = "nccl-all-reduce-bw"

/** Our own label on the pods of each role (set in the runtime's pod templates), independent of the JobSet's. */
export const ROLE_LABEL = "aicr.nvidia.com/nccl-role"
export type Role = "launcher" | "worker"

export const FRAMEWORK_LABEL = "trainer.kubeflow.org/framework"

/** Labels the JobSet controller puts on the pods of a TrainJob (sigs.k8s.io/jobset api/jobset/v1alpha2). */
export const JobSetLabels = {
  jobSetName: "jobset.sigs.k8s.io/jobset-name",
  replicatedJobName: "jobset.sigs.k8s.io/replicatedjob-name",
  jobIndex: "jobset.sigs.k8s.io/job-index"
} as const

/** DNS-1123 labels (names of namespaces, Services, Jobs; hostnames; label values). */
export const DNS_LABEL_LIMIT = 63
/** DNS-1123 subdomains (names of Secrets, ConfigMaps, custom resources). */
export const DNS_SUBDOMAIN_LIMIT = 253

/** Every name a run uses, derived from its hash (8 hex digits). */
export interface Names {
  readonly namespace: string
  readonly runtime: string
  readonly trainJob: string
  readonly claimTemplate: string
}

export const names = (hash: string): Names => ({
  namespace: RunContext.dnsName("nccl", hash),
  runtime: RUNTIME_NAME,
  trainJob: TRAINJOB_NAME,
  claimTemplate: CLAIM_TEMPLATE_NAME
})

/** The hostname of pod `index` of a replicatedJob's only Job, as the JobSet sets it: `<trainjob>-<job>-0-<index>`. */
export const hostname = (trainJob: string, replicatedJob: string, index: number): string => `${trainJob}-${replicatedJob}-0-${index}`

/** A generated or derived name and the limit it must stay within. */
export interface NameBudget {
  readonly what: string
  readonly value: string
  readonly limit: number
}

/**
 * The names a run creates and those the Trainer, JobSet and Job controllers derive from them for `workers` workers,
 * each with its limit: the TrainJob (a CEL rule, and the JobSet and its headless Service), the Jobs
 * `<trainjob>-<job>-0` (the `job-name` label), the pod hostnames `<trainjob>-<job>-0-<index>`, the pod names with the
 * Job controller's 5-character suffix (kept within 63 as well), the MPI Secret and hostfile ConfigMap.
 */
export const nameBudgets = (run: Names, workers: number): ReadonlyArray<NameBudget> => {
  const last = Math.max(0, workers - 1)
  return [
    { what: "run namespace", value: run.namespace, limit: DNS_LABEL_LIMIT },
    { what: "TrainingRuntime", value: run.runtime, limit: DNS_SUBDOMAIN_LIMIT },
    { what: "TrainJob, JobSet and headless Service", value: run.trainJob, limit: DNS_LABEL_LIMIT },
    { what: "ResourceClaimTemplate", value: run.claimTemplate, limit: DNS_SUBDOMAIN_LIMIT },
    ...[LAUNCHER, NODE].flatMap((job) => {
      const index = job === LAUNCHER ? 0 : last
      return [
        { what: `Job (${job}, job-name label)`, value: `${run.trainJob}-${job}-0`, limit: DNS_LABEL_LIMIT },
        { what: `pod hostname (${job} ${index})`, value: hostname(run.trainJob, job, index), limit: DNS_LABEL_LIMIT },
        { what: `pod name (${job} ${index})`, value: `${hostname(run.trainJob, job, index)}-xxxxx`, limit: DNS_LABEL_LIMIT }
      ]
    }),
    { what: "MPI SSH Secret", value: `${run.trainJob}-mpi-ssh-auth`, limit: DNS_SUBDOMAIN_LIMIT },
    { what: "MPI hostfile ConfigMap", value: `${run.trainJob}-mpi-hostfile`, limit: DNS_SUBDOMAIN_LIMIT }
  ]
}

/** The budgets `names` break for `workers` workers (empty when every name fits). */
export const overBudget = (run: Names, workers: number): ReadonlyArray<NameBudget> =>
  nameBudgets(run, workers).filter((budget) => budget.value.length > budget.limit)

// ---------------------------------------------------------------------------------------------------------------
// Selectors

/** The launcher pod, as the JobSet labels it (upstream's selector). */
export const launcherPodSelector = (): Readonly<Record<string, string>> => ({
  [JobSetLabels.jobSetName]: TRAINJOB_NAME,
  [JobSetLabels.replicatedJobName]: LAUNCHER
})

/** The worker pods, as the JobSet labels them. */
export const workerPodSelector = (): Readonly<Record<string, string>> => ({
  [JobSetLabels.jobSetName]: TRAINJOB_NAME,
  [JobSetLabels.replicatedJobName]: NODE
})

/** Every pod of the check (our label, on every pod template); with a role, only that role's pods. */
export const podSelector = (role?: Role): Readonly<Record<string, string>> => ({
  [LABEL_COMPONENT]: COMPONENT,
  ...(role === undefined ? {} : { [ROLE_LABEL]: role })
})

// ---------------------------------------------------------------------------------------------------------------
// Inputs

/** What the builders need of the run: its hash and labels (a `RunContext` fits). */
export interface RunIdentity {
  readonly hash: string
  readonly labels: Readonly<Record<string, string>>
}

/** A picked GPU node (a `Dra.NodeGpus` fits). */
export interface GpuNode {
  readonly name: string
  readonly taints: ReadonlyArray<Dra.Taint>
}

/** The nccl-tests sweep: `-b`, `-e`, `-f`, `-n`, `-w` (sizes in bytes; nccl-tests reads K/M/G as powers of 1024). */
export interface Benchmark {
  readonly minBytes: number
  readonly maxBytes: number
  readonly stepFactor: number
  readonly iterations: number
  readonly warmupIterations: number
}

/** The catalog images of the check, by key (`RunInput.images` fits). */
export type Images = Readonly<Record<"runtime" | "runtime-gke", string>>

/** How workers get their GPUs: the device plugin's `nvidia.com/gpu`, or a DRA claim of the run's claim template. */
export type GpuAllocation = "device-plugin" | "dra"

/** GPUDirect-TCPXO's receive data path manager (upstream's pin). */
export const TCPXO_DAEMON_IMAGE = "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.20"

export interface RuntimeInput {
  readonly run: RunIdentity
  readonly template: Platform.Template
  /** The nodes the workers run on, one worker each. */
  readonly nodes: ReadonlyArray<GpuNode>
  /** GPUs of each node, all taken by its worker: MPI ranks per node. */
  readonly gpusPerNode: number
  readonly benchmark: Benchmark
  readonly images: Images
  /**
   * Replaces the image of the launcher, workers and their `fix-ssh-perms` init containers (never the TCPXO daemon);
   * it must keep the template image's layout (mpirun, nccl-tests and library paths, bash, sshd).
   */
  readonly runtimeImage?: string | undefined
  readonly tcpxoDaemonImage?: string | undefined
  /** The user's `--toleration`s; undefined mirrors the nodes' taints. */
  readonly tolerations?: ReadonlyArray<RunContext.Toleration> | undefined
  readonly gpuAllocation?: GpuAllocation | undefined
  /** Names of pull secrets present in the run namespace. */
  readonly imagePullSecrets?: ReadonlyArray<string> | undefined
  /** Deadline of the launcher and worker Jobs: GPUs are freed even if nothing deletes the run. */
  readonly activeDeadlineSeconds: number
}

export interface TrainJobInput {
  readonly run: RunIdentity
  /** Worker nodes (`spec.trainer.numNodes`). */
  readonly workers: number
}

const wholeAtLeast = (what: string, value: number, minimum: number) => {
  if (!Number.isInteger(value) || value < minimum) throw new RangeError(`${what} must be a whole number >= ${minimum}, got ${value}`)
}

// ---------------------------------------------------------------------------------------------------------------
// Scheduling

/** Taints a toleration is never mirrored for: the node lifecycle controller's own. */
export const SYSTEM_TAINT_PREFIX = "node.kubernetes.io/"

const nonEmpty = (text: string | undefined): text is string => text !== undefined && text !== ""

const cleanToleration = (toleration: RunContext.Toleration): RunContext.Toleration => ({
  ...(nonEmpty(toleration.key) ? { key: toleration.key } : {}),
  operator: toleration.operator,
  ...(nonEmpty(toleration.value) ? { value: toleration.value } : {}),
  ...(nonEmpty(toleration.effect) ? { effect: toleration.effect } : {})
})

/**
 * The tolerations of the run's pods: the user's when given (verbatim, even tolerate-all or none), else one `Equal`
 * toleration per distinct taint of the nodes, except the node lifecycle taints (`node.kubernetes.io/*`).
 */
export const tolerationsFor = (
  nodes: ReadonlyArray<GpuNode>,
  explicit: ReadonlyArray<RunContext.Toleration> | undefined
): ReadonlyArray<RunContext.Toleration> => {
  if (explicit !== undefined) return explicit.map(cleanToleration)
  const seen = new Set<string>()
  return nodes
    .flatMap((node) => node.taints)
    .filter((taint) => !taint.key.startsWith(SYSTEM_TAINT_PREFIX))
    .map((taint) => cleanToleration({ key: taint.key, operator: "Equal", value: taint.value, effect: taint.effect as RunContext.Toleration["effect"] }))
    .filter((toleration) => {
      const key = JSON.stringify(toleration)
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
}

/** Required node affinity that admits exactly the named nodes (`matchFields` on `metadata.name`). */
export const pinnedAffinity = (nodes: ReadonlyArray<GpuNode>) => ({
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: nodes.map((node) => node.name) }] }]
    }
  }
})

/** GPU Feature Discovery's label on GPU nodes: the launcher (no GPU) prefers nodes without it. */
export const GPU_PRESENT_LABEL = "nvidia.com/gpu.present"

const launcherAffinity = {
  nodeAffinity: {
    preferredDuringSchedulingIgnoredDuringExecution: [
      { weight: 100, preference: { matchExpressions: [{ key: GPU_PRESENT_LABEL, operator: "DoesNotExist" }] } }
    ]
  }
}

/**
 * How the workers can get `gpusPerNode` GPUs on every node: the device plugin when each advertises that many as
 * allocatable `nvidia.com/gpu` (upstream's way), else DRA when each has that many devices in ResourceSlices.
 */
export const gpuAllocationFor = (
  nodes: ReadonlyArray<Pick<Dra.NodeGpus, "allocatable" | "sliceDevices">>,
  gpusPerNode: number
): GpuAllocation | undefined => {
  if (nodes.every((node) => node.allocatable >= gpusPerNode)) return "device-plugin"
  if (nodes.every((node) => (node.sliceDevices ?? 0) >= gpusPerNode)) return "dra"
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// The nccl-tests command line

const GiB = 1024 ** 3
const MiB = 1024 ** 2
const KiB = 1024

/** A size as nccl-tests reads it: `16G`, `512M`, `1K` when a whole number of those, else bytes. */
export const formatSize = (bytes: number): string => {
  for (const [unit, size] of [["G", GiB], ["M", MiB], ["K", KiB]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  }
  return String(bytes)
}

/** The sweep the launcher runs: the inputs with the template's size cap applied (the smallest size never above it). */
export const effectiveBenchmark = (benchmark: Benchmark, template: Pick<Platform.Template, "maxBytesCap">): Benchmark => {
  wholeAtLeast("minBytes", benchmark.minBytes, 1)
  wholeAtLeast("maxBytes", benchmark.maxBytes, benchmark.minBytes)
  wholeAtLeast("stepFactor", benchmark.stepFactor, 2)
  wholeAtLeast("iterations", benchmark.iterations, 1)
  wholeAtLeast("warmupIterations", benchmark.warmupIterations, 0)
  const maxBytes = template.maxBytesCap === undefined ? benchmark.maxBytes : Math.min(benchmark.maxBytes, template.maxBytesCap)
  return { ...benchmark, maxBytes, minBytes: Math.min(benchmark.minBytes, maxBytes) }
}

/** The `all_reduce_perf` arguments: one GPU per rank (`-g 1`), the sweep, iterations and warm-up. */
export const allReducePerfArgs = (benchmark: Benchmark): ReadonlyArray<string> => [
  "-b",
  formatSize(benchmark.minBytes),
  "-e",
  formatSize(benchmark.maxBytes),
  "-f",
  String(benchmark.stepFactor),
  "-g",
  "1",
  "-n",
  String(benchmark.iterations),
  "-w",
  String(benchmark.warmupIterations)
]

/** ssh options of mpirun: no host key prompts, and about ten minutes of retries while workers come up. */
export const SSH_ARGS = "-o StrictHostKeyChecking=no -o ConnectTimeout=10 -o ConnectionAttempts=60"

const HPC_MPIRUN = "/opt/amazon/openmpi/bin/mpirun"
const HPC_ALL_REDUCE = "/opt/nccl-tests/build/all_reduce_perf"
const HPC_PATH = "/opt/amazon/openmpi/bin:/opt/amazon/efa/bin"
const HPC_LIBRARY_PATH = "/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu:/opt/amazon/efa/lib:/opt/amazon/openmpi/lib:/opt/nccl/build/lib:/usr/local/nvidia/lib"
const NGC_MPIRUN = "/usr/local/mpi/bin/mpirun"
const NGC_ALL_REDUCE = "/usr/local/bin/all_reduce_perf_mpi"
const GKE_LIBRARY_PATH = "/usr/lib/x86_64-linux-gnu:/usr/local/nvidia/lib64"

/** OpenMPI over plain TCP on the pod network (no libfabric probing) and NCCL without any net plugin. */
const TCP_MPI = ["--mca", "pml", "ob1", "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "eth0", "--mca", "oob_tcp_if_include", "eth0"]

/** mpirun of the HPC nccl-tests image: EFA through libfabric, or plain TCP sockets with no NCCL net plugin. */
const hpcMpirunWords = (common: ReadonlyArray<string>, fabric: "efa" | "tcp"): ReadonlyArray<string> => [
  HPC_MPIRUN,
  ...common,
  "--bind-to",
  "none",
  "--mca",
  "plm_rsh_agent",
  "ssh",
  "--mca",
  "plm_rsh_args",
  SSH_ARGS,
  ...(fabric === "tcp" ? TCP_MPI : []),
  "-x",
  "LD_LIBRARY_PATH",
  "-x",
  "PATH",
  "-x",
  "NCCL_DEBUG=WARN",
  ...(fabric === "efa"
    ? ["-x", "FI_PROVIDER=efa", "-x", "FI_EFA_USE_DEVICE_RDMA=1", "-x", "FI_EFA_FORK_SAFE=1"]
    : ["-x", "NCCL_NET_PLUGIN=none"]),
  "-x",
  "NCCL_SOCKET_IFNAME=eth0",
  "-x",
  "NCCL_IGNORE_DISABLED_P2P=1",
  HPC_ALL_REDUCE
]

/** The mpirun command line of a template (before the nccl-tests arguments); the generic template is EKS's TCP one. */
const mpirunWords = (template: Platform.Template, ranks: number): ReadonlyArray<string> => {
  const common = ["-np", String(ranks), "--allow-run-as-root"]
  switch (template.kind) {
    case "eks":
      return hpcMpirunWords(common, template.fabric)
    case "gke":
      return [
        NGC_MPIRUN,
        ...common,
        "--mca",
        "plm_rsh_args",
        SSH_ARGS,
        "--mca",
        "oob_tcp_if_include",
        "eth0",
        "--mca",
        "btl_tcp_if_include",
        "eth0",
        "-x",
        "UCX_NET_DEVICES=eth0",
        "-x",
        `LD_LIBRARY_PATH=${GKE_LIBRARY_PATH}`,
        "-x",
        "NCCL_DEBUG=WARN",
        "-x",
        "NCCL_FASTRAK_LLCM_DEVICE_DIRECTORY=/dev/aperture_devices",
        "-x",
        "NCCL_DYNAMIC_CHUNK_SIZE=524288",
        "-x",
        "CUDA_DEVICE_MAX_CONNECTIONS=1",
        NGC_ALL_REDUCE
      ]
    case "generic":
      return hpcMpirunWords(common, "tcp")
  }
}

/** POSIX shell quoting: plain words stay, anything else is single-quoted. */
export const shellQuote = (word: string): string => (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`)

/** Where the launcher keeps the full output while it runs (for the termination message). */
export const RESULTS_FILE = "/tmp/nccl-tests.out"

/** The bytes of result rows the launcher writes to its termination message (the kubelet keeps at most 4,096). */
export const TERMINATION_MESSAGE_BYTES = 3900

/** nccl-tests table rows (size, count, type…) and the average line: what the termination message keeps. */
export const RESULT_LINES = "^[[:space:]]*[0-9]+[[:space:]]+[0-9]+[[:space:]]+[[:alpha:]]+|Avg bus bandwidth"

/**
 * The launcher's script: mpirun with the nccl-tests arguments, its output to the log and a file; on success the
 * table rows and the average (last 3,900 bytes) go to `/dev/termination-log`; the exit status is mpirun's.
 */
export const launcherScript = (template: Platform.Template, ranks: number, benchmark: Benchmark): string => {
  const command = [...mpirunWords(template, ranks), ...allReducePerfArgs(benchmark)].map(shellQuote).join(" ")
  return [
    "set -o pipefail",
    ...(template.kind === "gke" ? [] : [`export PATH="${HPC_PATH}:$PATH"`]),
    `${command} 2>&1 | tee ${RESULTS_FILE}`,
    "rc=$?",
    "if [ \"$rc\" -eq 0 ]; then",
    `  grep -E '${RESULT_LINES}' ${RESULTS_FILE} | tail -c ${TERMINATION_MESSAGE_BYTES} > /dev/termination-log || true`,
    "fi",
    "exit \"$rc\"",
    ""
  ].join("\n")
}

/** Worker sshd; on GKE, installed when the image lacks it, with NCCL's TCPXO settings from the host's profile. */
const workerScript = (template: Platform.Template): string =>
  template.kind === "gke"
    ? [
      "set -e",
      "if [ ! -x /usr/sbin/sshd ]; then",
      "  apt-get update -qq",
      "  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server",
      "fi",
      "mkdir -p /run/sshd",
      "NCCL_LIB_DIR=/usr/local/nvidia/lib64 . /usr/local/nvidia/lib64/nccl-env-profile.sh",
      "env | grep -E '^(NCCL_|CUDA_)' > /root/.ssh/environment || true",
      "chmod 600 /root/.ssh/environment",
      "echo 'PermitUserEnvironment yes' >> /etc/ssh/sshd_config",
      "exec /usr/sbin/sshd -De",
      ""
    ].join("\n")
    : "mkdir -p /run/sshd\nexec /usr/sbin/sshd -De\n"

/** Where the Trainer mounts the SSH Secret (`mlPolicy.mpi.sshAuthMountPath`); copied to `/root/.ssh` with ssh's modes. */
export const SSH_AUTH_MOUNT_PATH = "/tmp/mpi-keys"
export const SSH_DIR = "/root/.ssh"
const SSH_AUTH_VOLUME = "mpi-ssh-auth"
const SSH_DIR_VOLUME = "ssh-config"

const sshInitScript = (role: Role) => {
  const files = role === "launcher" ? ["id_rsa", "authorized_keys"] : ["authorized_keys"]
  return [
    "set -e",
    `cp ${files.map((file) => `${SSH_AUTH_MOUNT_PATH}/${file}`).join(" ")} ${SSH_DIR}/`,
    `chmod 700 ${SSH_DIR}`,
    `chmod 600 ${files.map((file) => `${SSH_DIR}/${file}`).join(" ")}`,
    ""
  ].join("\n")
}

// ---------------------------------------------------------------------------------------------------------------
// GKE GPUDirect-TCPXO

/** `networking.gke.io/interfaces`: eth0 on `default`, then eth1… on each GPU NIC network. */
export const gkeInterfaces = (networks: ReadonlyArray<string>): string =>
  JSON.stringify([
    { interfaceName: "eth0", network: "default" },
    ...networks.map((network, index) => ({ interfaceName: `eth${index + 1}`, network }))
  ])

/** The devices GKE's NRI injects into the TCPXO daemon: every GPU, the control and UVM devices, the dma-buf helper. */
export const tcpxoDevices = (gpusPerNode: number): string =>
  [
    ...Array.from({ length: gpusPerNode }, (_, index) => `/dev/nvidia${index}`),
    "/dev/nvidiactl",
    "/dev/nvidia-uvm",
    "/dev/dmabuf_import_helper"
  ].map((path) => `- path: ${path}\n`).join("")

const gkeAnnotations = (template: Platform.GkeTemplate, gpusPerNode: number) => ({
  "networking.gke.io/default-interface": "eth0",
  "networking.gke.io/interfaces": gkeInterfaces(template.gpuNicNetworks),
  [`devices.gke.io/container.${TCPXO_CONTAINER}`]: tcpxoDevices(gpusPerNode)
})

const GKE_VOLUMES = [
  { name: "nvidia-install-dir-host", hostPath: { path: "/home/kubernetes/bin/nvidia" } },
  { name: "sys", hostPath: { path: "/sys" } },
  { name: "proc-sys", hostPath: { path: "/proc/sys" } },
  { name: "aperture-devices", hostPath: { path: "/dev/aperture_devices" } }
]

/**
 * The receive data path manager of GPUDirect-TCPXO: a regular container of the worker, as in GKE's own a3-mega
 * examples (upstream uses a native sidecar, an init container with `restartPolicy: Always`; either starts before the
 * launcher, which waits for the workers to be Ready).
 */
const tcpxoDaemon = (image: string, nics: number) => ({
  name: TCPXO_CONTAINER,
  image,
  imagePullPolicy: Image.pullPolicy(image, { tagForced: false }),
  command: ["/fts/entrypoint_rxdm_container.sh", "--num_hops=2", "--num_nics", String(nics)],
  env: [{ name: "LD_LIBRARY_PATH", value: "/usr/local/nvidia/lib64" }],
  securityContext: { capabilities: { add: ["NET_ADMIN", "NET_BIND_SERVICE"] } },
  volumeMounts: [
    { name: "nvidia-install-dir-host", mountPath: "/usr/local/nvidia", readOnly: true },
    { name: "sys", mountPath: "/hostsysfs" },
    { name: "proc-sys", mountPath: "/hostprocsysfs" }
  ]
})

// ---------------------------------------------------------------------------------------------------------------
// Namespace, claim template

/** The run namespace `aicr-nccl-<hash>`, with the run labels and `app.kubernetes.io/component`. */
export const namespace = (run: RunIdentity): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name: names(run.hash).namespace, labels: { ...run.labels, [LABEL_COMPONENT]: COMPONENT } }
})

/** The ResourceClaimTemplate whose claims ask for `gpusPerNode` `gpu.nvidia.com` devices (one claim per worker). */
export const claimTemplate = (run: RunIdentity, gpusPerNode: number): KubeObject => {
  wholeAtLeast("gpusPerNode", gpusPerNode, 1)
  return Dra.resourceClaimTemplate({ name: CLAIM_TEMPLATE_NAME, namespace: names(run.hash).namespace, count: gpusPerNode, labels: run.labels })
}

// ---------------------------------------------------------------------------------------------------------------
// TrainingRuntime

const objectLabels = (run: RunIdentity) => ({ ...run.labels, [LABEL_COMPONENT]: COMPONENT })
const podLabels = (run: RunIdentity, role: Role) => ({ ...objectLabels(run), [ROLE_LABEL]: role })

const pullSecretRefs = (secrets: ReadonlyArray<string> | undefined) =>
  secrets === undefined || secrets.length === 0 ? {} : { imagePullSecrets: secrets.map((name) => ({ name })) }

const sshInit = (image: string, role: Role) => ({
  name: SSH_INIT_CONTAINER,
  image,
  imagePullPolicy: Image.pullPolicy(image, { tagForced: false }),
  command: ["/bin/sh", "-c", sshInitScript(role)],
  volumeMounts: [
    { name: SSH_AUTH_VOLUME, mountPath: SSH_AUTH_MOUNT_PATH, readOnly: true },
    { name: SSH_DIR_VOLUME, mountPath: SSH_DIR }
  ]
})

/** The launcher's requests and limits: mpirun and the ssh sessions to the workers, no GPU. */
export const LAUNCHER_RESOURCES = { requests: { cpu: "500m", memory: "256Mi" }, limits: { cpu: "2", memory: "512Mi" } }

/**
 * The namespaced `trainer.kubeflow.org/v1alpha1` TrainingRuntime `nccl-all-reduce-runtime` for the template.
 *
 * Details: MPI policy (OpenMPI, `numProcPerNode` = GPUs per node, launcher runs no rank, SSH keys mounted at
 * `/tmp/mpi-keys`); a JobSet with DNS hostnames of `node` workers first (sshd, ready on port 22, all the node's
 * GPUs, `IPC_LOCK`, `/dev/shm` in memory, pinned to the nodes by name, the template's node selector, EFA adapters
 * on EKS, the TCPXO daemon and GPU NIC annotations on GKE) and the `launcher` after them once they are Ready
 * (`dependsOn`); the JobSet succeeds when the launcher does. Jobs never retry (`backoffLimit: 0`, `restartPolicy:
 * Never`) and stop at `activeDeadlineSeconds`.
 */
export const trainingRuntime = (input: RuntimeInput): KubeObject => {
  wholeAtLeast("gpusPerNode", input.gpusPerNode, 1)
  wholeAtLeast("activeDeadlineSeconds", input.activeDeadlineSeconds, 1)
  if (input.nodes.length === 0) throw new RangeError("the runtime needs at least one worker node")
  const { template, run } = input
  const image = input.runtimeImage ?? input.images[template.imageKey]
  const pullPolicy = Image.pullPolicy(image, { tagForced: false })
  const benchmark = effectiveBenchmark(input.benchmark, template)
  const ranks = input.nodes.length * input.gpusPerNode
  const tolerations = tolerationsFor(input.nodes, input.tolerations)
  const scheduling = {
    ...(tolerations.length === 0 ? {} : { tolerations }),
    ...pullSecretRefs(input.imagePullSecrets),
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    restartPolicy: "Never"
  }
  const dra = (input.gpuAllocation ?? "device-plugin") === "dra"
  const gpus = String(input.gpusPerNode)
  const efa = template.kind === "eks" && template.efaPerNode > 0 ? { "vpc.amazonaws.com/efa": String(template.efaPerNode) } : {}
  const deviceResources = { ...(dra ? {} : { "nvidia.com/gpu": gpus }), ...efa }
  const workerResources = {
    ...(Object.keys(deviceResources).length === 0 ? {} : { requests: { ...deviceResources }, limits: { ...deviceResources } }),
    ...(dra ? { claims: [{ name: Dra.REQUEST_NAME }] } : {})
  }
  const gke = template.kind === "gke" ? template : undefined

  const worker = {
    name: MAIN_CONTAINER,
    image,
    imagePullPolicy: pullPolicy,
    command: ["/bin/bash", "-c", workerScript(template)],
    ports: [{ name: "ssh", containerPort: 22, protocol: "TCP" }],
    readinessProbe: { tcpSocket: { port: 22 }, periodSeconds: 5, failureThreshold: 3 },
    resources: workerResources,
    securityContext: { capabilities: { add: ["IPC_LOCK"] } },
    volumeMounts: [
      { name: SSH_DIR_VOLUME, mountPath: SSH_DIR },
      { name: "dshm", mountPath: "/dev/shm" },
      ...(gke === undefined ? [] : [{ name: "aperture-devices", mountPath: "/dev/aperture_devices" }])
    ]
  }

  const launcher = {
    name: MAIN_CONTAINER,
    image,
    imagePullPolicy: pullPolicy,
    command: ["/bin/bash", "-c", launcherScript(template, ranks, benchmark)],
    ...(template.kind === "gke" ? {} : { env: [{ name: "LD_LIBRARY_PATH", value: HPC_LIBRARY_PATH }] }),
    resources: LAUNCHER_RESOURCES,
    terminationMessagePolicy: "FallbackToLogsOnError",
    volumeMounts: [{ name: SSH_DIR_VOLUME, mountPath: SSH_DIR }]
  }

  const job = (name: string, role: Role, podSpec: Record<string, unknown>, annotations?: Record<string, string>) => ({
    name,
    replicas: 1,
    ...(role === "launcher" ? { dependsOn: [{ name: NODE, status: "Ready" }] } : {}),
    template: {
      metadata: { labels: objectLabels(run) },
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: input.activeDeadlineSeconds,
        template: {
          metadata: { labels: podLabels(run, role), ...(annotations === undefined ? {} : { annotations }) },
          spec: podSpec
        }
      }
    }
  })

  return {
    apiVersion: TRAINER_API_VERSION,
    kind: TRAINING_RUNTIME_KIND,
    metadata: {
      name: RUNTIME_NAME,
      namespace: names(run.hash).namespace,
      labels: { ...objectLabels(run), [FRAMEWORK_LABEL]: "mpi" }
    },
    spec: {
      mlPolicy: {
        mpi: {
          mpiImplementation: "OpenMPI",
          numProcPerNode: input.gpusPerNode,
          runLauncherAsNode: false,
          sshAuthMountPath: SSH_AUTH_MOUNT_PATH
        }
      },
      template: {
        metadata: { labels: objectLabels(run) },
        spec: {
          network: { enableDNSHostnames: true, publishNotReadyAddresses: true },
          successPolicy: { operator: "All", targetReplicatedJobs: [LAUNCHER] },
          replicatedJobs: [
            job(NODE, "worker", {
              ...scheduling,
              affinity: pinnedAffinity(input.nodes),
              ...(Object.keys(template.nodeSelector).length === 0 ? {} : { nodeSelector: { ...template.nodeSelector } }),
              initContainers: [sshInit(image, "worker")],
              containers: [
                worker,
                ...(gke === undefined ? [] : [tcpxoDaemon(input.tcpxoDaemonImage ?? TCPXO_DAEMON_IMAGE, gke.gpuNicNetworks.length)])
              ],
              ...(dra ? { resourceClaims: [{ name: Dra.REQUEST_NAME, resourceClaimTemplateName: CLAIM_TEMPLATE_NAME }] } : {}),
              volumes: [
                { name: SSH_DIR_VOLUME, emptyDir: {} },
                { name: "dshm", emptyDir: { medium: "Memory" } },
                ...(gke === undefined ? [] : GKE_VOLUMES)
              ]
            }, gke === undefined ? undefined : gkeAnnotations(gke, input.gpusPerNode)),
            job(LAUNCHER, "launcher", {
              ...scheduling,
              affinity: launcherAffinity,
              initContainers: [sshInit(image, "launcher")],
              containers: [launcher],
              volumes: [{ name: SSH_DIR_VOLUME, emptyDir: {} }]
            })
          ]
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// TrainJob

/**
 * The `trainer.kubeflow.org/v1alpha1` TrainJob `nccl-all-reduce-tj`: the namespaced runtime (its `kind` must be
 * given: the CRD defaults to `ClusterTrainingRuntime`) and the worker count. Valid for Trainer v2.1 and v2.2.
 */
export const trainJob = (input: TrainJobInput): KubeObject => {
  wholeAtLeast("workers", input.workers, 1)
  return {
    apiVersion: TRAINER_API_VERSION,
    kind: TRAINJOB_KIND,
    metadata: { name: TRAINJOB_NAME, namespace: names(input.run.hash).namespace, labels: objectLabels(input.run) },
    spec: {
      runtimeRef: { name: RUNTIME_NAME, apiGroup: TRAINER_GROUP, kind: TRAINING_RUNTIME_KIND },
      trainer: { numNodes: input.workers }
    }
  }
}
