import { afterEach, describe, expect, it, vi } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { open } from "node:fs/promises"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import type { KubeObject } from "../src/KubeClient.ts"
import * as Ledger from "../src/Ledger.ts"

const RUN = "20260101-000000-0123456789abcdef"
const RUN2 = "20260101-000001-fedcba9876543210"
const RUN3 = "20260101-000002-00000000000000aa"
const RUN4 = "20260101-000003-00000000000000bb"
const T0 = "1970-01-01T00:00:00.000Z"

const pod = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "aicr-validation", labels: { "aicr.nvidia.com/run-id": RUN }, ...extra }
})

const header = (runId: string, pid: number, host = hostname()) =>
  Ledger.encode({ _tag: "header", format: 1, runId, pid, host, startedAt: T0 })

const headerJson = (runId: string) =>
  `{"_tag":"header","format":1,"runId":"${runId}","pid":${process.pid},"host":${JSON.stringify(hostname())},"startedAt":"${T0}"`

const withLedger = <A, E>(f: (ledger: Ledger.Service) => Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.service(Ledger.Ledger), f).pipe(Effect.provide(Ledger.Ledger.layerTest))

const fileOf = (ledger: Ledger.Service, runId: string) => readFileSync(Ledger.pathOf(ledger.directory, runId), "utf8")

const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["-e", "0"])
  return child.pid!
}

describe("directoryFrom", () => {
  const cases: ReadonlyArray<[string, Parameters<typeof Ledger.directoryFrom>[0], string]> = [
    ["AICR_STATE_DIR wins", { AICR_STATE_DIR: "/s/runs", XDG_STATE_HOME: "/x" }, "/s/runs"],
    ["XDG_STATE_HOME next", { XDG_STATE_HOME: "/x" }, "/x/aicr/runs"],
    ["an empty AICR_STATE_DIR is unset", { AICR_STATE_DIR: "", XDG_STATE_HOME: "/x" }, "/x/aicr/runs"],
    ["a relative XDG_STATE_HOME is ignored", { XDG_STATE_HOME: "rel" }, "/home/u/.local/state/aicr/runs"],
    ["else the home directory", {}, "/home/u/.local/state/aicr/runs"]
  ]
  for (const [title, env, expected] of cases) {
    it(title, () => {
      expect(Ledger.directoryFrom(env, "/home/u")).toBe(expected)
    })
  }
})

describe("Ledger.layer reads the environment", () => {
  const directoryWith = (env: Record<string, string>) =>
    Effect.map(Effect.service(Ledger.Ledger), (ledger) => ledger.directory).pipe(
      Effect.provide(Ledger.Ledger.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))))
    )

  it.effect("AICR_STATE_DIR", () =>
    Effect.gen(function*() {
      expect(yield* directoryWith({ AICR_STATE_DIR: "/state/runs", XDG_STATE_HOME: "/xdg", HOME: "/home/u" })).toBe("/state/runs")
    }))

  it.effect("XDG_STATE_HOME", () =>
    Effect.gen(function*() {
      expect(yield* directoryWith({ XDG_STATE_HOME: "/xdg", HOME: "/home/u" })).toBe("/xdg/aicr/runs")
    }))

  it.effect("HOME", () =>
    Effect.gen(function*() {
      expect(yield* directoryWith({ HOME: "/home/u" })).toBe("/home/u/.local/state/aicr/runs")
    }))

  it.effect("writes where AICR_STATE_DIR points", () =>
    Effect.gen(function*() {
      const root = mkdtempSync(join(tmpdir(), "aicr-ledger-env-"))
      const dir = join(root, "nested", "runs")
      yield* Effect.flatMap(Effect.service(Ledger.Ledger), (ledger) => ledger.begin(RUN)).pipe(
        Effect.provide(Ledger.Ledger.layer.pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { AICR_STATE_DIR: dir } })))
        ))
      )
      expect(readFileSync(join(dir, `${RUN}.jsonl`), "utf8")).toBe(`${headerJson(RUN)}}\n`)
      rmSync(root, { recursive: true, force: true })
    }))
})

