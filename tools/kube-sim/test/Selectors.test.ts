import { describe, expect, it } from "vitest"
import { BUILTIN } from "../src/resources.ts"
import * as Selectors from "../src/selectors.ts"
import type { KubeObject, ResourceType } from "../src/types.ts"
import { statusErrorOf } from "./support/status.ts"

const VALUE_RULE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
const KEY_RULE =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

const failure = statusErrorOf

const type = (group: string, resource: string): ResourceType => {
  const found = BUILTIN.find((candidate) => candidate.group === group && candidate.resource === resource)
  if (found === undefined) throw new Error(`no built-in ${group}/${resource}`)
  return found
}

describe("parseLabelSelector", () => {
  it.each([
    ["", []],
    ["app=web", [{ key: "app", operator: "=", values: ["web"] }]],
    ["app==web", [{ key: "app", operator: "==", values: ["web"] }]],
    ["app!=web", [{ key: "app", operator: "!=", values: ["web"] }]],
    ["tier in (front,back)", [{ key: "tier", operator: "in", values: ["back", "front"] }]],
    ["tier notin (db)", [{ key: "tier", operator: "notin", values: ["db"] }]],
    ["gpu", [{ key: "gpu", operator: "exists", values: [] }]],
    ["!gpu", [{ key: "gpu", operator: "!", values: [] }]],
    ["count>2", [{ key: "count", operator: "gt", values: ["2"] }]],
    ["count<10", [{ key: "count", operator: "lt", values: ["10"] }]],
    ["app=", [{ key: "app", operator: "=", values: [""] }]],
    ["nvidia.com/gpu.present=true", [{ key: "nvidia.com/gpu.present", operator: "=", values: ["true"] }]],
    ["  b = 2 ,\ta  ", [{ key: "a", operator: "exists", values: [] }, { key: "b", operator: "=", values: ["2"] }]],
    [
      "x in (foo,,baz),y,z notin ()",
      [
        { key: "x", operator: "in", values: ["", "baz", "foo"] },
        { key: "y", operator: "exists", values: [] },
        { key: "z", operator: "notin", values: [""] }
      ]
    ],
    ["a in (y,x,y)", [{ key: "a", operator: "in", values: ["x", "y"] }]],
    ["in in (in,notin)", [{ key: "in", operator: "in", values: ["in", "notin"] }]]
  ])("parses %j", (text, expected) => {
    expect(Selectors.parseLabelSelector(text)).toEqual(expected)
  })

  it.each([
    ["a=b,", "found '', expected: identifier after ','"],
    ["=b", "found '=', expected: !, identifier, or 'end of string'"],
    ["a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ["a=b c", "found 'c', expected: ',' or 'end of string'"],
    ["!a=b", "found '=', expected: ',' or 'end of string'"],
    ["a in x", "unable to parse requirement: found 'x' expected: '('"],
    ["a in (x", "unable to parse requirement: found '', expected: ',' or ')'"],
    ["a in (x y)", "unable to parse requirement: found 'y', expected: ',' or ')'"],
    ["a>x", `unable to parse requirement: values[0]: Invalid value: "x": for 'Gt', 'Lt' operators, the value must be an integer`],
    ["a=-bad", `unable to parse requirement: values[0][a]: Invalid value: "-bad": ${VALUE_RULE}`],
    [
      `a=${"v".repeat(64)}`,
      `unable to parse requirement: values[0][a]: Invalid value: "${"v".repeat(64)}": must be no more than 63 bytes`
    ],
    [
      "a in (-x,-y)",
      `unable to parse requirement: [values[0][a]: Invalid value: "-x": ${VALUE_RULE}, values[1][a]: Invalid value: "-y": ${VALUE_RULE}]`
    ],
    ["-a=b", `unable to parse requirement: <nil>: Invalid value: "-a": name part ${KEY_RULE}`],
    [
      "a/b/c",
      `unable to parse requirement: <nil>: Invalid value: "a/b/c": a valid label key ${KEY_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`
    ],
    ["/a", `unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty`],
    [
      "Bad_Prefix/a",
      `unable to parse requirement: <nil>: Invalid value: "Bad_Prefix/a": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`
    ],
    [`${"k".repeat(64)}`, `unable to parse requirement: <nil>: Invalid value: "${"k".repeat(64)}": name part must be no more than 63 bytes`]
  ])("rejects %j", (text, message) => {
    const error = failure(() => Selectors.parseLabelSelector(text))
    expect(error.body).toEqual({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "BadRequest", code: 400 })
  })
})

describe("matchesLabels", () => {
  const labels = { app: "web", tier: "front", count: "5" }
  it.each([
    ["app=web", labels, true],
    ["app==web", labels, true],
    ["app=db", labels, false],
    ["app!=db", labels, true],
    ["app!=web", labels, false],
    ["missing!=x", labels, true],
    ["missing!=x", undefined, true],
    ["tier in (front,back)", labels, true],
    ["tier in (back)", labels, false],
    ["missing in (x)", labels, false],
    ["tier notin (back)", labels, true],
    ["tier notin (front)", labels, false],
    ["missing notin (x)", labels, true],
    ["app", labels, true],
    ["missing", labels, false],
    ["!missing", labels, true],
    ["!app", labels, false],
    ["count>4", labels, true],
    ["count>5", labels, false],
    ["count<6", labels, true],
    ["app>1", labels, false],
    ["app=web,tier=front", labels, true],
    ["app=web,tier=back", labels, false],
    ["", undefined, true],
    ["app=web", undefined, false]
  ])("%j on %j → %s", (text, set, expected) => {
    expect(Selectors.matchesLabels(Selectors.parseLabelSelector(text), set)).toBe(expected)
  })
})

describe("parseFieldSelector", () => {
  it.each([
    ["", []],
    [",,", []],
    ["metadata.name=foo", [{ field: "metadata.name", operator: "=", value: "foo" }]],
    ["spec.nodeName==n1", [{ field: "spec.nodeName", operator: "==", value: "n1" }]],
    ["status.phase!=Running", [{ field: "status.phase", operator: "!=", value: "Running" }]],
    ["spec.nodeName=", [{ field: "spec.nodeName", operator: "=", value: "" }]],
    [
      "status.phase=Running,metadata.name=a",
      [
        { field: "metadata.name", operator: "=", value: "a" },
        { field: "status.phase", operator: "=", value: "Running" }
      ]
    ],
    ["metadata.name=a\\,b", [{ field: "metadata.name", operator: "=", value: "a,b" }]],
    ["metadata.name=a\\=b", [{ field: "metadata.name", operator: "=", value: "a=b" }]],
    ["metadata.name=a\\\\b", [{ field: "metadata.name", operator: "=", value: "a\\b" }]]
  ])("parses %j", (text, expected) => {
    expect(Selectors.parseFieldSelector(text)).toEqual(expected)
  })

  it.each([
    ["metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"],
    ["a=1,b", "invalid selector: 'a=1,b'; can't understand 'b'"],
    ["metadata.name=a=b", "invalid field selector: unescaped character in value: 61"],
    ["metadata.name=a\\x", "invalid field selector: invalid escape sequence: \\x"],
    ["metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"]
  ])("rejects %j", (text, message) => {
    const error = failure(() => Selectors.parseFieldSelector(text))
    expect([error.code, error.reason, error.message]).toEqual([400, "BadRequest", message])
  })
})

describe("checkFieldSelector", () => {
  it.each([
    ["", "pods", "metadata.name=a"],
    ["", "pods", "metadata.namespace=a"],
    ["", "pods", "spec.nodeName=n,status.phase=Running"],
    ["", "pods", "spec.host=n"],
    ["", "configmaps", "metadata.namespace=default"],
    ["", "nodes", "spec.unschedulable=true"],
    ["", "secrets", "type=Opaque"],
    ["batch", "jobs", "status.successful=1"],
    ["resource.k8s.io", "resourceslices", "spec.driver=gpu.nvidia.com"]
  ])("accepts %s/%s %j", (group, resource, text) => {
    expect(Selectors.checkFieldSelector(Selectors.parseFieldSelector(text), type(group, resource))).toBeUndefined()
  })

  it.each([
    ["", "pods", "spec.foo=x", "field label not supported: spec.foo"],
    ["", "configmaps", "data.key=x", "field label not supported: data.key"],
    ["", "namespaces", "metadata.namespace=x", "field label not supported: metadata.namespace"],
    ["", "nodes", "metadata.namespace=x", "field label not supported: metadata.namespace"],
    ["", "configmaps", "spec.host=x", "field label not supported: spec.host"]
  ])("rejects %s/%s %j", (group, resource, text, message) => {
    const error = failure(() => Selectors.checkFieldSelector(Selectors.parseFieldSelector(text), type(group, resource)))
    expect(error.body).toEqual({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "BadRequest", code: 400 })
  })
})

describe("fieldValue and matchesFields", () => {
  const pod: KubeObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "ns" },
    spec: { nodeName: "n1", restartPolicy: "Never" },
    status: { phase: "Running", podIP: "10.0.0.9", podIPs: [{ ip: "10.0.0.1" }, { ip: "fd00::1" }] }
  }
  const hostPod: KubeObject = { apiVersion: "v1", kind: "Pod", metadata: { name: "h" }, spec: { hostNetwork: true } }
  const node: KubeObject = { apiVersion: "v1", kind: "Node", metadata: { name: "n" }, spec: {} }
  const job: KubeObject = { apiVersion: "batch/v1", kind: "Job", metadata: { name: "j" }, status: { succeeded: 3 } }
  const freshJob: KubeObject = { apiVersion: "batch/v1", kind: "Job", metadata: { name: "k" }, status: {} }
  const event: KubeObject = { apiVersion: "v1", kind: "Event", metadata: { name: "e" }, source: { component: "kubelet" }, reportingComponent: "" }
  const newEvent: KubeObject = { apiVersion: "v1", kind: "Event", metadata: { name: "f" }, reportingComponent: "scheduler" }

  it.each([
    [pod, "metadata.name", "p"],
    [pod, "metadata.namespace", "ns"],
    [pod, "spec.nodeName", "n1"],
    [pod, "spec.host", "n1"],
    [pod, "spec.schedulerName", ""],
    [pod, "spec.hostNetwork", "false"],
    [hostPod, "spec.hostNetwork", "true"],
    [pod, "status.podIP", "10.0.0.1"],
    [pod, "status.podIPs", ""],
    [node, "metadata.namespace", ""],
    [node, "spec.unschedulable", "false"],
    [job, "status.successful", "3"],
    [freshJob, "status.successful", "0"],
    [event, "source", "kubelet"],
    [newEvent, "source", "scheduler"],
    [newEvent, "reportingComponent", "scheduler"]
  ])("%#: %s", (object, field, expected) => {
    expect(Selectors.fieldValue(object, field)).toBe(expected)
  })

  it.each([
    ["spec.nodeName=n1", true],
    ["spec.nodeName==n1", true],
    ["spec.nodeName=n2", false],
    ["spec.nodeName!=n2", true],
    ["spec.nodeName!=n1", false],
    ["spec.schedulerName=", true],
    ["spec.schedulerName!=x", true],
    ["spec.hostNetwork=false", true],
    ["metadata.name=p,status.phase=Running", true],
    ["metadata.name=p,status.phase=Pending", false]
  ])("%j → %s", (text, expected) => {
    expect(Selectors.matchesFields(Selectors.parseFieldSelector(text), pod)).toBe(expected)
  })
})
