#!/usr/bin/env node
// The README's test command: type-check (with type tests), lint (with module boundaries) and every vitest
// project through Nx (never from a cache: this is the command CI trusts), then one closing line
// `N passed, N failed` totalled over all test runners.
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..")
const major = Number(process.versions.node.split(".")[0])
if (major < 24) {
  console.error(`aicr needs Node 24 (this is ${process.version}); run through npm (npm test) so node_modules/.bin/node is used.`)
  process.exit(1)
}

const env = { ...process.env, NX_DAEMON: "false", NX_NO_CLOUD: "true", NX_TUI: "false" }
const roots = ["packages", "tools"].flatMap((group) =>
  readdirSync(join(root, group), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, group, entry.name, "package.json")))
    .map((entry) => join(group, entry.name))
    .filter((dir) => JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")).scripts?.test !== undefined)
)
for (const dir of roots) rmSync(join(root, dir, ".test-results"), { recursive: true, force: true })

const targets = process.argv.includes("--tests-only") ? "test" : "typecheck,lint,test"
const run = spawnSync(
  "npx",
  ["nx", "run-many", "-t", targets, "--output-style=static", "--parallel=2", "--nxBail=false", "--skip-nx-cache"],
  { cwd: root, env, stdio: "inherit" }
)

let passed = 0
let failed = 0
let skipped = 0
const missing = []
for (const dir of roots) {
  const file = join(root, dir, ".test-results", "vitest.json")
  if (!existsSync(file)) {
    missing.push(dir)
    continue
  }
  const result = JSON.parse(readFileSync(file, "utf8"))
  passed += result.numPassedTests
  failed += result.numFailedTests
  skipped += result.numPendingTests + (result.numTodoTests ?? 0)
}
if (missing.length > 0) console.log(`no test results from: ${missing.join(", ")}`)
if (run.status !== 0) console.log(`nx run-many -t ${targets} failed (exit ${run.status}): see the task output above`)
const ok = run.status === 0 && failed === 0 && passed > 0 && missing.length === 0
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`)
process.exit(ok ? 0 : 1)
