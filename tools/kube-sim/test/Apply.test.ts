import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import { type Shape, builtinShape, defaultManager, schemaShape, serverSideApply, trackUpdate } from "../src/apply.ts"
import { FieldSet, pathString } from "../src/fieldset.ts"
import type { SchemaProps } from "../src/schema-types.ts"
import type { KubeObject } from "../src/types.ts"
import { statusErrorOf } from "./support/status.ts"

const T1 = "2025-06-01T10:00:00Z"
const T2 = "2025-06-01T11:00:00Z"
const T3 = "2025-06-01T12:00:00Z"
const T4 = "2025-06-01T13:00:00Z"

const CONFIG_MAP = builtinShape("", "ConfigMap")
const POD = builtinShape("", "Pod")
const DEPLOYMENT = builtinShape("apps", "Deployment")

const configMap = (data: Record<string, string>, metadata: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "settings", namespace: "default", ...metadata },
  data
})

/** What the server adds to a created object before it stores it. */
const stored = (object: KubeObject): KubeObject => ({
  ...object,
  metadata: { ...object.metadata, uid: "0d2c6a3e-1f2b-4c5d-8e9f-a0b1c2d3e4f5", resourceVersion: "17", creationTimestamp: T1 }
})

interface Apply {
  readonly live: KubeObject | undefined
  readonly config: KubeObject
  readonly manager: string
  readonly force?: boolean
  readonly now?: string
  readonly shape?: Shape
  readonly apiVersion?: string
  readonly subresource?: string
}

const apply = (request: Apply): KubeObject =>
  serverSideApply({
    live: request.live,
    config: request.config,
    manager: request.manager,
    force: request.force ?? false,
    shape: request.shape ?? CONFIG_MAP,
    apiVersion: request.apiVersion ?? "v1",
    now: request.now ?? T1,
    ...(request.subresource === undefined ? {} : { subresource: request.subresource })
  })

const managedFields = (object: KubeObject) => object.metadata.managedFields

/** `object` with `metadata.managedFields` set to anything a client may send. */
const withManagedFields = (object: KubeObject, managedFields: unknown): KubeObject => ({
  ...object,
  metadata: { ...object.metadata, managedFields } as KubeObject["metadata"]
})

const podOnNode = (): KubeObject => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "worker", namespace: "default" }, spec: { nodeName: "node-1" } })

