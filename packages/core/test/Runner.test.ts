import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Ref from "effect/Ref"
import { TestClock } from "effect/testing"
import { KubeClient, KubeError, type KubeObject, makeTestStore } from "../src/KubeClient.ts"
import type * as Plan from "../src/Plan.ts"
import type * as Recipe from "../src/Recipe.ts"
import * as Progress from "../src/Progress.ts"
import { RunContext } from "../src/RunContext.ts"
import * as Runner from "../src/Runner.ts"
import * as Validator from "../src/Validator.ts"
import { noConstraints, planOf, plannedCheck, ProbeError, skippedCheck, testPlugin } from "./support/plugins.ts"

type Event = Progress.Event

interface Harness {
  readonly events: Ref.Ref<ReadonlyArray<Event>>
  readonly results: Ref.Ref<ReadonlyArray<Runner.CheckResult>>
  readonly layer: Layer.Layer<KubeClient | RunContext | Progress.Progress>
}

const harness = (options: { objects?: ReadonlyArray<KubeObject>; kube?: Layer.Layer<KubeClient> } = {}) =>
  Effect.gen(function*() {
    const events = yield* Ref.make<ReadonlyArray<Event>>([])
    const results = yield* Ref.make<ReadonlyArray<Runner.CheckResult>>([])
    const layer = Layer.mergeAll(
      options.kube ?? KubeClient.layerTest(options.objects ?? []),
      RunContext.layerTest(),
      Progress.Progress.layerTest(events)
    )
    return { events, results, layer } satisfies Harness
  })

const runPlan = (h: Harness, plan: Plan.Plan, failFast = false) =>
  Runner.run(plan, { failFast, results: h.results }).pipe(Effect.provide(h.layer))

/** `started:a`, `finished:a:passed`, `phase:deployment` … for the check and phase events, in order. */
const trace = (events: ReadonlyArray<Event>): ReadonlyArray<string> =>
  events.map((event) => {
    switch (event._tag) {
      case "phase-started":
        return `phase:${event.phase}[${event.checks.join(",")}]`
      case "phase-finished":
        return `phase-done:${event.phase}:${event.status}`
      case "check-started":
        return `started:${event.check}`
      case "check-finished":
        return `finished:${event.check}:${event.status}`
      case "note":
        return `note:${event.check}:${event.message}`
      case "warning":
        return `warning:${event.check ?? ""}:${event.message}`
    }
  })

const checkEvents = (events: ReadonlyArray<Event>, names: ReadonlyArray<string>) =>
  trace(events).filter((line) => names.some((name) => line === `started:${name}` || line.startsWith(`finished:${name}:`)))

const pick = (results: ReadonlyArray<Runner.CheckResult>) =>
  results.map((result) => ({ name: result.name, phase: result.phase, status: result.status, message: result.message }))

const metric: Validator.Metric = { name: "throughput", value: 5200, unit: "tok/s", threshold: ">= 5000", passed: true }
const artifact: Validator.Artifact = { name: "aiperf.json", contentType: "application/json", content: "{}" }

const CRD = "dynamographdeployments.nvidia.com"
const crdObject: KubeObject = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: CRD }
}

/** A plugin that releases `released` when its scope closes, signals `started`, then does `then`. */
const scopedPlugin = (
  name: string,
  phase: Plan.Phase,
  released: Ref.Ref<boolean>,
  started: Deferred.Deferred<void>,
  then: Effect.Effect<Validator.CheckOutcome, Validator.CheckFailure>,
  timeoutMs = 60_000
) =>
  testPlugin(
    name,
    phase,
    () =>
      Effect.gen(function*() {
        yield* Effect.acquireRelease(Effect.void, () => Ref.set(released, true))
        yield* Deferred.succeed(started, undefined)
        return yield* then
      }),
    { timeoutMs }
  )

