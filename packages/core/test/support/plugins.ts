import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as z from "zod"
import type * as Image from "../../src/Image.ts"
import type * as Plan from "../../src/Plan.ts"
import * as Problem from "../../src/Problem.ts"
import * as Recipe from "../../src/Recipe.ts"
import * as Validator from "../../src/Validator.ts"

/** A dev build with no commit and no image environment: our images keep `:latest`. */
export const DEV_IMAGES: Image.ResolveOptions = { version: "0.0.0", env: {} }

/** Parses an inline recipe; throws with every problem when it does not load. */
export const loadRecipe = (text: string, source = "recipe.yaml"): Recipe.LoadedRecipe => {
  const parsed = Recipe.parseRecipe(text, source)
  if (parsed._tag === "Problems") throw new Error(parsed.problems.map(Problem.format).join("\n"))
  return parsed.loaded
}

/** The smallest recipe that loads. */
export const EMPTY_RECIPE = `kind: RecipeResult
apiVersion: aicr.run/v1beta1
`

/** A `CheckFailure` a plugin fails with. */
export class ProbeError extends Data.TaggedError("ProbeError")<{ readonly message: string }> {}

export const noConstraints = z.object({})

type RunFn = Validator.AnyValidator["run"]

/** A plugin with a fixed name and phase; `run` defaults to a pass. */
export const testPlugin = (
  name: string,
  phase: Plan.Phase,
  run: RunFn = () => Effect.succeed(Validator.passed("ok")),
  extra: {
    readonly requires?: ReadonlyArray<Validator.Requirement>
    readonly exclusive?: ReadonlyArray<Validator.ExclusiveResource>
    readonly timeoutMs?: number
  } = {}
): Validator.AnyValidator =>
  Validator.defineValidator({
    name,
    phase,
    description: `test check ${name}`,
    constraints: noConstraints,
    requires: extra.requires,
    exclusive: extra.exclusive,
    timeoutMs: extra.timeoutMs ?? 60_000,
    run
  })

/** A planned check that runs `plugin`, as `Plan.make` would build it for a catalog entry without images. */
export const plannedCheck = (plugin: Validator.AnyValidator, overrides: Partial<Plan.PlannedCheck> = {}): Plan.PlannedCheck => ({
  name: plugin.name,
  phase: plugin.phase,
  description: plugin.description,
  decision: { _tag: "Run" },
  plugin,
  config: {},
  constraints: [],
  images: { validator: "ghcr.io/aicr-project/aicr-validator:latest" },
  pullPolicies: { validator: "Always" },
  timeoutMs: plugin.timeoutMs,
  permissions: plugin.permissions,
  exclusive: plugin.exclusive,
  ...overrides
})

/** A planned check the plan decided to skip. */
export const skippedCheck = (name: string, phase: Plan.Phase, reason: string): Plan.PlannedCheck => ({
  name,
  phase,
  description: `test check ${name}`,
  decision: { _tag: "Skip", reason },
  constraints: [],
  images: {},
  pullPolicies: {},
  timeoutMs: 60_000,
  permissions: [],
  exclusive: []
})

/** A plan over the empty recipe with these checks, grouped into their phases in run order. */
export const planOf = (checks: ReadonlyArray<Plan.PlannedCheck>): Plan.Plan => {
  const order: ReadonlyArray<Plan.Phase> = ["deployment", "performance", "conformance"]
  return {
    recipe: loadRecipe(EMPTY_RECIPE),
    phases: order
      .map((phase) => ({ phase, checks: checks.filter((check) => check.phase === phase) }))
      .filter((phase) => phase.checks.length > 0),
    warnings: []
  }
}
