import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { TestClock } from "effect/testing"
import { acquire } from "../src/Acquire.ts"
import { KubeClient, KubeError, type KubeObject, makeTestStore, type ObjectRef, type TestStore } from "../src/KubeClient.ts"
import { type Event, Progress } from "../src/Progress.ts"
import * as RunContext from "../src/RunContext.ts"

const RUN = "20260101-000000-0123456789abcdef"

const configMap = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "aicr-validation", labels },
  data: { k: "v" }
})

const ref = (name: string): ObjectRef => ({ apiVersion: "v1", kind: "ConfigMap", namespace: "aicr-validation", name })

type Harness = {
  readonly store: TestStore
  readonly log: Ref.Ref<ReadonlyArray<string>>
  readonly events: Ref.Ref<ReadonlyArray<Event>>
  readonly layer: Layer.Layer<KubeClient | RunContext.RunContext | Progress>
}

/** A test store, a recorder that logs `intent:x`, `created:x`, `deleted:x`, `release-failed:x`, and a check's run context. */
const harness = (options: {
  readonly seed?: ReadonlyArray<KubeObject>
  readonly client?: (store: TestStore, log: Ref.Ref<ReadonlyArray<string>>) => KubeClient["Service"]
  readonly failIntent?: boolean
} = {}) =>
  Effect.gen(function*() {
    const store = yield* makeTestStore(options.seed ?? [])
    const log = yield* Ref.make<ReadonlyArray<string>>([])
    const events = yield* Ref.make<ReadonlyArray<Event>>([])
    const note = (line: string) => Ref.update(log, (all) => [...all, line])
    const recorder: RunContext.Recorder = {
      intent: (object) =>
        options.failIntent === true
          ? Effect.fail({ _tag: "LedgerError", message: "cannot append to /state/run.jsonl: ENOSPC" })
          : note(`intent:${object.metadata.name}`),
      created: (object) => note(`created:${object.metadata.name}`),
      deleted: (target) => note(`deleted:${target.name}`),
      releaseFailed: (target) => note(`release-failed:${target.name}`)
    }
    const client = options.client?.(store, log) ?? store.client
    const layer = Layer.mergeAll(
      Layer.succeed(KubeClient, client),
      Layer.succeed(RunContext.RunContext, RunContext.make({ runId: RUN, recorder }).forCheck("nccl-all-reduce-bw")),
      Progress.layerTest(events)
    )
    return { store, log, events, layer } satisfies Harness
  })

/** The store's client, with deletes noted in `log` as `delete:x`. */
const noting = (store: TestStore, log: Ref.Ref<ReadonlyArray<string>>): KubeClient["Service"] => ({
  ...store.client,
  delete: (target, options) =>
    Effect.andThen(Ref.update(log, (all) => [...all, `delete:${target.name}:${options?.propagation ?? "default"}`]), store.client.delete(target, options))
})

