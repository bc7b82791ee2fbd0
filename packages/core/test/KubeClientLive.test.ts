import { startSim, type Sim } from "@aicr/kube-sim"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, request as httpRequest, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { KubeClient, type KubeError, type KubeObject } from "../src/KubeClient.ts"
import * as KubeClientLive from "../src/KubeClientLive.ts"

let sim: Sim
let dir: string

beforeAll(async () => {
  sim = await startSim({ rbac: true, tokens: { "viewer-token": "viewer" } })
  dir = mkdtempSync(join(tmpdir(), "kube-client-live-"))
})

afterAll(async () => {
  await sim.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** A kubeconfig for the sim with another token (or none). */
const kubeconfigWith = (name: string, server: string, token: string | undefined): string => {
  const path = join(dir, name)
  writeFileSync(path, [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: sim",
    "  cluster:",
    `    server: ${server}`,
    "    insecure-skip-tls-verify: true",
    "users:",
    "- name: u",
    `  user: ${token === undefined ? "{}" : `\n    token: ${token}`}`,
    "contexts:",
    "- name: sim",
    "  context: {cluster: sim, user: u, namespace: aicr-default}",
    "current-context: sim",
    ""
  ].join("\n"))
  return path
}

/** What the front proxy does with a request it does not pass to the sim. */
type Answer = { readonly status: number; readonly body: unknown } | "reset"

/**
 * A loopback HTTP proxy in front of the sim answering chosen paths itself: the sim grants discovery to every
 * authenticated user (as the bootstrap policy does), so a Forbidden group-version and a reset connection come from here.
 */
const frontProxy = (answer: (method: string, path: string) => Answer | undefined) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly server: Server; readonly url: string }>((resolve) => {
        const target = new URL(sim.url)
        const server = createServer((req, res) => {
          const own = answer(req.method ?? "GET", new URL(req.url ?? "/", "http://x").pathname)
          if (own === "reset") return void req.socket.destroy()
          if (own !== undefined) {
            res.writeHead(own.status, { "Content-Type": "application/json" })
            return void res.end(JSON.stringify(own.body))
          }
          const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (reply) => {
            res.writeHead(reply.statusCode ?? 502, reply.headers)
            reply.pipe(res)
          })
          req.pipe(upstream)
        })
        server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }))
      })
    ),
    ({ server }) => Effect.promise(() => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }))
  )

/** A port nothing listens on. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      server.close(() => resolve(port))
    })
  })

const namespace = (name: string) => {
  sim.seed([{ apiVersion: "v1", kind: "Namespace", metadata: { name } }])
  return name
}

const configMap = (ns: string, name: string, data: Record<string, string> = { key: "value" }): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns },
  data
})

/** The live Api over the sim's kubeconfig, built in the test's scope. */
const api = (options: Omit<KubeClientLive.Options, "kubeconfig"> & { readonly kubeconfig?: string } = {}) =>
  Effect.flatMap(
    Effect.orDie(KubeClientLive.loadKubeConfig({ kubeconfig: options.kubeconfig ?? sim.kubeconfigPath, context: options.context })),
    (kc) => Effect.orDie(KubeClientLive.make(kc, options))
  )

const failure = <A>(effect: Effect.Effect<A, KubeError>) => Effect.flip(effect)

const lists = (ns: string) => sim.audit.filter({ verb: "list", resource: "configmaps", namespace: ns })

