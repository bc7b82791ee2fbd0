import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import * as KubeClient from "../src/KubeClient.ts"

describe("reasonFromStatus", () => {
  const cases: ReadonlyArray<[number, KubeClient.Reason]> = [
    [400, "Invalid"],
    [401, "Unauthorized"],
    [403, "Forbidden"],
    [404, "NotFound"],
    [409, "Conflict"],
    [410, "Gone"],
    [422, "Invalid"],
    [429, "TooManyRequests"],
    [502, "Unavailable"],
    [503, "Unavailable"],
    [504, "Timeout"],
    [200, "Unknown"],
    [408, "Unknown"],
    [500, "Unknown"],
    [0, "Unknown"]
  ]
  for (const [status, reason] of cases) {
    it(`${status} → ${reason}`, () => {
      expect(KubeClient.reasonFromStatus(status)).toBe(reason)
    })
  }
})

describe("describe", () => {
  it("renders namespaced and cluster-scoped references", () => {
    expect(KubeClient.describe({ apiVersion: "v1", kind: "Pod", namespace: "aicr", name: "probe" })).toBe("Pod aicr/probe")
    expect(KubeClient.describe({ apiVersion: "v1", kind: "Node", name: "gpu-1" })).toBe("Node gpu-1")
  })
})

const pod = (name: string, namespace: string, labels: Record<string, string> = {}): KubeClient.KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace, labels },
  spec: { containers: [] }
})

const node: KubeClient.KubeObject = { apiVersion: "v1", kind: "Node", metadata: { name: "gpu-1", labels: { gpu: "true" } } }

const stamped = (object: KubeClient.KubeObject, resourceVersion: string): KubeClient.KubeObject => ({
  ...object,
  metadata: { ...object.metadata, resourceVersion }
})

const names = (objects: ReadonlyArray<KubeClient.KubeObject>) => objects.map((object) => object.metadata.name)

const withStore = <A, E>(
  effect: Effect.Effect<A, E, KubeClient.KubeClient>,
  objects: ReadonlyArray<KubeClient.KubeObject> = [pod("a", "ns1", { run: "r1" }), pod("b", "ns2", { run: "r1", role: "worker" }), node]
) => Effect.provide(effect, KubeClient.KubeClient.layerTest(objects))

