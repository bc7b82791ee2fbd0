/**
 * Injected faults: failing requests with real `Status` errors, latency and broken watches — seeded, so a given
 * seed and sequence of requests gives the same decisions, and changeable while the server runs.
 */
import { StatusError, conflict, conflictWith, forbidden, internalError, serviceUnavailable, tooManyRequests } from "./errors.ts"
import type { RequestTarget } from "./types.ts"

/** Which requests fail and how. Match fields left undefined match any request. */
export interface FaultRule {
  verb?: string | string[]
  resource?: string | string[]
  group?: string
  /** `""` matches only requests without a subresource. */
  subresource?: string
  namespace?: string
  name?: string
  code: 500 | 503 | 429 | 403 | 409
  /** Probability (0..1) that a matching request fails; default 1. */
  rate?: number
  /** Fail only the next N matching requests (that the rate lets through), then the rule is removed. */
  times?: number
  /** Retry-After of a 429, default 1. */
  retryAfterSeconds?: number
  message?: string
}

/** Breaks watches of `resource` (all when undefined): drop the stream after N events, or close it after a time. */
export interface WatchFault {
  resource?: string
  dropAfterEvents?: number
  closeAfterMs?: number
}

/** The request attributes a fault decision looks at. */
export interface FaultRequest extends RequestTarget {
  /** The authenticated user, for the text of a 403. */
  user?: string
}

/** mulberry32: a small, fast, seeded PRNG with uniform output in [0, 1). */
export const mulberry32 = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const matchesOne = (wanted: string | string[] | undefined, actual: string): boolean =>
  wanted === undefined || (Array.isArray(wanted) ? wanted.includes(actual) : wanted === actual)

const matches = (rule: FaultRule, request: FaultRequest): boolean =>
  matchesOne(rule.verb, request.verb) &&
  matchesOne(rule.resource, request.resource) &&
  (rule.group === undefined || rule.group === request.group) &&
  (rule.subresource === undefined || rule.subresource === (request.subresource ?? "")) &&
  (rule.namespace === undefined || rule.namespace === (request.namespace ?? "")) &&
  (rule.name === undefined || rule.name === (request.name ?? ""))

/** The RBAC denial text of a real server: `User "u" cannot get resource "pods/log" in API group "" in the namespace "ns"`. */
const rbacDenial = (request: FaultRequest): string => {
  const resource = request.subresource === undefined || request.subresource === "" ? request.resource : `${request.resource}/${request.subresource}`
  const scope = request.namespace === undefined || request.namespace === "" ? "at the cluster scope" : `in the namespace "${request.namespace}"`
  return `User "${request.user ?? "system:anonymous"}" cannot ${request.verb} resource "${resource}" in API group "${request.group}" ${scope}`
}

const failure = (rule: FaultRule, request: FaultRequest): StatusError => {
  const type = { group: request.group, resource: request.resource }
  switch (rule.code) {
    case 500:
      return internalError(rule.message ?? "injected fault")
    case 503:
      return serviceUnavailable(rule.message)
    case 429: {
      const retryAfter = rule.retryAfterSeconds ?? 1
      const base = tooManyRequests(retryAfter)
      return rule.message === undefined ? base : new StatusError(429, base.reason, rule.message, base.details, base.headers)
    }
    case 403:
      return forbidden(type, request.name, rule.message ?? rbacDenial(request))
    case 409:
      return rule.message === undefined ? conflict(type, request.name ?? "") : conflictWith(type, request.name ?? "", rule.message)
  }
}

type Entry = { rule: FaultRule; remaining: number | undefined }

/** The fault injector of one server. */
export class Faults {
  private entries: Array<Entry> = []
  private decisions: () => number
  private latencies: () => number
  private latency: { min: number; max: number } = { min: 0, max: 0 }
  private watch: WatchFault | undefined

  constructor(seed = 1) {
    this.decisions = mulberry32(seed)
    this.latencies = mulberry32(seed ^ 0x9e3779b9)
  }

  /** Restarts both random sequences from `seed`. */
  reseed(seed: number): void {
    this.decisions = mulberry32(seed)
    this.latencies = mulberry32(seed ^ 0x9e3779b9)
  }

  /** Adds a rule (checked after earlier ones); returns the function that removes it. */
  add(rule: FaultRule): () => void {
    if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) throw new RangeError(`fault rate must be within 0..1, got ${rule.rate}`)
    if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times >= 0)) throw new RangeError(`fault times must be a whole number, got ${rule.times}`)
    const entry: Entry = { rule: { ...rule }, remaining: rule.times }
    this.entries.push(entry)
    return () => {
      this.entries = this.entries.filter((candidate) => candidate !== entry)
    }
  }

  /** The rules in force, with `times` showing how many failures each scripted rule has left. */
  rules(): ReadonlyArray<FaultRule> {
    return this.entries.map(({ rule, remaining }) => (remaining === undefined ? { ...rule } : { ...rule, times: remaining }))
  }

  /** Removes every rule, the latency and the watch fault. */
  clear(): void {
    this.entries = []
    this.latency = { min: 0, max: 0 }
    this.watch = undefined
  }

  /** A fixed latency, or a uniform range of whole milliseconds, added before every resource request is served. */
  setLatency(ms: number | { min: number; max: number }): void {
    const range = typeof ms === "number" ? { min: ms, max: ms } : ms
    if (!(range.min >= 0 && range.max >= range.min)) throw new RangeError(`latency range must satisfy 0 <= min <= max, got ${range.min}..${range.max}`)
    this.latency = { min: range.min, max: range.max }
  }

  /** The latency for the next request, drawn from the latency sequence when a range is set. */
  latencyMs(): number {
    const { min, max } = this.latency
    if (max === min) return min
    return Math.min(max, min + Math.floor(this.latencies() * (max - min + 1)))
  }

  /**
   * The `Status` error to answer `request` with, if a rule fires: the first matching rule whose rate lets it
   * through (one draw of the decision sequence per rule with a rate below 1).
   */
  decide(request: FaultRequest): StatusError | undefined {
    for (const entry of this.entries) {
      if (!matches(entry.rule, request)) continue
      if (entry.remaining !== undefined && entry.remaining <= 0) continue
      const rate = entry.rule.rate ?? 1
      if (rate < 1 && !(this.decisions() < rate)) continue
      if (entry.remaining !== undefined) {
        entry.remaining -= 1
        if (entry.remaining === 0) this.entries = this.entries.filter((candidate) => candidate !== entry)
      }
      return failure(entry.rule, request)
    }
    return undefined
  }

  setWatchFault(fault: WatchFault | undefined): void {
    this.watch = fault === undefined ? undefined : { ...fault }
  }

  /** The watch fault for watches of `resource`, if one is set for it (or for all resources). */
  watchFault(resource: string): WatchFault | undefined {
    const fault = this.watch
    if (fault === undefined) return undefined
    return fault.resource === undefined || fault.resource === resource ? fault : undefined
  }
}