describe("KubeClientLive against kube-sim", () => {
  it.effect("creates, gets with every field, and deletes with foreground propagation", () =>
    Effect.gen(function*() {
      const ns = namespace("crud")
      const client = yield* api()
      const created = yield* client.create({ ...configMap(ns, "one"), metadata: { name: "one", namespace: ns, annotations: { "x.example/a": "1" } } })
      expect(created.metadata.namespace).toBe(ns)
      const got = yield* client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "one" })
      expect(got["data"]).toEqual({ key: "value" })
      expect((got.metadata as { annotations?: unknown }).annotations).toEqual({ "x.example/a": "1" })
      expect(typeof got.metadata["uid"]).toBe("string")
      yield* client.delete({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "one" })
      const deletes = sim.audit.filter({ verb: "delete", resource: "configmaps", namespace: ns, name: "one" })
      expect(deletes.map((record) => record.code)).toEqual([200])
      const gone = yield* failure(client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "one" }))
      expect(gone.reason).toBe("NotFound")
    }))

  it.effect("a namespaced object without a namespace uses the context's namespace", () =>
    Effect.gen(function*() {
      namespace("aicr-default")
      const client = yield* api({ kubeconfig: kubeconfigWith("ctx-ns", sim.url, sim.adminToken) })
      const created = yield* client.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "defaulted" }, data: {} })
      expect(created.metadata.namespace).toBe("aicr-default")
    }))

  it.effect("delete of a missing object succeeds", () =>
    Effect.gen(function*() {
      const ns = namespace("delete-missing")
      const client = yield* api()
      yield* client.delete({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "never-was" })
      expect(sim.audit.filter({ verb: "delete", namespace: ns }).map((record) => record.code)).toEqual([404])
    }))

  describe("each reason from a real response", () => {
    it.effect("404 NotFound names the operation and the object", () =>
      Effect.gen(function*() {
        const client = yield* api()
        const error = yield* failure(client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "missing" }))
        expect(error.reason).toBe("NotFound")
        expect(error.object).toBe("ConfigMap default/missing")
        expect(error.message).toBe(`get ConfigMap default/missing: configmaps "missing" not found`)
      }))

    it.effect("409 AlreadyExists and 409 Conflict are told apart by the Status reason", () =>
      Effect.gen(function*() {
        const ns = namespace("conflicts")
        const client = yield* api()
        yield* client.create(configMap(ns, "dup"))
        const exists = yield* failure(client.create(configMap(ns, "dup")))
        expect(exists.reason).toBe("AlreadyExists")
        expect(exists.message).toBe(`create ConfigMap ${ns}/dup: configmaps "dup" already exists`)
        sim.faults.add({ verb: "create", resource: "configmaps", namespace: ns, code: 409, times: 1 })
        const conflict = yield* failure(client.create(configMap(ns, "other")))
        expect(conflict.reason).toBe("Conflict")
        expect(conflict.message.startsWith(`create ConfigMap ${ns}/other: `)).toBe(true)
      }))

    it.effect("422 Invalid carries the causes", () =>
      Effect.gen(function*() {
        const ns = namespace("invalid")
        const client = yield* api()
        const error = yield* failure(client.create({
          apiVersion: "batch/v1",
          kind: "Job",
          metadata: { name: "x", namespace: ns },
          spec: { template: { spec: { restartPolicy: "Always", containers: [] } } }
        }))
        expect(error.reason).toBe("Invalid")
        expect(error.object).toBe(`Job ${ns}/x`)
        expect(error.message.startsWith(`create Job ${ns}/x: Job.batch "x" is invalid: `)).toBe(true)
        expect(error.message).toContain("spec.template.spec.containers: Required value")
        expect(error.message).toContain("spec.template.spec.restartPolicy: ")
      }))

    it.effect("401 Unauthorized with a bad token", () =>
      Effect.gen(function*() {
        const client = yield* api({ kubeconfig: kubeconfigWith("bad-token", sim.url, "not-a-token") })
        const error = yield* failure(client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "x" }))
        expect(error.reason).toBe("Unauthorized")
        expect(error.message).toBe("get ConfigMap default/x: discover v1: Unauthorized")
      }))

    it.effect("403 Forbidden from a fault", () =>
      Effect.gen(function*() {
        const ns = namespace("forbidden")
        const client = yield* api()
        sim.faults.add({ verb: "get", resource: "configmaps", namespace: ns, code: 403, times: 1 })
        const error = yield* failure(client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "x" }))
        expect(error.reason).toBe("Forbidden")
        expect(error.message).toBe(`get ConfigMap ${ns}/x: configmaps "x" is forbidden: User "kubernetes-admin" cannot get resource "configmaps" in API group "" in the namespace "${ns}"`)
      }))

    it.effect("410 Gone for a compacted resourceVersion", () =>
      Effect.gen(function*() {
        const client = yield* api()
        const error = yield* failure(Stream.runCollect(client.listStream({ apiVersion: "v1", kind: "ConfigMap" }, { resourceVersion: "1", resourceVersionMatch: "Exact" })))
        expect(error.reason).toBe("Gone")
        expect(error.message).toBe("list ConfigMap in all namespaces: The resourceVersion for the provided list is too old.")
      }))

    it.effect("429 TooManyRequests once the attempts are spent (5 requests)", () =>
      Effect.gen(function*() {
        const ns = namespace("throttled")
        const client = yield* api()
        sim.faults.add({ verb: "get", resource: "configmaps", namespace: ns, code: 429, times: 10, retryAfterSeconds: 0 })
        const error = yield* failure(client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "x" }))
        expect(error.reason).toBe("TooManyRequests")
        expect(sim.audit.filter({ verb: "get", namespace: ns }).map((record) => record.code)).toEqual([429, 429, 429, 429, 429])
        sim.faults.clear()
      }))

    it.effect("503 Unavailable, and a create is never retried (one POST)", () =>
      Effect.gen(function*() {
        const ns = namespace("unavailable")
        const client = yield* api()
        sim.faults.add({ verb: "create", resource: "configmaps", namespace: ns, code: 503, times: 3 })
        const error = yield* failure(client.create(configMap(ns, "once")))
        expect(error.reason).toBe("Unavailable")
        expect(error.message.startsWith(`create ConfigMap ${ns}/once: `)).toBe(true)
        expect(sim.audit.filter({ method: "POST", namespace: ns }).map((record) => record.code)).toEqual([503])
        sim.faults.clear()
      }))

    it.effect("504 Timeout for a resourceVersion from the future", () =>
      Effect.gen(function*() {
        const client = yield* api()
        const error = yield* failure(Stream.runCollect(client.listStream({ apiVersion: "v1", kind: "ConfigMap" }, { resourceVersion: "99999999", resourceVersionMatch: "Exact" })))
        expect(error.reason).toBe("Timeout")
        expect(error.message.startsWith("list ConfigMap in all namespaces: Too large resource version: 99999999")).toBe(true)
      }))

    it.effect("a refused connection is Unavailable", () =>
      Effect.gen(function*() {
        const port = yield* Effect.promise(closedPort)
        const client = yield* api({ kubeconfig: kubeconfigWith("refused", `http://127.0.0.1:${port}`, undefined), retry: { maxAttempts: 1 } })
        const error = yield* failure(client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "x" }))
        expect(error.reason).toBe("Unavailable")
        expect(error.message).toBe(`get ConfigMap default/x: discover v1: cannot reach the API server http://127.0.0.1:${port}: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:${port}`)
      }))

    it.effect("a request with no answer within the request timeout is Timeout (TestClock)", () =>
      Effect.gen(function*() {
        const ns = namespace("slow")
        const client = yield* api({ requestTimeout: "5 seconds" })
        yield* client.isServed("v1", "ConfigMap")
        sim.faults.setLatency(60_000)
        const fiber = yield* Effect.forkChild(failure(client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "x" })))
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
        yield* TestClock.adjust("5 seconds")
        const error = yield* Fiber.join(fiber)
        sim.faults.setLatency(0)
        expect(error.reason).toBe("Timeout")
        expect(error.message).toBe(`get ConfigMap ${ns}/x: no answer from the API server within 5s`)
      }))
  })

  it.effect("a 429 with Retry-After: 3 waits exactly 3 s under TestClock, then succeeds on the second attempt", () =>
    Effect.gen(function*() {
      const ns = namespace("retry-after")
      sim.seed([configMap(ns, "target")])
      const retried = yield* Deferred.make<KubeClientLive.RetryEvent>()
      const client = yield* api({ onRetry: (event) => Deferred.succeed(retried, event).pipe(Effect.asVoid) })
      sim.faults.add({ verb: "get", resource: "configmaps", namespace: ns, code: 429, times: 1, retryAfterSeconds: 3 })
      const gets = () => sim.audit.filter({ verb: "get", resource: "configmaps", namespace: ns }).map((record) => record.code)
      const fiber = yield* Effect.forkChild(client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "target" }))
      const event = yield* Deferred.await(retried)
      expect(event.attempt).toBe(1)
      expect(event.error.reason).toBe("TooManyRequests")
      expect(Duration.toMillis(event.delay)).toBe(3000)
      yield* TestClock.adjust("2999 millis")
      expect(gets()).toEqual([429])
      yield* TestClock.adjust("1 millis")
      const object = yield* Fiber.join(fiber)
      expect(object.metadata.name).toBe("target")
      expect(gets()).toEqual([429, 200])
    }))

  it.effect("a Retry-After beyond the total retry time fails at once (one request)", () =>
    Effect.gen(function*() {
      const ns = namespace("retry-bound")
      const client = yield* api({ retry: { maxElapsed: "10 seconds", maxDelay: "60 seconds" } })
      sim.faults.add({ verb: "get", resource: "configmaps", namespace: ns, code: 429, times: 1, retryAfterSeconds: 30 })
      const error = yield* failure(client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "x" }))
      expect(error.reason).toBe("TooManyRequests")
      expect(sim.audit.filter({ verb: "get", namespace: ns }).map((record) => record.code)).toEqual([429])
    }))

  it.effect("a 503 on a get is retried with backoff (bounded by maxAttempts)", () =>
    Effect.gen(function*() {
      const ns = namespace("retry-503")
      sim.seed([configMap(ns, "target")])
      const delays: Array<number> = []
      const client = yield* api({ onRetry: (event) => Effect.sync(() => void delays.push(Duration.toMillis(event.delay))) })
      sim.faults.add({ verb: "get", resource: "configmaps", namespace: ns, code: 503, times: 2 })
      const fiber = yield* Effect.forkChild(client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "target" }))
      while (delays.length < 2) {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
        yield* TestClock.adjust("1 second")
      }
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(delays[0]).toBeGreaterThanOrEqual(100)
      expect(delays[0]).toBeLessThanOrEqual(200)
      expect(delays[1]).toBeGreaterThanOrEqual(200)
      expect(delays[1]).toBeLessThanOrEqual(400)
      expect(sim.audit.filter({ verb: "get", namespace: ns }).map((record) => record.code)).toEqual([503, 503, 200])
    }))

  it.effect("a reset connection is retried for a get and never for a create", () =>
    Effect.gen(function*() {
      const ns = namespace("resets")
      sim.seed([configMap(ns, "target")])
      let resets = 0
      const front = yield* frontProxy((_method, path) => {
        if (!path.startsWith(`/api/v1/namespaces/${ns}/`) || resets >= 2) return undefined
        resets++
        return "reset"
      })
      const client = yield* api({ kubeconfig: kubeconfigWith("resets", front.url, sim.adminToken), retry: { baseDelay: 0 } })
      const got = yield* client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "target" })
      expect(got.metadata.name).toBe("target")
      expect(resets).toBe(2)
      expect(sim.audit.filter({ verb: "get", namespace: ns }).map((record) => record.code)).toEqual([200])
      resets = 1
      const error = yield* failure(client.create(configMap(ns, "created-once")))
      expect(error.reason).toBe("Unavailable")
      expect(error.message.startsWith(`create ConfigMap ${ns}/created-once: cannot reach the API server ${front.url}: `)).toBe(true)
      expect(resets).toBe(2)
      expect(sim.audit.filter({ verb: "create", namespace: ns })).toEqual([])
    }))

  describe("pagination", () => {
    const seeded = (ns: string, count: number) => {
      namespace(ns)
      sim.seed(Array.from({ length: count }, (_, index) => configMap(ns, `cm-${String(index).padStart(4, "0")}`)))
      return Array.from({ length: count }, (_, index) => `cm-${String(index).padStart(4, "0")}`)
    }

    it.effect("1,200 objects come in order over 3 LIST requests of 500", () =>
      Effect.gen(function*() {
        const names = seeded("paged", 1200)
        const client = yield* api()
        const items = yield* Stream.runCollect(client.listStream({ apiVersion: "v1", kind: "ConfigMap", namespace: "paged" }))
        expect(items.map((item) => item.metadata.name)).toEqual(names)
        expect(items[0]!.kind).toBe("ConfigMap")
        expect(lists("paged").map((record) => record.code)).toEqual([200, 200, 200])
      }))

    it.effect("KubeClient.list from the layer collects every page", () =>
      Effect.gen(function*() {
        const names = seeded("paged-layer", 1100)
        const items = yield* Effect.flatMap(Effect.service(KubeClient), (client) => client.list({ apiVersion: "v1", kind: "ConfigMap", namespace: "paged-layer" }))
        expect(items.map((item) => item.metadata.name)).toEqual(names)
        expect(lists("paged-layer")).toHaveLength(3)
      }).pipe(Effect.provide(KubeClientLive.layerFromKubeconfig({ kubeconfig: sim.kubeconfigPath }))))

    it.effect("a 410 on a continue token restarts the list and skips what was already emitted", () =>
      Effect.gen(function*() {
        const names = seeded("paged-gone", 1200)
        const client = yield* api()
        let compacted = false
        const items = yield* Stream.runCollect(
          client.listStream({ apiVersion: "v1", kind: "ConfigMap", namespace: "paged-gone" }).pipe(
            Stream.tap(() =>
              Effect.sync(() => {
                if (compacted) return
                compacted = true
                sim.seed([configMap("default", "bump-rv")])
                sim.cluster.store.compactTo(sim.cluster.store.resourceVersion)
              })
            )
          )
        )
        expect(items.map((item) => item.metadata.name)).toEqual(names)
        expect(lists("paged-gone").map((record) => record.code)).toEqual([200, 410, 200, 200, 200])
      }))

    it.effect("a label selector filters on the server", () =>
      Effect.gen(function*() {
        const ns = namespace("labelled")
        sim.seed([
          { ...configMap(ns, "a"), metadata: { name: "a", namespace: ns, labels: { app: "x" } } },
          { ...configMap(ns, "b"), metadata: { name: "b", namespace: ns, labels: { app: "y" } } }
        ])
        const client = yield* api()
        const items = yield* Stream.runCollect(client.listStream({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, labels: { app: "x" } }, { limit: 1 }))
        expect(items.map((item) => item.metadata.name)).toEqual(["a"])
      }))
  })

  describe("isServed", () => {
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.aicr.dev" },
      spec: {
        group: "example.aicr.dev",
        scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
        versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }]
      }
    }

    it.effect("a CRD kind is absent before the CRD is installed and served after", () =>
      Effect.gen(function*() {
        const client = yield* api()
        expect(yield* client.isServed("example.aicr.dev/v1", "Widget")).toBe(false)
        yield* client.create(crd)
        expect(yield* client.isServed("example.aicr.dev/v1", "Widget")).toBe(true)
        expect(yield* client.isServed("example.aicr.dev/v1", "Gadget")).toBe(false)
        const ns = namespace("widgets")
        const widget = yield* client.create({ apiVersion: "example.aicr.dev/v1", kind: "Widget", metadata: { name: "w", namespace: ns }, spec: { size: 3 } })
        expect(widget["spec"]).toEqual({ size: 3 })
        expect(yield* client.isServed("v1", "Pod")).toBe(true)
        expect(yield* client.isServed("resource.k8s.io/v1", "ResourceClaim")).toBe(true)
      }))

    it.effect("a Forbidden or timed-out group-version fails instead of answering absent", () =>
      Effect.gen(function*() {
        const status = (code: number, reason: string, message: string) => ({ status: code, body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code } })
        const front = yield* frontProxy((_, path) =>
          path === "/apis/resource.k8s.io/v1"
            ? status(403, "Forbidden", `forbidden: User "viewer" cannot get path "${path}"`)
            : path === "/apis/nvidia.com/v1alpha1"
            ? status(504, "Timeout", "the server was unable to return a response in the time allotted")
            : undefined
        )
        const client = yield* api({ kubeconfig: kubeconfigWith("front", front.url, sim.adminToken) })
        const forbidden = yield* failure(client.isServed("resource.k8s.io/v1", "ResourceClaim"))
        expect(forbidden.reason).toBe("Forbidden")
        expect(forbidden.message).toBe(`is ResourceClaim served: discover resource.k8s.io/v1: forbidden: User "viewer" cannot get path "/apis/resource.k8s.io/v1"`)
        const timeout = yield* failure(client.isServed("nvidia.com/v1alpha1", "DynamoGraphDeployment"))
        expect(timeout.reason).toBe("Timeout")
        expect(yield* client.isServed("v1", "ConfigMap")).toBe(true)
      }))

    it.effect("get of a kind that is not served is NotFound naming the kind", () =>
      Effect.gen(function*() {
        const client = yield* api()
        const error = yield* failure(client.get({ apiVersion: "nope.example.com/v1", kind: "Thing", namespace: "default", name: "t" }))
        expect(error.reason).toBe("NotFound")
        expect(error.message).toBe("get Thing default/t: the server does not serve kind Thing in nope.example.com/v1")
      }))
  })
})