describe("Runner.run: verdicts", () => {
  it.effect("carries passed and failed verdicts with their metrics and artifacts, in plan order", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const plan = planOf([
        plannedCheck(testPlugin("good", "performance", () => Effect.succeed(Validator.passed("5200 tok/s", { metrics: [metric], artifacts: [artifact] })))),
        plannedCheck(testPlugin("bad", "performance", () => Effect.succeed(Validator.failed("4000 tok/s < 5000", { metrics: [{ ...metric, value: 4000, passed: false }] }))))
      ])
      const results = yield* runPlan(h, plan)
      expect(results).toEqual([
        {
          name: "good",
          phase: "performance",
          status: "passed",
          message: "5200 tok/s",
          startedAt: 0,
          durationMs: 0,
          metrics: [metric],
          artifacts: [artifact]
        },
        {
          name: "bad",
          phase: "performance",
          status: "failed",
          message: "4000 tok/s < 5000",
          startedAt: 0,
          durationMs: 0,
          metrics: [{ ...metric, value: 4000, passed: false }],
          artifacts: []
        }
      ])
      expect(pick(yield* Ref.get(h.results)).map((result) => result.name).sort()).toEqual(["bad", "good"])
      const lines = trace(yield* Ref.get(h.events))
      expect([lines[0], lines[5], lines.length]).toEqual(["phase:performance[good,bad]", "phase-done:performance:failed", 6])
      expect(lines.slice(1, 5).sort()).toEqual(["finished:bad:failed", "finished:good:passed", "started:bad", "started:good"])
    }))

  it.effect("records a skipped outcome of the plugin without evidence", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const results = yield* runPlan(h, planOf([plannedCheck(testPlugin("maybe", "conformance", () => Effect.succeed(Validator.skipped("no Slurm here"))))]))
      expect(results).toEqual([
        { name: "maybe", phase: "conformance", status: "skipped", message: "no Slurm here", startedAt: 0, durationMs: 0, metrics: [], artifacts: [] }
      ])
    }))

  it.effect("skips a check the plan skipped, without starting it", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const results = yield* runPlan(h, planOf([skippedCheck("operator-health", "deployment", "no plugin for this check")]))
      expect(pick(results)).toEqual([{ name: "operator-health", phase: "deployment", status: "skipped", message: "no plugin for this check" }])
      expect(trace(yield* Ref.get(h.events))).toEqual([
        "phase:deployment[operator-health]",
        "finished:operator-health:skipped",
        "phase-done:deployment:skipped"
      ])
    }))

  it.effect("treats a failure in the error channel as inconclusive, with its message", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const plugin = testPlugin("probe", "deployment", () => Effect.fail(new ProbeError({ message: "could not list GPU nodes: forbidden" })))
      const results = yield* runPlan(h, planOf([plannedCheck(plugin)]))
      expect(pick(results)).toEqual([{ name: "probe", phase: "deployment", status: "inconclusive", message: "could not list GPU nodes: forbidden" }])
      expect(results[0]!.metrics).toEqual([])
    }))

  it.effect("treats a defect as inconclusive: internal error in the plugin", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const thrown = testPlugin("throws", "deployment", () => Effect.sync(() => { throw new TypeError("x is undefined") }))
      const died = testPlugin("dies", "deployment", () => Effect.die("bad state"))
      const results = yield* runPlan(h, planOf([plannedCheck(thrown), plannedCheck(died)]))
      expect(pick(results)).toEqual([
        { name: "throws", phase: "deployment", status: "inconclusive", message: "internal error in the plugin: x is undefined" },
        { name: "dies", phase: "deployment", status: "inconclusive", message: "internal error in the plugin: bad state" }
      ])
    }))

  it.effect("treats a run that throws instead of returning an Effect as an internal error", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const plugin = testPlugin("eager", "deployment", () => { throw new RangeError("bad index") })
      const results = yield* runPlan(h, planOf([plannedCheck(plugin)]))
      expect(pick(results)[0]!.message).toBe("internal error in the plugin: bad index")
    }))

  it.effect("gives a failure without a message a message naming it", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const results = yield* runPlan(h, planOf([
        plannedCheck(testPlugin("tagged", "deployment", () => Effect.fail({ _tag: "NoNodes", message: "" }))),
        plannedCheck(testPlugin("text", "deployment", () => Effect.fail("no GPU nodes" as unknown as Validator.CheckFailure))),
        plannedCheck(testPlugin("number", "deployment", () => Effect.fail(42 as unknown as Validator.CheckFailure)))
      ]))
      expect(pick(results).map((result) => `${result.status}: ${result.message}`)).toEqual([
        "inconclusive: the plugin failed with NoNodes and no message",
        "inconclusive: no GPU nodes",
        "inconclusive: the plugin failed with 42 and no message"
      ])
    }))

  it.effect("never passes a value that is not a CheckOutcome (a JavaScript plugin's mistake)", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const returning = (name: string, value: unknown) =>
        plannedCheck(testPlugin(name, "deployment", () => Effect.succeed(value as Validator.CheckOutcome)))
      const results = yield* runPlan(h, planOf([
        returning("ok-status", { status: "ok", message: "fine" }),
        returning("nothing", undefined),
        returning("bare-pass", { status: "passed" }),
        returning("bare-skip", { status: "skipped" })
      ]))
      expect(results.map((result) => ({ name: result.name, status: result.status, message: result.message, metrics: result.metrics, artifacts: result.artifacts }))).toEqual([
        {
          name: "ok-status",
          status: "inconclusive",
          message: `internal error in the plugin: run returned "ok" instead of a CheckOutcome (make it with Validator.passed, failed or skipped)`,
          metrics: [],
          artifacts: []
        },
        {
          name: "nothing",
          status: "inconclusive",
          message: "internal error in the plugin: run returned undefined instead of a CheckOutcome (make it with Validator.passed, failed or skipped)",
          metrics: [],
          artifacts: []
        },
        { name: "bare-pass", status: "passed", message: "", metrics: [], artifacts: [] },
        { name: "bare-skip", status: "skipped", message: "", metrics: [], artifacts: [] }
      ])
    }))

  it.effect("passes the plan's config, images, timeout and recipe to run, and its notes to Progress", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const seen = yield* Ref.make<unknown>(undefined)
      const plugin = testPlugin("inputs", "performance", (input) =>
        Effect.gen(function*() {
          yield* Ref.set(seen, { config: input.config, images: input.images, timeoutMs: input.timeoutMs, kind: input.recipe.kind })
          const context = yield* RunContext
          yield* Progress.note("inputs", `namespace ${context.namespace}`)
          return Validator.passed("ok")
        }))
      yield* runPlan(h, planOf([plannedCheck(plugin, { config: { n: 1 }, timeoutMs: 5000, images: { validator: "v:1", worker: "w:2" } })]))
      expect(yield* Ref.get(seen)).toEqual({ config: { n: 1 }, images: { validator: "v:1", worker: "w:2" }, timeoutMs: 5000, kind: "RecipeResult" })
      expect(trace(yield* Ref.get(h.events))).toContain("note:inputs:namespace aicr-validation")
    }))
})