describe("serverSideApply", () => {
  it("creates the object from the configuration and records one Apply entry", () => {
    const created = apply({ live: undefined, config: configMap({ a: "1", b: "2" }, { labels: { app: "web" } }), manager: "deployer" })

    expect(created).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "settings",
        namespace: "default",
        labels: { app: "web" },
        managedFields: [
          {
            manager: "deployer",
            operation: "Apply",
            apiVersion: "v1",
            time: T1,
            fieldsType: "FieldsV1",
            fieldsV1: { "f:data": { "f:a": {}, "f:b": {} }, "f:metadata": { "f:labels": { "f:app": {} } } }
          }
        ]
      },
      data: { a: "1", b: "2" }
    })
  })

  it("changes nothing when the same configuration is applied again", () => {
    const live = stored(apply({ live: undefined, config: configMap({ a: "1" }, { labels: { app: "web" } }), manager: "deployer" }))

    const again = apply({ live, config: configMap({ a: "1" }, { labels: { app: "web" } }), manager: "deployer", now: T2 })

    expect(again).toEqual(live)
  })

  it("does not mutate its inputs", () => {
    const live = stored(apply({ live: undefined, config: configMap({ a: "1" }), manager: "deployer" }))
    const config = configMap({ a: "1", b: "2" })
    const before = [structuredClone(live), structuredClone(config)]

    apply({ live, config, manager: "deployer", now: T2 })

    expect([live, config]).toEqual(before)
  })

  it("answers 409 when another applier owns a field with a different value", () => {
    const live = stored(apply({ live: undefined, config: configMap({ a: "1" }), manager: "A" }))

    const error = statusErrorOf(() => apply({ live, config: configMap({ a: "2" }), manager: "B", now: T2 }))

    expect(error.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'Apply failed with 1 conflict: conflict with "A": .data.a',
      reason: "Conflict",
      details: { causes: [{ reason: "FieldManagerConflict", message: 'conflict with "A"', field: ".data.a" }] },
      code: 409
    })
  })

  it("lists every conflict, grouped by manager, and names Update managers with their apiVersion", () => {
    const applied = stored(apply({ live: undefined, config: configMap({ a: "1", c: "3" }), manager: "A" }))
    const edited = trackUpdate({ old: applied, next: { ...applied, data: { a: "1", b: "2", c: "3" } }, manager: "kubectl-edit", shape: CONFIG_MAP, apiVersion: "v1", now: T2 })

    const error = statusErrorOf(() => apply({ live: edited, config: configMap({ a: "9", b: "9", c: "9" }), manager: "B", now: T3 }))

    expect(error.code).toBe(409)
    expect(error.message).toBe(
      'Apply failed with 3 conflicts: conflicts with "A":\n- .data.a\n- .data.c\nconflicts with "kubectl-edit" using v1:\n- .data.b'
    )
    expect(error.details).toEqual({
      causes: [
        { reason: "FieldManagerConflict", message: 'conflict with "A"', field: ".data.a" },
        { reason: "FieldManagerConflict", message: 'conflict with "A"', field: ".data.c" },
        { reason: "FieldManagerConflict", message: 'conflict with "kubectl-edit" using v1', field: ".data.b" }
      ]
    })
  })

  it("with force moves the field to the applier and takes it from the other manager", () => {
    const live = stored(apply({ live: undefined, config: configMap({ a: "1", b: "2" }), manager: "A" }))

    const forced = apply({ live, config: configMap({ a: "2" }), manager: "B", force: true, now: T2 })

    expect(forced.data).toEqual({ a: "2", b: "2" })
    expect(managedFields(forced)).toEqual([
      { manager: "A", operation: "Apply", apiVersion: "v1", time: T1, fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:b": {} } } },
      { manager: "B", operation: "Apply", apiVersion: "v1", time: T2, fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:a": {} } } }
    ])
  })

  it("shares a field applied with the same value, without a conflict", () => {
    const live = stored(apply({ live: undefined, config: configMap({ a: "1" }), manager: "A" }))

    const shared = apply({ live, config: configMap({ a: "1" }), manager: "B", now: T2 })

    expect(shared.data).toEqual({ a: "1" })
    // The object did not change, so the new entry gets no time (managedFieldsUpdater only stamps changes); it sorts first.
    expect(managedFields(shared)).toEqual([
      { manager: "B", operation: "Apply", apiVersion: "v1", fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:a": {} } } },
      { manager: "A", operation: "Apply", apiVersion: "v1", time: T1, fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:a": {} } } }
    ])
  })

  it("removes a field the manager no longer applies", () => {
    const live = stored(apply({ live: undefined, config: configMap({ a: "1", b: "2" }, { labels: { app: "web", tier: "front" } }), manager: "A" }))

    const next = apply({ live, config: configMap({ a: "1" }, { labels: { app: "web" } }), manager: "A", now: T2 })

    expect(next.data).toEqual({ a: "1" })
    expect(next.metadata.labels).toEqual({ app: "web" })
    expect(managedFields(next)).toEqual([
      {
        manager: "A",
        operation: "Apply",
        apiVersion: "v1",
        time: T2,
        fieldsType: "FieldsV1",
        fieldsV1: { "f:data": { "f:a": {} }, "f:metadata": { "f:labels": { "f:app": {} } } }
      }
    ])
  })

  it("keeps a dropped field another manager also owns and only drops the ownership", () => {
    const first = stored(apply({ live: undefined, config: configMap({ a: "1", b: "2" }), manager: "A" }))
    const shared = apply({ live: first, config: configMap({ b: "2" }), manager: "B", now: T2 })

    const next = apply({ live: shared, config: configMap({ a: "1" }), manager: "A", now: T3 })

    expect(next.data).toEqual({ a: "1", b: "2" })
    expect(managedFields(next)).toEqual([
      { manager: "B", operation: "Apply", apiVersion: "v1", fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:b": {} } } },
      { manager: "A", operation: "Apply", apiVersion: "v1", time: T1, fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:a": {} } } }
    ])
  })

  it("drops a map the last applied key leaves empty from a typed kind", () => {
    const live = stored(apply({ live: undefined, config: configMap({ a: "1" }), manager: "A" }))

    const next = apply({ live, config: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "default" } }, manager: "A", now: T2 })

    const { managedFields: _dropped, ...metadata } = live.metadata
    expect(next).toStrictEqual({ apiVersion: "v1", kind: "ConfigMap", metadata })
  })

  it("conflicts with the Update manager that last changed the field", () => {
    const deployment = (replicas: number): KubeObject => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: {
        replicas,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1.27" }] } }
      }
    })
    const created = stored(trackUpdate({ old: undefined, next: deployment(1), manager: "kubectl-client-side-apply", shape: DEPLOYMENT, apiVersion: "apps/v1", now: T1 }))
    const scaled = trackUpdate({ old: created, next: { ...created, spec: { ...(created["spec"] as object), replicas: 3 } }, manager: "kubectl-client-side-apply", shape: DEPLOYMENT, apiVersion: "apps/v1", now: T2 })

    const error = statusErrorOf(() => apply({ live: scaled, config: deployment(5), manager: "ci", shape: DEPLOYMENT, apiVersion: "apps/v1", now: T3 }))

    expect(error.message).toBe('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas')
    expect(error.details).toEqual({
      causes: [{ reason: "FieldManagerConflict", message: 'conflict with "kubectl-client-side-apply" using apps/v1', field: ".spec.replicas" }]
    })
  })

  describe("lists", () => {
    const pod = (spec: Record<string, unknown> | undefined, metadata: Record<string, unknown> = {}): KubeObject => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "worker", namespace: "default", ...metadata },
      ...(spec === undefined ? {} : { spec })
    })

    it("merges containers by name, each manager owning its own container", () => {
      const first = stored(apply({ live: undefined, config: pod({ containers: [{ name: "app", image: "app:1", args: ["--port", "80"] }] }), manager: "A", shape: POD }))

      const both = apply({ live: first, config: pod({ containers: [{ name: "sidecar", image: "proxy:2" }] }), manager: "B", shape: POD, now: T2 })

      expect(both["spec"]).toEqual({
        containers: [
          { name: "app", image: "app:1", args: ["--port", "80"] },
          { name: "sidecar", image: "proxy:2" }
        ]
      })
      expect(managedFields(both)).toEqual([
        {
          manager: "A",
          operation: "Apply",
          apiVersion: "v1",
          time: T1,
          fieldsType: "FieldsV1",
          fieldsV1: { "f:spec": { "f:containers": { 'k:{"name":"app"}': { ".": {}, "f:args": {}, "f:image": {}, "f:name": {} } } } }
        },
        {
          manager: "B",
          operation: "Apply",
          apiVersion: "v1",
          time: T2,
          fieldsType: "FieldsV1",
          fieldsV1: { "f:spec": { "f:containers": { 'k:{"name":"sidecar"}': { ".": {}, "f:image": {}, "f:name": {} } } } }
        }
      ])
    })

    it("puts an applied item new to the list before the next live item the configuration shares", () => {
      const live = stored(apply({ live: undefined, config: pod({ containers: [{ name: "a" }, { name: "b" }, { name: "c" }] }), manager: "A", shape: POD }))

      const next = apply({ live, config: pod({ containers: [{ name: "x" }, { name: "c" }] }), manager: "B", shape: POD, now: T2 })

      expect(next["spec"]).toEqual({ containers: [{ name: "a" }, { name: "b" }, { name: "x" }, { name: "c" }] })
    })

    it("keys ports by containerPort and protocol, defaulting the protocol to TCP", () => {
      const created = apply({
        live: undefined,
        config: pod({ containers: [{ name: "app", ports: [{ containerPort: 8080 }, { containerPort: 53, protocol: "UDP" }] }] }),
        manager: "A",
        shape: POD
      })

      expect(managedFields(created)?.[0]?.fieldsV1).toEqual({
        "f:spec": {
          "f:containers": {
            'k:{"name":"app"}': {
              ".": {},
              "f:name": {},
              "f:ports": {
                'k:{"containerPort":53,"protocol":"UDP"}': { ".": {}, "f:containerPort": {}, "f:protocol": {} },
                'k:{"containerPort":8080,"protocol":"TCP"}': { ".": {}, "f:containerPort": {} }
              }
            }
          }
        }
      })
    })

    it("merges finalizers as a set", () => {
      const first = stored(apply({ live: undefined, config: pod(undefined, { finalizers: ["example.com/a"] }), manager: "A", shape: POD }))

      const both = apply({ live: first, config: pod(undefined, { finalizers: ["example.com/b"] }), manager: "B", shape: POD, now: T2 })

      expect(both.metadata.finalizers).toEqual(["example.com/a", "example.com/b"])
      expect(managedFields(both)?.map((entry) => entry["fieldsV1"])).toEqual([
        { "f:metadata": { "f:finalizers": { 'v:"example.com/a"': {} } } },
        { "f:metadata": { "f:finalizers": { 'v:"example.com/b"': {} } } }
      ])
    })

    it("removes a finalizer its only applier drops", () => {
      const first = stored(apply({ live: undefined, config: pod(undefined, { finalizers: ["example.com/a", "example.com/b"] }), manager: "A", shape: POD }))

      const next = apply({ live: first, config: pod(undefined, { finalizers: ["example.com/b"] }), manager: "A", shape: POD, now: T2 })

      expect(next.metadata.finalizers).toEqual(["example.com/b"])
    })

    it("replaces container args whole, as an atomic list", () => {
      const first = stored(apply({ live: undefined, config: pod({ containers: [{ name: "app", image: "app:1", args: ["--a", "--b"] }] }), manager: "A", shape: POD }))

      const conflict = statusErrorOf(() => apply({ live: first, config: pod({ containers: [{ name: "app", args: ["--c"] }] }), manager: "B", shape: POD, now: T2 }))
      expect(conflict.message).toBe('Apply failed with 1 conflict: conflict with "A": .spec.containers[name="app"].args')

      const forced = apply({ live: first, config: pod({ containers: [{ name: "app", args: ["--c"] }] }), manager: "B", force: true, shape: POD, now: T2 })
      expect(forced["spec"]).toEqual({ containers: [{ name: "app", image: "app:1", args: ["--c"] }] })
      expect(managedFields(forced)?.map((entry) => [entry["manager"], entry["fieldsV1"]])).toEqual([
        ["A", { "f:spec": { "f:containers": { 'k:{"name":"app"}': { ".": {}, "f:image": {}, "f:name": {} } } } }],
        ["B", { "f:spec": { "f:containers": { 'k:{"name":"app"}': { ".": {}, "f:args": {}, "f:name": {} } } } }]
      ])
    })

    it("removes a container its only applier drops, with everything in it", () => {
      const first = stored(apply({ live: undefined, config: pod({ containers: [{ name: "a", image: "a:1" }, { name: "b", image: "b:1" }] }), manager: "A", shape: POD }))

      const next = apply({ live: first, config: pod({ containers: [{ name: "a", image: "a:1" }] }), manager: "A", shape: POD, now: T2 })

      expect(next["spec"]).toEqual({ containers: [{ name: "a", image: "a:1" }] })
    })
  })

  it("leaves status out of a main-resource apply for a kind with a status subresource", () => {
    const config = { ...podOnNode(), status: { phase: "Running" } }

    const created = apply({ live: undefined, config, manager: "A", shape: POD })

    expect("status" in created).toBe(false)
    expect(managedFields(created)?.[0]?.fieldsV1).toEqual({ "f:spec": { "f:nodeName": {} } })
  })

  it("applies to the status subresource with a subresource entry", () => {
    const live = stored(apply({ live: undefined, config: podOnNode(), manager: "A", shape: POD }))

    const next = apply({
      live,
      config: { ...podOnNode(), spec: { nodeName: "elsewhere" }, status: { conditions: [{ type: "Ready", status: "True" }] } },
      manager: "kubelet",
      shape: POD,
      subresource: "status",
      now: T2
    })

    expect(next["spec"]).toEqual({ nodeName: "node-1" })
    expect(next["status"]).toEqual({ conditions: [{ type: "Ready", status: "True" }] })
    expect(managedFields(next)?.[1]).toEqual({
      manager: "kubelet",
      operation: "Apply",
      apiVersion: "v1",
      time: T2,
      fieldsType: "FieldsV1",
      fieldsV1: { "f:status": { "f:conditions": { 'k:{"type":"Ready"}': { ".": {}, "f:status": {}, "f:type": {} } } } },
      subresource: "status"
    })
  })

  it("gives the fields of an object without managed fields to before-first-apply first", () => {
    const untracked = stored(configMap({ a: "1", b: "2" }))

    const error = statusErrorOf(() => apply({ live: untracked, config: configMap({ a: "9" }), manager: "A", now: T2 }))
    expect(error.message).toBe('Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a')

    const next = apply({ live: untracked, config: configMap({ a: "1" }), manager: "A", now: T2 })
    expect(managedFields(next)).toEqual([
      { manager: "A", operation: "Apply", apiVersion: "v1", fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:a": {} } } },
      {
        manager: "before-first-apply",
        operation: "Update",
        apiVersion: "v1",
        time: T2,
        fieldsType: "FieldsV1",
        fieldsV1: { "f:data": { ".": {}, "f:a": {}, "f:b": {} } }
      }
    ])
  })

  it("lets kubectl take over fields it applied client-side, and keeps the last-applied annotation in sync", () => {
    const csa = configMap({ a: "1", b: "2" })
    const annotated = configMap({ a: "1", b: "2" }, { annotations: { "kubectl.kubernetes.io/last-applied-configuration": `${JSON.stringify(csa)}\n` } })
    const live = stored(trackUpdate({ old: undefined, next: annotated, manager: "kubectl-client-side-apply", shape: CONFIG_MAP, apiVersion: "v1", now: T1 }))

    const other = statusErrorOf(() => apply({ live, config: configMap({ a: "9" }), manager: "helm", now: T2 }))
    expect(other.message).toBe('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.a')

    const next = apply({ live, config: configMap({ a: "9" }), manager: "kubectl", now: T2 })
    expect(next.data).toEqual({ a: "9", b: "2" })
    expect(next.metadata.annotations).toEqual({
      "kubectl.kubernetes.io/last-applied-configuration":
        '{"apiVersion":"v1","data":{"a":"9"},"kind":"ConfigMap","metadata":{"name":"settings","namespace":"default"}}\n'
    })
    expect(managedFields(next)?.map((entry) => [entry["manager"], entry["fieldsV1"]])).toEqual([
      ["kubectl", { "f:data": { "f:a": {} } }],
      [
        "kubectl-client-side-apply",
        { "f:data": { ".": {}, "f:b": {} }, "f:metadata": { "f:annotations": { ".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {} } } }
      ]
    ])
  })

  it("answers 400 for managed fields in the configuration and for another type", () => {
    const withFields = withManagedFields(configMap({ a: "1" }), [])
    expect(statusErrorOf(() => apply({ live: undefined, config: withFields, manager: "A" })).body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "metadata.managedFields must be nil",
      reason: "BadRequest",
      code: 400
    })
    const wrongVersion = { ...configMap({ a: "1" }), apiVersion: "apps/v1" }
    expect(statusErrorOf(() => apply({ live: undefined, config: wrongVersion, manager: "A" })).message).toBe("invalid object type: apps/v1, Kind=ConfigMap")
  })

  it("answers 500 without a reason when the configuration cannot be typed", () => {
    const missingKey: KubeObject = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "worker", namespace: "default" },
      spec: { hostAliases: [{ hostnames: ["db.local"] }] }
    }
    expect(statusErrorOf(() => apply({ live: undefined, config: missingKey, manager: "A", shape: POD })).body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'failed to create typed patch object (default/worker; /v1, Kind=Pod): .spec.hostAliases: element 0: associative list with keys has an element that omits key field "ip" (and doesn\'t have default value)',
      code: 500
    })
    const duplicates: KubeObject = { ...missingKey, spec: { containers: [{ name: "app" }, { name: "app" }] } }
    expect(statusErrorOf(() => apply({ live: undefined, config: duplicates, manager: "A", shape: POD })).message).toBe(
      'failed to create typed patch object (default/worker; /v1, Kind=Pod): .spec.containers: duplicate entries for key [name="app"]'
    )
  })
})