describe("appending", () => {
  it.effect("writes the records in call order, one line each", () =>
    withLedger((ledger) =>
      Effect.gen(function*() {
        yield* ledger.begin(RUN, { aicrVersion: "0.1.0" })
        yield* ledger.intent(RUN, pod("a"))
        yield* ledger.created(RUN, pod("a", { uid: "uid-a" }))
        yield* ledger.intent(RUN, { apiVersion: "v1", kind: "Namespace", metadata: { name: "ns" } })
        yield* ledger.deleted(RUN, { apiVersion: "v1", kind: "Pod", namespace: "aicr-validation", name: "a" })
        yield* ledger.releaseFailed(RUN, { apiVersion: "v1", kind: "Namespace", name: "ns" }, "Forbidden: no")
        yield* ledger.finish(RUN)
        expect(fileOf(ledger, RUN)).toBe(
          `${headerJson(RUN)},"aicrVersion":"0.1.0"}\n` +
            `{"_tag":"intent","at":"${T0}","apiVersion":"v1","kind":"Pod","namespace":"aicr-validation","name":"a","labels":{"aicr.nvidia.com/run-id":"${RUN}"}}\n` +
            `{"_tag":"created","at":"${T0}","apiVersion":"v1","kind":"Pod","namespace":"aicr-validation","name":"a","uid":"uid-a"}\n` +
            `{"_tag":"intent","at":"${T0}","apiVersion":"v1","kind":"Namespace","name":"ns","labels":{}}\n` +
            `{"_tag":"deleted","at":"${T0}","apiVersion":"v1","kind":"Pod","namespace":"aicr-validation","name":"a"}\n` +
            `{"_tag":"release-failed","at":"${T0}","apiVersion":"v1","kind":"Namespace","name":"ns","error":"Forbidden: no"}\n` +
            `{"_tag":"finished","at":"${T0}"}\n`
        )
        const read = yield* ledger.read(RUN)
        expect(read.problems).toEqual([])
        expect(read.entries.map((entry) => entry._tag)).toEqual([
          "header",
          "intent",
          "created",
          "intent",
          "deleted",
          "release-failed",
          "finished"
        ])
      })
    ))

  it.effect("keeps concurrent appends of one process in call order", () =>
    withLedger((ledger) =>
      Effect.gen(function*() {
        yield* ledger.begin(RUN)
        const names = Array.from({ length: 25 }, (_, i) => `p-${i}`)
        yield* Effect.forEach(names, (name) => ledger.intent(RUN, pod(name)), { concurrency: "unbounded", discard: true })
        const read = yield* ledger.read(RUN)
        expect(read.entries.slice(1).map((entry) => "name" in entry ? entry.name : entry._tag)).toEqual(names)
      })
    ))

  describe("fsync", () => {
    afterEach(() => {
      vi.restoreAllMocks()
    })

    it.effect("each record is one write of the full line followed by fsync, never overlapping another append", () =>
      Effect.gen(function*() {
        const scratch = mkdtempSync(join(tmpdir(), "aicr-ledger-proto-"))
        const handle = yield* Effect.promise(() => open(join(scratch, "x"), "w"))
        const proto = Object.getPrototypeOf(handle) as { write: (...args: Array<unknown>) => unknown; sync: () => unknown }
        yield* Effect.promise(() => handle.close())
        rmSync(scratch, { recursive: true, force: true })
        const write = vi.spyOn(proto, "write")
        const sync = vi.spyOn(proto, "sync")
        yield* withLedger((ledger) =>
          Effect.gen(function*() {
            yield* ledger.begin(RUN)
            const events = () =>
              [
                ...write.mock.calls.map((args, i) => ({
                  order: write.mock.invocationCallOrder[i]!,
                  event: `write ${(args[0] as Buffer).toString("utf8", args[1] as number)}`
                })),
                ...sync.mock.calls.map((_, i) => ({ order: sync.mock.invocationCallOrder[i]!, event: "fsync" }))
              ].sort((a, b) => a.order - b.order).map(({ event }) => event)
            expect(events()).toEqual([`write ${headerJson(RUN)}}\n`, "fsync", "fsync"])
            write.mockClear()
            sync.mockClear()
            yield* ledger.intent(RUN, pod("a"))
            yield* ledger.deleted(RUN, { apiVersion: "v1", kind: "Pod", namespace: "aicr-validation", name: "a" })
            expect(events()).toEqual([
              `write {"_tag":"intent","at":"${T0}","apiVersion":"v1","kind":"Pod","namespace":"aicr-validation","name":"a","labels":{"aicr.nvidia.com/run-id":"${RUN}"}}\n`,
              "fsync",
              `write {"_tag":"deleted","at":"${T0}","apiVersion":"v1","kind":"Pod","namespace":"aicr-validation","name":"a"}\n`,
              "fsync"
            ])
            write.mockClear()
            sync.mockClear()
            yield* Effect.forEach(Array.from({ length: 10 }), () => ledger.finish(RUN), { concurrency: "unbounded", discard: true })
            expect(events()).toEqual(Array.from({ length: 10 }).flatMap(() => [`write {"_tag":"finished","at":"${T0}"}\n`, "fsync"]))
          })
        )
      }))
  })

  it.effect("rejects a run ID that is not YYYYMMDD-HHMMSS-<16 hex>", () =>
    withLedger((ledger) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(ledger.begin("../etc/passwd"))
        expect(error._tag).toBe("LedgerError")
        expect(error.path).toBe(ledger.directory)
        expect(error.message).toBe(`invalid run ID "../etc/passwd": expected YYYYMMDD-HHMMSS-<16 hex>`)
      })
    ))

  it.effect("fails with the path when the directory cannot be written", () =>
    Effect.gen(function*() {
      const root = mkdtempSync(join(tmpdir(), "aicr-ledger-ro-"))
      writeFileSync(join(root, "file"), "")
      const dir = join(root, "file", "runs")
      const error = yield* Effect.flip(
        Effect.flatMap(Effect.service(Ledger.Ledger), (ledger) => ledger.begin(RUN)).pipe(Effect.provide(Ledger.Ledger.layerAt(dir)))
      )
      expect(error.path).toBe(dir)
      expect(error.message).toMatch(new RegExp(`^cannot create the ledger directory ${dir}: ENOTDIR`))
      rmSync(root, { recursive: true, force: true })
    }))

  it.effect("layerTest removes its directory when its scope closes", () =>
    Effect.gen(function*() {
      const dir = yield* withLedger((ledger) =>
        Effect.map(ledger.begin(RUN), () => {
          expect(existsSync(Ledger.pathOf(ledger.directory, RUN))).toBe(true)
          return ledger.directory
        })
      )
      expect(existsSync(dir)).toBe(false)
    }))
})

