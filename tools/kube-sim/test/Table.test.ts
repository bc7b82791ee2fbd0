import { describe, expect, it } from "vitest"
import { BUILTIN } from "../src/resources.ts"
import { evaluateJsonPath, humanDuration, TABLE_CONTENT_TYPE, tableColumns, toTable, wantsTable } from "../src/table.ts"
import type { KubeObject, ResourceType } from "../src/types.ts"

const KUBECTL_GET_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
const CLIENT_NODE_ACCEPT = "application/json, */*;q=0.8"

const NOW = new Date("2026-01-10T12:00:00Z")
const ago = (seconds: number): string => new Date(NOW.getTime() - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")
const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const builtin = (group: string, resource: string): ResourceType => {
  const type = BUILTIN.find((entry) => entry.group === group && entry.resource === resource)
  if (type === undefined) throw new Error(`no built-in ${group}/${resource}`)
  return type
}

const object = (apiVersion: string, kind: string, name: string, rest: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, namespace: "default", uid: `uid-${name}`, resourceVersion: "41", creationTimestamp: ago(200), ...metadata },
  ...rest
})

interface Table {
  kind: string
  apiVersion: string
  metadata: Record<string, unknown>
  columnDefinitions: Array<{ name: string; type: string; format: string; description: string; priority: number }> | null
  rows: Array<{ cells: Array<unknown>; conditions?: Array<unknown>; object: unknown }>
}

const table = (type: ResourceType, objects: ReadonlyArray<KubeObject>, includeObject: "None" | "Metadata" | "Object" = "Metadata"): Table =>
  toTable(type, objects, { includeObject, now: NOW }) as Table

const headers = (type: ResourceType): Array<string> => tableColumns(type).map((column) => (column.priority === 0 ? column.name : `${column.name}*`))
const cells = (type: ResourceType, item: KubeObject): Array<unknown> => table(type, [item]).rows[0]?.cells ?? []

describe("wantsTable", () => {
  it("is true for kubectl get's Accept header", () => {
    expect(wantsTable(KUBECTL_GET_ACCEPT)).toBe(true)
    expect(wantsTable("application/json;as=Table;g=meta.k8s.io;v=v1")).toBe(true)
  })

  it("is false for client-node, plain JSON and a missing header", () => {
    expect(wantsTable(CLIENT_NODE_ACCEPT)).toBe(false)
    expect(wantsTable("application/json")).toBe(false)
    expect(wantsTable(undefined)).toBe(false)
  })

  it("does not take a v1beta1 Table or partial metadata for a v1 Table", () => {
    expect(wantsTable("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")).toBe(false)
    expect(wantsTable("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json")).toBe(false)
  })

  it("names its content type", () => {
    expect(TABLE_CONTENT_TYPE).toBe("application/json;as=Table;v=v1;g=meta.k8s.io")
  })
})

describe("humanDuration", () => {
  it.each([
    [0, "0s"],
    [-1500, "0s"],
    [-2 * SECOND, "<invalid>"],
    [5 * SECOND, "5s"],
    [119 * SECOND, "119s"],
    [120 * SECOND, "2m"],
    [200 * SECOND, "3m20s"],
    [10 * MINUTE, "10m"],
    [179 * MINUTE + 59 * SECOND, "179m"],
    [3 * HOUR, "3h"],
    [3 * HOUR + 5 * MINUTE, "3h5m"],
    [8 * HOUR + 30 * MINUTE, "8h"],
    [45 * HOUR, "45h"],
    [48 * HOUR, "2d"],
    [51 * HOUR, "2d3h"],
    [191 * HOUR, "7d23h"],
    [8 * DAY, "8d"],
    [10 * DAY, "10d"],
    [729 * DAY, "729d"],
    [730 * DAY, "2y"],
    [740 * DAY, "2y10d"],
    [365 * 8 * DAY, "8y"],
    [365 * 11 * DAY, "11y"]
  ])("prints %i ms as %s", (ms, text) => {
    expect(humanDuration(ms)).toBe(text)
  })
})

