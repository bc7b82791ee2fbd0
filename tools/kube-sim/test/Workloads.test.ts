import { existsSync, readFileSync } from "node:fs"
import { createServer, request as httpRequest, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import type { KubeObject } from "../src/types.ts"
import { aiperfExport, aiperfWorkload, AIPERF_SENTINEL, inferenceFigures } from "../src/workloads/aiperf.ts"
import { dynamoFrontend, dynamoStatus, dynamoWorker } from "../src/workloads/dynamo.ts"
import { execImage, imageMatches, parseExecImage } from "../src/workloads/exec.ts"
import { allReducePerfTable, ncclCurve, ncclLauncher, ncclSetup, ncclWorker, parseLaunch, parseSize, tcpxoDaemon } from "../src/workloads/nccl.ts"
import { defaultWorkloads } from "../src/workloads/index.ts"
import { splitShell } from "../src/workloads/shell.ts"
import { type ContainerResult, type ContainerRun, type NcclModel, Random, type World } from "../src/world.ts"
import { testProfile, testWorld, type TestWorld } from "./support/world.ts"

const FIXTURES = join(import.meta.dirname, "fixtures")
const GiB = 1024 ** 3

// ---------------------------------------------------------------------------------------------------------------
// Helpers

interface Placement {
  readonly time: number
  readonly algbw: number
  readonly busbw: number
  readonly wrong: string
}

interface Row {
  readonly bytes: number
  readonly count: number
  readonly type: string
  readonly redop: string
  readonly root: string
  readonly outOfPlace: Placement
  readonly inPlace: Placement
}

/** A parser of the modern nccl-tests table (13 columns per row) and its summary line. */
const parseTable = (text: string): { rows: Array<Row>; average?: number } => {
  const rows: Array<Row> = []
  let average: number | undefined
  for (const line of text.split("\n")) {
    const summary = /^# Avg bus bandwidth\s+:\s+(\S+)/.exec(line)
    if (summary !== null) average = Number(summary[1])
    const fields = line.trim().split(/\s+/)
    if (fields.length !== 13 || !/^\d+$/.test(fields[0]!)) continue
    const placement = (at: number): Placement => ({ time: Number(fields[at]), algbw: Number(fields[at + 1]), busbw: Number(fields[at + 2]), wrong: fields[at + 3]! })
    rows.push({ bytes: Number(fields[0]), count: Number(fields[1]), type: fields[2]!, redop: fields[3]!, root: fields[4]!, outOfPlace: placement(5), inPlace: placement(9) })
  }
  return average === undefined ? { rows } : { rows, average }
}

/** The regex of the upstream validator (nccl.md §6.2), `\s` as RE2's: the last match is the reported bandwidth. */
const upstreamParse = (text: string): { bytes: number; busbw: number } | undefined => {
  const s = "[ \\t\\n\\f\\r]"
  const regex = new RegExp(`${s}+(\\d+)${s}+\\d+${s}+\\w+${s}+\\w+${s}+-?\\d+${s}+[\\d.]+${s}+[\\d.]+${s}+([\\d.]+)`, "g")
  const matches = [...text.matchAll(regex)]
  const last = matches.at(-1)
  return last === undefined ? undefined : { bytes: Number(last[1]), busbw: Number(last[2]) }
}

const expectSelfConsistent = (rows: ReadonlyArray<Row>, ranks: number) => {
  const factor = (2 * (ranks - 1)) / ranks
  for (const row of rows) {
    expect(row.bytes).toBe(row.count * 4)
    expect([row.type, row.redop, row.root]).toEqual(["float", "sum", "-1"])
    for (const placement of [row.outOfPlace, row.inPlace]) {
      const algbw = row.bytes / (placement.time * 1e3)
      expect(Math.abs(placement.algbw - algbw)).toBeLessThanOrEqual(0.006 + 0.002 * algbw)
      expect(Math.abs(placement.busbw - algbw * factor)).toBeLessThanOrEqual(0.006 + 0.002 * algbw * factor)
      expect(Math.abs(placement.busbw - placement.algbw * factor)).toBeLessThanOrEqual(0.015 + 0.002 * placement.busbw)
      expect(placement.wrong).toBe("0")
    }
  }
}

const eventually = async <A>(check: () => A | undefined | Promise<A | undefined>, timeoutMs = 5000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error("condition not met in time")
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

interface FakeRun {
  readonly run: ContainerRun
  readonly abort: AbortController
  readonly ready: Array<boolean>
  output(): string
}

const fakeRun = (world: World, pod: KubeObject, containerName?: string): FakeRun => {
  const spec = pod["spec"] as { containers: Array<ContainerRun["container"] & Record<string, unknown>> }
  const container = spec.containers.find((candidate) => containerName === undefined || candidate.name === containerName)!
  const abort = new AbortController()
  const ready: Array<boolean> = []
  let text = ""
  return {
    run: { world, pod, container, log: (chunk) => void (text += chunk), setReady: (value) => void ready.push(value), signal: abort.signal },
    abort,
    ready,
    output: () => text
  }
}

const namespace = (sim: TestWorld, name: string) => {
  sim.cluster.create(sim.cluster.registry.find("", "v1", "namespaces")!, "", { apiVersion: "v1", kind: "Namespace", metadata: { name } })
}

const podStatus = (ready: boolean) => ({ phase: "Running", conditions: [{ type: "Ready", status: ready ? "True" : "False" }] })

const createPod = (sim: TestWorld, ns: string, name: string, labels: Record<string, string>, spec: Record<string, unknown>, ready = true): KubeObject =>
  sim.cluster.create(sim.cluster.registry.find("", "v1", "pods")!, ns, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels },
    spec,
    status: podStatus(ready)
  })

const setStatus = (sim: TestWorld, pod: KubeObject, status: Record<string, unknown>) => {
  const current = sim.cluster.store.get("/pods", pod.metadata.namespace!, pod.metadata.name!)!
  sim.cluster.update(sim.cluster.registry.find("", "v1", "pods")!, pod.metadata.namespace!, pod.metadata.name!, { ...current, status }, { subresource: "status" })
}

const setReady = (sim: TestWorld, pod: KubeObject, ready: boolean) => setStatus(sim, pod, podStatus(ready))

// ---------------------------------------------------------------------------------------------------------------
// nccl-tests

const NCCL: NcclModel = testProfile().performance.nccl
const GKE_NCCL: NcclModel = { ...NCCL, fabric: "tcpxo", interNode: { busBandwidthGBps: 338, atBytes: 8 * GiB, nodes: 2 } }

