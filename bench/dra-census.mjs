#!/usr/bin/env node
// DRA GPU census at scale: 5,000 p5.48xlarge nodes (8 GPUs each, h100-eks profile objects) with their
// gpu.nvidia.com ResourceSlices and 40,000 allocated ResourceClaims spread over 50 namespaces, served by kube-sim
// in its own process (seeded from an NDJSON file, `aicr-sim start --seed-file`). Each run measures `Dra.census`
// paginated (500 per page) and unpaginated (one LIST per kind), each in a fresh client process
// (bench/dra-census-client.mjs): wall time of the census and the client's peak RSS (getrusage maxrss); and, as the
// floor, the same four lists drained through KubeClientLive's listStream with no census.
// Run: npx node bench/dra-census.mjs [--runs N] [--nodes N] [--claims N] [--pods] [--insecure-http]
// (raw output to stdout; keep it in bench/results/dra-census-<date>.txt).
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { loadProfile, profileObjects } from "../tools/kube-sim/src/index.ts"

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    nodes: { type: "string", default: "5000" },
    claims: { type: "string", default: "40000" },
    namespaces: { type: "string", default: "50" },
    "page-size": { type: "string", default: "500" },
    pods: { type: "boolean", default: false },
    "insecure-http": { type: "boolean", default: false }
  }
})
const runs = Number(values.runs)
const nodeCount = Number(values.nodes)
const claimCount = Number(values.claims)
const namespaceCount = Number(values.namespaces)
const root = join(import.meta.dirname, "..")
const client = join(import.meta.dirname, "dra-census-client.mjs")
const simBin = join(root, "tools", "kube-sim", "bin", "aicr-sim.js")
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const seconds = (start) => ((performance.now() - start) / 1000).toFixed(1)

// ---------------------------------------------------------------------------------------------------------------
// The cluster

const GPUS = 8
const DRIVER = "gpu.nvidia.com"

/** An allocated, reserved claim for one GPU of `node`, shaped as the NVIDIA DRA driver's claims are. */
const claim = (index, namespace, node, device) => ({
  apiVersion: "resource.k8s.io/v1",
  kind: "ResourceClaim",
  metadata: { name: `train-${index}-gpu`, namespace, labels: { "app.kubernetes.io/name": "train", "bench/claim": String(index % 100) } },
  spec: { devices: { requests: [{ name: "gpu", exactly: { deviceClassName: DRIVER, allocationMode: "ExactCount", count: 1 } }] } },
  status: {
    allocation: {
      devices: { results: [{ request: "gpu", driver: DRIVER, pool: node, device: `gpu-${device}` }] },
      nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] }] }
    },
    reservedFor: [{ resource: "pods", name: `train-${index}`, uid: `00000000-0000-4000-8000-${String(index).padStart(12, "0")}` }]
  }
})

/** The Running pod a claim is reserved for (only with --pods): it asks for the GPU through the claim, not nvidia.com/gpu. */
const pod = (index, namespace, node) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: `train-${index}`, namespace, labels: { "app.kubernetes.io/name": "train" } },
  spec: {
    nodeName: node,
    restartPolicy: "Never",
    tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
    resourceClaims: [{ name: "gpu", resourceClaimName: `train-${index}-gpu` }],
    containers: [{
      name: "main",
      image: "nvcr.io/nvidia/pytorch:25.01-py3",
      command: ["python", "train.py"],
      resources: { requests: { cpu: "16", memory: "200Gi" }, claims: [{ name: "gpu" }] }
    }]
  },
  status: { phase: "Running", podIP: `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}` }
})

const seedFile = (dir) => {
  const profile = loadProfile("h100-eks", { nodes: nodeCount, components: ["dra-driver", "gpu-operator"], seed: 1 })
  const objects = profileObjects(profile)
  const gpuNodes = objects
    .filter((object) => object.kind === "Node" && object.status?.allocatable?.["nvidia.com/gpu"] !== undefined)
    .map((object) => object.metadata.name)
  const lines = objects.map((object) => JSON.stringify(object))
  const namespaces = Array.from({ length: namespaceCount }, (_, index) => `team-${String(index).padStart(2, "0")}`)
  for (const name of namespaces) lines.push(JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } }))
  for (let index = 0; index < claimCount; index++) {
    const namespace = namespaces[index % namespaces.length]
    const node = gpuNodes[index % gpuNodes.length]
    const device = Math.floor(index / gpuNodes.length) % GPUS
    lines.push(JSON.stringify(claim(index, namespace, node, device)))
    if (values.pods) lines.push(JSON.stringify(pod(index, namespace, node)))
  }
  const path = join(dir, "cluster.ndjson")
  const text = `${lines.join("\n")}\n`
  writeFileSync(path, text)
  const count = (kind) => objects.filter((object) => object.kind === kind).length
  return {
    path,
    bytes: Buffer.byteLength(text),
    description: `${count("Node")} nodes (${gpuNodes.length} with ${GPUS} GPUs), ${count("ResourceSlice")} ResourceSlices, ` +
      `${claimCount} allocated ResourceClaims in ${namespaceCount} namespaces, ${values.pods ? claimCount : 0} pods`
  }
}