describe("Runner.run: concurrency", () => {
  it.effect("runs the checks of a phase concurrently", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const aStarted = yield* Deferred.make<void>()
      const bStarted = yield* Deferred.make<void>()
      const meet = (mine: Deferred.Deferred<void>, theirs: Deferred.Deferred<void>) => () =>
        Effect.gen(function*() {
          yield* Deferred.succeed(mine, undefined)
          yield* Deferred.await(theirs)
          return Validator.passed("met")
        })
      const plan = planOf([
        plannedCheck(testPlugin("a", "conformance", meet(aStarted, bStarted))),
        plannedCheck(testPlugin("b", "conformance", meet(bStarted, aStarted)))
      ])
      const results = yield* runPlan(h, plan)
      expect(results.map((result) => result.status)).toEqual(["passed", "passed"])
      const lines = checkEvents(yield* Ref.get(h.events), ["a", "b"])
      expect(lines.slice(0, 2).sort()).toEqual(["started:a", "started:b"])
      expect(lines.slice(2).sort()).toEqual(["finished:a:passed", "finished:b:passed"])
    }))

  it.effect("never overlaps two gpu checks, while a check without a claim overlaps them", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const firstGpu = yield* Deferred.make<void>()
      const cStarted = yield* Deferred.make<void>()
      const holding = yield* Ref.make(0)
      const mostAtOnce = yield* Ref.make(0)
      const gpu = (name: string) =>
        testPlugin(name, "performance", () =>
          Effect.gen(function*() {
            const now = yield* Ref.updateAndGet(holding, (n) => n + 1)
            yield* Ref.update(mostAtOnce, (most) => Math.max(most, now))
            yield* Deferred.succeed(firstGpu, undefined)
            yield* Deferred.await(cStarted)
            yield* Effect.yieldNow
            yield* Effect.yieldNow
            yield* Ref.update(holding, (n) => n - 1)
            return Validator.passed(`${name} measured`)
          }), { exclusive: ["gpu"] })
      const free = testPlugin("c", "performance", () =>
        Effect.gen(function*() {
          yield* Deferred.succeed(cStarted, undefined)
          yield* Deferred.await(firstGpu)
          return Validator.passed("c done")
        }))
      const plan = planOf([plannedCheck(gpu("gpu-a")), plannedCheck(gpu("gpu-b")), plannedCheck(free)])
      const results = yield* runPlan(h, plan)
      expect(pick(results).map((result) => `${result.name}:${result.status}`)).toEqual(["gpu-a:passed", "gpu-b:passed", "c:passed"])
      expect(yield* Ref.get(mostAtOnce)).toBe(1)

      const events = yield* Ref.get(h.events)
      const gpuLines = checkEvents(events, ["gpu-a", "gpu-b"])
      const [first, second] = gpuLines[0] === "started:gpu-a" ? ["gpu-a", "gpu-b"] : ["gpu-b", "gpu-a"]
      expect(gpuLines).toEqual([`started:${first}`, `finished:${first}:passed`, `started:${second}`, `finished:${second}:passed`])

      const lines = trace(events)
      expect(lines.indexOf("started:c")).toBeLessThan(lines.indexOf(`finished:${first}:passed`))
      expect(lines.indexOf("finished:c:passed")).toBeGreaterThan(lines.indexOf(`started:${first}`))
    }))

  it.effect("lets gpu checks of different phases take turns across the whole run", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const plan = planOf([
        plannedCheck(testPlugin("d", "deployment", undefined, { exclusive: ["gpu"] })),
        plannedCheck(testPlugin("p", "performance", undefined, { exclusive: ["gpu", "gpu"] }))
      ])
      const results = yield* runPlan(h, plan)
      expect(results.map((result) => result.status)).toEqual(["passed", "passed"])
    }))
})

