/**
 * Least-privilege RBAC for the in-cluster runner: the rules of one run's ClusterRole are the union of the selected
 * checks' declared permissions plus what core itself asks of the cluster on their behalf (the CRD a `crd`
 * requirement names, read by name) — never a wildcard, never `cluster-admin`. Also the per-run ServiceAccount,
 * ClusterRole and ClusterRoleBinding objects, and the rules as a dry run prints them.
 *
 * Details: rules are normalised — every (group, resource) pair gets the union of its verbs; pairs with the same
 * group and verb set are merged into one rule; groups, resources and verbs are sorted; a rule with `resourceNames`
 * stays on its own. A ClusterRole (not a Role) because the checks create namespaces and work inside them.
 */
import type { KubeObject } from "./KubeClient.ts"
import * as RunContext from "./RunContext.ts"
import type * as Validator from "./Validator.ts"

export const API_VERSION = "rbac.authorization.k8s.io/v1"

/** One rule of a ClusterRole. */
export interface Rule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
  readonly resourceNames?: ReadonlyArray<string> | undefined
}

/** What a check asks for: its name, declared permissions and requirements. */
export type CheckAccess = Pick<Validator.AnyValidator, "name" | "permissions" | "requires">

/** A wildcard where a name belongs: refused, so a generated role can never grant more than was named. */
export const hasWildcard = (rule: Validator.PolicyRule): boolean =>
  [...rule.apiGroups, ...rule.resources, ...rule.verbs].some((item) => item.includes("*"))

const VERB_ORDER = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]

const byVerb = (a: string, b: string) => {
  const ia = VERB_ORDER.indexOf(a)
  const ib = VERB_ORDER.indexOf(b)
  return (ia === -1 ? VERB_ORDER.length : ia) - (ib === -1 ? VERB_ORDER.length : ib) || a.localeCompare(b)
}

/** What core reads for a check (its `crd` requirements, by name). */
export const coreRules = (check: CheckAccess): ReadonlyArray<Rule> =>
  check.requires.flatMap((requirement): ReadonlyArray<Rule> =>
    requirement.kind === "crd"
      ? [{ apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["get"], resourceNames: [requirement.name] }]
      : []
  )

/** A check's own rules that use a wildcard, as `check: group/resource [verbs]` (empty when there are none). */
export const wildcardProblems = (checks: ReadonlyArray<CheckAccess>): ReadonlyArray<string> =>
  checks.flatMap((check) =>
    check.permissions.filter(hasWildcard).map((rule) => `${check.name}: ${format(rule)} uses a wildcard; name every group, resource and verb`)
  )

/**
 * The normalised union of the checks' permissions and core's reads for them. Throws on a wildcard (plugins are
 * validated against them when loaded; this is the last line).
 */
export const rulesFor = (checks: ReadonlyArray<CheckAccess>): ReadonlyArray<Rule> => {
  const problems = wildcardProblems(checks)
  if (problems.length > 0) throw new RangeError(problems.join("; "))
  const verbs = new Map<string, Set<string>>()
  const named = new Map<string, Rule>()
  for (const check of checks) {
    for (const rule of check.permissions) {
      for (const group of rule.apiGroups) {
        for (const resource of rule.resources) {
          const key = JSON.stringify([group, resource])
          const set = verbs.get(key) ?? new Set<string>()
          for (const verb of rule.verbs) set.add(verb)
          verbs.set(key, set)
        }
      }
    }
    for (const rule of coreRules(check)) {
      const key = JSON.stringify([rule.apiGroups, rule.resources, rule.verbs, rule.resourceNames])
      named.set(key, rule)
    }
  }
  const merged = new Map<string, { group: string; verbs: ReadonlyArray<string>; resources: Array<string> }>()
  for (const [key, set] of verbs) {
    const [group, resource] = JSON.parse(key) as [string, string]
    const sorted = [...set].sort(byVerb)
    const mergeKey = JSON.stringify([group, sorted])
    const entry = merged.get(mergeKey) ?? { group, verbs: sorted, resources: [] }
    entry.resources.push(resource)
    merged.set(mergeKey, entry)
  }
  const rules: Array<Rule> = [...merged.values()].map((entry) => ({
    apiGroups: [entry.group],
    resources: [...entry.resources].sort(),
    verbs: entry.verbs
  }))
  const uncovered = [...named.values()].filter((rule) =>
    !rules.some((general) =>
      general.apiGroups.includes(rule.apiGroups[0]!) && general.resources.includes(rule.resources[0]!) && rule.verbs.every((verb) => general.verbs.includes(verb))
    )
  )
  return [...rules, ...uncovered].sort((a, b) =>
    a.apiGroups[0]!.localeCompare(b.apiGroups[0]!) || a.resources[0]!.localeCompare(b.resources[0]!) || byVerb(a.verbs[0] ?? "", b.verbs[0] ?? "")
  )
}

/** A rule as one line: `core: pods, pods/log [get list watch]` (`names: …` when limited to named objects). */
export const format = (rule: Rule): string => {
  const groups = rule.apiGroups.map((group) => (group === "" ? "core" : group)).join(",")
  const names = rule.resourceNames === undefined || rule.resourceNames.length === 0 ? "" : ` names: ${rule.resourceNames.join(", ")}`
  return `${groups}: ${rule.resources.join(", ")} [${rule.verbs.join(" ")}]${names}`
}

/** The per-run names: ServiceAccount, ClusterRole and ClusterRoleBinding `aicr-validator-<hash>`. */
export const names = (runId: string) => {
  const name = `aicr-validator-${RunContext.hashOf(runId)}`
  return { serviceAccount: name, clusterRole: name, clusterRoleBinding: name }
}

const labelsOf = (runId: string): Readonly<Record<string, string>> => ({
  [RunContext.LABEL_RUN_ID]: runId,
  [RunContext.LABEL_MANAGED_BY]: "aicr",
  "app.kubernetes.io/name": "aicr-validator"
})

/** The run's ServiceAccount in the validation namespace (no token is mounted unless the pod asks for it). */
export const serviceAccount = (runId: string, namespace: string): KubeObject => ({
  apiVersion: "v1",
  kind: "ServiceAccount",
  metadata: { name: names(runId).serviceAccount, namespace, labels: { ...labelsOf(runId) } }
})

/** The run's ClusterRole with `rules`. */
export const clusterRole = (runId: string, rules: ReadonlyArray<Rule>): KubeObject => ({
  apiVersion: API_VERSION,
  kind: "ClusterRole",
  metadata: { name: names(runId).clusterRole, labels: { ...labelsOf(runId) } },
  rules: rules.map((rule) => ({
    apiGroups: [...rule.apiGroups],
    resources: [...rule.resources],
    verbs: [...rule.verbs],
    ...(rule.resourceNames === undefined ? {} : { resourceNames: [...rule.resourceNames] })
  }))
})

/** Binds the run's ClusterRole to its ServiceAccount. */
export const clusterRoleBinding = (runId: string, namespace: string): KubeObject => ({
  apiVersion: API_VERSION,
  kind: "ClusterRoleBinding",
  metadata: { name: names(runId).clusterRoleBinding, labels: { ...labelsOf(runId) } },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: names(runId).clusterRole },
  subjects: [{ kind: "ServiceAccount", name: names(runId).serviceAccount, namespace }]
})