describe("custom resources", () => {
  const crdSchema = (file: string): SchemaProps => {
    const crd = parse(readFileSync(join(import.meta.dirname, "..", "crds", file), "utf8")) as {
      spec: { versions: Array<{ schema: { openAPIV3Schema: SchemaProps } }> }
    }
    return crd.spec.versions[0]!.schema.openAPIV3Schema
  }
  const TRAIN_JOB = schemaShape(crdSchema("kubeflow-trainer-v2.2.0/trainer.kubeflow.org_trainjobs.yaml"), { statusSubresource: true })
  const trainJob = (trainer: Record<string, unknown>, extra: Record<string, unknown> = {}): KubeObject => ({
    apiVersion: "trainer.kubeflow.org/v1alpha1",
    kind: "TrainJob",
    metadata: { name: "llama", namespace: "ml" },
    spec: { runtimeRef: { name: "torch-distributed" }, trainer },
    ...extra
  })
  const applyJob = (live: KubeObject | undefined, config: KubeObject, manager: string, now: string, force = false) =>
    apply({ live, config, manager, force, now, shape: TRAIN_JOB, apiVersion: "trainer.kubeflow.org/v1alpha1" })

  it("merges the TrainJob trainer env by name and replaces its args whole", () => {
    const first = stored(applyJob(undefined, trainJob({ args: ["--epochs", "3"], env: [{ name: "NCCL_DEBUG", value: "INFO" }] }), "A", T1))

    const both = stored(applyJob(first, { ...trainJob({ env: [{ name: "HF_HOME", value: "/cache" }] }), spec: { trainer: { env: [{ name: "HF_HOME", value: "/cache" }] } } }, "B", T2))

    expect(both["spec"]).toEqual({
      runtimeRef: { name: "torch-distributed" },
      trainer: {
        args: ["--epochs", "3"],
        env: [
          { name: "NCCL_DEBUG", value: "INFO" },
          { name: "HF_HOME", value: "/cache" }
        ]
      }
    })
    expect(managedFields(both)?.map((entry) => [entry["manager"], entry["fieldsV1"]])).toEqual([
      [
        "A",
        {
          "f:spec": {
            "f:runtimeRef": { "f:name": {} },
            "f:trainer": { "f:args": {}, "f:env": { 'k:{"name":"NCCL_DEBUG"}': { ".": {}, "f:name": {}, "f:value": {} } } }
          }
        }
      ],
      ["B", { "f:spec": { "f:trainer": { "f:env": { 'k:{"name":"HF_HOME"}': { ".": {}, "f:name": {}, "f:value": {} } } } } }]
    ])

    const forced = applyJob(both, { ...trainJob({}), spec: { trainer: { args: ["--epochs", "5"], env: [{ name: "HF_HOME", value: "/cache" }] } } }, "B", T3, true)
    expect((forced["spec"] as { trainer: unknown }).trainer).toEqual({
      args: ["--epochs", "5"],
      env: [
        { name: "NCCL_DEBUG", value: "INFO" },
        { name: "HF_HOME", value: "/cache" }
      ]
    })
    expect(managedFields(forced)?.map((entry) => [entry["manager"], entry["fieldsV1"]])).toEqual([
      ["A", { "f:spec": { "f:runtimeRef": { "f:name": {} }, "f:trainer": { "f:env": { 'k:{"name":"NCCL_DEBUG"}': { ".": {}, "f:name": {}, "f:value": {} } } } } }],
      ["B", { "f:spec": { "f:trainer": { "f:args": {}, "f:env": { 'k:{"name":"HF_HOME"}': { ".": {}, "f:name": {}, "f:value": {} } } } } }]
    ])
  })

  it("ignores status in a main-resource apply when the CRD serves /status", () => {
    const created = applyJob(undefined, trainJob({ numNodes: 2 }, { status: { conditions: [{ type: "Complete", status: "True" }] } }), "A", T1)

    expect("status" in created).toBe(false)
  })

  it("treats lists without x-kubernetes-list-type as atomic and additionalProperties keys as map entries", () => {
    const shape = schemaShape(crdSchema("nvidia.com_dynamographdeployments.v1alpha1.2025-10.yaml"), { statusSubresource: true })
    const graph = (services: Record<string, unknown>, envs: Array<unknown>): KubeObject => ({
      apiVersion: "nvidia.com/v1alpha1",
      kind: "DynamoGraphDeployment",
      metadata: { name: "vllm", namespace: "dynamo" },
      spec: { envs, services }
    })
    const first = stored(apply({ live: undefined, config: graph({ Frontend: { replicas: 1 } }, [{ name: "A", value: "1" }]), manager: "A", shape, apiVersion: "nvidia.com/v1alpha1" }))

    expect(managedFields(first)?.[0]?.fieldsV1).toEqual({ "f:spec": { "f:envs": {}, "f:services": { "f:Frontend": { ".": {}, "f:replicas": {} } } } })

    const error = statusErrorOf(() =>
      apply({ live: first, config: graph({ Worker: { replicas: 2 } }, [{ name: "B", value: "2" }]), manager: "B", shape, apiVersion: "nvidia.com/v1alpha1", now: T2 })
    )
    expect(error.message).toBe('Apply failed with 1 conflict: conflict with "A": .spec.envs')
  })

  it("tracks an update of a custom resource, with the new spec map itself owned", () => {
    const created = trackUpdate({ old: undefined, next: trainJob({ numNodes: 2 }), manager: "kubectl-create", shape: TRAIN_JOB, apiVersion: "trainer.kubeflow.org/v1alpha1", now: T1 })

    expect(managedFields(created)).toEqual([
      {
        manager: "kubectl-create",
        operation: "Update",
        apiVersion: "trainer.kubeflow.org/v1alpha1",
        time: T1,
        fieldsType: "FieldsV1",
        fieldsV1: { "f:spec": { ".": {}, "f:runtimeRef": { ".": {}, "f:name": {} }, "f:trainer": { ".": {}, "f:numNodes": {} } } }
      }
    ])
  })
})