describe("Runner.run: timeouts and releases", () => {
  it.effect("gives a check that exceeds its timeout inconclusive, after closing its scope", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const released = yield* Ref.make(false)
      const started = yield* Deferred.make<void>()
      const plugin = scopedPlugin("slow", "performance", released, started, Effect.never, 90_000)
      const fiber = yield* Effect.forkChild(runPlan(h, planOf([plannedCheck(plugin)])))
      yield* Deferred.await(started)
      yield* TestClock.adjust(89_999)
      expect(yield* Ref.get(released)).toBe(false)
      yield* TestClock.adjust(1)
      const results = yield* Fiber.join(fiber)
      expect(results).toEqual([{
        name: "slow",
        phase: "performance",
        status: "inconclusive",
        message: "timed out after 1m30s; its objects were released",
        startedAt: 0,
        durationMs: 90_000,
        metrics: [],
        artifacts: []
      }])
      expect(yield* Ref.get(released)).toBe(true)
    }))

  it.effect("uses the planned timeout, not the plugin's default", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const released = yield* Ref.make(false)
      const started = yield* Deferred.make<void>()
      const plugin = scopedPlugin("slow", "performance", released, started, Effect.never, 1000)
      const fiber = yield* Effect.forkChild(runPlan(h, planOf([plannedCheck(plugin, { timeoutMs: 65 * 60_000 })])))
      yield* Deferred.await(started)
      yield* TestClock.adjust(65 * 60_000)
      const results = yield* Fiber.join(fiber)
      expect(pick(results)[0]!.message).toBe("timed out after 1h5m; its objects were released")
    }))

  it.effect("runs the plugin's finalizers on success and on failure", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const okReleased = yield* Ref.make(false)
      const failReleased = yield* Ref.make(false)
      const plan = planOf([
        plannedCheck(scopedPlugin("ok", "deployment", okReleased, yield* Deferred.make<void>(), Effect.succeed(Validator.passed("fine")))),
        plannedCheck(scopedPlugin("broken", "deployment", failReleased, yield* Deferred.make<void>(), Effect.fail(new ProbeError({ message: "no nodes" }))))
      ])
      const results = yield* runPlan(h, plan)
      expect(pick(results).map((result) => result.status)).toEqual(["passed", "inconclusive"])
      expect([yield* Ref.get(okReleased), yield* Ref.get(failReleased)]).toEqual([true, true])
    }))

  it.effect("runs the finalizers of a running check when the run is interrupted; completeInterrupted fills in the rest", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const released = yield* Ref.make(false)
      const started = yield* Deferred.make<void>()
      const laterRan = yield* Ref.make(false)
      const plan = planOf([
        plannedCheck(testPlugin("first", "deployment")),
        skippedCheck("operator-health", "deployment", "no plugin for this check"),
        plannedCheck(scopedPlugin("hangs", "performance", released, started, Effect.never)),
        plannedCheck(testPlugin("later", "conformance", () => Effect.as(Ref.set(laterRan, true), Validator.passed("ran"))))
      ])
      const fiber = yield* Effect.forkChild(runPlan(h, plan))
      yield* Deferred.await(started)
      yield* TestClock.adjust(5000)
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(released)).toBe(true)
      expect(yield* Ref.get(laterRan)).toBe(false)

      const finished = yield* Ref.get(h.results)
      expect(pick(finished)).toEqual([
        { name: "first", phase: "deployment", status: "passed", message: "ok" },
        { name: "operator-health", phase: "deployment", status: "skipped", message: "no plugin for this check" }
      ])
      const completed = Runner.completeInterrupted(plan, finished, 5000)
      expect(pick(completed)).toEqual([
        { name: "first", phase: "deployment", status: "passed", message: "ok" },
        { name: "operator-health", phase: "deployment", status: "skipped", message: "no plugin for this check" },
        { name: "hangs", phase: "performance", status: "inconclusive", message: "interrupted before it finished; its objects were released" },
        { name: "later", phase: "conformance", status: "inconclusive", message: "interrupted before it finished; its objects were released" }
      ])
      expect(completed.slice(2).map((result) => [result.startedAt, result.durationMs])).toEqual([[5000, 0], [5000, 0]])
    }))
})

