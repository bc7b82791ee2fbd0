import * as k8s from "@kubernetes/client-node"
import { PassThrough } from "node:stream"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually, failure, type Harness, harness } from "./support/sim.ts"

let h: Harness
beforeAll(async () => {
  h = await harness({ bookmarkIntervalMs: 50 })
})
afterAll(async () => {
  await h.sim.stop()
})

const ns = async (name: string) => {
  await h.core.createNamespace({ body: { metadata: { name } } })
  return name
}

describe("typed CRUD through client-node", () => {
  it("creates, reads, updates and deletes a ConfigMap with resourceVersions and uids", async () => {
    const namespace = await ns("crud")
    const created = await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "one", labels: { app: "a" } }, data: { k: "v" } } })
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/)
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(1000)
    const read = await h.core.readNamespacedConfigMap({ name: "one", namespace })
    expect(read.data).toEqual({ k: "v" })
    const updated = await h.core.replaceNamespacedConfigMap({ name: "one", namespace, body: { ...read, data: { k: "w" } } })
    expect(updated.data).toEqual({ k: "w" })
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion))
    await h.core.deleteNamespacedConfigMap({ name: "one", namespace })
    const gone = await failure(h.core.readNamespacedConfigMap({ name: "one", namespace }))
    expect(gone.code).toBe(404)
    expect(gone.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "configmaps \"one\" not found",
      reason: "NotFound",
      details: { name: "one", kind: "configmaps" },
      code: 404
    })
  })

  it("refuses a stale update with 409 Conflict and a duplicate create with 409 AlreadyExists", async () => {
    const namespace = await ns("conflict")
    const first = await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "c" }, data: { a: "1" } } })
    await h.core.replaceNamespacedConfigMap({ name: "c", namespace, body: { ...first, data: { a: "2" } } })
    const stale = await failure(h.core.replaceNamespacedConfigMap({ name: "c", namespace, body: { ...first, data: { a: "3" } } }))
    expect(stale.code).toBe(409)
    expect(stale.body["reason"]).toBe("Conflict")
    expect(stale.body["message"]).toBe("Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again")
    const duplicate = await failure(h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "c" } } }))
    expect(duplicate.code).toBe(409)
    expect(duplicate.body["reason"]).toBe("AlreadyExists")
  })

  it("names objects from generateName and refuses content in a missing namespace", async () => {
    const namespace = await ns("gen")
    const made = await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { generateName: "run-" } } })
    expect(made.metadata?.name).toMatch(/^run-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
    const missing = await failure(h.core.createNamespacedConfigMap({ namespace: "nope", body: { metadata: { name: "x" } } }))
    expect(missing.code).toBe(404)
    expect(missing.body["message"]).toBe("namespaces \"nope\" not found")
  })

  it("filters by label and field selectors", async () => {
    const namespace = await ns("select")
    for (const [name, tier] of [["a", "gpu"], ["b", "cpu"], ["c", "gpu"]] as const) {
      await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name, labels: { tier } } } })
    }
    const gpu = await h.core.listNamespacedConfigMap({ namespace, labelSelector: "tier=gpu" })
    expect(gpu.items.map((item) => item.metadata?.name)).toEqual(["a", "c"])
    const notGpu = await h.core.listNamespacedConfigMap({ namespace, labelSelector: "tier notin (gpu)" })
    expect(notGpu.items.map((item) => item.metadata?.name)).toEqual(["b"])
    const byName = await h.core.listNamespacedConfigMap({ namespace, fieldSelector: "metadata.name=b" })
    expect(byName.items.map((item) => item.metadata?.name)).toEqual(["b"])
    const bad = await failure(h.core.listNamespacedConfigMap({ namespace, fieldSelector: "data.k=v" }))
    expect(bad.code).toBe(400)
  })

  it("patches with merge and JSON patch", async () => {
    const namespace = await ns("patch")
    await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "p" }, data: { a: "1", b: "2" } } })
    const merged = await h.core.patchNamespacedConfigMap(
      { name: "p", namespace, body: { data: { a: "9", b: null } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)
    )
    expect(merged.data).toEqual({ a: "9" })
    const patched = await h.core.patchNamespacedConfigMap(
      { name: "p", namespace, body: [{ op: "add", path: "/data/c", value: "3" }] },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch)
    )
    expect(patched.data).toEqual({ a: "9", c: "3" })
  })

  it("pages through a list with limit and continue", async () => {
    const namespace = await ns("pages")
    for (let i = 0; i < 25; i++) await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `cm-${String(i).padStart(2, "0")}` } } })
    const names: Array<string> = []
    let token: string | undefined
    let pages = 0
    do {
      const page = await h.core.listNamespacedConfigMap({ namespace, limit: 10, ...(token === undefined ? {} : { _continue: token }) })
      names.push(...page.items.map((item) => item.metadata!.name!))
      token = page.metadata?._continue || undefined
      pages++
      if (token !== undefined) expect(page.metadata?.remainingItemCount).toBe(25 - names.length)
    } while (token !== undefined)
    expect(pages).toBe(3)
    expect(names).toEqual(Array.from({ length: 25 }, (_, i) => `cm-${String(i).padStart(2, "0")}`))
  })

  it("serves a dry run without storing it", async () => {
    const namespace = await ns("dry")
    const made = await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "d" } }, dryRun: "All" })
    expect(made.metadata?.name).toBe("d")
    expect((await failure(h.core.readNamespacedConfigMap({ name: "d", namespace }))).code).toBe(404)
  })
})

