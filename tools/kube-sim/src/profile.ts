/**
 * Cluster profiles: the YAML files in `profiles/` (or any file of the same shape) that say which nodes a simulated
 * cluster has, which components are installed and how fast its GPUs serve and communicate; and the objects such a
 * profile puts into a fresh cluster (Nodes, the DRA driver's DeviceClass and ResourceSlices, GKE's Network objects,
 * component CRDs and the GPUs already in use).
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { isNode, LineCounter, parseDocument } from "yaml"
import { dns1123LabelErrors, dns1123SubdomainErrors, isRecord, labelKeyErrors, labelValueErrors } from "./builtin-messages.ts"
import type { Cluster } from "./cluster.ts"
import { bundledCrds } from "./crds.ts"
import type { KubeObject } from "./types.ts"
import {
  type Component,
  type GpuUse,
  type InferenceModel,
  type NcclModel,
  type NodePool,
  type NodeShape,
  type Profile,
  type ProfileOptions,
  Random,
  type Taint
} from "./world.ts"

/** The profiles shipped in `profiles/`. */
export const PROFILE_NAMES = ["h100-eks", "h100-gke", "dev"] as const

export type ProfileName = (typeof PROFILE_NAMES)[number]

/** Where the shipped profiles live. */
export const PROFILES_DIR = join(import.meta.dirname, "..", "profiles")

/** Every component a profile can install, in the order their objects are created. */
export const COMPONENTS: ReadonlyArray<Component> = ["dynamo", "kubeflow-trainer", "dra-driver", "gpu-operator"]

/** The DRA driver name, DeviceClass name and ResourceSlice driver of the NVIDIA DRA driver for GPUs. */
export const GPU_DRIVER = "gpu.nvidia.com"

/** The selector of the `gpu.nvidia.com` DeviceClass, as the NVIDIA DRA driver's Helm chart installs it. */
export const GPU_DEVICE_CLASS_SELECTOR = "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'"

/** The namespace of the pods and claims that hold GPUs before anything runs (`Profile.gpuUse`). */
export const GPU_HOLDERS_NAMESPACE = "gpu-holders"

/** The label on the objects the simulator seeds for `Profile.gpuUse` (value `gpu-holder`); the kubelet leaves them be. */
export const SIM_ROLE_LABEL = "kube-sim/role"

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** One problem of a profile: the YAML path of the bad field and, for a file, where it is. */
export interface ProfileProblem {
  readonly path: string
  readonly message: string
  readonly line?: number
  readonly column?: number
}

const formatProblem = (source: string, problem: ProfileProblem): string =>
  `${source}${problem.line === undefined ? "" : `:${problem.line}:${problem.column ?? 1}`}: ${problem.path === "" ? "" : `${problem.path}: `}${problem.message}`

/** A profile that cannot be used: every problem found, one per line (`file:line:column: path: problem`). */
export class ProfileError extends Error {
  readonly source: string
  readonly problems: ReadonlyArray<ProfileProblem>

  constructor(source: string, found: ReadonlyArray<ProfileProblem>) {
    const problems = [...found].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0))
    super(problems.map((problem) => formatProblem(source, problem)).join("\n"))
    this.name = "ProfileError"
    this.source = source
    this.problems = problems
  }
}

type Path = ReadonlyArray<string | number>

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/

const formatPath = (path: Path): string =>
  path.reduce<string>((out, segment) => {
    if (typeof segment === "number") return `${out}[${segment}]`
    if (PLAIN_KEY.test(segment)) return out === "" ? segment : `${out}.${segment}`
    return `${out}[${JSON.stringify(segment)}]`
  }, "")

type Locate = (path: Path) => { line: number; column: number } | undefined

const describe = (value: unknown): string => {
  if (value === null || value === undefined) return "nothing"
  if (Array.isArray(value)) return "a sequence"
  if (typeof value === "object") return "a mapping"
  return JSON.stringify(value)
}

/** Collects problems with their locations, and reads typed values (a fallback where a value is bad). */
class Reader {
  readonly problems: Array<ProfileProblem> = []
  private readonly locate: Locate

  constructor(locate: Locate) {
    this.locate = locate
  }

  add(path: Path, message: string): void {
    const at = this.locate(path)
    this.problems.push({ path: formatPath(path), message, ...(at === undefined ? {} : { line: at.line, column: at.column }) })
  }

