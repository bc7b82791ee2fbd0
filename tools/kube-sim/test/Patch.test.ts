import { describe, expect, it } from "vitest"
import * as Patch from "../src/patch.ts"
import { BUILTIN } from "../src/resources.ts"
import { statusErrorOf } from "./support/status.ts"

const failure = statusErrorOf

const REJECTED = {
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message: "the server rejected our request due to an error in our request",
  reason: "Invalid",
  details: {},
  code: 422
}

describe("applyJsonPatch", () => {
  it.each([
    ["A.1 add an object member", { foo: "bar" }, [{ op: "add", path: "/baz", value: "qux" }], { foo: "bar", baz: "qux" }],
    ["A.2 add an array element", { foo: ["bar", "baz"] }, [{ op: "add", path: "/foo/1", value: "qux" }], { foo: ["bar", "qux", "baz"] }],
    ["A.3 remove an object member", { baz: "qux", foo: "bar" }, [{ op: "remove", path: "/baz" }], { foo: "bar" }],
    ["A.4 remove an array element", { foo: ["bar", "qux", "baz"] }, [{ op: "remove", path: "/foo/1" }], { foo: ["bar", "baz"] }],
    ["A.5 replace a value", { baz: "qux", foo: "bar" }, [{ op: "replace", path: "/baz", value: "boo" }], { baz: "boo", foo: "bar" }],
    [
      "A.6 move a value",
      { foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } },
      [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }],
      { foo: { bar: "baz" }, qux: { corge: "grault", thud: "fred" } }
    ],
    ["A.7 move an array element", { foo: ["all", "grass", "cows", "eat"] }, [{ op: "move", from: "/foo/1", path: "/foo/3" }], { foo: ["all", "cows", "eat", "grass"] }],
    [
      "A.8 test a value",
      { baz: "qux", foo: ["a", 2, "c"] },
      [{ op: "test", path: "/baz", value: "qux" }, { op: "test", path: "/foo/1", value: 2 }],
      { baz: "qux", foo: ["a", 2, "c"] }
    ],
    ["A.10 add a nested member object", { foo: "bar" }, [{ op: "add", path: "/child", value: { grandchild: {} } }], { foo: "bar", child: { grandchild: {} } }],
    ["A.11 ignore unrecognized elements", { foo: "bar" }, [{ op: "add", path: "/baz", value: "qux", xyz: 123 }], { foo: "bar", baz: "qux" }],
    ["A.14 ~ escape ordering", { "/": 9, "~1": 10 }, [{ op: "test", path: "/~01", value: 10 }], { "/": 9, "~1": 10 }],
    ["A.16 add an array value", { foo: ["bar"] }, [{ op: "add", path: "/foo/-", value: ["abc", "def"] }], { foo: ["bar", ["abc", "def"]] }],
    [
      "copy a subtree",
      { metadata: { labels: { a: "1" } } },
      [{ op: "copy", from: "/metadata/labels", path: "/metadata/annotations" }],
      { metadata: { labels: { a: "1" }, annotations: { a: "1" } } }
    ],
    [
      "~1 in an annotation key",
      { metadata: { annotations: {} } },
      [{ op: "add", path: "/metadata/annotations/example.com~1owner", value: "me" }],
      { metadata: { annotations: { "example.com/owner": "me" } } }
    ],
    ["~0 in a key", { "a~b": 1 }, [{ op: "replace", path: "/a~0b", value: 2 }], { "a~b": 2 }],
    ["a negative index counts from the end", { foo: [1, 2, 3] }, [{ op: "remove", path: "/foo/-1" }], { foo: [1, 2] }],
    ["replace of a missing object key adds it", { spec: {} }, [{ op: "replace", path: "/spec/replicas", value: 3 }], { spec: { replicas: 3 } }],
    ["test of a missing key against null passes", { spec: {} }, [{ op: "test", path: "/spec/x", value: null }], { spec: {} }],
    ["add without a value sets null", { a: 1 }, [{ op: "add", path: "/b" }], { a: 1, b: null }],
    ["a null document is no patch", { a: 1 }, null, { a: 1 }],
    ["operations apply in order", { a: 1 }, [{ op: "add", path: "/b", value: 2 }, { op: "move", from: "/b", path: "/c" }, { op: "remove", path: "/a" }], { c: 2 }]
  ])("%s", (_name, target, operations, expected) => {
    expect(Patch.applyJsonPatch(target, operations)).toEqual(expected)
  })

  it("leaves the target unchanged", () => {
    const target = { metadata: { labels: { a: "1" } }, list: [1, 2] }
    Patch.applyJsonPatch(target, [{ op: "remove", path: "/metadata/labels/a" }, { op: "add", path: "/list/0", value: 0 }])
    expect(target).toEqual({ metadata: { labels: { a: "1" } }, list: [1, 2] })
  })

  it.each([
    ["A.9 a failing test", { baz: "qux" }, [{ op: "test", path: "/baz", value: "bar" }]],
    ["A.12 add to a nonexistent target", { foo: "bar" }, [{ op: "add", path: "/baz/bat", value: "qux" }]],
    ["A.15 a string is not a number", { "/": 9, "~1": 10 }, [{ op: "test", path: "/~01", value: "10" }]],
    ["test of a present key without a value", { a: 1 }, [{ op: "test", path: "/a" }]],
    ["remove of a missing key", { a: 1 }, [{ op: "remove", path: "/b" }]],
    ["remove past the end of an array", { a: [1] }, [{ op: "remove", path: "/a/1" }]],
    ["replace past the end of an array", { a: [1] }, [{ op: "replace", path: "/a/5", value: 2 }]],
    ["add past the end of an array", { a: [1] }, [{ op: "add", path: "/a/3", value: 2 }]],
    ["an array index that is not a number", { a: [1] }, [{ op: "add", path: "/a/x", value: 2 }]],
    ["move from a missing key", { a: 1 }, [{ op: "move", from: "/b", path: "/c" }]],
    ["an unknown op", { a: 1 }, [{ op: "merge", path: "/a", value: 2 }]],
    ["an operation without op", { a: 1 }, [{ path: "/a", value: 2 }]],
    ["an operation without path", { a: 1 }, [{ op: "add", value: 2 }]],
    ["a path that is not a string", { a: 1 }, [{ op: "add", path: 3, value: 2 }]],
    ["add at the document root", { a: 1 }, [{ op: "add", path: "", value: { b: 1 } }]],
    ["a null operation", { a: 1 }, [null]],
    ["a later failing operation undoes nothing but fails all", { a: 1 }, [{ op: "add", path: "/b", value: 1 }, { op: "test", path: "/b", value: 2 }]]
  ])("%s is 422 Invalid", (_name, target, operations) => {
    expect(failure(() => Patch.applyJsonPatch(target, operations)).body).toEqual(REJECTED)
  })

  it("replacing the whole object with an array fails the typed decode with 422", () => {
    const error = failure(() => Patch.applyJsonPatch({ a: 1 }, [{ op: "replace", path: "", value: [1] }]))
    expect([error.code, error.reason]).toEqual([422, "Invalid"])
    expect(error.message).toBe(` "" is invalid: patch: Invalid value: "[1]": json: cannot unmarshal array into Go value of type map[string]interface {}`)
  })

  it.each([
    [{ op: "add" }, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"],
    ["add", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"],
    [["add"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"],
    [[[{ op: "add" }]], "json: cannot unmarshal array into Go value of type jsonpatch.Operation"]
  ])("a malformed document %j is 400 BadRequest", (operations, message) => {
    const error = failure(() => Patch.applyJsonPatch({ a: 1 }, operations))
    expect(error.body).toEqual({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "BadRequest", code: 400 })
  })

  it("more than 10000 operations is 413", () => {
    const operations = Array.from({ length: 10_001 }, () => ({ op: "test", path: "/a", value: 1 }))
    const error = failure(() => Patch.applyJsonPatch({ a: 1 }, operations))
    expect([error.code, error.reason, error.message]).toEqual([
      413,
      "RequestEntityTooLarge",
      "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    ])
  })
})

describe("merge patch", () => {
  const RFC_7386_APPENDIX: ReadonlyArray<[unknown, unknown, unknown]> = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [["a", "b"], ["c", "d"], ["c", "d"]],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }]
  ]

  it.each(RFC_7386_APPENDIX)("mergePatch(%j, %j) = %j (RFC 7386 appendix A)", (target, patch, expected) => {
    expect(Patch.mergePatch(target, patch)).toEqual(expected)
  })

  it.each(RFC_7386_APPENDIX.filter(([target, patch]) => !Array.isArray(target) && patch !== null && typeof patch === "object" && !Array.isArray(patch)))(
    "applyMergePatch(%j, %j) = %j like the RFC for object patches of objects",
    (target, patch, expected) => {
      expect(Patch.applyMergePatch(target, patch)).toEqual(expected)
    }
  )

  it("merges labels, deletes with null and replaces lists", () => {
    const pod = { metadata: { name: "p", labels: { a: "1", b: "2" } }, spec: { containers: [{ name: "c", image: "x" }], tolerations: [{ key: "k" }] } }
    expect(Patch.applyMergePatch(pod, { metadata: { labels: { b: null, c: "3" } }, spec: { containers: [{ name: "d", image: "y" }] } })).toEqual({
      metadata: { name: "p", labels: { a: "1", c: "3" } },
      spec: { containers: [{ name: "d", image: "y" }], tolerations: [{ key: "k" }] }
    })
    expect(pod.metadata.labels).toEqual({ a: "1", b: "2" })
  })

  it("prunes nulls inside newly set arrays, as the server's library does", () => {
    expect(Patch.applyMergePatch({ spec: {} }, { spec: { list: [1, null, { a: null, b: 2 }] } })).toEqual({ spec: { list: [1, { b: 2 }] } })
    expect(Patch.mergePatch({ spec: {} }, { spec: { list: [1, null, { a: null, b: 2 }] } })).toEqual({ spec: { list: [1, null, { a: null, b: 2 }] } })
  })

  it.each([[null], ["bar"], [7], [true]])("a %j patch is 400 Invalid JSON Patch", (patch) => {
    const error = failure(() => Patch.applyMergePatch({ a: 1 }, patch))
    expect(error.body).toEqual({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Invalid JSON Patch", reason: "BadRequest", code: 400 })
  })

  it("an array patch replaces the object and fails the typed decode with 422", () => {
    const error = failure(() => Patch.applyMergePatch({ a: 1 }, ["c"]))
    expect([error.code, error.reason, error.details?.causes?.[0]?.field]).toEqual([422, "Invalid", "patch"])
  })
})

describe("applyStrategicMergePatch", () => {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "ns", labels: { app: "web", tier: "front" }, finalizers: ["a/one"] },
    spec: {
      containers: [
        { name: "main", image: "nginx:1", env: [{ name: "A", value: "1" }, { name: "B", value: "2" }], ports: [{ containerPort: 80, protocol: "TCP" }] },
        { name: "sidecar", image: "envoy:1", volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg" }] }
      ],
      volumes: [{ name: "cfg", configMap: { name: "cfg" } }, { name: "data", emptyDir: {} }],
      tolerations: [{ key: "a", operator: "Exists" }]
    }
  }
  const smp = (patch: unknown, kind = "Pod") => Patch.applyStrategicMergePatch(pod, patch, kind) as typeof pod

  it("adds a container, before the server's containers", () => {
    expect(smp({ spec: { containers: [{ name: "extra", image: "busybox" }] } }).spec.containers.map((c) => c.name)).toEqual(["extra", "main", "sidecar"])
  })

  it("changes one container's image and keeps the rest of it", () => {
    expect(smp({ spec: { containers: [{ name: "sidecar", image: "envoy:2" }] } }).spec.containers).toEqual([
      pod.spec.containers[0],
      { name: "sidecar", image: "envoy:2", volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg" }] }
    ])
  })

  it("deletes a container with $patch: delete", () => {
    expect(smp({ spec: { containers: [{ name: "main", $patch: "delete" }] } }).spec.containers).toEqual([pod.spec.containers[1]])
  })

  it("merges env by name: sets one, adds one, deletes one", () => {
    const patched = smp({ spec: { containers: [{ name: "main", env: [{ name: "A", value: "9" }, { name: "C", value: "3" }, { name: "B", $patch: "delete" }] }] } })
    expect(patched.spec.containers[0]?.env).toEqual([{ name: "A", value: "9" }, { name: "C", value: "3" }])
  })

  it("merges ports by containerPort and volumeMounts by mountPath", () => {
    const patched = smp({
      spec: {
        containers: [
          { name: "main", ports: [{ containerPort: 80, name: "http" }, { containerPort: 443 }] },
          { name: "sidecar", volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg", readOnly: true }] }
        ]
      }
    })
    expect(patched.spec.containers[0]?.ports).toEqual([{ containerPort: 80, protocol: "TCP", name: "http" }, { containerPort: 443 }])
    expect(patched.spec.containers[1]?.volumeMounts).toEqual([{ name: "cfg", mountPath: "/etc/cfg", readOnly: true }])
  })

  it("merges volumes by name, with $retainKeys clearing the other volume source", () => {
    const patched = smp({ spec: { volumes: [{ name: "data", $retainKeys: ["name", "hostPath"], hostPath: { path: "/d" } }, { name: "new", emptyDir: {} }] } })
    expect(patched.spec.volumes).toEqual([
      { name: "cfg", configMap: { name: "cfg" } },
      { name: "data", hostPath: { path: "/d" } },
      { name: "new", emptyDir: {} }
    ])
  })

  it("replaces lists without a merge key (tolerations)", () => {
    expect(smp({ spec: { tolerations: [{ key: "b", operator: "Exists" }] } }).spec.tolerations).toEqual([{ key: "b", operator: "Exists" }])
  })

  it("merges maps, deletes keys with null, ignores nulls for absent keys", () => {
    expect(smp({ metadata: { labels: { tier: null, version: "2" }, annotations: null } }).metadata).toEqual({
      name: "p",
      namespace: "ns",
      labels: { app: "web", version: "2" },
      finalizers: ["a/one"]
    })
  })

  it("merges finalizers as a set, and removes with $deleteFromPrimitiveList", () => {
    expect(smp({ metadata: { finalizers: ["a/one", "b/two"] } }).metadata.finalizers).toEqual(["a/one", "b/two"])
    expect(smp({ metadata: { finalizers: ["b/two"] } }).metadata.finalizers).toEqual(["b/two", "a/one"])
    expect(smp({ metadata: { "$deleteFromPrimitiveList/finalizers": ["a/one"] } }).metadata.finalizers).toEqual([])
  })

  it("replaces a whole list with a $patch: replace item", () => {
    expect(smp({ spec: { containers: [{ $patch: "replace" }, { name: "only", image: "x" }] } }).spec.containers).toEqual([{ name: "only", image: "x" }])
  })

  it("replaces or empties a map with $patch", () => {
    expect(smp({ metadata: { labels: { $patch: "replace", only: "this" } } }).metadata.labels).toEqual({ only: "this" })
    expect(smp({ metadata: { labels: { $patch: "delete" } } }).metadata.labels).toEqual({})
  })

  it("orders a list by $setElementOrder", () => {
    const patched = smp({ spec: { "$setElementOrder/containers": [{ name: "sidecar" }, { name: "main" }], containers: [{ name: "main", image: "nginx:2" }] } })
    expect(patched.spec.containers.map((c) => [c.name, c.image])).toEqual([["sidecar", "envoy:1"], ["main", "nginx:2"]])
  })

  it("merges the pod template of a job", () => {
    const job = { apiVersion: "batch/v1", kind: "Job", metadata: { name: "j" }, spec: { template: { spec: { containers: [{ name: "a", image: "1" }, { name: "b", image: "2" }] } } } }
    const patched = Patch.applyStrategicMergePatch(job, { spec: { template: { spec: { containers: [{ name: "b", image: "3" }] } } } }, "Job")
    expect(patched).toEqual({ ...job, spec: { template: { spec: { containers: [{ name: "a", image: "1" }, { name: "b", image: "3" }] } } } })
  })

  it("merges service ports by port and node conditions by type", () => {
    const service = { kind: "Service", spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443 }] } }
    expect(Patch.applyStrategicMergePatch(service, { spec: { ports: [{ port: 80, targetPort: 9090 }] } }, "Service")).toEqual({
      kind: "Service",
      spec: { ports: [{ port: 80, targetPort: 9090 }, { port: 443 }] }
    })
    const node = { kind: "Node", status: { conditions: [{ type: "Ready", status: "True" }, { type: "DiskPressure", status: "False" }] } }
    expect(Patch.applyStrategicMergePatch(node, { status: { conditions: [{ type: "Ready", status: "False" }] } }, "Node")).toEqual({
      kind: "Node",
      status: { conditions: [{ type: "Ready", status: "False" }, { type: "DiskPressure", status: "False" }] }
    })
  })

  it("replaces lists of kinds without list strategies", () => {
    const map = { kind: "ConfigMap", data: { a: "1" }, metadata: { ownerReferences: [{ uid: "u1", name: "a" }] } }
    expect(Patch.applyStrategicMergePatch(map, { data: { b: "2" }, metadata: { ownerReferences: [{ uid: "u2", name: "b" }] } }, "ConfigMap")).toEqual({
      kind: "ConfigMap",
      data: { a: "1", b: "2" },
      metadata: { ownerReferences: [{ uid: "u2", name: "b" }, { uid: "u1", name: "a" }] }
    })
  })

  it("leaves the target unchanged and treats a null patch as none", () => {
    const before = structuredClone(pod)
    smp({ spec: { containers: [{ name: "main", $patch: "delete" }] } })
    expect(pod).toEqual(before)
    expect(smp(null)).toEqual(before)
  })

  it.each([
    [["x"], 400, "BadRequest", "json: cannot unmarshal array into Go value of type map[string]interface {}"],
    ["x", 400, "BadRequest", "json: cannot unmarshal string into Go value of type map[string]interface {}"],
    [{ spec: { containers: [{ image: "x" }] } }, 500, "", "map: map[image:x] does not contain declared merge key: name"],
    [{ spec: { containers: [{ image: "x", $patch: "delete" }] } }, 500, "", "map: map[$patch:delete image:x] does not contain declared merge key: name"],
    [{ spec: { containers: [{ name: "main", $patch: "merge" }] } }, 500, "", "merging lists cannot yet be specified in the patch"],
    [{ metadata: { labels: { $patch: "bogus" } } }, 500, "", "unknown patch type: bogus in map: map[$patch:bogus]"],
    [{ spec: { volumes: [{ name: "data", $retainKeys: ["name"], hostPath: { path: "/d" } }] } }, 400, "BadRequest", "invalid patch format of retainKeys"],
    [
      { spec: { "$setElementOrder/containers": [{ name: "main" }], containers: [{ name: "sidecar", image: "x" }] } },
      400,
      "BadRequest",
      "invalid patch format of setElementOrder list"
    ]
  ])("%j is %i", (patch, code, reason, message) => {
    const error = failure(() => smp(patch))
    expect([error.code, error.reason, error.message]).toEqual([code, reason, message])
  })

  it("answers errors it does not classify with a 500 Status without reason", () => {
    const error = failure(() => smp({ spec: { containers: [{ image: "x" }] } }))
    expect(error.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "map: map[image:x] does not contain declared merge key: name",
      code: 500
    })
  })

  it("is refused for custom resources only", () => {
    const crd = { ...BUILTIN[0]!, group: "example.com", resource: "widgets", kind: "Widget", custom: true }
    expect(BUILTIN.map((type) => Patch.strategicPatchSupported(type))).toEqual(BUILTIN.map(() => true))
    expect(Patch.strategicPatchSupported(crd)).toBe(false)
  })
})
