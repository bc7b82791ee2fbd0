import * as k8s from "@kubernetes/client-node"
import { performance } from "node:perf_hooks"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { startSim } from "../src/index.ts"
import { eventually, failure, type Harness, harness } from "./support/sim.ts"

let h: Harness
beforeAll(async () => {
  h = await harness({ seed: 7, tokens: { "viewer-token": "jane" } })
  await h.core.createNamespace({ body: { metadata: { name: "faults" } } })
  await h.core.createNamespacedConfigMap({ namespace: "faults", body: { metadata: { name: "cm" }, data: { a: "1" } } })
})
afterAll(async () => {
  await h.sim.stop()
})
afterEach(() => {
  h.sim.faults.clear()
})

const read = () => h.core.readNamespacedConfigMap({ name: "cm", namespace: "faults" })

/** The ApiException a call fails with, headers included. */
const exception = async (promise: Promise<unknown>): Promise<k8s.ApiException<string>> => {
  try {
    await promise
  } catch (error) {
    if (error instanceof k8s.ApiException) return error as k8s.ApiException<string>
    throw error
  }
  throw new Error("expected the call to fail")
}

describe("fault rules seen by client-node", () => {
  it("answers 429 with a Retry-After header and details.retryAfterSeconds", async () => {
    h.sim.faults.add({ code: 429, verb: "get", resource: "configmaps", retryAfterSeconds: 3 })
    const error = await exception(read())
    expect(error.code).toBe(429)
    expect(error.headers["retry-after"]).toBe("3")
    expect(error.headers["content-type"]).toBe("application/json")
    expect(JSON.parse(error.body)).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Too many requests, please try again later.",
      reason: "TooManyRequests",
      details: { retryAfterSeconds: 3 },
      code: 429
    })
  })

  it.each([
    [503, "ServiceUnavailable", "the server is currently unable to handle the request", undefined],
    [500, "InternalError", "Internal error occurred: injected fault", { causes: [{ message: "injected fault" }] }],
    [403, "Forbidden", 'configmaps "cm" is forbidden: User "kubernetes-admin" cannot get resource "configmaps" in API group "" in the namespace "faults"', { name: "cm", kind: "configmaps" }],
    [409, "Conflict", 'Operation cannot be fulfilled on configmaps "cm": the object has been modified; please apply your changes to the latest version and try again', { name: "cm", kind: "configmaps" }]
  ] as const)("answers a %i rule with reason %s", async (code, reason, message, details) => {
    h.sim.faults.add({ code, resource: "configmaps", namespace: "faults" })
    const failed = await failure(read())
    expect(failed).toEqual({ code, body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details === undefined ? {} : { details }), code } })
  })

  it("names the user of the request in a 403", async () => {
    h.sim.faults.add({ code: 403, verb: "list" })
    const viewer = new k8s.KubeConfig()
    viewer.loadFromOptions({
      clusters: [{ name: "sim", server: h.sim.url, skipTLSVerify: true }],
      users: [{ name: "jane", token: "viewer-token" }],
      contexts: [{ name: "sim", cluster: "sim", user: "jane" }],
      currentContext: "sim"
    })
    const denied = await failure(viewer.makeApiClient(k8s.CoreV1Api).listNode())
    expect([denied.code, denied.body["message"]]).toEqual([403, 'nodes is forbidden: User "jane" cannot list resource "nodes" in API group "" at the cluster scope'])
  })

  it("fails exactly the next two matching requests with times: 2", async () => {
    h.sim.faults.add({ code: 503, verb: "get", resource: "configmaps", times: 2 })
    const outcomes: Array<number> = []
    for (let i = 0; i < 4; i++) {
      outcomes.push(await read().then(() => 200, (error: k8s.ApiException<unknown>) => error.code))
      if (i === 0) await h.core.listNamespacedConfigMap({ namespace: "faults" })
    }
    expect(outcomes).toEqual([503, 503, 200, 200])
    expect(h.sim.faults.rules()).toEqual([])
  })

  it("gives the same pass/fail sequence for a rate under the same seed in two simulators", async () => {
    const sequence = async (): Promise<string> => {
      const other = await harness({ seed: 1234 })
      try {
        other.sim.faults.add({ code: 500, verb: "list", resource: "configmaps", rate: 0.5 })
        let outcome = ""
        for (let i = 0; i < 24; i++) outcome += await other.core.listNamespacedConfigMap({ namespace: "default" }).then(() => ".", () => "x")
        return outcome
      } finally {
        await other.sim.stop()
      }
    }
    const first = await sequence()
    expect(await sequence()).toBe(first)
    expect(first).toMatch(/x/)
    expect(first).toMatch(/\./)
  })

  it("delays requests by the latency set", async () => {
    h.sim.faults.setLatency(50)
    const started = performance.now()
    await read()
    expect(performance.now() - started).toBeGreaterThanOrEqual(50)
  })

  it("fails a watch request with a rule's status", async () => {
    h.sim.faults.add({ code: 503, verb: "watch", resource: "configmaps" })
    const error = await new Promise<{ statusCode?: number }>((resolve) => {
      void new k8s.Watch(h.kc).watch("/api/v1/namespaces/faults/configmaps", {}, () => {}, (err) => resolve(err))
    })
    expect(error.statusCode).toBe(503)
  })
})

