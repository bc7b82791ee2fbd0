/**
 * The local runner: executes a plan's checks in this process, phase by phase, and records a result for each.
 *
 * Details: phases run in order (deployment → performance → conformance). Within a phase checks run
 * concurrently, except that checks sharing an exclusive resource (`gpu`) take turns. Each check (its CRD
 * lookups included) runs in its own scope under its timeout: a timeout, a failure in the error channel, a defect
 * or a `run` result that is not a `CheckOutcome` is `inconclusive`, never a pass, and the scope's releases run in
 * every case. With `failFast`, a phase that failed or was inconclusive skips every later phase. Results are
 * appended to `results` as they finish, so an interrupted run still has what finished. Each check sees the run's
 * `RunContext` through `forCheck`, so the objects it acquires carry its name in `aicr.nvidia.com/validator`; the
 * work it defers with `afterVerdict` (waiting until deleted objects are gone) runs after its result is reported
 * and before its exclusive resources are given to the next check — also when it failed or was interrupted.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Semaphore from "effect/Semaphore"
import { KubeClient } from "./KubeClient.ts"
import type * as Plan from "./Plan.ts"
import { RunContext } from "./RunContext.ts"
import { Progress } from "./Progress.ts"
import type * as Validator from "./Validator.ts"

export type Status = "passed" | "failed" | "skipped" | "inconclusive"

export interface CheckResult {
  readonly name: string
  readonly phase: Plan.Phase
  readonly status: Status
  readonly message: string
  readonly startedAt: number
  readonly durationMs: number
  readonly metrics: ReadonlyArray<Validator.Metric>
  readonly artifacts: ReadonlyArray<Validator.Artifact>
}

/** What a check's execution gives back: a verdict with its evidence. */
export type Verdict = {
  readonly status: Status
  readonly message: string
  readonly metrics: ReadonlyArray<Validator.Metric>
  readonly artifacts: ReadonlyArray<Validator.Artifact>
}

/**
 * Runs one check that has a plugin and is not skipped, somewhere, and returns its verdict; `drain` defers work until
 * after the verdict (before the check's exclusive resources are released). Its failures become `inconclusive`.
 * The default runs the plugin in this process under its timeout; the in-cluster runner runs it as a Job.
 */
export type Execute = (
  check: Plan.PlannedCheck,
  plugin: Validator.AnyValidator,
  recipe: Plan.Plan["recipe"],
  drain: (work: Effect.Effect<void>) => Effect.Effect<void>
) => Effect.Effect<Verdict, unknown, KubeClient | RunContext | Progress>

export interface Options {
  readonly failFast: boolean
  /** Where each finished check's result is appended. */
  readonly results: Ref.Ref<ReadonlyArray<CheckResult>>
  /** How a check runs (default: in this process, see {@link runInProcess}). */
  readonly execute?: Execute | undefined
}

/** The status of a phase from its results: failed > inconclusive > passed; all skipped (or none) → skipped. */
export const phaseStatus = (results: ReadonlyArray<CheckResult>): Status => {
  if (results.some((result) => result.status === "failed")) return "failed"
  if (results.some((result) => result.status === "inconclusive")) return "inconclusive"
  if (results.some((result) => result.status === "passed")) return "passed"
  return "skipped"
}

const describeValue = (value: unknown): string => {
  if (typeof value !== "object" || value === null) return JSON.stringify(value) ?? String(value)
  const tag = (value as { _tag?: unknown })._tag
  return typeof tag === "string" ? tag : Array.isArray(value) ? "an array" : "an object"
}

const describeCause = (cause: Cause.Cause<Validator.CheckFailure>): string => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure)) {
    const error: unknown = failure.value
    if (typeof error === "string" && error.trim() !== "") return error
    const message = typeof error === "object" && error !== null ? (error as { message?: unknown }).message : undefined
    return typeof message === "string" && message.trim() !== ""
      ? message
      : `the plugin failed with ${describeValue(error)} and no message`
  }
  const squashed = Cause.squash(cause)
  return `internal error in the plugin: ${squashed instanceof Error ? squashed.message : String(squashed)}`
}

