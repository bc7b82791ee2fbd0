import { describe, expect, it } from "vitest"
import {
  AGGREGATED_CONTENT_TYPE,
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  compareKubeAwareVersions,
  coreApiVersions,
  parseAccept,
  storageVersionHash,
  versionInfo,
  wantsAggregated
} from "../src/discovery.ts"
import { Registry } from "../src/resources.ts"
import type { ResourceType } from "../src/types.ts"

const KUBECTL_DISCOVERY_ACCEPT =
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
const CLIENT_NODE_ACCEPT = "application/json, */*;q=0.8"

const CRUD = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
const CRD_VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]

const custom = (group: string, version: string, resource: string, kind: string, extra: Partial<ResourceType> = {}): ResourceType => ({
  group,
  version,
  resource,
  kind,
  listKind: `${kind}List`,
  singular: kind.toLowerCase(),
  namespaced: true,
  shortNames: [],
  categories: [],
  verbs: CRD_VERBS,
  subresources: [],
  fieldSelectors: [],
  custom: true,
  ...extra
})

const withCustomResources = (): Registry => {
  const registry = new Registry()
  registry.add(custom("example.com", "v1alpha1", "widgets", "Widget"))
  registry.add(custom("example.com", "v1", "widgets", "Widget", { shortNames: ["wd"], categories: ["all"], subresources: ["status", "scale"] }))
  registry.add(custom("example.com", "v1beta1", "widgets", "Widget"))
  registry.add(custom("aaa.example.org", "v1", "gadgets", "Gadget", { namespaced: false }))
  return registry
}

describe("versionInfo", () => {
  it("has the shape of a 1.35 server's version.Info", () => {
    expect(versionInfo()).toEqual({
      major: "1",
      minor: "35",
      emulationMajor: "1",
      emulationMinor: "35",
      minCompatibilityMajor: "1",
      minCompatibilityMinor: "34",
      gitVersion: "v1.35.0-aicr-sim",
      gitCommit: "a1c25100000000000000000000000000000a1c25",
      gitTreeState: "clean",
      buildDate: "2025-12-17T00:00:00Z",
      goVersion: "go1.25.5",
      compiler: "gc",
      platform: "linux/amd64"
    })
    expect(Object.keys(versionInfo())).toEqual([
      "major", "minor", "emulationMajor", "emulationMinor", "minCompatibilityMajor", "minCompatibilityMinor",
      "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"
    ])
  })
})

