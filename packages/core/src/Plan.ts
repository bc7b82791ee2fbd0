/**
 * From a recipe, a catalog and the installed plugins to a plan: which checks run in which phase, with which
 * images, constraints, permissions and time budget — and which are skipped, and why.
 *
 * Details: every problem of the selection is collected before any cluster work: a declared check the catalog
 * does not know, one that belongs to another phase, one declared twice, a constraint its plugin cannot read.
 * Declared checks of phases that were not requested are checked the same way but only warn.
 */
import type * as Catalog from "./Catalog.ts"
import * as Image from "./Image.ts"
import * as Problem from "./Problem.ts"
import type { LoadedRecipe } from "./Recipe.ts"
import type * as Validator from "./Validator.ts"

export type Phase = Catalog.Phase
export const PHASES: ReadonlyArray<Phase> = ["deployment", "performance", "conformance"]

/** A constraint a check will evaluate, with where it is declared. */
export interface PlannedConstraint {
  readonly name: string
  readonly value: string
  readonly path: string
  readonly line?: number | undefined
  readonly column?: number | undefined
}

export type Decision =
  | { readonly _tag: "Run" }
  | { readonly _tag: "Skip"; readonly reason: string }

export interface PlannedCheck {
  readonly name: string
  readonly phase: Phase
  readonly description: string
  readonly decision: Decision
  readonly plugin?: Validator.AnyValidator | undefined
  /** The decoded configuration passed to `run`. */
  readonly config?: unknown
  readonly constraints: ReadonlyArray<PlannedConstraint>
  /** Resolved images: `validator` (the in-cluster runner's image) and the plugin's named images. */
  readonly images: Readonly<Record<string, string>>
  readonly pullPolicies: Readonly<Record<string, "Always" | "IfNotPresent">>
  readonly timeoutMs: number
  readonly permissions: ReadonlyArray<Validator.PolicyRule>
  readonly exclusive: ReadonlyArray<Validator.ExclusiveResource>
}

export interface PlannedPhase {
  readonly phase: Phase
  readonly checks: ReadonlyArray<PlannedCheck>
}

export interface Plan {
  readonly recipe: LoadedRecipe
  readonly phases: ReadonlyArray<PlannedPhase>
  readonly warnings: ReadonlyArray<Problem.Problem>
}

export interface PlanInput {
  readonly recipe: LoadedRecipe
  readonly catalog: Catalog.Catalog
  readonly plugins: ReadonlyArray<Validator.AnyValidator>
  readonly phases: ReadonlyArray<Phase>
  readonly image: Image.ResolveOptions
}

export type PlanResult =
  | { readonly _tag: "Ok"; readonly plan: Plan }
  | { readonly _tag: "Problems"; readonly problems: ReadonlyArray<Problem.Problem>; readonly warnings: ReadonlyArray<Problem.Problem> }

/**
 * Parses `--phase` values: none or `all` → every phase; otherwise the named phases, deduplicated, in run
 * order (deployment → performance → conformance).
 */
export const parsePhases = (values: ReadonlyArray<string>): { phases: ReadonlyArray<Phase>; problems: ReadonlyArray<Problem.Problem> } => {
  const problems: Array<Problem.Problem> = []
  const wanted = new Set<Phase>()
  let all = values.length === 0
  for (const raw of values) {
    if (raw.trim() === "" || raw.split(",").every((part) => part.trim() === "")) {
      problems.push({ source: "--phase", message: `empty phase ${JSON.stringify(raw)}: must be one of: ${PHASES.join(", ")}, all` })
    }
    for (const value of raw.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
      if (value === "all") all = true
      else if ((PHASES as ReadonlyArray<string>).includes(value)) wanted.add(value as Phase)
      else {
        problems.push({
          source: "--phase",
          message: `invalid phase "${value}": must be one of: ${PHASES.join(", ")}, all`
        })
      }
    }
  }
  return { phases: all ? PHASES : PHASES.filter((phase) => wanted.has(phase)), problems }
}