describe("watch faults seen by client-node", () => {
  it("ends a stream after closeAfterMs, and client-node's done callback fires without an error", async () => {
    h.sim.faults.setWatchFault({ resource: "configmaps", closeAfterMs: 100 })
    const started = performance.now()
    const events: Array<string> = []
    const error = await new Promise<unknown>((resolve) => {
      void new k8s.Watch(h.kc).watch("/api/v1/namespaces/faults/configmaps", {}, (type, object) => events.push(`${type} ${object.metadata.name}`), resolve)
    })
    expect(error).toBeNull()
    expect(events).toEqual(["ADDED cm"])
    expect(performance.now() - started).toBeGreaterThanOrEqual(100)
  })

  it("cuts a stream after dropAfterEvents events", async () => {
    await h.core.createNamespace({ body: { metadata: { name: "dropping" } } })
    for (const name of ["a", "b", "c", "d"]) await h.core.createNamespacedConfigMap({ namespace: "dropping", body: { metadata: { name } } })
    h.sim.faults.setWatchFault({ resource: "configmaps", dropAfterEvents: 2 })
    const events: Array<string> = []
    let ended = false
    await new Promise<unknown>((resolve) => {
      void new k8s.Watch(h.kc).watch("/api/v1/namespaces/dropping/configmaps", {}, (type, object) => events.push(`${type} ${object.metadata.name}`), (error) => {
        ended = true
        resolve(error)
      })
    })
    expect(ended).toBe(true)
    expect(events).toEqual(["ADDED a", "ADDED b"])
  })

  it("leaves watches of other resources alone", async () => {
    h.sim.faults.setWatchFault({ resource: "pods", dropAfterEvents: 1 })
    const events: Array<string> = []
    const controller = await new k8s.Watch(h.kc).watch("/api/v1/namespaces/dropping/configmaps", {}, (type, object) => events.push(`${type} ${object.metadata.name}`), () => {})
    await eventually(() => (events.length === 4 ? true : undefined))
    controller.abort()
    expect(events).toEqual(["ADDED a", "ADDED b", "ADDED c", "ADDED d"])
  })
})