  /** A mapping with the given required and optional keys; unknown keys are problems. */
  fields(path: Path, value: unknown, required: ReadonlyArray<string>, optional: ReadonlyArray<string> = []): Record<string, unknown> {
    if (!isRecord(value)) {
      this.add(path, `must be a mapping, got ${describe(value)}`)
      return {}
    }
    for (const key of required) if (value[key] === undefined || value[key] === null) this.add([...path, key], "is required")
    const known = [...required, ...optional]
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) this.add([...path, key], `unknown field (expected one of: ${known.join(", ")})`)
    }
    return value
  }

  /** A mapping with any keys. */
  map(path: Path, value: unknown): Record<string, unknown> {
    if (value === undefined || value === null) return {}
    if (!isRecord(value)) {
      this.add(path, `must be a mapping, got ${describe(value)}`)
      return {}
    }
    return value
  }

  list(path: Path, value: unknown): Array<unknown> {
    if (value === undefined || value === null) return []
    if (!Array.isArray(value)) {
      this.add(path, `must be a sequence, got ${describe(value)}`)
      return []
    }
    return value
  }

  string(path: Path, value: unknown, fallback = ""): string {
    if (value === undefined || value === null) return fallback
    if (typeof value === "string") return value
    const hint = typeof value === "number" || typeof value === "boolean" ? ` (quote it: "${String(value)}")` : ""
    this.add(path, `must be a string, got ${describe(value)}${hint}`)
    return fallback
  }

  pattern(path: Path, value: unknown, pattern: RegExp, what: string): string {
    const text = this.string(path, value)
    if (text !== "" && !pattern.test(text)) this.add(path, `must be ${what}, got ${JSON.stringify(text)}`)
    return text
  }

  int(path: Path, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (value === undefined || value === null) return min
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.add(path, `must be an integer >= ${min}${max === Number.MAX_SAFE_INTEGER ? "" : ` and <= ${max}`}, got ${describe(value)}`)
      return min
    }
    return value
  }

  /** A finite number above 0, or at or above 0 when `zero` is allowed. */
  number(path: Path, value: unknown, zero: boolean): number {
    if (value === undefined || value === null) return zero ? 0 : 1
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (!zero && value === 0)) {
      this.add(path, `must be a number ${zero ? ">=" : ">"} 0, got ${describe(value)}`)
      return zero ? 0 : 1
    }
    return value
  }

  oneOf<T extends string>(path: Path, value: unknown, allowed: ReadonlyArray<T>): T {
    const text = this.string(path, value)
    if (text === "" && (value === undefined || value === null)) return allowed[0]!
    if (!(allowed as ReadonlyArray<string>).includes(text)) {
      this.add(path, `must be one of ${allowed.join(", ")}, got ${describe(value)}`)
      return allowed[0]!
    }
    return text as T
  }

  /** A Kubernetes quantity (`192`, `191450m`, `2Ti`); YAML numbers are taken as written. */
  quantity(path: Path, value: unknown): string {
    const text = typeof value === "number" ? String(value) : this.string(path, value)
    if (text === "") return "0"
    const parsed = parseQuantity(text)
    if (parsed === undefined || parsed <= 0) {
      this.add(path, `must be a positive Kubernetes quantity (like 192, 500m, 64Gi), got ${JSON.stringify(text)}`)
      return "1"
    }
    return text
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Quantities

const QUANTITY = /^(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|[eE][+-]?\d+)?$/

const SUFFIXES: Readonly<Record<string, number>> = {
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60
}

/** The value of a non-negative Kubernetes quantity (`2Ti` → 2199023255552), or undefined when it is not one. */
export const parseQuantity = (text: string): number | undefined => {
  const match = QUANTITY.exec(text)
  if (match === null) return undefined
  const number = Number(match[1])
  const suffix = match[2] ?? ""
  if (suffix === "") return number
  if (suffix[0] === "e" || suffix[0] === "E") return number * 10 ** Number(suffix.slice(1))
  const factor = SUFFIXES[suffix]!
  return factor < 1 ? number / Math.round(1 / factor) : number * factor
}

// ---------------------------------------------------------------------------------------------------------------
// Reading a profile

const PLATFORMS = ["eks", "gke", "generic"] as const
const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const
const FABRICS = ["efa", "tcpxo", "tcp", "nvlink-only"] as const
const GPU_USE_BY = ["dra-claim", "device-plugin"] as const
const DOTTED_VERSION = /^\d+(\.\d+){1,2}$/
const MAJOR_MINOR = /^\d+\.\d+$/

const readGpu = (r: Reader, path: Path, value: unknown): NonNullable<NodeShape["gpu"]> => {
  const gpu = r.fields(path, value, ["product", "count", "memoryMiB", "architecture", "computeCapability", "driverVersion", "cudaVersion"])
  return {
    product: r.string([...path, "product"], gpu["product"]),
    count: r.int([...path, "count"], gpu["count"], 1),
    memoryMiB: r.int([...path, "memoryMiB"], gpu["memoryMiB"], 1),
    architecture: r.string([...path, "architecture"], gpu["architecture"]),
    computeCapability: r.pattern([...path, "computeCapability"], gpu["computeCapability"], MAJOR_MINOR, 'a "major.minor" version like "9.0"'),
    driverVersion: r.pattern([...path, "driverVersion"], gpu["driverVersion"], DOTTED_VERSION, 'a dotted version like "570.133.20"'),
    cudaVersion: r.pattern([...path, "cudaVersion"], gpu["cudaVersion"], MAJOR_MINOR, 'a "major.minor" version like "12.8"')
  }
}

const readTaint = (r: Reader, path: Path, value: unknown): Taint => {
  const taint = r.fields(path, value, ["key", "effect"], ["value"])
  const key = r.string([...path, "key"], taint["key"])
  for (const message of key === "" ? [] : labelKeyErrors(key)) r.add([...path, "key"], `invalid taint key ${JSON.stringify(key)}: ${message}`)
  const result: Taint = { key, effect: r.oneOf([...path, "effect"], taint["effect"], TAINT_EFFECTS) }
  if (taint["value"] !== undefined && taint["value"] !== null) {
    result.value = r.string([...path, "value"], taint["value"])
    for (const message of labelValueErrors(result.value)) r.add([...path, "value"], `invalid taint value ${JSON.stringify(result.value)}: ${message}`)
  }
  return result
}

const readShape = (r: Reader, path: Path, value: unknown): NodeShape => {
  const shape = r.fields(path, value, ["instanceType", "cpu", "memory", "pods"], ["gpu", "efa", "gpuNics", "labels", "taints"])
  const labels: Record<string, string> = {}
  for (const [key, label] of Object.entries(r.map([...path, "labels"], shape["labels"]))) {
    const at = [...path, "labels", key]
    for (const message of labelKeyErrors(key)) r.add(at, `invalid label key: ${message}`)
    const text = r.string(at, label)
    labels[key] = text
    for (const message of labelValueErrors(text)) r.add(at, `invalid label value ${JSON.stringify(text)}: ${message}`)
  }
  const result: NodeShape = {
    instanceType: r.string([...path, "instanceType"], shape["instanceType"]),
    cpu: r.quantity([...path, "cpu"], shape["cpu"]),
    memory: r.quantity([...path, "memory"], shape["memory"]),
    pods: r.int([...path, "pods"], shape["pods"], 0),
    labels,
    taints: r.list([...path, "taints"], shape["taints"]).map((taint, index) => readTaint(r, [...path, "taints", index], taint))
  }
  for (const message of result.instanceType === "" ? [] : labelValueErrors(result.instanceType)) {
    r.add([...path, "instanceType"], `must be usable as a label value: ${message}`)
  }
  if (shape["gpu"] !== undefined && shape["gpu"] !== null) result.gpu = readGpu(r, [...path, "gpu"], shape["gpu"])
  if (shape["efa"] !== undefined && shape["efa"] !== null) result.efa = r.int([...path, "efa"], shape["efa"], 0)
  if (shape["gpuNics"] !== undefined && shape["gpuNics"] !== null) result.gpuNics = r.int([...path, "gpuNics"], shape["gpuNics"], 0)
  return result
}

const readPool = (r: Reader, path: Path, value: unknown): NodePool => {
  const pool = r.fields(path, value, ["name", "shape", "count"], ["namePrefix", "zone"])
  const result: NodePool = {
    name: r.string([...path, "name"], pool["name"]),
    shape: r.string([...path, "shape"], pool["shape"]),
    count: r.int([...path, "count"], pool["count"], 0)
  }
  for (const message of result.name === "" ? [] : dns1123LabelErrors(result.name)) r.add([...path, "name"], `invalid pool name: ${message}`)
  if (pool["namePrefix"] !== undefined && pool["namePrefix"] !== null) {
    result.namePrefix = r.string([...path, "namePrefix"], pool["namePrefix"])
    for (const message of dns1123LabelErrors(result.namePrefix)) r.add([...path, "namePrefix"], `invalid name prefix: ${message}`)
  }
  if (pool["zone"] !== undefined && pool["zone"] !== null) {
    result.zone = r.string([...path, "zone"], pool["zone"])
    for (const message of labelValueErrors(result.zone)) r.add([...path, "zone"], `must be usable as a label value: ${message}`)
  }
  return result
}

const readComponents = (r: Reader, path: Path, value: unknown): Array<Component> => {
  const components: Array<Component> = []
  r.list(path, value).forEach((item, index) => {
    if (typeof item === "string" && !(COMPONENTS as ReadonlyArray<string>).includes(item)) {
      r.oneOf([...path, index], item, COMPONENTS)
      return
    }
    const component = r.oneOf([...path, index], item, COMPONENTS)
    if (components.includes(component)) r.add([...path, index], `duplicate component ${JSON.stringify(component)}`)
    else components.push(component)
  })
  return components
}

const readSources = (r: Reader, path: Path, value: unknown): Array<string> =>
  r.list(path, value).map((item, index) => r.string([...path, index], item))

const readInference = (r: Reader, path: Path, value: unknown): InferenceModel => {
  const model = r.fields(path, value, ["anchor", "noise", "modelLoadSeconds", "warmupSeconds", "benchmarkSeconds", "sources"])
  const anchorPath = [...path, "anchor"]
  const anchor = r.fields(anchorPath, model["anchor"], ["model", "gpus", "concurrencyPerGpu", "outputTokensPerSecond", "ttftP99Ms"])
  return {
    anchor: {
      model: r.string([...anchorPath, "model"], anchor["model"]),
      gpus: r.int([...anchorPath, "gpus"], anchor["gpus"], 1),
      concurrencyPerGpu: r.int([...anchorPath, "concurrencyPerGpu"], anchor["concurrencyPerGpu"], 1),
      outputTokensPerSecond: r.number([...anchorPath, "outputTokensPerSecond"], anchor["outputTokensPerSecond"], false),
      ttftP99Ms: r.number([...anchorPath, "ttftP99Ms"], anchor["ttftP99Ms"], false)
    },
    noise: r.number([...path, "noise"], model["noise"], true),
    modelLoadSeconds: r.number([...path, "modelLoadSeconds"], model["modelLoadSeconds"], true),
    warmupSeconds: r.number([...path, "warmupSeconds"], model["warmupSeconds"], true),
    benchmarkSeconds: r.number([...path, "benchmarkSeconds"], model["benchmarkSeconds"], true),
    sources: readSources(r, [...path, "sources"], model["sources"])
  }
}

const readNccl = (r: Reader, path: Path, value: unknown): NcclModel => {
  const model = r.fields(path, value, ["fabric", "interNode", "intraNode", "tcpBusBandwidthGBps", "latencyUs", "noise", "runSeconds", "sources"])
  const interPath = [...path, "interNode"]
  const inter = r.fields(interPath, model["interNode"], ["busBandwidthGBps", "atBytes", "nodes"])
  const intraPath = [...path, "intraNode"]
  const intra = r.fields(intraPath, model["intraNode"], ["busBandwidthGBps", "atBytes"])
  return {
    fabric: r.oneOf([...path, "fabric"], model["fabric"], FABRICS),
    interNode: {
      busBandwidthGBps: r.number([...interPath, "busBandwidthGBps"], inter["busBandwidthGBps"], false),
      atBytes: r.int([...interPath, "atBytes"], inter["atBytes"], 1),
      nodes: r.int([...interPath, "nodes"], inter["nodes"], 2)
    },
    intraNode: {
      busBandwidthGBps: r.number([...intraPath, "busBandwidthGBps"], intra["busBandwidthGBps"], false),
      atBytes: r.int([...intraPath, "atBytes"], intra["atBytes"], 1)
    },
    tcpBusBandwidthGBps: r.number([...path, "tcpBusBandwidthGBps"], model["tcpBusBandwidthGBps"], false),
    latencyUs: r.number([...path, "latencyUs"], model["latencyUs"], true),
    noise: r.number([...path, "noise"], model["noise"], true),
    runSeconds: r.number([...path, "runSeconds"], model["runSeconds"], true),
    sources: readSources(r, [...path, "sources"], model["sources"])
  }
}

const readGpuUse = (r: Reader, path: Path, value: unknown): Array<GpuUse> =>
  r.list(path, value).map((item, index) => {
    const use = r.fields([...path, index], item, ["node", "gpus", "by"])
    return {
      node: r.string([...path, index, "node"], use["node"]),
      gpus: r.int([...path, index, "gpus"], use["gpus"], 1),
      by: r.oneOf([...path, index, "by"], use["by"], GPU_USE_BY)
    }
  })

const readDegraded = (r: Reader, path: Path, value: unknown): Array<{ node: string; allocatableGpus: number }> =>
  r.list(path, value).map((item, index) => {
    const entry = r.fields([...path, index], item, ["node", "allocatableGpus"])
    return { node: r.string([...path, index, "node"], entry["node"]), allocatableGpus: r.int([...path, index, "allocatableGpus"], entry["allocatableGpus"], 0) }
  })

/** Replay paths resolved against `base` (the profile file's directory, or the working directory for options). */
const readReplay = (r: Reader, path: Path, value: unknown, base: string): Profile["replay"] => {
  if (value === undefined || value === null) return {}
  const replay = r.fields(path, value, [], ["aiperf", "nccl"])
  const result: Profile["replay"] = {}
  for (const key of ["aiperf", "nccl"] as const) {
    if (replay[key] === undefined || replay[key] === null) continue
    const file = r.string([...path, key], replay[key])
    if (file === "") continue
    result[key] = resolve(base, file)
    if (!existsSync(result[key])) r.add([...path, key], `file not found: ${result[key]}`)
  }
  return result
}

const readProfile = (r: Reader, raw: unknown, base: string): Profile => {
  const top = r.fields(
    [],
    raw,
    ["name", "platform", "shapes", "pools", "components", "performance"],
    ["description", "timeScale", "seed", "gpuUse", "degraded", "replay"]
  )
  const shapes: Record<string, NodeShape> = {}
  const shapeEntries = Object.entries(r.map(["shapes"], top["shapes"]))
  if (isRecord(top["shapes"]) && shapeEntries.length === 0) r.add(["shapes"], "must define at least one shape")
  for (const [name, shape] of shapeEntries) shapes[name] = readShape(r, ["shapes", name], shape)
  const pools = r.list(["pools"], top["pools"]).map((pool, index) => readPool(r, ["pools", index], pool))
  if (Array.isArray(top["pools"]) && pools.length === 0) r.add(["pools"], "must define at least one pool")
  const performance = r.fields(["performance"], top["performance"], ["inference", "nccl"])
  return {
    name: r.string(["name"], top["name"]),
    description: r.string(["description"], top["description"]),
    platform: r.oneOf(["platform"], top["platform"], PLATFORMS),
    shapes,
    pools,
    components: readComponents(r, ["components"], top["components"]),
    performance: {
      inference: readInference(r, ["performance", "inference"], performance["inference"]),
      nccl: readNccl(r, ["performance", "nccl"], performance["nccl"])
    },
    timeScale: r.number(["timeScale"], top["timeScale"], false),
    seed: r.int(["seed"], top["seed"], 0, 0xffffffff),
    gpuUse: readGpuUse(r, ["gpuUse"], top["gpuUse"]),
    degraded: readDegraded(r, ["degraded"], top["degraded"]),
    replay: readReplay(r, ["replay"], top["replay"], base)
  }
}

const OPTION_KEYS = ["nodes", "components", "gpuUse", "degraded", "timeScale", "seed", "replay", "oomKilled"]

/** Applies the options to a read profile; their problems are reported at `options.…`. */
const applyOptions = (r: Reader, profile: Profile, options: ProfileOptions): Profile => {
  const given = options as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (given[key] !== undefined && !OPTION_KEYS.includes(key)) r.add(["options", key], `unknown option (expected one of: ${OPTION_KEYS.join(", ")})`)
  }
  const next: Profile = { ...profile, pools: profile.pools.map((pool) => ({ ...pool })) }
  if (options.nodes !== undefined) {
    const nodes = r.int(["options", "nodes"], options.nodes, 0)
    const pool = next.pools.find((candidate) => next.shapes[candidate.shape]?.gpu !== undefined)
    if (pool === undefined) r.add(["options", "nodes"], "the profile has no GPU pool to size")
    else pool.count = nodes
  }
  if (options.components !== undefined) next.components = readComponents(r, ["options", "components"], options.components)
  if (options.gpuUse !== undefined) next.gpuUse = readGpuUse(r, ["options", "gpuUse"], options.gpuUse)
  if (options.degraded !== undefined) next.degraded = readDegraded(r, ["options", "degraded"], options.degraded)
  if (options.timeScale !== undefined) next.timeScale = r.number(["options", "timeScale"], options.timeScale, false)
  if (options.seed !== undefined) next.seed = r.int(["options", "seed"], options.seed, 0, 0xffffffff)
  if (options.replay !== undefined) next.replay = { ...next.replay, ...readReplay(r, ["options", "replay"], options.replay, process.cwd()) }
  if (options.oomKilled !== undefined) r.list(["options", "oomKilled"], options.oomKilled).forEach((entry, index) => r.string(["options", "oomKilled", index], entry))
  return next
}

