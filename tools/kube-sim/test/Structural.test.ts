import { readFileSync } from "node:fs"
import { parse } from "yaml"
import { describe, expect, it } from "vitest"
import type { SchemaProps } from "../src/schema-types.ts"
import { admitCustom, unsupportedRules } from "../src/structural.ts"
import type { KubeObject } from "../src/types.ts"

const schemas = new Map<string, SchemaProps>()

/** The `openAPIV3Schema` of a fixture CRD's only version. */
const fixture = (file: string): SchemaProps => {
  let schema = schemas.get(file)
  if (schema === undefined) {
    const crd = parse(readFileSync(new URL(`../crds/${file}`, import.meta.url), "utf8")) as { spec: { versions: Array<{ schema: { openAPIV3Schema: SchemaProps } }> } }
    schema = crd.spec.versions[0]!.schema.openAPIV3Schema
    schemas.set(file, schema)
  }
  return schema
}

const DGD = "nvidia.com_dynamographdeployments.v1alpha1.2025-10.yaml"
const TRAINJOB = { "v2.1.0": "kubeflow-trainer-v2.1.0/trainer.kubeflow.org_trainjobs.yaml", "v2.2.0": "kubeflow-trainer-v2.2.0/trainer.kubeflow.org_trainjobs.yaml" }
const RUNTIME = { "v2.1.0": "kubeflow-trainer-v2.1.0/trainer.kubeflow.org_trainingruntimes.yaml", "v2.2.0": "kubeflow-trainer-v2.2.0/trainer.kubeflow.org_trainingruntimes.yaml" }
const VERSIONS = ["v2.1.0", "v2.2.0"] as const

const BLOCKED = {
  reason: "FieldValueInvalid",
  message: "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
  field: "<nil>"
}

const dgd = (spec: unknown): KubeObject => ({ apiVersion: "nvidia.com/v1alpha1", kind: "DynamoGraphDeployment", metadata: { name: "graph", namespace: "default" }, spec })
const trainJob = (spec: unknown, name = "job"): KubeObject => ({ apiVersion: "trainer.kubeflow.org/v1alpha1", kind: "TrainJob", metadata: { name, namespace: "default" }, spec })
const runtime = (spec: unknown): KubeObject => ({ apiVersion: "trainer.kubeflow.org/v1alpha1", kind: "TrainingRuntime", metadata: { name: "torch", namespace: "default" }, spec })