/** Levenshtein distance, for "did you mean" suggestions. */
const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

const suggest = (name: string, candidates: ReadonlyArray<string>): string => {
  const best = candidates
    .map((candidate) => ({ candidate, d: distance(name, candidate) }))
    .filter(({ d }) => d <= Math.max(2, Math.floor(name.length / 4)))
    .sort((a, b) => a.d - b.d)[0]
  return best === undefined ? "" : ` (did you mean "${best.candidate}"?)`
}

/** The catalog plus an entry for every plugin the catalog does not list (a third-party check). */
const catalogWithPlugins = (input: PlanInput, problems: Array<Problem.Problem>): ReadonlyArray<Catalog.Entry> => {
  const entries = [...input.catalog.validators]
  for (const plugin of input.plugins) {
    const entry = entries.find((candidate) => candidate.name === plugin.name)
    if (entry === undefined) {
      entries.push({
        name: plugin.name,
        phase: plugin.phase,
        description: plugin.description,
        image: input.catalog.validators[0]?.image ?? "",
        timeout: plugin.timeoutMs,
        args: [plugin.name],
        env: [],
        dependencyAffinity: [],
        images: {}
      })
    } else if (entry.phase !== plugin.phase) {
      problems.push({
        source: `plugin ${plugin.name}`,
        message: `plugin "${plugin.name}" declares phase ${plugin.phase} but the catalog lists it under ${entry.phase}`
      })
    }
  }
  return entries
}

const decodeConfig = (
  plugin: Validator.AnyValidator,
  constraints: ReadonlyArray<PlannedConstraint>,
  block: Omit<Problem.Problem, "message">
): { config?: unknown; problems: ReadonlyArray<Problem.Problem> } => {
  const record = Object.fromEntries(constraints.map((constraint) => [constraint.name, constraint.value]))
  const parsed = plugin.constraints.safeParse(record)
  if (parsed.success) return { config: parsed.data, problems: [] }
  return {
    problems: parsed.error.issues.map((issue) => {
      const name = issue.path[0]
      const declared = constraints.find((constraint) => constraint.name === name)
      const at = declared ?? block
      return {
        source: block.source,
        path: at.path,
        line: at.line,
        column: at.column,
        message: `${plugin.name}: ${declared === undefined && name !== undefined ? `constraint "${String(name)}": ` : ""}${issue.message}`
      }
    })
  }
}

/** Builds the plan, or every problem that prevents it. */
export const make = (input: PlanInput): PlanResult => {
  const problems: Array<Problem.Problem> = []
  const warnings: Array<Problem.Problem> = [...input.recipe.warnings]
  const source = input.recipe.source
  const entries = catalogWithPlugins(input, problems)
  const byName = new Map(entries.map((entry) => [entry.name, entry]))
  const names = entries.map((entry) => entry.name)
  const where = (path: ReadonlyArray<string | number>) => {
    const located = input.recipe.locate(path)
    return { source, path: located?.path ?? Problem.pathOf(path), line: located?.line, column: located?.column }
  }

  const phases: Array<PlannedPhase> = []
  for (const phase of PHASES) {
    const requested = input.phases.includes(phase)
    const report = requested ? problems : warnings
    const block = input.recipe.recipe.validation[phase]
    const declared = block?.checks ?? []
    const constraints: ReadonlyArray<PlannedConstraint> = (block?.constraints ?? []).map((constraint, index) => {
      const at = where(["validation", phase, "constraints", index, "value"])
      return { name: constraint.name, value: constraint.value, path: at.path, line: at.line, column: at.column }
    })
    const seen = new Map<string, number>()
    const selected: Array<Catalog.Entry> = []
    declared.forEach((name, index) => {
      const at = where(["validation", phase, "checks", index])
      const first = seen.get(name)
      const entry = byName.get(name)
      const suffix = requested ? "" : ` (phase ${phase} not requested; ignored)`
      if (first !== undefined) {
        report.push({ ...at, message: `check "${name}" is declared more than once (first at checks[${first}])${suffix}` })
      } else if (entry === undefined) {
        report.push({ ...at, message: `check "${name}" matches no validator in the catalog${suggest(name, names)}${suffix}` })
      } else if (entry.phase !== phase) {
        report.push({ ...at, message: `check "${name}" belongs to phase ${entry.phase}, not ${phase} (found under phase: ${entry.phase})${suffix}` })
      } else {
        selected.push(entry)
      }
      if (first === undefined) seen.set(name, index)
    })
    if (!requested) continue
    if (block === undefined) {
      warnings.push({ source, path: `validation.${phase}`, message: `the recipe declares no ${phase} checks: phase ${phase} runs nothing` })
    }
    const checks = selected.map((entry): PlannedCheck => planCheck(entry, phase, constraints, input, problems))
    phases.push({ phase, checks })
  }
  if (problems.length > 0) return { _tag: "Problems", problems, warnings }
  return { _tag: "Ok", plan: { recipe: input.recipe, phases, warnings } }
}