describe("Runner.run: phases", () => {
  const threePhases = (performance: Validator.AnyValidator, conformanceRan: Ref.Ref<boolean>) =>
    planOf([
      plannedCheck(testPlugin("deploy", "deployment")),
      plannedCheck(performance),
      plannedCheck(testPlugin("conform", "conformance", () => Effect.as(Ref.set(conformanceRan, true), Validator.passed("conformant")))),
      skippedCheck("planned-skip", "conformance", "no plugin for this check")
    ])

  it.effect("runs phases in order, each after the previous finished", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const ran = yield* Ref.make(false)
      const seenBefore = yield* Ref.make<ReadonlyArray<string>>([])
      const perf = testPlugin("perf", "performance", () =>
        Effect.gen(function*() {
          yield* Ref.set(seenBefore, (yield* Ref.get(h.results)).map((result) => result.name))
          return Validator.passed("fast")
        }))
      yield* runPlan(h, threePhases(perf, ran))
      expect(yield* Ref.get(seenBefore)).toEqual(["deploy"])
      const lines = trace(yield* Ref.get(h.events))
      expect(lines.slice(0, 9)).toEqual([
        "phase:deployment[deploy]",
        "started:deploy",
        "finished:deploy:passed",
        "phase-done:deployment:passed",
        "phase:performance[perf]",
        "started:perf",
        "finished:perf:passed",
        "phase-done:performance:passed",
        "phase:conformance[conform,planned-skip]"
      ])
      expect(lines.slice(9, 12).sort()).toEqual(["finished:conform:passed", "finished:planned-skip:skipped", "started:conform"])
      expect(lines.slice(12)).toEqual(["phase-done:conformance:passed"])
    }))

  it.effect("with failFast, skips every later phase after a failed phase", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const ran = yield* Ref.make(false)
      const perf = testPlugin("perf", "performance", () => Effect.succeed(Validator.failed("too slow")))
      const results = yield* runPlan(h, threePhases(perf, ran), true)
      expect(yield* Ref.get(ran)).toBe(false)
      const reason = "skipped because phase performance did not pass (--fail-fast)"
      expect(pick(results)).toEqual([
        { name: "deploy", phase: "deployment", status: "passed", message: "ok" },
        { name: "perf", phase: "performance", status: "failed", message: "too slow" },
        { name: "conform", phase: "conformance", status: "skipped", message: reason },
        { name: "planned-skip", phase: "conformance", status: "skipped", message: reason }
      ])
      expect(trace(yield* Ref.get(h.events)).slice(-2)).toEqual(["phase:conformance[conform,planned-skip]", "phase-done:conformance:skipped"])
    }))

  it.effect("with failFast, an inconclusive phase stops the run too", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const ran = yield* Ref.make(false)
      const perf = testPlugin("perf", "performance", () => Effect.fail(new ProbeError({ message: "no metrics" })))
      const results = yield* runPlan(h, threePhases(perf, ran), true)
      expect(yield* Ref.get(ran)).toBe(false)
      expect(results[2]!.message).toBe("skipped because phase performance did not pass (--fail-fast)")
    }))

  it.effect("with failFast, a passing or all-skipped phase does not stop the run", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const ran = yield* Ref.make(false)
      const perf = testPlugin("perf", "performance", () => Effect.succeed(Validator.skipped("nothing to measure")))
      yield* runPlan(h, threePhases(perf, ran), true)
      expect(yield* Ref.get(ran)).toBe(true)
    }))

  it.effect("without failFast, later phases run after a failed phase", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const ran = yield* Ref.make(false)
      const perf = testPlugin("perf", "performance", () => Effect.succeed(Validator.failed("too slow")))
      const results = yield* runPlan(h, threePhases(perf, ran))
      expect(yield* Ref.get(ran)).toBe(true)
      expect(pick(results).map((result) => `${result.name}:${result.status}`)).toEqual([
        "deploy:passed",
        "perf:failed",
        "conform:passed",
        "planned-skip:skipped"
      ])
      expect(trace(yield* Ref.get(h.events)).filter((line) => line.startsWith("phase-done"))).toEqual([
        "phase-done:deployment:passed",
        "phase-done:performance:failed",
        "phase-done:conformance:passed"
      ])
    }))
})