describe("watch through client-node", () => {
  const watchEvents = async (path: string, params: Record<string, string | boolean>, until: (events: Array<[string, any]>) => boolean) => {
    const events: Array<[string, any]> = []
    let done: (error: unknown) => void = () => {}
    const finished = new Promise<unknown>((resolve) => (done = resolve))
    const controller = await new k8s.Watch(h.kc).watch(path, params, (type, object) => events.push([type, object]), (error) => done(error))
    await eventually(() => (until(events) ? true : undefined))
    controller.abort()
    await finished
    return events
  }

  it("streams ADDED, MODIFIED, DELETED from a resourceVersion, with bookmarks", async () => {
    const namespace = await ns("watch")
    const list = await h.core.listNamespacedConfigMap({ namespace })
    const path = `/api/v1/namespaces/${namespace}/configmaps`
    const events = watchEvents(path, { resourceVersion: list.metadata!.resourceVersion!, allowWatchBookmarks: true }, (all) =>
      all.some(([type]) => type === "DELETED") && all.some(([type]) => type === "BOOKMARK"))
    await new Promise((resolve) => setTimeout(resolve, 20))
    await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "w" } } })
    await h.core.patchNamespacedConfigMap({ name: "w", namespace, body: { data: { x: "1" } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch))
    await h.core.deleteNamespacedConfigMap({ name: "w", namespace })
    const seen = (await events).filter(([type]) => type !== "BOOKMARK").map(([type, object]) => `${type} ${object.metadata.name}`)
    expect(seen).toEqual(["ADDED w", "MODIFIED w", "DELETED w"])
  })

  it("resumes from the last seen resourceVersion after a dropped stream without missing an event", async () => {
    const namespace = await ns("resume")
    const path = `/api/v1/namespaces/${namespace}/configmaps`
    const start = (await h.core.listNamespacedConfigMap({ namespace })).metadata!.resourceVersion!
    h.sim.faults.setWatchFault({ resource: "configmaps", dropAfterEvents: 2 })
    for (let i = 0; i < 5; i++) await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `r${i}` } } })
    const names: Array<string> = []
    let rv = start
    let streams = 0
    while (names.length < 5 && streams < 10) {
      streams++
      let controller: AbortController | undefined
      await new Promise<void>((resolve) => {
        void new k8s.Watch(h.kc).watch(path, { resourceVersion: rv }, (type, object) => {
          if (type === "ADDED") {
            names.push(object.metadata.name)
            rv = object.metadata.resourceVersion
          }
          if (names.length === 5) controller?.abort()
        }, () => resolve()).then((started) => {
          controller = started
          if (names.length === 5) started.abort()
        })
      })
    }
    h.sim.faults.setWatchFault(undefined)
    expect(names).toEqual(["r0", "r1", "r2", "r3", "r4"])
    expect(streams).toBe(3)
  })

  it("answers a watch from a compacted resourceVersion with 410 Expired", async () => {
    const namespace = await ns("expired")
    const old = (await h.core.listNamespacedConfigMap({ namespace })).metadata!.resourceVersion!
    await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "e" } } })
    h.sim.cluster.store.compactTo(h.sim.cluster.store.resourceVersion)
    const events = await watchEvents(`/api/v1/namespaces/${namespace}/configmaps`, { resourceVersion: old }, (all) => all.length > 0)
    expect(events[0]![0]).toBe("ERROR")
    expect(events[0]![1]).toMatchObject({ kind: "Status", code: 410, reason: "Expired" })
    expect(events[0]![1].message).toMatch(/^too old resource version: \d+ \(\d+\)$/)
  })

  it("keeps an informer's cache in step", async () => {
    const namespace = await ns("informer")
    const informer = k8s.makeInformer(h.kc, `/api/v1/namespaces/${namespace}/configmaps`, () => h.core.listNamespacedConfigMap({ namespace }))
    await informer.start()
    await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "i1" } } })
    await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "i2" } } })
    await h.core.deleteNamespacedConfigMap({ name: "i1", namespace })
    const names = await eventually(() => {
      const cached = informer.list(namespace).map((object) => object.metadata?.name).sort()
      return cached.length === 1 && cached[0] === "i2" ? cached : undefined
    })
    await informer.stop()
    expect(names).toEqual(["i2"])
  })
})