const planCheck = (
  entry: Catalog.Entry,
  phase: Phase,
  constraints: ReadonlyArray<PlannedConstraint>,
  input: PlanInput,
  problems: Array<Problem.Problem>
): PlannedCheck => {
  const plugin = input.plugins.find((candidate) => candidate.name === entry.name)
  const wanted: Array<[string, string]> = [["validator", entry.image]]
  for (const key of plugin?.images ?? []) {
    const image = entry.images?.[key]
    if (image === undefined) {
      problems.push({
        source: `catalog entry ${entry.name}`,
        message: `plugin "${entry.name}" uses image "${key}" but the catalog entry has no image of that name`
      })
    } else wanted.push([key, image])
  }
  const resolved = wanted.map(([key, image]) => [key, Image.resolve(image, input.image)] as const)
  const images = Object.fromEntries(resolved.map(([key, { image }]) => [key, image]))
  const pullPolicies = Object.fromEntries(resolved.map(([key, { pullPolicy }]) => [key, pullPolicy]))
  const base = {
    name: entry.name,
    phase,
    description: entry.description,
    images,
    pullPolicies,
    timeoutMs: entry.timeout,
    permissions: plugin?.permissions ?? [],
    exclusive: plugin?.exclusive ?? []
  }
  if (plugin === undefined) {
    return { ...base, constraints: [], decision: { _tag: "Skip", reason: "no plugin for this check" } }
  }
  const block = input.recipe.locate(["validation", phase, "constraints"]) ?? input.recipe.locate(["validation", phase])
  const decoded = decodeConfig(plugin, constraints, {
    source: input.recipe.source,
    path: block?.path ?? `validation.${phase}.constraints`,
    line: block?.line,
    column: block?.column
  })
  problems.push(...decoded.problems)
  const shape = (plugin.constraints as { shape?: Record<string, unknown> }).shape
  const read = shape === undefined ? constraints : constraints.filter((constraint) => constraint.name in shape)
  const components = new Set(input.recipe.recipe.componentRefs.map((ref) => ref.name))
  const declared = new Set(constraints.map((constraint) => constraint.name))
  let decision: Decision = { _tag: "Run" }
  for (const requirement of plugin.requires) {
    if (requirement.kind === "component" && !components.has(requirement.name)) {
      decision = { _tag: "Skip", reason: `${requirement.name} not in recipe components` }
      break
    }
    if (requirement.kind === "constraint" && !requirement.anyOf.some((name) => declared.has(name))) {
      decision = { _tag: "Skip", reason: `no ${requirement.anyOf.join(" or ")} constraint in recipe` }
      break
    }
  }
  return { ...base, plugin, config: decoded.config, constraints: read, decision }
}
