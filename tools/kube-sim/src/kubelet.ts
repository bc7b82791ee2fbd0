/**
 * The kubelet of every simulated node. For each pod bound to an existing Node it runs the init containers in order,
 * then the containers, each through the first workload emulator that matches it, and writes the pod's status as a
 * real kubelet does: phase, conditions, container states, restarts with back-off, image pull failures, termination
 * messages and `activeDeadlineSeconds`, with the containers' output in `world.logs`.
 *
 * A pod deleted while a container that stops by itself runs (a `Workload` with `stopsGracefully`: a local command,
 * which gets SIGTERM) terminates gracefully: the API server keeps it with its `deletionTimestamp` while the kubelet
 * waits for the container to exit, records its exit code and termination message, and then removes it (a delete
 * with a zero grace period). Emulated containers stop at once, so their pods go at once.
 *
 * Messages follow pkg/kubelet (images/image_manager.go, kuberuntime/kuberuntime_container.go, status/generate.go,
 * kubelet_pods.go getPhase, active_deadline.go) of Kubernetes 1.35.
 */
import { createHash } from "node:crypto"
import { StatusError } from "./errors.ts"
import { type LabelRequirement, matchesLabels, parseLabelSelector } from "./selectors.ts"
import type { KubeObject, ResourceType } from "./types.ts"
import type { ContainerResult, ContainerRun, Controller, Random, Workload, World } from "./world.ts"

type Json = Record<string, unknown>
type Phase = "Pending" | "Running" | "Succeeded" | "Failed"

/** Simulated durations of the kubelet's own steps. */
const SANDBOX_MS = 1_000
const PULL_MS = 2_000
const REPULL_MS = 300
const CREATE_MS = 100
const RESYNC_MS = 1_000
const BACKOFF_INITIAL_MS = 10_000
const BACKOFF_MAX_MS = 300_000
/** Real-time poll of faults that change without notice (pause, never-ready pods). */
const FAULT_POLL_MS = 20
/** kubecontainer.MaxContainerTerminationMessageLogLines / …LogLength, and the 4 KiB cap of a termination message file. */
const FALLBACK_LINES = 80
const FALLBACK_BYTES = 2048
const MESSAGE_BYTES = 4096
const KILLED_EXIT_CODE = 137
/** Back-off has reached its maximum after this many failures: later repeats of the same events are not recorded again. */
const LOUD_REPEATS = 7
const DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"

interface ContainerSpec {
  name: string
  image: string
  imagePullPolicy?: string
  readinessProbe?: unknown
  terminationMessagePolicy?: string
  command?: Array<string>
  args?: Array<string>
  env?: Array<{ name: string; value?: string }>
}

interface Terminated {
  containerID?: string
  exitCode: number
  finishedAt: string
  message?: string
  reason: string
  startedAt: string
}

type State = { waiting: { reason: string; message?: string } } | { running: { startedAt: string } } | { terminated: Terminated }

/** One container of a pod run: its spec and what the kubelet knows of it. */
interface Box {
  readonly spec: ContainerSpec
  readonly init: boolean
  state: State
  lastState: State | undefined
  restartCount: number
  containerID: string | undefined
  imageID: string | undefined
  probeReady: boolean
  /** Incremented on every start: late calls of an old instance's `log`/`setReady` are ignored. */
  instance: number
  crashBackOffMs: number
  pullBackOffMs: number
  pullFailures: number
  /** The running instance's exit, kept when its workload stops gracefully: a graceful deletion waits for it. */
  exiting: Promise<ContainerResult> | undefined
}

interface PodRun {
  readonly uid: string
  readonly namespace: string
  readonly name: string
  readonly node: string
  readonly restartPolicy: string
  readonly hostNetwork: boolean
  readonly abort: AbortController
  readonly init: Array<Box>
  readonly main: Array<Box>
  readonly first: KubeObject
  readonly hostIP: string
  readonly startTime: string
  podIP: string | undefined
  sandbox: boolean
  /** The phase decided by a kill (deletion, deadline); otherwise the phase follows the containers. */
  forced: Phase | undefined
  reason: string | undefined
  message: string | undefined
  killed: boolean
  finished: boolean
  /** Deleted gracefully: the containers that stop by themselves are still exiting, and their output is still kept. */
  draining: boolean
  deadline: ReturnType<typeof setTimeout> | undefined
}

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z")
const record = (value: unknown): Json | undefined => (value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined)
const array = (value: unknown): Array<unknown> => (Array.isArray(value) ? value : [])
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")
const isTerminated = (state: State): state is { terminated: Terminated } => "terminated" in state
const isRunning = (state: State): state is { running: { startedAt: string } } => "running" in state

