import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bundledCrds, startSim, type Sim } from "../src/index.ts"
import { kubectl, kubectlPath, manifest } from "./support/kubectl.ts"
import { eventually } from "./support/sim.ts"

let sim: Sim
const k = (...args: Array<string>) => kubectl(sim.kubeconfigPath, args)
const ok = async (...args: Array<string>) => {
  const result = await k(...args)
  if (result.status !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${result.status}: ${result.stderr}`)
  return result.stdout
}
const file = (yaml: string) => manifest("object.yaml", yaml)

beforeAll(async () => {
  kubectlPath()
  sim = await startSim()
  sim.seed([...bundledCrds("dynamo"), ...bundledCrds("kubeflow-trainer-v2.2.0")])
  sim.seed(["ka", "kv"].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })))
  await eventually(async () => ((await k("get", "crd", "trainjobs.trainer.kubeflow.org", "-o", "jsonpath={.status.conditions[?(@.type==\"Established\")].status}")).stdout === "True" ? true : undefined), 10_000)
}, 120_000)
afterAll(async () => {
  await sim.stop()
})

const CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ka}\ndata: {mode: fast}\n"

const JOB = (name: string, image = "busybox:1.37") => `apiVersion: batch/v1
kind: Job
metadata: {name: ${name}, namespace: kv}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: "${image}"}]
`

const DGD = (replicas: string) => `apiVersion: nvidia.com/v1alpha1
kind: DynamoGraphDeployment
metadata: {name: bench, namespace: kv}
spec:
  backendFramework: vllm
  services:
    Frontend: {componentType: frontend, replicas: ${replicas}}
