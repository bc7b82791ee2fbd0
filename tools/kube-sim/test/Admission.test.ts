import * as k8s from "@kubernetes/client-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bundledCrds } from "../src/index.ts"
import { eventually, failure, harness, type Harness } from "./support/sim.ts"

let h: Harness
let custom: k8s.CustomObjectsApi
let resource: k8s.ResourceV1Api

beforeAll(async () => {
  h = await harness()
  custom = h.kc.makeApiClient(k8s.CustomObjectsApi)
  resource = h.kc.makeApiClient(k8s.ResourceV1Api)
  h.sim.seed([...bundledCrds("dynamo"), ...bundledCrds("kubeflow-trainer-v2.1.0")])
  h.sim.seed([{ apiVersion: "v1", kind: "Namespace", metadata: { name: "adm" } }])
  await eventually(() => (h.sim.cluster.registry.find("trainer.kubeflow.org", "v1alpha1", "trainjobs") === undefined ? undefined : true))
}, 60_000)
afterAll(async () => {
  await h.sim.stop()
})

const job = (name: string, image = "busybox:1.37"): k8s.V1Job => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name, namespace: "adm" },
  spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image }] } } }
})

const raw = async (method: string, path: string, body: unknown, contentType = "application/json") => {
  const response = await fetch(`${h.sim.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${h.sim.adminToken}`, "Content-Type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })
  return { code: response.status, warnings: response.headers.get("warning"), body: (await response.json()) as Record<string, unknown> }
}

describe("admission of built-in kinds", () => {
  it("refuses a Job whose name is not DNS-1123 with 422 and the field path", async () => {
    const { code, body } = await failure(h.batch.createNamespacedJob({ namespace: "adm", body: job("Bench_Job") }))
    expect(code).toBe(422)
    expect(body["reason"]).toBe("Invalid")
    expect((body["details"] as { causes: Array<{ field: string; reason: string }> }).causes.map((cause) => [cause.field, cause.reason])).toEqual([["metadata.name", "FieldValueInvalid"]])
  })

  it("refuses an update of a Job's pod template with 422 on spec.template, and keeps the stored Job", async () => {
    await h.batch.createNamespacedJob({ namespace: "adm", body: job("tmpl") })
    const { code, body } = await failure(
      h.batch.patchNamespacedJob({ namespace: "adm", name: "tmpl", body: [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: "busybox:1.36" }] })
    )
    expect(code).toBe(422)
    const causes = (body["details"] as { causes: Array<{ field: string; message: string }> }).causes
    expect(causes.map((cause) => cause.field)).toEqual(["spec.template"])
    expect(causes[0]!.message).toMatch(/field is immutable$/)
    expect((await h.batch.readNamespacedJob({ namespace: "adm", name: "tmpl" })).spec!.template.spec!.containers[0]!.image).toBe("busybox:1.37")
  })

  it("answers unknown fields as fieldValidation says: Strict 400, Warn a Warning header, Ignore silently; dropped either way", async () => {
    const body = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "fv" }, data: { a: "1" }, extra: true }
    const strict = await raw("POST", "/api/v1/namespaces/adm/configmaps?fieldValidation=Strict", body)
    expect(strict.code).toBe(400)
    expect(strict.body["message"]).toBe('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "extra"')
    const warn = await raw("POST", "/api/v1/namespaces/adm/configmaps", body)
    expect(warn.code).toBe(201)
    expect(warn.warnings).toBe('299 - "unknown field \\"extra\\""')
    expect(warn.body["extra"]).toBeUndefined()
    const ignore = await raw("POST", "/api/v1/namespaces/adm/configmaps?fieldValidation=Ignore", { ...body, metadata: { name: "fv2" } })
    expect(ignore.code).toBe(201)
    expect(ignore.warnings).toBeNull()
    const bad = await raw("POST", "/api/v1/namespaces/adm/configmaps?fieldValidation=Loose", body)
    expect(bad.code).toBe(422)
    expect(bad.body["message"]).toBe('CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose": supported values: "Ignore", "Warn", "Strict"')
  })

  it("records the writer of every request in managedFields (Update), named by fieldManager or the User-Agent", async () => {
    const created = await raw("POST", "/api/v1/namespaces/adm/configmaps?fieldManager=seeder", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "mf" }, data: { a: "1" } })
    const entries = (created.body["metadata"] as { managedFields: Array<Record<string, unknown>> }).managedFields
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ manager: "seeder", operation: "Update", apiVersion: "v1", fieldsType: "FieldsV1", fieldsV1: { "f:data": { ".": {}, "f:a": {} } } })
  })

  it("refuses an apply without fieldManager and applies with one (201, then 200)", async () => {
    const config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: '1'}\n"
    const missing = await raw("PATCH", "/api/v1/namespaces/adm/configmaps/ssa", config, "application/apply-patch+yaml")
    expect(missing.code).toBe(422)
    expect(missing.body["message"]).toBe('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
    const created = await raw("PATCH", "/api/v1/namespaces/adm/configmaps/ssa?fieldManager=tool", config, "application/apply-patch+yaml")
    expect(created.code).toBe(201)
    const again = await raw("PATCH", "/api/v1/namespaces/adm/configmaps/ssa?fieldManager=tool", config, "application/apply-patch+yaml")
    expect(again.code).toBe(200)
    expect((again.body["metadata"] as { resourceVersion: string }).resourceVersion).toBe((created.body["metadata"] as { resourceVersion: string }).resourceVersion)
  })

  it("refuses a ResourceClaimTemplate spec change with 422 field is immutable", async () => {
    const template: k8s.V1ResourceClaimTemplate = {
      apiVersion: "resource.k8s.io/v1",
      kind: "ResourceClaimTemplate",
      metadata: { name: "gpu", namespace: "adm" },
      spec: { spec: { devices: { requests: [{ name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com", count: 1 } }] } } }
    }
    await resource.createNamespacedResourceClaimTemplate({ namespace: "adm", body: template })
    const { code, body } = await failure(
      resource.patchNamespacedResourceClaimTemplate({ namespace: "adm", name: "gpu", body: [{ op: "replace", path: "/spec/spec/devices/requests/0/exactly/count", value: 2 }] })
    )
    expect(code).toBe(422)
    expect((body["details"] as { causes: Array<{ field: string }> }).causes.map((cause) => cause.field)).toEqual(["spec"])
  })
})

describe("admission of custom resources against their CRD schemas", () => {
  const dgd = (replicas: unknown) => ({
    apiVersion: "nvidia.com/v1alpha1",
    kind: "DynamoGraphDeployment",
    metadata: { name: "bench", namespace: "adm" },
    spec: { backendFramework: "vllm", services: { Frontend: { componentType: "frontend", replicas } } }
  })

  it("refuses a DynamoGraphDeployment with replicas \"two\": 422 with the field path", async () => {
    const { code, body } = await failure(custom.createNamespacedCustomObject({ group: "nvidia.com", version: "v1alpha1", namespace: "adm", plural: "dynamographdeployments", body: dgd("two") }))
    expect(code).toBe(422)
    expect(body["message"]).toBe(
      'DynamoGraphDeployment.nvidia.com "bench" is invalid: [spec.services.Frontend.replicas: Invalid value: "string": spec.services.Frontend.replicas in body must be of type integer: "string", ' +
        "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"
    )
    expect((body["details"] as { causes: Array<{ field: string; reason: string }> }).causes.map((cause) => [cause.field, cause.reason])).toEqual([
      ["spec.services.Frontend.replicas", "FieldValueTypeInvalid"],
      ["<nil>", "FieldValueInvalid"]
    ])
  })

  it("refuses a TrainJob without spec.runtimeRef: 422 Required value", async () => {
    const { code, body } = await failure(
      custom.createNamespacedCustomObject({
        group: "trainer.kubeflow.org",
        version: "v1alpha1",
        namespace: "adm",
        plural: "trainjobs",
        body: { apiVersion: "trainer.kubeflow.org/v1alpha1", kind: "TrainJob", metadata: { name: "nccl" }, spec: { trainer: { numNodes: 2 } } }
      })
    )
    expect(code).toBe(422)
    expect((body["details"] as { causes: Array<{ field: string; reason: string }> }).causes[0]).toEqual({ reason: "FieldValueRequired", message: "Required value", field: "spec.runtimeRef" })
  })

  it("defaults runtimeRef.kind and prunes unknown fields of a TrainJob (GET shows the stored form)", async () => {
    const warned = await raw("POST", "/apis/trainer.kubeflow.org/v1alpha1/namespaces/adm/trainjobs", {
      apiVersion: "trainer.kubeflow.org/v1alpha1",
      kind: "TrainJob",
      metadata: { name: "nccl" },
      spec: { runtimeRef: { name: "nccl-all-reduce-runtime" }, bogus: 1 }
    })
    expect(warned.code).toBe(201)
    expect(warned.warnings).toBe('299 - "unknown field \\"spec.bogus\\""')
    const stored = (await custom.getNamespacedCustomObject({ group: "trainer.kubeflow.org", version: "v1alpha1", namespace: "adm", plural: "trainjobs", name: "nccl" })) as {
      spec: Record<string, unknown>
    }
    expect(stored.spec["runtimeRef"]).toEqual({ name: "nccl-all-reduce-runtime", apiGroup: "trainer.kubeflow.org", kind: "ClusterTrainingRuntime" })
    expect(stored.spec["bogus"]).toBeUndefined()
  })

  it("serves each custom resource's schema in its /openapi/v3 document", async () => {
    const root = (await (await fetch(`${h.sim.url}/openapi/v3`)).json()) as { paths: Record<string, { serverRelativeURL: string }> }
    const document = (await (await fetch(`${h.sim.url}${root.paths["apis/trainer.kubeflow.org/v1alpha1"]!.serverRelativeURL}`)).json()) as {
      paths: Record<string, { patch?: { parameters: Array<{ name: string }>; "x-kubernetes-group-version-kind": object } }>
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> }
    }
    const patch = document.paths["/apis/trainer.kubeflow.org/v1alpha1/namespaces/{namespace}/trainjobs/{name}"]!.patch!
    expect(patch["x-kubernetes-group-version-kind"]).toEqual({ group: "trainer.kubeflow.org", version: "v1alpha1", kind: "TrainJob" })
    expect(patch.parameters.map((parameter) => parameter.name)).toEqual(["dryRun", "fieldManager", "fieldValidation", "force"])
    expect(Object.keys(document.components.schemas["org.kubeflow.trainer.v1alpha1.TrainJob"]!.properties!).sort()).toEqual(["apiVersion", "kind", "metadata", "spec", "status"])
  })
})