describe("legacy discovery", () => {
  it("answers /api with APIVersions and the server address", () => {
    expect(coreApiVersions("127.0.0.1:6443")).toEqual({
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1:6443" }]
    })
  })

  it("lists the core v1 resources and subresources like a real /api/v1", () => {
    expect(apiResourceList(new Registry(), "", "v1")).toEqual({
      kind: "APIResourceList",
      groupVersion: "v1",
      resources: [
        { name: "configmaps", singularName: "configmap", namespaced: true, kind: "ConfigMap", verbs: CRUD, shortNames: ["cm"], storageVersionHash: "qFsyl6wFWjQ=" },
        { name: "events", singularName: "event", namespaced: true, kind: "Event", verbs: CRUD, shortNames: ["ev"], storageVersionHash: "r2yiGXH7wu8=" },
        {
          name: "namespaces",
          singularName: "namespace",
          namespaced: false,
          kind: "Namespace",
          verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
          shortNames: ["ns"],
          storageVersionHash: "Q3oi5N2YM8M="
        },
        { name: "namespaces/finalize", singularName: "", namespaced: false, kind: "Namespace", verbs: ["update"] },
        { name: "namespaces/status", singularName: "", namespaced: false, kind: "Namespace", verbs: ["get", "patch", "update"] },
        { name: "nodes", singularName: "node", namespaced: false, kind: "Node", verbs: CRUD, shortNames: ["no"], storageVersionHash: "XwShjMxG9Fs=" },
        { name: "nodes/proxy", singularName: "", namespaced: false, kind: "NodeProxyOptions", verbs: ["create", "delete", "get", "patch", "update"] },
        { name: "nodes/status", singularName: "", namespaced: false, kind: "Node", verbs: ["get", "patch", "update"] },
        { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: CRUD, shortNames: ["po"], categories: ["all"], storageVersionHash: "xPOwRZ+Yhw8=" },
        { name: "pods/binding", singularName: "", namespaced: true, kind: "Binding", verbs: ["create"] },
        { name: "pods/eviction", singularName: "", namespaced: true, group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] },
        { name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] },
        { name: "pods/proxy", singularName: "", namespaced: true, kind: "PodProxyOptions", verbs: ["create", "delete", "get", "patch", "update"] },
        { name: "pods/status", singularName: "", namespaced: true, kind: "Pod", verbs: ["get", "patch", "update"] },
        { name: "secrets", singularName: "secret", namespaced: true, kind: "Secret", verbs: CRUD, storageVersionHash: "S6u1pOWzb84=" },
        { name: "serviceaccounts", singularName: "serviceaccount", namespaced: true, kind: "ServiceAccount", verbs: CRUD, shortNames: ["sa"], storageVersionHash: "pbx9ZvyFpBE=" },
        {
          name: "serviceaccounts/token",
          singularName: "",
          namespaced: true,
          group: "authentication.k8s.io",
          version: "v1",
          kind: "TokenRequest",
          verbs: ["create"]
        },
        { name: "services", singularName: "service", namespaced: true, kind: "Service", verbs: CRUD, shortNames: ["svc"], categories: ["all"], storageVersionHash: "0/CO1lhkEBI=" },
        { name: "services/proxy", singularName: "", namespaced: true, kind: "ServiceProxyOptions", verbs: ["create", "delete", "get", "patch", "update"] },
        { name: "services/status", singularName: "", namespaced: true, kind: "Service", verbs: ["get", "patch", "update"] }
      ]
    })
  })

  it("serializes the pods/log and pods/status entries with an empty singularName and no group", () => {
    const list = apiResourceList(new Registry(), "", "v1") as { resources: Array<{ name: string }> }
    const text = (name: string) => JSON.stringify(list.resources.find((entry) => entry.name === name))
    expect(text("pods/log")).toBe('{"name":"pods/log","singularName":"","namespaced":true,"kind":"Pod","verbs":["get"]}')
    expect(text("pods/status")).toBe('{"name":"pods/status","singularName":"","namespaced":true,"kind":"Pod","verbs":["get","patch","update"]}')
  })

  it("lists batch/v1 with an apiVersion, as group lists have", () => {
    expect(apiResourceList(new Registry(), "batch", "v1")).toEqual({
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: "batch/v1",
      resources: [
        { name: "jobs", singularName: "job", namespaced: true, kind: "Job", verbs: CRUD, categories: ["all"], storageVersionHash: "mudhfqk/qZY=" },
        { name: "jobs/status", singularName: "", namespaced: true, kind: "Job", verbs: ["get", "patch", "update"] }
      ]
    })
    expect(Object.keys(apiResourceList(new Registry(), "batch", "v1") ?? {})).toEqual(["kind", "apiVersion", "groupVersion", "resources"])
  })

  it("keeps CRD verbs in the apiextensions order and lists status before scale", () => {
    const list = apiResourceList(withCustomResources(), "example.com", "v1") as { resources: Array<Record<string, unknown>> }
    expect(list.resources).toEqual([
      {
        name: "widgets",
        singularName: "widget",
        namespaced: true,
        kind: "Widget",
        verbs: CRD_VERBS,
        shortNames: ["wd"],
        categories: ["all"],
        storageVersionHash: storageVersionHash("example.com", "v1", "Widget")
      },
      { name: "widgets/status", singularName: "", namespaced: true, kind: "Widget", verbs: ["get", "patch", "update"] },
      { name: "widgets/scale", singularName: "", namespaced: true, group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] }
    ])
  })

  it("has nothing for a group or version it does not serve", () => {
    expect(apiResourceList(new Registry(), "apps", "v1")).toBeUndefined()
    expect(apiResourceList(new Registry(), "batch", "v2")).toBeUndefined()
    expect(apiResourceList(new Registry(), "", "v2")).toBeUndefined()
    expect(apiGroup(new Registry(), "apps")).toBeUndefined()
    expect(apiGroup(new Registry(), "")).toBeUndefined()
  })

  it("orders /apis groups by the aggregator's group priority, CRD groups last by APIService name", () => {
    const list = apiGroupList(withCustomResources()) as { kind: string; apiVersion: string; groups: Array<{ name: string }> }
    expect(list.kind).toBe("APIGroupList")
    expect(list.apiVersion).toBe("v1")
    expect(list.groups.map((group) => group.name)).toEqual([
      "events.k8s.io",
      "authorization.k8s.io",
      "batch",
      "rbac.authorization.k8s.io",
      "apiextensions.k8s.io",
      "coordination.k8s.io",
      "discovery.k8s.io",
      "resource.k8s.io",
      "aaa.example.org",
      "example.com"
    ])
    expect(list.groups[2]).toEqual({
      name: "batch",
      versions: [{ groupVersion: "batch/v1", version: "v1" }],
      preferredVersion: { groupVersion: "batch/v1", version: "v1" }
    })
  })

  it("prefers the highest Kubernetes-aware version of a CRD group", () => {
    expect(apiGroup(withCustomResources(), "example.com")).toEqual({
      kind: "APIGroup",
      apiVersion: "v1",
      name: "example.com",
      versions: [
        { groupVersion: "example.com/v1", version: "v1" },
        { groupVersion: "example.com/v1beta1", version: "v1beta1" },
        { groupVersion: "example.com/v1alpha1", version: "v1alpha1" }
      ],
      preferredVersion: { groupVersion: "example.com/v1", version: "v1" }
    })
  })

  it("sorts versions the way CompareKubeAwareVersionStrings does", () => {
    expect(["v1alpha1", "foo", "v2", "v1", "v1beta2", "v10", "v1beta1", "bar", "v2alpha3"].sort(compareKubeAwareVersions)).toEqual([
      "v10", "v2", "v1", "v1beta2", "v1beta1", "v2alpha3", "v1alpha1", "bar", "foo"
    ])
  })

  it("computes storage version hashes like discovery.StorageVersionHash", () => {
    expect(storageVersionHash("", "v1", "ConfigMap")).toBe("qFsyl6wFWjQ=")
    expect(storageVersionHash("batch", "v1", "Job")).toBe("mudhfqk/qZY=")
    const events = apiResourceList(new Registry(), "events.k8s.io", "v1") as { resources: Array<{ storageVersionHash?: string }> }
    expect(events.resources[0]?.storageVersionHash).toBe("r2yiGXH7wu8=")
  })
})