describe("trackUpdate", () => {
  const update = (old: KubeObject | undefined, next: KubeObject, manager: string, now: string, extra: { shape?: Shape; subresource?: string; apiVersion?: string } = {}) =>
    trackUpdate({
      old,
      next,
      manager,
      shape: extra.shape ?? CONFIG_MAP,
      apiVersion: extra.apiVersion ?? "v1",
      now,
      ...(extra.subresource === undefined ? {} : { subresource: extra.subresource })
    })

  it("records the fields of a create, with the new maps themselves owned", () => {
    const created = update(undefined, configMap({ a: "1" }, { labels: { app: "web" } }), "kubectl-create", T1)

    expect(created).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "settings",
        namespace: "default",
        labels: { app: "web" },
        managedFields: [
          {
            manager: "kubectl-create",
            operation: "Update",
            apiVersion: "v1",
            time: T1,
            fieldsType: "FieldsV1",
            fieldsV1: { "f:data": { ".": {}, "f:a": {} }, "f:metadata": { "f:labels": { ".": {}, "f:app": {} } } }
          }
        ]
      },
      data: { a: "1" }
    })
  })

  it("records a Deployment create the way a real server does, against the zero Deployment", () => {
    const deployment: KubeObject = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "nginx", namespace: "default", labels: { app: "nginx" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "nginx" } },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
        template: {
          metadata: { labels: { app: "nginx" } },
          spec: { containers: [{ name: "nginx", image: "nginx", resources: {} }], securityContext: {} }
        }
      }
    }

    const created = update(undefined, deployment, "kubectl-create", T1, { shape: DEPLOYMENT, apiVersion: "apps/v1" })

    expect(managedFields(created)?.[0]?.fieldsV1).toEqual({
      "f:metadata": { "f:labels": { ".": {}, "f:app": {} } },
      "f:spec": {
        "f:replicas": {},
        "f:selector": {},
        "f:strategy": { "f:rollingUpdate": { ".": {}, "f:maxSurge": {}, "f:maxUnavailable": {} }, "f:type": {} },
        "f:template": {
          "f:metadata": { "f:labels": { ".": {}, "f:app": {} } },
          "f:spec": {
            "f:containers": { 'k:{"name":"nginx"}': { ".": {}, "f:image": {}, "f:name": {}, "f:resources": {} } },
            "f:securityContext": {}
          }
        }
      }
    })
  })

  it("takes changed fields from other managers and stamps the time only when the manager changed something", () => {
    const live = stored(apply({ live: undefined, config: configMap({ a: "1", b: "2" }), manager: "A" }))

    const edited = update(live, { ...live, data: { a: "5", b: "2" } }, "kubectl-edit", T2)
    expect(managedFields(edited)).toEqual([
      { manager: "A", operation: "Apply", apiVersion: "v1", time: T1, fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:b": {} } } },
      { manager: "kubectl-edit", operation: "Update", apiVersion: "v1", time: T2, fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:a": {} } } }
    ])

    const unchanged = update(edited, { ...edited, metadata: { ...edited.metadata, resourceVersion: "18" } }, "kubectl-edit", T3)
    expect(managedFields(unchanged)).toEqual(managedFields(edited))
  })

  it("drops removed fields from every manager", () => {
    const live = stored(apply({ live: undefined, config: configMap({ a: "1", b: "2" }), manager: "A" }))

    const next = update(live, { ...live, data: { b: "2" } }, "cleanup", T2)

    expect(managedFields(next)).toEqual([
      { manager: "A", operation: "Apply", apiVersion: "v1", time: T1, fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:b": {} } } }
    ])
  })

  it("records status writes with the subresource, without owning spec", () => {
    const live = stored(apply({ live: undefined, config: podOnNode(), manager: "A", shape: POD }))

    const next = update(live, { ...live, spec: { nodeName: "other" }, status: { phase: "Running" } }, "kubelet", T2, { shape: POD, subresource: "status" })

    expect(managedFields(next)).toEqual([
      { manager: "A", operation: "Apply", apiVersion: "v1", time: T1, fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:nodeName": {} } } },
      {
        manager: "kubelet",
        operation: "Update",
        apiVersion: "v1",
        time: T2,
        fieldsType: "FieldsV1",
        fieldsV1: { "f:status": { ".": {}, "f:phase": {} } },
        subresource: "status"
      }
    ])
    const main = update(live, { ...live, status: { phase: "Failed" } }, "someone", T2, { shape: POD })
    expect(managedFields(main)).toEqual(managedFields(live))
  })

  it("clears managed fields written as [{}] and then leaves the object untracked", () => {
    const live = stored(apply({ live: undefined, config: configMap({ a: "1" }), manager: "A" }))

    const cleared = update(live, withManagedFields(live, [{}]), "janitor", T2)
    expect("managedFields" in cleared.metadata).toBe(false)

    const later = update(cleared, { ...cleared, data: { a: "2" } }, "kubectl-edit", T3)
    expect("managedFields" in later.metadata).toBe(false)
  })

  it("keeps managed fields a write sets explicitly", () => {
    const live = stored(apply({ live: undefined, config: configMap({ a: "1", b: "2" }), manager: "A" }))
    const handWritten = [{ manager: "importer", operation: "Update", apiVersion: "v1", time: T1, fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:b": {} } } }]

    const next = update(live, withManagedFields(live, handWritten), "kubectl-replace", T2)

    expect(managedFields(next)).toEqual(handWritten)
  })

  it("merges the oldest of more than ten Update entries into ancient-changes", () => {
    let object = stored(apply({ live: undefined, config: configMap({}), manager: "A" }))
    object = update(object, { ...object, data: { seed: "0" } }, "seed", "2025-06-01T09:00:00Z")
    for (let i = 0; i < 11; i++) {
      object = update(object, { ...object, data: { ...(object["data"] as Record<string, string>), [`k${i}`]: "v" } }, `writer-${String(i).padStart(2, "0")}`, `2025-06-01T10:00:${String(10 + i)}Z`)
    }

    const entries = (managedFields(object) ?? []) as unknown as Array<Record<string, unknown>>
    expect(entries.map((entry) => `${entry["manager"]} ${entry["time"]}`)).toEqual([
      `A ${T1}`,
      "ancient-changes 2025-06-01T10:00:11Z",
      "writer-02 2025-06-01T10:00:12Z",
      "writer-03 2025-06-01T10:00:13Z",
      "writer-04 2025-06-01T10:00:14Z",
      "writer-05 2025-06-01T10:00:15Z",
      "writer-06 2025-06-01T10:00:16Z",
      "writer-07 2025-06-01T10:00:17Z",
      "writer-08 2025-06-01T10:00:18Z",
      "writer-09 2025-06-01T10:00:19Z",
      "writer-10 2025-06-01T10:00:20Z"
    ])
    expect(entries[1]?.["fieldsV1"]).toEqual({ "f:data": { "f:k0": {}, "f:k1": {}, "f:seed": {} } })
  })
})

describe("defaultManager", () => {
  it("takes the User-Agent up to the first slash", () => {
    expect(defaultManager("kubectl/v1.35.2 (linux/amd64) kubernetes/abc")).toBe("kubectl")
    expect(defaultManager("node-fetch")).toBe("node-fetch")
    expect(defaultManager(undefined)).toBe("")
  })

  it("drops unprintable characters and cuts at 128 bytes", () => {
    expect(defaultManager("my\u0007agent/1.0")).toBe("myagent")
    expect(defaultManager("a".repeat(200))).toBe("a".repeat(128))
    expect(defaultManager(`${"a".repeat(127)}é/1`)).toBe("a".repeat(127))
  })

  it("is recorded as unknown when empty", () => {
    const created = trackUpdate({ old: undefined, next: configMap({ a: "1" }), manager: defaultManager(undefined), shape: CONFIG_MAP, apiVersion: "v1", now: T4 })
    expect(managedFields(created)?.[0]?.["manager"]).toBe("unknown")
  })
})

describe("FieldsV1", () => {
  it("round-trips a real entry and prints paths as conflicts name them", () => {
    const fieldsV1 = {
      "f:metadata": { "f:finalizers": { ".": {}, 'v:"example.com/x"': {} }, "f:labels": { ".": {}, "f:app": {} } },
      "f:spec": {
        "f:containers": {
          'k:{"name":"app"}': {
            ".": {},
            "f:ports": { 'k:{"containerPort":80,"protocol":"TCP"}': { ".": {}, "f:containerPort": {} } }
          }
        }
      }
    }

    const set = FieldSet.fromFieldsV1(fieldsV1)

    expect(set.toFieldsV1()).toEqual(fieldsV1)
    expect(set.paths().map(pathString)).toEqual([
      ".metadata.finalizers",
      ".metadata.labels",
      '.metadata.finalizers[="example.com/x"]',
      ".metadata.labels.app",
      '.spec.containers[name="app"]',
      '.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"]',
      '.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"].containerPort'
    ])
  })

  it("rejects malformed entries", () => {
    expect(() => FieldSet.fromFieldsV1({ "x:y": {} })).toThrow("unknown path element prefix in x:y")
    expect(() => FieldSet.fromFieldsV1({ "f:a": "b" })).toThrow("the value of f:a must be a JSON object")
  })
})