// ---------------------------------------------------------------------------------------------------------------
// Nodes of a profile

/** One node a profile creates. */
export interface ProfileNode {
  readonly name: string
  readonly pool: NodePool
  readonly shape: NodeShape
  /** 1-based index within the pool. */
  readonly index: number
  /** 0-based position among all nodes of the profile. */
  readonly ordinal: number
  /** GPUs the device plugin advertises as allocatable (the shape's count unless the node is degraded). */
  readonly allocatableGpus: number
}

/** The nodes of a (valid) profile, pool by pool: `<namePrefix or pool name>-<index>`. */
export const profileNodes = (profile: Profile): Array<ProfileNode> => {
  const degraded = new Map(profile.degraded.map((entry) => [entry.node, entry.allocatableGpus]))
  const nodes: Array<ProfileNode> = []
  for (const pool of profile.pools) {
    const shape = profile.shapes[pool.shape]
    if (shape === undefined) continue
    for (let index = 1; index <= pool.count; index++) {
      const name = `${pool.namePrefix ?? pool.name}-${index}`
      nodes.push({ name, pool, shape, index, ordinal: nodes.length, allocatableGpus: degraded.get(name) ?? shape.gpu?.count ?? 0 })
    }
  }
  return nodes
}

/** The labels the simulator derives for a node; a shape must not set them. */
const derivedLabelSources = (platform: Profile["platform"]): ReadonlyMap<string, string> =>
  new Map([
    ["kubernetes.io/hostname", "the node name"],
    ["kubernetes.io/arch", "the simulator (amd64)"],
    ["kubernetes.io/os", "the simulator (linux)"],
    ["beta.kubernetes.io/arch", "the simulator (amd64)"],
    ["beta.kubernetes.io/os", "the simulator (linux)"],
    ["node.kubernetes.io/instance-type", "instanceType"],
    ["beta.kubernetes.io/instance-type", "instanceType"],
    ["topology.kubernetes.io/zone", "the pool's zone"],
    ["topology.kubernetes.io/region", "the pool's zone"],
    ["failure-domain.beta.kubernetes.io/zone", "the pool's zone"],
    ["failure-domain.beta.kubernetes.io/region", "the pool's zone"],
    ...(platform === "eks" ? [["eks.amazonaws.com/nodegroup", "the pool name"] as const] : []),
    ...(platform === "gke" ? [["cloud.google.com/gke-nodepool", "the pool name"] as const, ["topology.gke.io/zone", "the pool's zone"] as const] : [])
  ])