const crdMissing = (name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const found = yield* Effect.exit(
      kube.get({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", name })
    )
    if (Exit.isSuccess(found)) return Option.none<string>()
    const error = Cause.findErrorOption(found.cause)
    if (Option.isSome(error) && error.value.reason === "NotFound") {
      return Option.some(`${name} CRD not installed on the cluster`)
    }
    return yield* Effect.failCause(found.cause)
  })

export const verdict = (status: Status, message: string): Verdict => ({ status, message, metrics: [], artifacts: [] })

/** The verdict of what `run` returned; a value that is not a `CheckOutcome` (a JavaScript plugin) is inconclusive. */
const fromOutcome = (outcome: unknown): Verdict => {
  const value = (typeof outcome === "object" && outcome !== null ? outcome : {}) as Record<string, unknown>
  const message = typeof value["message"] === "string" ? value["message"] : ""
  if (value["status"] === "skipped") return verdict("skipped", message)
  if (value["status"] === "passed" || value["status"] === "failed") {
    return {
      status: value["status"],
      message,
      metrics: Array.isArray(value["metrics"]) ? value["metrics"] : [],
      artifacts: Array.isArray(value["artifacts"]) ? value["artifacts"] : []
    }
  }
  return verdict(
    "inconclusive",
    `internal error in the plugin: run returned ${describeValue(value["status"] ?? outcome)} instead of a CheckOutcome ` +
      "(make it with Validator.passed, failed or skipped)"
  )
}

/** The local runner's execution: requirements, then the plugin's `run` in its own scope, under the check's timeout. */
export const runInProcess: Execute = (check, plugin, recipe, drain) =>
  Effect.gen(function*() {
    for (const requirement of plugin.requires) {
      if (requirement.kind === "api") {
        const kube = yield* KubeClient
        const served = yield* kube.isServed(requirement.apiVersion, requirement.resourceKind).pipe(
          Effect.mapError((error) => ({ _tag: "CheckError", message: `could not tell whether the cluster serves ${requirement.resourceKind} (${requirement.apiVersion}): ${error.message}` }))
        )
        if (served) continue
        const notServed = `${requirement.resourceKind} (${requirement.apiVersion}) is not served by the cluster`
        if (requirement.declaredBy !== undefined && !recipe.recipe.componentRefs.some((ref) => ref.name === requirement.declaredBy)) {
          return verdict("skipped", `${notServed} and the recipe does not declare ${requirement.declaredBy}`)
        }
        const message = `${notServed}${requirement.hint === undefined ? "" : `: ${requirement.hint}`}`
        return verdict(requirement.whenMissing === "failed" ? "failed" : "skipped", message)
      }
      if (requirement.kind !== "crd") continue
      const missing = yield* crdMissing(requirement.name).pipe(
        Effect.mapError((error) => ({ _tag: "CheckError", message: `could not check for the ${requirement.name} CRD: ${error.message}` }))
      )
      if (Option.isSome(missing)) return verdict("skipped", missing.value)
    }
    const input = { config: check.config, recipe: recipe.recipe, images: check.images, timeoutMs: check.timeoutMs }
    const run = yield* RunContext
    return fromOutcome(yield* Effect.scoped(plugin.run(input)).pipe(Effect.provideService(RunContext, run.forCheck(check.name, drain))))
  }).pipe(
    Effect.timeoutOption(check.timeoutMs),
    Effect.map(Option.getOrElse(() => verdict("inconclusive", `timed out after ${formatDuration(check.timeoutMs)}; its objects were released`)))
  )

/** `65m`, `90s`, `1h30m` for a number of milliseconds. */
export const formatDuration = (ms: number): string => {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`
  const seconds = Math.round(ms / 1000)
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  const parts = [h > 0 ? `${h}h` : "", m > 0 ? `${m}m` : "", s > 0 || seconds === 0 ? `${s}s` : ""]
  return parts.join("")
}

const executeCheck = (
  check: Plan.PlannedCheck,
  recipe: Plan.Plan["recipe"],
  locks: ReadonlyMap<Validator.ExclusiveResource, Semaphore.Semaphore>,
  execute: Execute
) =>
  Effect.gen(function*() {
    const progress = yield* Progress
    if (check.decision._tag === "Skip" || check.plugin === undefined) {
      const reason = check.decision._tag === "Skip" ? check.decision.reason : "no plugin for this check"
      const now = yield* Clock.currentTimeMillis
      yield* progress.emit({ _tag: "check-finished", check: check.name, phase: check.phase, status: "skipped", message: reason, durationMs: 0 })
      return { name: check.name, phase: check.phase, ...verdict("skipped", reason), startedAt: now, durationMs: 0 }
    }
    const plugin = check.plugin
    const pending: Array<Effect.Effect<void>> = []
    const drain = (work: Effect.Effect<void>) => Effect.sync(() => void pending.push(work))
    const settle = Effect.suspend(() => {
      const works = pending.splice(0)
      if (works.length === 0) return Effect.void
      return Effect.andThen(
        progress.emit({ _tag: "note", check: check.name, message: `waiting until ${works.length} deleted object${works.length === 1 ? " is" : "s are"} gone` }),
        Effect.all(works, { concurrency: "unbounded", discard: true })
      )
    })
    const body = Effect.gen(function*() {
      const startedAt = yield* Clock.currentTimeMillis
      yield* progress.emit({ _tag: "check-started", check: check.name, phase: check.phase })
      const exit = yield* Effect.exit(execute(check, plugin, recipe, drain))
      const result: Verdict = Exit.isSuccess(exit) ? exit.value : verdict("inconclusive", describeCause(exit.cause as Cause.Cause<Validator.CheckFailure>))
      const durationMs = (yield* Clock.currentTimeMillis) - startedAt
      yield* progress.emit({ _tag: "check-finished", check: check.name, phase: check.phase, status: result.status, message: result.message, durationMs })
      return { name: check.name, phase: check.phase, ...result, startedAt, durationMs }
    }).pipe(Effect.ensuring(Effect.uninterruptible(settle)))
    const held = [...new Set(check.exclusive)].sort().map((resource) => locks.get(resource)!)
    return yield* held.reduceRight<typeof body>((inner, lock) => lock.withPermits(1)(inner), body)
  })

/** Runs every phase of the plan and returns the results in plan order. */
export const run = (plan: Plan.Plan, options: Options) =>
  Effect.gen(function*() {
    const progress = yield* Progress
    const locks = new Map<Validator.ExclusiveResource, Semaphore.Semaphore>([["gpu", yield* Semaphore.make(1)]])
    let stopped: Plan.Phase | undefined
    for (const phase of plan.phases) {
      yield* progress.emit({ _tag: "phase-started", phase: phase.phase, checks: phase.checks.map((check) => check.name) })
      if (stopped !== undefined) {
        const now = yield* Clock.currentTimeMillis
        const reason = `skipped because phase ${stopped} did not pass (--fail-fast)`
        const skippedResults = phase.checks.map((check): CheckResult => ({ name: check.name, phase: phase.phase, ...verdict("skipped", reason), startedAt: now, durationMs: 0 }))
        yield* Ref.update(options.results, (all) => [...all, ...skippedResults])
        yield* progress.emit({ _tag: "phase-finished", phase: phase.phase, status: "skipped" })
        continue
      }
      const results = yield* Effect.forEach(
        phase.checks,
        (check) => Effect.tap(executeCheck(check, plan.recipe, locks, options.execute ?? runInProcess), (result) => Ref.update(options.results, (all) => [...all, result])),
        { concurrency: "unbounded" }
      )
      const status = phaseStatus(results)
      yield* progress.emit({ _tag: "phase-finished", phase: phase.phase, status })
      if (options.failFast && (status === "failed" || status === "inconclusive")) stopped = phase.phase
    }
    const all = yield* Ref.get(options.results)
    return plan.phases.flatMap((phase) => phase.checks.map((check) => all.find((result) => result.name === check.name && result.phase === phase.phase)!))
  })

/** Results for an interrupted run: what finished, then every other planned check as inconclusive. */
export const completeInterrupted = (plan: Plan.Plan, finished: ReadonlyArray<CheckResult>, at: number): ReadonlyArray<CheckResult> =>
  plan.phases.flatMap((phase) =>
    phase.checks.map((check) =>
      finished.find((result) => result.name === check.name && result.phase === phase.phase) ??
        { name: check.name, phase: phase.phase, ...verdict("inconclusive", "interrupted before it finished; its objects were released"), startedAt: at, durationMs: 0 }
    )
  )
