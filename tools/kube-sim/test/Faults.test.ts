import { describe, expect, it } from "vitest"
import { Faults, type FaultRequest, mulberry32 } from "../src/faults.ts"

const getPod: FaultRequest = { verb: "get", resource: "pods", group: "", namespace: "ns", name: "p" }
const listJobs: FaultRequest = { verb: "list", resource: "jobs", group: "batch", namespace: "ci" }

const outcomes = (faults: Faults, count: number, request: FaultRequest = getPod): string =>
  Array.from({ length: count }, () => (faults.decide(request) === undefined ? "." : "x")).join("")

describe("mulberry32", () => {
  it("gives the same sequence for the same seed, in [0, 1)", () => {
    const a = mulberry32(7)
    const b = mulberry32(7)
    const c = mulberry32(8)
    const first = Array.from({ length: 50 }, a)
    expect(Array.from({ length: 50 }, b)).toEqual(first)
    expect(Array.from({ length: 50 }, c)).not.toEqual(first)
    expect(first.every((value) => value >= 0 && value < 1)).toBe(true)
  })
})

describe("Faults.decide", () => {
  it("answers nothing without rules", () => {
    expect(new Faults(1).decide(getPod)).toBeUndefined()
  })

  it("fails at a rate reproducibly for a seed", () => {
    const run = (seed: number) => {
      const faults = new Faults(seed)
      faults.add({ code: 503, rate: 0.3 })
      return outcomes(faults, 400)
    }
    const first = run(42)
    expect(run(42)).toBe(first)
    expect(run(43)).not.toBe(first)
    const failures = [...first].filter((c) => c === "x").length
    expect(failures).toBeGreaterThan(80)
    expect(failures).toBeLessThan(160)
  })

  it("restarts the sequence on reseed", () => {
    const faults = new Faults(5)
    faults.add({ code: 500, rate: 0.5 })
    const first = outcomes(faults, 64)
    faults.reseed(5)
    expect(outcomes(faults, 64)).toBe(first)
  })

  it("never or always fails at rate 0 and 1", () => {
    const never = new Faults(3)
    never.add({ code: 500, rate: 0 })
    expect(outcomes(never, 20)).toBe(".".repeat(20))
    const always = new Faults(3)
    always.add({ code: 500, rate: 1 })
    expect(outcomes(always, 20)).toBe("x".repeat(20))
  })

  it("fails the next `times` matching requests, then stops", () => {
    const faults = new Faults(1)
    faults.add({ code: 409, times: 2, resource: "pods" })
    expect(faults.decide(listJobs)).toBeUndefined()
    expect(faults.rules()).toEqual([{ code: 409, times: 2, resource: "pods" }])
    expect(faults.decide(getPod)?.code).toBe(409)
    expect(faults.rules()).toEqual([{ code: 409, times: 1, resource: "pods" }])
    expect(faults.decide(getPod)?.code).toBe(409)
    expect(faults.rules()).toEqual([])
    expect(faults.decide(getPod)).toBeUndefined()
  })

  it("counts `times` only for requests the rate lets fail", () => {
    const faults = new Faults(9)
    faults.add({ code: 500, rate: 0.5, times: 3 })
    const sequence = outcomes(faults, 100)
    expect([...sequence].filter((c) => c === "x")).toHaveLength(3)
    expect(sequence.endsWith(".".repeat(50))).toBe(true)
  })

  it("checks rules in order and falls through to the next", () => {
    const faults = new Faults(1)
    faults.add({ code: 403, verb: "delete" })
    faults.add({ code: 503, verb: ["get", "list"], times: 1 })
    faults.add({ code: 500 })
    expect(faults.decide({ ...getPod, verb: "delete" })?.code).toBe(403)
    expect(faults.decide(getPod)?.code).toBe(503)
    expect(faults.decide(getPod)?.code).toBe(500)
  })

  it.each([
    [{ verb: "get" }, true],
    [{ verb: ["list", "watch"] }, false],
    [{ resource: ["pods", "nodes"] }, true],
    [{ resource: "nodes" }, false],
    [{ group: "" }, true],
    [{ group: "batch" }, false],
    [{ namespace: "ns" }, true],
    [{ namespace: "other" }, false],
    [{ name: "p" }, true],
    [{ name: "q" }, false],
    [{ subresource: "" }, true],
    [{ subresource: "log" }, false]
  ])("matches %j → %s", (match, fails) => {
    const faults = new Faults(1)
    faults.add({ code: 500, ...match })
    expect(faults.decide(getPod) !== undefined).toBe(fails)
  })

  it("matches a subresource", () => {
    const faults = new Faults(1)
    faults.add({ code: 500, subresource: "status" })
    expect(faults.decide({ ...getPod, subresource: "status" })?.code).toBe(500)
    expect(faults.decide(getPod)).toBeUndefined()
  })

  it("removes a rule with the returned function, and all with clear", () => {
    const faults = new Faults(1)
    const remove = faults.add({ code: 500 })
    faults.add({ code: 503, resource: "jobs" })
    remove()
    expect(faults.decide(getPod)).toBeUndefined()
    expect(faults.decide(listJobs)?.code).toBe(503)
    faults.setLatency(10)
    faults.setWatchFault({ dropAfterEvents: 1 })
    faults.clear()
    expect([faults.decide(listJobs), faults.latencyMs(), faults.watchFault("pods")]).toEqual([undefined, 0, undefined])
  })

  it("rejects a rate outside 0..1 and fractional times", () => {
    const faults = new Faults(1)
    expect(() => faults.add({ code: 500, rate: 1.5 })).toThrow(RangeError)
    expect(() => faults.add({ code: 500, times: 1.5 })).toThrow(RangeError)
  })
})