describe("KubernetesObjectApi and custom resources", () => {
  it("installs a CRD whose kind appears in discovery, and serves its custom resources", async () => {
    const namespace = await ns("crd")
    await h.objects.create({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList", shortNames: ["wd"] },
        versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", x_kubernetes_preserve_unknown_fields: true } }, subresources: { status: {} } }]
      }
    } as k8s.KubernetesObject)
    await eventually(async () => {
      const crd = await h.objects.read({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "widgets.example.com" } }) as any
      return crd.status?.conditions?.some((condition: any) => condition.type === "Established" && condition.status === "True") ? true : undefined
    })
    const made = await h.objects.create({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w1", namespace }, spec: { size: 3 } } as k8s.KubernetesObject) as any
    expect(made.spec).toEqual({ size: 3 })
    const read = await h.objects.read({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w1", namespace } }) as any
    expect(read.metadata.uid).toBe(made.metadata.uid)
    const list = await h.objects.list("example.com/v1", "Widget", namespace)
    expect(list.items.map((item) => item.metadata?.name)).toEqual(["w1"])
    await h.objects.delete({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "widgets.example.com" } } as k8s.KubernetesObject)
    await eventually(async () => {
      const response = await fetch(`${h.sim.url}/apis/example.com/v1`, { headers: { authorization: `Bearer ${h.sim.adminToken}` } })
      return response.status === 404 ? true : undefined
    })
  })
})

describe("lifecycle", () => {
  it("keeps a namespace Terminating while a finalizer holds an object, then removes it", async () => {
    const namespace = await ns("terminating")
    await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "held", finalizers: ["example.com/hold"] } } })
    await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "free" } } })
    await h.core.deleteNamespace({ name: namespace })
    const terminating = await eventually(async () => {
      const read = await h.core.readNamespace({ name: namespace })
      const left = await h.core.listNamespacedConfigMap({ namespace })
      return read.status?.phase === "Terminating" && left.items.length === 1 ? read : undefined
    })
    expect(terminating.metadata?.deletionTimestamp).toBeDefined()
    const refused = await failure(h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "late" } } }))
    expect(refused.code).toBe(403)
    expect(refused.body["message"]).toBe(`configmaps "late" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`)
    const held = await h.core.readNamespacedConfigMap({ name: "held", namespace })
    expect(held.metadata?.deletionTimestamp).toBeDefined()
    await h.core.patchNamespacedConfigMap({ name: "held", namespace, body: { metadata: { finalizers: null } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch))
    await eventually(async () => ((await failure(h.core.readNamespace({ name: namespace }))).code === 404 ? true : undefined))
  })

  it("deletes dependents before the owner in a foreground delete", async () => {
    const namespace = await ns("foreground")
    const owner = await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "owner" } } })
    const ref = { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata!.uid!, blockOwnerDeletion: true }
    await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "dep", ownerReferences: [ref], finalizers: ["example.com/slow"] } } })
    await h.core.deleteNamespacedConfigMap({ name: "owner", namespace, propagationPolicy: "Foreground" })
    const waiting = await eventually(async () => {
      const read = await h.core.readNamespacedConfigMap({ name: "owner", namespace })
      const dep = await h.core.readNamespacedConfigMap({ name: "dep", namespace })
      return dep.metadata?.deletionTimestamp !== undefined ? read : undefined
    })
    expect(waiting.metadata?.finalizers).toEqual(["foregroundDeletion"])
    await h.core.patchNamespacedConfigMap({ name: "dep", namespace, body: { metadata: { finalizers: null } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch))
    await eventually(async () => ((await failure(h.core.readNamespacedConfigMap({ name: "owner", namespace }))).code === 404 ? true : undefined))
  })

  it("collects dependents in the background and orphans them on request", async () => {
    const namespace = await ns("gc")
    const owner = await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "o1" } } })
    await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "d1", ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "o1", uid: owner.metadata!.uid! }] } } })
    await h.core.deleteNamespacedConfigMap({ name: "o1", namespace })
    await eventually(async () => ((await failure(h.core.readNamespacedConfigMap({ name: "d1", namespace }))).code === 404 ? true : undefined))
    const owner2 = await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "o2" } } })
    await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "d2", ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "o2", uid: owner2.metadata!.uid! }] } } })
    await h.core.deleteNamespacedConfigMap({ name: "o2", namespace, propagationPolicy: "Orphan" })
    await eventually(async () => ((await failure(h.core.readNamespacedConfigMap({ name: "o2", namespace }))).code === 404 ? true : undefined))
    const orphan = await h.core.readNamespacedConfigMap({ name: "d2", namespace })
    expect(orphan.metadata?.ownerReferences).toBeUndefined()
  })

  it("orphans a Job's pods by default (batch/v1's legacy policy), whatever order the collector meets them in", async () => {
    const namespace = await ns("gcjob")
    const job = await h.batch.createNamespacedJob({
      namespace,
      body: { metadata: { name: "j" }, spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox:1.37" }] } } } }
    })
    await h.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "j-abcde", ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "j", uid: job.metadata!.uid!, controller: true, blockOwnerDeletion: true }] },
        spec: { containers: [{ name: "main", image: "busybox:1.37" }] }
      }
    })
    await h.batch.deleteNamespacedJob({ name: "j", namespace })
    await eventually(async () => ((await failure(h.batch.readNamespacedJob({ name: "j", namespace }))).code === 404 ? true : undefined))
    const pod = await h.core.readNamespacedPod({ name: "j-abcde", namespace })
    expect(pod.metadata?.ownerReferences).toBeUndefined()
  })
})

