/**
 * The shared vocabulary of the simulated cluster's behaviour (part 3): the profile a cluster is built from, seeded
 * randomness, the clock of simulated durations, the controllers that react to stored objects, and the workload
 * emulators the kubelet runs in place of container images.
 */
import type { Cluster } from "./cluster.ts"
import type { Logs } from "./logs.ts"
import type { ProxyHandler } from "./server.ts"
import type { KubeObject } from "./types.ts"

// ---------------------------------------------------------------------------------------------------------------
// Profiles

export interface Taint {
  key: string
  value?: string
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute"
}

/** One machine type: what a node of this shape has and carries. */
export interface NodeShape {
  /** `node.kubernetes.io/instance-type`, e.g. `p5.48xlarge`, `a3-megagpu-8g`. */
  instanceType: string
  cpu: string
  memory: string
  pods: number
  /** Absent for CPU-only shapes. */
  gpu?: {
    product: string
    count: number
    memoryMiB: number
    /** `nvidia.com/gpu.family` etc. and DRA device attributes come from here. */
    architecture: string
    computeCapability: string
    driverVersion: string
    cudaVersion: string
  }
  /** `vpc.amazonaws.com/efa` count (EKS). */
  efa?: number
  /** GPU NIC networks on GKE (a3-megagpu: 8), named `gpu-nic-0`…; absent elsewhere. */
  gpuNics?: number
  labels: Record<string, string>
  taints: Array<Taint>
}

export interface NodePool {
  name: string
  shape: string
  count: number
  /** Node names are `<prefix>-<index>` (index from 1); default: the pool name. */
  namePrefix?: string
  /** Zone label for this pool; `topology.kubernetes.io/zone`. */
  zone?: string
}

export type Component = "dynamo" | "kubeflow-trainer" | "dra-driver" | "gpu-operator"

/** Throughput and latency of Dynamo + vLLM serving, anchored to a published measurement. */
export interface InferenceModel {
  /** The anchor: `outputTokensPerSecond` and `ttftP99Ms` measured for `model` with `gpus` workers at `concurrencyPerGpu`. */
  anchor: { model: string; gpus: number; concurrencyPerGpu: number; outputTokensPerSecond: number; ttftP99Ms: number }
  /** Relative standard deviation of run-to-run noise (0.01 = 1 %). */
  noise: number
  /** Simulated seconds for a worker to load the model and become Ready. */
  modelLoadSeconds: number
  /** Simulated seconds after all workers are Ready until the frontend answers completions (503/empty before). */
  warmupSeconds: number
  /** Simulated seconds an AIPerf run takes. */
  benchmarkSeconds: number
  sources: Array<string>
}

/** Bus bandwidth of NCCL all-reduce, anchored to published runs. */
export interface NcclModel {
  fabric: "efa" | "tcpxo" | "tcp" | "nvlink-only"
  /** Asymptotic bus bandwidth (GB/s) for large messages across nodes, with the message size it was measured at. */
  interNode: { busBandwidthGBps: number; atBytes: number; nodes: number }
  /** Asymptotic bus bandwidth (GB/s) within one node (NVLink), all GPUs of the node. */
  intraNode: { busBandwidthGBps: number; atBytes: number }
  /** Bus bandwidth over plain TCP when a node has no fabric adapters (EKS without EFA). */
  tcpBusBandwidthGBps: number
  /** Per-operation latency floor in microseconds (small messages). */
  latencyUs: number
  noise: number
  /** Simulated seconds an all_reduce_perf run takes. */
  runSeconds: number
  sources: Array<string>
}

export interface Profile {
  name: string
  description: string
  /** `eks`, `gke` or `generic`: which cloud the labels and the validators' templates follow. */
  platform: "eks" | "gke" | "generic"
  /** Kubernetes server version the profile reports. */
  shapes: Record<string, NodeShape>
  pools: Array<NodePool>
  components: Array<Component>
  performance: { inference: InferenceModel; nccl: NcclModel }
  /** Simulated-duration multiplier: real delay = simulated duration × timeScale (0.001 → 10 minutes take 0.6 s). */
  timeScale: number
  seed: number
  /** GPUs already in use before anything runs. */
  gpuUse: Array<GpuUse>
  /** Nodes with fewer allocatable GPUs than their shape has. */
  degraded: Array<{ node: string; allocatableGpus: number }>
  /** Recorded real outputs replayed by the emulators instead of modelled figures (paths). */
  replay: { aiperf?: string; nccl?: string }
}

/** GPUs held before the run: by a DRA claim (allocated and reserved) or by a device-plugin pod requesting `nvidia.com/gpu`. */
export interface GpuUse {
  node: string
  gpus: number
  by: "dra-claim" | "device-plugin"
}

/** What `startSim({ profile })` accepts to change a profile without editing its file. */
export interface ProfileOptions {
  /** GPU node count (the GPU pool's `count`). */
  nodes?: number
  components?: Array<Component>
  gpuUse?: Array<GpuUse>
  degraded?: Array<{ node: string; allocatableGpus: number }>
  timeScale?: number
  seed?: number
  replay?: { aiperf?: string; nccl?: string }
  /** Pods (name or label selector) whose containers run out of memory: `faults.oomKilled` from the start. */
  oomKilled?: Array<string>
}