describe("reading", () => {
  const path = "/state/runs/x.jsonl"
  const intentLine = `{"_tag":"intent","at":"${T0}","apiVersion":"v1","kind":"Pod","namespace":"ns","name":"a","labels":{}}`

  it("tolerates a torn last line and reports it", () => {
    const torn = `{"_tag":"created","at":"${T0}","apiVe`
    const result = Ledger.parse(path, `${header(RUN, 42)}${intentLine}\n${torn}`)
    expect(result.entries.map((entry) => entry._tag)).toEqual(["header", "intent"])
    expect(result.problems).toEqual([{
      path,
      line: 3,
      kind: "torn",
      message: "incomplete last line (56 bytes, no newline): the writer stopped mid-write; ignored"
    }])
    expect(result.problems.map(Ledger.formatProblem)).toEqual([
      "/state/runs/x.jsonl:3: incomplete last line (56 bytes, no newline): the writer stopped mid-write; ignored"
    ])
  })

  it("keeps a complete last record that lacks only its newline", () => {
    const result = Ledger.parse(path, `${header(RUN, 42)}${intentLine}`)
    expect(result.entries).toEqual([
      { _tag: "header", format: 1, runId: RUN, pid: 42, host: hostname(), startedAt: T0 },
      { _tag: "intent", at: T0, apiVersion: "v1", kind: "Pod", namespace: "ns", name: "a", labels: {} }
    ])
    expect(result.problems).toEqual([])
  })

  it("reports corrupt lines with their line numbers and keeps the rest", () => {
    const text = [
      header(RUN, 42).trimEnd(),
      "{not json",
      `{"_tag":"exploded","at":"${T0}"}`,
      `{"_tag":"created","at":"${T0}","apiVersion":"v1","kind":"Pod"}`,
      "",
      `{"_tag":"header","format":1,"runId":"${RUN}","pid":0,"host":"h","startedAt":"${T0}"}`,
      `{"_tag":"header","format":2}`,
      `{"_tag":"intent","at":"${T0}","apiVersion":"v1","kind":"Pod","name":"a","labels":{"k":1}}`,
      `["_tag"]`,
      `{"at":"${T0}"}`,
      intentLine,
      ""
    ].join("\n")
    const result = Ledger.parse(path, text)
    expect(result.entries.map((entry) => entry._tag)).toEqual(["header", "intent"])
    expect(result.problems.map(Ledger.formatProblem)).toEqual([
      `${path}:2: not valid JSON`,
      `${path}:3: unknown record type "exploded"`,
      `${path}:4: field "name" must be a non-empty string`,
      `${path}:6: field "pid" must be a positive integer`,
      `${path}:7: unsupported ledger format 2 (expected 1)`,
      `${path}:8: field "labels" must be an object of strings`,
      `${path}:9: not a JSON object`,
      `${path}:10: no record type ("_tag")`
    ])
    expect(result.problems.every((problem) => problem.kind === "corrupt")).toBe(true)
  })

  it.effect("ends a torn line before the next append, which then reads back as corrupt", () =>
    withLedger((ledger) =>
      Effect.gen(function*() {
        const file = Ledger.pathOf(ledger.directory, RUN)
        mkdirSync(ledger.directory, { recursive: true })
        writeFileSync(file, `${header(RUN, 42)}${intentLine}\n{"_tag":"crea`)
        const before = yield* ledger.read(RUN)
        expect(before.problems.map(Ledger.formatProblem)).toEqual([
          `${file}:3: incomplete last line (13 bytes, no newline): the writer stopped mid-write; ignored`
        ])
        yield* ledger.deleted(RUN, { apiVersion: "v1", kind: "Pod", namespace: "ns", name: "a" })
        yield* ledger.finish(RUN)
        const after = yield* ledger.read(RUN)
        expect(after.problems.map(Ledger.formatProblem)).toEqual([`${file}:3: not valid JSON`])
        expect(after.entries.map((entry) => entry._tag)).toEqual(["header", "intent", "deleted", "finished"])
        expect(Ledger.outstanding(after.entries)).toEqual([])
      })
    ))

  it.effect("fails with the path for a run without a ledger", () =>
    withLedger((ledger) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(ledger.read(RUN))
        const file = Ledger.pathOf(ledger.directory, RUN)
        expect(error.path).toBe(file)
        expect(error.message).toBe(`cannot read ${file}: ENOENT: no such file or directory, open '${file}'`)
      })
    ))
})

