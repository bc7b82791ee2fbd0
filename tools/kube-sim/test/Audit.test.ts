import { describe, expect, it } from "vitest"
import { Audit, type AuditRecord } from "../src/audit.ts"

const record = (overrides: Partial<AuditRecord>): AuditRecord => ({
  time: "2025-01-01T00:00:00.000Z",
  user: "admin",
  verb: "get",
  resource: "pods",
  group: "",
  code: 200,
  method: "GET",
  path: "/api/v1/namespaces/default/pods/p",
  namespace: "default",
  name: "p",
  ...overrides
})

describe("Audit", () => {
  it("keeps records in order, as copies", () => {
    const audit = new Audit()
    const first = record({})
    audit.record(first)
    audit.record(record({ verb: "list", name: undefined, path: "/api/v1/namespaces/default/pods" }))
    first.verb = "delete"
    expect(audit.all().map((r) => r.verb)).toEqual(["get", "list"])
  })

  it("filters on every given field", () => {
    const audit = new Audit()
    audit.record(record({ verb: "get" }))
    audit.record(record({ verb: "patch", method: "PATCH", code: 422 }))
    audit.record(record({ verb: "get", subresource: "log", path: "/api/v1/namespaces/default/pods/p/log" }))
    audit.record(record({ verb: "list", resource: "jobs", group: "batch", namespace: "ci", name: undefined }))
    audit.record(record({ verb: "get", resource: "", group: "", namespace: undefined, name: undefined, path: "/apis" }))
    expect(audit.filter({ verb: "get" }).map((r) => r.path)).toEqual([
      "/api/v1/namespaces/default/pods/p",
      "/api/v1/namespaces/default/pods/p/log",
      "/apis"
    ])
    expect(audit.filter({ verb: "get", subresource: "log" })).toHaveLength(1)
    expect(audit.filter({ group: "batch", namespace: "ci" }).map((r) => r.resource)).toEqual(["jobs"])
    expect(audit.filter({ code: 422 }).map((r) => r.verb)).toEqual(["patch"])
    expect(audit.filter({ resource: "" }).map((r) => r.path)).toEqual(["/apis"])
    expect(audit.filter({})).toHaveLength(5)
    expect(audit.filter({ verb: "watch" })).toEqual([])
  })

  it("clears", () => {
    const audit = new Audit()
    audit.record(record({}))
    audit.clear()
    expect(audit.all()).toEqual([])
  })

  it("keeps only the most recent records past its limit", () => {
    const audit = new Audit(3)
    for (const name of ["a", "b", "c", "d", "e"]) audit.record(record({ name }))
    expect(audit.all().map((r) => r.name)).toEqual(["c", "d", "e"])
  })

  it("waitFor answers with a record already logged", async () => {
    const audit = new Audit()
    audit.record(record({ verb: "watch" }))
    await expect(audit.waitFor((r) => r.verb === "watch", 10)).resolves.toMatchObject({ verb: "watch" })
  })

  it("waitFor answers with the next matching record", async () => {
    const audit = new Audit()
    const waiting = audit.waitFor((r) => r.verb === "delete" && r.code === 200, 1_000)
    audit.record(record({ verb: "delete", code: 404 }))
    setTimeout(() => audit.record(record({ verb: "delete", code: 200, name: "gone" })), 5)
    await expect(waiting).resolves.toMatchObject({ verb: "delete", code: 200, name: "gone" })
  })

  it("waitFor rejects after its timeout and stops listening", async () => {
    const audit = new Audit()
    await expect(audit.waitFor((r) => r.verb === "deletecollection", 20)).rejects.toThrow("no audit record matched within 20ms")
    const seen: Array<string> = []
    audit.onRecord((r) => seen.push(r.verb))
    audit.record(record({ verb: "deletecollection" }))
    expect(seen).toEqual(["deletecollection"])
  })

  it("onRecord unsubscribes", () => {
    const audit = new Audit()
    const seen: Array<string> = []
    const stop = audit.onRecord((r) => seen.push(r.verb))
    audit.record(record({ verb: "create" }))
    stop()
    audit.record(record({ verb: "update" }))
    expect(seen).toEqual(["create"])
  })
})