describe("Runner.run: CRD requirements", () => {
  const crdPlugin = (ran: Ref.Ref<boolean>) =>
    Validator.defineValidator({
      name: "inference-perf",
      phase: "performance",
      description: "needs the Dynamo CRD",
      constraints: noConstraints,
      requires: [{ kind: "crd", name: CRD }],
      timeoutMs: 60_000,
      run: () => Effect.as(Ref.set(ran, true), Validator.passed("measured"))
    })

  it.effect("runs the check when the CRD is installed", () =>
    Effect.gen(function*() {
      const h = yield* harness({ objects: [crdObject] })
      const ran = yield* Ref.make(false)
      const results = yield* runPlan(h, planOf([plannedCheck(crdPlugin(ran))]))
      expect(pick(results)).toEqual([{ name: "inference-perf", phase: "performance", status: "passed", message: "measured" }])
      expect(yield* Ref.get(ran)).toBe(true)
    }))

  it.effect("skips the check when the CRD is not installed, without running it", () =>
    Effect.gen(function*() {
      const h = yield* harness({ objects: [{ ...crdObject, metadata: { name: "clusterpolicies.nvidia.com" } }] })
      const ran = yield* Ref.make(false)
      const results = yield* runPlan(h, planOf([plannedCheck(crdPlugin(ran))]))
      expect(pick(results)).toEqual([
        { name: "inference-perf", phase: "performance", status: "skipped", message: `${CRD} CRD not installed on the cluster` }
      ])
      expect(yield* Ref.get(ran)).toBe(false)
    }))

  it.effect("is inconclusive when the cluster cannot be asked", () =>
    Effect.gen(function*() {
      const h = yield* harness({ kube: KubeClient.layerUnavailable("no cluster connection: run with --kubeconfig") })
      const ran = yield* Ref.make(false)
      const results = yield* runPlan(h, planOf([plannedCheck(crdPlugin(ran))]))
      expect(pick(results)).toEqual([{
        name: "inference-perf",
        phase: "performance",
        status: "inconclusive",
        message: `could not check for the ${CRD} CRD: no cluster connection: run with --kubeconfig`
      }])
      expect(yield* Ref.get(ran)).toBe(false)
    }))
})

describe("Runner.run: CRD lookups", () => {
  it.effect("count against the check's timeout", () =>
    Effect.gen(function*() {
      const asked = yield* Deferred.make<void>()
      const hanging = Layer.succeed(
        KubeClient,
        KubeClient.of({
          get: () => Effect.andThen(Deferred.succeed(asked, undefined), Effect.never),
          list: () => Effect.never,
          listStream: () => Stream.never,
          create: () => Effect.never,
          delete: () => Effect.never,
          waitFor: () => Effect.never,
          waitForMatch: () => Effect.never,
          logs: () => Stream.never,
          proxy: () => Effect.never,
          isServed: () => Effect.never
        })
      )
      const h = yield* harness({ kube: hanging })
      const plugin = Validator.defineValidator({
        name: "needs-crd",
        phase: "conformance",
        description: "needs a CRD",
        constraints: noConstraints,
        requires: [{ kind: "crd", name: CRD }],
        timeoutMs: 30_000,
        run: () => Effect.succeed(Validator.passed("ran"))
      })
      const fiber = yield* Effect.forkChild(runPlan(h, planOf([plannedCheck(plugin)])))
      yield* Deferred.await(asked)
      yield* TestClock.adjust(30_000)
      const results = yield* Fiber.join(fiber)
      expect(pick(results)).toEqual([
        { name: "needs-crd", phase: "conformance", status: "inconclusive", message: "timed out after 30s; its objects were released" }
      ])
    }))
})