describe("toTable", () => {
  const configmaps = builtin("", "configmaps")
  const item = object("v1", "ConfigMap", "settings", { data: { a: "1", b: "2" }, binaryData: { c: "AA==" } }, { labels: { app: "x" } })

  it("builds a meta.k8s.io/v1 Table with PartialObjectMetadata rows by default", () => {
    expect(toTable(configmaps, [item], { includeObject: "Metadata", now: NOW, listMeta: { resourceVersion: "57" } })).toEqual({
      kind: "Table",
      apiVersion: "meta.k8s.io/v1",
      metadata: { resourceVersion: "57" },
      columnDefinitions: [
        {
          name: "Name",
          type: "string",
          format: "name",
          description:
            "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
          priority: 0
        },
        {
          name: "Data",
          type: "string",
          format: "",
          description:
            "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
          priority: 0
        },
        {
          name: "Age",
          type: "string",
          format: "",
          description:
            "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
          priority: 0
        }
      ],
      rows: [
        {
          cells: ["settings", 3, "3m20s"],
          object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: item.metadata }
        }
      ]
    })
  })

  it("puts the whole object in each row for includeObject=Object, and null for None", () => {
    expect(table(configmaps, [item], "Object").rows[0]?.object).toEqual(item)
    expect(table(configmaps, [item], "None").rows[0]).toEqual({ cells: ["settings", 3, "3m20s"], object: null })
  })

  it("carries the list's continue token and remaining count, and empty rows for an empty list", () => {
    const listed = toTable(configmaps, [], { includeObject: "Metadata", now: NOW, listMeta: { resourceVersion: "90", continue: "abc", remainingItemCount: 4 } }) as Table
    expect(listed.metadata).toEqual({ resourceVersion: "90", continue: "abc", remainingItemCount: 4 })
    expect(listed.rows).toEqual([])
  })

  it("takes a single object's resourceVersion without list metadata, and none for several", () => {
    expect(table(configmaps, [item]).metadata).toEqual({ resourceVersion: "41" })
    expect(table(configmaps, [item, item]).metadata).toEqual({})
  })

  it("leaves the column definitions out as null with noHeaders, like later watch events", () => {
    const event = toTable(configmaps, [item], { includeObject: "Metadata", now: NOW, noHeaders: true }) as Table
    expect(event.columnDefinitions).toBeNull()
    expect(event.rows[0]?.cells).toEqual(["settings", 3, "3m20s"])
  })

  it("prints <unknown> for an object without a creation timestamp", () => {
    expect(cells(configmaps, object("v1", "ConfigMap", "new", {}, { creationTimestamp: undefined }))).toEqual(["new", 0, "<unknown>"])
  })
})