/** Starts `aicr-sim start --seed-file` in its own process; resolves with the kubeconfig path and a stop function. */
const startSim = (file) =>
  new Promise((resolve, reject) => {
    const args = [simBin, "start", "--seed-file", file, ...(values["insecure-http"] ? ["--insecure-http"] : [])]
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.stdout.on("data", (chunk) => {
      stdout += chunk
      if (stdout.includes("\n")) {
        resolve({
          kubeconfig: stdout.split("\n")[0],
          pid: child.pid,
          stop: () => new Promise((done) => {
            child.once("exit", () => done())
            child.kill("SIGTERM")
          })
        })
      }
    })
    child.once("exit", (code) => reject(new Error(`aicr-sim exited ${code}: ${stderr}`)))
  })

/** The simulator's resident memory (from /proc), for the record: it is not the client's. */
const rssOf = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return Math.round(kib / 1024)
}

const measure = (kubeconfig, variant) => {
  const result = spawnSync(process.execPath, [client, "--kubeconfig", kubeconfig, ...variant.args], { cwd: root, encoding: "utf8" })
  if (result.status !== 0) throw new Error(`census client (${variant.name}) exited ${result.status}: ${result.stderr}`)
  return JSON.parse(result.stdout.trim().split("\n").at(-1))
}

// ---------------------------------------------------------------------------------------------------------------
// The run

const dir = mkdtempSync(join(tmpdir(), "aicr-dra-census-"))
try {
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString()}`)
  let start = performance.now()
  const seed = seedFile(dir)
  console.log(`cluster: ${seed.description}; seed file ${(seed.bytes / 2 ** 20).toFixed(0)} MiB written in ${seconds(start)} s`)
  start = performance.now()
  const sim = await startSim(seed.path)
  console.log(`kube-sim (pid ${sim.pid}, ${values["insecure-http"] ? "http" : "https"}) seeded and serving in ${seconds(start)} s, RSS ${rssOf(sim.pid)} MiB; load average ${loadavg().map((load) => load.toFixed(2)).join(" ")}`)
  try {
    const pageSize = values["page-size"]
    const variants = [
      { name: "paginated", label: `census, paginated (${pageSize} per page)`, args: ["--page-size", pageSize] },
      { name: "unpaginated", label: "census, unpaginated (one LIST per kind)", args: ["--page-size", "unpaginated"] },
      { name: "drain", label: `listStream drained, no census (${pageSize} per page)`, args: ["--page-size", pageSize, "--drain"] }
    ]
    const results = new Map(variants.map((variant) => [variant.name, []]))
    for (let run = 1; run <= runs; run++) {
      const order = run % 2 === 1 ? variants : [...variants].reverse()
      for (const variant of order) {
        const result = measure(sim.kubeconfig, variant)
        results.get(variant.name).push(result)
        console.log(`run ${run} ${variant.name.padEnd(11)} ${JSON.stringify(result)}`)
      }
    }
    const censuses = [...results.get("paginated"), ...results.get("unpaginated")].map((result) => result.result)
    const digests = new Set(censuses.map((census) => census.sha256))
    if (digests.size !== 1) throw new Error(`the variants disagree: census digests ${[...digests].join(", ")}`)
    if (censuses[0].usedByClaims !== claimCount) throw new Error(`expected ${claimCount} GPUs used by claims, got ${censuses[0].usedByClaims}`)
    console.log(`census (every run, both variants): ${JSON.stringify(censuses[0])}`)
    console.log(`kube-sim RSS after the runs: ${rssOf(sim.pid)} MiB; load average ${loadavg().map((load) => load.toFixed(2)).join(" ")}`)
    console.log("")
    console.log(`medians of ${runs} runs (each in a fresh client process; cold = first call in the process, warm = second):`)
    console.log("| variant | cold, ms | warm, ms | client peak RSS, MiB | client RSS before, MiB |")
    console.log("|---|---:|---:|---:|---:|")
    for (const variant of variants) {
      const list = results.get(variant.name)
      const pick = (key) => median(list.map((result) => result[key]))
      console.log(`| ${variant.label} | ${pick("coldMs")} | ${pick("warmMs")} | ${pick("peakRssMiB")} | ${pick("rssBeforeMiB")} |`)
    }
  } finally {
    await sim.stop()
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
