import { startSim, type Sim } from "@aicr/kube-sim"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import type { KubeObject, ObjectRef } from "../src/KubeClient.ts"
import * as KubeClientLive from "../src/KubeClientLive.ts"
import { frontProxy, kubeconfigFor } from "./support/front-proxy.ts"

let sim: Sim

beforeAll(async () => {
  sim = await startSim()
})

afterAll(async () => {
  await sim.stop()
})

const api = (options: Omit<KubeClientLive.Options, "kubeconfig"> & { readonly kubeconfig?: string } = {}) =>
  Effect.flatMap(
    Effect.orDie(KubeClientLive.loadKubeConfig({ kubeconfig: options.kubeconfig ?? sim.kubeconfigPath })),
    (kc) => Effect.orDie(KubeClientLive.make(kc, options))
  )

const namespace = (name: string) => {
  sim.seed([{ apiVersion: "v1", kind: "Namespace", metadata: { name } }])
  return name
}

const configMapRef = (ns: string, name: string): ObjectRef => ({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name })

const configMap = (ns: string, name: string, step: string): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns },
  data: { step }
})

const configMaps = () => sim.cluster.registry.find("", "v1", "configmaps")!

/** Writes `data.step` of a ConfigMap as a controller would (no HTTP, so the audit log holds only the client's requests). */
const setStep = (ns: string, name: string, step: string) => {
  const current = sim.cluster.get(configMaps(), ns, name)
  sim.cluster.update(configMaps(), ns, name, { ...current, data: { step } })
}

const stepIs = (step: string) => (object: KubeObject | undefined) => (object?.["data"] as { step?: string } | undefined)?.step === step

const requests = (verb: "list" | "watch", ns: string | undefined, resource = "configmaps") =>
  sim.audit.filter({ verb, resource }).filter((record) => record.namespace === ns)

/** Polls `check` in real time (the test clock does not move) until it holds. */
const until = (check: () => boolean) =>
  Effect.promise(async () => {
    for (let waited = 0; !check(); waited += 5) {
      if (waited > 5_000) throw new Error("condition not met within 5 s")
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })

/** Resolves once the `count`-th watch of `resource` in `ns` has been answered with its headers. */
const watchOpened = (ns: string | undefined, count: number, resource = "configmaps") =>
  Effect.promise(() => sim.audit.waitFor(() => requests("watch", ns, resource).length >= count, 5_000)).pipe(
    Effect.andThen(Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5))))
  )