/** A custom resource of a test schema: the root declares apiVersion, kind, metadata and `spec`. */
const rootOf = (spec: SchemaProps, extra: Partial<SchemaProps> = {}): SchemaProps => ({
  type: "object",
  properties: { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" }, spec },
  ...extra
})
const thing = (spec: unknown): KubeObject => ({ apiVersion: "example.com/v1", kind: "Thing", metadata: { name: "t" }, spec })
const admit = (spec: SchemaProps, value: unknown, old?: unknown) => admitCustom(rootOf(spec), thing(value), old === undefined ? undefined : thing(old))
const causesOf = (spec: SchemaProps, value: unknown, old?: unknown) => admit(spec, value, old).causes

describe("fixture CRDs", () => {
  it("rejects a DynamoGraphDeployment whose replicas is a string, with the real cause", () => {
    const result = admitCustom(fixture(DGD), dgd({ services: { Frontend: { replicas: "two" } } }), undefined)
    expect(result.causes).toEqual([
      {
        reason: "FieldValueTypeInvalid",
        message: 'Invalid value: "string": spec.services.Frontend.replicas in body must be of type integer: "string"',
        field: "spec.services.Frontend.replicas"
      },
      BLOCKED
    ])
  })

  it("rejects a backendFramework outside the enum", () => {
    const result = admitCustom(fixture(DGD), dgd({ backendFramework: "foo" }), undefined)
    expect(result.causes).toEqual([
      { reason: "FieldValueNotSupported", message: 'Unsupported value: "foo": supported values: "sglang", "vllm", "trtllm"', field: "spec.backendFramework" },
      BLOCKED
    ])
  })

  it("enforces the DynamoGraphDeployment PVC rule at the list item", () => {
    const result = admitCustom(fixture(DGD), dgd({ pvcs: [{ name: "ok" }, { name: "cache", create: true, size: "10Gi" }] }), undefined)
    expect(result.causes).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: When create is true, size, storageClass, and volumeAccessMode are required", field: "spec.pvcs[1]" }
    ])
  })

  it.each(VERSIONS)("requires spec.runtimeRef of a TrainJob (%s)", (version) => {
    const result = admitCustom(fixture(TRAINJOB[version]), trainJob({ trainer: { numNodes: 1 } }), undefined)
    expect(result.causes).toEqual([{ reason: "FieldValueRequired", message: "Required value", field: "spec.runtimeRef" }, BLOCKED])
  })

  it.each(VERSIONS)("defaults the TrainJob runtimeRef kind and apiGroup, and the spec defaults (%s)", (version) => {
    const result = admitCustom(fixture(TRAINJOB[version]), trainJob({ runtimeRef: { name: "torch-distributed" } }), undefined)
    expect(result.causes).toEqual([])
    expect(result.object.spec).toEqual({
      runtimeRef: { name: "torch-distributed", apiGroup: "trainer.kubeflow.org", kind: "ClusterTrainingRuntime" },
      managedBy: "trainer.kubeflow.org/trainjob-controller",
      suspend: false
    })
  })

  it("prunes and reports unknown fields with the paths of strict field validation", () => {
    const input = trainJob({ runtimeRef: { name: "torch" }, bogus: true, trainer: { env: [{ name: "A", value: "1", valueFromm: {} }] } })
    input["extra"] = 1
    input.metadata["unknownMeta"] = "kept"
    const result = admitCustom(fixture(TRAINJOB["v2.2.0"]), input, undefined)
    expect(result.unknownFields).toEqual(["extra", "spec.bogus", "spec.trainer.env[0].valueFromm"])
    expect(result.object["extra"]).toBeUndefined()
    expect(result.object.spec).toEqual({
      runtimeRef: { name: "torch", apiGroup: "trainer.kubeflow.org", kind: "ClusterTrainingRuntime" },
      trainer: { env: [{ name: "A", value: "1" }] },
      managedBy: "trainer.kubeflow.org/trainjob-controller",
      suspend: false
    })
    expect(result.object.metadata).toEqual({ name: "job", namespace: "default", unknownMeta: "kept" })
    expect(result.causes).toEqual([])
    expect(input["extra"]).toBe(1)
    expect((input["spec"] as { bogus?: boolean }).bogus).toBe(true)
  })

  it.each(VERSIONS)("fails the TrainJob name rules with the CRD's messages (%s)", (version) => {
    const schema = fixture(TRAINJOB[version])
    expect(admitCustom(schema, trainJob({ runtimeRef: { name: "torch" } }, "Bad_Name"), undefined).causes).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: metadata.name must match RFC 1035 DNS label format", field: "<nil>" }
    ])
    expect(admitCustom(schema, trainJob({ runtimeRef: { name: "torch" } }, "a".repeat(64)), undefined).causes).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: metadata.name must be no more than 63 characters", field: "<nil>" }
    ])
  })

  it("keeps a TrainJob runtimeRef immutable on update, and does not check transition rules on create", () => {
    const schema = fixture(TRAINJOB["v2.1.0"])
    const created = admitCustom(schema, trainJob({ runtimeRef: { name: "torch" } }), undefined)
    expect(created.causes).toEqual([])
    const stored = created.object
    expect(admitCustom(schema, stored, stored).causes).toEqual([])
    expect(admitCustom(schema, trainJob({ runtimeRef: { name: "torch" } }), stored).causes).toEqual([])
    expect(admitCustom(schema, trainJob({ runtimeRef: { name: "other" } }), stored).causes).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: runtimeRef is immutable", field: "spec.runtimeRef" }
    ])
  })

  it("shows a scalar's value in a failed rule (v2.2.0 managedBy)", () => {
    const schema = fixture(TRAINJOB["v2.2.0"])
    const stored = admitCustom(schema, trainJob({ runtimeRef: { name: "torch" } }), undefined).object
    const withManager = (managedBy: string) => ({ ...stored, spec: { ...(stored["spec"] as object), managedBy } })
    expect(admitCustom(schema, withManager("kueue.x-k8s.io/multikueue"), stored).causes).toEqual([
      { reason: "FieldValueInvalid", message: 'Invalid value: "kueue.x-k8s.io/multikueue": field is immutable', field: "spec.managedBy" }
    ])
    expect(admitCustom(schema, withManager("foo"), stored).causes).toEqual([
      {
        reason: "FieldValueInvalid",
        message: 'Invalid value: "foo": ManagedBy must be trainer.kubeflow.org/trainjob-controller or kueue.x-k8s.io/multikueue if set',
        field: "spec.managedBy"
      },
      { reason: "FieldValueInvalid", message: 'Invalid value: "foo": field is immutable', field: "spec.managedBy" }
    ])
  })

  it.each(VERSIONS)("rejects a TrainingRuntime with both torch and mpi (%s)", (version) => {
    const result = admitCustom(fixture(RUNTIME[version]), runtime({ mlPolicy: { torch: {}, mpi: {} } }), undefined)
    expect(result.causes).toEqual([{ reason: "FieldValueInvalid", message: "Invalid value: Only one of the policy can be configured", field: "spec.mlPolicy" }])
  })

  it("defaults the v2.1.0 MPI and torch policies", () => {
    const result = admitCustom(fixture(RUNTIME["v2.1.0"]), runtime({ mlPolicy: { numNodes: 2, mpi: {} } }), undefined)
    expect(result.causes).toEqual([])
    expect(result.object.spec).toEqual({
      mlPolicy: { numNodes: 2, mpi: { mpiImplementation: "OpenMPI", numProcPerNode: 1, runLauncherAsNode: false, sshAuthMountPath: "/root/.ssh" } }
    })
    const torch = admitCustom(fixture(RUNTIME["v2.1.0"]), runtime({ mlPolicy: { torch: {} } }), undefined)
    expect(torch.object.spec).toEqual({ mlPolicy: { torch: { numProcPerNode: "auto" } } })
  })

  it("reports the int-or-string numProcPerNode rule as the real server does", () => {
    const schema = fixture(RUNTIME["v2.1.0"])
    expect(admitCustom(schema, runtime({ mlPolicy: { torch: { numProcPerNode: 0 } } }), undefined).causes).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: 0: NumProcPerNode must be equal to auto, cpu, gpu, or int value", field: "spec.mlPolicy.torch.numProcPerNode" }
    ])
    expect(admitCustom(schema, runtime({ mlPolicy: { torch: { numProcPerNode: "four" } } }), undefined).causes).toEqual([
      {
        reason: "FieldValueInvalid",
        message:
          "Invalid value: \"\": 'no such overload': call arguments did not match a supported operator, function or macro signature for rule: NumProcPerNode must be equal to auto, cpu, gpu, or int value",
        field: "spec.mlPolicy.torch.numProcPerNode"
      }
    ])
    expect(admitCustom(schema, runtime({ mlPolicy: { torch: { numProcPerNode: "gpu" } } }), undefined).causes).toEqual([])
  })

  it("rejects an empty TrainingRuntime spec (minProperties)", () => {
    expect(admitCustom(fixture(RUNTIME["v2.2.0"]), runtime({}), undefined).causes).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: 0: spec in body should have at least 1 properties", field: "spec" }
    ])
  })

  it("rejects duplicate keys of a list-type map with the real path and value", () => {
    const result = admitCustom(fixture(TRAINJOB["v2.2.0"]), trainJob({ runtimeRef: { name: "torch" }, trainer: { env: [{ name: "A" }, { name: "B" }, { name: "A", value: "2" }] } }), undefined)
    expect(result.causes).toEqual([{ reason: "FieldValueDuplicate", message: 'Duplicate value: {"name":"A"}', field: "spec.trainer.env[2]" }])
  })

  it("admits a full TrainingRuntime unchanged apart from defaults", () => {
    const container = { name: "node", image: "pytorch:25.01", command: ["torchrun"], env: [{ name: "A", value: "1" }], resources: { limits: { "nvidia.com/gpu": 8 } } }
    const spec = {
      mlPolicy: { numNodes: 2, torch: { numProcPerNode: 8 } },
      template: { spec: { replicatedJobs: [{ name: "node", template: { spec: { template: { spec: { containers: [container] } } } } }] } }
    }
    const result = admitCustom(fixture(RUNTIME["v2.1.0"]), runtime(spec), undefined)
    expect(result.causes).toEqual([])
    expect(result.unknownFields).toEqual([])
    expect(result.object.spec).toEqual({ ...spec, template: { spec: { replicatedJobs: [{ ...spec.template.spec.replicatedJobs[0], groupName: "default", replicas: 1 }] } } })
  })

  it("supports every rule of the fixture CRDs", () => {
    for (const file of [DGD, ...Object.values(TRAINJOB), ...Object.values(RUNTIME)]) expect(unsupportedRules(fixture(file))).toEqual([])
  })
})

