#!/usr/bin/env node
// Runs `aicr validate` for real against the bundled simulated GPU cluster: starts kube-sim with a profile in this
// process, points the CLI (a child process) at it, then reports what the run left on the cluster and stops it.
//
//   npm run validate:sim -- [--profile h100-gke|h100-eks|dev|FILE] [--time-scale 0.01] -- <aicr validate flags…>
//
// Flags before the second `--` are this script's; everything after it goes to `aicr validate`. Without a `--`,
// every flag goes to `aicr validate`. The run's ledger lives in a temporary state directory (removed at the end).
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { startSim } from "@aicr/kube-sim"

const args = process.argv.slice(2)
const split = args.indexOf("--")
const own = split === -1 ? [] : args.slice(0, split)
const forwarded = split === -1 ? args : args.slice(split + 1)
const option = (name, fallback) => {
  const at = own.indexOf(`--${name}`)
  return at === -1 ? fallback : own[at + 1]
}
const profile = option("profile", "h100-gke")
const timeScale = Number(option("time-scale", "0.01"))
if (!(timeScale > 0)) {
  process.stderr.write("validate-on-sim: --time-scale must be a positive number\n")
  process.exit(2)
}

const bin = fileURLToPath(new URL("../../packages/cli/bin/aicr.js", import.meta.url))
const state = mkdtempSync(join(tmpdir(), "aicr-sim-state-"))
const sim = await startSim({ profile, profileOptions: { timeScale } })
process.stderr.write(`validate-on-sim: kube-sim "${profile}" at ${sim.url} (time scale ${timeScale}), kubeconfig ${sim.kubeconfigPath}\n`)

const child = spawn(process.execPath, [bin, "validate", ...forwarded], {
  stdio: "inherit",
  env: { ...process.env, KUBECONFIG: sim.kubeconfigPath, AICR_STATE_DIR: state }
})
const forward = (signal) => () => child.kill(signal)
process.on("SIGINT", forward("SIGINT"))
process.on("SIGTERM", forward("SIGTERM"))
const code = await new Promise((resolve) => child.on("close", (status, signal) => resolve(status ?? (signal === "SIGTERM" ? 143 : 130))))

const left = sim.cluster.store.keys().flatMap((key) =>
  (sim.cluster.store.list(key) ?? [])
    .filter((object) => object.metadata.labels?.["app.kubernetes.io/managed-by"] === "aicr")
    .map((object) => `${object.kind} ${object.metadata.namespace === undefined ? "" : `${object.metadata.namespace}/`}${object.metadata.name}`)
)
process.stderr.write(`validate-on-sim: aicr exited ${code}; objects labelled app.kubernetes.io/managed-by=aicr left on the cluster: ${left.length}\n`)
for (const line of left) process.stderr.write(`  ${line}\n`)
await sim.stop()
rmSync(state, { recursive: true, force: true })
process.exit(left.length > 0 && code === 0 ? 1 : code)
