import * as k8s from "@kubernetes/client-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually, failure, type Harness, harness } from "./support/sim.ts"

let h: Harness
let discovery: k8s.DiscoveryV1Api
let events: k8s.EventsV1Api
let coordination: k8s.CoordinationV1Api
let resource: k8s.ResourceV1Api
let custom: k8s.CustomObjectsApi

beforeAll(async () => {
  h = await harness()
  discovery = h.kc.makeApiClient(k8s.DiscoveryV1Api)
  events = h.kc.makeApiClient(k8s.EventsV1Api)
  coordination = h.kc.makeApiClient(k8s.CoordinationV1Api)
  resource = h.kc.makeApiClient(k8s.ResourceV1Api)
  custom = h.kc.makeApiClient(k8s.CustomObjectsApi)
  await installCrd("gadgets.example.com", "Cluster", { plural: "gadgets", kind: "Gadget" }, {})
  await installCrd("pools.example.com", "Namespaced", { plural: "pools", kind: "Pool" }, {
    status: {},
    scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".status.selector" }
  })
})
afterAll(async () => {
  await h.sim.stop()
})

const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)
const jsonPatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch)

let namespaces = 0
const ns = async (): Promise<string> => {
  const name = `kinds-${++namespaces}`
  await h.core.createNamespace({ body: { metadata: { name } } })
  return name
}

const installCrd = async (name: string, scope: "Cluster" | "Namespaced", names: { plural: string; kind: string }, subresources: object) => {
  await h.objects.create({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name },
    spec: {
      group: "example.com",
      scope,
      names,
      versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", x_kubernetes_preserve_unknown_fields: true } }, subresources }]
    }
  } as k8s.KubernetesObject)
  await eventually(async () => {
    const crd = (await h.objects.read({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name } })) as { status?: { conditions?: Array<{ type: string; status: string }> } }
    return crd.status?.conditions?.some((condition) => condition.type === "Established" && condition.status === "True") ? true : undefined
  })
}

type Seen = Array<[string, { metadata: { name: string; resourceVersion: string; finalizers?: Array<string> } } & Record<string, any>]>

/** Watches `path` from `resourceVersion` until `until` holds, then stops. */
const watchUntil = async (path: string, params: Record<string, string>, act: () => Promise<unknown>, until: (seen: Seen) => boolean): Promise<Seen> => {
  const seen: Seen = []
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => (finish = resolve))
  const controller = await new k8s.Watch(h.kc).watch(path, params, (type, object) => seen.push([type, object]), () => finish())
  await act()
  await eventually(() => (until(seen) ? true : undefined))
  controller.abort()
  await finished
  return seen
}

const names = (items: ReadonlyArray<{ metadata?: { name?: string } }>) => items.map((item) => item.metadata?.name)

interface KindCase {
  readonly label: string
  readonly apiVersion: string
  readonly kind: string
  readonly namespaced: boolean
  readonly collection: (namespace: string) => string
  readonly notFound: (name: string) => string
  readonly make: (name: string, namespace: string | undefined) => Record<string, unknown>
  /** Deleted with the orphan finalizer first (batch/v1 Jobs' default propagation). */
  readonly orphans?: boolean
}

type Rest = Record<string, unknown> | ((namespace: string | undefined) => Record<string, unknown>)
const restOf = (rest: Rest, namespace: string | undefined) => (typeof rest === "function" ? rest(namespace) : rest)

const core = (kind: string, resource: string, namespaced: boolean, rest: Rest = {}): KindCase => ({
  label: `v1 ${kind}`,
  apiVersion: "v1",
  kind,
  namespaced,
  collection: (namespace) => (namespaced ? `/api/v1/namespaces/${namespace}/${resource}` : `/api/v1/${resource}`),
  notFound: (name) => `${resource} "${name}" not found`,
  make: (name, namespace) => ({ apiVersion: "v1", kind, metadata: { name, ...(namespace === undefined ? {} : { namespace }) }, ...restOf(rest, namespace) })
})

const grouped = (group: string, kind: string, resource: string, namespaced: boolean, rest: Rest = {}): KindCase => ({
  label: `${group}/v1 ${kind}`,
  apiVersion: `${group}/v1`,
  kind,
  namespaced,
  collection: (namespace) => (namespaced ? `/apis/${group}/v1/namespaces/${namespace}/${resource}` : `/apis/${group}/v1/${resource}`),
  notFound: (name) => `${resource}.${group} "${name}" not found`,
  make: (name, namespace) => ({ apiVersion: `${group}/v1`, kind, metadata: { name, ...(namespace === undefined ? {} : { namespace }) }, ...restOf(rest, namespace) })
})

