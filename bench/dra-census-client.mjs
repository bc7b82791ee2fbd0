#!/usr/bin/env node
// One measured DRA census in a fresh process (started by bench/dra-census.mjs, so peaks of the variants never mix):
// loads core's Dra and KubeClientLive, builds the client from --kubeconfig, then times `Dra.census` with
// --page-size N or --page-size unpaginated, twice (cold, then warm). Prints one JSON line: times, the RSS before the
// first census, the process's peak RSS (getrusage maxrss) right after it, and a digest of the census.
// With --drain it only drains the same four `listStream`s (no census): the listing's own time and memory.
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import { parseArgs } from "node:util"
import * as Dra from "../packages/core/src/Dra.ts"
import { KubeClient } from "../packages/core/src/KubeClient.ts"
import * as KubeClientLive from "../packages/core/src/KubeClientLive.ts"

const { values } = parseArgs({
  options: { kubeconfig: { type: "string" }, "page-size": { type: "string", default: "500" }, drain: { type: "boolean", default: false } }
})
const pageSize = values["page-size"] === "unpaginated" ? "unpaginated" : Number(values["page-size"])
const mib = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10

const digest = (census) => {
  const totals = { nodes: census.nodes.length, capacity: 0, usedByClaims: 0, usedByPods: 0, free: 0 }
  for (const node of census.nodes) {
    totals.capacity += node.capacity
    totals.usedByClaims += node.usedByClaims
    totals.usedByPods += node.usedByPods
    totals.free += node.free
  }
  const hash = createHash("sha256").update(JSON.stringify(census)).digest("hex").slice(0, 16)
  return { ...totals, unmappedPools: census.unmappedPools.length, draServed: census.draServed, sha256: hash }
}

const QUERIES = [
  { apiVersion: "v1", kind: "Node" },
  { apiVersion: Dra.API_VERSION, kind: "ResourceSlice" },
  { apiVersion: "v1", kind: "Pod" },
  { apiVersion: Dra.API_VERSION, kind: "ResourceClaim" }
]

/** The listing alone: the four lists `Dra.census` makes, drained page by page; reports how many objects came. */
const drain = Effect.gen(function*() {
  const kube = yield* KubeClient
  const counts = {}
  for (const query of QUERIES) counts[query.kind] = yield* Stream.runCount(kube.listStream(query, { limit: pageSize === "unpaginated" ? 0 : pageSize }))
  return counts
})

const run = values.drain ? drain : Dra.census({ pageSize })

const program = Effect.gen(function*() {
  const rssBefore = process.memoryUsage().rss
  const coldStart = performance.now()
  const value = yield* run
  const coldMs = performance.now() - coldStart
  const peakRss = process.resourceUsage().maxRSS * 1024
  const rssAfter = process.memoryUsage().rss
  const heapAfter = process.memoryUsage().heapUsed
  const result = values.drain ? value : digest(value)
  const warmStart = performance.now()
  yield* run
  const warmMs = performance.now() - warmStart
  return {
    pageSize,
    drain: values.drain,
    coldMs: Math.round(coldMs),
    warmMs: Math.round(warmMs),
    rssBeforeMiB: mib(rssBefore),
    peakRssMiB: mib(peakRss),
    rssAfterMiB: mib(rssAfter),
    heapAfterMiB: mib(heapAfter),
    result
  }
}).pipe(Effect.provide(KubeClientLive.layerFromKubeconfig({ kubeconfig: values.kubeconfig })))

const result = await Effect.runPromise(program)
process.stdout.write(`${JSON.stringify(result)}\n`)
process.exit(0)
