/**
 * The validator plugin contract: what a plugin is, what its `run` may use, and what it returns.
 *
 * Details: a plugin is a plain object made by `defineValidator`, which checks its metadata and brands it with
 * the contract version. Its `run` returns an Effect that may require only the core services (`KubeClient`,
 * `RunContext`, `Progress`, `Scope`) — a plugin needing anything else does not compile. A verdict
 * (passed / failed / skipped) is a value; the error channel means "could not determine" and becomes an
 * inconclusive result, never a pass.
 *
 * Gotchas: the constraint schema receives the constraints of the plugin's phase as `{ [name]: value }` with
 * string values, before any cluster work; a schema failure is an input error (exit 2) reported at the YAML
 * path of the offending constraint.
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as z from "zod"
import type { Phase } from "./Catalog.ts"
import type { KubeClient } from "./KubeClient.ts"
import type { Progress } from "./Progress.ts"
import type { Recipe } from "./Recipe.ts"
import type { RunContext } from "./RunContext.ts"

/** The version of this contract; a plugin built against another major version is refused. */
export const CONTRACT_VERSION = 1

/** The services a plugin's `run` may require. */
export type Services = KubeClient | RunContext | Progress | Scope.Scope

/** Resources of which only one check at a time may hold a claim (two GPU checks never run at once). */
export type ExclusiveResource = "gpu"

/** A precondition core evaluates before `run`; an unmet one gives a `skipped` outcome with its reason. */
export type Requirement =
  /** The recipe's `componentRefs` name this component. */
  | { readonly kind: "component"; readonly name: string }
  /** At least one of these constraints is declared in the plugin's phase. */
  | { readonly kind: "constraint"; readonly anyOf: ReadonlyArray<string> }
  /** This CustomResourceDefinition (`<plural>.<group>`) is installed on the cluster. */
  | { readonly kind: "crd"; readonly name: string }
  /**
   * The API server serves `resourceKind` in `apiVersion` (asked through discovery). When it does not, the check is
   * `skipped`, or `failed` with `whenMissing: "failed"` (a component the recipe declares is not really there);
   * when discovery fails (Forbidden, a timeout) the check is inconclusive, never skipped. With `declaredBy`, the
   * `whenMissing` outcome applies only when the recipe's `componentRefs` name that component; otherwise a missing
   * API skips the check (the recipe did not promise it).
   */
  | {
    readonly kind: "api"
    readonly apiVersion: string
    readonly resourceKind: string
    readonly whenMissing?: "skipped" | "failed" | undefined
    /** The component whose presence in the recipe makes a missing API `whenMissing` rather than `skipped`. */
    readonly declaredBy?: string | undefined
    /** Said when it is missing, after `<resourceKind> (<apiVersion>) is not served by the cluster`. */
    readonly hint?: string | undefined
  }

/** One RBAC rule the plugin needs, as in a Kubernetes `ClusterRole`. */
export interface PolicyRule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
}

/** A measured figure, with the threshold it was judged against when there is one. */
export interface Metric {
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly threshold?: string | undefined
  readonly passed?: boolean | undefined
}

/** Evidence kept with the result: raw benchmark output, rendered objects, logs. */
export interface Artifact {
  readonly name: string
  readonly contentType: string
  readonly content: string
}

export type CheckOutcome =
  | {
    readonly status: "passed" | "failed"
    readonly message: string
    readonly metrics: ReadonlyArray<Metric>
    readonly artifacts: ReadonlyArray<Artifact>
  }
  | { readonly status: "skipped"; readonly message: string }

/** A passing verdict. */
export const passed = (message: string, evidence: { metrics?: ReadonlyArray<Metric>; artifacts?: ReadonlyArray<Artifact> } = {}): CheckOutcome => ({
  status: "passed",
  message,
  metrics: evidence.metrics ?? [],
  artifacts: evidence.artifacts ?? []
})

/** A failing verdict: the cluster was measured and does not meet the recipe. */
export const failed = (message: string, evidence: { metrics?: ReadonlyArray<Metric>; artifacts?: ReadonlyArray<Artifact> } = {}): CheckOutcome => ({
  status: "failed",
  message,
  metrics: evidence.metrics ?? [],
  artifacts: evidence.artifacts ?? []
})