/** Checks across fields: shape references, unique names, label consistency, GPU use and degraded nodes. */
const checkProfile = (r: Reader, profile: Profile, fromOptions: { gpuUse: boolean; degraded: boolean }): void => {
  const derived = derivedLabelSources(profile.platform)
  for (const [name, shape] of Object.entries(profile.shapes)) {
    for (const key of Object.keys(shape.labels)) {
      const source = derived.get(key)
      if (source !== undefined) r.add(["shapes", name, "labels", key], `is set by the simulator from ${source}; remove it`)
    }
    const gpu = shape.gpu
    const expected: ReadonlyArray<readonly [string, string | undefined]> = [
      ["nvidia.com/gpu.product", gpu?.product],
      ["nvidia.com/gpu.count", gpu === undefined ? undefined : String(gpu.count)],
      ["nvidia.com/gpu.memory", gpu === undefined ? undefined : String(gpu.memoryMiB)],
      ["nvidia.com/gpu.family", gpu?.architecture]
    ]
    for (const [key, value] of expected) {
      const label = shape.labels[key]
      if (label === undefined) continue
      if (value === undefined) r.add(["shapes", name, "labels", key], "a shape without gpu must not carry GPU labels")
      else if (label !== value) r.add(["shapes", name, "labels", key], `must match the shape's gpu (${JSON.stringify(value)}), got ${JSON.stringify(label)}`)
    }
  }
  const shapeNames = Object.keys(profile.shapes)
  const poolNames = new Map<string, number>()
  const nodeNames = new Map<string, number>()
  profile.pools.forEach((pool, index) => {
    if (pool.shape !== "" && profile.shapes[pool.shape] === undefined) {
      r.add(["pools", index, "shape"], `unknown shape ${JSON.stringify(pool.shape)} (shapes: ${shapeNames.join(", ")})`)
    }
    const first = poolNames.get(pool.name)
    if (first !== undefined) r.add(["pools", index, "name"], `duplicate pool name ${JSON.stringify(pool.name)} (also pools[${first}])`)
    else poolNames.set(pool.name, index)
    for (let node = 1; node <= pool.count; node++) {
      const name = `${pool.namePrefix ?? pool.name}-${node}`
      const owner = nodeNames.get(name)
      if (owner !== undefined && owner !== index) {
        r.add(["pools", index], `node name ${JSON.stringify(name)} is also generated by pools[${owner}]; set a different namePrefix`)
        break
      }
      nodeNames.set(name, index)
      for (const message of dns1123SubdomainErrors(name)) r.add(["pools", index], `node name ${JSON.stringify(name)}: ${message}`)
    }
  })
  const nodes = profileNodes(profile)
  const gpuNodes = new Map(nodes.filter((node) => node.shape.gpu !== undefined).map((node) => [node.name, node]))
  const gpuNodeList = [...gpuNodes.keys()].join(", ") || "none"
  const degradedPath: Path = fromOptions.degraded ? ["options", "degraded"] : ["degraded"]
  const seen = new Set<string>()
  profile.degraded.forEach((entry, index) => {
    const node = gpuNodes.get(entry.node)
    if (node === undefined) r.add([...degradedPath, index, "node"], `no GPU node ${JSON.stringify(entry.node)} (GPU nodes: ${gpuNodeList})`)
    else if (entry.allocatableGpus > node.shape.gpu!.count) {
      r.add([...degradedPath, index, "allocatableGpus"], `must be at most the shape's ${node.shape.gpu!.count} GPUs, got ${entry.allocatableGpus}`)
    }
    if (seen.has(entry.node)) r.add([...degradedPath, index, "node"], `node ${JSON.stringify(entry.node)} is listed twice`)
    seen.add(entry.node)
  })
  const gpuUsePath: Path = fromOptions.gpuUse ? ["options", "gpuUse"] : ["gpuUse"]
  const held = new Map<string, number>()
  profile.gpuUse.forEach((use, index) => {
    const node = gpuNodes.get(use.node)
    if (node === undefined) {
      r.add([...gpuUsePath, index, "node"], `no GPU node ${JSON.stringify(use.node)} (GPU nodes: ${gpuNodeList})`)
      return
    }
    if (use.by === "dra-claim" && !profile.components.includes("dra-driver")) {
      r.add([...gpuUsePath, index, "by"], 'a "dra-claim" needs the dra-driver component')
    }
    const total = (held.get(use.node) ?? 0) + use.gpus
    held.set(use.node, total)
    if (total > node.allocatableGpus) {
      r.add([...gpuUsePath, index, "gpus"], `node ${JSON.stringify(use.node)} has ${node.allocatableGpus} allocatable GPUs; gpuUse would hold ${total}`)
    }
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Loading

const locator = (text: string): { locate: Locate; document: ReturnType<typeof parseDocument>; lines: LineCounter } => {
  const lines = new LineCounter()
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  const locate: Locate = (path) => {
    for (let length = path.length; length >= 0; length--) {
      const node: unknown = document.getIn(path.slice(0, length), true)
      if (isNode(node) && node.range !== undefined && node.range !== null) {
        const position = lines.linePos(node.range[0])
        return { line: position.line, column: position.col }
      }
    }
    return undefined
  }
  return { locate, document, lines }
}

/** The file of a shipped profile name, or `nameOrPath` itself. */
const profileFile = (nameOrPath: string): string =>
  (PROFILE_NAMES as ReadonlyArray<string>).includes(nameOrPath) ? join(PROFILES_DIR, `${nameOrPath}.yaml`) : resolve(nameOrPath)

/**
 * Loads a shipped profile (`h100-eks`, `h100-gke`, `dev`) or a profile file, validates it and applies the options.
 * Throws a `ProfileError` naming the file, line and YAML path of every problem found.
 */
export const loadProfile = (nameOrPath: string, options: ProfileOptions = {}): Profile => {
  const file = profileFile(nameOrPath)
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (error) {
    const shipped = `not a shipped profile (${PROFILE_NAMES.join(", ")})`
    throw new ProfileError(nameOrPath, [{ path: "", message: `${shipped} and not a readable file: ${(error as Error).message}` }])
  }
  const { locate, document, lines } = locator(text)
  if (document.errors.length > 0) {
    throw new ProfileError(
      file,
      document.errors.map((error) => {
        const position = lines.linePos(error.pos[0])
        return { path: "", message: `invalid YAML: ${error.message.split("\n")[0]}`, line: position.line, column: position.col }
      })
    )
  }
  const reader = new Reader(locate)
  const read = readProfile(reader, document.toJS({ maxAliasCount: 100 }), dirname(file))
  if (reader.problems.length > 0) throw new ProfileError(file, reader.problems)
  const optionsReader = new Reader(() => undefined)
  const profile = applyOptions(optionsReader, read, options)
  if (optionsReader.problems.length > 0) throw new ProfileError(file, optionsReader.problems)
  const checks = new Reader((path) => (path[0] === "options" ? undefined : locate(path)))
  checkProfile(checks, profile, { gpuUse: options.gpuUse !== undefined, degraded: options.degraded !== undefined })
  if (checks.problems.length > 0) throw new ProfileError(file, checks.problems)
  return profile
}

// ---------------------------------------------------------------------------------------------------------------
// Objects of a profile

const HEX = "0123456789abcdef"
const hex = (random: Random, length: number): string => {
  let out = ""
  for (let i = 0; i < length; i++) out += HEX[random.int(16)]
  return out
}
const uuid = (random: Random): string => `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-${"89ab"[random.int(4)]}${hex(random, 3)}-${hex(random, 12)}`

const sorted = <T>(record: Record<string, T>): Record<string, T> =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z")

interface PlatformFacts {
  readonly kubeletVersion: string
  readonly osImage: string
  readonly kernelVersion: string
  readonly containerRuntimeVersion: string
  /** Root filesystem capacity in KiB. */
  readonly ephemeralStorageKi: number
  readonly region: (zone: string) => string
  readonly internalIp: (ordinal: number) => string
}

const PLATFORM_FACTS: Readonly<Record<Profile["platform"], PlatformFacts>> = {
  eks: {
    kubeletVersion: "v1.35.2-eks-3a7c1f9",
    osImage: "Ubuntu 24.04.3 LTS",
    kernelVersion: "6.8.0-1039-aws",
    containerRuntimeVersion: "containerd://1.7.28",
    ephemeralStorageKi: 104845292,
    region: (zone) => zone.replace(/[a-z]$/, ""),
    internalIp: (ordinal) => `10.0.${16 + Math.floor(ordinal / 250)}.${(ordinal % 250) + 4}`
  },
  gke: {
    kubeletVersion: "v1.35.1-gke.1125000",
    osImage: "Container-Optimized OS from Google",
    kernelVersion: "6.6.97+",
    containerRuntimeVersion: "containerd://2.0.6",
    ephemeralStorageKi: 98831908,
    region: (zone) => zone.replace(/-[a-z]$/, ""),
    internalIp: (ordinal) => `10.128.${Math.floor(ordinal / 250)}.${(ordinal % 250) + 2}`
  },
  generic: {
    kubeletVersion: "v1.35.2",
    osImage: "Ubuntu 24.04.3 LTS",
    kernelVersion: "6.8.0-85-generic",
    containerRuntimeVersion: "containerd://2.1.4",
    ephemeralStorageKi: 479079112,
    region: () => "",
    internalIp: (ordinal) => `192.168.${Math.floor(ordinal / 250)}.${(ordinal % 250) + 10}`
  }
}

const MI = 2 ** 20
const GI = 2 ** 30

/** The CPU the kubelet reserves (`kube-reserved`, EKS and GKE use the same tiers), in millicores. */
const reservedMillicores = (platform: Profile["platform"], cores: number): number => {
  if (platform === "generic") return 0
  const tier = (from: number, width: number) => Math.min(Math.max(cores - from, 0), width)
  return Math.round(60 * tier(0, 1) + 10 * tier(1, 1) + 5 * tier(2, 2) + 2.5 * Math.max(cores - 4, 0))
}

/** The memory the kubelet reserves (`kube-reserved` plus the 100Mi hard eviction threshold), in bytes. */
const reservedMemory = (platform: Profile["platform"], bytes: number, pods: number): number => {
  const eviction = 100 * MI
  if (platform === "eks") return (11 * pods + 255) * MI + eviction
  if (platform === "gke") {
    const tier = (from: number, width: number) => Math.min(Math.max(bytes - from * GI, 0), width * GI)
    return 0.25 * tier(0, 4) + 0.2 * tier(4, 4) + 0.1 * tier(8, 8) + 0.06 * tier(16, 112) + 0.02 * Math.max(bytes - 128 * GI, 0) + eviction
  }
  return eviction
}

const nodeResources = (profile: Profile, node: ProfileNode): { capacity: Record<string, string>; allocatable: Record<string, string> } => {
  const { shape } = node
  const cores = parseQuantity(shape.cpu)!
  const memory = parseQuantity(shape.memory)!
  const storageKi = PLATFORM_FACTS[profile.platform].ephemeralStorageKi
  const capacity: Record<string, string> = {
    cpu: shape.cpu,
    "ephemeral-storage": `${storageKi}Ki`,
    "hugepages-1Gi": "0",
    "hugepages-2Mi": "0",
    memory: `${Math.floor(memory / 1024)}Ki`,
    pods: String(shape.pods)
  }
  const allocatable: Record<string, string> = {
    ...capacity,
    cpu: `${Math.round(cores * 1000) - reservedMillicores(profile.platform, cores)}m`,
    "ephemeral-storage": String(Math.floor(storageKi * 1024 * 0.9)),
    memory: `${Math.floor((memory - reservedMemory(profile.platform, memory, shape.pods)) / 1024)}Ki`
  }
  if (shape.gpu !== undefined) {
    capacity["nvidia.com/gpu"] = String(shape.gpu.count)
    allocatable["nvidia.com/gpu"] = String(node.allocatableGpus)
  }
  if (shape.efa !== undefined && shape.efa > 0) {
    capacity["vpc.amazonaws.com/efa"] = String(shape.efa)
    allocatable["vpc.amazonaws.com/efa"] = String(shape.efa)
  }
  return { capacity: sorted(capacity), allocatable: sorted(allocatable) }
}

/** Labels that Node Feature Discovery and GPU Feature Discovery set: only present when the GPU operator runs. */
const isFeatureDiscoveryLabel = (key: string): boolean => key.startsWith("nvidia.com/") || key.startsWith("feature.node.kubernetes.io/")

const nodeLabels = (profile: Profile, node: ProfileNode): Record<string, string> => {
  const { pool, shape } = node
  const labels: Record<string, string> = {
    "beta.kubernetes.io/arch": "amd64",
    "beta.kubernetes.io/instance-type": shape.instanceType,
    "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    "kubernetes.io/hostname": node.name,
    "kubernetes.io/os": "linux",
    "node.kubernetes.io/instance-type": shape.instanceType
  }
  if (pool.zone !== undefined) {
    const region = PLATFORM_FACTS[profile.platform].region(pool.zone)
    labels["topology.kubernetes.io/zone"] = pool.zone
    labels["failure-domain.beta.kubernetes.io/zone"] = pool.zone
    if (region !== "") {
      labels["topology.kubernetes.io/region"] = region
      labels["failure-domain.beta.kubernetes.io/region"] = region
    }
    if (profile.platform === "gke") labels["topology.gke.io/zone"] = pool.zone
  }
  if (profile.platform === "eks") labels["eks.amazonaws.com/nodegroup"] = pool.name
  if (profile.platform === "gke") labels["cloud.google.com/gke-nodepool"] = pool.name
  const operator = profile.components.includes("gpu-operator")
  for (const [key, value] of Object.entries(shape.labels)) if (operator || !isFeatureDiscoveryLabel(key)) labels[key] = value
  return sorted(labels)
}

const nodeObject = (profile: Profile, node: ProfileNode, random: Random, time: string): KubeObject => {
  const facts = PLATFORM_FACTS[profile.platform]
  const { capacity, allocatable } = nodeResources(profile, node)
  const spec: Record<string, unknown> = {}
  if (profile.platform === "eks") spec["providerID"] = `aws:///${node.pool.zone ?? "us-east-1a"}/i-0${hex(random, 16)}`
  if (profile.platform === "gke") spec["providerID"] = `gce://aicr-sim/${node.pool.zone ?? "us-central1-a"}/${node.name}`
  if (node.shape.taints.length > 0) spec["taints"] = node.shape.taints.map((taint) => ({ ...taint }))
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: time,
    lastTransitionTime: time,
    reason,
    message
  })
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: node.name,
      labels: nodeLabels(profile, node),
      annotations: { "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true" }
    },
    spec,
    status: {
      capacity,
      allocatable,
      conditions: [
        condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")
      ],
      addresses: [
        { type: "InternalIP", address: facts.internalIp(node.ordinal) },
        { type: "Hostname", address: node.name }
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: hex(random, 32),
        systemUUID: profile.platform === "eks" ? `ec2${hex(random, 5)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 12)}` : uuid(random),
        bootID: uuid(random),
        kernelVersion: facts.kernelVersion,
        osImage: facts.osImage,
        containerRuntimeVersion: facts.containerRuntimeVersion,
        kubeletVersion: facts.kubeletVersion,
        operatingSystem: "linux",
        architecture: "amd64"
      }
    }
  }
}

