/**
 * nccl-tests `all_reduce_perf`: the bandwidth model of a profile, the table nccl-tests prints, and the workloads
 * that play the MPI launcher of a TrainJob, its sshd workers and the helper containers around them.
 *
 * Output format: NVIDIA/nccl-tests `src/util.cu` (v2.16–v2.19: `writeDeviceReport`, `writeResultHeader`,
 * `writeBenchmarkLinePreamble`, `writeBenchmarkLineBody`, `getFloatStr`, `writeResultFooter`); the legacy layout
 * (no `root` column, float `error` column) follows the launcher log in aws-samples/aws-efa-eks.
 */
import { readFile } from "node:fs/promises"
import type { KubeObject } from "../types.ts"
import type { ContainerResult, ContainerRun, NcclModel, Random, Workload, World } from "../world.ts"
import { commandText, commandWords, simpleCommand } from "./shell.ts"
import { containerEnv, containersOf, gpuShape, isRunning, labelsOf, nodeNamed, podsIn, resourceAmount, simulatedSleep, specOf, statusOf, untilAborted } from "./pods.ts"

export type NcclFabric = NcclModel["fabric"]

const MiB = 1024 ** 2
const GiB = 1024 ** 3
const FLOAT_BYTES = 4

// ---------------------------------------------------------------------------------------------------------------
// The bandwidth model

export interface NcclCurveOptions {
  readonly nodes: number
  readonly gpusPerNode: number
  readonly model: NcclModel
  /** The fabric the run actually uses (`tcp` when the nodes' adapters are not given to the pods). */
  readonly fabric: NcclFabric
  /** GPUs per node the model's inter-node figure was measured with (default: `gpusPerNode`). */
  readonly fullNodeGpus?: number | undefined
}

/** Time and bus bandwidth of one all-reduce as a function of the message size. */
export interface NcclCurve {
  readonly ranks: number
  /** `2(n−1)/n`: bus bytes per message byte. */
  readonly busFactor: number
  readonly latencyUs: number
  /** Extra per-operation time that grows in with the message size (protocol and pipeline start-up). */
  readonly rampUs: number
  /** Asymptotic bus bandwidth (GB/s) the curve tends to for very large messages. */
  readonly peakGBps: number
  timeUs(bytes: number): number
  /** Bus bandwidth (GB/s) without noise. */
  busBandwidth(bytes: number): number
}

const nodeScale = (nodes: number): number => 1 / (1 + 0.05 * Math.log2(Math.max(1, nodes)))

/**
 * The latency–bandwidth model: `time = latency + ramp·X/(X+H) + X/peak` with `X = 2(n−1)/n · bytes` bus bytes, and
 * `peak` solved so that the bus bandwidth at the model's anchor size equals the anchor figure exactly.
 *
 * - one node: the NVLink figure (`intraNode`), latency 0.4× the model's (at least 4 µs);
 * - several nodes over the fabric (`efa`, `tcpxo`): `interNode`, scaled by `(1+0.05·log2 N₀)/(1+0.05·log2 N)` for
 *   N nodes against the anchor's N₀ (rings get longer), and by the share of a node's GPUs taking part (each GPU
 *   brings its own NICs); latency grows by a quarter per doubling of nodes;
 * - several nodes over plain TCP (`tcp`, or `nvlink-only` across nodes): `tcpBusBandwidthGBps` at 4 GiB, with
 *   four times the latency.
 */