describe("built-in kinds", () => {
  it("Namespace: NAME STATUS AGE", () => {
    const type = builtin("", "namespaces")
    expect(headers(type)).toEqual(["Name", "Status", "Age"])
    expect(cells(type, object("v1", "Namespace", "gpu", { status: { phase: "Terminating" } }, { namespace: undefined, creationTimestamp: ago(5) }))).toEqual(["gpu", "Terminating", "5s"])
  })

  it("ConfigMap: NAME DATA AGE, counting data and binaryData", () => {
    const type = builtin("", "configmaps")
    expect(headers(type)).toEqual(["Name", "Data", "Age"])
    expect(cells(type, object("v1", "ConfigMap", "kube-root-ca.crt", { data: { "ca.crt": "x" } }, { creationTimestamp: ago(51 * 3600) }))).toEqual(["kube-root-ca.crt", 1, "2d3h"])
  })

  it("Secret: NAME TYPE DATA AGE", () => {
    const type = builtin("", "secrets")
    expect(headers(type)).toEqual(["Name", "Type", "Data", "Age"])
    expect(cells(type, object("v1", "Secret", "creds", { type: "Opaque", data: { user: "dQ==", pass: "cA==" } }, { creationTimestamp: ago(45 * 3600) }))).toEqual(["creds", "Opaque", 2, "45h"])
  })

  it("ServiceAccount: NAME SECRETS AGE", () => {
    const type = builtin("", "serviceaccounts")
    expect(headers(type)).toEqual(["Name", "Secrets", "Age"])
    expect(cells(type, object("v1", "ServiceAccount", "default", {}, { creationTimestamp: ago(10 * 86400) }))).toEqual(["default", 0, "10d"])
    expect(cells(type, object("v1", "ServiceAccount", "builder", { secrets: [{ name: "a" }] }))).toEqual(["builder", 1, "3m20s"])
  })

  it("Lease: NAME HOLDER AGE", () => {
    const type = builtin("coordination.k8s.io", "leases")
    expect(headers(type)).toEqual(["Name", "Holder", "Age"])
    expect(cells(type, object("coordination.k8s.io/v1", "Lease", "node-1", { spec: { holderIdentity: "node-1" } }))).toEqual(["node-1", "node-1", "3m20s"])
    expect(cells(type, object("coordination.k8s.io/v1", "Lease", "free", { spec: {} }))).toEqual(["free", "", "3m20s"])
  })

  it("CustomResourceDefinition: NAME CREATED AT, a date in RFC 3339", () => {
    const type = builtin("apiextensions.k8s.io", "customresourcedefinitions")
    expect(tableColumns(type).map((column) => [column.name, column.type])).toEqual([["Name", "string"], ["Created At", "date"]])
    expect(cells(type, object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com", {}, { namespace: undefined, creationTimestamp: "2025-12-24T08:30:00Z" }))).toEqual([
      "widgets.example.com",
      "2025-12-24T08:30:00Z"
    ])
  })

  it("DeviceClass and ResourceClaimTemplate: NAME AGE", () => {
    expect(headers(builtin("resource.k8s.io", "deviceclasses"))).toEqual(["Name", "Age"])
    expect(headers(builtin("resource.k8s.io", "resourceclaimtemplates"))).toEqual(["Name", "Age"])
    expect(cells(builtin("resource.k8s.io", "deviceclasses"), object("resource.k8s.io/v1", "DeviceClass", "gpu.nvidia.com", {}, { namespace: undefined }))).toEqual(["gpu.nvidia.com", "3m20s"])
  })

  it("ResourceClaim: NAME STATE AGE", () => {
    const type = builtin("resource.k8s.io", "resourceclaims")
    expect(headers(type)).toEqual(["Name", "State", "Age"])
    const claim = (status: Record<string, unknown>, metadata: Record<string, unknown> = {}) => cells(type, object("resource.k8s.io/v1", "ResourceClaim", "gpu", { status }, metadata))[1]
    expect(claim({})).toBe("pending")
    expect(claim({ allocation: { devices: {} } })).toBe("allocated")
    expect(claim({ allocation: { devices: {} }, reservedFor: [{ resource: "pods", name: "p", uid: "u" }] })).toBe("allocated,reserved")
    expect(claim({}, { deletionTimestamp: ago(1) })).toBe("deleted")
    expect(claim({ allocation: {} }, { deletionTimestamp: ago(1) })).toBe("deleted,allocated")
  })

  it("ResourceSlice: NAME NODE DRIVER POOL AGE", () => {
    const type = builtin("resource.k8s.io", "resourceslices")
    expect(headers(type)).toEqual(["Name", "Node", "Driver", "Pool", "Age"])
    expect(cells(type, object("resource.k8s.io/v1", "ResourceSlice", "node-1-gpu-x7", { spec: { nodeName: "node-1", driver: "gpu.nvidia.com", pool: { name: "node-1", generation: 1, resourceSliceCount: 1 } } }, { namespace: undefined }))).toEqual([
      "node-1-gpu-x7", "node-1", "gpu.nvidia.com", "node-1", "3m20s"
    ])
  })

  it("EndpointSlice: NAME ADDRESSTYPE PORTS ENDPOINTS AGE", () => {
    const type = builtin("discovery.k8s.io", "endpointslices")
    expect(headers(type)).toEqual(["Name", "AddressType", "Ports", "Endpoints", "Age"])
    const endpoints = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"].map((address) => ({ addresses: [address] }))
    expect(cells(type, object("discovery.k8s.io/v1", "EndpointSlice", "web-abc", { addressType: "IPv4", ports: [{ port: 8080 }, { name: "metrics" }, {}], endpoints }))).toEqual([
      "web-abc", "IPv4", "8080,metrics,*", "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...", "3m20s"
    ])
    expect(cells(type, object("discovery.k8s.io/v1", "EndpointSlice", "empty", { addressType: "IPv4", endpoints: [] }))).toEqual(["empty", "IPv4", "<unset>", "<unset>", "3m20s"])
  })
})

