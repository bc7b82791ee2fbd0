import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startSim, type Sim } from "../src/index.ts"
import { kubectl, kubectlBackground, kubectlPath, manifest } from "./support/kubectl.ts"
import { eventually } from "./support/sim.ts"

let sim: Sim
const k = (...args: Array<string>) => kubectl(sim.kubeconfigPath, args)
const ok = async (...args: Array<string>) => {
  const result = await k(...args)
  if (result.status !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${result.status}: ${result.stderr}`)
  return result.stdout
}
/** Creates a manifest with `kubectl create -f` (validated by the server: kubectl sends `fieldValidation=Strict`). */
const create = (yaml: string) => ok("create", "-f", manifest("object.yaml", yaml))

beforeAll(async () => {
  kubectlPath()
  sim = await startSim({ bookmarkIntervalMs: 200 })
}, 120_000)
afterAll(async () => {
  await sim.stop()
})

const WIDGET_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList, shortNames: [gd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
`

describe("kubectl 1.35 against kube-sim", async () => {
  it("reports its version and lists api-resources, including a CRD's kind once Established", async () => {
    expect(await ok("version", "-o", "json")).toContain("\"gitVersion\"")
    const before = await ok("api-resources")
    expect(before).toMatch(/^configmaps\s+cm\s+v1\s+true\s+ConfigMap$/m)
    expect(before).toMatch(/^jobs\s+batch\/v1\s+true\s+Job$/m)
    expect(before).toMatch(/^resourceclaims\s+resource\.k8s\.io\/v1\s+true\s+ResourceClaim$/m)
    await create(WIDGET_CRD)
    expect(await ok("wait", "--for=condition=Established", "crd/gadgets.example.com", "--timeout=10s")).toBe("customresourcedefinition.apiextensions.k8s.io/gadgets.example.com condition met\n")
    expect(await ok("api-resources", "--api-group=example.com")).toMatch(/^gadgets\s+gd\s+example\.com\/v1\s+true\s+Gadget$/m)
  })

  it("creates, gets with selectors, jsonpath and yaml, patches and deletes configmaps", async () => {
    await ok("create", "namespace", "kc1", "--dry-run=client", "-o", "yaml")
    await create("apiVersion: v1\nkind: Namespace\nmetadata: {name: kc1}\n")
    expect(await ok("wait", "--for=jsonpath={.status.phase}=Active", "namespace/kc1", "--timeout=10s")).toBe("namespace/kc1 condition met\n")
    await create("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: kc1, labels: {tier: gpu}}\ndata: {k: v}\n")
    await create("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: kc1, labels: {tier: cpu}}\n")
    expect(await ok("get", "cm", "-n", "kc1", "-l", "tier=gpu", "-o", "jsonpath={.items[*].metadata.name}")).toBe("a")
    expect(await ok("get", "cm", "-n", "kc1", "--field-selector", "metadata.name=b", "-o", "name")).toBe("configmap/b\n")
    const table = await ok("get", "cm", "-n", "kc1")
    expect(table.split("\n")[0]).toMatch(/^NAME\s+DATA\s+AGE$/)
    expect(table).toMatch(/^a\s+1\s+\d+s$/m)
    expect(await ok("get", "cm", "a", "-n", "kc1", "-o", "yaml")).toMatch(/^data:\n {2}k: v\nkind: ConfigMap\n/m)
    expect(await ok("patch", "cm", "a", "-n", "kc1", "--type", "merge", "-p", "{\"data\":{\"m\":\"1\"}}")).toBe("configmap/a patched\n")
    expect(await ok("patch", "cm", "a", "-n", "kc1", "--type", "json", "-p", "[{\"op\":\"remove\",\"path\":\"/data/k\"}]")).toBe("configmap/a patched\n")
    expect(await ok("get", "cm", "a", "-n", "kc1", "-o", "jsonpath={.data}")).toBe("{\"m\":\"1\"}")
    expect(await ok("delete", "cm", "b", "-n", "kc1", "--wait")).toBe("configmap \"b\" deleted from kc1 namespace\n")
    const missing = await k("get", "cm", "b", "-n", "kc1")
    expect(missing.status).toBe(1)
    expect(missing.stderr).toBe("Error from server (NotFound): configmaps \"b\" not found\n")
  })

  it("prints ADDED, MODIFIED and DELETED in order with get -w --output-watch-events", async () => {
    await create("apiVersion: v1\nkind: Namespace\nmetadata: {name: kcw}\n")
    const watch = kubectlBackground(sim.kubeconfigPath, ["get", "configmaps", "-n", "kcw", "-w", "--output-watch-events"])
    await eventually(() => (sim.audit.filter({ verb: "watch", resource: "configmaps", namespace: "kcw" }).length > 0 ? true : undefined), 10_000)
    await create("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w, namespace: kcw}\n")
    await ok("patch", "cm", "w", "-n", "kcw", "--type", "merge", "-p", "{\"data\":{\"x\":\"1\"}}")
    await ok("delete", "cm", "w", "-n", "kcw")
    await eventually(() => (watch.stdout().includes("DELETED") ? true : undefined), 10_000)
    const { stdout } = await watch.stop()
    const rows = stdout.trim().split("\n")
    expect(rows[0]).toMatch(/^EVENT\s+NAME\s+DATA\s+AGE$/)
    expect(rows.slice(1).map((row) => row.split(/\s+/).slice(0, 3).join(" "))).toEqual(["ADDED w 0", "MODIFIED w 1", "DELETED w 1"])
  })

  it("waits for a deletion, and deletes an owner's dependents first with --cascade=foreground", async () => {
    await create("apiVersion: v1\nkind: Namespace\nmetadata: {name: kcd}\n")
    await create("apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: kcd}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: main, image: busybox:1.37}]\n")
    const job = JSON.parse(await ok("get", "job", "j", "-n", "kcd", "-o", "json"))
    await create(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dep\n  namespace: kcd\n  finalizers: [example.com/hold]\n  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: j, uid: ${job.metadata.uid}, blockOwnerDeletion: true}]\n`)
    const deletion = kubectlBackground(sim.kubeconfigPath, ["delete", "job", "j", "-n", "kcd", "--cascade=foreground", "--wait", "--timeout=20s"])
    await eventually(async () => {
      const dep = JSON.parse(await ok("get", "cm", "dep", "-n", "kcd", "-o", "json"))
      return dep.metadata.deletionTimestamp === undefined ? undefined : true
    }, 10_000)
    expect(JSON.parse(await ok("get", "job", "j", "-n", "kcd", "-o", "json")).metadata.finalizers).toEqual(["foregroundDeletion"])
    const waiter = kubectlBackground(sim.kubeconfigPath, ["wait", "--for=delete", "cm/dep", "-n", "kcd", "--timeout=20s"])
    await eventually(() => (sim.audit.filter({ verb: "watch", resource: "configmaps", namespace: "kcd" }).length > 0 ? true : undefined), 10_000)
    await ok("patch", "cm", "dep", "-n", "kcd", "--type", "merge", "-p", "{\"metadata\":{\"finalizers\":null}}")
    expect(await waiter.exited).toBe(0)
    expect(waiter.stdout()).toBe("configmap/dep condition met\n")
    expect(await deletion.exited).toBe(0)
    expect(deletion.stdout()).toBe("job.batch \"j\" deleted from kcd namespace\n")
  })

  it("serves custom resources and ResourceClaims with their printer columns", async () => {
    await create("apiVersion: v1\nkind: Namespace\nmetadata: {name: kcr}\n")
    await create("apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g1, namespace: kcr}\nspec: {size: 3}\n")
    const gadgets = await ok("get", "gd", "-n", "kcr")
    expect(gadgets.split("\n")[0]).toMatch(/^NAME\s+SIZE$/)
    expect(gadgets).toMatch(/^g1\s+3$/m)
    await create("apiVersion: resource.k8s.io/v1\nkind: ResourceClaim\nmetadata: {name: gpu, namespace: kcr}\nspec:\n  devices:\n    requests:\n    - name: gpu\n      exactly: {deviceClassName: gpu.nvidia.com}\n")
    expect(await ok("get", "resourceclaims", "-n", "kcr", "-o", "name")).toBe("resourceclaim.resource.k8s.io/gpu\n")
    expect(await ok("get", "resourceclaim", "gpu", "-n", "kcr", "-o", "jsonpath={.spec.devices.requests[0].exactly.deviceClassName}")).toBe("gpu.nvidia.com")
  })

  it("prints and follows pod logs", async () => {
    await create("apiVersion: v1\nkind: Namespace\nmetadata: {name: kcl}\n")
    await create("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: kcl}\nspec:\n  containers: [{name: main, image: busybox:1.37}]\n")
    sim.logs.append("kcl", "p", "main", "first\nsecond\n")
    expect(await ok("logs", "p", "-n", "kcl")).toBe("first\nsecond\n")
    expect(await ok("logs", "p", "-n", "kcl", "--tail=1")).toBe("second\n")
    const follow = kubectlBackground(sim.kubeconfigPath, ["logs", "-f", "p", "-n", "kcl"])
    await eventually(() => (follow.stdout().includes("second") ? true : undefined), 10_000)
    sim.logs.append("kcl", "p", "main", "third\n")
    sim.logs.end("kcl", "p", "main")
    expect(await follow.exited).toBe(0)
    expect(follow.stdout()).toBe("first\nsecond\nthird\n")
  })

  it("reaches a service through the API server's proxy with get --raw and create --raw", async () => {
    await create("apiVersion: v1\nkind: Namespace\nmetadata: {name: kcp}\n")
    await create("apiVersion: v1\nkind: Service\nmetadata: {name: frontend, namespace: kcp}\nspec:\n  ports: [{port: 8000}]\n")
    sim.registerProxy("kcp", "frontend", 8000, (request, response, path) => {
      let body = ""
      request.on("data", (chunk: Buffer) => (body += chunk.toString()))
      request.on("end", async () => {
        response.writeHead(200, { "Content-Type": "application/json" })
        response.end(JSON.stringify({ method: request.method, path, body }))
      })
    })
    const base = "/api/v1/namespaces/kcp/services/frontend:8000/proxy"
    expect(JSON.parse(await ok("get", "--raw", `${base}/v1/models`))).toEqual({ method: "GET", path: "/v1/models", body: "" })
    const posted = JSON.parse(await ok("create", "--raw", `${base}/v1/chat/completions`, "-f", manifest("body.json", "{\"model\":\"m\"}")))
    expect(posted).toEqual({ method: "POST", path: "/v1/chat/completions", body: "{\"model\":\"m\"}" })
  })
})