describe("outstanding", () => {
  const at = T0
  const ref = (kind: string, name: string) => ({ apiVersion: "v1", kind, namespace: "ns", name })

  it("lists objects with an intent or created record and no deleted record, newest first", () => {
    const entries: ReadonlyArray<Ledger.Entry> = [
      { _tag: "header", format: 1, runId: RUN, pid: 1, host: "h", startedAt: at },
      { _tag: "intent", at, ...ref("Pod", "a"), labels: { l: "a" } },
      { _tag: "created", at, ...ref("Pod", "a"), uid: "uid-a" },
      { _tag: "intent", at, ...ref("Pod", "b"), labels: {} },
      { _tag: "intent", at, ...ref("ConfigMap", "c"), labels: {} },
      { _tag: "created", at, ...ref("Pod", "b"), uid: "uid-b" },
      { _tag: "created", at, ...ref("Service", "orphan") },
      { _tag: "deleted", at, ...ref("Pod", "a") },
      { _tag: "release-failed", at, ...ref("ConfigMap", "c"), error: "Timeout" },
      { _tag: "release-failed", at, ...ref("Pod", "never"), error: "ignored" },
      { _tag: "intent", at, ...ref("Pod", "a"), labels: { l: "a2" } },
      { _tag: "intent", at, ...ref("Pod", "d"), labels: {} },
      { _tag: "deleted", at, ...ref("Pod", "d") },
      { _tag: "finished", at }
    ]
    expect(Ledger.outstanding(entries)).toEqual([
      { ...ref("Pod", "a"), labels: { l: "a2" }, created: false },
      { ...ref("Service", "orphan"), labels: {}, created: true },
      { ...ref("ConfigMap", "c"), labels: {}, created: false, releaseError: "Timeout" },
      { ...ref("Pod", "b"), labels: {}, uid: "uid-b", created: true }
    ])
  })

  it("distinguishes cluster-scoped from namespaced objects of the same name", () => {
    const entries: ReadonlyArray<Ledger.Entry> = [
      { _tag: "intent", at, apiVersion: "v1", kind: "Namespace", name: "x", labels: {} },
      { _tag: "intent", at, ...ref("Namespace", "x"), labels: {} },
      { _tag: "deleted", at, ...ref("Namespace", "x") }
    ]
    expect(Ledger.outstanding(entries)).toEqual([{ apiVersion: "v1", kind: "Namespace", name: "x", labels: {}, created: false }])
  })
})

