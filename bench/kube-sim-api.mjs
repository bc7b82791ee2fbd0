#!/usr/bin/env node
// kube-sim API benchmark: with 5,000 nodes and 50,000 namespaced ConfigMaps stored, the median time for
// client-node to fetch a 500-object page, the median delay from a write to a client-node watcher receiving
// it, and the server's RSS. Run: npx node bench/kube-sim-api.mjs [--runs N] (raw output to stdout).
import * as k8s from "@kubernetes/client-node"
import { cpus } from "node:os"
import { startSim } from "../tools/kube-sim/src/index.ts"

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1] || 200)
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6

const sim = await startSim()
const cluster = sim.cluster
const nodeType = cluster.registry.find("", "v1", "nodes")
const cmType = cluster.registry.find("", "v1", "configmaps")
const nsType = cluster.registry.find("", "v1", "namespaces")
const seedStart = process.hrtime.bigint()
for (let i = 0; i < 5_000; i++) {
  cluster.create(nodeType, "", { apiVersion: "v1", kind: "Node", metadata: { name: `node-${i}`, labels: { "nvidia.com/gpu.present": "true" } } })
}
for (let n = 0; n < 50; n++) cluster.create(nsType, "", { apiVersion: "v1", kind: "Namespace", metadata: { name: `ns-${n}` } })
for (let i = 0; i < 50_000; i++) {
  cluster.create(cmType, `ns-${i % 50}`, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}` }, data: { index: String(i) } })
}
const seedMs = ms(seedStart)

const kc = new k8s.KubeConfig()
kc.loadFromFile(sim.kubeconfigPath)
const core = kc.makeApiClient(k8s.CoreV1Api)

const pageTimes = []
let token
for (let i = 0; i < runs; i++) {
  const start = process.hrtime.bigint()
  const page = await core.listConfigMapForAllNamespaces({ limit: 500, ...(token ? { _continue: token } : {}) })
  pageTimes.push(ms(start))
  if (page.items.length !== 500 && page.metadata?._continue) throw new Error(`page of ${page.items.length}`)
  token = page.metadata?._continue || undefined
}

const delays = []
let pending
await new k8s.Watch(kc).watch("/api/v1/namespaces/ns-0/configmaps", { resourceVersion: String(cluster.store.resourceVersion) }, (type, object) => {
  if (type === "ADDED" && pending && object.metadata.name === pending.name) pending.resolve(ms(pending.start))
}, () => {})
for (let i = 0; i < runs; i++) {
  const name = `watched-${i}`
  const received = new Promise((resolve) => (pending = { name, resolve, start: process.hrtime.bigint() }))
  cluster.create(cmType, "ns-0", { apiVersion: "v1", kind: "ConfigMap", metadata: { name } })
  delays.push(await received)
}
const rss = process.memoryUsage().rss / 2 ** 20
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${new Date().toISOString()}`)
console.log(`seeded 5,000 nodes + 50,000 configmaps in ${(seedMs / 1000).toFixed(1)} s`)
console.log(`page of 500 (client-node, all namespaces): median ${median(pageTimes).toFixed(1)} ms over ${runs} pages (min ${Math.min(...pageTimes).toFixed(1)}, max ${Math.max(...pageTimes).toFixed(1)})`)
console.log(`write → watcher: median ${median(delays).toFixed(2)} ms over ${runs} writes (max ${Math.max(...delays).toFixed(2)})`)
console.log(`RSS (server and client in one process): ${rss.toFixed(0)} MiB`)
await sim.stop()
process.exit(0)