describe("Pod", () => {
  const type = builtin("", "pods")
  const pod = (spec: Record<string, unknown>, status: Record<string, unknown>, metadata: Record<string, unknown> = {}) =>
    object("v1", "Pod", "worker", { spec: { containers: [{ name: "main", image: "busybox" }], ...spec }, status }, metadata)

  it("has NAME READY STATUS RESTARTS AGE and the wide columns at priority 1", () => {
    expect(headers(type)).toEqual(["Name", "Ready", "Status", "Restarts", "Age", "IP*", "Node*", "Nominated Node*", "Readiness Gates*"])
  })

  it("prints a running pod with its restarts, IP and node", () => {
    expect(
      cells(
        type,
        pod(
          { nodeName: "node-1" },
          {
            phase: "Running",
            podIP: "10.1.2.3",
            conditions: [{ type: "Ready", status: "True" }],
            containerStatuses: [{ name: "main", ready: true, restartCount: 2, state: { running: { startedAt: ago(60) } }, lastState: { terminated: { exitCode: 1, finishedAt: ago(71) } } }]
          }
        )
      )
    ).toEqual(["worker", "1/1", "Running", "2 (71s ago)", "3m20s", "10.1.2.3", "node-1", "<none>", "<none>"])
  })

  it("prints a pending pod with no statuses", () => {
    expect(cells(type, pod({}, { phase: "Pending" }))).toEqual(["worker", "0/1", "Pending", "0", "3m20s", "<none>", "<none>", "<none>", "<none>"])
  })

  it("marks a completed pod with the Completed row condition", () => {
    const rows = table(type, [pod({}, { phase: "Succeeded", containerStatuses: [{ name: "main", ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: "Completed" } } }] })]).rows
    expect(rows[0]?.cells.slice(0, 4)).toEqual(["worker", "0/1", "Completed", "0"])
    expect(rows[0]?.conditions).toEqual([{ type: "Completed", status: "True", reason: "Succeeded", message: "The pod has completed successfully." }])
    const failed = table(type, [pod({}, { phase: "Failed", containerStatuses: [{ name: "main", state: { terminated: { exitCode: 2 } } }] })]).rows
    expect(failed[0]?.cells[2]).toBe("ExitCode:2")
    expect(failed[0]?.conditions).toEqual([{ type: "Completed", status: "True", reason: "Failed", message: "The pod failed." }])
  })

  it("shows a waiting reason such as CrashLoopBackOff, and signals", () => {
    expect(cells(type, pod({}, { phase: "Running", containerStatuses: [{ name: "main", restartCount: 5, state: { waiting: { reason: "CrashLoopBackOff" } } }] }))[2]).toBe("CrashLoopBackOff")
    expect(cells(type, pod({}, { phase: "Running", containerStatuses: [{ name: "main", state: { terminated: { exitCode: 137, signal: 9 } } }] }))[2]).toBe("Signal:9")
  })

  it("shows init progress and init failures", () => {
    const init = { initContainers: [{ name: "setup", image: "busybox" }] }
    expect(cells(type, pod(init, { phase: "Pending", initContainerStatuses: [{ name: "setup", state: { running: {} } }], containerStatuses: [{ name: "main", state: { waiting: { reason: "PodInitializing" } } }] }))[2]).toBe("Init:0/1")
    expect(cells(type, pod(init, { phase: "Pending", initContainerStatuses: [{ name: "setup", restartCount: 3, state: { waiting: { reason: "CrashLoopBackOff" } } }] })).slice(1, 4)).toEqual(["0/1", "Init:CrashLoopBackOff", "3"])
    expect(cells(type, pod(init, { phase: "Pending", initContainerStatuses: [{ name: "setup", state: { terminated: { exitCode: 1, reason: "Error" } } }] }))[2]).toBe("Init:Error")
  })

  it("counts a started sidecar init container as a container", () => {
    const spec = { initContainers: [{ name: "proxy", image: "envoy", restartPolicy: "Always" }] }
    const status = {
      phase: "Running",
      conditions: [{ type: "Initialized", status: "True" }, { type: "Ready", status: "True" }],
      initContainerStatuses: [{ name: "proxy", started: true, ready: true, restartCount: 1, state: { running: {} } }],
      containerStatuses: [{ name: "main", ready: true, restartCount: 0, state: { running: {} } }]
    }
    expect(cells(type, pod(spec, status)).slice(1, 4)).toEqual(["2/2", "Running", "1"])
  })

  it("shows Terminating while deleting, and Unknown for a lost node", () => {
    expect(cells(type, pod({}, { phase: "Running" }, { deletionTimestamp: ago(1) }))[2]).toBe("Terminating")
    expect(cells(type, pod({}, { phase: "Running", reason: "NodeLost" }, { deletionTimestamp: ago(1) }))[2]).toBe("Unknown")
    expect(cells(type, pod({}, { phase: "Succeeded" }, { deletionTimestamp: ago(1) }))[2]).toBe("Succeeded")
  })

  it("shows SchedulingGated, podIPs, the nominated node and readiness gates", () => {
    const row = cells(
      type,
      pod(
        { readinessGates: [{ conditionType: "example.com/ready" }, { conditionType: "example.com/warm" }] },
        {
          phase: "Pending",
          podIPs: [{ ip: "fd00::5" }],
          nominatedNodeName: "node-2",
          conditions: [{ type: "PodScheduled", status: "False", reason: "SchedulingGated" }, { type: "example.com/ready", status: "True" }]
        }
      )
    )
    expect(row).toEqual(["worker", "0/1", "SchedulingGated", "0", "3m20s", "fd00::5", "<none>", "node-2", "1/2"])
  })
})