describe("Faults status errors", () => {
  it("429 carries Retry-After, default 1", () => {
    const faults = new Faults(1)
    faults.add({ code: 429 })
    const error = faults.decide(getPod)!
    expect(error.headers).toEqual({ "Retry-After": "1" })
    expect(error.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Too many requests, please try again later.",
      reason: "TooManyRequests",
      details: { retryAfterSeconds: 1 },
      code: 429
    })
  })

  it("429 with its own Retry-After and message", () => {
    const faults = new Faults(1)
    faults.add({ code: 429, retryAfterSeconds: 7, message: "slow down" })
    const error = faults.decide(getPod)!
    expect([error.headers["Retry-After"], error.details?.retryAfterSeconds, error.message, error.reason]).toEqual(["7", 7, "slow down", "TooManyRequests"])
  })

  it.each([
    [
      { code: 403 as const },
      { ...getPod, subresource: "log", user: "alice" },
      [403, "Forbidden", `pods "p" is forbidden: User "alice" cannot get resource "pods/log" in API group "" in the namespace "ns"`]
    ],
    [
      { code: 403 as const },
      { verb: "list", resource: "nodes", group: "" },
      [403, "Forbidden", `nodes is forbidden: User "system:anonymous" cannot list resource "nodes" in API group "" at the cluster scope`]
    ],
    [{ code: 403 as const, message: "quota policy" }, listJobs, [403, "Forbidden", "jobs.batch is forbidden: quota policy"]],
    [
      { code: 409 as const },
      getPod,
      [409, "Conflict", `Operation cannot be fulfilled on pods "p": the object has been modified; please apply your changes to the latest version and try again`]
    ],
    [{ code: 409 as const, message: "lease held" }, getPod, [409, "Conflict", `Operation cannot be fulfilled on pods "p": lease held`]],
    [{ code: 500 as const }, getPod, [500, "InternalError", "Internal error occurred: injected fault"]],
    [{ code: 500 as const, message: "etcd timeout" }, getPod, [500, "InternalError", "Internal error occurred: etcd timeout"]],
    [{ code: 503 as const }, getPod, [503, "ServiceUnavailable", "the server is currently unable to handle the request"]],
    [{ code: 503 as const, message: "apiserver restarting" }, getPod, [503, "ServiceUnavailable", "apiserver restarting"]]
  ])("%j", (rule, request, expected) => {
    const faults = new Faults(1)
    faults.add(rule)
    const error = faults.decide(request)!
    expect([error.code, error.reason, error.message]).toEqual(expected)
  })
})

describe("Faults latency", () => {
  it("is 0 by default and fixed when set to a number", () => {
    const faults = new Faults(1)
    expect(faults.latencyMs()).toBe(0)
    faults.setLatency(25)
    expect([faults.latencyMs(), faults.latencyMs()]).toEqual([25, 25])
  })

  it("draws whole milliseconds within a range, reproducibly, reaching both ends", () => {
    const draw = (seed: number) => {
      const faults = new Faults(seed)
      faults.setLatency({ min: 5, max: 8 })
      return Array.from({ length: 200 }, () => faults.latencyMs())
    }
    const draws = draw(11)
    expect(draw(11)).toEqual(draws)
    expect(new Set(draws)).toEqual(new Set([5, 6, 7, 8]))
  })

  it("does not disturb the fault decisions", () => {
    const run = (withLatency: boolean) => {
      const faults = new Faults(77)
      faults.add({ code: 500, rate: 0.4 })
      faults.setLatency({ min: 0, max: 100 })
      return Array.from({ length: 50 }, () => {
        if (withLatency) faults.latencyMs()
        return faults.decide(getPod) === undefined ? "." : "x"
      }).join("")
    }
    expect(run(true)).toBe(run(false))
  })

  it("rejects a negative or inverted range", () => {
    const faults = new Faults(1)
    expect(() => faults.setLatency(-1)).toThrow(RangeError)
    expect(() => faults.setLatency({ min: 10, max: 5 })).toThrow(RangeError)
  })
})

describe("Faults watch faults", () => {
  it("applies to one resource or to all", () => {
    const faults = new Faults(1)
    expect(faults.watchFault("pods")).toBeUndefined()
    faults.setWatchFault({ resource: "pods", dropAfterEvents: 2 })
    expect([faults.watchFault("pods"), faults.watchFault("nodes")]).toEqual([{ resource: "pods", dropAfterEvents: 2 }, undefined])
    faults.setWatchFault({ closeAfterMs: 100 })
    expect([faults.watchFault("pods"), faults.watchFault("nodes")]).toEqual([{ closeAfterMs: 100 }, { closeAfterMs: 100 }])
    faults.setWatchFault(undefined)
    expect(faults.watchFault("pods")).toBeUndefined()
  })
})