/** A dotted version as a semantic version string (`9.0` → `9.0.0`, `570.172.08` → `570.172.8`). */
const semver = (version: string): string => {
  const parts = version.split(".").map((part) => String(Number(part)))
  while (parts.length < 3) parts.push("0")
  return parts.join(".")
}

const capitalize = (text: string): string => (text === "" ? text : `${text[0]!.toUpperCase()}${text.slice(1)}`)

/** The ResourceSlice the NVIDIA DRA driver's kubelet plugin publishes for a node: one device per allocatable GPU. */
const resourceSlice = (node: ProfileNode, random: Random): KubeObject => {
  const gpu = node.shape.gpu!
  const devices = Array.from({ length: node.allocatableGpus }, (_, index) => {
    const bus = (0x53 + 0x11 * index) & 0xff
    const busHex = bus.toString(16).padStart(2, "0")
    return {
      name: `gpu-${index}`,
      attributes: {
        architecture: { string: capitalize(gpu.architecture) },
        brand: { string: "Nvidia" },
        cudaComputeCapability: { version: semver(gpu.computeCapability) },
        cudaDriverVersion: { version: semver(gpu.cudaVersion) },
        driverVersion: { version: semver(gpu.driverVersion) },
        index: { int: index },
        minor: { int: index },
        pcieBusID: { string: `0000:${busHex}:00.0` },
        productName: { string: gpu.product.replaceAll("-", " ") },
        "resource.kubernetes.io/pcieRoot": { string: `pci0000:${(bus & 0xf0).toString(16).padStart(2, "0")}` },
        type: { string: "gpu" },
        uuid: { string: `GPU-${uuid(random)}` }
      },
      capacity: { memory: { value: `${gpu.memoryMiB}Mi` } }
    }
  })
  return {
    apiVersion: "resource.k8s.io/v1",
    kind: "ResourceSlice",
    metadata: { name: `${node.name}-${GPU_DRIVER}-${random.suffix()}` },
    spec: { driver: GPU_DRIVER, nodeName: node.name, pool: { name: node.name, generation: 1, resourceSliceCount: 1 }, devices }
  }
}

