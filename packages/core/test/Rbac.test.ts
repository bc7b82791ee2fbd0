import { describe, expect, it } from "@effect/vitest"
import * as Rbac from "../src/Rbac.ts"
import type * as Validator from "../src/Validator.ts"

const check = (name: string, permissions: ReadonlyArray<Validator.PolicyRule>, requires: ReadonlyArray<Validator.Requirement> = []): Rbac.CheckAccess => ({
  name,
  permissions,
  requires
})

const RUN = "20261128-120000-00000000000000aa"

describe("Rbac.rulesFor", () => {
  it("unions the verbs of each (group, resource), merges equal verb sets of a group, and sorts", () => {
    const rules = Rbac.rulesFor([
      check("a", [
        { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["watch", "get", "list"] },
        { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "delete"] }
      ]),
      check("b", [
        { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
        { apiGroups: ["batch"], resources: ["jobs"], verbs: ["get", "watch"] },
        { apiGroups: ["", "apps"], resources: ["configmaps"], verbs: ["get"] }
      ])
    ])
    expect(rules).toEqual([
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["apps"], resources: ["configmaps"], verbs: ["get"] },
      { apiGroups: ["batch"], resources: ["jobs"], verbs: ["get", "watch", "create", "delete"] }
    ])
  })

  it("adds a by-name read of each CRD a check requires, unless a rule already grants it", () => {
    const crd: Validator.Requirement = { kind: "crd", name: "trainjobs.trainer.kubeflow.org" }
    expect(Rbac.rulesFor([check("n", [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }], [crd])])).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["list"] },
      { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["get"], resourceNames: ["trainjobs.trainer.kubeflow.org"] }
    ].sort((a, b) => a.apiGroups[0]!.localeCompare(b.apiGroups[0]!)))
    const broad = Rbac.rulesFor([check("n", [{ apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["get", "list"] }], [crd])])
    expect(broad).toEqual([{ apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["get", "list"] }])
  })

  it("refuses a wildcard, naming the check", () => {
    const wild = check("greedy", [{ apiGroups: ["*"], resources: ["pods"], verbs: ["get"] }])
    expect(Rbac.wildcardProblems([wild])).toEqual(["greedy: *: pods [get] uses a wildcard; name every group, resource and verb"])
    expect(() => Rbac.rulesFor([wild])).toThrow("greedy: *: pods [get] uses a wildcard")
  })

  it("gives no rule for checks that declare nothing", () => {
    expect(Rbac.rulesFor([check("quiet", [])])).toEqual([])
  })
})

describe("Rbac objects", () => {
  const rules: ReadonlyArray<Rbac.Rule> = [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }]

  it("names the ServiceAccount, ClusterRole and binding per run, labelled with the run", () => {
    const names = Rbac.names(RUN)
    expect(names.serviceAccount).toMatch(/^aicr-validator-[0-9a-f]{8}$/)
    const labels = { "aicr.nvidia.com/run-id": RUN, "app.kubernetes.io/managed-by": "aicr", "app.kubernetes.io/name": "aicr-validator" }
    expect(Rbac.serviceAccount(RUN, "aicr-validation")).toEqual({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: names.serviceAccount, namespace: "aicr-validation", labels }
    })
    expect(Rbac.clusterRole(RUN, rules)).toEqual({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: names.clusterRole, labels },
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }]
    })
    expect(Rbac.clusterRoleBinding(RUN, "aicr-validation")).toEqual({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: names.clusterRoleBinding, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: names.clusterRole },
      subjects: [{ kind: "ServiceAccount", name: names.serviceAccount, namespace: "aicr-validation" }]
    })
  })

  it("formats a rule on one line", () => {
    expect(Rbac.format({ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list"] })).toBe("core: pods, pods/log [get list]")
    expect(Rbac.format({ apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["get"], resourceNames: ["a.b"] }))
      .toBe("apiextensions.k8s.io: customresourcedefinitions [get] names: a.b")
  })
})
