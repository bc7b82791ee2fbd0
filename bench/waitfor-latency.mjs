#!/usr/bin/env node
// waitFor latency: the delay from a status write to `KubeClient.waitFor` returning, with kube-sim in its own
// process (`aicr-sim start`, HTTPS) so the client's figures are alone. Each round starts a waitFor on a Pod for a
// status message not yet written (LIST, then WATCH), lets the watch open, then a separate keep-alive connection
// PATCHes pods/status; the time from sending the PATCH to waitFor returning is recorded. Prints median, p90, p99
// and max. Run: npm run bench:waitfor [-- --changes N] (raw output to stdout; keep it under bench/results/).
import { KubeConfig } from "@kubernetes/client-node"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { spawn } from "node:child_process"
import { Agent, request } from "node:https"
import { cpus, totalmem } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { createInterface } from "node:readline"
import * as KubeClientLive from "../packages/core/src/KubeClientLive.ts"

const root = join(import.meta.dirname, "..")
const argument = (name, fallback) => {
  const index = process.argv.indexOf(name)
  return index === -1 ? fallback : Number(process.argv[index + 1])
}
const changes = argument("--changes", 1000)
const warmup = argument("--warmup", 20)
const settleMs = argument("--settle-ms", 5)

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}

const startSim = () =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, "tools", "kube-sim", "bin", "aicr-sim.js"), "start"], { stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.once("exit", (code) => reject(new Error(`aicr-sim exited ${code}: ${stderr}`)))
    createInterface({ input: child.stdout }).once("line", (kubeconfig) => resolve({ child, kubeconfig: kubeconfig.trim() }))
  })

const { child, kubeconfig } = await startSim()
const kc = new KubeConfig()
kc.loadFromFile(kubeconfig)
const cluster = kc.getCurrentCluster()
const server = new URL(cluster.server)
const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: Buffer.from(cluster.caData, "base64") })
const token = kc.getCurrentUser().token

/** One request over the writer's own keep-alive connection; resolves with the status once the answer is read. */
const call = (method, path, contentType, body) =>
  new Promise((resolve, reject) => {
    const text = JSON.stringify(body)
    const req = request({
      agent,
      host: server.hostname,
      port: server.port,
      method,
      path,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": contentType, "Content-Length": Buffer.byteLength(text), Accept: "application/json" }
    }, (res) => {
      res.resume()
      res.on("end", () => (res.statusCode >= 200 && res.statusCode < 300 ? resolve(res.statusCode) : reject(new Error(`${method} ${path}: HTTP ${res.statusCode}`))))
    })
    req.on("error", reject)
    req.end(text)
  })

const namespace = "bench-waitfor"
const name = "target"
await call("POST", "/api/v1/namespaces", "application/json", { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } })
await call("POST", `/api/v1/namespaces/${namespace}/pods`, "application/json", {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name },
  spec: { containers: [{ name: "main", image: "busybox:1.37" }] }
})

const ref = { apiVersion: "v1", kind: "Pod", namespace, name }
const messageOf = (object) => object?.status?.message

const round = (client, label) =>
  Effect.gen(function*() {
    let listed
    const firstCheck = new Promise((resolve) => (listed = resolve))
    let returnedAt = 0
    const fiber = yield* Effect.forkChild(
      client.waitFor(ref, (object) => {
        listed()
        return messageOf(object) === label
      }, { timeout: "30 seconds", description: `to carry status message ${label}` }).pipe(
        Effect.tap(() => Effect.sync(() => void (returnedAt = performance.now())))
      )
    )
    yield* Effect.promise(() => firstCheck)
    yield* Effect.sleep(`${settleMs} millis`)
    const sentAt = performance.now()
    yield* Effect.promise(() => call("PATCH", `/api/v1/namespaces/${namespace}/pods/${name}/status`, "application/merge-patch+json", { status: { message: label } }))
    const answeredAt = performance.now()
    yield* Fiber.join(fiber)
    return { latency: returnedAt - sentAt, write: answeredAt - sentAt }
  })

const program = Effect.gen(function*() {
  const client = yield* KubeClientLive.make(yield* KubeClientLive.loadKubeConfig({ kubeconfig }))
  for (let i = 0; i < warmup; i++) yield* round(client, `warmup-${i}`)
  const latencies = []
  const writes = []
  const started = performance.now()
  for (let i = 0; i < changes; i++) {
    const { latency, write } = yield* round(client, `round-${i}`)
    latencies.push(latency)
    writes.push(write)
  }
  return { latencies, writes, seconds: (performance.now() - started) / 1000 }
})

try {
  const { latencies, writes, seconds } = await Effect.runPromise(Effect.scoped(program))
  const f = (ms) => `${ms.toFixed(2)} ms`
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString()}`)
  console.log(`kube-sim: own process (aicr-sim start, HTTPS); client: KubeClientLive.waitFor; writer: own keep-alive HTTPS connection; settle ${settleMs} ms; ${warmup} warm-up rounds`)
  console.log(`status write → waitFor returned, ${changes} changes in ${seconds.toFixed(1)} s: median ${f(quantile(latencies, 0.5))}, p90 ${f(quantile(latencies, 0.9))}, p99 ${f(quantile(latencies, 0.99))}, max ${f(Math.max(...latencies))}`)
  console.log(`PATCH round trip (writer alone): median ${f(quantile(writes, 0.5))}, p99 ${f(quantile(writes, 0.99))}`)
} finally {
  agent.destroy()
  child.kill("SIGTERM")
}