describe("KubeClientLive.waitFor against kube-sim", () => {
  it.effect("returns at once from the LIST when the predicate already holds (no watch)", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-now")
      sim.seed([configMap(ns, "cm", "done")])
      const client = yield* api()
      const object = yield* client.waitFor(configMapRef(ns, "cm"), stepIs("done"), { timeout: "10 seconds" })
      expect(object?.metadata.name).toBe("cm")
      expect(object?.kind).toBe("ConfigMap")
      expect(requests("list", ns).map((record) => record.code)).toEqual([200])
      expect(requests("watch", ns)).toEqual([])
    }))

  it.effect("lists with a name field selector, then watches from the list's resourceVersion with bookmarks", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-query")
      sim.seed([configMap(ns, "cm", "0"), configMap(ns, "other", "0")])
      const listedAt = String(sim.cluster.store.resourceVersion)
      const seen: Array<URL> = []
      const front = yield* frontProxy(sim, (url) => {
        if (url.pathname.includes(`/namespaces/${ns}/`)) seen.push(url)
        return undefined
      })
      const client = yield* api({ kubeconfig: kubeconfigFor(sim, front.url) })
      const fiber = yield* Effect.forkChild(client.waitFor(configMapRef(ns, "cm"), stepIs("1"), { timeout: "2 minutes" }))
      yield* watchOpened(ns, 1)
      setStep(ns, "other", "1")
      setStep(ns, "cm", "1")
      const object = yield* Fiber.join(fiber)
      expect(object?.["data"]).toEqual({ step: "1" })
      expect(seen.map((url) => [url.pathname, Object.fromEntries(url.searchParams)])).toEqual([
        [`/api/v1/namespaces/${ns}/configmaps`, { fieldSelector: "metadata.name=cm" }],
        [`/api/v1/namespaces/${ns}/configmaps`, {
          watch: "1",
          resourceVersion: listedAt,
          allowWatchBookmarks: "true",
          fieldSelector: "metadata.name=cm",
          timeoutSeconds: "120"
        }]
      ])
      expect(requests("watch", ns).map((record) => record.code)).toEqual([200])
    }))

  it.effect("a watch dropped three times still delivers the change, with exactly one LIST", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-drops")
      sim.seed([configMap(ns, "cm", "0")])
      sim.faults.setWatchFault({ resource: "configmaps", dropAfterEvents: 1 })
      yield* Effect.addFinalizer(() => Effect.sync(() => sim.faults.setWatchFault(undefined)))
      const client = yield* api()
      const fiber = yield* Effect.forkChild(client.waitFor(configMapRef(ns, "cm"), stepIs("4"), { timeout: "2 minutes" }))
      for (const step of ["1", "2", "3", "4"]) {
        yield* watchOpened(ns, Number(step))
        setStep(ns, "cm", step)
      }
      const object = yield* Fiber.join(fiber)
      expect(object?.["data"]).toEqual({ step: "4" })
      expect(requests("list", ns)).toHaveLength(1)
      expect(requests("watch", ns).map((record) => record.code)).toEqual([200, 200, 200, 200])
    }))

  it.effect("a watch that the server ends is reopened from the last resourceVersion, without a LIST", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-ended")
      sim.seed([configMap(ns, "cm", "0")])
      sim.faults.setWatchFault({ resource: "configmaps", closeAfterMs: 200 })
      yield* Effect.addFinalizer(() => Effect.sync(() => sim.faults.setWatchFault(undefined)))
      const client = yield* api()
      const fiber = yield* Effect.forkChild(client.waitFor(configMapRef(ns, "cm"), stepIs("2"), { timeout: "2 minutes" }))
      yield* watchOpened(ns, 1)
      sim.faults.setWatchFault(undefined)
      setStep(ns, "cm", "1")
      yield* watchOpened(ns, 2)
      setStep(ns, "cm", "2")
      const object = yield* Fiber.join(fiber)
      expect(object?.["data"]).toEqual({ step: "2" })
      expect(requests("list", ns)).toHaveLength(1)
      expect(requests("watch", ns)).toHaveLength(2)
    }))

  it.effect("a 410 ERROR event on the resumed watch leads to exactly one re-LIST and still delivers", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-gone-event")
      sim.seed([configMap(ns, "cm", "0")])
      sim.faults.setWatchFault({ resource: "configmaps", dropAfterEvents: 1 })
      yield* Effect.addFinalizer(() => Effect.sync(() => sim.faults.setWatchFault(undefined)))
      const client = yield* api()
      const fiber = yield* Effect.forkChild(client.waitFor(configMapRef(ns, "cm"), stepIs("2"), { timeout: "2 minutes" }))
      yield* watchOpened(ns, 1)
      setStep(ns, "cm", "1")
      sim.seed([configMap("default", `bump-${ns}`, "0")])
      sim.cluster.store.compactTo(sim.cluster.store.resourceVersion)
      yield* Effect.promise(() => sim.audit.waitFor(() => requests("list", ns).length >= 2, 5_000))
      yield* watchOpened(ns, 3)
      setStep(ns, "cm", "2")
      const object = yield* Fiber.join(fiber)
      expect(object?.["data"]).toEqual({ step: "2" })
      expect(requests("list", ns)).toHaveLength(2)
      expect(requests("watch", ns)).toHaveLength(3)
    }))

  it.effect("a 410 answer to the watch request leads to exactly one re-LIST and still delivers", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-gone-status")
      sim.seed([configMap(ns, "cm", "0")])
      let gone = 0
      const front = yield* frontProxy(sim, (url) => {
        if (url.searchParams.get("watch") !== "1" || !url.pathname.includes(`/namespaces/${ns}/`) || gone > 0) return undefined
        gone++
        return {
          status: 410,
          body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "too old resource version: 1 (2)", reason: "Expired", code: 410 }
        }
      })
      const client = yield* api({ kubeconfig: kubeconfigFor(sim, front.url) })
      const fiber = yield* Effect.forkChild(client.waitFor(configMapRef(ns, "cm"), stepIs("1"), { timeout: "2 minutes" }))
      yield* watchOpened(ns, 1)
      setStep(ns, "cm", "1")
      const object = yield* Fiber.join(fiber)
      expect(object?.["data"]).toEqual({ step: "1" })
      expect(gone).toBe(1)
      expect(requests("list", ns)).toHaveLength(2)
      expect(requests("watch", ns)).toHaveLength(1)
    }))

  it.effect("waits for absence: a delete satisfies `o => o === undefined` and returns undefined", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-absent")
      sim.seed([configMap(ns, "cm", "0")])
      const client = yield* api()
      const fiber = yield* Effect.forkChild(client.waitFor(configMapRef(ns, "cm"), (object) => object === undefined, { timeout: "2 minutes", description: "to be deleted" }))
      yield* watchOpened(ns, 1)
      sim.cluster.delete(configMaps(), ns, "cm")
      const result = yield* Fiber.join(fiber)
      expect(result).toBeUndefined()
      expect(requests("list", ns)).toHaveLength(1)
    }))

  it.effect("absence of an object that never existed holds from the LIST", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-never")
      const client = yield* api()
      const result = yield* client.waitFor(configMapRef(ns, "ghost"), (object) => object === undefined, { timeout: "10 seconds" })
      expect(result).toBeUndefined()
      expect(requests("watch", ns)).toEqual([])
    }))

  it.effect("waits for an object to appear (ADDED)", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-appear")
      const client = yield* api()
      const fiber = yield* Effect.forkChild(client.waitFor(configMapRef(ns, "late"), (object) => object !== undefined, { timeout: "2 minutes" }))
      yield* watchOpened(ns, 1)
      sim.seed([configMap(ns, "late", "0")])
      const object = yield* Fiber.join(fiber)
      expect(object?.metadata.name).toBe("late")
    }))

  it.effect("a timeout (TestClock) carries the last observed object and names it", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-timeout")
      sim.seed([{
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "never-ready", namespace: ns },
        spec: { containers: [{ name: "main", image: "busybox:1.37" }] }
      }])
      const pods = sim.cluster.registry.find("", "v1", "pods")!
      const client = yield* api()
      let checked = 0
      const isReady = (object: KubeObject | undefined) => {
        checked++
        return ((object?.["status"] as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? [])
          .some((condition) => condition.type === "Ready" && condition.status === "True")
      }
      const fiber = yield* Effect.forkChild(Effect.flip(
        client.waitFor({ apiVersion: "v1", kind: "Pod", namespace: ns, name: "never-ready" }, isReady, { timeout: "5 minutes", description: "to become Ready" })
      ))
      yield* watchOpened(ns, 1, "pods")
      const current = sim.cluster.get(pods, ns, "never-ready")
      sim.cluster.update(pods, ns, "never-ready", {
        ...current,
        status: { phase: "Pending", conditions: [{ type: "Ready", status: "False", reason: "ContainersNotReady" }] }
      }, { subresource: "status" })
      yield* until(() => checked >= 2)
      expect(checked).toBe(2)
      yield* TestClock.adjust("5 minutes")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("WaitTimeout")
      if (error._tag !== "WaitTimeout") return
      expect(error.message).toBe(`timed out after 5m waiting for Pod ${ns}/never-ready to become Ready`)
      expect(error.object).toBe(`Pod ${ns}/never-ready`)
      expect(error.last?.metadata.name).toBe("never-ready")
      expect(error.last?.["status"]).toEqual({ phase: "Pending", conditions: [{ type: "Ready", status: "False", reason: "ContainersNotReady" }] })
    }))

  it.effect("a timeout on an object that was never seen carries no last object", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-timeout-absent")
      const client = yield* api()
      const fiber = yield* Effect.forkChild(Effect.flip(client.waitFor(configMapRef(ns, "ghost"), (object) => object !== undefined, { timeout: "30 seconds" })))
      yield* watchOpened(ns, 1)
      yield* TestClock.adjust("30 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("WaitTimeout")
      if (error._tag !== "WaitTimeout") return
      expect(error.last).toBeUndefined()
      expect(error.message).toBe(`timed out after 30s waiting for ConfigMap ${ns}/ghost`)
    }))

  it.effect("a cluster-scoped object is listed and watched without a namespace", () =>
    Effect.gen(function*() {
      const name = namespace("wait-cluster-scoped")
      const namespaces = sim.cluster.registry.find("", "v1", "namespaces")!
      const client = yield* api()
      const labelled = (object: KubeObject | undefined) => object?.metadata.labels?.["aicr.dev/ready"] === "yes"
      const fiber = yield* Effect.forkChild(client.waitFor({ apiVersion: "v1", kind: "Namespace", name }, labelled, { timeout: "2 minutes" }))
      yield* watchOpened(undefined, 1, "namespaces")
      const current = sim.cluster.get(namespaces, "", name)
      sim.cluster.update(namespaces, "", name, { ...current, metadata: { ...current.metadata, labels: { ...current.metadata.labels, "aicr.dev/ready": "yes" } } })
      const object = yield* Fiber.join(fiber)
      expect(object?.metadata.labels?.["aicr.dev/ready"]).toBe("yes")
      const paths = sim.audit.filter({ resource: "namespaces" }).filter((record) => record.verb === "list" || record.verb === "watch").map((record) => record.path)
      expect(paths.slice(-2)).toEqual(["/api/v1/namespaces", "/api/v1/namespaces"])
    }))

  it.effect("Forbidden on the watch fails at once with reason Forbidden (no retry)", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-forbidden")
      sim.seed([configMap(ns, "cm", "0")])
      sim.faults.add({ verb: "watch", resource: "configmaps", namespace: ns, code: 403, times: 1 })
      const client = yield* api()
      const error = yield* Effect.flip(client.waitFor(configMapRef(ns, "cm"), stepIs("1"), { timeout: "2 minutes" }))
      expect(error._tag).toBe("KubeError")
      if (error._tag !== "KubeError") return
      expect(error.reason).toBe("Forbidden")
      expect(error.object).toBe(`ConfigMap ${ns}/cm`)
      expect(error.message).toBe(`watch ConfigMap ${ns}/cm: configmaps is forbidden: User "kubernetes-admin" cannot watch resource "configmaps" in API group "" in the namespace "${ns}"`)
      expect(requests("watch", ns).map((record) => record.code)).toEqual([403])
    }))

  it.effect("a 503 on opening the watch is retried, then delivers", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-unavailable")
      sim.seed([configMap(ns, "cm", "0")])
      sim.faults.add({ verb: "watch", resource: "configmaps", namespace: ns, code: 503, times: 2 })
      const client = yield* api({ retry: { baseDelay: 0 } })
      const fiber = yield* Effect.forkChild(client.waitFor(configMapRef(ns, "cm"), stepIs("1"), { timeout: "2 minutes" }))
      yield* watchOpened(ns, 3)
      setStep(ns, "cm", "1")
      const object = yield* Fiber.join(fiber)
      expect(object?.["data"]).toEqual({ step: "1" })
      expect(requests("watch", ns).map((record) => record.code)).toEqual([503, 503, 200])
      expect(requests("list", ns)).toHaveLength(1)
    }))

  it.effect("a kind the server does not serve fails NotFound", () =>
    Effect.gen(function*() {
      const client = yield* api()
      const error = yield* Effect.flip(client.waitFor({ apiVersion: "nope.example.com/v1", kind: "Thing", namespace: "default", name: "t" }, () => true, { timeout: "10 seconds" }))
      expect(error._tag).toBe("KubeError")
      if (error._tag !== "KubeError") return
      expect(error.reason).toBe("NotFound")
      expect(error.message).toBe("wait for Thing default/t: the server does not serve kind Thing in nope.example.com/v1")
    }))

  it.live("interrupting a wait aborts its watch and leaves no rejection behind", () =>
    Effect.gen(function*() {
      const ns = namespace("wait-interrupt")
      sim.seed([configMap(ns, "cm", "0")])
      const client = yield* api()
      const rejections: Array<unknown> = []
      const onRejection = (reason: unknown) => void rejections.push(reason)
      process.on("unhandledRejection", onRejection)
      yield* Effect.addFinalizer(() => Effect.sync(() => void process.off("unhandledRejection", onRejection)))
      const fiber = yield* Effect.forkChild(client.waitFor(configMapRef(ns, "cm"), stepIs("never"), { timeout: "2 minutes" }))
      yield* watchOpened(ns, 1)
      yield* Fiber.interrupt(fiber)
      setStep(ns, "cm", "after")
      yield* Effect.sleep("50 millis")
      expect(rejections).toEqual([])
      expect(requests("watch", ns)).toHaveLength(1)
    }))
})