const deviceClass = (): KubeObject => ({
  apiVersion: "resource.k8s.io/v1",
  kind: "DeviceClass",
  metadata: { name: GPU_DRIVER },
  spec: { selectors: [{ cel: { expression: GPU_DEVICE_CLASS_SELECTOR } }] }
})

const SIM_ORIGIN = "kube-sim/origin"

/** A minimal `networks.networking.gke.io` CRD of the simulator's own (not GKE's schema): enough for GPU NIC discovery. */
const networkCrd = (): KubeObject => {
  const string = { type: "string" }
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: "networks.networking.gke.io",
      labels: { "app.kubernetes.io/managed-by": "kube-sim" },
      annotations: { [SIM_ORIGIN]: "a minimal stand-in written for kube-sim, not GKE's own Network CRD" }
    },
    spec: {
      group: "networking.gke.io",
      names: { plural: "networks", singular: "network", kind: "Network", listKind: "NetworkList" },
      scope: "Cluster",
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: {
                apiVersion: string,
                kind: string,
                metadata: { type: "object" },
                spec: {
                  type: "object",
                  required: ["type"],
                  properties: {
                    type: { type: "string", enum: ["L2", "L3", "Device"] },
                    provider: string,
                    parametersRef: {
                      type: "object",
                      required: ["group", "kind", "name"],
                      properties: { group: string, kind: string, name: string, namespace: string }
                    }
                  }
                },
                status: {
                  type: "object",
                  properties: {
                    conditions: {
                      type: "array",
                      items: {
                        type: "object",
                        required: ["type", "status"],
                        properties: {
                          type: string,
                          status: string,
                          reason: string,
                          message: string,
                          lastTransitionTime: { type: "string", format: "date-time" },
                          observedGeneration: { type: "integer", format: "int64" }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      ]
    }
  }
}

const network = (name: string, spec: Record<string, unknown>, time: string): KubeObject => ({
  apiVersion: "networking.gke.io/v1",
  kind: "Network",
  metadata: { name, labels: { "app.kubernetes.io/managed-by": "kube-sim" } },
  spec,
  status: { conditions: [{ type: "Ready", status: "True", reason: "NetworkReady", message: "", lastTransitionTime: time }] }
})

/** The CRD set each component installs (components without CRDs of their own are absent). */
const COMPONENT_CRDS: Partial<Record<Component, Parameters<typeof bundledCrds>[0]>> = {
  dynamo: "dynamo",
  "kubeflow-trainer": "kubeflow-trainer-v2.2.0"
}

const PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
const PAUSE_IMAGE_ID = "registry.k8s.io/pause@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a"

/** The pod (and, for a DRA claim, the allocated and reserved ResourceClaim) that holds GPUs of a node. */
const gpuHolder = (profile: Profile, use: GpuUse, node: ProfileNode, ordinal: number, firstDevice: number, random: Random, time: string): Array<KubeObject> => {
  const name = `${use.by === "dra-claim" ? "dra" : "plugin"}-holder-${use.node}-${ordinal}`
  const podUid = uuid(random)
  const labels = { "app.kubernetes.io/name": "gpu-holder", [SIM_ROLE_LABEL]: "gpu-holder" }
  const container: Record<string, unknown> = {
    name: "holder",
    image: PAUSE_IMAGE,
    imagePullPolicy: "IfNotPresent",
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File"
  }
  const spec: Record<string, unknown> = {
    nodeName: use.node,
    restartPolicy: "Always",
    schedulerName: "default-scheduler",
    dnsPolicy: "ClusterFirst",
    enableServiceLinks: true,
    priority: 0,
    preemptionPolicy: "PreemptLowerPriority",
    terminationGracePeriodSeconds: 30,
    securityContext: {},
    tolerations: [
      ...node.shape.taints.filter((taint) => taint.effect !== "NoExecute").map((taint) => ({ key: taint.key, operator: "Exists", effect: taint.effect })),
      { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 }
    ],
    containers: [container]
  }
  const objects: Array<KubeObject> = []
  if (use.by === "dra-claim") {
    container["resources"] = { claims: [{ name: "gpu" }] }
    spec["resourceClaims"] = [{ name: "gpu", resourceClaimName: name }]
    objects.push({
      apiVersion: "resource.k8s.io/v1",
      kind: "ResourceClaim",
      metadata: { name, namespace: GPU_HOLDERS_NAMESPACE, labels },
      spec: { devices: { requests: [{ name: "gpu", exactly: { deviceClassName: GPU_DRIVER, allocationMode: "ExactCount", count: use.gpus } }] } },
      status: {
        allocation: {
          devices: {
            results: Array.from({ length: use.gpus }, (_, index) => ({ request: "gpu", driver: GPU_DRIVER, pool: use.node, device: `gpu-${firstDevice + index}` }))
          },
          nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [use.node] }] }] }
        },
        reservedFor: [{ resource: "pods", name, uid: podUid }]
      }
    })
  } else {
    container["resources"] = { limits: { "nvidia.com/gpu": String(use.gpus) }, requests: { "nvidia.com/gpu": String(use.gpus) } }
  }
  const ip = `10.${200 + Math.floor(node.ordinal / 250)}.${node.ordinal % 250}.${ordinal + 1}`
  const ready = (type: string) => ({ type, status: "True", lastProbeTime: null, lastTransitionTime: time })
  objects.unshift({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: GPU_HOLDERS_NAMESPACE, uid: podUid, labels },
    spec,
    status: {
      phase: "Running",
      conditions: ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map(ready),
      hostIP: PLATFORM_FACTS[profile.platform].internalIp(node.ordinal),
      hostIPs: [{ ip: PLATFORM_FACTS[profile.platform].internalIp(node.ordinal) }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: time,
      qosClass: "BestEffort",
      containerStatuses: [
        {
          name: "holder",
          image: PAUSE_IMAGE,
          imageID: PAUSE_IMAGE_ID,
          containerID: `containerd://${hex(random, 64)}`,
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: time } },
          lastState: {}
        }
      ]
    }
  })
  return objects
}