describe("pruning", () => {
  const schema: SchemaProps = {
    type: "object",
    properties: {
      known: { type: "string" },
      list: { type: "array", items: { type: "object", properties: { a: { type: "string" } } } },
      map: { type: "object", additionalProperties: { type: "object", properties: { a: { type: "string" } } } },
      open: { type: "object", "x-kubernetes-preserve-unknown-fields": true, properties: { fixed: { type: "object", properties: { a: { type: "string" } } } } },
      embedded: { type: "object", "x-kubernetes-embedded-resource": true, properties: { spec: { type: "object" } } }
    }
  }

  it("drops undeclared fields except under preserve-unknown-fields and the embedded resource's type and metadata", () => {
    const result = admit(schema, {
      known: "x",
      unknown: 1,
      list: [{ a: "1", b: 2 }, { c: 3 }],
      map: { one: { a: "1", z: 1 } },
      open: { anything: { deep: true }, fixed: { a: "1", b: 2 } },
      embedded: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", labels: { a: "b" } }, data: { k: "v" }, spec: { x: 1 } }
    })
    expect(result.unknownFields).toEqual(["spec.embedded.data", "spec.embedded.spec.x", "spec.list[0].b", "spec.list[1].c", "spec.map.one.z", "spec.open.fixed.b", "spec.unknown"])
    expect(result.object.spec).toEqual({
      known: "x",
      list: [{ a: "1" }, {}],
      map: { one: { a: "1" } },
      open: { anything: { deep: true }, fixed: { a: "1" } },
      embedded: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", labels: { a: "b" } }, spec: {} }
    })
  })

  it("prunes fields at the root except apiVersion, kind and metadata", () => {
    const result = admitCustom(rootOf({ type: "object" }), { ...thing({}), status: { phase: "x" } }, undefined)
    expect(result.unknownFields).toEqual(["status"])
    expect(Object.keys(result.object)).toEqual(["apiVersion", "kind", "metadata", "spec"])
  })
})