describe("acquire", () => {
  it.effect("labels the object with the run and the check, and records it before and after creating it", () =>
    Effect.gen(function*() {
      const h = yield* harness({ client: noting })
      const created = yield* Effect.scoped(Effect.gen(function*() {
        const object = yield* acquire(configMap("a", { app: "probe" }))
        expect(yield* Ref.get(h.log)).toEqual(["intent:a", "created:a"])
        return object
      })).pipe(Effect.provide(h.layer))
      expect(created.metadata.labels).toEqual({
        app: "probe",
        "aicr.nvidia.com/run-id": RUN,
        "app.kubernetes.io/managed-by": "aicr",
        "aicr.nvidia.com/validator": "nccl-all-reduce-bw"
      })
      expect(yield* Ref.get(h.log)).toEqual(["intent:a", "created:a", "delete:a:Foreground", "deleted:a"])
      expect(Exit.isFailure(yield* Effect.exit(h.store.client.get(ref("a"))))).toBe(true)
    }))

  it.effect("on success releases every object in reverse order", () =>
    Effect.gen(function*() {
      const h = yield* harness({ client: noting })
      yield* Effect.scoped(Effect.gen(function*() {
        yield* acquire(configMap("a"))
        yield* acquire(configMap("b"))
        yield* acquire(configMap("c"))
      })).pipe(Effect.provide(h.layer))
      const deletes = (yield* Ref.get(h.log)).filter((line) => line.startsWith("delete:"))
      expect(deletes).toEqual(["delete:c:Foreground", "delete:b:Foreground", "delete:a:Foreground"])
      expect(yield* h.store.client.list({ apiVersion: "v1", kind: "ConfigMap" })).toEqual([])
    }))

  it.effect("on a failure midway releases only what was created, in reverse, and leaves a pre-existing object alone", () =>
    Effect.gen(function*() {
      const stranger = configMap("c", { owner: "someone-else" })
      const h = yield* harness({ client: noting, seed: [stranger] })
      const error = yield* Effect.flip(Effect.scoped(Effect.gen(function*() {
        yield* acquire(configMap("a"))
        yield* acquire(configMap("b"))
        yield* acquire(configMap("c"))
        yield* acquire(configMap("d"))
      })).pipe(Effect.provide(h.layer)))
      expect(error).toBeInstanceOf(KubeError)
      expect((error as KubeError).reason).toBe("AlreadyExists")
      expect(yield* Ref.get(h.log)).toEqual([
        "intent:a",
        "created:a",
        "intent:b",
        "created:b",
        "intent:c",
        "deleted:c",
        "delete:b:Foreground",
        "deleted:b",
        "delete:a:Foreground",
        "deleted:a"
      ])
      const left = yield* h.store.client.list({ apiVersion: "v1", kind: "ConfigMap" })
      expect(left.map((object) => [object.metadata.name, object.metadata.labels])).toEqual([["c", { owner: "someone-else" }]])
    }))

  it.effect("on interrupt releases every object in reverse order", () =>
    Effect.gen(function*() {
      const h = yield* harness({ client: noting })
      const ready = yield* Deferred.make<void>()
      const fiber = yield* Effect.scoped(Effect.gen(function*() {
        yield* acquire(configMap("a"))
        yield* acquire(configMap("b"))
        yield* Deferred.succeed(ready, undefined)
        return yield* Effect.never
      })).pipe(Effect.provide(h.layer), Effect.forkChild)
      yield* Deferred.await(ready)
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(h.log)).toEqual(["intent:a", "created:a", "intent:b", "created:b", "delete:b:Foreground", "deleted:b", "delete:a:Foreground", "deleted:a"])
    }))

  it.effect("does not send the create when the ledger cannot record the intent", () =>
    Effect.gen(function*() {
      const h = yield* harness({ failIntent: true, client: noting })
      const error = yield* Effect.flip(Effect.scoped(acquire(configMap("a"))).pipe(Effect.provide(h.layer)))
      expect(error.message).toBe("cannot append to /state/run.jsonl: ENOSPC")
      expect(yield* h.store.client.list({ apiVersion: "v1", kind: "ConfigMap" })).toEqual([])
      expect(yield* Ref.get(h.log)).toEqual([])
    }))

  it.effect("a release that fails warns, records the failure and does not fail the scope", () =>
    Effect.gen(function*() {
      const h = yield* harness({
        client: (store) => ({
          ...store.client,
          delete: (target) => Effect.fail(new KubeError({ reason: "Forbidden", message: `delete ConfigMap aicr-validation/${target.name}: forbidden`, object: target.name }))
        })
      })
      yield* Effect.scoped(acquire(configMap("a"))).pipe(Effect.provide(h.layer))
      expect(yield* Ref.get(h.log)).toEqual(["intent:a", "created:a", "release-failed:a"])
      expect(yield* Ref.get(h.events)).toEqual([{
        _tag: "warning",
        check: "nccl-all-reduce-bw",
        message: `could not delete ConfigMap aicr-validation/a: delete ConfigMap aicr-validation/a: forbidden (aicr cleanup --run ${RUN} removes it)`
      }])
    }))

  it.effect("a release is bounded by its own timeout", () =>
    Effect.gen(function*() {
      const h = yield* harness({ client: (store) => ({ ...store.client, delete: () => Effect.never }) })
      const fiber = yield* Effect.scoped(acquire(configMap("a"), { releaseTimeout: "5 seconds" })).pipe(Effect.provide(h.layer), Effect.forkChild)
      yield* TestClock.adjust("5 seconds")
      expect(Exit.isSuccess(yield* Fiber.await(fiber))).toBe(true)
      expect(yield* Ref.get(h.log)).toEqual(["intent:a", "created:a", "release-failed:a"])
      const events = yield* Ref.get(h.events)
      expect(events.map((event) => (event._tag === "warning" ? event.message : event._tag))).toEqual([
        `could not delete ConfigMap aicr-validation/a: releasing ConfigMap aicr-validation/a took longer than 5s (aicr cleanup --run ${RUN} removes it)`
      ])
    }))

  it.effect("a create whose answer was lost is released when the object turns out to be this run's", () =>
    Effect.gen(function*() {
      const h = yield* harness({
        client: (store, log) => ({
          ...noting(store, log),
          create: (object) => Effect.andThen(store.client.create(object), Effect.fail(new KubeError({ reason: "Unavailable", message: "connection reset", object: object.metadata.name })))
        })
      })
      const error = yield* Effect.flip(Effect.scoped(acquire(configMap("a"))).pipe(Effect.provide(h.layer)))
      expect(error.message).toBe("connection reset")
      expect(yield* Ref.get(h.log)).toEqual(["intent:a", "delete:a:Foreground", "deleted:a"])
      expect(yield* h.store.client.list({ apiVersion: "v1", kind: "ConfigMap" })).toEqual([])
    }))

  it.effect("a create whose answer was lost does not delete an object of another run", () =>
    Effect.gen(function*() {
      const other = configMap("a", { "aicr.nvidia.com/run-id": "20251231-000000-ffffffffffffffff" })
      const h = yield* harness({
        seed: [other],
        client: (store, log) => ({
          ...noting(store, log),
          create: (object) => Effect.fail(new KubeError({ reason: "Timeout", message: "no answer", object: object.metadata.name }))
        })
      })
      yield* Effect.flip(Effect.scoped(acquire(configMap("a"))).pipe(Effect.provide(h.layer)))
      expect(yield* Ref.get(h.log)).toEqual(["intent:a", "deleted:a"])
      expect((yield* h.store.client.get(ref("a"))).metadata.labels).toEqual({ "aicr.nvidia.com/run-id": "20251231-000000-ffffffffffffffff" })
    }))

  it.effect("a create that never answers fails with Timeout after the create timeout", () =>
    Effect.gen(function*() {
      const h = yield* harness({ client: (store) => ({ ...store.client, create: () => Effect.never }) })
      const fiber = yield* Effect.scoped(acquire(configMap("a"), { createTimeout: "10 seconds" })).pipe(Effect.provide(h.layer), Effect.flip, Effect.forkChild)
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(fiber)
      expect([error.message, (error as KubeError).reason]).toEqual(["create ConfigMap aicr-validation/a: no answer within 10s", "Timeout"])
    }))

  it.effect("waits until the object is gone when asked", () =>
    Effect.gen(function*() {
      const h = yield* harness({
        client: (store) => ({
          ...store.client,
          delete: (target) => Effect.andThen(Effect.forkDetach(Effect.andThen(Effect.sleep("3 seconds"), store.remove(target))), Effect.void)
        })
      })
      const fiber = yield* Effect.scoped(acquire(configMap("a"), { waitUntilGone: true })).pipe(Effect.provide(h.layer), Effect.forkChild)
      yield* TestClock.adjust("2 seconds")
      expect(yield* Ref.get(h.log)).toEqual(["intent:a", "created:a"])
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(yield* Ref.get(h.log)).toEqual(["intent:a", "created:a", "deleted:a"])
    }))

  it.effect("with after-verdict, deletes in the release and hands the wait until gone to the check's drain", () =>
    Effect.gen(function*() {
      const h = yield* harness({
        client: (store, log) => ({
          ...noting(store, log),
          delete: (target, options) =>
            Effect.andThen(
              Ref.update(log, (all) => [...all, `delete:${target.name}:${options?.propagation ?? "default"}`]),
              Effect.forkDetach(Effect.andThen(Effect.sleep("3 seconds"), store.remove(target)))
            )
        })
      })
      const deferred: Array<Effect.Effect<void>> = []
      const base = RunContext.make({
        runId: RUN,
        recorder: {
          intent: (object) => Ref.update(h.log, (all) => [...all, `intent:${object.metadata.name}`]),
          created: (object) => Ref.update(h.log, (all) => [...all, `created:${object.metadata.name}`]),
          deleted: (target) => Ref.update(h.log, (all) => [...all, `deleted:${target.name}`]),
          releaseFailed: (target) => Ref.update(h.log, (all) => [...all, `release-failed:${target.name}`])
        }
      })
      const context = base.forCheck("inference-perf", (work) => Effect.sync(() => void deferred.push(work)))
      yield* Effect.scoped(acquire(configMap("ns"), { waitUntilGone: "after-verdict" })).pipe(
        Effect.provideService(RunContext.RunContext, context),
        Effect.provide(h.layer)
      )
      expect(yield* Ref.get(h.log)).toEqual(["intent:ns", "created:ns", "delete:ns:Foreground"])
      expect(deferred).toHaveLength(1)
      const fiber = yield* Effect.forkChild(deferred[0]!)
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(fiber)
      expect(yield* Ref.get(h.log)).toEqual(["intent:ns", "created:ns", "delete:ns:Foreground", "deleted:ns"])
    }))

  it.effect("with --keep, creates and records but does not delete, and says so", () =>
    Effect.gen(function*() {
      const h = yield* harness({ client: noting })
      const kept = RunContext.make({
        runId: RUN,
        keep: true,
        recorder: {
          intent: (object) => Ref.update(h.log, (all) => [...all, `intent:${object.metadata.name}`]),
          created: (object) => Ref.update(h.log, (all) => [...all, `created:${object.metadata.name}`]),
          deleted: (target) => Ref.update(h.log, (all) => [...all, `deleted:${target.name}`]),
          releaseFailed: (target) => Ref.update(h.log, (all) => [...all, `release-failed:${target.name}`])
        }
      }).forCheck("inference-perf")
      yield* Effect.scoped(acquire(configMap("a"))).pipe(Effect.provideService(RunContext.RunContext, kept), Effect.provide(h.layer))
      expect(yield* Ref.get(h.log)).toEqual(["intent:a", "created:a"])
      expect((yield* h.store.client.get(ref("a"))).metadata.name).toBe("a")
      expect(yield* Ref.get(h.events)).toEqual([{ _tag: "note", check: "inference-perf", message: "kept ConfigMap aicr-validation/a (--keep)" }])
    }))
})
