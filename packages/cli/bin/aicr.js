#!/usr/bin/env node
// Entry point. `aicr --version` answers from package.json alone, so it starts as fast as Node does; everything
// else loads the CLI (and only the modules its command needs).
import { readFileSync } from "node:fs"

const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === "--version" || args[0] === "-v")) {
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
  process.stdout.write(`${version}\n`)
} else {
  const major = Number(process.versions.node.split(".")[0])
  if (major < 24) {
    process.stderr.write(`aicr needs Node 24 or newer (this is ${process.version}): run it through npx or npm, which use the project's Node 24.\n`)
    process.exit(1)
  }
  await import("../src/main.ts")
}