describe("defaulting", () => {
  it("applies defaults recursively, inside defaults, to list items and map values", () => {
    const spec: SchemaProps = {
      type: "object",
      properties: {
        policy: {
          type: "object",
          default: {},
          properties: { mode: { type: "string", default: "auto" }, limits: { type: "object", default: { cpu: 1 }, properties: { cpu: { type: "integer" }, gpu: { type: "integer", default: 0 } } } }
        },
        items: { type: "array", items: { type: "object", properties: { weight: { type: "integer", default: 1 } } } },
        byName: { type: "object", additionalProperties: { type: "object", properties: { on: { type: "boolean", default: true } } } },
        given: { type: "string", default: "unused" }
      }
    }
    const result = admit(spec, { items: [{}, { weight: 5 }], byName: { a: {}, b: { on: false } }, given: "set" })
    expect(result.object.spec).toEqual({
      policy: { mode: "auto", limits: { cpu: 1, gpu: 0 } },
      items: [{ weight: 1 }, { weight: 5 }],
      byName: { a: { on: true }, b: { on: false } },
      given: "set"
    })
  })

  it("replaces a non-nullable null by its default, drops one without a default, keeps a nullable null", () => {
    const spec: SchemaProps = {
      type: "object",
      properties: {
        defaulted: { type: "string", default: "d" },
        plain: { type: "string" },
        nullable: { type: "string", nullable: true, default: "d" },
        list: { type: "array", items: { type: "string", default: "item" } },
        strict: { type: "array", items: { type: "string" } },
        map: { type: "object", additionalProperties: { type: "integer", default: 7 } }
      }
    }
    const result = admit(spec, { defaulted: null, plain: null, nullable: null, list: [null, "x"], strict: ["a", null], map: { a: null } })
    expect(result.object.spec).toEqual({ defaulted: "d", nullable: null, list: ["item", "x"], strict: ["a", null], map: { a: 7 } })
    expect(result.causes).toEqual([
      { reason: "FieldValueTypeInvalid", message: 'Invalid value: "null": spec.strict[1] in body must be of type string: "null"', field: "spec.strict[1]" }
    ])
  })
})