describe("pod logs and the service proxy", () => {
  it("reads and follows a container's log with tailLines", async () => {
    const namespace = await ns("logs")
    await h.core.createNamespacedPod({ namespace, body: { metadata: { name: "p" }, spec: { containers: [{ name: "main", image: "busybox:1.37" }] } } })
    h.sim.logs.append(namespace, "p", "main", "one\ntwo\nthree\n")
    expect(await h.core.readNamespacedPodLog({ name: "p", namespace, tailLines: 2 })).toBe("two\nthree\n")
    const out = new PassThrough()
    let text = ""
    out.on("data", (chunk: Buffer) => (text += chunk.toString()))
    const ended = new Promise<void>((resolve) => out.on("end", () => resolve()))
    await new k8s.Log(h.kc).log(namespace, "p", "main", out, { follow: true })
    h.sim.logs.append(namespace, "p", "main", "four\n")
    h.sim.logs.end(namespace, "p", "main")
    await ended
    expect(text).toBe("one\ntwo\nthree\nfour\n")
  })

  it("forwards service proxy calls to the registered handler", async () => {
    const namespace = await ns("proxy")
    await h.core.createNamespacedService({ namespace, body: { metadata: { name: "frontend" }, spec: { ports: [{ port: 8000 }] } } })
    const unavailable = await failure(h.core.connectGetNamespacedServiceProxyWithPath({ name: "frontend:8000", namespace, path: "v1/models" }))
    expect(unavailable.code).toBe(503)
    h.sim.registerProxy(namespace, "frontend", 8000, (_request, response, path) => {
      response.writeHead(200, { "Content-Type": "application/json" })
      response.end(JSON.stringify({ path }))
    })
    const answer = await h.core.connectGetNamespacedServiceProxyWithPath({ name: "frontend:8000", namespace, path: "v1/models" })
    expect(typeof answer === "string" ? JSON.parse(answer) : answer).toEqual({ path: "/v1/models" })
  })
})

describe("consistent pages under concurrent writes", () => {
  it("returns each of 10,000 objects exactly once in pages of 500 while another client writes", async () => {
    const namespace = await ns("bulk")
    const type = h.sim.cluster.registry.find("", "v1", "configmaps")!
    for (let i = 0; i < 10_000; i++) h.sim.cluster.create(type, namespace, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `obj-${String(i).padStart(5, "0")}` } })
    let writing = true
    let writes = 0
    const writer = (async () => {
      while (writing) {
        const i = writes++
        await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `new-${String(i).padStart(5, "0")}` } } })
        await h.core.deleteNamespacedConfigMap({ name: `obj-${String(i * 7 % 10_000).padStart(5, "0")}`, namespace }).catch(() => undefined)
      }
    })()
    const seen = new Map<string, number>()
    let token: string | undefined
    let pages = 0
    do {
      const page = await h.core.listNamespacedConfigMap({ namespace, limit: 500, ...(token === undefined ? {} : { _continue: token }) })
      for (const item of page.items) seen.set(item.metadata!.name!, (seen.get(item.metadata!.name!) ?? 0) + 1)
      token = page.metadata?._continue || undefined
      pages++
      await new Promise((resolve) => setTimeout(resolve, 5))
    } while (token !== undefined)
    writing = false
    await writer
    expect(writes).toBeGreaterThan(10)
    expect(pages).toBe(20)
    expect(seen.size).toBe(10_000)
    expect([...seen.values()].every((count) => count === 1)).toBe(true)
    expect([...seen.keys()].every((name) => name.startsWith("obj-"))).toBe(true)
  }, 60_000)
})