const KINDS: ReadonlyArray<KindCase> = [
  core("Node", "nodes", false, { spec: { podCIDR: "10.244.1.0/24" } }),
  core("Pod", "pods", true, { spec: { containers: [{ name: "main", image: "busybox:1.37" }] } }),
  core("Service", "services", true, { spec: { ports: [{ port: 80 }] } }),
  grouped("discovery.k8s.io", "EndpointSlice", "endpointslices", true, { addressType: "IPv4", endpoints: [{ addresses: ["10.0.0.1"] }] }),
  core("ConfigMap", "configmaps", true, { data: { key: "value" } }),
  core("Secret", "secrets", true, { data: { key: "dmFsdWU=" } }),
  core("ServiceAccount", "serviceaccounts", true),
  core("Event", "events", true, (namespace) => ({ involvedObject: { kind: "Pod", name: "p", namespace }, reason: "Started", message: "started", type: "Normal" })),
  grouped("events.k8s.io", "Event", "events", true, (namespace) => ({ eventTime: "2025-01-01T00:00:00.000000Z", regarding: { kind: "Pod", name: "p", namespace }, reason: "Started", note: "started", type: "Normal", action: "Start", reportingController: "kubelet", reportingInstance: "node-1" })),
  { ...grouped("batch", "Job", "jobs", true, { spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox:1.37" }] } } } }), orphans: true },
  grouped("coordination.k8s.io", "Lease", "leases", true, { spec: { holderIdentity: "a", leaseDurationSeconds: 15 } }),
  grouped("resource.k8s.io", "DeviceClass", "deviceclasses", false, { spec: { selectors: [{ cel: { expression: "device.driver == 'gpu.nvidia.com'" } }] } }),
  grouped("resource.k8s.io", "ResourceSlice", "resourceslices", false, { spec: { driver: "gpu.nvidia.com", nodeName: "node-1", pool: { name: "node-1", generation: 1, resourceSliceCount: 1 }, devices: [{ name: "gpu-0" }] } }),
  grouped("resource.k8s.io", "ResourceClaimTemplate", "resourceclaimtemplates", true, { spec: { spec: { devices: { requests: [{ name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com" } }] } } } }),
  grouped("example.com", "Gadget", "gadgets", false, { spec: { size: 1 } }),
  grouped("example.com", "Pool", "pools", true, { spec: { replicas: 1 } })
]

describe("every served kind through KubernetesObjectApi", () => {
  it.each(KINDS)("$label: create, read, list, replace, watch and delete", async (kind) => {
    const namespace = kind.namespaced ? await ns() : undefined
    const name = `obj-${kind.kind.toLowerCase()}`
    const header = { apiVersion: kind.apiVersion, kind: kind.kind, metadata: { name, ...(namespace === undefined ? {} : { namespace }) } }
    const created = await h.objects.create(kind.make(name, namespace) as k8s.KubernetesObject)
    expect(created.metadata?.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    expect([created.apiVersion, created.kind, created.metadata?.namespace]).toEqual([kind.apiVersion, kind.kind, namespace])
    const read = await h.objects.read(header)
    expect([read.metadata?.uid, read.metadata?.resourceVersion]).toEqual([created.metadata?.uid, created.metadata?.resourceVersion])
    const list = await h.objects.list(kind.apiVersion, kind.kind, namespace)
    expect(names(list.items)).toContain(name)
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThanOrEqual(Number(created.metadata?.resourceVersion))
    const seen = await watchUntil(
      kind.collection(namespace ?? ""),
      { resourceVersion: list.metadata!.resourceVersion! },
      async () => {
        const replaced = await h.objects.replace({ ...read, metadata: { ...read.metadata, labels: { changed: "yes" } } })
        expect(replaced.metadata?.labels).toEqual({ changed: "yes" })
        expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion))
        await h.objects.delete(header)
      },
      (all) => all.some(([type]) => type === "DELETED")
    )
    expect(seen.map(([type, object]) => `${type} ${object.metadata.name} ${object.apiVersion} ${object.kind} ${object.metadata.finalizers ?? "-"}`)).toEqual([
      `MODIFIED ${name} ${kind.apiVersion} ${kind.kind} -`,
      ...(kind.orphans === true ? [`MODIFIED ${name} ${kind.apiVersion} ${kind.kind} orphan`] : []),
      `DELETED ${name} ${kind.apiVersion} ${kind.kind} -`
    ])
    const gone = await failure(h.objects.read(header))
    expect([gone.code, gone.body["reason"], gone.body["message"]]).toEqual([404, "NotFound", kind.notFound(name)])
  })
})

describe("nodes", () => {
  it("writes status through replaceNodeStatus and leaves the spec alone, and the other way round", async () => {
    await h.core.createNode({ body: { metadata: { name: "gpu-node" }, spec: { podCIDR: "10.244.0.0/24" }, status: { capacity: { "nvidia.com/gpu": "8" } } } })
    const node = await h.core.readNode({ name: "gpu-node" })
    expect(node.status?.capacity).toEqual({ "nvidia.com/gpu": "8" })
    const statusWritten = await h.core.replaceNodeStatus({
      name: "gpu-node",
      body: { ...node, spec: { podCIDR: "10.244.9.0/24", unschedulable: true }, status: { capacity: { "nvidia.com/gpu": "4" }, allocatable: { "nvidia.com/gpu": "4" } } }
    })
    expect(statusWritten.spec).toEqual({ podCIDR: "10.244.0.0/24" })
    expect(statusWritten.status?.allocatable).toEqual({ "nvidia.com/gpu": "4" })
    const specWritten = await h.core.replaceNode({ name: "gpu-node", body: { ...statusWritten, spec: { podCIDR: "10.244.0.0/24", unschedulable: true }, status: {} } })
    expect(specWritten.spec?.unschedulable).toBe(true)
    expect(specWritten.status?.capacity).toEqual({ "nvidia.com/gpu": "4" })
    const cordoned = await h.core.listNode({ fieldSelector: "spec.unschedulable=true" })
    expect(names(cordoned.items)).toEqual(["gpu-node"])
    await h.core.deleteNode({ name: "gpu-node" })
  })
})

describe("pods", () => {
  it("defaults a created pod as a real server does and resets the status it was sent", async () => {
    const namespace = await ns()
    const pod = await h.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "trainer" },
        spec: { containers: [{ name: "main", image: "nvcr.io/nvidia/pytorch:25.01-py3", resources: { limits: { cpu: "2", memory: "8Gi", "nvidia.com/gpu": "1" } } }] },
        status: { phase: "Running" }
      }
    })
    expect(pod.status).toEqual({ phase: "Pending", qosClass: "Guaranteed" })
    expect(pod.spec?.containers[0]?.resources?.requests).toEqual({ cpu: "2", memory: "8Gi", "nvidia.com/gpu": "1" })
    expect(pod.spec?.containers[0]).toMatchObject({ imagePullPolicy: "IfNotPresent", terminationMessagePath: "/dev/termination-log", terminationMessagePolicy: "File" })
    expect(pod.spec).toMatchObject({
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
      schedulerName: "default-scheduler",
      terminationGracePeriodSeconds: 30,
      serviceAccountName: "default",
      serviceAccount: "default",
      enableServiceLinks: true,
      priority: 0,
      preemptionPolicy: "PreemptLowerPriority",
      securityContext: {}
    })
    expect(pod.spec?.tolerations).toEqual([
      { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 }
    ])
    const besteffort = await h.core.createNamespacedPod({ namespace, body: { metadata: { name: "idle" }, spec: { containers: [{ name: "main", image: "busybox" }] } } })
    expect([besteffort.status?.qosClass, besteffort.spec?.containers[0]?.imagePullPolicy]).toEqual(["BestEffort", "Always"])
    const burstable = await h.core.createNamespacedPod({ namespace, body: { metadata: { name: "some" }, spec: { containers: [{ name: "main", image: "busybox:1.37", resources: { requests: { cpu: "100m" } } }] } } })
    expect(burstable.status?.qosClass).toBe("Burstable")
    const tolerant = await h.core.createNamespacedPod({ namespace, body: { metadata: { name: "tolerant" }, spec: { tolerations: [{ operator: "Exists" }], containers: [{ name: "main", image: "busybox:1.37" }] } } })
    expect(tolerant.spec?.tolerations).toEqual([{ operator: "Exists" }])
  })

  it("writes status through replaceNamespacedPodStatus and selects on spec.nodeName and status.phase across namespaces", async () => {
    const [first, second] = [await ns(), await ns()]
    const placed: Array<[string, string, string, string]> = [
      [first, "a", "node-1", "Running"],
      [first, "b", "node-2", "Running"],
      [second, "c", "node-1", "Pending"],
      [second, "d", "node-1", "Running"]
    ]
    for (const [namespace, name, nodeName, phase] of placed) {
      const pod = await h.core.createNamespacedPod({ namespace, body: { metadata: { name }, spec: { nodeName, containers: [{ name: "main", image: "busybox:1.37" }] } } })
      if (phase !== "Running") continue
      const running = await h.core.replaceNamespacedPodStatus({ name, namespace, body: { ...pod, spec: { ...pod.spec!, nodeName: "elsewhere" }, status: { phase: "Running", podIP: "10.244.0.5" } } })
      expect([running.spec?.nodeName, running.status?.phase, running.status?.podIP]).toEqual([nodeName, "Running", "10.244.0.5"])
    }
    const on = (fieldSelector: string) => h.core.listPodForAllNamespaces({ fieldSelector }).then((list) => list.items.map((pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`))
    expect(await on("spec.nodeName=node-1")).toEqual([`${first}/a`, `${second}/c`, `${second}/d`])
    expect(await on("status.phase=Running,spec.nodeName=node-1")).toEqual([`${first}/a`, `${second}/d`])
    expect(await on("status.phase!=Running,spec.nodeName=node-1")).toEqual([`${second}/c`])
    expect(await on("status.phase=Running,spec.nodeName=node-2")).toEqual([`${first}/b`])
    const bad = await failure(h.core.listPodForAllNamespaces({ fieldSelector: "spec.image=busybox" }))
    expect([bad.code, bad.body["message"]]).toEqual([400, "field label not supported: spec.image"])
  })

  it("answers the delete of a pod with the deleted pod", async () => {
    const namespace = await ns()
    await h.core.createNamespacedPod({ namespace, body: { metadata: { name: "p" }, spec: { containers: [{ name: "main", image: "busybox:1.37" }] } } })
    const deleted = await h.core.deleteNamespacedPod({ name: "p", namespace })
    expect([deleted.kind, deleted.metadata?.name]).toEqual(["Pod", "p"])
  })
})

describe("services", () => {
  it("defaults a service, allocates its cluster IP and node ports, and keeps them on a replace that leaves them out", async () => {
    const namespace = await ns()
    const service = await h.core.createNamespacedService({ namespace, body: { metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80 }] } } })
    expect(service.spec).toMatchObject({
      type: "ClusterIP",
      sessionAffinity: "None",
      internalTrafficPolicy: "Cluster",
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 80 }]
    })
    expect(service.spec?.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/)
    expect(service.spec?.clusterIPs).toEqual([service.spec?.clusterIP])
    expect(service.status).toEqual({ loadBalancer: {} })
    const replaced = await h.core.replaceNamespacedService({ name: "web", namespace, body: { metadata: { name: "web", labels: { tier: "front" } }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80 }] } } })
    expect([replaced.spec?.clusterIP, replaced.metadata?.labels]).toEqual([service.spec?.clusterIP, { tier: "front" }])
    const other = await h.core.createNamespacedService({ namespace, body: { metadata: { name: "api" }, spec: { type: "NodePort", ports: [{ port: 8080, targetPort: "http" }] } } })
    expect(other.spec?.clusterIP).not.toBe(service.spec?.clusterIP)
    expect(other.spec).toMatchObject({ externalTrafficPolicy: "Cluster", ports: [{ port: 8080, protocol: "TCP", targetPort: "http" }] })
    expect(other.spec?.ports?.[0]?.nodePort).toBeGreaterThanOrEqual(30000)
    expect(other.spec?.ports?.[0]?.nodePort).toBeLessThanOrEqual(32767)
    const deleted = await h.core.deleteNamespacedService({ name: "api", namespace })
    expect([deleted.kind, deleted.metadata?.name]).toEqual(["Service", "api"])
  })
})

describe("endpointslices", () => {
  it("creates, lists by the service-name label, replaces and deletes through DiscoveryV1Api", async () => {
    const namespace = await ns()
    const body = (name: string, service: string): k8s.V1EndpointSlice => ({
      metadata: { name, labels: { "kubernetes.io/service-name": service } },
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.244.0.7"], conditions: { ready: true } }],
      ports: [{ name: "http", port: 8000, protocol: "TCP" }]
    })
    await discovery.createNamespacedEndpointSlice({ namespace, body: body("frontend-abc", "frontend") })
    await discovery.createNamespacedEndpointSlice({ namespace, body: body("backend-xyz", "backend") })
    const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: "kubernetes.io/service-name=frontend" })
    expect(names(slices.items)).toEqual(["frontend-abc"])
    expect(slices.items[0]?.endpoints?.[0]).toEqual({ addresses: ["10.244.0.7"], conditions: { ready: true } })
    const read = await discovery.readNamespacedEndpointSlice({ name: "frontend-abc", namespace })
    const replaced = await discovery.replaceNamespacedEndpointSlice({ name: "frontend-abc", namespace, body: { ...read, endpoints: [{ addresses: ["10.244.0.8"], conditions: { ready: false } }] } })
    expect(replaced.endpoints?.[0]?.addresses).toEqual(["10.244.0.8"])
    await discovery.deleteNamespacedEndpointSlice({ name: "frontend-abc", namespace })
    expect(names((await discovery.listEndpointSliceForAllNamespaces({ labelSelector: "kubernetes.io/service-name" })).items)).toEqual(["backend-xyz"])
  })
})

describe("secrets and serviceaccounts", () => {
  it("defaults the type to Opaque, selects by type, and folds stringData into data", async () => {
    const namespace = await ns()
    await h.core.createNamespacedSecret({ namespace, body: { metadata: { name: "plain" }, stringData: { token: "s3cret" } } })
    await h.core.createNamespacedSecret({ namespace, body: { metadata: { name: "tls" }, type: "kubernetes.io/tls", data: { "tls.crt": "Y3J0", "tls.key": "a2V5" } } })
    const plain = await h.core.readNamespacedSecret({ name: "plain", namespace })
    expect([plain.type, plain.data, plain.stringData]).toEqual(["Opaque", { token: Buffer.from("s3cret").toString("base64") }, undefined])
    expect(names((await h.core.listNamespacedSecret({ namespace, fieldSelector: "type=Opaque" })).items)).toEqual(["plain"])
    expect(names((await h.core.listSecretForAllNamespaces({ fieldSelector: `type=kubernetes.io/tls,metadata.namespace=${namespace}` })).items)).toEqual(["tls"])
    const updated = await h.core.replaceNamespacedSecret({ name: "plain", namespace, body: { ...plain, stringData: { extra: "more" } } })
    expect(updated.data).toEqual({ token: Buffer.from("s3cret").toString("base64"), extra: Buffer.from("more").toString("base64") })
  })

  it("serves serviceaccounts and answers their delete with the deleted object", async () => {
    const namespace = await ns()
    await h.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "runner" }, automountServiceAccountToken: false } })
    expect((await h.core.readNamespacedServiceAccount({ name: "runner", namespace })).automountServiceAccountToken).toBe(false)
    const deleted = await h.core.deleteNamespacedServiceAccount({ name: "runner", namespace })
    expect([deleted.kind, deleted.metadata?.name]).toEqual(["ServiceAccount", "runner"])
  })
})

describe("events", () => {
  it("serves one store of events through core/v1 and events.k8s.io/v1, converted field by field", async () => {
    const namespace = await ns()
    await h.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name: "pod-a.1" },
        involvedObject: { kind: "Pod", name: "pod-a", namespace, apiVersion: "v1" },
        reason: "Pulled",
        message: "Successfully pulled image",
        type: "Normal",
        source: { component: "kubelet", host: "node-1" },
        count: 3,
        reportingComponent: "kubelet",
        reportingInstance: "node-1"
      }
    })
    const eventTime = new k8s.V1MicroTime("2025-03-01T12:00:00.000Z")
    await events.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name: "pod-b.1" },
        eventTime,
        regarding: { kind: "Pod", name: "pod-b", namespace, apiVersion: "v1" },
        reason: "FailedScheduling",
        note: "0/3 nodes are available",
        type: "Warning",
        action: "Scheduling",
        reportingController: "default-scheduler",
        reportingInstance: "default-scheduler-1"
      }
    })
    const asV1 = await events.readNamespacedEvent({ name: "pod-a.1", namespace })
    expect(asV1).toMatchObject({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      regarding: { kind: "Pod", name: "pod-a", namespace, apiVersion: "v1" },
      note: "Successfully pulled image",
      deprecatedSource: { component: "kubelet", host: "node-1" },
      deprecatedCount: 3,
      reportingController: "kubelet",
      reportingInstance: "node-1"
    })
    const asCore = await h.core.readNamespacedEvent({ name: "pod-b.1", namespace })
    expect(asCore).toMatchObject({
      apiVersion: "v1",
      kind: "Event",
      involvedObject: { kind: "Pod", name: "pod-b", namespace, apiVersion: "v1" },
      message: "0/3 nodes are available",
      reportingComponent: "default-scheduler",
      action: "Scheduling"
    })
    expect(new Date(asCore.eventTime!).getTime()).toBe(eventTime.getTime())
    expect(names((await h.core.listNamespacedEvent({ namespace })).items)).toEqual(["pod-a.1", "pod-b.1"])
    expect(names((await events.listNamespacedEvent({ namespace })).items)).toEqual(["pod-a.1", "pod-b.1"])
    expect(names((await h.core.listNamespacedEvent({ namespace, fieldSelector: "involvedObject.name=pod-b" })).items)).toEqual(["pod-b.1"])
    expect(names((await events.listNamespacedEvent({ namespace, fieldSelector: "regarding.name=pod-a" })).items)).toEqual(["pod-a.1"])
    expect(names((await events.listEventForAllNamespaces({ fieldSelector: `reportingController=default-scheduler,metadata.namespace=${namespace}` })).items)).toEqual(["pod-b.1"])
    expect(names((await events.listNamespacedEvent({ namespace, fieldSelector: "source=kubelet" })).items)).toEqual(["pod-a.1"])
    const refused = await failure(events.listNamespacedEvent({ namespace, fieldSelector: "involvedObject.name=pod-a" }))
    expect([refused.code, refused.body["message"]]).toEqual([400, "field label not supported: involvedObject.name"])
    const list = await events.listNamespacedEvent({ namespace })
    const seen = await watchUntil(
      `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
      { resourceVersion: list.metadata!.resourceVersion!, fieldSelector: "regarding.name=pod-c" },
      async () => {
        await h.core.createNamespacedEvent({ namespace, body: { metadata: { name: "pod-c.1" }, involvedObject: { kind: "Pod", name: "pod-c", namespace }, reason: "Killing", message: "Stopping container" } })
        await events.deleteNamespacedEvent({ name: "pod-c.1", namespace })
      },
      (all) => all.some(([type]) => type === "DELETED")
    )
    expect(seen.map(([type, object]) => [type, object.apiVersion, object.note, object.regarding.name])).toEqual([
      ["ADDED", "events.k8s.io/v1", "Stopping container", "pod-c"],
      ["DELETED", "events.k8s.io/v1", "Stopping container", "pod-c"]
    ])
    await h.core.deleteNamespacedEvent({ name: "pod-b.1", namespace })
    expect((await failure(events.readNamespacedEvent({ name: "pod-b.1", namespace }))).body["message"]).toBe('events.events.k8s.io "pod-b.1" not found')
  })
})

describe("jobs", () => {
  const jobBody = (name: string): k8s.V1Job => ({
    metadata: { name },
    spec: { template: { metadata: { labels: { app: "train" } }, spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox:1.37" }] } } }
  })

  it("defaults a job, generates its selector and starts it with an empty status", async () => {
    const namespace = await ns()
    const job = await h.batch.createNamespacedJob({ namespace, body: { ...jobBody("train"), status: { succeeded: 5 } } })
    const uid = job.metadata!.uid!
    expect(job.status).toEqual({})
    expect(job.metadata?.generation).toBe(1)
    expect(job.spec).toMatchObject({ completions: 1, parallelism: 1, backoffLimit: 6, completionMode: "NonIndexed", suspend: false, podReplacementPolicy: "TerminatingOrFailed" })
    expect(job.spec?.selector).toEqual({ matchLabels: { "batch.kubernetes.io/controller-uid": uid } })
    const labels = { app: "train", "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "train", "controller-uid": uid, "job-name": "train" }
    expect(job.spec?.template.metadata?.labels).toEqual(labels)
    expect(job.metadata?.labels).toEqual(labels)
    expect(job.spec?.template.spec).toMatchObject({ restartPolicy: "Never", dnsPolicy: "ClusterFirst", terminationGracePeriodSeconds: 30 })
  })

  it("writes status only through the status subresource, and bumps generation on spec changes only", async () => {
    const namespace = await ns()
    const job = await h.batch.createNamespacedJob({ namespace, body: jobBody("j") })
    const statusWritten = await h.batch.replaceNamespacedJobStatus({ name: "j", namespace, body: { ...job, spec: { ...job.spec!, parallelism: 9 }, status: { active: 1, ready: 1 } } })
    expect([statusWritten.spec?.parallelism, statusWritten.status, statusWritten.metadata?.generation]).toEqual([1, { active: 1, ready: 1 }, 1])
    const labelled = await h.batch.replaceNamespacedJob({ name: "j", namespace, body: { ...statusWritten, metadata: { ...statusWritten.metadata, labels: { run: "1" } }, status: { failed: 3 } } })
    expect([labelled.metadata?.labels, labelled.status, labelled.metadata?.generation]).toEqual([{ run: "1" }, { active: 1, ready: 1 }, 1])
    const specChanged = await h.batch.replaceNamespacedJob({ name: "j", namespace, body: { ...labelled, spec: { ...labelled.spec!, parallelism: 2 } } })
    expect([specChanged.spec?.parallelism, specChanged.metadata?.generation]).toEqual([2, 2])
    const patched = await h.batch.patchNamespacedJobStatus({ name: "j", namespace, body: { status: { succeeded: 1 }, spec: { parallelism: 7 } } }, merge)
    expect([patched.status?.succeeded, patched.status?.active, patched.spec?.parallelism, patched.metadata?.generation]).toEqual([1, 1, 2, 2])
  })
})

describe("leases", () => {
  it("creates, renews with an update, lists and deletes through CoordinationV1Api", async () => {
    const namespace = await ns()
    const lease = await coordination.createNamespacedLease({ namespace, body: { metadata: { name: "leader" }, spec: { holderIdentity: "pod-a", leaseDurationSeconds: 15 } } })
    const renewed = await coordination.replaceNamespacedLease({ name: "leader", namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: "pod-b", leaseTransitions: 1 } } })
    expect([renewed.spec?.holderIdentity, renewed.spec?.leaseTransitions, renewed.spec?.leaseDurationSeconds]).toEqual(["pod-b", 1, 15])
    const stale = await failure(coordination.replaceNamespacedLease({ name: "leader", namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: "pod-c" } } }))
    expect([stale.code, stale.body["message"]]).toEqual([409, 'Operation cannot be fulfilled on leases.coordination.k8s.io "leader": the object has been modified; please apply your changes to the latest version and try again'])
    expect(names((await coordination.listLeaseForAllNamespaces({ fieldSelector: `metadata.namespace=${namespace}` })).items)).toEqual(["leader"])
    await coordination.deleteNamespacedLease({ name: "leader", namespace })
    expect((await coordination.listNamespacedLease({ namespace })).items).toEqual([])
  })
})

describe("resource.k8s.io", () => {
  it("serves deviceclasses through ResourceV1Api", async () => {
    await resource.createDeviceClass({ body: { metadata: { name: "gpu.nvidia.com" }, spec: { selectors: [{ cel: { expression: "device.driver == 'gpu.nvidia.com'" } }] } } })
    const read = await resource.readDeviceClass({ name: "gpu.nvidia.com" })
    expect(read.spec.selectors?.[0]?.cel?.expression).toBe("device.driver == 'gpu.nvidia.com'")
    const patched = await resource.patchDeviceClass({ name: "gpu.nvidia.com", body: { metadata: { labels: { vendor: "nvidia" } } } }, merge)
    expect(patched.metadata?.labels).toEqual({ vendor: "nvidia" })
    expect(names((await resource.listDeviceClass({ labelSelector: "vendor=nvidia" })).items)).toEqual(["gpu.nvidia.com"])
    await resource.deleteDeviceClass({ name: "gpu.nvidia.com" })
  })

  it("serves cluster-scoped resourceslices selected by spec.nodeName and spec.driver", async () => {
    const slice = (name: string, nodeName: string, driver: string): k8s.V1ResourceSlice => ({
      metadata: { name },
      spec: { driver, nodeName, pool: { name: nodeName, generation: 1, resourceSliceCount: 1 }, devices: [{ name: "gpu-0" }] }
    })
    await resource.createResourceSlice({ body: slice("n1-gpu", "node-1", "gpu.nvidia.com") })
    await resource.createResourceSlice({ body: slice("n1-nic", "node-1", "nic.example.com") })
    await resource.createResourceSlice({ body: slice("n2-gpu", "node-2", "gpu.nvidia.com") })
    expect(names((await resource.listResourceSlice({ fieldSelector: "spec.nodeName=node-1" })).items)).toEqual(["n1-gpu", "n1-nic"])
    expect(names((await resource.listResourceSlice({ fieldSelector: "spec.driver=gpu.nvidia.com" })).items)).toEqual(["n1-gpu", "n2-gpu"])
    expect(names((await resource.listResourceSlice({ fieldSelector: "spec.driver=gpu.nvidia.com,spec.nodeName=node-2" })).items)).toEqual(["n2-gpu"])
    const namespaced = await fetch(`${h.sim.url}/apis/resource.k8s.io/v1/namespaces/default/resourceslices`, { headers: { authorization: `Bearer ${h.sim.adminToken}` } })
    expect(namespaced.status).toBe(404)
    await resource.deleteCollectionResourceSlice({ fieldSelector: "spec.nodeName=node-1" })
    expect(names((await resource.listResourceSlice()).items)).toEqual(["n2-gpu"])
  })

  it("writes a claim's allocation through the status subresource only, and keeps its spec immutable", async () => {
    const namespace = await ns()
    const allocation = {
      devices: { results: [{ request: "gpu", driver: "gpu.nvidia.com", pool: "node-1", device: "gpu-0" }] },
      nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["node-1"] }] }] }
    }
    const claim = await resource.createNamespacedResourceClaim({
      namespace,
      body: { metadata: { name: "gpu-claim" }, spec: { devices: { requests: [{ name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com" } }] } }, status: { allocation } }
    })
    expect(claim.status).toEqual({})
    const ignored = await resource.replaceNamespacedResourceClaim({ name: "gpu-claim", namespace, body: { ...claim, metadata: { ...claim.metadata, labels: { a: "b" } }, status: { allocation } } })
    expect([ignored.status, ignored.metadata?.labels]).toEqual([{}, { a: "b" }])
    const allocated = await resource.replaceNamespacedResourceClaimStatus({ name: "gpu-claim", namespace, body: { ...ignored, status: { allocation } } })
    expect(allocated.status?.allocation?.devices?.results).toEqual(allocation.devices.results)
    const read = await resource.readNamespacedResourceClaim({ name: "gpu-claim", namespace })
    expect(read.status?.allocation?.devices?.results?.[0]?.device).toBe("gpu-0")
    expect((await resource.readNamespacedResourceClaimStatus({ name: "gpu-claim", namespace })).status?.allocation?.nodeSelector?.nodeSelectorTerms[0]?.matchFields?.[0]?.values).toEqual(["node-1"])
    const immutable = await failure(resource.patchNamespacedResourceClaim({ name: "gpu-claim", namespace, body: { spec: { devices: { requests: [{ name: "other", exactly: { deviceClassName: "x" } }] } } } }, merge))
    expect([immutable.code, immutable.body["reason"]]).toEqual([422, "Invalid"])
    expect(immutable.body["message"]).toMatch(/^ResourceClaim\.resource\.k8s\.io "gpu-claim" is invalid: spec: Invalid value: .*: field is immutable$/)
    expect((immutable.body["details"] as { causes: Array<{ field: string }> }).causes.map((cause) => cause.field)).toEqual(["spec"])
    expect(names((await resource.listResourceClaimForAllNamespaces({ fieldSelector: `metadata.namespace=${namespace}` })).items)).toEqual(["gpu-claim"])
    await resource.deleteNamespacedResourceClaim({ name: "gpu-claim", namespace })
  })

  it("serves resourceclaimtemplates through ResourceV1Api", async () => {
    const namespace = await ns()
    const template = await resource.createNamespacedResourceClaimTemplate({
      namespace,
      body: { metadata: { name: "one-gpu" }, spec: { spec: { devices: { requests: [{ name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com", count: 1 } }] } } } }
    })
    expect(template.spec.spec.devices?.requests?.[0]?.exactly?.count).toBe(1)
    const labelled = await resource.replaceNamespacedResourceClaimTemplate({ name: "one-gpu", namespace, body: { ...template, metadata: { ...template.metadata, labels: { size: "1" } } } })
    expect(labelled.metadata?.labels).toEqual({ size: "1" })
    expect(names((await resource.listNamespacedResourceClaimTemplate({ namespace, labelSelector: "size=1" })).items)).toEqual(["one-gpu"])
    await resource.deleteNamespacedResourceClaimTemplate({ name: "one-gpu", namespace })
  })
})

describe("custom resources", () => {
  const pools = { group: "example.com", version: "v1", plural: "pools" }

  it("serves a cluster-scoped custom resource and refuses it in a namespace path", async () => {
    const made = (await custom.createClusterCustomObject({ group: "example.com", version: "v1", plural: "gadgets", body: { apiVersion: "example.com/v1", kind: "Gadget", metadata: { name: "g1" }, spec: { size: 2 } } })) as k8s.KubernetesObject
    expect(made.metadata?.namespace).toBeUndefined()
    const listed = (await custom.listClusterCustomObject({ group: "example.com", version: "v1", plural: "gadgets" })) as { items: Array<k8s.KubernetesObject> }
    expect(names(listed.items)).toContain("g1")
    const inNamespace = await fetch(`${h.sim.url}/apis/example.com/v1/namespaces/default/gadgets`, { headers: { authorization: `Bearer ${h.sim.adminToken}` } })
    expect(inNamespace.status).toBe(404)
    await custom.deleteClusterCustomObject({ group: "example.com", version: "v1", plural: "gadgets", name: "g1" })
  })

  it("reads and writes replicas through the scale subresource as an autoscaling/v1 Scale", async () => {
    const namespace = await ns()
    await custom.createNamespacedCustomObject({ ...pools, namespace, body: { apiVersion: "example.com/v1", kind: "Pool", metadata: { name: "p" }, spec: { replicas: 2 } } })
    await custom.patchNamespacedCustomObjectStatus({ ...pools, namespace, name: "p", body: { status: { replicas: 1, selector: "app=pool" } } }, merge)
    const scale = (await custom.getNamespacedCustomObjectScale({ ...pools, namespace, name: "p" })) as Record<string, any>
    const pool = (await custom.getNamespacedCustomObject({ ...pools, namespace, name: "p" })) as Record<string, any>
    expect(scale).toEqual({
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: { name: "p", namespace, uid: pool["metadata"].uid, resourceVersion: pool["metadata"].resourceVersion, creationTimestamp: pool["metadata"].creationTimestamp },
      spec: { replicas: 2 },
      status: { replicas: 1, selector: "app=pool" }
    })
    const replaced = (await custom.replaceNamespacedCustomObjectScale({ ...pools, namespace, name: "p", body: { ...scale, spec: { replicas: 5 } } })) as Record<string, any>
    expect(replaced["spec"]).toEqual({ replicas: 5 })
    const patched = (await custom.patchNamespacedCustomObjectScale({ ...pools, namespace, name: "p", body: { spec: { replicas: 0 } } }, merge)) as Record<string, any>
    expect([patched["spec"], patched["status"]]).toEqual([{}, { replicas: 1, selector: "app=pool" }])
    const jsonPatched = (await custom.patchNamespacedCustomObjectScale({ ...pools, namespace, name: "p", body: [{ op: "replace", path: "/spec/replicas", value: 3 }] }, jsonPatch)) as Record<string, any>
    expect(jsonPatched["spec"]).toEqual({ replicas: 3 })
    const after = (await custom.getNamespacedCustomObject({ ...pools, namespace, name: "p" })) as Record<string, any>
    expect([after["spec"], after["metadata"].generation]).toEqual([{ replicas: 3 }, 4])
    const stale = await failure(custom.replaceNamespacedCustomObjectScale({ ...pools, namespace, name: "p", body: { ...scale, spec: { replicas: 4 } } }))
    expect([stale.code, stale.body["reason"]]).toEqual([409, "Conflict"])
    const negative = await failure(custom.patchNamespacedCustomObjectScale({ ...pools, namespace, name: "p", body: { spec: { replicas: -1 } } }, merge))
    expect([negative.code, negative.body["message"]]).toEqual([422, 'Scale.autoscaling "p" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'])
    const strategic = await failure(custom.patchNamespacedCustomObjectScale({ ...pools, namespace, name: "p", body: { spec: { replicas: 1 } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch)))
    expect([strategic.code, strategic.body["message"]]).toEqual([415, "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"])
  })

  it("keeps status out of main updates and spec out of status updates, and needs a resourceVersion to replace", async () => {
    const namespace = await ns()
    const made = (await custom.createNamespacedCustomObject({ ...pools, namespace, body: { apiVersion: "example.com/v1", kind: "Pool", metadata: { name: "q" }, spec: { replicas: 1 }, status: { replicas: 9 } } })) as Record<string, any>
    expect(made["status"]).toBeUndefined()
    const status = (await custom.replaceNamespacedCustomObjectStatus({ ...pools, namespace, name: "q", body: { ...made, spec: { replicas: 7 }, status: { replicas: 1 } } })) as Record<string, any>
    expect([status["spec"], status["status"], status["metadata"].generation]).toEqual([{ replicas: 1 }, { replicas: 1 }, 1])
    const main = (await custom.replaceNamespacedCustomObject({ ...pools, namespace, name: "q", body: { ...status, spec: { replicas: 2 }, status: { replicas: 5 } } })) as Record<string, any>
    expect([main["spec"], main["status"], main["metadata"].generation]).toEqual([{ replicas: 2 }, { replicas: 1 }, 2])
    const unconditional = await failure(custom.replaceNamespacedCustomObject({ ...pools, namespace, name: "q", body: { apiVersion: "example.com/v1", kind: "Pool", metadata: { name: "q" }, spec: { replicas: 3 } } }))
    expect([unconditional.code, unconditional.body["message"]]).toEqual([422, 'pools.example.com "q" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update'])
  })
})

describe("collections, dry runs and conflicts", () => {
  it("deletes a collection selected by label and answers with the deleted objects", async () => {
    const namespace = await ns()
    for (const [name, tier] of [["a", "gpu"], ["b", "cpu"], ["c", "gpu"]] as const) {
      await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name, labels: { tier } } } })
    }
    const status = await h.core.deleteCollectionNamespacedConfigMap({ namespace, labelSelector: "tier=gpu" })
    expect(status.kind).toBe("ConfigMapList")
    expect(names((await h.core.listNamespacedConfigMap({ namespace })).items)).toEqual(["b"])
    await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "d", labels: { tier: "gpu" } } } })
    const response = await fetch(`${h.sim.url}/api/v1/namespaces/${namespace}/configmaps?labelSelector=tier%3Dgpu`, { method: "DELETE", headers: { authorization: `Bearer ${h.sim.adminToken}` } })
    const answer = (await response.json()) as { kind: string; apiVersion: string; metadata: Record<string, unknown>; items: Array<{ metadata: { name: string } }> }
    expect([response.status, answer.kind, answer.apiVersion, Object.keys(answer.metadata)]).toEqual([200, "ConfigMapList", "v1", ["resourceVersion"]])
    expect(names(answer.items)).toEqual(["d"])
    expect(names((await h.core.listNamespacedConfigMap({ namespace })).items)).toEqual(["b"])
  })

  it("leaves an object unchanged on a dry-run update, patch and delete", async () => {
    const namespace = await ns()
    const made = await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "d" }, data: { a: "1" } } })
    const dryUpdate = await h.core.replaceNamespacedConfigMap({ name: "d", namespace, body: { ...made, data: { a: "2" } }, dryRun: "All" })
    expect([dryUpdate.data, dryUpdate.metadata?.resourceVersion]).toEqual([{ a: "2" }, made.metadata?.resourceVersion])
    const dryPatch = await h.core.patchNamespacedConfigMap({ name: "d", namespace, body: { data: { a: "3" } }, dryRun: "All" }, merge)
    expect(dryPatch.data).toEqual({ a: "3" })
    const dryDelete = await h.core.deleteNamespacedConfigMap({ name: "d", namespace, dryRun: "All" })
    expect([dryDelete.status, dryDelete.details?.uid]).toEqual(["Success", made.metadata?.uid])
    const after = await h.core.readNamespacedConfigMap({ name: "d", namespace })
    expect([after.data, after.metadata?.resourceVersion]).toEqual([{ a: "1" }, made.metadata?.resourceVersion])
  })

  it("refuses an update with a stale resourceVersion with 409 and names the resource", async () => {
    const namespace = await ns()
    const made = await h.batch.createNamespacedJob({ namespace, body: { metadata: { name: "j" }, spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "m", image: "busybox:1.37" }] } } } } })
    await h.batch.patchNamespacedJob({ name: "j", namespace, body: { metadata: { labels: { x: "1" } } } }, merge)
    const stale = await failure(h.batch.replaceNamespacedJob({ name: "j", namespace, body: made }))
    expect(stale).toEqual({
      code: 409,
      body: {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: 'Operation cannot be fulfilled on jobs.batch "j": the object has been modified; please apply your changes to the latest version and try again',
        reason: "Conflict",
        details: { name: "j", group: "batch", kind: "jobs" },
        code: 409
      }
    })
  })

  it("keeps metadata.uid and creationTimestamp: ignored or refused, never changed", async () => {
    const namespace = await ns()
    const made = await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "u" } } })
    const uid = made.metadata!.uid!
    const created = made.metadata!.creationTimestamp!
    const moved = await h.core.replaceNamespacedConfigMap({ name: "u", namespace, body: { ...made, metadata: { ...made.metadata, creationTimestamp: new Date("2001-01-01T00:00:00Z") }, data: { k: "v" } } })
    expect([moved.metadata?.uid, moved.metadata?.creationTimestamp, moved.data]).toEqual([uid, created, { k: "v" }])
    const patchedTime = await h.core.patchNamespacedConfigMap({ name: "u", namespace, body: { metadata: { creationTimestamp: "2001-01-01T00:00:00Z" } } }, merge)
    expect(patchedTime.metadata?.creationTimestamp).toEqual(created)
    const otherUid = "00000000-0000-4000-8000-000000000000"
    const replaced = await failure(h.core.replaceNamespacedConfigMap({ name: "u", namespace, body: { ...moved, metadata: { ...moved.metadata, uid: otherUid } } }))
    expect([replaced.code, replaced.body["reason"], replaced.body["message"]]).toEqual([
      409,
      "Conflict",
      `Operation cannot be fulfilled on configmaps "u": StorageError: invalid object, Code: 4, Key: /registry/configmaps/${namespace}/u, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: ${otherUid}, UID in object meta: ${uid}`
    ])
    const patched = await failure(h.core.patchNamespacedConfigMap({ name: "u", namespace, body: { metadata: { uid: otherUid } } }, merge))
    expect([patched.code, patched.body["message"]]).toEqual([422, `ConfigMap "u" is invalid: metadata.uid: Invalid value: "${otherUid}": field is immutable`])
    const after = await h.core.readNamespacedConfigMap({ name: "u", namespace })
    expect([after.metadata?.uid, after.metadata?.creationTimestamp]).toEqual([uid, created])
  })

  it("words delete precondition failures as a real server", async () => {
    const namespace = await ns()
    const made = await h.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "pre" } } })
    const byUid = await failure(h.core.deleteNamespacedConfigMap({ name: "pre", namespace, body: { preconditions: { uid: "other" } } }))
    expect([byUid.code, byUid.body["message"], byUid.body["details"]]).toEqual([
      409,
      `Operation cannot be fulfilled on ConfigMap "pre": the UID in the precondition (other) does not match the UID in record (${made.metadata?.uid}). The object might have been deleted and then recreated`,
      { name: "pre", kind: "ConfigMap" }
    ])
    const byVersion = await failure(h.core.deleteNamespacedConfigMap({ name: "pre", namespace, body: { preconditions: { resourceVersion: "1" } } }))
    expect(byVersion.body["message"]).toBe(`Operation cannot be fulfilled on ConfigMap "pre": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (${made.metadata?.resourceVersion}). The object might have been modified`)
  })
})