/** The check does not apply to this recipe or cluster. */
export const skipped = (message: string): CheckOutcome => ({ status: "skipped", message })

/** Any tagged error with a message: what a plugin's `run` may fail with ("could not determine"). */
export interface CheckFailure {
  readonly _tag: string
  readonly message: string
}

/** What `run` receives: its decoded configuration, the recipe, and its resolved images by catalog key. */
export interface RunInput<Config, ImageKey extends string> {
  readonly config: Config
  readonly recipe: Recipe
  readonly images: Readonly<Record<ImageKey, string>>
  readonly timeoutMs: number
}

export interface ValidatorSpec<Name extends string, Schema extends z.ZodType, ImageKey extends string> {
  /** kebab-case; equals the catalog name and the report's test name. */
  readonly name: Name
  readonly phase: Phase
  readonly description: string
  /** Decodes `{ [constraint name]: value }` of the plugin's phase into its configuration. */
  readonly constraints: Schema
  readonly requires?: ReadonlyArray<Requirement> | undefined
  readonly permissions?: ReadonlyArray<PolicyRule> | undefined
  /** Keys of the catalog entry's named images this plugin uses. */
  readonly images?: ReadonlyArray<ImageKey> | undefined
  readonly exclusive?: ReadonlyArray<ExclusiveResource> | undefined
  /** Timeout in milliseconds for a check the catalog does not list (a third-party plugin); a catalog entry's timeout wins. */
  readonly timeoutMs: number
  /** Measures and judges. Declared as a method so a plugin of any configuration type is an `AnyValidator`. */
  run(input: RunInput<z.output<Schema>, ImageKey>): Effect.Effect<CheckOutcome, CheckFailure, Services>
}

export const TypeId: unique symbol = Symbol.for("@aicr/core/Validator") as never

/** A validator plugin, as made by `defineValidator`. */
export interface Validator<Name extends string = string, Schema extends z.ZodType = z.ZodType, ImageKey extends string = string>
  extends ValidatorSpec<Name, Schema, ImageKey>
{
  readonly [TypeId]: { readonly contractVersion: number }
  readonly requires: ReadonlyArray<Requirement>
  readonly permissions: ReadonlyArray<PolicyRule>
  readonly images: ReadonlyArray<ImageKey>
  readonly exclusive: ReadonlyArray<ExclusiveResource>
}

/** A plugin of any configuration type, as the runner holds it. */
export type AnyValidator = Validator<string, z.ZodType, string>

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
const PHASES: ReadonlyArray<string> = ["deployment", "performance", "conformance"]

const isText = (value: unknown): value is string => typeof value === "string" && value.trim() !== ""
const isTextList = (value: unknown, allowEmptyText = false): boolean =>
  Array.isArray(value) && value.every((item) => typeof item === "string" && (allowEmptyText || item.trim() !== ""))

const isRequirement = (item: unknown): boolean => {
  if (typeof item !== "object" || item === null) return false
  const requirement = item as Record<string, unknown>
  if (requirement["kind"] === "component" || requirement["kind"] === "crd") return isText(requirement["name"])
  if (requirement["kind"] === "constraint") return isTextList(requirement["anyOf"]) && (requirement["anyOf"] as Array<unknown>).length > 0
  if (requirement["kind"] === "api") {
    return isText(requirement["apiVersion"]) && isText(requirement["resourceKind"]) &&
      (requirement["whenMissing"] === undefined || requirement["whenMissing"] === "skipped" || requirement["whenMissing"] === "failed") &&
      (requirement["hint"] === undefined || typeof requirement["hint"] === "string") &&
      (requirement["declaredBy"] === undefined || isText(requirement["declaredBy"]))
  }
  return false
}

const noWildcard = (value: unknown): boolean => Array.isArray(value) && value.every((item) => typeof item === "string" && !item.includes("*"))

const isPolicyRule = (item: unknown): boolean => {
  if (typeof item !== "object" || item === null) return false
  const rule = item as Record<string, unknown>
  return isTextList(rule["apiGroups"], true) && isTextList(rule["resources"]) && isTextList(rule["verbs"]) &&
    noWildcard(rule["apiGroups"]) && noWildcard(rule["resources"]) && noWildcard(rule["verbs"])
}