describe("runs and liveness", () => {
  it("isAlive: the current process and pid 1 (EPERM when not root) are alive, an exited child is not", () => {
    expect(Ledger.isAlive(process.pid)).toBe(true)
    expect(Ledger.isAlive(1)).toBe(true)
    expect(Ledger.isAlive(deadPid())).toBe(false)
  })

  it("summarize: a run of another host counts as alive without probing; no header means not alive", () => {
    const probe = vi.fn(() => false)
    const other = Ledger.summarize(RUN, Ledger.parse("/p", header(RUN, 42, "elsewhere")), "here", probe)
    expect(other).toEqual({
      runId: RUN,
      path: "/p",
      pid: 42,
      host: "elsewhere",
      startedAt: T0,
      finished: false,
      alive: true,
      problems: []
    })
    expect(probe).not.toHaveBeenCalled()
    const local = Ledger.summarize(RUN, Ledger.parse("/p", header(RUN, 42, "here")), "here", probe)
    expect(local.alive).toBe(false)
    expect(probe).toHaveBeenCalledWith(42)
    expect(Ledger.summarize(RUN, Ledger.parse("/p", `{"_tag":"hea`), "here", probe)).toMatchObject({
      pid: undefined,
      finished: false,
      alive: false
    })
  })

  it.effect("lists runs oldest first with pid, finished and liveness", () =>
    withLedger((ledger) =>
      Effect.gen(function*() {
        expect(yield* ledger.runs()).toEqual([])
        const dead = deadPid()
        yield* ledger.begin(RUN2)
        yield* ledger.begin(RUN4)
        yield* ledger.finish(RUN4)
        writeFileSync(Ledger.pathOf(ledger.directory, RUN), header(RUN, dead))
        writeFileSync(Ledger.pathOf(ledger.directory, RUN3), `${header(RUN3, dead)}{"_tag":"finished","at":"${T0}"}\n`)
        writeFileSync(join(ledger.directory, "notes.txt"), "ignored")
        const runs = yield* ledger.runs()
        expect(runs.map(({ runId, pid, finished, alive }) => ({ runId, pid, finished, alive }))).toEqual([
          { runId: RUN, pid: dead, finished: false, alive: false },
          { runId: RUN2, pid: process.pid, finished: false, alive: true },
          { runId: RUN3, pid: dead, finished: true, alive: false },
          { runId: RUN4, pid: process.pid, finished: true, alive: true }
        ])
        expect(runs.filter((run) => !run.alive).map((run) => run.runId)).toEqual([RUN, RUN3])
      })
    ))
})