describe("KubeClientLive.waitForMatch against kube-sim", () => {
  const labelled = (ns: string, name: string, role: string, step: string): KubeObject => ({
    ...configMap(ns, name, step),
    metadata: { name, namespace: ns, labels: { role } }
  })
  const launcherAt = (step: string) => (objects: ReadonlyArray<KubeObject>) => objects.find(stepIs(step))

  it.effect("lists and watches with the label selector, and returns the object the selection picks", () =>
    Effect.gen(function*() {
      const ns = namespace("match-query")
      sim.seed([labelled(ns, "worker", "worker", "0")])
      const listedAt = String(sim.cluster.store.resourceVersion)
      const seen: Array<URL> = []
      const front = yield* frontProxy(sim, (url) => {
        if (url.pathname.includes(`/namespaces/${ns}/`)) seen.push(url)
        return undefined
      })
      const client = yield* api({ kubeconfig: kubeconfigFor(sim, front.url) })
      const fiber = yield* Effect.forkChild(
        client.waitForMatch({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, labels: { role: "launcher" } }, launcherAt("done"), { timeout: "2 minutes" })
      )
      yield* watchOpened(ns, 1)
      sim.seed([labelled(ns, "launcher-abc", "launcher", "0"), labelled(ns, "decoy", "worker", "done")])
      setStep(ns, "launcher-abc", "done")
      const object = yield* Fiber.join(fiber)
      expect(object.metadata.name).toBe("launcher-abc")
      expect(object.kind).toBe("ConfigMap")
      expect(seen.map((url) => [url.pathname, Object.fromEntries(url.searchParams)])).toEqual([
        [`/api/v1/namespaces/${ns}/configmaps`, { labelSelector: "role=launcher" }],
        [`/api/v1/namespaces/${ns}/configmaps`, {
          watch: "1",
          resourceVersion: listedAt,
          allowWatchBookmarks: "true",
          labelSelector: "role=launcher",
          timeoutSeconds: "120"
        }]
      ])
    }))

  it.effect("survives dropped watches with one LIST, and forgets deleted objects", () =>
    Effect.gen(function*() {
      const ns = namespace("match-drops")
      sim.seed([labelled(ns, "first", "launcher", "done")])
      sim.faults.setWatchFault({ resource: "configmaps", dropAfterEvents: 1 })
      yield* Effect.addFinalizer(() => Effect.sync(() => sim.faults.setWatchFault(undefined)))
      const client = yield* api()
      const newest = (objects: ReadonlyArray<KubeObject>) => (objects.length === 1 && objects[0]!.metadata.name === "second" ? objects[0] : undefined)
      const fiber = yield* Effect.forkChild(
        client.waitForMatch({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, labels: { role: "launcher" } }, newest, { timeout: "2 minutes" })
      )
      yield* watchOpened(ns, 1)
      sim.seed([labelled(ns, "second", "launcher", "0")])
      yield* watchOpened(ns, 2)
      sim.cluster.delete(configMaps(), ns, "first")
      const object = yield* Fiber.join(fiber)
      expect(object.metadata.name).toBe("second")
      expect(requests("list", ns)).toHaveLength(1)
      expect(requests("watch", ns)).toHaveLength(2)
    }))

  it.effect("times out with the newest matching object observed", () =>
    Effect.gen(function*() {
      const ns = namespace("match-timeout")
      sim.seed([labelled(ns, "launcher", "launcher", "running")])
      const client = yield* api()
      const fiber = yield* Effect.forkChild(
        client.waitForMatch({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, labels: { role: "launcher" } }, launcherAt("done"), {
          timeout: "30 seconds",
          description: "to finish"
        })
      )
      yield* watchOpened(ns, 1)
      yield* TestClock.adjust("31 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error._tag).toBe("WaitTimeout")
      if (error._tag !== "WaitTimeout") return
      expect(error.message).toBe(`timed out after 30s waiting for ConfigMaps in ${ns} with role=launcher to finish`)
      expect(error.last?.metadata.name).toBe("launcher")
    }))
})