describe("Job", () => {
  const type = builtin("batch", "jobs")
  const job = (spec: Record<string, unknown>, status: Record<string, unknown>, metadata: Record<string, unknown> = {}) =>
    object("batch/v1", "Job", "train", { spec: { template: { spec: { containers: [{ name: "trainer", image: "nvcr.io/train:1" }, { name: "sidecar", image: "busybox" }] } }, ...spec }, status }, metadata)

  it("has NAME STATUS COMPLETIONS DURATION AGE and the wide columns", () => {
    expect(headers(type)).toEqual(["Name", "Status", "Completions", "Duration", "Age", "Containers*", "Images*", "Selector*"])
  })

  it("prints a running job with its duration so far", () => {
    expect(
      cells(type, job({ completions: 4, selector: { matchLabels: { "batch.kubernetes.io/controller-uid": "abc" } } }, { startTime: ago(125), active: 1, succeeded: 1 }))
    ).toEqual(["train", "Running", "1/4", "2m5s", "3m20s", "trainer,sidecar", "nvcr.io/train:1,busybox", "batch.kubernetes.io/controller-uid=abc"])
  })

  it("prints a completed job with the time it took", () => {
    const done = job({ completions: 1 }, { startTime: ago(190), completionTime: ago(100), succeeded: 1, conditions: [{ type: "SuccessCriteriaMet", status: "True" }, { type: "Complete", status: "True" }] })
    expect(cells(type, done).slice(0, 5)).toEqual(["train", "Complete", "1/1", "90s", "3m20s"])
  })

  it("prints parallel work queues, failures, suspension and deletion", () => {
    expect(cells(type, job({ parallelism: 3 }, {}))[2]).toBe("0/1 of 3")
    expect(cells(type, job({}, {}))[2]).toBe("0/1")
    expect(cells(type, job({}, {}))[3]).toBe("")
    expect(cells(type, job({}, { conditions: [{ type: "Failed", status: "True" }] }))[1]).toBe("Failed")
    expect(cells(type, job({}, { conditions: [{ type: "Suspended", status: "True" }] }))[1]).toBe("Suspended")
    expect(cells(type, job({}, { conditions: [{ type: "FailureTarget", status: "True" }] }))[1]).toBe("FailureTarget")
    expect(cells(type, job({}, { conditions: [{ type: "Complete", status: "False" }] }))[1]).toBe("Running")
    expect(cells(type, job({}, {}, { deletionTimestamp: ago(1) }))[1]).toBe("Terminating")
  })

  it("formats selectors with expressions, and <none> without one", () => {
    const selector = { matchLabels: { team: "ml" }, matchExpressions: [{ key: "tier", operator: "In", values: ["gpu", "cpu"] }, { key: "canary", operator: "DoesNotExist" }, { key: "app", operator: "Exists" }] }
    expect(cells(type, job({ selector }, {}))[7]).toBe("app,!canary,team=ml,tier in (cpu,gpu)")
    expect(cells(type, job({}, {}))[7]).toBe("<none>")
  })
})

