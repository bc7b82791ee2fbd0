import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { kubectl } from "./support/kubectl.ts"

const bin = join(import.meta.dirname, "..", "bin", "aicr-sim.js")

const run = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, exited, stdout: () => stdout, stderr: () => stderr }
}

describe("aicr-sim start", () => {
  it("prints its kubeconfig path on the first line, serves kubectl, and stops on SIGTERM", async () => {
    const sim = run(["start"])
    const firstLine = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no kubeconfig line: ${sim.stderr()}`)), 20_000)
      sim.child.stdout.on("data", () => {
        if (sim.stdout().includes("\n")) {
          clearTimeout(timer)
          resolve(sim.stdout().split("\n")[0]!)
        }
      })
    })
    expect(firstLine).toMatch(/\/kubeconfig$/)
    expect(readFileSync(firstLine, "utf8")).toContain("current-context: \"aicr-sim\"")
    const namespaces = await kubectl(firstLine, ["get", "namespaces", "-o", "name"])
    expect(namespaces.stdout).toBe("namespace/default\nnamespace/kube-node-lease\nnamespace/kube-public\nnamespace/kube-system\n")
    sim.child.kill("SIGTERM")
    expect(await sim.exited).toBe(0)
    expect(existsSync(firstLine)).toBe(false)
  }, 60_000)

  it("refuses an unknown profile and bad usage with exit 2", async () => {
    const unknown = run(["start", "--profile", "nope"])
    expect(await unknown.exited).toBe(2)
    expect(unknown.stderr()).toBe("aicr-sim: unknown profile \"nope\" (known: empty)\n")
    const usage = run(["begin"])
    expect(await usage.exited).toBe(2)
    expect(usage.stderr()).toBe("usage: aicr-sim start [--profile empty] [--port N] [--dir DIR]\n")
  })
})