describe("OpenAPI validation", () => {
  const field = (schema: SchemaProps): SchemaProps => ({ type: "object", properties: { f: schema } })

  it.each([
    [{ type: "integer" }, 1.5, 'Invalid value: "number": spec.f in body must be of type integer: "number"'],
    [{ type: "string" }, 3, 'Invalid value: "integer": spec.f in body must be of type string: "integer"'],
    [{ type: "boolean" }, "true", 'Invalid value: "string": spec.f in body must be of type boolean: "string"'],
    [{ type: "object" }, [], 'Invalid value: "array": spec.f in body must be of type object: "array"'],
    [{ type: "array" }, {}, 'Invalid value: "object": spec.f in body must be of type array: "object"'],
    [{ "x-kubernetes-int-or-string": true }, true, 'Invalid value: "boolean": spec.f in body must be of type integer,string: "boolean"'],
    [{ type: "string", format: "date-time" }, "yesterday", 'Invalid value: "yesterday": spec.f in body must be of type date-time: "yesterday"'],
    [{ type: "string", format: "byte" }, "not base64!", 'Invalid value: "not base64!": spec.f in body must be of type byte: "not base64!"'],
    [{ type: "string", format: "uuid" }, "123", 'Invalid value: "123": spec.f in body must be of type uuid: "123"'],
    [{ type: "string", format: "k8s-short-name" }, "Not_DNS", 'Invalid value: "Not_DNS": spec.f in body must be of type k8s-short-name: "Not_DNS"']
  ] as Array<[SchemaProps, unknown, string]>)("rejects the wrong type or format: %j with %j", (schema, value, message) => {
    expect(causesOf(field(schema), { f: value })).toEqual([{ reason: "FieldValueTypeInvalid", message, field: "spec.f" }])
  })

  it.each([
    [{ type: "number" }, 2],
    [{ type: "integer", format: "int32" }, 2 ** 40],
    [{ type: "string", format: "quantity" }, "lots"],
    [{ type: "string", format: "date-time" }, "2025-10-01T12:30:00Z"],
    [{ type: "string", format: "date-time" }, "2025-10-01t12:30:00.123+02:00"],
    [{ type: "string", format: "date" }, "2024-02-29"],
    [{ type: "string", format: "byte" }, "aGVsbG8="],
    [{ type: "string", format: "duration" }, "1h30m"],
    [{ type: "string", format: "ipv4" }, "10.0.0.1"],
    [{ type: "string", format: "cidr" }, "10.0.0.0/8"],
    [{ "x-kubernetes-int-or-string": true }, "50%"],
    [{ type: "string", nullable: true }, null]
  ] as Array<[SchemaProps, unknown]>)("accepts %j with %j", (schema, value) => {
    expect(causesOf(field(schema), { f: value })).toEqual([])
  })

  it("enforces enums, with non-string values quoted as JSON", () => {
    expect(causesOf(field({ type: "integer", enum: [1, 2] }), { f: 3 })).toEqual([
      { reason: "FieldValueNotSupported", message: 'Unsupported value: 3: supported values: "1", "2"', field: "spec.f" }
    ])
  })

  it("names missing required fields with their full path", () => {
    const spec: SchemaProps = { type: "object", required: ["a"], properties: { a: { type: "string" }, nested: { type: "object", required: ["b"], properties: { b: { type: "string" } } } } }
    expect(causesOf(spec, { nested: {} })).toEqual([
      { reason: "FieldValueRequired", message: "Required value", field: "spec.nested.b" },
      { reason: "FieldValueRequired", message: "Required value", field: "spec.a" }
    ])
    expect(admitCustom(rootOf(spec, { required: ["spec"] }), { apiVersion: "example.com/v1", kind: "Thing", metadata: { name: "t" } }, undefined).causes).toEqual([
      { reason: "FieldValueRequired", message: "Required value", field: "spec" }
    ])
  })

  it.each([
    [{ type: "integer", minimum: 1 }, 0, "Invalid value: 0: spec.f in body should be greater than or equal to 1"],
    [{ type: "integer", minimum: 1, exclusiveMinimum: true }, 1, "Invalid value: 1: spec.f in body should be greater than 1"],
    [{ type: "integer", maximum: 10 }, 11, "Invalid value: 11: spec.f in body should be less than or equal to 10"],
    [{ type: "number", maximum: 0.5, exclusiveMaximum: true }, 0.5, "Invalid value: 0.5: spec.f in body should be less than 0.5"],
    [{ type: "number", minimum: 1000000 }, 0.5, "Invalid value: 0.5: spec.f in body should be greater than or equal to 1e+06"],
    [{ type: "integer", multipleOf: 5 }, 7, "Invalid value: 7: spec.f in body should be a multiple of 5"],
    [{ type: "number", multipleOf: 0.5 }, 0.7, "Invalid value: 0.7: spec.f in body should be a multiple of 0.5"],
    [{ type: "string", minLength: 3 }, "ab", 'Invalid value: "ab": spec.f in body should be at least 3 chars long'],
    [{ type: "string", pattern: "^[a-z]+$" }, "A1", "Invalid value: \"A1\": spec.f in body should match '^[a-z]+$'"],
    [{ type: "array", minItems: 1 }, [], "Invalid value: 0: spec.f in body should have at least 1 items"],
    [{ type: "array", uniqueItems: true }, [1, 1], 'Invalid value: "": spec.f in body shouldn\'t contain duplicates'],
    [{ type: "object", minProperties: 2 }, { a: 1 }, "Invalid value: 1: spec.f in body should have at least 2 properties"]
  ] as Array<[SchemaProps, unknown, string]>)("rejects %j with %j", (schema, value, message) => {
    const spec = field(schema.type === "object" ? { ...schema, "x-kubernetes-preserve-unknown-fields": true } : schema)
    expect(causesOf(spec, { f: value })).toEqual([{ reason: "FieldValueInvalid", message, field: "spec.f" }])
  })

  it("reports too long strings and too many items or properties as the real server does", () => {
    expect(causesOf(field({ type: "string", maxLength: 3 }), { f: "héllo" })).toEqual([{ reason: "FieldValueTooLong", message: "Too long: may not be more than 3 bytes", field: "spec.f" }])
    expect(causesOf(field({ type: "string", maxLength: 5 }), { f: "héllo" })).toEqual([])
    expect(causesOf(field({ type: "array", maxItems: 1 }), { f: [1, 2, 3] })).toEqual([{ reason: "FieldValueTooMany", message: "Too many: 3: must have at most 1 item", field: "spec.f" }])
    expect(causesOf(field({ type: "object", maxProperties: 2, additionalProperties: { type: "string" } }), { f: { a: "1", b: "2", c: "3" } })).toEqual([
      { reason: "FieldValueTooMany", message: "Too many: 3: must have at most 2 items", field: "spec.f" }
    ])
  })

  it("validates additionalProperties values under dotted paths", () => {
    const spec = field({ type: "object", additionalProperties: { type: "object", properties: { replicas: { type: "integer", minimum: 0 } } } })
    expect(causesOf(spec, { f: { "my-svc": { replicas: -1 } } })).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: -1: spec.f.my-svc.replicas in body should be greater than or equal to 0", field: "spec.f.my-svc.replicas" }
    ])
  })

  it("reports allOf, anyOf, oneOf and not with kube-openapi's composite messages at <nil>", () => {
    const composite = (message: string) => ({ reason: "FieldValueInvalid", message: `Invalid value: "": ${message}`, field: "<nil>" })
    expect(causesOf(field({ type: "integer", anyOf: [{ minimum: 10 }, { maximum: 0 }] }), { f: 5 })).toEqual([
      composite('"spec.f" must validate at least one schema (anyOf)'),
      { reason: "FieldValueInvalid", message: "Invalid value: 5: spec.f in body should be greater than or equal to 10", field: "spec.f" }
    ])
    expect(causesOf(field({ type: "integer", oneOf: [{ minimum: 0 }, { maximum: 10 }] }), { f: 5 })).toEqual([
      composite('"spec.f" must validate one and only one schema (oneOf). Found 2 valid alternatives')
    ])
    expect(causesOf(field({ type: "integer", allOf: [{ minimum: 0 }, { maximum: 3 }] }), { f: 5 })).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: 5: spec.f in body should be less than or equal to 3", field: "spec.f" },
      composite('"spec.f" must validate all the schemas (allOf)')
    ])
    expect(causesOf(field({ type: "string", not: { enum: ["forbidden"] } }), { f: "forbidden" })).toEqual([composite('"spec.f" must not validate the schema (not)')])
  })

  it("validates int-or-string through its anyOf and pattern like a quantity", () => {
    const quantity: SchemaProps = {
      "x-kubernetes-int-or-string": true,
      anyOf: [{ type: "integer" }, { type: "string" }],
      pattern: "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"
    }
    expect(causesOf(field(quantity), { f: "10Gi" })).toEqual([])
    expect(causesOf(field(quantity), { f: 4 })).toEqual([])
    expect(causesOf(field(quantity), { f: "ten" })).toEqual([
      {
        reason: "FieldValueInvalid",
        message: `Invalid value: "ten": spec.f in body should match '${quantity.pattern}'`,
        field: "spec.f"
      }
    ])
  })

  it("checks embedded resources' apiVersion and kind", () => {
    const spec = field({ type: "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true })
    expect(causesOf(spec, { f: { apiVersion: "", metadata: {} } })).toEqual([
      { reason: "FieldValueInvalid", message: 'Invalid value: "": must not be empty', field: "spec.f.apiVersion" },
      { reason: "FieldValueRequired", message: "Required value: must not be empty", field: "spec.f.kind" }
    ])
  })

  it("rejects duplicates in set lists and map lists, reporting the second appearance", () => {
    const spec: SchemaProps = {
      type: "object",
      properties: {
        tags: { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "set" },
        ports: {
          type: "array",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["port", "protocol"],
          items: { type: "object", properties: { port: { type: "integer" }, protocol: { type: "string" } } }
        },
        byName: {
          type: "object",
          additionalProperties: { type: "array", items: { type: "integer" }, "x-kubernetes-list-type": "set" }
        }
      }
    }
    expect(causesOf(spec, {
      tags: ["a", "b", "a", "a"],
      ports: [{ port: 80, protocol: "TCP" }, { port: 80, protocol: "UDP" }, { protocol: "TCP", port: 80 }],
      byName: { x: [1, 1] }
    })).toEqual([
      { reason: "FieldValueDuplicate", message: 'Duplicate value: "a"', field: "spec.tags[2]" },
      { reason: "FieldValueDuplicate", message: 'Duplicate value: {"port":80,"protocol":"TCP"}', field: "spec.ports[2]" },
      { reason: "FieldValueDuplicate", message: "Duplicate value: 1", field: "spec.byName[x][1]" }
    ])
  })

  it("ratchets errors in values that an update leaves unchanged", () => {
    const spec: SchemaProps = { type: "object", properties: { a: { type: "integer", minimum: 5 }, b: { type: "integer", minimum: 5 } } }
    const old = { a: 1, b: 1 }
    expect(causesOf(spec, { a: 1, b: 6 }, old)).toEqual([])
    expect(causesOf(spec, { a: 2, b: 1 }, old)).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: 2: spec.a in body should be greater than or equal to 5", field: "spec.a" }
    ])
    expect(causesOf(spec, { a: 1, b: 1 })).toHaveLength(2)
  })
})