describe("KubeClient.layerTest", () => {
  it.effect("gets a seeded object, namespaced or cluster-scoped", () =>
    withStore(Effect.gen(function*() {
      const kube = yield* KubeClient.KubeClient
      expect(yield* kube.get({ apiVersion: "v1", kind: "Pod", namespace: "ns1", name: "a" })).toEqual(stamped(pod("a", "ns1", { run: "r1" }), "1"))
      expect(yield* kube.get({ apiVersion: "v1", kind: "Node", name: "gpu-1" })).toEqual(stamped(node, "3"))
    })))

  it.effect("fails with NotFound for a missing object, naming it", () =>
    withStore(Effect.gen(function*() {
      const kube = yield* KubeClient.KubeClient
      const wrongNamespace = yield* Effect.flip(kube.get({ apiVersion: "v1", kind: "Pod", namespace: "ns2", name: "a" }))
      expect(wrongNamespace).toBeInstanceOf(KubeClient.KubeError)
      expect([wrongNamespace._tag, wrongNamespace.reason, wrongNamespace.message, wrongNamespace.object]).toEqual([
        "KubeError",
        "NotFound",
        "Pod ns2/a not found",
        "Pod ns2/a"
      ])
      const wrongVersion = yield* Effect.flip(kube.get({ apiVersion: "v2", kind: "Node", name: "gpu-1" }))
      expect(wrongVersion.reason).toBe("NotFound")
    })))

  it.effect("creates an object that get and list then see", () =>
    withStore(Effect.gen(function*() {
      const kube = yield* KubeClient.KubeClient
      const created = yield* kube.create(pod("c", "ns1", { run: "r2" }))
      expect(created).toEqual(stamped(pod("c", "ns1", { run: "r2" }), "4"))
      expect(yield* kube.get({ apiVersion: "v1", kind: "Pod", namespace: "ns1", name: "c" })).toEqual(created)
      expect(names(yield* kube.list({ apiVersion: "v1", kind: "Pod", namespace: "ns1" }))).toEqual(["a", "c"])
    })))

  it.effect("fails with AlreadyExists when creating a duplicate, keeping the first", () =>
    withStore(Effect.gen(function*() {
      const kube = yield* KubeClient.KubeClient
      const error = yield* Effect.flip(kube.create(pod("a", "ns1", { run: "other" })))
      expect([error.reason, error.message, error.object]).toEqual(["AlreadyExists", "Pod ns1/a already exists", "Pod ns1/a"])
      const kept = yield* kube.get({ apiVersion: "v1", kind: "Pod", namespace: "ns1", name: "a" })
      expect(kept.metadata.labels).toEqual({ run: "r1" })
      yield* kube.create(pod("a", "ns3"))
    })))

  it.effect("deletes, and deleting again or deleting what never existed succeeds", () =>
    withStore(Effect.gen(function*() {
      const kube = yield* KubeClient.KubeClient
      const ref = { apiVersion: "v1", kind: "Pod", namespace: "ns1", name: "a" }
      yield* kube.delete(ref)
      expect((yield* Effect.flip(kube.get(ref))).reason).toBe("NotFound")
      yield* kube.delete(ref)
      yield* kube.delete({ apiVersion: "v1", kind: "Secret", namespace: "nowhere", name: "ghost" })
      expect(names(yield* kube.list({ apiVersion: "v1", kind: "Pod" }))).toEqual(["b"])
      yield* kube.create(pod("a", "ns1"))
      expect(names(yield* kube.list({ apiVersion: "v1", kind: "Pod" }))).toEqual(["b", "a"])
    })))

  it.effect("lists by kind, namespace and every given label", () =>
    withStore(Effect.gen(function*() {
      const kube = yield* KubeClient.KubeClient
      expect(names(yield* kube.list({ apiVersion: "v1", kind: "Pod" }))).toEqual(["a", "b"])
      expect(names(yield* kube.list({ apiVersion: "v1", kind: "Pod", namespace: "ns2" }))).toEqual(["b"])
      expect(names(yield* kube.list({ apiVersion: "v1", kind: "Pod", labels: { run: "r1" } }))).toEqual(["a", "b"])
      expect(names(yield* kube.list({ apiVersion: "v1", kind: "Pod", labels: { run: "r1", role: "worker" } }))).toEqual(["b"])
      expect(names(yield* kube.list({ apiVersion: "v1", kind: "Pod", labels: { run: "r2" } }))).toEqual([])
      expect(names(yield* kube.list({ apiVersion: "v1", kind: "Pod", namespace: "ns1", labels: { role: "worker" } }))).toEqual([])
      expect(names(yield* kube.list({ apiVersion: "v1", kind: "Node", labels: { gpu: "true" } }))).toEqual(["gpu-1"])
      expect(names(yield* kube.list({ apiVersion: "v1", kind: "Service" }))).toEqual([])
    })))

  it.effect("waitForMatch wakes on creates and returns what the selection picks among the labelled objects", () =>
    withStore(Effect.gen(function*() {
      const kube = yield* KubeClient.KubeClient
      const query = { apiVersion: "v1", kind: "Pod", namespace: "ns1", labels: { role: "launcher" } }
      const fiber = yield* Effect.forkChild(kube.waitForMatch(query, (pods) => pods.find((candidate) => candidate.metadata.name === "l2"), { timeout: "1 minute" }))
      yield* kube.create(pod("l1", "ns1", { role: "launcher" }))
      yield* kube.create(pod("l2", "ns2", { role: "launcher" }))
      yield* kube.create(pod("l2", "ns1", { role: "worker" }))
      yield* kube.delete({ apiVersion: "v1", kind: "Pod", namespace: "ns1", name: "l2" })
      yield* kube.create(pod("l2", "ns1", { role: "launcher" }))
      const picked = yield* Fiber.join(fiber)
      expect([picked.metadata.namespace, picked.metadata.name, picked.metadata.labels]).toEqual(["ns1", "l2", { role: "launcher" }])
      const timedOut = yield* Effect.flip(kube.waitForMatch(query, () => undefined, { timeout: "1 second" }).pipe(Effect.timeout("1 minute"), Effect.forkChild, Effect.flatMap((running) => Effect.andThen(TestClock.adjust("2 seconds"), Fiber.join(running)))))
      expect(timedOut._tag).toBe("WaitTimeout")
    })))

  it.effect("gives every build of the layer its own store", () =>
    Effect.gen(function*() {
      const layer = KubeClient.KubeClient.layerTest([])
      const create = Effect.provide(KubeClient.KubeClient.use((kube) => kube.create(pod("x", "ns"))), layer)
      yield* create
      yield* create
    }))
})

describe("KubeClient.layerUnavailable", () => {
  const unavailable = <A>(call: (kube: KubeClient.KubeClient["Service"]) => Effect.Effect<A, KubeClient.KubeError>) =>
    Effect.flip(Effect.provide(KubeClient.KubeClient.use(call), KubeClient.KubeClient.layerUnavailable("no cluster: pass --kubeconfig")))

  it.effect("fails every call with Unavailable and the message", () =>
    Effect.gen(function*() {
      const ref = { apiVersion: "v1", kind: "Pod", namespace: "ns", name: "p" }
      const errors = [
        yield* unavailable((kube) => kube.get(ref)),
        yield* unavailable((kube) => kube.list({ apiVersion: "v1", kind: "Pod" })),
        yield* unavailable((kube) => kube.create(pod("p", "ns"))),
        yield* unavailable((kube) => kube.delete(ref))
      ]
      expect(errors.map((error) => [error.reason, error.message, error.object])).toEqual([
        ["Unavailable", "no cluster: pass --kubeconfig", "Pod ns/p"],
        ["Unavailable", "no cluster: pass --kubeconfig", undefined],
        ["Unavailable", "no cluster: pass --kubeconfig", "Pod ns/p"],
        ["Unavailable", "no cluster: pass --kubeconfig", "Pod ns/p"]
      ])
    }))

  it("is a layer of KubeClient", () => {
    expect(Layer.isLayer(KubeClient.KubeClient.layerUnavailable("x"))).toBe(true)
  })
})