// ---------------------------------------------------------------------------------------------------------------
// Randomness and time

/** A seeded pseudo-random stream (mulberry32); `fork(label)` gives an independent stream per purpose. */
export class Random {
  private state: number
  private readonly seed: number

  constructor(seed: number) {
    this.seed = seed >>> 0
    this.state = this.seed
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Normal with the given mean and standard deviation (Box–Muller). */
  normal(mean: number, sd: number): number {
    const u = 1 - this.next()
    const v = this.next()
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** A lower-case alphanumeric suffix as Kubernetes generates them (`generateName`, template claims). */
  suffix(length = 5): string {
    const chars = "bcdfghjklmnpqrstvwxz2456789"
    let out = ""
    for (let i = 0; i < length; i++) out += chars[this.int(chars.length)]
    return out
  }

  /** An independent stream for `label`: the same seed and label always give the same stream. */
  fork(label: string): Random {
    let hash = this.seed ^ 0x9e3779b9
    for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193) >>> 0
    return new Random(hash)
  }
}

/** Simulated durations (model load, benchmark runs) scaled to real time. API deadlines and TTLs are not scaled. */
export interface SimClock {
  readonly timeScale: number
  /** Runs `fn` after `simulatedMs` simulated milliseconds; returns a cancel function. */
  after(simulatedMs: number, fn: () => void): () => void
  /** Resolves after `simulatedMs` simulated milliseconds. */
  sleep(simulatedMs: number): Promise<void>
}

export const scaledClock = (timeScale: number): SimClock => {
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const after = (simulatedMs: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      fn()
    }, Math.max(0, simulatedMs * timeScale))
    timers.add(timer)
    return () => {
      clearTimeout(timer)
      timers.delete(timer)
    }
  }
  return { timeScale, after, sleep: (simulatedMs) => new Promise((resolve) => after(simulatedMs, resolve)) }
}

// ---------------------------------------------------------------------------------------------------------------
// Controllers

/** Controller-level faults, changeable at run time (`sim.world.faults`). */
export interface ControllerFaults {
  /** Controllers (by name) that do nothing until resumed. */
  paused: Set<string>
  /** Extra real delay (ms) before a controller acts, by controller name. */
  delayMs: Map<string, number>
  /** Finalizers the simulator adds to objects it creates and never removes (stuck deletion), by controller name. */
  stuckFinalizers: Map<string, string>
  /** Pods whose containers never become Ready, matched by a label selector string (`app=x`) or pod name. */
  neverReady: Set<string>
  /** Dynamo frontends (`<namespace>/<dgd>`) that never warm up (completions stay 503). */
  neverWarm: Set<string>
  /** Pods whose containers are OOM-killed (exit 137, reason `OOMKilled`) a simulated second after they start, by pod name or label selector. */
  oomKilled: Set<string>
}

/** What every controller gets. */
export interface World {
  readonly cluster: Cluster
  readonly profile: Profile
  readonly clock: SimClock
  readonly logs: Logs
  readonly faults: ControllerFaults
  /** The seeded stream for `label` (one per purpose, so adding draws elsewhere does not shift it). */
  random(label: string): Random
  /** Serves `services/{service}:{port}/proxy/…` of `namespace`; returns the unregister function. */
  registerProxy(namespace: string, service: string, port: string | number | undefined, handler: ProxyHandler): () => void
  /** Records a core/v1 Event about `object` (type Normal or Warning), as the named component. */
  event(object: KubeObject, type: "Normal" | "Warning", reason: string, message: string, component: string): void
}

export interface Controller {
  readonly name: string
  start(world: World): void
  stop(): void
}

// ---------------------------------------------------------------------------------------------------------------
// Workloads (what the kubelet runs in place of a container image)

export interface ContainerRun {
  readonly world: World
  readonly pod: KubeObject
  readonly container: { name: string; image: string; command?: Array<string>; args?: Array<string>; env?: Array<{ name: string; value?: string }> }
  /** Appends to the container's log (what `kubectl logs` shows). */
  log(text: string): void
  /** Marks the container Ready (readiness probe passing) or not. Long-running servers call this when warm. */
  setReady(ready: boolean): void
  /**
   * Aborted when the pod is deleted or killed: the workload stops. Its result is ignored, unless the workload
   * `stopsGracefully` and the pod was deleted gracefully: then the pod waits for it.
   */
  readonly signal: AbortSignal
}

export interface ContainerResult {
  exitCode: number
  /** The termination message (`/dev/termination-log`). */
  message?: string
  /** `Completed`, `Error`, `OOMKilled`. Default from the exit code. */
  reason?: string
}

/** An emulator: which containers it plays, and how. `run` resolves when the container exits; servers never resolve until aborted. */
export interface Workload {
  readonly name: string
  matches(pod: KubeObject, container: ContainerRun["container"]): boolean
  run(run: ContainerRun): Promise<ContainerResult>
  /**
   * `run` settles by itself soon after the signal aborts (a process given SIGTERM, then SIGKILL): a pod deleted while
   * it runs stays Terminating until it has exited, and its exit code and output are kept. Default false: the
   * container stops at once.
   */
  readonly stopsGracefully?: boolean | undefined
}