describe("Runner.run: work deferred until after the verdict", () => {
  it.effect("runs after the check's result is reported and before the next gpu check starts, also on failure", () =>
    Effect.gen(function*() {
      const h = yield* harness()
      const gpu = (name: string, fail: boolean) =>
        testPlugin(name, "performance", () =>
          Effect.gen(function*() {
            const run = yield* RunContext
            const progress = yield* Progress.Progress
            yield* run.afterVerdict(Effect.andThen(Effect.sleep("5 seconds"), progress.emit({ _tag: "note", check: name, message: "gone" })))
            return fail ? yield* Effect.fail(new ProbeError({ message: `${name} broke` })) : Validator.passed(`${name} measured`)
          }), { exclusive: ["gpu"] })
      const fiber = yield* Effect.forkChild(runPlan(h, planOf([plannedCheck(gpu("gpu-a", true)), plannedCheck(gpu("gpu-b", false))])))
      yield* TestClock.adjust("5 seconds")
      yield* TestClock.adjust("5 seconds")
      const results = yield* Fiber.join(fiber)
      expect(pick(results).map((result) => `${result.name}:${result.status}`)).toEqual(["gpu-a:inconclusive", "gpu-b:passed"])
      const lines = trace(yield* Ref.get(h.events)).filter((line) => line.includes("gpu-") && !line.startsWith("phase"))
      const [first, second] = lines[0] === "started:gpu-a" ? ["gpu-a", "gpu-b"] : ["gpu-b", "gpu-a"]
      const status = (name: string) => (name === "gpu-a" ? "inconclusive" : "passed")
      expect(lines).toEqual([
        `started:${first}`,
        `finished:${first}:${status(first!)}`,
        `note:${first}:waiting until 1 deleted object is gone`,
        `note:${first}:gone`,
        `started:${second}`,
        `finished:${second}:${status(second!)}`,
        `note:${second}:waiting until 1 deleted object is gone`,
        `note:${second}:gone`
      ])
    }))
})