describe("the audit log", () => {
  it("records user, verb, resource, subresource, namespace, name and code of each request", async () => {
    const sim = await startSim({ tokens: { "viewer-token": "jane" } })
    try {
      const kc = new k8s.KubeConfig()
      kc.loadFromFile(sim.kubeconfigPath)
      const api = kc.makeApiClient(k8s.CoreV1Api)
      const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)
      sim.audit.clear()
      await api.createNamespace({ body: { metadata: { name: "au" } } })
      const cm = await api.createNamespacedConfigMap({ namespace: "au", body: { metadata: { name: "cm", labels: { x: "1" } } } })
      await api.readNamespacedConfigMap({ name: "cm", namespace: "au" })
      await api.listNamespacedConfigMap({ namespace: "au" })
      await api.replaceNamespacedConfigMap({ name: "cm", namespace: "au", body: { ...cm, data: { a: "1" } } })
      await api.patchNamespacedConfigMap({ name: "cm", namespace: "au", body: { data: { b: "2" } } }, merge)
      const controller = await new k8s.Watch(kc).watch("/api/v1/namespaces/au/configmaps", {}, () => {}, () => {})
      await sim.audit.waitFor((record) => record.verb === "watch")
      controller.abort()
      await api.createNamespacedPod({ namespace: "au", body: { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "busybox:1.37" }] } } })
      await api.readNamespacedPodStatus({ name: "p", namespace: "au" })
      await api.deleteNamespacedConfigMap({ name: "cm", namespace: "au" })
      await api.deleteCollectionNamespacedConfigMap({ namespace: "au" })
      await failure(api.readNamespacedConfigMap({ name: "cm", namespace: "au" }))
      await api.listNode()
      const anonymous = await fetch(`${sim.url}/api/v1/namespaces/au/configmaps`, { headers: { authorization: "Bearer not-a-token" } })
      expect(anonymous.status).toBe(401)
      expect(await anonymous.json()).toEqual({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 })
      await fetch(`${sim.url}/api/v1/nodes/n1`, { headers: { authorization: "Bearer viewer-token" } })
      await eventually(() => (sim.audit.all().length === 15 ? true : undefined))
      const admin = "kubernetes-admin"
      expect(sim.audit.all().map(({ time: _time, ...record }) => record)).toEqual([
        { user: admin, verb: "create", resource: "namespaces", group: "", code: 201, method: "POST", path: "/api/v1/namespaces" },
        { user: admin, verb: "create", resource: "configmaps", group: "", namespace: "au", code: 201, method: "POST", path: "/api/v1/namespaces/au/configmaps" },
        { user: admin, verb: "get", resource: "configmaps", group: "", namespace: "au", name: "cm", code: 200, method: "GET", path: "/api/v1/namespaces/au/configmaps/cm" },
        { user: admin, verb: "list", resource: "configmaps", group: "", namespace: "au", code: 200, method: "GET", path: "/api/v1/namespaces/au/configmaps" },
        { user: admin, verb: "update", resource: "configmaps", group: "", namespace: "au", name: "cm", code: 200, method: "PUT", path: "/api/v1/namespaces/au/configmaps/cm" },
        { user: admin, verb: "patch", resource: "configmaps", group: "", namespace: "au", name: "cm", code: 200, method: "PATCH", path: "/api/v1/namespaces/au/configmaps/cm" },
        { user: admin, verb: "watch", resource: "configmaps", group: "", namespace: "au", code: 200, method: "GET", path: "/api/v1/namespaces/au/configmaps" },
        { user: admin, verb: "create", resource: "pods", group: "", namespace: "au", code: 201, method: "POST", path: "/api/v1/namespaces/au/pods" },
        { user: admin, verb: "get", resource: "pods", group: "", subresource: "status", namespace: "au", name: "p", code: 200, method: "GET", path: "/api/v1/namespaces/au/pods/p/status" },
        { user: admin, verb: "delete", resource: "configmaps", group: "", namespace: "au", name: "cm", code: 200, method: "DELETE", path: "/api/v1/namespaces/au/configmaps/cm" },
        { user: admin, verb: "deletecollection", resource: "configmaps", group: "", namespace: "au", code: 200, method: "DELETE", path: "/api/v1/namespaces/au/configmaps" },
        { user: admin, verb: "get", resource: "configmaps", group: "", namespace: "au", name: "cm", code: 404, method: "GET", path: "/api/v1/namespaces/au/configmaps/cm" },
        { user: admin, verb: "list", resource: "nodes", group: "", code: 200, method: "GET", path: "/api/v1/nodes" },
        { user: "", verb: "list", resource: "configmaps", group: "", namespace: "au", code: 401, method: "GET", path: "/api/v1/namespaces/au/configmaps" },
        { user: "jane", verb: "get", resource: "nodes", group: "", name: "n1", code: 404, method: "GET", path: "/api/v1/nodes/n1" }
      ])
      expect(sim.audit.filter({ verb: "watch" })).toHaveLength(1)
    } finally {
      await sim.stop()
    }
  })
})
