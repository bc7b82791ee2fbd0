import { describe, expect, it } from "vitest"
import * as Ctrf from "../src/Ctrf.ts"
import * as ExitCode from "../src/ExitCode.ts"

const T0 = 1774087200000

const reportOf = (...statuses: ReadonlyArray<Ctrf.Status>): Ctrf.Report =>
  Ctrf.build({
    start: T0,
    stop: T0,
    tests: statuses.map((status, index) => ({ name: `check-${index}`, status, duration: 0, suite: ["performance"] }))
  })

describe("constants", () => {
  it("pins every code", () => {
    expect({
      Success: ExitCode.Success,
      InvalidInput: ExitCode.InvalidInput,
      NotFound: ExitCode.NotFound,
      Unauthorized: ExitCode.Unauthorized,
      Timeout: ExitCode.Timeout,
      Unavailable: ExitCode.Unavailable,
      RateLimited: ExitCode.RateLimited,
      ChecksFailed: ExitCode.ChecksFailed,
      Inconclusive: ExitCode.Inconclusive,
      Interrupted: ExitCode.Interrupted,
      Terminated: ExitCode.Terminated
    }).toStrictEqual({
      Success: 0,
      InvalidInput: 2,
      NotFound: 3,
      Unauthorized: 4,
      Timeout: 5,
      Unavailable: 6,
      RateLimited: 7,
      ChecksFailed: 8,
      Inconclusive: 9,
      Interrupted: 130,
      Terminated: 143
    })
  })
})

describe("describe", () => {
  it("documents every code once, in ascending order, with its constant's name", () => {
    const table = ExitCode.describe()
    expect(table.map((entry) => entry.code)).toStrictEqual([0, 2, 3, 4, 5, 6, 7, 8, 9, 130, 143])
    for (const entry of table) {
      expect(ExitCode[entry.name as keyof typeof ExitCode]).toBe(entry.code)
      expect(entry.meaning.length).toBeGreaterThan(10)
    }
  })

  it("pins the meanings the CLI prints", () => {
    const meaning = (code: number) => ExitCode.describe().find((entry) => entry.code === code)?.meaning
    expect(meaning(0)).toBe("all checks passed or were skipped")
    expect(meaning(8)).toBe("at least one check failed")
    expect(meaning(9)).toBe("no check failed, but at least one could not determine a verdict")
  })
})

describe("fromReport", () => {
  it.each([
    ["no checks", [], 0],
    ["all passed", ["passed", "passed"], 0],
    ["all skipped", ["skipped", "skipped"], 0],
    ["passed and skipped", ["passed", "skipped"], 0],
    ["pending only", ["pending"], 0],
    ["one failed", ["passed", "failed"], 8],
    ["failed and inconclusive", ["other", "failed"], 8],
    ["one inconclusive", ["passed", "other"], 9],
    ["inconclusive and skipped", ["skipped", "other"], 9]
  ] as const)("%s → %i", (_label, statuses, code) => {
    expect(ExitCode.fromReport(reportOf(...statuses))).toBe(code)
  })

  it("reads a merged report of several phases", () => {
    const merged = Ctrf.merge([reportOf("passed"), reportOf("skipped"), reportOf("other")], T0)
    expect(ExitCode.fromReport(merged)).toBe(9)
  })
})

describe("fromKubeReason", () => {
  it.each([
    ["NotFound", 3],
    ["Unauthorized", 4],
    ["Forbidden", 4],
    ["Timeout", 5],
    ["Unavailable", 6],
    ["TooManyRequests", 7],
    ["Invalid", 2],
    ["Unknown", 6],
    ["Conflict", 6],
    ["AlreadyExists", 6],
    ["Gone", 6],
    ["SomethingNew", 6]
  ] as const)("%s → %i", (reason, code) => {
    expect(ExitCode.fromKubeReason(reason)).toBe(code)
  })
})

describe("fromSignal", () => {
  it("maps SIGINT to 130 and SIGTERM to 143", () => {
    expect(ExitCode.fromSignal("SIGINT")).toBe(130)
    expect(ExitCode.fromSignal("SIGTERM")).toBe(143)
  })
})
