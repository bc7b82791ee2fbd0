import type * as Plan from "@aicr/core/Plan"
import * as Problem from "@aicr/core/Problem"
import * as Rbac from "@aicr/core/Rbac"
import type * as Runner from "@aicr/core/Runner"
import { formatDuration } from "@aicr/core/Runner"

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`

/** Input problems, all of them, one per line, under a heading that counts them. */
export const problems = (found: ReadonlyArray<Problem.Problem>): string =>
  `error: ${plural(found.length, "problem")} in the input; nothing was changed on the cluster\n` +
  found.map((problem) => `  ${Problem.format(problem)}\n`).join("")

export const warnings = (found: ReadonlyArray<Problem.Problem>): string =>
  found.map((problem) => `warning: ${Problem.format(problem)}\n`).join("")

const requirementText = (check: Plan.PlannedCheck, declared: ReadonlySet<string>): ReadonlyArray<string> =>
  (check.plugin?.requires ?? []).map((requirement) => {
    switch (requirement.kind) {
      case "component":
        return `component ${requirement.name} in the recipe`
      case "constraint":
        return `constraint ${requirement.anyOf.join(" or ")} in the recipe`
      case "crd":
        return `CRD ${requirement.name} on the cluster (checked when the check runs)`
      case "api": {
        const served = `${requirement.resourceKind} (${requirement.apiVersion}) served by the cluster`
        if (requirement.declaredBy === undefined) return `${served}, else ${requirement.whenMissing ?? "skipped"} (checked when the check runs)`
        return declared.has(requirement.declaredBy)
          ? `${served}, else ${requirement.whenMissing ?? "skipped"}: the recipe declares ${requirement.declaredBy} (checked when the check runs)`
          : `${served}, else skipped: the recipe does not declare ${requirement.declaredBy} (checked when the check runs)`
      }
    }
  })

/** The plan of a dry run: phases, checks, images, constraints, permissions, and skips decided by the recipe. */
export const plan = (
  planned: Plan.Plan,
  options: {
    readonly context?: string | undefined
    readonly kubeconfig?: string | undefined
    readonly runner?: string | undefined
    readonly namespace?: string | undefined
  }
): string => {
  const { recipe } = planned
  const lines: Array<string> = []
  lines.push("aicr validate --dry-run: the plan (nothing is run and nothing is changed on the cluster)")
  lines.push(`recipe: ${recipe.source} (${recipe.recipe.kind} ${recipe.recipe.apiVersion}${recipe.recipe.name === undefined ? "" : `, ${recipe.recipe.name}`})`)
  lines.push(`cluster: ${options.kubeconfig ?? "default kubeconfig"}${options.context === undefined ? "" : `, context ${options.context}`}`)
  lines.push(`phases: ${planned.phases.map((phase) => phase.phase).join(" → ")}`)
  for (const phase of planned.phases) {
    lines.push("")
    const running = phase.checks.filter((check) => check.decision._tag === "Run").length
    lines.push(`phase ${phase.phase}: ${phase.checks.length === 0 ? "no checks declared" : `${plural(phase.checks.length, "check")}, ${running} to run`}`)
    for (const check of phase.checks) {
      const decision = check.decision._tag === "Run" ? "run" : `skip: ${check.decision.reason}`
      lines.push(`  ${check.name} — ${decision}`)
      lines.push(`    ${check.description}`)
      lines.push(`    timeout ${formatDuration(check.timeoutMs)}${check.exclusive.length > 0 ? `, exclusive: ${check.exclusive.join(", ")}` : ""}`)
      lines.push("    images:")
      const width = Math.max(...Object.keys(check.images).map((key) => key.length))
      for (const [key, image] of Object.entries(check.images)) {
        lines.push(`      ${key.padEnd(width)}  ${image}  (pull ${check.pullPolicies[key]})`)
      }
      if (check.plugin !== undefined) {
        lines.push(check.constraints.length === 0 ? "    constraints: none declared" : "    constraints:")
        for (const constraint of check.constraints) {
          lines.push(`      ${constraint.name} ${constraint.value}  (${constraint.path}${constraint.line === undefined ? "" : `, line ${constraint.line}`})`)
        }
        const requires = requirementText(check, new Set(planned.recipe.recipe.componentRefs.map((ref) => ref.name)))
        if (requires.length > 0) lines.push(`    requires: ${requires.join("; ")}`)
        if (check.permissions.length > 0) {
          lines.push("    permissions:")
          for (const rule of check.permissions) {
            const group = rule.apiGroups.map((name) => (name === "" ? "core" : name)).join(",")
            lines.push(`      ${group}: ${rule.resources.join(", ")} [${rule.verbs.join(" ")}]`)
          }
        }
      }
    }
  }
  if (options.runner === "in-cluster") lines.push("", ...inClusterPlan(planned, options.namespace ?? "aicr-validation"))
  return lines.join("\n") + "\n"
}

/** What the in-cluster runner would create, and the one ClusterRole's rules: the union of the running checks' permissions. */
const inClusterPlan = (planned: Plan.Plan, namespace: string): ReadonlyArray<string> => {
  const running = planned.phases.flatMap((phase) => phase.checks).filter((check) => check.decision._tag === "Run" && check.plugin !== undefined)
  const lines = [
    `in-cluster runner: namespace ${namespace} (created if absent and left in place); per run a ConfigMap aicr-input-<hash>,`,
    "a ServiceAccount, a ClusterRole and a ClusterRoleBinding aicr-validator-<hash>, and one Job per check running",
    "the validator image (aicr check <name>); the role is revoked first when the run ends"
  ]
  if (running.length === 0) return [...lines, "RBAC rules: none (no check runs)"]
  const rules = Rbac.rulesFor(running.map((check) => check.plugin!))
  lines.push(`RBAC rules of ClusterRole aicr-validator-<hash> (${plural(rules.length, "rule")}, no wildcard; for ${running.map((check) => check.name).join(", ")}):`)
  for (const rule of rules) lines.push(`  ${Rbac.format(rule)}`)
  return lines
}

const STATUS_MARK: Record<Runner.Status, string> = { passed: "PASS", failed: "FAIL", skipped: "SKIP", inconclusive: "INCONCLUSIVE" }

/** The closing summary of a run. */
export const summary = (results: ReadonlyArray<Runner.CheckResult>, interrupted: boolean): string => {
  const count = (status: Runner.Status) => results.filter((result) => result.status === status).length
  const lines = results.map((result) => `  ${STATUS_MARK[result.status].padEnd(12)} ${result.phase}/${result.name}${result.message === "" ? "" : `: ${result.message}`}`)
  const head = interrupted ? "interrupted: partial results" : "results"
  return `${head}\n${lines.join("\n")}\n${count("passed")} passed, ${count("failed")} failed, ${count("skipped")} skipped, ${count("inconclusive")} inconclusive\n`
}