/** A Go `time.Duration` string (`300ms`, `2s`, `1m20s`, `5m0s`). */
export const goDuration = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)}ms`
  const hours = Math.floor(ms / 3_600_000)
  const minutes = Math.floor((ms % 3_600_000) / 60_000)
  const seconds = Number(((ms % 60_000) / 1000).toFixed(3))
  return `${hours > 0 ? `${hours}h` : ""}${hours > 0 || minutes > 0 ? `${minutes}m` : ""}${seconds}s`
}

/** The fully qualified reference a container runtime reports for an image (`busybox` → `docker.io/library/busybox:latest`). */
export const normalizeImage = (image: string): string => {
  const at = image.indexOf("@")
  const name = at >= 0 ? image.slice(0, at) : image
  const digest = at >= 0 ? image.slice(at) : ""
  const slash = name.indexOf("/")
  const first = slash >= 0 ? name.slice(0, slash) : ""
  const hasDomain = slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost")
  let full = hasDomain ? name : `docker.io/${slash >= 0 ? name : `library/${name}`}`
  if (digest === "" && !full.slice(full.lastIndexOf("/") + 1).includes(":")) full += ":latest"
  return full + digest
}

/** The repository digest a runtime reports as `imageID`, stable for an image name. */
const imageIdOf = (image: string): string => {
  const full = normalizeImage(image)
  const at = full.indexOf("@")
  if (at >= 0) return full
  const repository = full.slice(0, full.lastIndexOf(":"))
  return `${repository}@sha256:${sha256(full)}`
}

const imageSizeOf = (image: string): number => 30_000_000 + (Number.parseInt(sha256(`size:${normalizeImage(image)}`).slice(0, 8), 16) % 4_000_000_000)

/** The pull policy a real server defaults (`latest` or no tag → Always, else IfNotPresent). */
const pullPolicyOf = (spec: ContainerSpec): string => {
  if (spec.imagePullPolicy !== undefined) return spec.imagePullPolicy
  const image = spec.image
  if (image.includes("@")) return "IfNotPresent"
  const tag = /:([^/:]+)$/.exec(image)?.[1]
  return tag === undefined || tag === "latest" ? "Always" : "IfNotPresent"
}

/** The last 80 lines, then the last 2048 bytes, of a log (FallbackToLogsOnError). */
const logTail = (text: string): string => {
  const lines = text.split(/(?<=\n)/)
  const tail = Buffer.from(lines.slice(-FALLBACK_LINES).join(""))
  return tail.subarray(Math.max(0, tail.length - FALLBACK_BYTES)).toString()
}

const hex = (random: Random, length: number): string => {
  let out = ""
  for (let i = 0; i < length; i++) out += "0123456789abcdef"[random.int(16)]
  return out
}

const containersOf = (spec: Json, field: string): Array<ContainerSpec> =>
  array(spec[field]).flatMap((entry) => {
    const container = record(entry)
    return container !== undefined && typeof container["name"] === "string" ? [{ ...(container as object), image: String(container["image"] ?? "") } as ContainerSpec] : []
  })

/** The kubelet of every node: runs pods bound to existing Nodes through `workloads` (first match wins). */
export class Kubelet implements Controller {
  readonly name = "kubelet"
  private readonly workloads: ReadonlyArray<Workload>
  private world: World | undefined
  private podType: ResourceType | undefined
  private readonly runs = new Map<string, PodRun>()
  private readonly dirty = new Set<string>()
  private readonly images = new Map<string, Set<string>>()
  private readonly hostIps = new Map<string, string>()
  private readonly podIps = new Set<string>()
  private readonly selectors = new Map<string, Array<LabelRequirement> | undefined>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private unsubscribe: (() => void) | undefined
  private poll: ReturnType<typeof setInterval> | undefined
  private neverReadySeen = ""
  private needsReconcile = false
  private scheduled = false
  private stopped = false

  constructor(workloads: ReadonlyArray<Workload>) {
    this.workloads = workloads
  }

  start(world: World): void {
    this.world = world
    this.stopped = false
    this.podType = world.cluster.registry.find("", "v1", "pods")
    world.cluster.stopsGracefully = (pod) => this.stopsGracefully(pod)
    this.unsubscribe = world.cluster.store.subscribe((change) => {
      if (change.key === "/nodes" && change.type === "ADDED") this.wake()
      if (change.key !== "/pods") return
      const uid = change.object.metadata.uid
      if (uid === undefined || !this.runs.has(uid) || change.type === "DELETED" || change.object.metadata.deletionTimestamp !== undefined) this.wake()
    })
    this.poll = setInterval(() => this.checkFaults(), FAULT_POLL_MS)
    this.poll.unref()
    this.wake()
  }

  stop(): void {
    this.stopped = true
    if (this.world !== undefined) this.world.cluster.stopsGracefully = undefined
    this.unsubscribe?.()
    this.unsubscribe = undefined
    if (this.poll !== undefined) clearInterval(this.poll)
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    for (const run of this.runs.values()) {
      run.abort.abort()
      if (run.deadline !== undefined) clearTimeout(run.deadline)
    }
    this.runs.clear()
    this.dirty.clear()
    this.scheduled = false
  }

  private get w(): World {
    if (this.world === undefined) throw new Error("kubelet: not started")
    return this.world
  }

  // -------------------------------------------------------------------------------------------------------------
  // The work queue: store changes and container transitions mark work; one pass reconciles pods and writes status.

  private wake(): void {
    this.needsReconcile = true
    this.schedule()
  }

  private touch(run: PodRun): void {
    this.dirty.add(run.uid)
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
        this.later(FAULT_POLL_MS, go)
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
    if (this.needsReconcile) {
      this.needsReconcile = false
      this.reconcile()
    }
    const uids = [...this.dirty]
    this.dirty.clear()
    for (const uid of uids) {
      const run = this.runs.get(uid)
      if (run !== undefined) this.write(run)
    }
  }

  /** Never-ready selectors change at run time without notice: re-evaluate readiness when they do. */
  private checkFaults(): void {
    if (this.world === undefined || this.stopped) return
    const seen = [...this.world.faults.neverReady].sort().join("\n")
    if (seen === this.neverReadySeen) return
    this.neverReadySeen = seen
    for (const run of this.runs.values()) if (!run.finished) this.dirty.add(run.uid)
    this.schedule()
  }

  private reconcile(): void {
    const store = this.w.cluster.store
    const pods = store.list("/pods") ?? []
    const present = new Set(pods.map((pod) => pod.metadata.uid))
    for (const run of [...this.runs.values()]) if (!present.has(run.uid)) this.discard(run)
    for (const pod of pods) {
      const uid = pod.metadata.uid
      if (uid === undefined) continue
      const run = this.runs.get(uid)
      if (run !== undefined) {
        if (pod.metadata.deletionTimestamp !== undefined) this.kill(run, "deleted")
        continue
      }
      const node = record(pod["spec"])?.["nodeName"]
      if (typeof node !== "string" || node === "" || store.get("/nodes", "", node) === undefined) continue
      const phase = record(pod["status"])?.["phase"]
      if (phase === "Succeeded" || phase === "Failed") continue
      this.begin(pod, node)
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Pod runs

  private begin(pod: KubeObject, node: string): void {
    const spec = record(pod["spec"]) ?? {}
    const init = containersOf(spec, "initContainers").map((container) => this.box(container, true, "PodInitializing"))
    const main = containersOf(spec, "containers").map((container) => this.box(container, false, init.length > 0 ? "PodInitializing" : "ContainerCreating"))
    const startTime = record(pod["status"])?.["startTime"]
    const startedMs = typeof startTime === "string" ? Date.parse(startTime) : Date.now()
    const run: PodRun = {
      uid: pod.metadata.uid!,
      namespace: pod.metadata.namespace ?? "default",
      name: pod.metadata.name!,
      node,
      restartPolicy: typeof spec["restartPolicy"] === "string" ? spec["restartPolicy"] : "Always",
      hostNetwork: spec["hostNetwork"] === true,
      abort: new AbortController(),
      init,
      main,
      first: pod,
      hostIP: this.hostIpOf(node),
      startTime: typeof startTime === "string" ? startTime : now(),
      podIP: undefined,
      sandbox: false,
      forced: undefined,
      reason: undefined,
      message: undefined,
      killed: false,
      finished: false,
      draining: false,
      deadline: undefined
    }
    this.runs.set(run.uid, run)
    this.touch(run)
    if (pod.metadata.deletionTimestamp !== undefined) {
      this.kill(run, "deleted")
      return
    }
    const seconds = spec["activeDeadlineSeconds"]
    if (typeof seconds === "number") {
      const remaining = startedMs + seconds * 1000 - Date.now()
      run.deadline = setTimeout(() => {
        run.deadline = undefined
        if (!this.stopped) this.kill(run, "deadline")
      }, Math.max(0, remaining))
    }
    this.drive(run).catch((error: unknown) => {
      console.error(`kube-sim kubelet: pod ${run.namespace}/${run.name}:`, error)
    })
  }

  private box(spec: ContainerSpec, init: boolean, waiting: string): Box {
    return {
      spec,
      init,
      state: { waiting: { reason: waiting } },
      lastState: undefined,
      restartCount: 0,
      containerID: undefined,
      imageID: undefined,
      probeReady: false,
      instance: 0,
      crashBackOffMs: 0,
      pullBackOffMs: 0,
      pullFailures: 0,
      exiting: undefined
    }
  }

  private async drive(run: PodRun): Promise<void> {
    if (!(await this.sleep(run, SANDBOX_MS))) return
    run.sandbox = true
    run.podIP = run.hostNetwork ? run.hostIP : this.allocatePodIp()
    this.touch(run)
    for (const box of run.init) {
      await this.lifecycle(run, box)
      if (run.abort.signal.aborted) return
      if (!isTerminated(box.state) || box.state.terminated.exitCode !== 0) {
        this.finish(run)
        return
      }
    }
    await Promise.all(run.main.map((box) => this.lifecycle(run, box)))
    if (!run.abort.signal.aborted) this.finish(run)
  }

  /** Runs a container until it ends for good (its restart policy does not restart it) or the pod is killed. */
  private async lifecycle(run: PodRun, box: Box): Promise<void> {
    for (;;) {
      const workload = await this.prepare(run, box)
      if (workload === undefined) return
      if (!(await this.execute(run, box, workload))) return
      const state = box.state
      if (!isTerminated(state) || !this.restarts(run, box, state.terminated.exitCode)) return
      if (box.crashBackOffMs === 0) {
        box.crashBackOffMs = BACKOFF_INITIAL_MS
        continue
      }
      const pod = `${run.name}_${run.namespace}(${run.uid})`
      box.lastState = state
      box.state = { waiting: { reason: "CrashLoopBackOff", message: `back-off ${goDuration(box.crashBackOffMs)} restarting failed container=${box.spec.name} pod=${pod}` } }
      this.containerEvent(run, box, "Warning", "BackOff", `Back-off restarting failed container ${box.spec.name} in pod ${pod}`)
      this.touch(run)
      if (!(await this.sleep(run, box.crashBackOffMs))) return
      box.crashBackOffMs = Math.min(box.crashBackOffMs * 2, BACKOFF_MAX_MS)
    }
  }

  private restarts(run: PodRun, box: Box, exitCode: number): boolean {
    if (box.init || run.restartPolicy === "OnFailure") return run.restartPolicy !== "Never" && exitCode !== 0
    return run.restartPolicy === "Always"
  }

  /** Pulls the image (with the kubelet's pull back-off while no workload plays it) and creates the container. */
  private async prepare(run: PodRun, box: Box): Promise<Workload | undefined> {
    const image = box.spec.image
    const policy = pullPolicyOf(box.spec)
    for (;;) {
      const workload = this.workloads.find((candidate) => candidate.matches(this.latest(run), box.spec))
      const cached = this.imagesOn(run.node)
      if (workload === undefined && policy === "Never") {
        const message = `Container image "${image}" is not present with pull policy of Never`
        this.containerEvent(run, box, "Warning", "ErrImageNeverPull", message)
        box.state = { waiting: { reason: "ErrImageNeverPull", message } }
        this.touch(run)
        box.pullBackOffMs = box.pullBackOffMs === 0 ? BACKOFF_INITIAL_MS : Math.min(box.pullBackOffMs * 2, BACKOFF_MAX_MS)
        if (!(await this.sleep(run, box.pullBackOffMs))) return undefined
        continue
      }
      if (workload !== undefined && policy !== "Always" && (policy === "Never" || cached.has(image))) {
        this.containerEvent(run, box, "Normal", "Pulled", `Container image "${image}" already present on machine`)
      } else {
        this.containerEvent(run, box, "Normal", "Pulling", `Pulling image "${image}"`)
        const took = cached.has(image) ? REPULL_MS : PULL_MS
        if (!(await this.sleep(run, took))) return undefined
        if (workload === undefined) {
          if (!(await this.pullFailed(run, box))) return undefined
          continue
        }
        cached.add(image)
        box.pullBackOffMs = 0
        box.pullFailures = 0
        this.containerEvent(run, box, "Normal", "Pulled", `Successfully pulled image "${image}" in ${goDuration(took)} (${goDuration(took)} including waiting). Image size: ${imageSizeOf(image)} bytes.`)
      }
      if (!(await this.sleep(run, CREATE_MS))) return undefined
      box.imageID = imageIdOf(image)
      return workload
    }
  }

  /** No workload plays the image: ErrImagePull, then ImagePullBackOff until the back-off expires. */
  private async pullFailed(run: PodRun, box: Box): Promise<boolean> {
    const image = box.spec.image
    const full = normalizeImage(image)
    const error = `rpc error: code = NotFound desc = failed to pull and unpack image "${full}": failed to resolve reference "${full}": ${full}: not found`
    this.containerEvent(run, box, "Warning", "Failed", `Failed to pull image "${image}": ${error}`)
    this.containerEvent(run, box, "Warning", "Failed", "Error: ErrImagePull")
    box.state = { waiting: { reason: "ErrImagePull", message: error } }
    this.touch(run)
    box.pullBackOffMs = box.pullBackOffMs === 0 ? BACKOFF_INITIAL_MS : Math.min(box.pullBackOffMs * 2, BACKOFF_MAX_MS)
    if (!(await this.sleep(run, RESYNC_MS))) return false
    this.containerEvent(run, box, "Normal", "BackOff", `Back-off pulling image "${image}"`)
    this.containerEvent(run, box, "Warning", "Failed", "Error: ImagePullBackOff")
    box.pullFailures += 1
    box.state = { waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${image}": ErrImagePull: ${error}` } }
    this.touch(run)
    return this.sleep(run, Math.max(0, box.pullBackOffMs - RESYNC_MS))
  }

  /** Starts one instance of the container and waits for it to exit; false when the pod was killed meanwhile. */
  private async execute(run: PodRun, box: Box, workload: Workload): Promise<boolean> {
    const world = this.w
    const container = box.spec.name
    box.instance += 1
    const instance = box.instance
    if (instance > 1) {
      box.restartCount += 1
      if (isTerminated(box.state)) box.lastState = box.state
      world.logs.restart(run.namespace, run.name, container)
    }
    box.containerID = `containerd://${hex(world.random("kubelet/container-ids"), 64)}`
    this.containerEvent(run, box, "Normal", "Created", `Created container: ${container}`)
    this.containerEvent(run, box, "Normal", "Started", `Started container ${container}`)
    const startedAt = now()
    box.state = { running: { startedAt } }
    box.probeReady = false
    this.touch(run)
    const live = () => box.instance === instance && isRunning(box.state) && (!run.abort.signal.aborted || run.draining)
    const handle: ContainerRun = {
      world,
      pod: this.latest(run),
      container: box.spec,
      log: (text) => {
        if (live()) world.logs.append(run.namespace, run.name, container, text)
      },
      setReady: (ready) => {
        if (!live() || box.probeReady === ready) return
        box.probeReady = ready
        this.touch(run)
      },
      signal: run.abort.signal
    }
    let stopListening = () => {}
    const killed = new Promise<undefined>((resolve) => {
      const listener = () => resolve(undefined)
      run.abort.signal.addEventListener("abort", listener, { once: true })
      stopListening = () => run.abort.signal.removeEventListener("abort", listener)
    })
    let result: ContainerResult | undefined
    const oom = this.matchesFault(world.faults.oomKilled, this.latest(run))
      ? world.clock.sleep(1000).then((): ContainerResult => ({ exitCode: 137, reason: "OOMKilled" }))
      : new Promise<never>(() => {})
    const exit = workload.run(handle).catch((error: unknown): ContainerResult => ({
      exitCode: 128,
      reason: "StartError",
      message: error instanceof Error ? error.message : String(error)
    }))
    box.exiting = workload.stopsGracefully === true ? exit : undefined
    try {
      result = await Promise.race([exit, killed, oom])
    } finally {
      stopListening()
    }
    if (result === undefined || run.abort.signal.aborted) return false
    const message = this.terminationMessage(run, box, result)
    box.state = {
      terminated: {
        containerID: box.containerID,
        exitCode: result.exitCode,
        finishedAt: now(),
        ...(message === "" ? {} : { message }),
        reason: result.reason ?? (result.exitCode === 0 ? "Completed" : "Error"),
        startedAt
      }
    }
    world.logs.end(run.namespace, run.name, container)
    this.touch(run)
    return true
  }

  private terminationMessage(run: PodRun, box: Box, result: ContainerResult): string {
    let message = Buffer.from(result.message ?? "").subarray(0, MESSAGE_BYTES).toString()
    if (message === "" && result.exitCode !== 0 && box.spec.terminationMessagePolicy === "FallbackToLogsOnError") {
      message = logTail(this.w.logs.read(run.namespace, run.name, box.spec.name)?.text ?? "")
    }
    return message
  }

  /** Every container has ended for good: the pod is terminal (or, with init failures retried, never gets here). */
  private finish(run: PodRun): void {
    if (run.killed) return
    const phase = this.phaseOf(run)
    if (phase === "Succeeded" || phase === "Failed") {
      run.finished = true
      run.sandbox = false
      if (run.deadline !== undefined) clearTimeout(run.deadline)
      run.deadline = undefined
    }
    this.touch(run)
  }

  /** Whether deleting `pod` must wait for this kubelet: a container of it that stops by itself is running. */
  private stopsGracefully(pod: KubeObject): boolean {
    const run = this.runs.get(pod.metadata.uid ?? "")
    return run !== undefined && !run.killed && !run.finished && [...run.init, ...run.main].some((box) => isRunning(box.state) && box.exiting !== undefined)
  }

  /** Stops every container: the pod was deleted or ran past `activeDeadlineSeconds`. */
  private kill(run: PodRun, why: "deleted" | "deadline"): void {
    if (run.killed) return
    run.killed = true
    const graceful = why === "deleted" && this.awaitsKubelet(run)
    const draining = graceful ? [...run.init, ...run.main].filter((box) => isRunning(box.state) && box.exiting !== undefined) : []
    run.draining = draining.length > 0
    run.abort.abort()
    if (run.deadline !== undefined) clearTimeout(run.deadline)
    run.deadline = undefined
    if (run.finished) {
      if (graceful) this.remove(run)
      return
    }
    if (run.draining) {
      for (const box of draining) this.event(run, "Normal", "Killing", `Stopping container ${box.spec.name}`)
      void Promise.all(draining.map((box) => this.exited(run, box))).then(() => {
        run.draining = false
        if (this.stopped) return
        this.stopContainers(run, "deleted")
        this.write(run)
        this.remove(run)
      })
      return
    }
    this.stopContainers(run, why)
    if (graceful) {
      this.write(run)
      this.remove(run)
    }
  }

  /** The pod was deleted gracefully: its removal is this kubelet's (a delete with a zero grace period). */
  private awaitsKubelet(run: PodRun): boolean {
    const current = this.w.cluster.store.get("/pods", run.namespace, run.name)
    return current !== undefined && current.metadata.uid === run.uid && current.metadata.deletionTimestamp !== undefined &&
      (current.metadata.deletionGracePeriodSeconds ?? 0) > 0
  }

  /** Waits until a container that stops by itself has exited, and records how it ended. */
  private async exited(run: PodRun, box: Box): Promise<void> {
    const result = await box.exiting!
    if (!isRunning(box.state)) return
    const message = this.terminationMessage(run, box, result)
    box.state = {
      terminated: {
        ...(box.containerID === undefined ? {} : { containerID: box.containerID }),
        exitCode: result.exitCode,
        finishedAt: now(),
        ...(message === "" ? {} : { message }),
        reason: result.reason ?? (result.exitCode === 0 ? "Completed" : "Error"),
        startedAt: box.state.running.startedAt
      }
    }
    if (this.runs.get(run.uid) === run) this.w.logs.end(run.namespace, run.name, box.spec.name)
  }

  /** Removes a gracefully deleted pod whose containers have all stopped. */
  private remove(run: PodRun): void {
    if (this.podType === undefined || this.stopped) return
    try {
      this.w.cluster.delete(this.podType, run.namespace, run.name, { gracePeriodSeconds: 0, preconditions: { uid: run.uid } })
    } catch (error) {
      if (!(error instanceof StatusError && (error.code === 404 || error.code === 409))) throw error
    }
  }

  /** Marks the containers still running as killed and decides the pod's final phase. */
  private stopContainers(run: PodRun, why: "deleted" | "deadline"): void {
    const time = now()
    for (const box of [...run.init, ...run.main]) {
      if (!isRunning(box.state)) continue
      this.event(run, "Normal", "Killing", `Stopping container ${box.spec.name}`)
      box.state = { terminated: { containerID: box.containerID, exitCode: KILLED_EXIT_CODE, finishedAt: time, reason: "Error", startedAt: box.state.running.startedAt } }
      this.w.logs.end(run.namespace, run.name, box.spec.name)
    }
    if (why === "deadline") {
      this.event(run, "Normal", "DeadlineExceeded", DEADLINE_MESSAGE)
      run.forced = "Failed"
      run.reason = "DeadlineExceeded"
      run.message = DEADLINE_MESSAGE
    } else {
      const succeeded = run.main.every((box) => isTerminated(box.state) && box.state.terminated.exitCode === 0)
      run.forced = succeeded && run.main.length > 0 ? "Succeeded" : "Failed"
    }
    run.finished = true
    run.sandbox = false
    this.touch(run)
  }

  /** The pod is gone from the store: forget it. */
  private discard(run: PodRun): void {
    run.draining = false
    run.abort.abort()
    if (run.deadline !== undefined) clearTimeout(run.deadline)
    run.deadline = undefined
    this.runs.delete(run.uid)
    this.dirty.delete(run.uid)
    if (run.podIP !== undefined && !run.hostNetwork) this.podIps.delete(run.podIP)
    this.w.logs.forget(run.namespace, run.name)
  }

  /** Resolves true after `simulatedMs`, or false as soon as the pod is killed. */
  private sleep(run: PodRun, simulatedMs: number): Promise<boolean> {
    const signal = run.abort.signal
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve(false)
        return
      }
      const onAbort = () => {
        cancel()
        resolve(false)
      }
      const cancel = this.w.clock.after(simulatedMs, () => {
        signal.removeEventListener("abort", onAbort)
        resolve(true)
      })
      signal.addEventListener("abort", onAbort, { once: true })
    })
  }

  // -------------------------------------------------------------------------------------------------------------
  // Status

  private latest(run: PodRun): KubeObject {
    const current = this.w.cluster.store.get("/pods", run.namespace, run.name)
    return current !== undefined && current.metadata.uid === run.uid ? current : run.first
  }

  private event(run: PodRun, type: "Normal" | "Warning", reason: string, message: string): void {
    const current = this.w.cluster.store.get("/pods", run.namespace, run.name)
    if (current === undefined || current.metadata.uid !== run.uid) return
    this.w.event(current, type, reason, message, this.name)
  }

  /** An event about one container; once its pull or crash back-off is at the maximum, repeats are not recorded. */
  private containerEvent(run: PodRun, box: Box, type: "Normal" | "Warning", reason: string, message: string): void {
    if (box.pullFailures > LOUD_REPEATS || box.restartCount > LOUD_REPEATS) return
    this.event(run, type, reason, message)
  }

  private write(run: PodRun): void {
    const world = this.w
    const current = world.cluster.store.get("/pods", run.namespace, run.name)
    if (current === undefined || current.metadata.uid !== run.uid || this.podType === undefined) return
    try {
      world.cluster.update(this.podType, run.namespace, run.name, { ...current, status: this.statusOf(run, current) }, { subresource: "status" })
    } catch (error) {
      if (!(error instanceof StatusError && (error.code === 404 || error.code === 409))) throw error
      if (error.code === 409) this.touch(run)
    }
  }

  /** getPhase of pkg/kubelet/kubelet_pods.go over the containers' states. */
  private phaseOf(run: PodRun): Phase {
    if (run.forced !== undefined) return run.forced
    let pendingInit = false
    for (const box of run.init) {
      const state = box.state
      if (isTerminated(state) && state.terminated.exitCode === 0) continue
      if (isTerminated(state) && run.restartPolicy === "Never") return "Failed"
      pendingInit = true
    }
    if (pendingInit) return "Pending"
    let running = 0
    let waiting = 0
    let stopped = 0
    let succeeded = 0
    for (const box of run.main) {
      const state = box.state
      if (isRunning(state)) running++
      else if (isTerminated(state)) {
        stopped++
        if (state.terminated.exitCode === 0) succeeded++
      } else if (box.lastState !== undefined) stopped++
      else waiting++
    }
    if (waiting > 0) return "Pending"
    if (running > 0) return "Running"
    if (stopped > 0) {
      if (run.restartPolicy === "Always") return "Running"
      if (stopped === succeeded) return "Succeeded"
      return run.restartPolicy === "Never" ? "Failed" : "Running"
    }
    return "Pending"
  }

  private neverReady(pod: KubeObject): boolean {
    return this.matchesFault(this.w.faults.neverReady, pod)
  }

  /** Whether a fault entry (a pod name or a label selector) of `entries` names `pod`. */
  private matchesFault(entries: ReadonlySet<string>, pod: KubeObject): boolean {
    for (const entry of entries) {
      if (entry === pod.metadata.name) return true
      if (!/[=!(,\s]/.test(entry)) continue
      if (!this.selectors.has(entry)) {
        try {
          this.selectors.set(entry, parseLabelSelector(entry))
        } catch {
          this.selectors.set(entry, undefined)
        }
      }
      const requirements = this.selectors.get(entry)
      if (requirements !== undefined && matchesLabels(requirements, pod.metadata.labels)) return true
    }
    return false
  }

  private ready(box: Box, neverReady: boolean): boolean {
    if (box.init) return isTerminated(box.state) && box.state.terminated.exitCode === 0
    if (!isRunning(box.state) || neverReady) return false
    return box.spec.readinessProbe === undefined || box.probeReady
  }

  private containerStatus(box: Box, neverReady: boolean): Json {
    return {
      ...(box.containerID === undefined ? {} : { containerID: box.containerID }),
      image: box.imageID === undefined ? box.spec.image : normalizeImage(box.spec.image),
      imageID: box.imageID ?? "",
      lastState: box.lastState === undefined ? {} : structuredClone(box.lastState),
      name: box.spec.name,
      ready: this.ready(box, neverReady),
      restartCount: box.restartCount,
      started: isRunning(box.state),
      state: structuredClone(box.state)
    }
  }

  private statusOf(run: PodRun, current: KubeObject): Json {
    const old = record(current["status"]) ?? {}
    const generation = current.metadata.generation ?? 1
    const phase = this.phaseOf(run)
    const neverReady = this.neverReady(current)
    const previous = array(old["conditions"]).flatMap((entry) => {
      const condition = record(entry)
      return condition === undefined ? [] : [condition]
    })
    const time = now()
    const condition = (type: string, ok: boolean, reason?: string, message?: string): Json => {
      const before = previous.find((candidate) => candidate["type"] === type)
      const status = ok ? "True" : "False"
      return {
        type,
        status,
        lastProbeTime: null,
        lastTransitionTime: before?.["status"] === status && typeof before["lastTransitionTime"] === "string" ? before["lastTransitionTime"] : time,
        observedGeneration: generation,
        ...(reason === undefined ? {} : { reason }),
        ...(message === undefined ? {} : { message })
      }
    }
    const incomplete = run.init.filter((box) => !this.ready(box, neverReady)).map((box) => box.spec.name)
    const anyStarted = run.main.some((box) => box.instance > 0)
    const initialized =
      phase === "Succeeded"
        ? condition("Initialized", true, "PodCompleted")
        : anyStarted || incomplete.length === 0
          ? condition("Initialized", true)
          : condition("Initialized", false, "ContainersNotInitialized", `containers with incomplete status: [${incomplete.join(" ")}]`)
    const unready = run.main.filter((box) => !this.ready(box, neverReady)).map((box) => box.spec.name)
    const readiness = (type: string): Json => {
      if (phase === "Succeeded") return condition(type, false, "PodCompleted")
      if (phase === "Failed") return condition(type, false, "PodFailed")
      if (unready.length > 0) return condition(type, false, "ContainersNotReady", `containers with unready status: [${unready.join(" ")}]`)
      return condition(type, true)
    }
    const containersReady = readiness("ContainersReady")
    let ready = readiness("Ready")
    if (ready["status"] === "True") {
      const gates = array(record(current["spec"])?.["readinessGates"]).map((gate) => String(record(gate)?.["conditionType"] ?? ""))
      const problems = gates.flatMap((gate) => {
        const found = previous.find((candidate) => candidate["type"] === gate)
        if (found === undefined) return [`corresponding condition of pod readiness gate "${gate}" does not exist.`]
        return found["status"] === "True" ? [] : [`the status of pod readiness gate "${gate}" is not "True", but ${String(found["status"])}`]
      })
      if (problems.length > 0) ready = condition("Ready", false, "ReadinessGatesNotReady", problems.join(", "))
    }
    const scheduled = previous.find((candidate) => candidate["type"] === "PodScheduled") ?? condition("PodScheduled", true)
    const owned = new Set(["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"])
    const status: Json = {
      ...old,
      observedGeneration: generation,
      phase,
      conditions: [
        condition("PodReadyToStartContainers", run.sandbox),
        initialized,
        ready,
        containersReady,
        scheduled,
        ...previous.filter((candidate) => !owned.has(String(candidate["type"])))
      ],
      hostIP: run.hostIP,
      hostIPs: [{ ip: run.hostIP }],
      startTime: run.startTime,
      containerStatuses: run.main.map((box) => this.containerStatus(box, neverReady))
    }
    if (run.podIP === undefined) {
      delete status["podIP"]
      delete status["podIPs"]
    } else {
      status["podIP"] = run.podIP
      status["podIPs"] = [{ ip: run.podIP }]
    }
    if (run.init.length > 0) status["initContainerStatuses"] = run.init.map((box) => this.containerStatus(box, neverReady))
    else delete status["initContainerStatuses"]
    if (run.reason === undefined) delete status["reason"]
    else status["reason"] = run.reason
    if (run.message === undefined) delete status["message"]
    else status["message"] = run.message
    return status
  }

  // -------------------------------------------------------------------------------------------------------------
  // Addresses and images

  private imagesOn(node: string): Set<string> {
    let images = this.images.get(node)
    if (images === undefined) {
      images = new Set()
      this.images.set(node, images)
    }
    return images
  }

  private hostIpOf(node: string): string {
    const addresses = array(record(this.w.cluster.store.get("/nodes", "", node)?.["status"])?.["addresses"])
    const internal = addresses.map(record).find((address) => address?.["type"] === "InternalIP")?.["address"]
    if (typeof internal === "string" && internal !== "") return internal
    let ip = this.hostIps.get(node)
    if (ip === undefined) {
      const random = this.w.random("kubelet/host-ips")
      const taken = new Set(this.hostIps.values())
      do ip = `10.0.${random.int(256)}.${1 + random.int(254)}`
      while (taken.has(ip))
      this.hostIps.set(node, ip)
    }
    return ip
  }

  private allocatePodIp(): string {
    const random = this.w.random("kubelet/pod-ips")
    let ip: string
    do ip = `10.${128 + random.int(64)}.${random.int(256)}.${1 + random.int(254)}`
    while (this.podIps.has(ip))
    this.podIps.add(ip)
    return ip
  }
}