export const ncclCurve = (options: NcclCurveOptions): NcclCurve => {
  const { nodes, gpusPerNode, model } = options
  const ranks = Math.max(1, nodes * gpusPerNode)
  const busFactor = ranks > 1 ? (2 * (ranks - 1)) / ranks : 0
  const fullNodeGpus = Math.max(1, options.fullNodeGpus ?? gpusPerNode)
  let anchorGBps: number
  let anchorBytes: number
  let latencyUs: number
  let rampUs: number
  let halfBytes: number
  if (nodes <= 1) {
    anchorGBps = model.intraNode.busBandwidthGBps
    anchorBytes = model.intraNode.atBytes
    latencyUs = Math.max(4, 0.4 * model.latencyUs)
    rampUs = 4 * latencyUs
    halfBytes = 4 * MiB
  } else if (options.fabric === "tcp" || options.fabric === "nvlink-only") {
    anchorGBps = model.tcpBusBandwidthGBps
    anchorBytes = 4 * GiB
    latencyUs = 4 * model.latencyUs
    rampUs = 8 * model.latencyUs
    halfBytes = 8 * MiB
  } else {
    const share = Math.min(1, gpusPerNode / fullNodeGpus)
    anchorGBps = (model.interNode.busBandwidthGBps * nodeScale(nodes)) / nodeScale(model.interNode.nodes) * share
    anchorBytes = model.interNode.atBytes
    latencyUs = model.latencyUs * Math.max(0.5, 1 + 0.25 * Math.log2(nodes / Math.max(1, model.interNode.nodes)))
    rampUs = 6 * model.latencyUs
    halfBytes = 4 * MiB
  }
  const ramp = (bus: number) => (rampUs * bus) / (bus + halfBytes)
  const anchorBus = Math.max(1, busFactor) * anchorBytes
  const budgetUs = anchorBus / (anchorGBps * 1e3) - latencyUs - ramp(anchorBus)
  const peakGBps = budgetUs > 0 ? anchorBus / (budgetUs * 1e3) : anchorGBps
  const timeUs = (bytes: number) => {
    const bus = Math.max(1, busFactor) * bytes
    return latencyUs + ramp(bus) + bus / (peakGBps * 1e3)
  }
  return {
    ranks,
    busFactor,
    latencyUs,
    rampUs,
    peakGBps,
    timeUs,
    busBandwidth: (bytes) => (busFactor * bytes) / (timeUs(bytes) * 1e3)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The table

/** nccl-tests' size argument: digits with an optional binary suffix `K`, `M`, `G` (either case). */
export const parseSize = (value: string): number | undefined => {
  const match = /^(\d+)([kKmMgGtT]?)$/.exec(value.trim())
  if (match === null) return undefined
  const unit = { "": 1, k: 1024, m: MiB, g: GiB, t: 1024 * GiB }[match[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"]
  return Number(match[1]) * unit
}

/** The message sizes of a sweep: `min`, then ×`stepFactor` (or +`stepBytes` when the factor is 1) up to `max`. */
export const messageSizes = (minBytes: number, maxBytes: number, stepFactor: number, stepBytes = MiB): Array<number> => {
  const sizes: Array<number> = []
  for (let size = minBytes; size <= maxBytes && sizes.length < 4096; size = stepFactor > 1 ? size * stepFactor : size + Math.max(1, stepBytes)) {
    sizes.push(size)
    if (size === 0) break
  }
  return sizes
}

export interface NcclVersions {
  /** nccl-tests version, e.g. `2.16.9`. */
  readonly tests: string
  /** NCCL library version, e.g. `2.27.7`. */
  readonly nccl: string
  readonly cuda: string
}

export interface AllReducePerfOptions {
  readonly minBytes: number
  readonly maxBytes: number
  readonly stepFactor: number
  /** Step in bytes when `stepFactor` is 1 (`-i`, default 1 MiB). */
  readonly stepBytes?: number | undefined
  readonly nodes: number
  readonly gpusPerNode: number
  readonly model: NcclModel
  readonly fabric: NcclFabric
  readonly random: Random
  /** `-n` (default 20). */
  readonly iterations?: number | undefined
  /** `-w` (default 5 before nccl-tests 2.17, 1 since). */
  readonly warmup?: number | undefined
  /** `false`: the pre-2.13 layout without the `root` column and with a float `error` column. Default `true`. */
  readonly rootColumn?: boolean | undefined
  readonly fullNodeGpus?: number | undefined
  /** Host name of each node (default `node-1`…). */
  readonly hosts?: ReadonlyArray<string> | undefined
  /** Device name in the rank lines (default `NVIDIA H100 80GB HBM3`). */
  readonly gpuName?: string | undefined
  /** The test binary's name in the `Collective test` lines (default `all_reduce_perf`). */
  readonly program?: string | undefined
  readonly versions?: NcclVersions | undefined
  /** `NCCL_DEBUG`: `WARN` prints NCCL's version line, `INFO` also its transport lines. */
  readonly ncclDebug?: string | undefined
}

export interface AllReducePerfRow {
  readonly bytes: number
  readonly line: string
  readonly outOfPlace: { readonly timeUs: number; readonly algBw: number; readonly busBw: number }
  readonly inPlace: { readonly timeUs: number; readonly algBw: number; readonly busBw: number }
}

export interface AllReducePerfOutput {
  readonly header: string
  readonly rows: ReadonlyArray<AllReducePerfRow>
  readonly trailer: string
  readonly averageBusBandwidth: number
}

export const DEFAULT_NCCL_VERSIONS: NcclVersions = { tests: "2.16.9", nccl: "2.27.7", cuda: "12.8" }

const versionAtLeast = (version: string, major: number, minor: number): boolean => {
  const [a = 0, b = 0] = version.split(".").map(Number)
  return a > major || (a === major && b >= minor)
}

const ncclCode = (version: string): number => {
  const [major = 0, minor = 0, patch = 0] = version.split(".").map(Number)
  return major * 10000 + minor * 100 + patch
}

/** C's `%.<digits>e` (two-digit exponent at least). */
const cExponential = (value: number, digits: number): string => {
  const [mantissa, exponent = "+0"] = value.toExponential(digits).split("e")
  const sign = exponent.startsWith("-") ? "-" : "+"
  return `${mantissa}e${sign}${exponent.replace(/^[+-]/, "").padStart(2, "0")}`
}

/** C's `%g` (six significant digits, trailing zeros dropped). */
export const formatG = (value: number): string => {
  if (value === 0 || !Number.isFinite(value)) return value === 0 ? "0" : String(value)
  const rounded = Number(value.toPrecision(6))
  const exponent = Math.floor(Math.log10(Math.abs(rounded)))
  const strip = (digits: string) => (digits.includes(".") ? digits.replace(/\.?0+$/, "") : digits)
  if (exponent < -4 || exponent >= 6) {
    const [mantissa, rest] = cExponential(value, 5).split("e")
    return `${strip(mantissa!)}e${rest}`
  }
  return strip(value.toFixed(Math.max(0, 5 - exponent)))
}

/** nccl-tests' `getFloatStr`: as many decimals as the field width leaves room for. */
const floatField = (value: number, width: number): string => {
  let power = 0
  for (let step = 1; value >= step && power < 40; step *= 10) power++
  if (power < width - 2) return value.toFixed(2).padStart(width)
  if (power < width - 1) return value.toFixed(1).padStart(width)
  if (power < width + 1) return value.toFixed(0).padStart(width)
  return cExponential(value, width >= 7 ? 1 : 0).padStart(width)
}

const legacyTime = (value: number): string => (value < 1e4 ? value.toFixed(1) : value.toFixed(0)).padStart(7)

/** PCI bus numbers of the eight GPUs of an HGX H100 board (p5.48xlarge). */
const PCI_BUSES = [0x53, 0x64, 0x75, 0x86, 0x97, 0xa8, 0xb9, 0xca]

/**
 * The output of `all_reduce_perf` for one run, in parts: header, one row per size (out-of-place then in-place,
 * each with its own noise; algbw = bytes/time, busbw = algbw·2(n−1)/n, computed before rounding), and trailer.
 */
export const allReducePerf = (options: AllReducePerfOptions): AllReducePerfOutput => {
  const versions = options.versions ?? DEFAULT_NCCL_VERSIONS
  const modern = options.rootColumn ?? true
  const program = options.program ?? "all_reduce_perf"
  const iterations = options.iterations ?? 20
  const warmup = options.warmup ?? (versionAtLeast(versions.tests, 2, 17) ? 1 : 5)
  const stepFactor = options.stepFactor
  const stepBytes = options.stepBytes ?? MiB
  const random = options.random
  const curve = ncclCurve(options)
  const gpuName = options.gpuName ?? "NVIDIA H100 80GB HBM3"
  const hosts = Array.from({ length: Math.max(1, options.nodes) }, (_, index) => options.hosts?.[index] ?? `node-${index + 1}`)
  const lines: Array<string> = []
  const step = stepFactor > 1 ? `${stepFactor}(factor)` : `${stepBytes}(bytes)`
  if (modern) {
    lines.push(`# nccl-tests version ${versions.tests} nccl-headers=${ncclCode(versions.nccl)} nccl-library=${ncclCode(versions.nccl)}`)
    lines.push(`# Collective test starting: ${program}`)
    const unalign = versionAtLeast(versions.tests, 2, 18) ? " unalign: 0" : ""
    lines.push(`# nThread 1 nGpus 1 minBytes ${options.minBytes} maxBytes ${options.maxBytes} step: ${step} warmup iters: ${warmup} iters: ${iterations} agg iters: 1 validation: 1 graph: 0${unalign}`)
  } else {
    lines.push(`# nThread 1 nGpus 1 minBytes ${options.minBytes} maxBytes ${options.maxBytes} step: ${step} warmup iters: ${warmup} iters: ${iterations} validation: 1 `)
  }
  lines.push("#", "# Using devices")
  const pids = hosts.map(() => 100 + random.int(900))
  for (let rank = 0; rank < curve.ranks; rank++) {
    const node = Math.floor(rank / Math.max(1, options.gpusPerNode))
    const device = rank % Math.max(1, options.gpusPerNode)
    const host = hosts[Math.min(node, hosts.length - 1)]!
    const pid = pids[Math.min(node, pids.length - 1)]! + device
    const bus = PCI_BUSES[device % PCI_BUSES.length]!
    if (modern) {
      lines.push(`#  Rank ${String(rank).padStart(2)} Group  0 Pid ${String(pid).padStart(6)} on ${host.padStart(10)} device ${String(device).padStart(2)} [0000:${bus.toString(16).padStart(2, "0")}:00] ${gpuName}`)
    } else {
      lines.push(`#   Rank ${String(rank).padStart(2)} Pid ${String(pid).padStart(6)} on ${host.padStart(10)} device ${String(device).padStart(2)} [0x${bus.toString(16).padStart(2, "0")}] ${gpuName}`)
    }
  }
  const debug = options.ncclDebug?.toUpperCase()
  if (debug === "INFO") {
    const prefix = `${hosts[0]}:${pids[0]}:${pids[0]} [0] NCCL INFO`
    const network = options.nodes <= 1 ? undefined : options.fabric === "efa" ? "AWS Libfabric" : options.fabric === "tcpxo" ? "FasTrak" : "Socket"
    lines.push(`${prefix} Bootstrap: Using eth0:10.0.${random.int(250)}.${1 + random.int(250)}<0>`)
    if (options.fabric === "efa" && options.nodes > 1) lines.push(`${prefix} NET/OFI Selected provider is efa, fabric is efa (found ${4 * Math.max(1, options.gpusPerNode)} nics)`)
    if (network !== undefined) lines.push(`${prefix} Using network ${network}`)
  }
  if (debug !== undefined && debug !== "" && debug !== "NONE") lines.push(`NCCL version ${versions.nccl}+cuda${versions.cuda}`)
  if (modern) {
    lines.push("#")
    lines.push(`# ${"".padStart(10)}  ${"".padStart(12)}  ${"".padStart(8)}  ${"".padStart(6)}  ${"".padStart(6)}           out-of-place                       in-place          `)
    lines.push(`# ${"size".padStart(10)}  ${"count".padStart(12)}  ${"type".padStart(8)}  ${"redop".padStart(6)}  ${"root".padStart(6)}  ${"time".padStart(7)}  ${"algbw".padStart(6)}  ${"busbw".padStart(6)}  ${"#wrong".padStart(6)}  ${"time".padStart(7)}  ${"algbw".padStart(6)}  ${"busbw".padStart(6)}  ${"#wrong".padStart(6)} `)
    lines.push(`# ${"(B)".padStart(10)}  ${"(elements)".padStart(12)}  ${"".padStart(8)}  ${"".padStart(6)}  ${"".padStart(6)}  ${"(us)".padStart(7)}  ${"(GB/s)".padStart(6)}  ${"(GB/s)".padStart(6)}  ${"".padStart(6)}  ${"(us)".padStart(7)}  ${"(GB/s)".padStart(6)}  ${"(GB/s)".padStart(6)}  ${"".padStart(6)} `)
  } else {
    lines.push("#")
    lines.push("#                                                     out-of-place                       in-place          ")
    lines.push("#       size         count    type   redop     time   algbw   busbw  error     time   algbw   busbw  error")
    lines.push("#        (B)    (elements)                     (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)       ")
  }
  const header = lines.map((line) => `${line}\n`).join("")

  const measure = (bytes: number) => {
    const base = curve.timeUs(bytes)
    const spread = options.model.noise * (1 + (3 * curve.latencyUs) / base)
    const timeUs = base * Math.max(0.5, random.normal(1, spread))
    const algBw = bytes / (timeUs * 1e3)
    return { timeUs, algBw, busBw: algBw * curve.busFactor }
  }
  const rows: Array<AllReducePerfRow> = []
  let total = 0
  for (const size of messageSizes(options.minBytes, options.maxBytes, stepFactor, stepBytes)) {
    const count = Math.floor(size / FLOAT_BYTES)
    const bytes = count * FLOAT_BYTES
    const outOfPlace = measure(bytes)
    const inPlace = measure(bytes)
    total += outOfPlace.busBw + inPlace.busBw
    const part = (result: { timeUs: number; algBw: number; busBw: number }) =>
      modern
        ? `  ${floatField(result.timeUs, 7)}  ${floatField(result.algBw, 6)}  ${floatField(result.busBw, 6)}  ${"0".padStart(6)}`
        : `  ${legacyTime(result.timeUs)}  ${result.algBw.toFixed(2).padStart(6)}  ${result.busBw.toFixed(2).padStart(6)}  0e+00`
    const preamble = modern
      ? `${String(bytes).padStart(12)}  ${String(count).padStart(12)}  ${"float".padStart(8)}  ${"sum".padStart(6)}  ${"-1".padStart(6)}`
      : `${String(bytes).padStart(12)}  ${String(count).padStart(12)}  ${"float".padStart(6)}  ${"sum".padStart(6)}`
    rows.push({ bytes, line: `${preamble}${part(outOfPlace)}${part(inPlace)}\n`, outOfPlace, inPlace })
  }
  const averageBusBandwidth = rows.length === 0 ? 0 : total / (2 * rows.length)
  const trailer = [
    "# Out of bounds values : 0 OK",
    `# Avg bus bandwidth    : ${formatG(averageBusBandwidth)} `,
    "#",
    ...(modern ? [`# Collective test concluded: ${program}`, "#", ""] : [])
  ]
    .map((line) => `${line}\n`)
    .join("")
  return { header, rows, trailer, averageBusBandwidth }
}

/** The whole `all_reduce_perf` output as one string (see `allReducePerf`). */
export const allReducePerfTable = (options: AllReducePerfOptions): string => {
  const output = allReducePerf(options)
  return output.header + output.rows.map((row) => row.line).join("") + output.trailer
}

// ---------------------------------------------------------------------------------------------------------------
// The launcher command line

export interface NcclLaunch {
  /** `mpirun -np`: total ranks. */
  readonly ranks?: number | undefined
  /** Path of the test binary as written. */
  readonly binary?: string | undefined
  readonly minBytes: number
  readonly maxBytes: number
  readonly stepFactor: number
  readonly stepBytes: number
  readonly iterations?: number | undefined
  readonly warmup?: number | undefined
  /** ssh `ConnectionAttempts` from `plm_rsh_args` (how long mpirun waits for the workers' sshd). */
  readonly connectionAttempts?: number | undefined
  /** `NCCL_DEBUG` exported with `-x`. */
  readonly ncclDebug?: string | undefined
}

const TEST_BINARY = /(?:^|\/)[a-z_]+_perf(?:_mpi)?$/

const LONG_FLAGS: Record<string, string> = { minbytes: "b", maxbytes: "e", stepfactor: "f", stepbytes: "i", iters: "n", warmup_iters: "w", ngpus: "g" }

/** Reads an `mpirun … all_reduce_perf -b … -e … -f …` command line (defaults as nccl-tests: 32M..32M, step 1M). */
export const parseLaunch = (words: ReadonlyArray<string>): NcclLaunch => {
  const start = words.findIndex((word) => TEST_BINARY.test(word))
  const before = start === -1 ? words : words.slice(0, start)
  let ranks: number | undefined
  let ncclDebug: string | undefined
  let connectionAttempts: number | undefined
  for (let index = 0; index < before.length; index++) {
    const word = before[index]!
    if ((word === "-np" || word === "-n" || word === "--np" || word === "-c") && before[index + 1] !== undefined) {
      const value = Number.parseInt(before[index + 1]!, 10)
      if (Number.isFinite(value)) ranks = value
    }
    if (word === "-x" && before[index + 1]?.startsWith("NCCL_DEBUG=") === true) ncclDebug = before[index + 1]!.slice("NCCL_DEBUG=".length)
    const attempts = /ConnectionAttempts=(\d+)/.exec(word)
    if (attempts !== null) connectionAttempts = Number(attempts[1])
  }
  const flags = new Map<string, string>()
  if (start !== -1) {
    const args = simpleCommand(words, start + 1)
    for (let index = 0; index < args.length; index++) {
      const word = args[index]!
      const long = /^--([a-z_]+)(?:=(.*))?$/.exec(word)
      if (long !== null) {
        const short = LONG_FLAGS[long[1]!]
        const value = long[2] ?? args[++index]
        if (short !== undefined && value !== undefined) flags.set(short, value)
        continue
      }
      const short = /^-([a-zA-Z])(.*)$/.exec(word)
      if (short === null) continue
      const value = short[2] !== "" ? short[2] : args[++index]
      if (value !== undefined) flags.set(short[1]!, value)
    }
  }
  const size = (flag: string, fallback: number) => parseSize(flags.get(flag) ?? "") ?? fallback
  const integer = (flag: string) => {
    const value = Number.parseInt(flags.get(flag) ?? "", 10)
    return Number.isFinite(value) ? value : undefined
  }
  return {
    ranks,
    binary: start === -1 ? undefined : words[start],
    minBytes: size("b", 32 * MiB),
    maxBytes: size("e", 32 * MiB),
    stepFactor: integer("f") ?? 1,
    stepBytes: size("i", MiB),
    iterations: integer("n"),
    warmup: integer("w"),
    connectionAttempts,
    ncclDebug
  }
}

/** Versions from an image reference such as `…/nccl-tests:cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9`. */
export const versionsFromImage = (image: string): NcclVersions => {
  const tests = /testsv?(\d+\.\d+\.\d+)/.exec(image)?.[1]
  const nccl = /ncclv?(\d+\.\d+\.\d+)/.exec(image)?.[1]
  const cuda = /cuda(\d+\.\d+)/.exec(image)?.[1]
  return { tests: tests ?? DEFAULT_NCCL_VERSIONS.tests, nccl: nccl ?? DEFAULT_NCCL_VERSIONS.nccl, cuda: cuda ?? DEFAULT_NCCL_VERSIONS.cuda }
}

// ---------------------------------------------------------------------------------------------------------------
// Workloads

const JOBSET_NAME = "jobset.sigs.k8s.io/jobset-name"
const REPLICATED_JOB = "jobset.sigs.k8s.io/replicatedjob-name"
const JOB_INDEX = "jobset.sigs.k8s.io/job-index"

/** Images the nccl-tests emulators accept by default: nccl-tests builds and the NGC PyTorch image (GKE). */
export const NCCL_IMAGES: ReadonlyArray<RegExp> = [/nccl/i, /\/pytorch:/i, /hpc-cloud/i]

export interface NcclWorkloadOptions {
  /** Images (besides `NCCL_IMAGES`) whose containers the nccl-tests emulators play, e.g. a runtime-image override. */
  readonly images?: ReadonlyArray<RegExp | string> | undefined
}

const imageMatcher = (options: NcclWorkloadOptions) => {
  const patterns = [...NCCL_IMAGES, ...(options.images ?? [])]
  return (image: string) => patterns.some((pattern) => (typeof pattern === "string" ? image === pattern : pattern.test(image)))
}

const LAUNCH = /\bmpirun\b|\b[a-z_]+_perf(?:_mpi)?\b/

/** Where an MPI host is: the worker pod serving it. */
interface Host {
  readonly name: string
  readonly pod?: KubeObject | undefined
}

const hostOf = (pod: KubeObject): string => {
  const spec = specOf(pod)
  const hostname = typeof spec["hostname"] === "string" ? spec["hostname"] : pod.metadata.name!
  return typeof spec["subdomain"] === "string" ? `${hostname}.${spec["subdomain"]}` : hostname
}

const workersOf = (world: World, launcher: KubeObject): Array<KubeObject> => {
  const labels = labelsOf(launcher)
  const jobset = labels[JOBSET_NAME]
  if (jobset === undefined) return []
  return podsIn(world, launcher.metadata.namespace ?? "default")
    .filter((pod) => labelsOf(pod)[JOBSET_NAME] === jobset && labelsOf(pod)[REPLICATED_JOB] !== labels[REPLICATED_JOB] && pod.metadata.deletionTimestamp === undefined)
    .sort((a, b) => Number(labelsOf(a)[JOB_INDEX] ?? 0) - Number(labelsOf(b)[JOB_INDEX] ?? 0) || a.metadata.name!.localeCompare(b.metadata.name!))
}

/** The hostfile the Trainer's MPI plugin writes (`<trainjob>-mpi-hostfile`, key `hostfile`): host and slots per line. */
const hostfileOf = (world: World, launcher: KubeObject): Array<{ host: string; slots?: number }> | undefined => {
  const jobset = labelsOf(launcher)[JOBSET_NAME]
  if (jobset === undefined) return undefined
  const configMap = world.cluster.store.get("/configmaps", launcher.metadata.namespace ?? "default", `${jobset}-mpi-hostfile`)
  const data = configMap?.["data"] as Record<string, unknown> | undefined
  const text = typeof data?.["hostfile"] === "string" ? data["hostfile"] : undefined
  if (text === undefined) return undefined
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [host = "", ...rest] = line.split(/\s+/)
      const slots = /slots=(\d+)/.exec(rest.join(" "))?.[1]
      return slots === undefined ? { host } : { host, slots: Number(slots) }
    })
}

/** The fabric the workers can use: EFA only when they were given EFA adapters, TCPXO only with its daemon. */
const effectiveFabric = (model: NcclModel, workers: ReadonlyArray<KubeObject>): NcclFabric => {
  if (workers.length === 0) return model.fabric
  switch (model.fabric) {
    case "efa":
      return workers.every((pod) => resourceAmount(pod, "vpc.amazonaws.com/efa") > 0) ? "efa" : "tcp"
    case "tcpxo":
      return workers.every((pod) => containersOf(pod).some((container) => container["name"] === "tcpxo-daemon" || /tcpgpudmarxd/.test(String(container["image"] ?? "")))) ? "tcpxo" : "tcp"
    default:
      return "tcp"
  }
}

const MPI_ABORT_RULE = "--------------------------------------------------------------------------"

const sshError = (host: Host): string =>
  host.pod === undefined || typeof statusOf(host.pod)["podIP"] !== "string"
    ? `ssh: Could not resolve hostname ${host.name}: Name or service not known`
    : `ssh: connect to host ${host.name} port 22: Connection refused`

const daemonFailure = (hosts: ReadonlyArray<Host>): string =>
  [
    ...hosts.map(sshError),
    MPI_ABORT_RULE,
    "ORTE was unable to reliably start one or more daemons.",
    "This usually is caused by:",
    "",
    "* the remote host refusing or timing out the ssh connection mpirun",
    "  uses to start its daemon (is sshd running on every worker?)",
    "",
    "* not finding the required libraries and/or binaries on one or",
    "  more nodes.",
    MPI_ABORT_RULE,
    ""
  ].join("\n")

const lostDaemon = (host: string): string =>
  [
    MPI_ABORT_RULE,
    "ORTE has lost communication with a remote daemon.",
    "",
    `  HNP daemon   : [[4242,0],0] on node launcher`,
    `  Remote daemon: [[4242,0],1] on node ${host}`,
    "",
    "This is usually due to either a failure of the TCP network",
    "connection to the node, or possibly an internal failure of",
    "the daemon itself. We cannot recover from this failure, and",
    "therefore will terminate the job.",
    MPI_ABORT_RULE,
    ""
  ].join("\n")

const productName = (product: string | undefined): string | undefined => product?.replace(/-/g, " ")

const runLauncher = async (run: ContainerRun): Promise<ContainerResult> => {
  const { world, pod, container, signal } = run
  const model = world.profile.performance.nccl
  const env = containerEnv(world, pod, container.name)
  for (const variable of container.env ?? []) if (variable.value !== undefined && !env.has(variable.name)) env.set(variable.name, variable.value)
  const launch = parseLaunch(commandWords(container, env))
  const shape = gpuShape(world)
  const hostfile = hostfileOf(world, pod)
  const expected: Array<Host> =
    hostfile?.map((entry) => ({ name: entry.host })) ?? workersOf(world, pod).map((worker) => ({ name: hostOf(worker), pod: worker }))
  const hasWorkers = labelsOf(pod)[JOBSET_NAME] !== undefined
  const resolve = (): Array<Host> => {
    const workers = workersOf(world, pod)
    if (hostfile === undefined) return workers.map((worker) => ({ name: hostOf(worker), pod: worker }))
    const byName = (host: Host) => workers.find((worker) => host.name === hostOf(worker) || host.name.split(".")[0] === hostOf(worker).split(".")[0])
    const named = expected.map(byName)
    const spare = workers.filter((worker) => !named.includes(worker))
    return expected.map((host, index) => ({ name: host.name, pod: named[index] ?? spare.shift() }))
  }
  const down = (hosts: ReadonlyArray<Host>) => hosts.filter((host) => host.pod === undefined || !isRunning(host.pod))
  let hosts = resolve()
  if (hasWorkers) {
    const attempts = launch.connectionAttempts ?? 10
    for (let attempt = 0; (hosts.length === 0 || down(hosts).length > 0) && attempt < attempts; attempt++) {
      if (!(await simulatedSleep(world, 1, signal))) return { exitCode: 137 }
      hosts = resolve()
    }
    const missing = hosts.length === 0 ? [{ name: `${labelsOf(pod)[JOBSET_NAME]}-node-0-0` }] : down(hosts)
    if (missing.length > 0) {
      run.log(daemonFailure(missing))
      return { exitCode: 1 }
    }
  }
  if (world.profile.replay.nccl !== undefined) {
    let recorded: string
    try {
      recorded = await readFile(world.profile.replay.nccl, "utf8")
    } catch (error) {
      run.log(`kube-sim: cannot read the recorded nccl-tests output ${world.profile.replay.nccl}: ${(error as Error).message}\n`)
      return { exitCode: 1 }
    }
    if (!(await simulatedSleep(world, model.runSeconds, signal))) return { exitCode: 137 }
    run.log(recorded)
    return { exitCode: 0 }
  }
  if (launch.binary === undefined) {
    run.log(`${MPI_ABORT_RULE}\nmpirun was unable to find the specified executable file, and therefore\ndid not launch the job.\n${MPI_ABORT_RULE}\n`)
    return { exitCode: 1 }
  }
  const nodes = Math.max(1, hasWorkers ? hosts.length : Math.ceil((launch.ranks ?? shape?.gpu?.count ?? 1) / Math.max(1, shape?.gpu?.count ?? 1)))
  const slots = hostfile?.[0]?.slots
  const gpusPerNode = Math.max(1, slots ?? (launch.ranks === undefined ? (shape?.gpu?.count ?? 1) : Math.floor(launch.ranks / nodes)))
  const workers = hosts.flatMap((host) => (host.pod === undefined ? [] : [host.pod]))
  const node = nodeNamed(world, specOf(workers[0])["nodeName"] as string | undefined)
  const nodeGpus = Number.parseInt(String((statusOf(node)["capacity"] as Record<string, unknown> | undefined)?.["nvidia.com/gpu"] ?? ""), 10)
  const output = allReducePerf({
    minBytes: launch.minBytes,
    maxBytes: launch.maxBytes,
    stepFactor: launch.stepFactor,
    stepBytes: launch.stepBytes,
    iterations: launch.iterations,
    warmup: launch.warmup,
    nodes,
    gpusPerNode,
    model,
    fabric: effectiveFabric(model, workers),
    random: world.random("nccl-tests"),
    fullNodeGpus: Number.isFinite(nodeGpus) && nodeGpus > 0 ? nodeGpus : (shape?.gpu?.count ?? gpusPerNode),
    hosts: hosts.length > 0 ? hosts.map((host) => (host.pod === undefined ? host.name : (specOf(host.pod)["hostname"] as string | undefined) ?? host.pod.metadata.name!)) : undefined,
    gpuName: productName(labelsOf(node)["nvidia.com/gpu.product"]) ?? productName(shape?.gpu?.product),
    program: launch.binary.split("/").pop(),
    versions: versionsFromImage(container.image),
    ncclDebug: launch.ncclDebug ?? env.get("NCCL_DEBUG")
  })
  const weights = output.rows.map((row) => 2 * (row.outOfPlace.timeUs + row.inPlace.timeUs) + 1e5)
  const totalWeight = weights.reduce((sum, weight) => sum + weight, 0)
  if (!(await simulatedSleep(world, model.runSeconds * 0.1, signal))) return { exitCode: 137 }
  run.log(output.header)
  for (const [index, row] of output.rows.entries()) {
    if (!(await simulatedSleep(world, (model.runSeconds * 0.9 * weights[index]!) / totalWeight, signal))) return { exitCode: 137 }
    if (hasWorkers) {
      const lost = down(resolve())
      if (lost.length > 0) {
        run.log(lostDaemon(lost[0]!.name))
        return { exitCode: 1 }
      }
    }
    run.log(row.line)
  }
  run.log(output.trailer)
  if (!/termination-log/.test(commandText(container))) return { exitCode: 0 }
  const results = [...output.rows.map((row) => row.line), ...output.trailer.split(/(?<=\n)/).filter((line) => line.includes("Avg bus bandwidth"))].join("")
  return { exitCode: 0, message: Buffer.from(results).subarray(-3900).toString() }
}

/**
 * The MPI launcher of an nccl-tests TrainJob: an nccl-tests (or NGC PyTorch) image whose command runs `mpirun` or
 * an `*_perf` binary. It waits for the workers' sshd (one simulated second per ssh `ConnectionAttempts`), then
 * prints the `all_reduce_perf` table of the profile's model over `runSeconds` and exits 0; with
 * `profile.replay.nccl` it prints that file instead. Workers that never come up fail it like OpenMPI does. A
 * launcher script that writes `/dev/termination-log` (GKE, aicr #1713) gets the result rows and the average as
 * its termination message (last 3900 bytes).
 */
export const ncclLauncher = (options: NcclWorkloadOptions = {}): Workload => {
  const image = imageMatcher(options)
  return {
    name: "nccl-tests-launcher",
    matches: (_pod, container) => image(container.image) && LAUNCH.test(commandText(container)),
    run: runLauncher
  }
}

/** An nccl-tests worker: `sshd -De` (directly or at the end of a setup script); Ready once listening, runs until deleted. */
export const ncclWorker = (options: NcclWorkloadOptions = {}): Workload => {
  const image = imageMatcher(options)
  return {
    name: "nccl-tests-worker",
    matches: (_pod, container) => image(container.image) && /\bsshd\b/.test(commandText(container)) && !LAUNCH.test(commandText(container)),
    run: async (run) => {
      run.log("Server listening on 0.0.0.0 port 22.\nServer listening on :: port 22.\n")
      run.setReady(true)
      await untilAborted(run.signal)
      return { exitCode: 0 }
    }
  }
}

/** Other short commands in nccl-tests images (the `fix-ssh-perms` init container): succeed at once, silently. */
export const ncclSetup = (options: NcclWorkloadOptions = {}): Workload => {
  const image = imageMatcher(options)
  return {
    name: "nccl-tests-setup",
    matches: (_pod, container) => image(container.image) && !/\bsshd\b/.test(commandText(container)) && !LAUNCH.test(commandText(container)),
    run: () => Promise.resolve({ exitCode: 0 })
  }
}

/** The GPUDirect-TCPXO receive daemon sidecar of GKE a3-mega workers: Ready once started, runs until deleted. */
export const tcpxoDaemon = (): Workload => ({
  name: "tcpxo-daemon",
  matches: (_pod, container) => /tcpgpudmarxd/.test(container.image),
  run: async (run) => {
    run.log("Starting GPUDirect-TCPXO receive data path manager (rxdm)\nNumber of GPUs detected in the PCI tree 8 is equal to the number of NICs 8\nBuffer manager initialization complete\n")
    run.setReady(true)
    await untilAborted(run.signal)
    return { exitCode: 0 }
  }
})

/** The nccl-tests emulators in matching order (launcher before worker before setup). */
export const ncclWorkloads = (options: NcclWorkloadOptions = {}): Array<Workload> => [ncclLauncher(options), ncclWorker(options), ncclSetup(options), tcpxoDaemon()]