describe("nccl-tests all_reduce_perf table", () => {
  it("parses the real 2.17.6 table the test parser is checked on", () => {
    const text = readFileSync(join(FIXTURES, "nccl", "lambda-b200-multinode-nccl-tests-2.17.6-all_reduce_perf.txt"), "utf8")
    const { rows, average } = parseTable(text)
    expect(rows).toHaveLength(29)
    expect(rows.at(-1)!.outOfPlace.busbw).toBe(696.06)
    expect(average).toBe(137.179)
    expect(upstreamParse(text)).toEqual({ bytes: 2147483648, busbw: 696.06 })
  })

  it("prints the modern layout: version header, one rank line per GPU, out-of-place/in-place columns, trailer", () => {
    const text = allReducePerfTable({ minBytes: 1024, maxBytes: 16 * GiB, stepFactor: 2, nodes: 2, gpusPerNode: 8, model: NCCL, fabric: "efa", random: new Random(1), hosts: ["nccl-tj-node-0-0", "nccl-tj-node-0-1"], ncclDebug: "WARN" })
    const lines = text.split("\n")
    expect(lines.slice(0, 5)).toEqual([
      "# nccl-tests version 2.16.9 nccl-headers=22707 nccl-library=22707",
      "# Collective test starting: all_reduce_perf",
      "# nThread 1 nGpus 1 minBytes 1024 maxBytes 17179869184 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0",
      "#",
      "# Using devices"
    ])
    const ranks = lines.filter((line) => line.startsWith("#  Rank "))
    expect(ranks).toHaveLength(16)
    expect(ranks[0]).toMatch(/^# {2}Rank {2}0 Group {2}0 Pid +\d+ on nccl-tj-node-0-0 device {2}0 \[0000:53:00\] NVIDIA H100 80GB HBM3$/)
    expect(ranks[15]).toMatch(/^# {2}Rank 15 Group {2}0 Pid +\d+ on nccl-tj-node-0-1 device {2}7 \[0000:ca:00\] NVIDIA H100 80GB HBM3$/)
    expect(lines).toContain("NCCL version 2.27.7+cuda12.8")
    const gke = readFileSync(join(FIXTURES, "nccl", "aicr-v0.11.1-unit-test-fixture-gke-8G.txt"), "utf8").split("\n")
    const lambda = readFileSync(join(FIXTURES, "nccl", "lambda-b200-multinode-nccl-tests-2.17.6-all_reduce_perf.txt"), "utf8").split("\n")
    const header = lines.findIndex((line) => line.includes("out-of-place"))
    expect(lines[header]!.trimEnd()).toBe(gke[1]!.trimEnd())
    expect(lines[header + 1]).toBe("#       size         count      type   redop    root     time   algbw   busbw  #wrong     time   algbw   busbw  #wrong ")
    expect(lines[header + 1]!.trimEnd()).toBe(lambda[3]!.trimEnd())
    expect(lines[header + 2]!.trimEnd()).toBe(lambda[4]!.trimEnd())
    expect(lines.slice(-7)).toEqual(["# Out of bounds values : 0 OK", expect.stringMatching(/^# Avg bus bandwidth {4}: [\d.]+ $/), "#", "# Collective test concluded: all_reduce_perf", "#", "", ""])
  })

  it("gives self-consistent rows: algbw = bytes/time, busbw = algbw·2(n−1)/n, and the average of every busbw", () => {
    const text = allReducePerfTable({ minBytes: 1024, maxBytes: 16 * GiB, stepFactor: 2, nodes: 2, gpusPerNode: 8, model: NCCL, fabric: "efa", random: new Random(2) })
    const { rows, average } = parseTable(text)
    expect(rows.map((row) => row.bytes)).toEqual(Array.from({ length: 25 }, (_, index) => 1024 * 2 ** index))
    expectSelfConsistent(rows, 16)
    const mean = rows.reduce((sum, row) => sum + row.outOfPlace.busbw + row.inPlace.busbw, 0) / (2 * rows.length)
    expect(Math.abs(average! - mean)).toBeLessThan(0.01)
    for (let index = 1; index < rows.length; index++) expect(rows[index]!.outOfPlace.time).toBeGreaterThan(rows[index - 1]!.outOfPlace.time * 0.9)
  })

  it("hits the anchors: 2× p5 over EFA ≈ 488 GB/s at 16 GiB, one node over NVLink ≈ 480, 2× a3-mega over TCPXO ≈ 338 at 8 GiB", () => {
    expect(ncclCurve({ nodes: 2, gpusPerNode: 8, model: NCCL, fabric: "efa" }).busBandwidth(16 * GiB)).toBeCloseTo(488, 6)
    expect(ncclCurve({ nodes: 1, gpusPerNode: 8, model: NCCL, fabric: "efa" }).busBandwidth(16 * GiB)).toBeCloseTo(480, 6)
    expect(ncclCurve({ nodes: 2, gpusPerNode: 8, model: GKE_NCCL, fabric: "tcpxo" }).busBandwidth(8 * GiB)).toBeCloseTo(338, 6)
    expect(ncclCurve({ nodes: 2, gpusPerNode: 8, model: NCCL, fabric: "tcp" }).busBandwidth(4 * GiB)).toBeCloseTo(NCCL.tcpBusBandwidthGBps, 6)

    const efa = parseTable(allReducePerfTable({ minBytes: 1024, maxBytes: 16 * GiB, stepFactor: 2, nodes: 2, gpusPerNode: 8, model: NCCL, fabric: "efa", random: new Random(3) }))
    expect(efa.rows.at(-1)!.outOfPlace.busbw).toBeGreaterThan(488 * (1 - 4 * NCCL.noise))
    expect(efa.rows.at(-1)!.outOfPlace.busbw).toBeLessThan(488 * (1 + 4 * NCCL.noise))
    const gke = parseTable(allReducePerfTable({ minBytes: 1024, maxBytes: 8 * GiB, stepFactor: 2, nodes: 2, gpusPerNode: 8, model: GKE_NCCL, fabric: "tcpxo", random: new Random(3) }))
    expect(Math.abs(gke.rows.at(-1)!.outOfPlace.busbw - 338)).toBeLessThan(338 * 4 * NCCL.noise)
    const tcp = parseTable(allReducePerfTable({ minBytes: 1024, maxBytes: 4 * GiB, stepFactor: 2, nodes: 2, gpusPerNode: 8, model: NCCL, fabric: "tcp", random: new Random(3) }))
    expectSelfConsistent(tcp.rows, 16)
    expect(Math.abs(tcp.rows.at(-1)!.outOfPlace.busbw - NCCL.tcpBusBandwidthGBps)).toBeLessThan(0.2)
  })

  it("scales with nodes and GPUs per node: longer rings lose a little, fewer GPUs per node bring fewer NICs", () => {
    const at = (nodes: number, gpusPerNode: number) => ncclCurve({ nodes, gpusPerNode, model: NCCL, fabric: "efa", fullNodeGpus: 8 }).busBandwidth(16 * GiB)
    expect(at(4, 8)).toBeLessThan(at(2, 8))
    expect(at(4, 8)).toBeGreaterThan(0.9 * at(2, 8))
    expect(at(16, 8)).toBeLessThan(at(4, 8))
    expect(at(2, 4)).toBeCloseTo(at(2, 8) / 2, 0)
    const curve = ncclCurve({ nodes: 2, gpusPerNode: 8, model: NCCL, fabric: "efa" })
    expect(curve.busBandwidth(1024)).toBeLessThan(0.1)
    expect(curve.busBandwidth(128 * 1024 ** 2)).toBeLessThan(curve.busBandwidth(1 * GiB))
    expect(curve.timeUs(8)).toBeCloseTo(NCCL.latencyUs, 0)
  })

  it("is deterministic: the same seed gives the same text, another seed other figures", () => {
    const table = (seed: number) => allReducePerfTable({ minBytes: 1024, maxBytes: 16 * GiB, stepFactor: 2, nodes: 2, gpusPerNode: 8, model: NCCL, fabric: "efa", random: new Random(seed) })
    expect(table(7)).toBe(table(7))
    expect(table(8)).not.toBe(table(7))
  })

  it("prints the legacy layout without a root column when asked", () => {
    const text = allReducePerfTable({ minBytes: 8, maxBytes: 1024, stepFactor: 2, nodes: 2, gpusPerNode: 8, model: NCCL, fabric: "efa", random: new Random(1), rootColumn: false, iterations: 100 })
    expect(text.split("\n")[0]).toBe("# nThread 1 nGpus 1 minBytes 8 maxBytes 1024 step: 2(factor) warmup iters: 5 iters: 100 validation: 1 ")
    expect(text).toContain("#       size         count    type   redop     time   algbw   busbw  error     time   algbw   busbw  error\n")
    expect(text).toMatch(/\n {11}8 {13}2 {3}float {5}sum +\d+\.\d +0\.00 +0\.00 {2}0e\+00 +\d+\.\d +0\.00 +0\.00 {2}0e\+00\n/)
    expect(text).not.toContain("Collective test")
  })

  it("reads the launcher command line as mpirun and nccl-tests do", () => {
    expect(parseSize("1K")).toBe(1024)
    expect(parseSize("16G")).toBe(16 * GiB)
    expect(parseSize("4g")).toBe(4 * GiB)
    expect(parseSize("8")).toBe(8)
    expect(parseSize("1.5G")).toBeUndefined()
    const words = splitShell(
      `/opt/amazon/openmpi/bin/mpirun -np "16" --allow-run-as-root -bind-to none --mca plm_rsh_args "-o StrictHostKeyChecking=no -o ConnectionAttempts=10" -x NCCL_DEBUG=WARN /opt/nccl-tests/build/all_reduce_perf -b 1K -e 4G -f "2" -g "1" | tee /tmp/out`
    )
    expect(parseLaunch(words)).toEqual({
      ranks: 16,
      binary: "/opt/nccl-tests/build/all_reduce_perf",
      minBytes: 1024,
      maxBytes: 4 * GiB,
      stepFactor: 2,
      stepBytes: 1024 ** 2,
      iterations: undefined,
      warmup: undefined,
      connectionAttempts: 10,
      ncclDebug: "WARN"
    })
    expect(parseLaunch(["all_reduce_perf_mpi", "--minbytes=8", "--maxbytes", "64M", "-n50", "-w", "2"])).toMatchObject({ minBytes: 8, maxBytes: 64 * 1024 ** 2, stepFactor: 1, iterations: 50, warmup: 2 })
  })
})

const JOBSET = "nccl-all-reduce-tj"
const EKS_IMAGE = "public.ecr.aws/hpc-cloud/nccl-tests:cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9"

const launcherCommand = (maxBytes: string) => [
  "/opt/amazon/openmpi/bin/mpirun",
  "-np",
  "16",
  "--allow-run-as-root",
  "--mca",
  "plm_rsh_args",
  "-o StrictHostKeyChecking=no -o ConnectionAttempts=10",
  "-x",
  "NCCL_DEBUG=WARN",
  "/opt/nccl-tests/build/all_reduce_perf",
  "-b",
  "1K",
  "-e",
  maxBytes,
  "-f",
  "2",
  "-g",
  "1"
]

const trainJob = (sim: TestWorld, options: { workers?: number; efa?: boolean; maxBytes?: string; hostfile?: boolean } = {}) => {
  const ns = "aicr-validation"
  namespace(sim, ns)
  const workers = options.workers ?? 2
  const count = options.hostfile === true ? 2 : workers
  if (options.hostfile === true) {
    sim.cluster.create(sim.cluster.registry.find("", "v1", "configmaps")!, ns, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `${JOBSET}-mpi-hostfile`, namespace: ns },
      data: { hostfile: Array.from({ length: count }, (_, index) => `${JOBSET}-node-0-${index}.${JOBSET} slots=8`).join("\n") + "\n" }
    })
  }
  const resources = options.efa === false ? { limits: { "nvidia.com/gpu": "8" } } : { limits: { "nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "32" }, requests: { "nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "32" } }
  for (let index = 0; index < workers; index++) {
    createPod(
      sim,
      ns,
      `${JOBSET}-node-0-${index}-abcde`,
      { [`jobset.sigs.k8s.io/jobset-name`]: JOBSET, "jobset.sigs.k8s.io/replicatedjob-name": "node", "jobset.sigs.k8s.io/job-index": String(index) },
      { hostname: `${JOBSET}-node-0-${index}`, subdomain: JOBSET, nodeName: `gpu-${index + 1}`, containers: [{ name: "node", image: EKS_IMAGE, command: ["/usr/sbin/sshd", "-De"], resources }] }
    )
  }
  return createPod(
    sim,
    ns,
    `${JOBSET}-launcher-0-0-fghjk`,
    { "jobset.sigs.k8s.io/jobset-name": JOBSET, "jobset.sigs.k8s.io/replicatedjob-name": "launcher", "jobset.sigs.k8s.io/job-index": "0" },
    { containers: [{ name: "node", image: EKS_IMAGE, command: launcherCommand(options.maxBytes ?? "16G") }] }
  )
}

describe("nccl-tests workloads", () => {
  it("plays the launcher, the sshd workers and the helper containers by image and command", () => {
    const sim = testWorld()
    const launcher = trainJob(sim)
    const launcherContainer = (launcher["spec"] as { containers: Array<ContainerRun["container"]> }).containers[0]!
    const worker = sim.cluster.store.get("/pods", "aicr-validation", `${JOBSET}-node-0-0-abcde`)!
    const workerContainer = (worker["spec"] as { containers: Array<ContainerRun["container"]> }).containers[0]!
    const init = { name: "fix-ssh-perms", image: EKS_IMAGE, command: ["sh", "-c", "cp /tmp/mpi-keys/* /root/.ssh && chmod 600 /root/.ssh/*"] }
    const gkeWorker = { name: "node", image: "nvcr.io/nvidia/pytorch:25.06-py3", command: ["/bin/bash", "-c", "apt-get install -y openssh-server && /usr/sbin/sshd -De"] }
    const tcpxo = { name: "tcpxo-daemon", image: "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.20", command: ["/fts/entrypoint_rxdm_container.sh"] }
    const played = (container: ContainerRun["container"]) => defaultWorkloads().find((workload) => workload.matches(launcher, container))?.name
    expect(ncclLauncher().matches(launcher, launcherContainer)).toBe(true)
    expect(ncclWorker().matches(worker, launcherContainer)).toBe(false)
    expect(played(launcherContainer)).toBe("nccl-tests-launcher")
    expect(played(workerContainer)).toBe("nccl-tests-worker")
    expect(played(init)).toBe("nccl-tests-setup")
    expect(played(gkeWorker)).toBe("nccl-tests-worker")
    expect(played(tcpxo)).toBe("tcpxo-daemon")
    expect(ncclSetup().matches(launcher, { name: "x", image: "busybox:1.37", command: ["true"] })).toBe(false)
    expect(played({ name: "x", image: "registry.example.com/custom:1", command: ["mpirun", "all_reduce_perf"] })).toBeUndefined()
    expect(ncclLauncher({ images: ["registry.example.com/custom:1"] }).matches(launcher, { name: "x", image: "registry.example.com/custom:1", command: ["mpirun", "all_reduce_perf"] })).toBe(true)
  })

  it("prints a self-consistent table across the TrainJob's two nodes that follows the EFA model, and exits 0", async () => {
    const sim = testWorld()
    const launcher = trainJob(sim)
    const fake = fakeRun(sim.world, launcher)
    const result = await ncclLauncher().run(fake.run)
    expect(result).toEqual({ exitCode: 0 })
    const { rows, average } = parseTable(fake.output())
    expect(rows).toHaveLength(25)
    expectSelfConsistent(rows, 16)
    expect(rows.at(-1)!.outOfPlace.busbw).toBeGreaterThan(488 * (1 - 4 * NCCL.noise))
    expect(rows.at(-1)!.outOfPlace.busbw).toBeLessThan(488 * (1 + 4 * NCCL.noise))
    expect(average).toBeGreaterThan(0)
    expect(upstreamParse(fake.output())).toEqual({ bytes: 16 * GiB, busbw: rows.at(-1)!.outOfPlace.busbw })
    expect(fake.output()).toContain("#  Rank  8 Group  0 Pid")
    expect(fake.output()).toContain(`on ${JOBSET}-node-0-1 device  0 [0000:53:00] NVIDIA H100 80GB HBM3`)
    expect(fake.output().split("\n")[0]).toBe("# nccl-tests version 2.16.9 nccl-headers=22707 nccl-library=22707")

    const again = testWorld()
    const second = fakeRun(again.world, trainJob(again))
    await ncclLauncher().run(second.run)
    expect(second.output()).toBe(fake.output())
  })

  it("falls back to TCP figures when the workers were given no EFA adapters", async () => {
    const sim = testWorld()
    const fake = fakeRun(sim.world, trainJob(sim, { efa: false, maxBytes: "4G" }))
    expect(await ncclLauncher().run(fake.run)).toEqual({ exitCode: 0 })
    const { rows } = parseTable(fake.output())
    expect(rows.at(-1)!.bytes).toBe(4 * GiB)
    expectSelfConsistent(rows, 16)
    expect(Math.abs(rows.at(-1)!.outOfPlace.busbw - NCCL.tcpBusBandwidthGBps)).toBeLessThan(0.2)
  })

  it("fails like OpenMPI when a worker of the hostfile never runs sshd", async () => {
    const sim = testWorld()
    const fake = fakeRun(sim.world, trainJob(sim, { workers: 1, hostfile: true }))
    expect(await ncclLauncher().run(fake.run)).toEqual({ exitCode: 1 })
    expect(fake.output()).toContain(`ssh: Could not resolve hostname ${JOBSET}-node-0-1.${JOBSET}: Name or service not known\n`)
    expect(fake.output()).toContain("ORTE was unable to reliably start one or more daemons.")
    expect(parseTable(fake.output()).rows).toHaveLength(0)
  })

  it("waits for the workers' sshd within the ssh connection attempts", async () => {
    const sim = testWorld()
    const launcher = trainJob(sim, { hostfile: true })
    const worker = sim.cluster.store.get("/pods", "aicr-validation", `${JOBSET}-node-0-1-abcde`)!
    setStatus(sim, worker, { phase: "Pending" })
    const fake = fakeRun(sim.world, launcher)
    const running = ncclLauncher().run(fake.run)
    setTimeout(() => setReady(sim, worker, true), 0)
    expect(await running).toEqual({ exitCode: 0 })
    expect(parseTable(fake.output()).rows).toHaveLength(25)
  })

  it("writes the result rows to the termination message when the launcher script does (GKE)", async () => {
    const sim = testWorld()
    const launcher = trainJob(sim)
    const script = `${launcherCommand("8G").join(" ")} | tee /tmp/nccl-results.out && grep -E 'Avg bus bandwidth' /tmp/nccl-results.out | tail -c 3900 > /dev/termination-log`
    const gke = { ...launcher, spec: { containers: [{ name: "node", image: "nvcr.io/nvidia/pytorch:25.06-py3", command: ["/bin/bash", "-c", script] }] } }
    const fake = fakeRun(sim.world, gke)
    const result = await ncclLauncher().run(fake.run)
    expect(result.exitCode).toBe(0)
    expect(Buffer.byteLength(result.message!)).toBeLessThanOrEqual(3900)
    const rows = parseTable(fake.output()).rows
    expect(result.message).toContain(fake.output().split("\n").find((line) => line.trim().startsWith("8589934592 ")))
    expect(result.message).toMatch(/# Avg bus bandwidth {4}: [\d.]+ \n$/)
    expect(upstreamParse(`${fake.output()}\n${result.message}`)!.busbw).toBe(rows.at(-1)!.outOfPlace.busbw)
  })

  it("replays a recorded launcher log byte for byte", async () => {
    const recorded = join(FIXTURES, "nccl", "lambda-b200-multinode-nccl-tests-2.17.6-all_reduce_perf.txt")
    const sim = testWorld(testProfile({ replay: { nccl: recorded } }))
    const fake = fakeRun(sim.world, trainJob(sim))
    expect(await ncclLauncher().run(fake.run)).toEqual({ exitCode: 0 })
    expect(Buffer.from(fake.output())).toEqual(readFileSync(recorded))
  })

  it("runs workers and the TCPXO daemon until their pod is deleted, Ready once started", async () => {
    const sim = testWorld()
    const launcher = trainJob(sim)
    for (const [workload, container] of [
      [ncclWorker(), { name: "node", image: EKS_IMAGE, command: ["/usr/sbin/sshd", "-De"] }],
      [tcpxoDaemon(), { name: "tcpxo-daemon", image: "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.20" }]
    ] as const) {
      const fake = fakeRun(sim.world, { ...launcher, spec: { containers: [container] } })
      let done: ContainerResult | undefined
      const running = workload.run(fake.run).then((result) => (done = result))
      await eventually(() => (fake.ready.length > 0 ? true : undefined))
      expect(fake.ready).toEqual([true])
      expect(done).toBeUndefined()
      fake.abort.abort()
      expect(await running).toEqual({ exitCode: 0 })
    }
  })
})

// ---------------------------------------------------------------------------------------------------------------
// AIPerf

const INFERENCE = testProfile().performance.inference
const FLAT = JSON.parse(readFileSync(join(FIXTURES, "aiperf", "flat-format-v0.8.0-nonstreaming_tests-_artifacts-audit-baseline-chat-bare_profile_export_aiperf.json"), "utf8")) as Record<string, unknown>
const STREAMING_FIXTURE = join(FIXTURES, "aiperf", "flat-format-with-ttft_tests-fixtures-operator_ui-aiperf-llama3-c128_profile_export_aiperf.json")
const WITH_TTFT = JSON.parse(readFileSync(STREAMING_FIXTURE, "utf8")) as Record<string, unknown>

const anchorExport = (overrides: Partial<Parameters<typeof aiperfExport>[0]> = {}) =>
  aiperfExport({
    model: "Qwen/Qwen3-0.6B",
    url: "http://aicr-inference-perf-frontend.aicr-inference-perf-1a2b3c4d.svc:8000",
    concurrency: 128,
    requestCount: 256,
    readyWorkers: 8,
    inference: INFERENCE,
    random: new Random(11),
    inputTokensMean: 128,
    outputTokensMean: 128,
    randomSeed: 100,
    startTime: new Date("2026-04-23T10:00:00Z"),
    ...overrides
  })

type Stat = Record<string, unknown>

/** The spec's parser (inference-perf.md §6): first sentinel, the next one, trimmed JSON in between. */
const parseSentinels = (logs: string): Record<string, unknown> => {
  const start = logs.indexOf(AIPERF_SENTINEL)
  if (start === -1) throw new Error("sentinel not found")
  const end = logs.indexOf(AIPERF_SENTINEL, start + AIPERF_SENTINEL.length)
  if (end === -1) throw new Error("end sentinel not found")
  return JSON.parse(logs.slice(start + AIPERF_SENTINEL.length, end).trim()) as Record<string, unknown>
}

describe("AIPerf export", () => {
  it("has the keys, statistic fields and units of a real aiperf 0.8 export, and the streaming metrics", () => {
    const exported = anchorExport()
    for (const [key, value] of Object.entries(FLAT)) {
      expect(Object.keys(exported)).toContain(key)
      const mine = exported[key]
      if (value !== null && typeof value === "object" && "unit" in value) {
        expect(Object.keys(mine as Stat)).toEqual(Object.keys(value))
        expect((mine as Stat)["unit"]).toBe((value as Stat)["unit"])
      }
    }
    expect(Object.keys(exported["input_config"] as Stat)).toEqual(Object.keys(FLAT["input_config"] as Stat))
    expect(Object.keys((exported["input_config"] as { endpoint: Stat }).endpoint)).toEqual(Object.keys((WITH_TTFT["input_config"] as { endpoint: Stat }).endpoint))
    for (const key of ["time_to_first_token", "inter_token_latency"]) {
      expect((exported[key] as Stat)["unit"]).toBe((WITH_TTFT[key] as Stat)["unit"])
      for (const field of Object.keys(WITH_TTFT[key] as Stat)) expect(Object.keys(exported[key] as Stat)).toContain(field)
    }
    expect(exported["error_summary"]).toEqual([])
    expect(exported["start_time"]).toBe("2026-04-23T10:00:00.000000")
    expect(anchorExport({ streaming: false })["time_to_first_token"]).toBeUndefined()
  })

  it("hits the anchor within noise: 8 workers × 16 per GPU of Qwen3-0.6B ≈ 38.5k tok/s, TTFT p99 ≈ 133 ms", () => {
    expect(inferenceFigures({ inference: INFERENCE, model: "Qwen/Qwen3-0.6B", concurrency: 128, readyWorkers: 8 })).toEqual({ outputTokensPerSecond: 38500, ttftP99Ms: 133, concurrencyPerWorker: 16 })
    const exported = anchorExport()
    const throughput = (exported["output_token_throughput"] as { avg: number }).avg
    const ttft = exported["time_to_first_token"] as { p99: number; p50: number; avg: number; unit: string }
    expect(Math.abs(throughput - 38500)).toBeLessThan(38500 * 4 * INFERENCE.noise)
    expect(Math.abs(ttft.p99 - 133)).toBeLessThan(133 * 8 * INFERENCE.noise)
    expect(ttft.p50).toBeLessThan(ttft.p99)
    const requests = exported["request_throughput"] as { avg: number }
    expect(requests.avg).toBeCloseTo(throughput / 128, 6)
    expect((exported["benchmark_duration"] as { avg: number }).avg).toBeCloseTo(256 / requests.avg, 6)
    const latency = (exported["request_latency"] as { avg: number }).avg
    const itl = (exported["inter_token_latency"] as { avg: number }).avg
    expect(latency).toBeCloseTo((128 * 128 * 1000) / throughput, 6)
    expect(ttft.avg + 127 * itl).toBeCloseTo(latency, 6)
    expect(itl).toBeGreaterThan(0)
  })

  it("scales with Ready workers and concurrency: fewer workers serve less with slower first tokens, more load saturates", () => {
    const figures = (readyWorkers: number, concurrency: number) => inferenceFigures({ inference: INFERENCE, model: "Qwen/Qwen3-0.6B", concurrency, readyWorkers })
    const full = figures(8, 128)
    const partial = figures(5, 128)
    expect(partial.outputTokensPerSecond).toBeLessThan(full.outputTokensPerSecond)
    expect(partial.ttftP99Ms).toBeGreaterThan(full.ttftP99Ms)
    expect(figures(4, 64).outputTokensPerSecond).toBeCloseTo(full.outputTokensPerSecond / 2, 6)
    const doubled = figures(8, 256)
    expect(doubled.outputTokensPerSecond).toBeGreaterThan(full.outputTokensPerSecond)
    expect(doubled.outputTokensPerSecond).toBeLessThan(2 * full.outputTokensPerSecond)
    expect(doubled.ttftP99Ms).toBeGreaterThan(full.ttftP99Ms)
    expect(inferenceFigures({ inference: INFERENCE, model: "Qwen/Qwen3-8B", concurrency: 128, readyWorkers: 8 }).outputTokensPerSecond).toBeLessThan(full.outputTokensPerSecond)
  })

  it("is deterministic per seed", () => {
    expect(JSON.stringify(anchorExport())).toBe(JSON.stringify(anchorExport()))
    expect(JSON.stringify(anchorExport({ random: new Random(12) }))).not.toBe(JSON.stringify(anchorExport()))
  })

  it("reports failed requests without token metrics when the frontend does not serve", () => {
    const exported = anchorExport({ failure: { code: 503, type: "Service Unavailable", message: "Service is not ready" } })
    expect(exported["output_token_throughput"]).toBeUndefined()
    expect(exported["time_to_first_token"]).toBeUndefined()
    expect(exported["error_summary"]).toEqual([{ error_details: { code: 503, type: "Service Unavailable", message: "Service is not ready" }, count: 256 }])
    expect(exported["error_request_count"]).toEqual({ unit: "requests", avg: 256 })
  })
})

const RUN_NS = "aicr-inference-perf-1a2b3c4d"
const DGD = "aicr-inference-perf"
const ENDPOINT = `http://${DGD}-frontend.${RUN_NS}.svc:8000`
const MODEL = "Qwen/Qwen3-0.6B"

const AIPERF_SCRIPT = [
  "set -e",
  `aiperf profile "${MODEL}" --url ${ENDPOINT} --endpoint-type chat --streaming --concurrency 128 --request-count 256 --prompt-input-tokens-mean 128 --prompt-output-tokens-mean 128 --output-artifact-dir /tmp/aiperf --export-level summary`,
  `echo "${AIPERF_SENTINEL}"`,
  "cat /tmp/aiperf/profile_export_aiperf.json",
  `echo "${AIPERF_SENTINEL}"`
].join("\n")

/** The DGD's Service, its frontend and `workers` worker pods (as the Dynamo operator makes them). */
const deployment = (sim: TestWorld, options: { workers?: number; readyWorkers?: number; service?: boolean; frontendReady?: boolean } = {}) => {
  namespace(sim, RUN_NS)
  const workers = options.workers ?? 8
  sim.world.cluster.store.create("nvidia.com/dynamographdeployments", {
    apiVersion: "nvidia.com/v1alpha1",
    kind: "DynamoGraphDeployment",
    metadata: { name: DGD, namespace: RUN_NS },
    spec: { services: { Frontend: { componentType: "frontend", replicas: 1 }, VllmDecodeWorker: { componentType: "worker", replicas: workers } } }
  })
  const labels = (component: string, type: string) => ({ "nvidia.com/dynamo-component": component, "nvidia.com/dynamo-graph-deployment-name": DGD, "nvidia.com/dynamo-component-type": type })
  if (options.service !== false) {
    sim.cluster.create(sim.cluster.registry.find("", "v1", "services")!, RUN_NS, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: `${DGD}-frontend`, namespace: RUN_NS, labels: labels("Frontend", "frontend") },
      spec: { selector: labels("Frontend", "frontend"), ports: [{ name: "http", port: 8000, targetPort: 8000, protocol: "TCP" }] }
    })
  }
  const frontend = createPod(
    sim,
    RUN_NS,
    `${DGD}-frontend-7d9f8-bcdfg`,
    labels("Frontend", "frontend"),
    { containers: [{ name: "main", image: "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:0.9.0", env: [{ name: "SERVED_MODEL_NAME", value: MODEL }] }] },
    options.frontendReady ?? true
  )
  const pods = Array.from({ length: workers }, (_, index) =>
    createPod(
      sim,
      RUN_NS,
      `${DGD}-vllmdecodeworker-6c5b4-${"bcdfghjklm"[index]}xxxx`,
      labels("VllmDecodeWorker", "worker"),
      { containers: [{ name: "main", image: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.9.0", command: ["python3", "-m", "dynamo.vllm"], args: ["--model", MODEL] }] },
      index < (options.readyWorkers ?? workers)
    )
  )
  return { frontend, workers: pods }
}

const aiperfPod = (sim: TestWorld, container: Record<string, unknown>): KubeObject => {
  if (sim.cluster.store.get("/namespaces", "", "aicr-validation") === undefined) namespace(sim, "aicr-validation")
  return createPod(sim, "aicr-validation", "aicr-aiperf-1a2b3c4d-x7k2p", { "job-name": "aicr-aiperf-1a2b3c4d" }, { restartPolicy: "Never", containers: [{ name: "aiperf", image: "ghcr.io/nvidia/aicr-validators/aiperf-bench:latest", ...container }] })
}

describe("AIPerf workload", () => {
  it("benchmarks the frontend from the Job's script and prints the export between the sentinels", async () => {
    const sim = testWorld()
    deployment(sim)
    const pod = aiperfPod(sim, { command: ["/bin/sh", "-c"], args: [AIPERF_SCRIPT] })
    const fake = fakeRun(sim.world, pod)
    expect(defaultWorkloads().find((workload) => workload.matches(pod, fake.run.container))?.name).toBe("aiperf")
    expect(await aiperfWorkload().run(fake.run)).toEqual({ exitCode: 0 })
    const exported = parseSentinels(fake.output())
    expect(Math.abs((exported["output_token_throughput"] as { avg: number }).avg - 38500)).toBeLessThan(38500 * 4 * INFERENCE.noise)
    expect(Math.abs((exported["time_to_first_token"] as { p99: number }).p99 - 133)).toBeLessThan(133 * 8 * INFERENCE.noise)
    expect((exported["input_config"] as { endpoint: { urls: Array<string> } }).endpoint.urls).toEqual([ENDPOINT])
    expect((exported["input_config"] as { artifacts: { cli_command: string } }).artifacts.cli_command).toBe(
      `aiperf profile Qwen/Qwen3-0.6B --url ${ENDPOINT} --endpoint-type chat --streaming --concurrency 128 --request-count 256 --prompt-input-tokens-mean 128 --prompt-output-tokens-mean 128 --output-artifact-dir /tmp/aiperf --export-level summary`
    )
    expect(fake.output()).toMatch(new RegExp(`\n${AIPERF_SENTINEL}\n\\{\n {2}"schema_version": "1.0",[\\s\\S]*\n\\}\n${AIPERF_SENTINEL}\n$`))
  })

  it("runs through AICR's exec-form entrypoint, which needs its env", async () => {
    const sim = testWorld()
    deployment(sim)
    const args = ["--model", MODEL, "--url", ENDPOINT, "--endpoint-type", "chat", "--streaming", "--concurrency", "128", "--request-count", "1024", "--warmup-request-count", "128"]
    const command = ["/opt/venv/bin/python", "/opt/aicr/aiperf_entrypoint.py"]
    const env = [
      { name: "AICR_MODEL", value: MODEL },
      { name: "AICR_AIPERF_ARTIFACT_DIR", value: "/tmp/aiperf" },
      { name: "AICR_RESULT_SENTINEL", value: AIPERF_SENTINEL }
    ]
    const fake = fakeRun(sim.world, aiperfPod(sim, { command, args, env }))
    expect(await aiperfWorkload().run(fake.run)).toEqual({ exitCode: 0 })
    const exported = parseSentinels(fake.output())
    expect((exported["request_count"] as { avg: number }).avg).toBe(1024)
    expect((exported["input_config"] as { phases: Array<Stat> }).phases).toEqual([
      { name: "warmup", type: "concurrency", requests: 128, concurrency: 128 },
      { name: "profiling", type: "concurrency", requests: 1024, concurrency: 128 }
    ])

    const other = testWorld()
    deployment(other)
    const bare = fakeRun(other.world, aiperfPod(other, { command, args }))
    expect(await aiperfWorkload().run(bare.run)).toEqual({ exitCode: 2 })
    expect(bare.output()).toBe("aiperf_entrypoint: AICR_AIPERF_ARTIFACT_DIR and AICR_RESULT_SENTINEL must both be set\n")
  })

  it("scales the figures with the workers that are Ready", async () => {
    const sim = testWorld()
    deployment(sim, { readyWorkers: 5 })
    const fake = fakeRun(sim.world, aiperfPod(sim, { command: ["/bin/sh", "-c"], args: [AIPERF_SCRIPT] }))
    expect(await aiperfWorkload().run(fake.run)).toEqual({ exitCode: 0 })
    const exported = parseSentinels(fake.output())
    const expected = inferenceFigures({ inference: INFERENCE, model: MODEL, concurrency: 128, readyWorkers: 5 })
    expect(Math.abs((exported["output_token_throughput"] as { avg: number }).avg - expected.outputTokensPerSecond)).toBeLessThan(expected.outputTokensPerSecond * 4 * INFERENCE.noise)
  })

  it("fails like AIPerf when the endpoint is down: no Service, no Ready frontend, no Ready worker", async () => {
    const cases: Array<[Parameters<typeof deployment>[1], string]> = [
      [{ service: false }, `Cannot connect to host ${DGD}-frontend.${RUN_NS}.svc:8000 ssl:default [Name or service not known]`],
      [{ frontendReady: false }, `Cannot connect to host ${DGD}-frontend.${RUN_NS}.svc:8000 ssl:default [Connect call failed ('`],
      [{ readyWorkers: 0 }, `503 Service Unavailable: {"message":"Service is not ready","type":"Service Unavailable","code":503}`]
    ]
    for (const [options, message] of cases) {
      const sim = testWorld()
      deployment(sim, options)
      const fake = fakeRun(sim.world, aiperfPod(sim, { command: ["/bin/sh", "-c"], args: [AIPERF_SCRIPT] }))
      expect(await aiperfWorkload().run(fake.run)).toEqual({ exitCode: 1 })
      expect(fake.output()).toContain(message)
      expect(fake.output()).not.toContain(AIPERF_SENTINEL)
    }
  })

  it("reports every request failed when the frontend never warms", async () => {
    const sim = testWorld()
    deployment(sim)
    sim.world.faults.neverWarm.add(`${RUN_NS}/${DGD}`)
    const fake = fakeRun(sim.world, aiperfPod(sim, { command: ["/bin/sh", "-c"], args: [AIPERF_SCRIPT] }))
    expect(await aiperfWorkload().run(fake.run)).toEqual({ exitCode: 0 })
    const exported = parseSentinels(fake.output())
    expect(exported["output_token_throughput"]).toBeUndefined()
    expect(exported["error_summary"]).toEqual([{ error_details: { code: 503, type: "Service Unavailable", message: "Service is not ready" }, count: 256 }])
  })

  it("replays a recorded export between the sentinels", async () => {
    const sim = testWorld(testProfile({ replay: { aiperf: STREAMING_FIXTURE } }))
    deployment(sim)
    const fake = fakeRun(sim.world, aiperfPod(sim, { command: ["/bin/sh", "-c"], args: [AIPERF_SCRIPT] }))
    expect(await aiperfWorkload().run(fake.run)).toEqual({ exitCode: 0 })
    const recorded = readFileSync(STREAMING_FIXTURE, "utf8")
    expect(fake.output()).toContain(`${AIPERF_SENTINEL}\n${recorded}${recorded.endsWith("\n") ? "" : "\n"}${AIPERF_SENTINEL}\n`)
    expect(parseSentinels(fake.output())).toEqual(WITH_TTFT)
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Dynamo

interface HttpReply {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: string
}

const servers: Array<Server> = []
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve))
})

/** An HTTP server in front of the handler registered for the frontend Service (as the API server's proxy is). */
const serve = async (sim: TestWorld, service: string): Promise<(method: string, path: string, body?: unknown) => Promise<HttpReply>> => {
  const server = createServer((request, response) => {
    const handler = sim.proxies.get(`${RUN_NS}/${service}:8000`)
    if (handler === undefined) {
      response.writeHead(503)
      response.end("no endpoints")
      return
    }
    handler(request, response, new URL(request.url ?? "/", "http://proxy").pathname)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return (method, path, body) =>
    new Promise((resolve, reject) => {
      const text = body === undefined ? undefined : JSON.stringify(body)
      const request = httpRequest({ host: "127.0.0.1", port, path, method, headers: text === undefined ? {} : { "Content-Type": "application/json" } }, (response) => {
        let data = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (data += chunk))
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: data }))
      })
      request.on("error", reject)
      request.end(text)
    })
}

const probe = { model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 4 }

describe("Dynamo workloads", () => {
  it("plays workers by their DGD labels: they load the model, then turn Ready and serve until deleted", async () => {
    const sim = testWorld()
    const { workers, frontend } = deployment(sim, { readyWorkers: 0 })
    const container = (workers[0]!["spec"] as { containers: Array<ContainerRun["container"]> }).containers[0]!
    expect(defaultWorkloads().find((workload) => workload.matches(workers[0]!, container))?.name).toBe("dynamo-worker")
    expect(dynamoWorker().matches(frontend, (frontend["spec"] as { containers: Array<ContainerRun["container"]> }).containers[0]!)).toBe(false)
    const fake = fakeRun(sim.world, workers[0]!)
    let done = false
    const running = dynamoWorker()
      .run(fake.run)
      .then((result) => {
        done = true
        return result
      })
    expect(fake.ready).toEqual([])
    await eventually(() => (fake.ready.length > 0 ? true : undefined))
    expect(fake.ready).toEqual([true])
    expect(fake.output()).toContain(`Model ${MODEL} loaded`)
    expect(done).toBe(false)
    fake.abort.abort()
    expect(await running).toEqual({ exitCode: 0 })
  })

  it("serves 503 until every worker is Ready and warm, then completions, streaming and not", async () => {
    const sim = testWorld()
    const { frontend, workers } = deployment(sim, { workers: 2, readyWorkers: 0 })
    const fake = fakeRun(sim.world, frontend)
    expect(defaultWorkloads().find((workload) => workload.matches(frontend, fake.run.container))?.name).toBe("dynamo-frontend")
    const running = dynamoFrontend().run(fake.run)
    expect(fake.ready).toEqual([true])
    expect([...sim.proxies.keys()].sort()).toEqual([`${RUN_NS}/${DGD}-frontend:`, `${RUN_NS}/${DGD}-frontend:8000`])
    const call = await serve(sim, `${DGD}-frontend`)

    expect(await call("GET", "/health")).toMatchObject({ status: 200 })
    const cold = await call("POST", "/v1/chat/completions", probe)
    expect(cold.status).toBe(503)
    expect(JSON.parse(cold.body)).toEqual({ message: "Service is not ready", type: "Service Unavailable", code: 503 })
    expect(JSON.parse((await call("GET", "/v1/models")).body)).toEqual({ object: "list", data: [] })

    setReady(sim, workers[0]!, true)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect((await call("POST", "/v1/chat/completions", probe)).status).toBe(503)
    setReady(sim, workers[1]!, true)
    const warm = await eventually(async () => {
      const reply = await call("POST", "/v1/chat/completions", probe)
      return reply.status === 200 ? reply : undefined
    })
    expect(dynamoStatus(sim.world, RUN_NS, DGD)).toEqual({ frontendReady: true, readyWorkers: 2, expectedWorkers: 2, warm: true, model: MODEL })
    const body = JSON.parse(warm.body) as { object: string; model: string; choices: Array<{ message: { role: string; content: string }; finish_reason: string }>; usage: Stat }
    expect(warm.headers["content-type"]).toBe("application/json")
    expect(body.object).toBe("chat.completion")
    expect(body.model).toBe(MODEL)
    expect(body.choices[0]!.message.role).toBe("assistant")
    expect(body.choices[0]!.message.content).toMatch(/^[A-Z]\w*( \w+){3}$/)
    expect(body.choices[0]!.finish_reason).toBe("length")
    expect(body.usage).toEqual({ prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 })

    const models = JSON.parse((await call("GET", "/v1/models")).body) as { data: Array<Stat> }
    expect(models.data.map((model) => model.id)).toEqual([MODEL])

    const streamed = await call("POST", "/v1/chat/completions", { ...probe, stream: true, max_tokens: 6, stream_options: { include_usage: true } })
    expect(streamed.status).toBe(200)
    expect(streamed.headers["content-type"]).toBe("text/event-stream")
    const events = streamed.body.split("\n\n").filter((event) => event !== "")
    expect(events.every((event) => event.startsWith("data: "))).toBe(true)
    expect(events.at(-1)).toBe("data: [DONE]")
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.slice("data: ".length)) as { object: string; choices: Array<{ delta: { content?: string; role?: string }; finish_reason: string | null }>; usage?: Stat })
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk")).toBe(true)
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant")
    expect(chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? "")).join("")).toMatch(/^[A-Z]\w*( \w+){5}$/)
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe("length")
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 11, completion_tokens: 6, total_tokens: 17 })

    const unknown = await call("POST", "/v1/chat/completions", { ...probe, model: "other" })
    expect([unknown.status, JSON.parse(unknown.body)]).toEqual([404, { message: "Model not found", type: "Not Found", code: 404 }])
    expect((await call("POST", "/v1/chat/completions", "not json")).status).toBe(400)
    expect((await call("GET", "/v1/chat/completions")).status).toBe(405)
    expect((await call("GET", "/nowhere")).status).toBe(404)

    setReady(sim, workers[1]!, false)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect((await call("POST", "/v1/chat/completions", probe)).status).toBe(200)
    setReady(sim, workers[0]!, false)
    await eventually(async () => ((await call("POST", "/v1/chat/completions", probe)).status === 503 ? true : undefined))

    fake.abort.abort()
    expect(await running).toEqual({ exitCode: 0 })
    expect(sim.proxies.size).toBe(0)
  })

  it("stays cold when the endpoint never warms", async () => {
    const sim = testWorld()
    const { frontend } = deployment(sim, { workers: 1 })
    sim.world.faults.neverWarm.add(`${RUN_NS}/${DGD}`)
    const fake = fakeRun(sim.world, frontend)
    const running = dynamoFrontend().run(fake.run)
    const call = await serve(sim, `${DGD}-frontend`)
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect((await call("POST", "/v1/chat/completions", probe)).status).toBe(503)
    sim.world.faults.neverWarm.clear()
    expect((await call("POST", "/v1/chat/completions", probe)).status).toBe(200)
    fake.abort.abort()
    await running
  })

  it("answers the same content for the same seed", async () => {
    const first = async (seed: number) => {
      const sim = testWorld(testProfile({ seed }))
      const { frontend } = deployment(sim, { workers: 1 })
      const fake = fakeRun(sim.world, frontend)
      const running = dynamoFrontend().run(fake.run)
      const call = await serve(sim, `${DGD}-frontend`)
      const reply = await eventually(async () => {
        const answer = await call("POST", "/v1/chat/completions", { ...probe, max_tokens: 32 })
        return answer.status === 200 ? answer : undefined
      })
      fake.abort.abort()
      await running
      return (JSON.parse(reply.body) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content
    }
    expect(await first(5)).toBe(await first(5))
    expect(await first(6)).not.toBe(await first(5))
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Images mapped to local commands

describe("exec images", () => {
  const script = [
    "const fs = require('node:fs')",
    "const dir = process.env.KUBE_SIM_SERVICEACCOUNT_DIR",
    "console.log(JSON.stringify({",
    "  args: process.argv.slice(1),",
    "  mode: process.env.MODE, namespace: process.env.POD_NAMESPACE, host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT,",
    "  token: fs.readFileSync(dir + '/token', 'utf8'), ns: fs.readFileSync(dir + '/namespace', 'utf8'),",
    "  server: JSON.parse(fs.readFileSync(process.env.KUBECONFIG, 'utf8')).clusters[0].cluster.server,",
    "  recipe: fs.readFileSync(process.env.AICR_RECIPE_PATH, 'utf8'), hostname: process.env.HOSTNAME",
    "}))",
    "console.error('to stderr')",
    "fs.writeFileSync(process.env.TERMINATION_LOG, '[INTERNAL] it failed')",
    "process.exit(3)"
  ].join("\n")

  const validatorPod = (sim: TestWorld, args: Array<string>): KubeObject => {
    namespace(sim, "aicr-validation")
    sim.cluster.create(sim.cluster.registry.find("", "v1", "configmaps")!, "aicr-validation", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "aicr-recipe-run1", namespace: "aicr-validation" },
      data: { "recipe.yaml": "kind: Recipe\n" }
    })
    return createPod(sim, "aicr-validation", "aicr-inference-perf-abcd-x1y2z", {}, {
      containers: [
        {
          name: "validator",
          image: "ghcr.io/nvidia/aicr-validators/performance:v0.11.1",
          args,
          env: [
            { name: "MODE", value: "check" },
            { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
            { name: "AICR_RECIPE_PATH", value: "/data/recipe/recipe.yaml" }
          ],
          volumeMounts: [{ name: "recipe", mountPath: "/data/recipe", readOnly: true }]
        }
      ],
      volumes: [{ name: "recipe", configMap: { name: "aicr-recipe-run1" } }]
    })
  }

  it("matches images by reference, repository or pattern", () => {
    expect(imageMatches("ghcr.io/nvidia/aicr-validators/performance", "ghcr.io/nvidia/aicr-validators/performance:v0.11.1")).toBe(true)
    expect(imageMatches("ghcr.io/nvidia/aicr-validators/performance", "ghcr.io/nvidia/aicr-validators/performance-x:v1")).toBe(false)
    expect(imageMatches("ghcr.io/nvidia/aicr-validators/performance:latest", "ghcr.io/nvidia/aicr-validators/performance:v0.11.1")).toBe(false)
    expect(imageMatches("*/aicr-validators/*", "localhost:5001/aicr-validators/performance:latest")).toBe(true)
    expect(parseExecImage("ghcr.io/nvidia/aicr-validators/performance=node dist/validator.js")).toEqual({ image: "ghcr.io/nvidia/aicr-validators/performance", command: "node dist/validator.js" })
    expect(parseExecImage("no-command=")).toBeUndefined()
  })

  it("runs the command with the pod's env, files and ServiceAccount, and reports output, exit code and termination message", async () => {
    const sim = testWorld()
    const pod = validatorPod(sim, ["inference-perf", "$(MODE)"])
    const workload = execImage({
      image: "ghcr.io/nvidia/aicr-validators/performance",
      command: [process.execPath, "-e", script],
      apiServerUrl: "http://127.0.0.1:6443",
      serviceAccount: () => ({ token: "sa-token" }),
      terminationMessageEnv: "TERMINATION_LOG"
    })
    const fake = fakeRun(sim.world, pod)
    expect(defaultWorkloads({ execImages: [{ image: "ghcr.io/nvidia/aicr-validators/performance", command: "true" }] }).find((candidate) => candidate.matches(pod, fake.run.container))?.name).toBe(
      "exec:ghcr.io/nvidia/aicr-validators/performance"
    )
    const result = await workload.run(fake.run)
    expect(result).toEqual({ exitCode: 3, message: "[INTERNAL] it failed" })
    const [stdout] = fake.output().split("\n")
    expect(JSON.parse(stdout!)).toEqual({
      args: ["inference-perf", "check"],
      mode: "check",
      namespace: "aicr-validation",
      host: "127.0.0.1",
      port: "6443",
      token: "sa-token",
      ns: "aicr-validation",
      server: "http://127.0.0.1:6443",
      recipe: "kind: Recipe\n",
      hostname: "aicr-inference-perf-abcd-x1y2z"
    })
    expect(fake.output()).toContain("to stderr\n")
  })

  it("gives each pod its own emptyDir mounts, relocating env paths under them, and removes them with the pod", async () => {
    const sim = testWorld()
    const base = validatorPod(sim, [])
    const spec = base["spec"] as { containers: Array<Record<string, unknown>>; volumes: Array<Record<string, unknown>> }
    const container = spec.containers[0]!
    const pod: KubeObject = {
      ...base,
      spec: {
        ...spec,
        containers: [{
          ...container,
          env: [...(container["env"] as Array<unknown>), { name: "STATE", value: "/tmp/state" }],
          volumeMounts: [...(container["volumeMounts"] as Array<unknown>), { name: "tmp", mountPath: "/tmp" }]
        }],
        volumes: [...spec.volumes, { name: "tmp", emptyDir: { sizeLimit: "1Gi" } }]
      }
    }
    const script = "const fs = require('node:fs'); fs.mkdirSync(process.env.STATE, { recursive: true }); " +
      "fs.writeFileSync(process.env.STATE + '/x', 'y'); console.log(process.env.STATE)"
    const fake = fakeRun(sim.world, pod)
    expect(await execImage({ image: "*", command: [process.execPath, "-e", script] }).run(fake.run)).toEqual({ exitCode: 0 })
    const path = fake.output().trim()
    expect(path).not.toBe("/tmp/state")
    expect(path.endsWith("/tmp/state")).toBe(true)
    expect(existsSync(path)).toBe(false)
  })

  it("runs a shell command line with the container's args and exits 0 without a message", async () => {
    const sim = testWorld()
    const fake = fakeRun(sim.world, validatorPod(sim, ["a b", "c"]))
    const result = await execImage({ image: "*", command: `"${process.execPath}" -e "console.log(JSON.stringify(process.argv.slice(1)))"`, terminationMessageEnv: "TERMINATION_LOG" }).run(fake.run)
    expect(result).toEqual({ exitCode: 0 })
    expect(fake.output()).toBe('["a b","c"]\n')
  })

  it("kills the process when the pod is deleted, and reports a command that cannot start", async () => {
    const sim = testWorld()
    const fake = fakeRun(sim.world, validatorPod(sim, []))
    const running = execImage({ image: "*", command: [process.execPath, "-e", "console.log('up'); setInterval(() => {}, 1000)"] }).run(fake.run)
    await eventually(() => (fake.output().includes("up") ? true : undefined))
    fake.abort.abort()
    expect(await running).toEqual({ exitCode: 143 })

    const missing = fakeRun(sim.world, validatorPod(testWorld(), []))
    const result = await execImage({ image: "*", command: ["/nonexistent/validator"] }).run(missing.run)
    expect(result.exitCode).toBe(128)
    expect(result.reason).toBe("StartError")
    expect(result.message).toContain("/nonexistent/validator")
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Shell words

describe("shell words", () => {
  it("splits scripts as a shell does, expanding variables and keeping separators", () => {
    const env = new Map([["AICR_MODEL", "Qwen/Qwen3-8B"]])
    expect(splitShell(`set -e\naiperf profile "$AICR_MODEL" --url 'http://x:8000' --a=\${AICR_MODEL} \\\n  --b "two words" # note\necho "$UNSET|" && cat f`, env)).toEqual([
      "set",
      "-e",
      "\n",
      "aiperf",
      "profile",
      "Qwen/Qwen3-8B",
      "--url",
      "http://x:8000",
      "--a=Qwen/Qwen3-8B",
      "--b",
      "two words",
      "\n",
      "echo",
      "|",
      "&&",
      "cat",
      "f"
    ])
  })
})
