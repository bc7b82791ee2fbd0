import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { readSeedFile, SeedFileError } from "../src/index.ts"
import { eventually } from "./support/sim.ts"

const dir = mkdtempSync(join(tmpdir(), "kube-sim-seed-"))
const children: Array<ChildProcess> = []
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL")
  rmSync(dir, { recursive: true, force: true })
})

const file = (name: string, text: string): string => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

const namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a" } }
const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm-1", namespace: "team-a" }, data: { a: "1" } }
const node = { apiVersion: "v1", kind: "Node", metadata: { name: "gpu-1" }, status: { allocatable: { "nvidia.com/gpu": "8" } } }

describe("readSeedFile", () => {
  it("reads NDJSON (blank lines skipped), a JSON array, a List and a single object, in file order", () => {
    const ndjson = file("objects.ndjson", `${JSON.stringify(namespace)}\n\n${JSON.stringify(configMap)}\n${JSON.stringify(node)}\n`)
    expect(readSeedFile(ndjson)).toEqual([namespace, configMap, node])
    expect(readSeedFile(file("array.json", JSON.stringify([namespace, node], null, 2)))).toEqual([namespace, node])
    expect(readSeedFile(file("list.json", JSON.stringify({ apiVersion: "v1", kind: "List", items: [node] })))).toEqual([node])
    expect(readSeedFile(file("one.json", JSON.stringify(node, null, 2)))).toEqual([node])
  })

  it("names the file and line (or item) of a bad entry", () => {
    const problem = (path: string) => {
      try {
        readSeedFile(path)
      } catch (error) {
        expect(error).toBeInstanceOf(SeedFileError)
        return (error as Error).message.replace(`${dir}/`, "")
      }
      throw new Error("expected a SeedFileError")
    }
    expect(problem(file("bad-line.ndjson", `${JSON.stringify(namespace)}\n{"kind":\n`))).toMatch(/^bad-line\.ndjson:2: not JSON: /)
    expect(problem(file("no-name.ndjson", `${JSON.stringify(namespace)}\n{"apiVersion":"v1","kind":"Node","metadata":{}}\n`)))
      .toBe("no-name.ndjson:2: metadata.name must be a non-empty string")
    expect(problem(file("no-kind.json", JSON.stringify([namespace, { metadata: { name: "x" } }])))).toBe("no-kind.json: item 1: apiVersion and kind must be strings")
    expect(problem(join(dir, "missing.ndjson"))).toMatch(/^missing\.ndjson: cannot read the seed file: ENOENT/)
  })
})

const bin = join(import.meta.dirname, "..", "bin", "aicr-sim.js")

/** Runs `aicr-sim start …` until its first stdout line (or its exit); the caller stops it. */
const start = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [bin, "start", "--insecure-http", ...args], { stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  let stdout = ""
  let stderr = ""
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const ready = new Promise<string | undefined>((resolve) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      if (stdout.includes("\n")) resolve(stdout.split("\n")[0])
    })
    void exited.then(() => resolve(undefined))
  })
  return { child, exited, ready, stderr: () => stderr }
}

describe("aicr-sim start --seed-file", () => {
  it("stores the file's objects before printing the kubeconfig path, and serves them", async () => {
    const seed = file("cluster.ndjson", [namespace, configMap, node].map((object) => JSON.stringify(object)).join("\n"))
    const sim = start(["--seed-file", seed])
    expect(await sim.ready).toMatch(/\/kubeconfig$/)
    const url = await eventually(() => /serving (http:\/\/127\.0\.0\.1:\d+) \(profile empty, 3 objects from /.exec(sim.stderr())?.[1])
    const configMaps = (await (await fetch(`${url}/api/v1/namespaces/team-a/configmaps`)).json()) as { items: Array<{ metadata: { name: string }; data: unknown }> }
    expect(configMaps.items.map((item) => [item.metadata.name, item.data])).toEqual([["cm-1", { a: "1" }]])
    const stored = (await (await fetch(`${url}/api/v1/nodes/gpu-1`)).json()) as { status: unknown }
    expect(stored.status).toEqual(node.status)
    sim.child.kill("SIGTERM")
    expect(await sim.exited).toBe(0)
  }, 30_000)

  it("exits 2 naming the file and the object the store refuses, or the bad line", async () => {
    const orphan = file("orphan.ndjson", JSON.stringify(configMap))
    const refused = start(["--seed-file", orphan])
    expect(await refused.ready).toBeUndefined()
    expect(await refused.exited).toBe(2)
    expect(refused.stderr()).toBe(`aicr-sim: ${orphan}: object 1 (ConfigMap team-a/cm-1): namespaces "team-a" not found\n`)
    const bad = start(["--seed-file", file("bad.ndjson", "{]\n")])
    expect(await bad.exited).toBe(2)
    expect(bad.stderr()).toMatch(/^aicr-sim: .*bad\.ndjson:1: not JSON: /)
  }, 30_000)
})