/**
 * Everything a profile puts into a fresh cluster, in creation order: Nodes; with the DRA driver its DeviceClass and
 * one ResourceSlice per GPU node; on GKE a Network CRD of the simulator's own with the `default` and GPU NIC
 * networks; the components' CRDs; and the pods and claims of `gpuUse` (a holder Pod precedes its claim, whose
 * `reservedFor` names the pod's `metadata.uid`: `createProfileObjects` keeps that reference true after creation).
 * Identifiers (instance ids, GPU UUIDs, slice suffixes) come from the profile's seed.
 */
export const profileObjects = (profile: Profile): Array<KubeObject> => {
  const root = new Random(profile.seed)
  const time = now()
  const nodes = profileNodes(profile)
  const objects: Array<KubeObject> = nodes.map((node) => nodeObject(profile, node, root.fork(`node/${node.name}`), time))
  const gpuNodes = nodes.filter((node) => node.shape.gpu !== undefined)
  if (profile.components.includes("dra-driver")) {
    objects.push(deviceClass())
    for (const node of gpuNodes) objects.push(resourceSlice(node, root.fork(`slice/${node.name}`)))
  }
  if (profile.platform === "gke") {
    const nics = Math.max(0, ...nodes.map((node) => node.shape.gpuNics ?? 0))
    objects.push(networkCrd(), network("default", { type: "L3" }, time))
    for (let index = 0; index < nics; index++) {
      const name = `gpu-nic-${index}`
      objects.push(network(name, { type: "Device", parametersRef: { group: "networking.gke.io", kind: "GKENetworkParamSet", name } }, time))
    }
  }
  for (const component of COMPONENTS) {
    const set = COMPONENT_CRDS[component]
    if (set !== undefined && profile.components.includes(component)) objects.push(...bundledCrds(set))
  }
  if (profile.gpuUse.length > 0) {
    objects.push({ apiVersion: "v1", kind: "Namespace", metadata: { name: GPU_HOLDERS_NAMESPACE, labels: { "kubernetes.io/metadata.name": GPU_HOLDERS_NAMESPACE } } })
    const byName = new Map(nodes.map((node) => [node.name, node]))
    const claimed = new Map<string, number>()
    const count = new Map<string, number>()
    for (const use of profile.gpuUse) {
      const node = byName.get(use.node)
      if (node === undefined) continue
      const ordinal = (count.get(use.node) ?? 0) + 1
      count.set(use.node, ordinal)
      const first = claimed.get(use.node) ?? 0
      if (use.by === "dra-claim") claimed.set(use.node, first + use.gpus)
      objects.push(...gpuHolder(profile, use, node, ordinal, first, root.fork(`holder/${use.node}/${ordinal}`), time))
    }
  }
  return objects
}