describe("Service", () => {
  const type = builtin("", "services")
  const service = (spec: Record<string, unknown>, status: Record<string, unknown> = {}) => object("v1", "Service", "web", { spec, status })

  it("has NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE and SELECTOR wide", () => {
    expect(headers(type)).toEqual(["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector*"])
  })

  it("prints a ClusterIP service", () => {
    expect(cells(type, service({ type: "ClusterIP", clusterIP: "10.96.0.10", clusterIPs: ["10.96.0.10"], ports: [{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }, { port: 9153 }], selector: { "k8s-app": "kube-dns" } }))).toEqual([
      "web", "ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP,9153/TCP", "3m20s", "k8s-app=kube-dns"
    ])
  })

  it("prints node ports, pending and assigned load balancers, external names and headless services", () => {
    expect(cells(type, service({ type: "NodePort", clusterIP: "10.96.1.1", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }] })).slice(1, 5)).toEqual(["NodePort", "10.96.1.1", "<none>", "80:30080/TCP"])
    expect(cells(type, service({ type: "LoadBalancer", clusterIP: "10.96.1.2", ports: [{ port: 443, nodePort: 31443, protocol: "TCP" }] }))[3]).toBe("<pending>")
    expect(cells(type, service({ type: "LoadBalancer", clusterIP: "10.96.1.2", externalIPs: ["1.1.1.1"] }, { loadBalancer: { ingress: [{ ip: "34.1.2.3" }, { hostname: "lb.example.com" }] } }))[3]).toBe("34.1.2.3,lb.example.com,1.1.1.1")
    expect(cells(type, service({ type: "ExternalName", externalName: "db.example.com" })).slice(1, 5)).toEqual(["ExternalName", "<none>", "db.example.com", "<none>"])
    expect(cells(type, service({ type: "ClusterIP", clusterIP: "None", ports: [] })).slice(2, 7)).toEqual(["None", "<none>", "<none>", "3m20s", "<none>"])
  })
})