describe("Runner.run: served-API requirements", () => {
  const apiPlugin = (ran: Ref.Ref<boolean>, whenMissing?: "skipped" | "failed") =>
    Validator.defineValidator({
      name: "inference-perf",
      phase: "performance",
      description: "needs DynamoGraphDeployment served",
      constraints: noConstraints,
      requires: [{ kind: "api", apiVersion: "nvidia.com/v1alpha1", resourceKind: "DynamoGraphDeployment", whenMissing, hint: "the recipe declares dynamo-platform" }],
      timeoutMs: 60_000,
      run: () => Effect.as(Ref.set(ran, true), Validator.passed("measured"))
    })
  const servedLayer = (isServed: KubeClient["Service"]["isServed"]) =>
    Layer.effect(KubeClient, Effect.map(makeTestStore(), (store) => ({ ...store.client, isServed })))

  it.effect("runs the check when the kind is served", () =>
    Effect.gen(function*() {
      const h = yield* harness({ kube: servedLayer(() => Effect.succeed(true)) })
      const ran = yield* Ref.make(false)
      const results = yield* runPlan(h, planOf([plannedCheck(apiPlugin(ran, "failed"))]))
      expect(pick(results)).toEqual([{ name: "inference-perf", phase: "performance", status: "passed", message: "measured" }])
      expect(yield* Ref.get(ran)).toBe(true)
    }))

  it.effect("fails the check when the kind is not served and the plugin says so, without running it", () =>
    Effect.gen(function*() {
      const h = yield* harness({ kube: servedLayer(() => Effect.succeed(false)) })
      const ran = yield* Ref.make(false)
      const results = yield* runPlan(h, planOf([plannedCheck(apiPlugin(ran, "failed"))]))
      expect(pick(results)).toEqual([{
        name: "inference-perf",
        phase: "performance",
        status: "failed",
        message: "DynamoGraphDeployment (nvidia.com/v1alpha1) is not served by the cluster: the recipe declares dynamo-platform"
      }])
      expect(yield* Ref.get(ran)).toBe(false)
    }))

  it.effect("skips by default when the kind is not served", () =>
    Effect.gen(function*() {
      const h = yield* harness({ kube: servedLayer(() => Effect.succeed(false)) })
      const results = yield* runPlan(h, planOf([plannedCheck(apiPlugin(yield* Ref.make(false)))]))
      expect(pick(results)[0]?.status).toBe("skipped")
    }))

  it.effect("with declaredBy: skips when the recipe does not declare the component, fails when it does", () =>
    Effect.gen(function*() {
      const declared = (ran: Ref.Ref<boolean>) =>
        Validator.defineValidator({
          name: "nccl-all-reduce-bw",
          phase: "performance",
          description: "needs TrainJob served",
          constraints: noConstraints,
          requires: [{ kind: "api", apiVersion: "trainer.kubeflow.org/v1alpha1", resourceKind: "TrainJob", whenMissing: "failed", declaredBy: "kubeflow-trainer" }],
          timeoutMs: 60_000,
          run: () => Effect.as(Ref.set(ran, true), Validator.passed("measured"))
        })
      const h = yield* harness({ kube: servedLayer(() => Effect.succeed(false)) })
      const ran = yield* Ref.make(false)
      const undeclared = yield* runPlan(h, planOf([plannedCheck(declared(ran))]))
      expect(pick(undeclared)).toEqual([{
        name: "nccl-all-reduce-bw",
        phase: "performance",
        status: "skipped",
        message: "TrainJob (trainer.kubeflow.org/v1alpha1) is not served by the cluster and the recipe does not declare kubeflow-trainer"
      }])
      const plan = planOf([plannedCheck(declared(ran))])
      const withTrainer: Plan.Plan = {
        ...plan,
        recipe: { ...plan.recipe, recipe: { ...plan.recipe.recipe, componentRefs: [{ name: "kubeflow-trainer" } as Recipe.ComponentRef] } }
      }
      const h2 = yield* harness({ kube: servedLayer(() => Effect.succeed(false)) })
      expect(pick(yield* runPlan(h2, withTrainer))[0]?.status).toBe("failed")
      expect(yield* Ref.get(ran)).toBe(false)
    }))

  it.effect("is inconclusive, never skipped, when discovery is Forbidden", () =>
    Effect.gen(function*() {
      const h = yield* harness({
        kube: servedLayer(() => Effect.fail(new KubeError({ reason: "Forbidden", message: "is DynamoGraphDeployment served: discover nvidia.com/v1alpha1: forbidden" })))
      })
      const results = yield* runPlan(h, planOf([plannedCheck(apiPlugin(yield* Ref.make(false), "failed"))]))
      expect(pick(results)).toEqual([{
        name: "inference-perf",
        phase: "performance",
        status: "inconclusive",
        message: "could not tell whether the cluster serves DynamoGraphDeployment (nvidia.com/v1alpha1): is DynamoGraphDeployment served: discover nvidia.com/v1alpha1: forbidden"
      }])
    }))
})

describe("phaseStatus", () => {
  const result = (status: Runner.Status): Runner.CheckResult => ({
    name: status,
    phase: "deployment",
    status,
    message: "",
    startedAt: 0,
    durationMs: 0,
    metrics: [],
    artifacts: []
  })
  const cases: ReadonlyArray<[ReadonlyArray<Runner.Status>, Runner.Status]> = [
    [[], "skipped"],
    [["skipped", "skipped"], "skipped"],
    [["passed"], "passed"],
    [["passed", "skipped"], "passed"],
    [["passed", "inconclusive"], "inconclusive"],
    [["inconclusive", "skipped"], "inconclusive"],
    [["passed", "failed"], "failed"],
    [["inconclusive", "failed", "passed"], "failed"],
    [["skipped", "failed"], "failed"]
  ]
  for (const [statuses, expected] of cases) {
    it(`[${statuses.join(", ")}] → ${expected}`, () => {
      expect(Runner.phaseStatus(statuses.map(result))).toBe(expected)
    })
  }
})

describe("formatDuration", () => {
  const cases: ReadonlyArray<[number, string]> = [
    [0, "0ms"],
    [400, "400ms"],
    [1500, "2s"],
    [90_000, "1m30s"],
    [120_000, "2m"],
    [65 * 60_000, "1h5m"],
    [3_600_000, "1h"],
    [3_661_000, "1h1m1s"]
  ]
  for (const [ms, expected] of cases) {
    it(`${ms}ms → ${expected}`, () => {
      expect(Runner.formatDuration(ms)).toBe(expected)
    })
  }
})