describe("x-kubernetes-validations", () => {
  const withRules = (rules: SchemaProps["x-kubernetes-validations"], properties: SchemaProps["properties"] = { replicas: { type: "integer" } }): SchemaProps => ({
    type: "object",
    properties,
    "x-kubernetes-validations": rules
  })

  it("writes 'failed rule: <rule>' without a message and respects fieldPath and reason", () => {
    expect(causesOf(withRules([{ rule: "self.replicas < 3" }]), { replicas: 5 })).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: failed rule: self.replicas < 3", field: "spec" }
    ])
    expect(causesOf(withRules([{ rule: "self.replicas < 3", message: "too many", fieldPath: ".replicas", reason: "FieldValueForbidden" }]), { replicas: 5 })).toEqual([
      { reason: "FieldValueForbidden", message: "Forbidden: too many", field: "spec.replicas" }
    ])
    expect(causesOf(withRules([{ rule: "has(self.replicas)", message: "set replicas", reason: "FieldValueRequired" }]), {})).toEqual([
      { reason: "FieldValueRequired", message: "Required value: set replicas", field: "spec" }
    ])
  })

  it("uses messageExpression when it evaluates to a string", () => {
    const rules = [{ rule: "self.replicas < 3", messageExpression: "'replicas ' + string(self.replicas) + ' is too many'" }]
    expect(causesOf(withRules(rules), { replicas: 5 })).toEqual([{ reason: "FieldValueInvalid", message: "Invalid value: replicas 5 is too many", field: "spec" }])
    const broken = [{ rule: "self.replicas < 3", message: "static", messageExpression: "self.missing" }]
    expect(causesOf(withRules(broken), { replicas: 5 })).toEqual([{ reason: "FieldValueInvalid", message: "Invalid value: static", field: "spec" }])
  })

  it("reports evaluation errors with the schema type", () => {
    expect(causesOf(withRules([{ rule: "self.other == 1", message: "needs other" }]), { replicas: 1 })).toEqual([
      { reason: "FieldValueInvalid", message: 'Invalid value: "object": no such key: other evaluating rule: needs other', field: "spec" }
    ])
  })

  it("evaluates transition rules only with an old value, optionalOldSelf ones always", () => {
    const spec: SchemaProps = {
      type: "object",
      properties: {
        grow: { type: "integer", "x-kubernetes-validations": [{ rule: "self >= oldSelf", message: "may only grow" }] },
        optional: { type: "integer", "x-kubernetes-validations": [{ rule: "oldSelf.hasValue() || self == 0", message: "starts at 0", optionalOldSelf: true }] }
      }
    }
    expect(causesOf(spec, { grow: 1, optional: 1 })).toEqual([{ reason: "FieldValueInvalid", message: "Invalid value: 1: starts at 0", field: "spec.optional" }])
    expect(causesOf(spec, { grow: 1, optional: 1 }, { grow: 2, optional: 0 })).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: 1: may only grow", field: "spec.grow" }
    ])
    expect(causesOf(spec, { grow: 1 }, {})).toEqual([])
  })

  it("correlates map-list items by key and map values by key for transition rules", () => {
    const spec: SchemaProps = {
      type: "object",
      properties: {
        jobs: {
          type: "array",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["name"],
          items: { type: "object", properties: { name: { type: "string" }, image: { type: "string", "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "immutable" }] } } }
        },
        atomic: { type: "array", items: { type: "string", "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "immutable" }] } },
        byName: { type: "object", additionalProperties: { type: "string", "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "immutable" }] } }
      }
    }
    const old = { jobs: [{ name: "a", image: "1" }, { name: "b", image: "1" }], atomic: ["x"], byName: { k: "1" } }
    expect(causesOf(spec, { jobs: [{ name: "b", image: "1" }, { name: "a", image: "1" }, { name: "c", image: "9" }], atomic: ["y"], byName: { k: "1", n: "2" } }, old)).toEqual([])
    expect(causesOf(spec, { jobs: [{ name: "b", image: "2" }], byName: { k: "2" } }, old)).toEqual([
      { reason: "FieldValueInvalid", message: 'Invalid value: "2": immutable', field: "spec.jobs[0].image" },
      { reason: "FieldValueInvalid", message: 'Invalid value: "2": immutable', field: "spec.byName[k]" }
    ])
  })

  it("ratchets failing rules on unchanged values but not transition rules", () => {
    const spec = withRules([{ rule: "self.replicas < 3", message: "too many" }])
    expect(causesOf(spec, { replicas: 5 }, { replicas: 5 })).toEqual([])
    expect(causesOf(spec, { replicas: 6 }, { replicas: 5 })).toEqual([{ reason: "FieldValueInvalid", message: "Invalid value: too many", field: "spec" }])
  })

  it("skips the rules after a blocking schema error", () => {
    const spec = withRules([{ rule: "self.replicas < 3" }], { replicas: { type: "integer" }, mode: { type: "string", enum: ["a"] } })
    expect(causesOf(spec, { replicas: 5, mode: "b" })).toEqual([
      { reason: "FieldValueNotSupported", message: 'Unsupported value: "b": supported values: "a"', field: "spec.mode" },
      BLOCKED
    ])
  })

  it("skips rules it cannot compile and lists them, with rules it does not enforce", () => {
    const spec: SchemaProps = {
      type: "object",
      properties: {
        size: { type: "string", "x-kubernetes-validations": [{ rule: "quantity(self).isGreaterThan(quantity('1'))" }] },
        items: {
          type: "array",
          items: { type: "object", "x-kubernetes-validations": [{ rule: "self.?name.hasValue()" }, { rule: "true", messageExpression: "format('x')" }] }
        }
      },
      allOf: [{ "x-kubernetes-validations": [{ rule: "self.size != ''" }] }]
    }
    expect(causesOf(spec, { size: "2", items: [{}] })).toEqual([])
    expect(unsupportedRules(rootOf(spec))).toEqual([
      { path: "spec.size", rule: "quantity(self).isGreaterThan(quantity('1'))" },
      { path: "spec.items[*]", rule: "self.?name.hasValue()" },
      { path: "spec.items[*]", rule: "messageExpression: format('x')" },
      { path: "spec", rule: "self.size != ''" }
    ])
  })
})