/**
 * Creates `profileObjects(profile)` in `cluster` as direct (controller) writes, in order, and returns the stored
 * objects. ResourceSlices get their Node as owner (as the DRA kubelet plugin sets it), and a holder claim's
 * `reservedFor` names the uid its pod was stored with.
 */
export const createProfileObjects = (cluster: Cluster, profile: Profile): Array<KubeObject> => {
  const uids = new Map<string, string>()
  const created: Array<KubeObject> = []
  for (const object of profileObjects(profile)) {
    const type = cluster.registry.byKind(object.apiVersion, object.kind)
    if (type === undefined) throw new Error(`kube-sim: no resource type for ${object.apiVersion} ${object.kind}`)
    if (object.kind === "ResourceSlice") {
      const nodeName = (object["spec"] as { nodeName: string }).nodeName
      const uid = uids.get(`Node/${nodeName}`)
      if (uid !== undefined) object.metadata.ownerReferences = [{ apiVersion: "v1", kind: "Node", name: nodeName, uid, controller: true }]
    }
    if (object.kind === "ResourceClaim") {
      const status = object["status"] as { reservedFor: Array<{ name: string; uid: string }> }
      for (const consumer of status.reservedFor) consumer.uid = uids.get(`Pod/${consumer.name}`) ?? consumer.uid
    }
    const stored = cluster.create(type, object.metadata.namespace ?? "", object)
    uids.set(`${object.kind}/${stored.metadata.name}`, stored.metadata.uid!)
    created.push(stored)
  }
  return created
}