`

describe("kubectl apply against kube-sim", () => {
  it("validates on the server: kubectl finds fieldValidation in /openapi/v3 and sends Strict", async () => {
    const root = JSON.parse(await ok("get", "--raw", "/openapi/v3")) as { paths: Record<string, { serverRelativeURL: string }> }
    expect(root.paths["api/v1"]!.serverRelativeURL).toMatch(/^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]{128}$/)
    expect(Object.keys(root.paths)).toContain("apis/nvidia.com/v1alpha1")
    const unknown = await k("create", "-f", file("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: strict, namespace: ka}\nbogus: 1\n"))
    expect(unknown.status).toBe(1)
    expect(unknown.stderr).toContain('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"')
    expect((await k("get", "cm", "strict", "-n", "ka")).status).toBe(1)
  })

  it("prints created, then unchanged, then configured", async () => {
    const path = file(CONFIGMAP)
    expect(await ok("apply", "-f", path)).toBe("configmap/settings created\n")
    expect(await ok("apply", "-f", path)).toBe("configmap/settings unchanged\n")
    expect(await ok("apply", "-f", file(CONFIGMAP.replace("fast", "slow")))).toBe("configmap/settings configured\n")
    const live = JSON.parse(await ok("get", "cm", "settings", "-n", "ka", "-o", "json", "--show-managed-fields"))
    expect(live.data).toEqual({ mode: "slow" })
    expect(live.metadata.managedFields.map((entry: { manager: string; operation: string }) => `${entry.manager}/${entry.operation}`)).toEqual(["kubectl-client-side-apply/Update"])
  })

  it("applies server-side, and a second manager conflicts on an owned field unless it forces", async () => {
    const path = file("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned, namespace: ka}\ndata: {replicas: \"2\", note: shared}\n")
    expect(await ok("apply", "--server-side", "-f", path)).toBe("configmap/owned serverside-applied\n")
    expect(await ok("apply", "--server-side", "-f", path)).toBe("configmap/owned serverside-applied\n")
    const rival = file("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned, namespace: ka}\ndata: {replicas: \"4\", note: shared}\n")
    const refused = await k("apply", "--server-side", "--field-manager=scaler", "-f", rival)
    expect(refused.status).toBe(1)
    expect(refused.stderr.split("\n")[0]).toBe('error: Apply failed with 1 conflict: conflict with "kubectl": .data.replicas')
    expect(await ok("get", "cm", "owned", "-n", "ka", "-o", "jsonpath={.data.replicas}")).toBe("2")
    expect(await ok("apply", "--server-side", "--field-manager=scaler", "--force-conflicts", "-f", rival)).toBe("configmap/owned serverside-applied\n")
    const live = JSON.parse(await ok("get", "cm", "owned", "-n", "ka", "-o", "json", "--show-managed-fields"))
    expect(live.data).toEqual({ replicas: "4", note: "shared" })
    const owners = Object.fromEntries(live.metadata.managedFields.map((entry: { manager: string; fieldsV1: { "f:data"?: object } }) => [entry.manager, Object.keys(entry.fieldsV1["f:data"] ?? {}).sort()]))
    expect(owners).toEqual({ kubectl: ["f:note"], scaler: ["f:note", "f:replicas"] })
  })

  it("refuses a DynamoGraphDeployment whose replicas is a string, with the field path", async () => {
    const result = await k("apply", "-f", file(DGD('"two"')))
    expect(result.status).toBe(1)
    expect(result.stderr).toBe(
      [
        'The DynamoGraphDeployment "bench" is invalid: ',
        '* spec.services.Frontend.replicas: Invalid value: "string": spec.services.Frontend.replicas in body must be of type integer: "string"',
        "* <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        ""
      ].join("\n")
    )
    expect(await ok("apply", "-f", file(DGD("1")))).toBe("dynamographdeployment.nvidia.com/bench created\n")
  })

  it("refuses a Job whose name is not DNS-1123, and an update of a Job's pod template", async () => {
    const bad = await k("apply", "-f", file(JOB("Bench_Job")))
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/^The Job "Bench_Job" is invalid: metadata\.name: Invalid value: "Bench_Job": a lowercase RFC 1123 subdomain must consist of /)
    expect(await ok("apply", "-f", file(JOB("bench")))).toBe("job.batch/bench created\n")
    const changed = await k("apply", "-f", file(JOB("bench", "busybox:1.36")))
    expect(changed.status).toBe(1)
    expect(changed.stderr).toMatch(/^The Job "bench" is invalid: spec\.template: Invalid value: core\.PodTemplateSpec\{/)
    expect(changed.stderr).toMatch(/: field is immutable\n$/)
    expect(await ok("get", "job", "bench", "-n", "kv", "-o", "jsonpath={.spec.template.spec.containers[0].image}")).toBe("busybox:1.37")
  })

  it("refuses a TrainJob without runtimeRef; defaults runtimeRef.kind and prunes unknown fields", async () => {
    const missing = await k("apply", "-f", file("apiVersion: trainer.kubeflow.org/v1alpha1\nkind: TrainJob\nmetadata: {name: nccl, namespace: kv}\nspec:\n  trainer: {numNodes: 2}\n"))
    expect(missing.status).toBe(1)
    expect(missing.stderr.split("\n").slice(0, 2)).toEqual(['The TrainJob "nccl" is invalid: ', "* spec.runtimeRef: Required value"])
    const applied = await k(
      "apply",
      "--validate=warn",
      "-f",
      file("apiVersion: trainer.kubeflow.org/v1alpha1\nkind: TrainJob\nmetadata: {name: nccl, namespace: kv}\nspec:\n  runtimeRef: {name: nccl-all-reduce-runtime}\n  bogus: true\n")
    )
    expect(applied.status).toBe(0)
    expect(applied.stdout).toBe("trainjob.trainer.kubeflow.org/nccl created\n")
    expect(applied.stderr).toContain('Warning: unknown field "spec.bogus"')
    const live = JSON.parse(await ok("get", "trainjob", "nccl", "-n", "kv", "-o", "json"))
    expect(live.spec.runtimeRef).toEqual({ name: "nccl-all-reduce-runtime", apiGroup: "trainer.kubeflow.org", kind: "ClusterTrainingRuntime" })
    expect(live.spec.bogus).toBeUndefined()
  })
})
