import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { kubectl } from "./support/kubectl.ts"
import { eventually } from "./support/sim.ts"

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

const firstLineOf = (sim: ReturnType<typeof run>) =>
  new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no kubeconfig line: ${sim.stderr()}`)), 20_000)
    sim.child.stdout.on("data", () => {
      if (sim.stdout().includes("\n")) {
        clearTimeout(timer)
        resolve(sim.stdout().split("\n")[0]!)
      }
    })
  })

describe("aicr-sim start", () => {
  it("prints its kubeconfig path on the first line, serves kubectl over https, and stops on SIGTERM", async () => {
    const sim = run(["start"])
    const firstLine = await firstLineOf(sim)
    expect(firstLine).toMatch(/\/kubeconfig$/)
    const kubeconfig = readFileSync(firstLine, "utf8")
    expect(kubeconfig).toContain("current-context: \"aicr-sim\"")
    expect(kubeconfig).toMatch(/\n {4}certificate-authority-data: "[A-Za-z0-9+/]+=*"\n {4}server: "https:\/\/127\.0\.0\.1:\d+"\n/)
    expect(kubeconfig).not.toContain("insecure-skip-tls-verify")
    const namespaces = await kubectl(firstLine, ["get", "namespaces", "-o", "name"])
    expect(namespaces.stdout).toBe("namespace/default\nnamespace/kube-node-lease\nnamespace/kube-public\nnamespace/kube-system\n")
    expect(sim.stderr()).toMatch(/^aicr-sim: serving https:\/\/127\.0\.0\.1:\d+ \(profile empty\)/)
    sim.child.kill("SIGTERM")
    expect(await sim.exited).toBe(0)
    expect(existsSync(firstLine)).toBe(false)
  }, 60_000)

  it("serves plain http with --insecure-http", async () => {
    const sim = run(["start", "--insecure-http"])
    const firstLine = await firstLineOf(sim)
    const kubeconfig = readFileSync(firstLine, "utf8")
    expect(kubeconfig).toMatch(/\n {4}insecure-skip-tls-verify: true\n {4}server: "http:\/\/127\.0\.0\.1:\d+"\n/)
    expect(kubeconfig).not.toContain("certificate-authority-data")
    const namespaces = await kubectl(firstLine, ["get", "namespace", "default", "-o", "name"])
    expect(namespaces.stdout).toBe("namespace/default\n")
    sim.child.kill("SIGTERM")
    expect(await sim.exited).toBe(0)
  }, 60_000)

  it("refuses an unknown profile and bad usage with exit 2", async () => {
    const unknown = run(["start", "--profile", "nope"])
    expect(await unknown.exited).toBe(2)
    expect(unknown.stderr()).toMatch(/^aicr-sim: nope: not a shipped profile \(h100-eks, h100-gke, dev\) and not a readable file: ENOENT/)
    const usage = run(["begin"])
    expect(await usage.exited).toBe(2)
    expect(usage.stderr()).toMatch(/^usage: aicr-sim start \[--profile empty\|h100-eks\|h100-gke\|dev\|FILE\]/)
    const options = run(["start", "--nodes", "3"])
    expect(await options.exited).toBe(2)
    expect(options.stderr()).toBe("aicr-sim: --nodes, --seed, --time-scale and --exec-image need a cluster profile (--profile h100-eks, h100-gke, dev or a file)\n")
  })

  it("builds a GPU cluster from a profile: nodes with their GPUs, the DRA driver's slices and the operators' CRDs", async () => {
    const sim = run(["start", "--insecure-http", "--profile", "dev", "--nodes", "3", "--seed", "5"])
    const firstLine = await firstLineOf(sim)
    expect(await eventually(() => (sim.stderr().includes("serving") ? sim.stderr() : undefined))).toMatch(/\(profile dev, seed 5, time scale [0-9.e-]+\)/)
    const nodes = await kubectl(firstLine, ["get", "nodes", "-l", "nvidia.com/gpu.present=true", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.allocatable.nvidia\\.com/gpu}{\"\\n\"}{end}"])
    expect(nodes.stdout.trim().split("\n")).toHaveLength(3)
    const slices = await kubectl(firstLine, ["get", "resourceslices", "-o", "name"])
    expect(slices.stdout.trim().split("\n")).toHaveLength(3)
    const crds = await kubectl(firstLine, ["get", "crd", "-o", "name"])
    expect(crds.stdout).toContain("customresourcedefinition.apiextensions.k8s.io/dynamographdeployments.nvidia.com")
    sim.child.kill("SIGTERM")
    expect(await sim.exited).toBe(0)
  }, 60_000)
})