describe("aggregated discovery", () => {
  it("serves the core group at /api with pods and their subresources", () => {
    const list = aggregatedDiscovery(new Registry(), "api") as {
      kind: string
      apiVersion: string
      metadata: object
      items: Array<{ metadata: object; versions: Array<{ version: string; freshness: string; resources: Array<{ resource: string }> }> }>
    }
    expect(list.kind).toBe("APIGroupDiscoveryList")
    expect(list.apiVersion).toBe("apidiscovery.k8s.io/v2")
    expect(list.metadata).toEqual({})
    expect(list.items).toHaveLength(1)
    expect(list.items[0]?.metadata).toEqual({})
    expect(list.items[0]?.versions.map((version) => [version.version, version.freshness])).toEqual([["v1", "Current"]])
    expect(list.items[0]?.versions[0]?.resources.map((resource) => resource.resource)).toEqual([
      "configmaps", "events", "namespaces", "nodes", "pods", "secrets", "serviceaccounts", "services"
    ])
    expect(list.items[0]?.versions[0]?.resources.find((resource) => resource.resource === "pods")).toEqual({
      resource: "pods",
      responseKind: { group: "", version: "", kind: "Pod" },
      scope: "Namespaced",
      singularResource: "pod",
      verbs: CRUD,
      shortNames: ["po"],
      categories: ["all"],
      subresources: [
        { subresource: "binding", responseKind: { group: "", version: "", kind: "Binding" }, verbs: ["create"] },
        { subresource: "eviction", responseKind: { group: "policy", version: "v1", kind: "Eviction" }, verbs: ["create"] },
        { subresource: "log", responseKind: { group: "", version: "", kind: "Pod" }, verbs: ["get"] },
        { subresource: "proxy", responseKind: { group: "", version: "", kind: "PodProxyOptions" }, verbs: ["create", "delete", "get", "patch", "update"] },
        { subresource: "status", responseKind: { group: "", version: "", kind: "Pod" }, verbs: ["get", "patch", "update"] }
      ]
    })
  })

  it("leaves subresources out of resources that have none, and scopes cluster resources", () => {
    const list = aggregatedDiscovery(new Registry(), "api") as { items: Array<{ versions: Array<{ resources: Array<{ resource: string }> }> }> }
    const resources = list.items[0]?.versions[0]?.resources ?? []
    expect(resources.find((resource) => resource.resource === "configmaps")).toEqual({
      resource: "configmaps",
      responseKind: { group: "", version: "", kind: "ConfigMap" },
      scope: "Namespaced",
      singularResource: "configmap",
      verbs: CRUD,
      shortNames: ["cm"]
    })
    expect(resources.find((resource) => resource.resource === "namespaces")).toMatchObject({
      scope: "Cluster",
      subresources: [
        { subresource: "finalize", responseKind: { group: "", version: "", kind: "Namespace" }, verbs: ["update"] },
        { subresource: "status", responseKind: { group: "", version: "", kind: "Namespace" }, verbs: ["get", "patch", "update"] }
      ]
    })
  })

  it("serves the named groups at /apis, CRDs with their full response kinds", () => {
    const list = aggregatedDiscovery(withCustomResources(), "apis") as {
      items: Array<{ metadata: { name?: string }; versions: Array<{ version: string; resources: Array<{ resource: string }> }> }>
    }
    expect(list.items.map((item) => item.metadata.name)).toEqual([
      "events.k8s.io", "authorization.k8s.io", "batch", "rbac.authorization.k8s.io", "apiextensions.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
      "resource.k8s.io", "aaa.example.org", "example.com"
    ])
    expect(list.items[2]).toEqual({
      metadata: { name: "batch" },
      versions: [
        {
          version: "v1",
          resources: [
            {
              resource: "jobs",
              responseKind: { group: "", version: "", kind: "Job" },
              scope: "Namespaced",
              singularResource: "job",
              verbs: CRUD,
              categories: ["all"],
              subresources: [{ subresource: "status", responseKind: { group: "", version: "", kind: "Job" }, verbs: ["get", "patch", "update"] }]
            }
          ],
          freshness: "Current"
        }
      ]
    })
    const widgets = list.items[9]
    expect(widgets?.versions.map((version) => version.version)).toEqual(["v1", "v1beta1", "v1alpha1"])
    expect(widgets?.versions[0]?.resources[0]).toEqual({
      resource: "widgets",
      responseKind: { group: "example.com", version: "v1", kind: "Widget" },
      scope: "Namespaced",
      singularResource: "widget",
      verbs: CRD_VERBS,
      shortNames: ["wd"],
      categories: ["all"],
      subresources: [
        { subresource: "status", responseKind: { group: "example.com", version: "v1", kind: "Widget" }, verbs: ["get", "patch", "update"] },
        { subresource: "scale", responseKind: { group: "autoscaling", version: "v1", kind: "Scale" }, verbs: ["get", "patch", "update"] }
      ]
    })
  })

  it("names its content type", () => {
    expect(AGGREGATED_CONTENT_TYPE).toBe("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
  })
})

describe("wantsAggregated", () => {
  it("is true for kubectl's discovery Accept header", () => {
    expect(wantsAggregated(KUBECTL_DISCOVERY_ACCEPT)).toBe(true)
  })

  it("skips entries it cannot produce, like protobuf, before the JSON v2 list", () => {
    expect(wantsAggregated(`application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,${KUBECTL_DISCOVERY_ACCEPT}`)).toBe(true)
  })

  it("is false for client-node, plain JSON, a missing header and anything-goes", () => {
    expect(wantsAggregated(CLIENT_NODE_ACCEPT)).toBe(false)
    expect(wantsAggregated("application/json")).toBe(false)
    expect(wantsAggregated(undefined)).toBe(false)
    expect(wantsAggregated("")).toBe(false)
    expect(wantsAggregated("*/*")).toBe(false)
  })

  it("is false when only v2beta1 precedes plain JSON", () => {
    expect(wantsAggregated("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")).toBe(false)
  })

  it("honours q values and spacing", () => {
    expect(wantsAggregated("application/json;q=0.5, application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList")).toBe(true)
    expect(wantsAggregated("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0,application/json")).toBe(false)
  })

  it("parses Accept entries in preference order", () => {
    expect(parseAccept("text/plain;q=0.2, application/json;as=Table;v=v1;g=meta.k8s.io, */*;q=0.8")).toEqual([
      { type: "application", subtype: "json", params: { as: "Table", v: "v1", g: "meta.k8s.io" }, q: 1 },
      { type: "*", subtype: "*", params: {}, q: 0.8 },
      { type: "text", subtype: "plain", params: {}, q: 0.2 }
    ])
  })
})