describe("Node", () => {
  const type = builtin("", "nodes")
  const node = (labels: Record<string, string>, status: Record<string, unknown>, spec: Record<string, unknown> = {}) =>
    object("v1", "Node", "gpu-node-1", { spec, status }, { namespace: undefined, labels, creationTimestamp: ago(3 * 86400) })

  it("has NAME STATUS ROLES AGE VERSION and the wide columns", () => {
    expect(headers(type)).toEqual(["Name", "Status", "Roles", "Age", "Version", "Internal-IP*", "External-IP*", "OS-Image*", "Kernel-Version*", "Container-Runtime*"])
  })

  it("prints a ready node with its roles and system info", () => {
    const status = {
      conditions: [{ type: "MemoryPressure", status: "False" }, { type: "Ready", status: "True" }],
      addresses: [{ type: "Hostname", address: "gpu-node-1" }, { type: "InternalIP", address: "192.168.1.10" }],
      nodeInfo: { kubeletVersion: "v1.35.0", osImage: "Ubuntu 24.04.1 LTS", kernelVersion: "6.8.0-45-generic", containerRuntimeVersion: "containerd://2.0.0" }
    }
    expect(cells(type, node({ "node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/gpu": "", "kubernetes.io/role": "infra" }, status))).toEqual([
      "gpu-node-1", "Ready", "gpu,infra,worker", "3d", "v1.35.0", "192.168.1.10", "<none>", "Ubuntu 24.04.1 LTS", "6.8.0-45-generic", "containerd://2.0.0"
    ])
  })

  it("prints NotReady, cordoned and unknown nodes", () => {
    expect(cells(type, node({}, { conditions: [{ type: "Ready", status: "False" }] }, { unschedulable: true })).slice(1, 3)).toEqual(["NotReady,SchedulingDisabled", "<none>"])
    expect(cells(type, node({}, {})).slice(1, 10)).toEqual(["Unknown", "<none>", "3d", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"])
  })
})

describe("Event", () => {
  const core = builtin("", "events")
  const modern = builtin("events.k8s.io", "events")

  it("has LAST SEEN TYPE REASON OBJECT MESSAGE and the wide columns", () => {
    expect(headers(core)).toEqual(["Last Seen", "Type", "Reason", "Object", "Subobject*", "Source*", "Message", "First Seen*", "Count*", "Name*"])
    expect(headers(modern)).toEqual(headers(core))
  })

  it("prints a core event", () => {
    const event = object("v1", "Event", "worker.17f3", {
      type: "Warning",
      reason: "BackOff",
      message: "Back-off restarting failed container main\n",
      involvedObject: { kind: "Pod", name: "worker", namespace: "default", fieldPath: "spec.containers{main}" },
      source: { component: "kubelet", host: "node-1" },
      firstTimestamp: ago(600),
      lastTimestamp: ago(30),
      count: 7
    })
    expect(cells(core, event)).toEqual(["30s", "Warning", "BackOff", "pod/worker", "spec.containers{main}", "kubelet, node-1", "Back-off restarting failed container main", "10m", 7, "worker.17f3"])
  })

  it("falls back to the event time, counts singletons once and follows series", () => {
    const single = object("v1", "Event", "e1", { type: "Normal", reason: "Scheduled", message: "ok", involvedObject: { kind: "Node" }, eventTime: "2026-01-10T11:59:00.123456Z", reportingComponent: "default-scheduler" })
    expect(cells(core, single)).toEqual(["59s", "Normal", "Scheduled", "node", "", "default-scheduler", "ok", "59s", 1, "e1"])
    const series = object("v1", "Event", "e2", { type: "Normal", reason: "Pulled", message: "m", involvedObject: { kind: "Pod", name: "p" }, eventTime: ago(900), series: { count: 12, lastObservedTime: ago(3) } })
    expect(cells(core, series).slice(0, 9)).toEqual(["3s", "Normal", "Pulled", "pod/p", "", "", "m", "15m", 12])
  })

  it("prints an events.k8s.io event like the core one", () => {
    const event = object("events.k8s.io/v1", "Event", "e3", {
      type: "Normal",
      reason: "Created",
      note: "Created container main",
      regarding: { kind: "Pod", name: "worker", fieldPath: "spec.containers{main}" },
      reportingController: "kubelet",
      reportingInstance: "node-1",
      eventTime: ago(400),
      deprecatedFirstTimestamp: ago(400),
      deprecatedLastTimestamp: ago(20),
      deprecatedCount: 2
    })
    expect(cells(modern, event)).toEqual(["20s", "Normal", "Created", "pod/worker", "spec.containers{main}", "kubelet, node-1", "Created container main", "6m40s", 2, "e3"])
  })
})

describe("custom resources", () => {
  const widget = (printerColumns?: ResourceType["printerColumns"]): ResourceType => ({
    group: "example.com",
    version: "v1",
    resource: "widgets",
    kind: "Widget",
    listKind: "WidgetList",
    singular: "widget",
    namespaced: true,
    shortNames: [],
    categories: [],
    verbs: ["get"],
    subresources: [],
    fieldSelectors: [],
    custom: true,
    ...(printerColumns === undefined ? {} : { printerColumns })
  })
  const item = object("example.com/v1", "Widget", "w1", {
    spec: { replicas: 3, ratio: 1.5, big: 1234567.5, tiny: 0.00001, enabled: true, shape: { b: 2, a: "x" }, tags: ["x", "y"] },
    status: { phase: "Ready", lastRun: ago(7200), conditions: [{ type: "Progressing", status: "False" }, { type: "Ready", status: "True", reason: "AllGood" }], nodes: [{ name: "n1" }, { name: "n2" }] }
  })

  it("serves NAME and an Age date column when the CRD declares no columns", () => {
    const type = widget()
    expect(tableColumns(type)).toEqual([
      expect.objectContaining({ name: "Name", type: "string", format: "name", priority: 0 }),
      expect.objectContaining({ name: "Age", type: "date", format: "", priority: 0 })
    ])
    expect(cells(type, item)).toEqual(["w1", "3m20s"])
  })

  it("evaluates the declared columns by type, without adding an Age the CRD did not declare", () => {
    const type = widget([
      { name: "Phase", type: "string", jsonPath: ".status.phase" },
      { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: "Whether it is ready" },
      { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" },
      { name: "Ratio", type: "number", jsonPath: ".spec.ratio", priority: 1 },
      { name: "Enabled", type: "boolean", jsonPath: ".spec.enabled" },
      { name: "Last Run", type: "date", jsonPath: ".status.lastRun" },
      { name: "First Node", type: "string", jsonPath: ".status.nodes[*].name" },
      { name: "Missing", type: "string", jsonPath: ".status.nothing" }
    ])
    expect(tableColumns(type).map((column) => [column.name, column.type, column.priority, column.description])).toEqual([
      ["Name", "string", 0, expect.stringContaining("Name must be unique")],
      ["Phase", "string", 0, "Custom resource definition column (in JSONPath format): .status.phase"],
      ["Ready", "string", 0, "Whether it is ready"],
      ["Replicas", "integer", 0, "Custom resource definition column (in JSONPath format): .spec.replicas"],
      ["Ratio", "number", 1, "Custom resource definition column (in JSONPath format): .spec.ratio"],
      ["Enabled", "boolean", 0, "Custom resource definition column (in JSONPath format): .spec.enabled"],
      ["Last Run", "date", 0, "Custom resource definition column (in JSONPath format): .status.lastRun"],
      ["First Node", "string", 0, "Custom resource definition column (in JSONPath format): .status.nodes[*].name"],
      ["Missing", "string", 0, "Custom resource definition column (in JSONPath format): .status.nothing"]
    ])
    expect(cells(type, item)).toEqual(["w1", "Ready", "True", 3, 1.5, true, "120m", "n1", null])
  })

  it("prints non-string values in string columns the way Go prints them", () => {
    const type = widget([
      { name: "Replicas", type: "string", jsonPath: ".spec.replicas" },
      { name: "Big", type: "string", jsonPath: ".spec.big" },
      { name: "Tiny", type: "string", jsonPath: ".spec.tiny" },
      { name: "Shape", type: "string", jsonPath: ".spec.shape" },
      { name: "Tags", type: "string", jsonPath: ".spec.tags" },
      { name: "Enabled", type: "string", jsonPath: ".spec.enabled" }
    ])
    expect(cells(type, item)).toEqual(["w1", "3", "1.2345675e+06", "1e-05", "map[a:x b:2]", "[x y]", "true"])
  })

  it("gives null for a value of the wrong type, and <invalid> for an unparseable date", () => {
    const type = widget([
      { name: "Replicas", type: "integer", jsonPath: ".status.phase" },
      { name: "Ratio", type: "integer", jsonPath: ".spec.ratio" },
      { name: "When", type: "date", jsonPath: ".status.phase" },
      { name: "Flag", type: "boolean", jsonPath: ".spec.replicas" }
    ])
    expect(cells(type, item)).toEqual(["w1", null, 1, "<invalid>", null])
  })
})

describe("evaluateJsonPath", () => {
  const document = {
    metadata: { labels: { "app.kubernetes.io/name": "web" } },
    spec: { containers: [{ name: "a", ports: [{ containerPort: 80 }] }, { name: "b", ports: [] }] },
    status: { conditions: [{ type: "Ready", status: "True" }, { type: "Synced", status: "False" }], empty: null }
  }

  it("follows fields, indexes, wildcards, slices and filters", () => {
    expect(evaluateJsonPath(".spec.containers[0].name", document)).toEqual(["a"])
    expect(evaluateJsonPath(".spec.containers[-1].name", document)).toEqual(["b"])
    expect(evaluateJsonPath(".spec.containers[*].name", document)).toEqual(["a", "b"])
    expect(evaluateJsonPath(".spec.containers[0:1].name", document)).toEqual(["a"])
    expect(evaluateJsonPath(".spec.containers[*].ports[*].containerPort", document)).toEqual([80])
    expect(evaluateJsonPath('.status.conditions[?(@.type=="Synced")].status', document)).toEqual(["False"])
    expect(evaluateJsonPath(".status.conditions[?(@.type!='Synced')].type", document)).toEqual(["Ready"])
    expect(evaluateJsonPath("{.spec.containers[1].name}", document)).toEqual(["b"])
  })

  it("reads keys with dots, escaped or quoted", () => {
    expect(evaluateJsonPath(".metadata.labels.app\\.kubernetes\\.io/name", document)).toEqual(["web"])
    expect(evaluateJsonPath(".metadata.labels['app.kubernetes.io/name']", document)).toEqual(["web"])
  })

  it("finds nothing for missing keys, out-of-range indexes and unsupported paths, and null for a null field", () => {
    expect(evaluateJsonPath(".spec.nothing.here", document)).toEqual([])
    expect(evaluateJsonPath(".spec.containers[5].name", document)).toEqual([])
    expect(evaluateJsonPath("..name", document)).toEqual([])
    expect(evaluateJsonPath("spec", document)).toEqual([])
    expect(evaluateJsonPath(".status.empty", document)).toEqual([null])
  })
})

describe("fallback", () => {
  it("prints NAME and AGE for a built-in kind without a printer", () => {
    const type: ResourceType = { ...builtin("", "configmaps"), resource: "podtemplates", kind: "PodTemplate", printerColumns: [{ name: "Ignored", type: "string", jsonPath: ".x" }] }
    expect(headers(type)).toEqual(["Name", "Age"])
    expect(cells(type, object("v1", "PodTemplate", "tpl"))).toEqual(["tpl", "3m20s"])
  })
})