const EXCLUSIVE: ReadonlyArray<unknown> = ["gpu"] satisfies ReadonlyArray<ExclusiveResource>

const LIST_ITEMS: Record<"requires" | "permissions" | "images" | "exclusive", { valid: (item: unknown) => boolean; rule: string }> = {
  requires: { valid: isRequirement, rule: `must be {kind: "component" | "crd", name}, {kind: "constraint", anyOf: [names]} or {kind: "api", apiVersion, resourceKind, whenMissing?, declaredBy?}` },
  permissions: { valid: isPolicyRule, rule: "must be {apiGroups, resources, verbs} lists of strings, with no wildcard (*): the in-cluster runner grants exactly what is named" },
  images: { valid: isText, rule: "must be a catalog image name" },
  exclusive: { valid: (item) => EXCLUSIVE.includes(item), rule: `must be one of: ${EXCLUSIVE.join(", ")}` }
}

/** What is wrong with a plugin's metadata; empty when it is valid. */
export const problems = (candidate: unknown): ReadonlyArray<string> => {
  if (typeof candidate !== "object" || candidate === null) return ["not an object"]
  const spec = candidate as Record<string, unknown>
  const found: Array<string> = []
  if (typeof spec["name"] !== "string" || !NAME.test(spec["name"])) {
    found.push(`name must be a kebab-case DNS-1123 label (got ${JSON.stringify(spec["name"])})`)
  }
  if (typeof spec["phase"] !== "string" || !PHASES.includes(spec["phase"])) {
    found.push(`phase must be one of: ${PHASES.join(", ")} (got ${JSON.stringify(spec["phase"])})`)
  }
  if (typeof spec["description"] !== "string" || spec["description"].trim() === "") found.push("description is required")
  const schema = spec["constraints"] as { safeParse?: unknown } | undefined
  if (typeof schema !== "object" || schema === null || typeof schema.safeParse !== "function") {
    found.push("constraints must be a zod schema")
  }
  if (typeof spec["timeoutMs"] !== "number" || !Number.isFinite(spec["timeoutMs"]) || spec["timeoutMs"] <= 0) {
    found.push("timeoutMs must be a positive number of milliseconds")
  }
  if (typeof spec["run"] !== "function") found.push("run must be a function")
  for (const [key, { valid, rule }] of Object.entries(LIST_ITEMS)) {
    const list = spec[key]
    if (list === undefined) continue
    if (!Array.isArray(list)) found.push(`${key} must be an array`)
    else list.forEach((item: unknown, index) => {
      if (!valid(item)) found.push(`${key}[${index}] ${rule} (got ${JSON.stringify(item)})`)
    })
  }
  return found
}

/** True for an object made by `defineValidator` under this contract version. */
export const isValidator = (candidate: unknown): candidate is AnyValidator => {
  if (typeof candidate !== "object" || candidate === null || !(TypeId in candidate)) return false
  const brand: unknown = (candidate as { [TypeId]: unknown })[TypeId]
  return typeof brand === "object" && brand !== null &&
    (brand as { contractVersion?: unknown }).contractVersion === CONTRACT_VERSION &&
    problems(candidate).length === 0
}

/**
 * Makes a validator plugin. Throws when the metadata is invalid (a programming error in the plugin).
 *
 * Details: `requires`, `permissions`, `images` and `exclusive` default to empty lists.
 */
export const defineValidator = <const Name extends string, Schema extends z.ZodType, const ImageKey extends string = never>(
  spec: ValidatorSpec<Name, Schema, ImageKey>
): Validator<Name, Schema, ImageKey> => {
  const found = problems(spec)
  if (found.length > 0) throw new TypeError(`invalid validator plugin ${JSON.stringify(spec.name)}: ${found.join("; ")}`)
  return Object.freeze({
    ...spec,
    requires: spec.requires ?? [],
    permissions: spec.permissions ?? [],
    images: spec.images ?? [],
    exclusive: spec.exclusive ?? [],
    [TypeId]: { contractVersion: CONTRACT_VERSION }
  })
}