describe("loadKubeConfig", () => {
  it.effect("an unknown context is a KubeConfigError listing the known ones", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(KubeClientLive.loadKubeConfig({ kubeconfig: sim.kubeconfigPath, context: "nope" }))
      expect(error._tag).toBe("KubeConfigError")
      expect(error.message).toBe(`context "nope" is not in the kubeconfig (contexts: aicr-sim)`)
    }))

  it.effect("in cluster: the service-account directory and KUBERNETES_SERVICE_HOST/PORT over HTTPS", () =>
    Effect.gen(function*() {
      const tlsSim = yield* Effect.acquireRelease(Effect.promise(() => startSim({ tls: true })), (started) => Effect.promise(() => started.stop()))
      const saDir = mkdtempSync(join(tmpdir(), "kube-sa-"))
      writeFileSync(join(saDir, "token"), tlsSim.adminToken)
      writeFileSync(join(saDir, "ca.crt"), tlsSim.caPem!)
      writeFileSync(join(saDir, "namespace"), "in-cluster-ns\n")
      const saved = { ...process.env }
      yield* Effect.addFinalizer(() => Effect.sync(() => {
        process.env = saved
        rmSync(saDir, { recursive: true, force: true })
      }))
      const url = new URL(tlsSim.url)
      delete process.env["KUBECONFIG"]
      process.env["HOME"] = saDir
      process.env["AICR_SERVICEACCOUNT_DIR"] = saDir
      process.env["KUBERNETES_SERVICE_HOST"] = url.hostname
      process.env["KUBERNETES_SERVICE_PORT"] = url.port
      tlsSim.seed([{ apiVersion: "v1", kind: "Namespace", metadata: { name: "in-cluster-ns" } }])
      const kc = yield* KubeClientLive.loadKubeConfig()
      const client = yield* KubeClientLive.make(kc)
      const created = yield* client.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "from-pod" }, data: {} })
      expect(created.metadata.namespace).toBe("in-cluster-ns")
      expect(tlsSim.audit.filter({ verb: "create", resource: "configmaps" }).map((record) => record.user)).toEqual(["kubernetes-admin"])
    }))
})
