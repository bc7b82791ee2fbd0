/**
 * Recipes: what a cluster must look like and which checks prove it. Loads a resolved `RecipeResult` (the output
 * of upstream `aicr recipe`) or a single `RecipeMetadata` overlay from a YAML or JSON file or an http(s) URL.
 *
 * Details: both apiVersions seen upstream (`aicr.nvidia.com/v1alpha1`, `aicr.run/v1beta1`) load, and unknown
 * fields are kept, never rejected. An overlay's `spec` is read as the recipe; its `base:` chain is not resolved
 * (a warning says so). Every problem of a file is reported at once with source, line, column and YAML path:
 * syntax errors, a wrong `kind`, fields of the wrong type, malformed constraint expressions, readiness
 * constraint names that are not measurement paths, duplicated constraint names and non-string check names.
 *
 * Gotchas: numbers written where a string belongs (`value: 1.30`, `version: 0.9`) are read as written
 * (`"1.30"`), not as the number.
 */
import * as Effect from "effect/Effect"
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import * as z from "zod"
import {
  constraintBlocks,
  constraintFindings,
  describe,
  type Finding,
  issueFindings,
  keepNumbersAsWritten,
  VALIDATION_BLOCKS
} from "./internal/recipe-problems.ts"
import { parseYamlWithPositions, type ParsedYaml, type YamlPath } from "./internal/yaml-positions.ts"
import { InputError, pathOf, type Problem } from "./Problem.ts"
import type { KubeClient } from "./KubeClient.ts"

/** A validation phase that runs checks (same as the catalog's `Phase`). */
export type Phase = "deployment" | "performance" | "conformance"

/** A block under `validation`: the readiness pre-flight or a phase. */
export type ValidationBlock = "readiness" | Phase

/** The recipe apiVersions seen upstream; others load with a warning. */
export const KNOWN_API_VERSIONS: ReadonlyArray<string> = ["aicr.nvidia.com/v1alpha1", "aicr.run/v1beta1"]

// ---------------------------------------------------------------------------------------------------------------
// Schemas

const optional = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === null ? undefined : value), schema.optional())

const stringish = z.preprocess(
  (value) => (typeof value === "number" || typeof value === "boolean" ? String(value) : value),
  z.string()
)

/** `{name, value, severity?, remediation?, unit?}`; a number or boolean `value` is read as a string. */
export const ConstraintSchema = z.looseObject({
  name: z.string().min(1),
  value: stringish,
  severity: optional(z.enum(["error", "warning"])),
  remediation: optional(z.string()),
  unit: optional(z.string())
})

/** `{selector?, maxNodes?, excludeNodes?}`: parsed, not used by the engine. */
export const NodeSelectionSchema = z.looseObject({
  selector: optional(z.record(z.string(), stringish)),
  maxNodes: optional(z.number().int().nonnegative()),
  excludeNodes: optional(z.array(z.string()))
})

/** One block under `validation`: `{timeout?, constraints?, checks?, nodeSelection?, infrastructure?}`. */
export const ValidationPhaseSchema = z.looseObject({
  timeout: optional(z.union([z.string(), z.number()])),
  constraints: optional(z.array(ConstraintSchema)),
  checks: optional(z.array(z.string().min(1))),
  nodeSelection: optional(NodeSelectionSchema),
  infrastructure: optional(z.unknown())
})

/** `validation`: `{readiness?, deployment?, performance?, conformance?}`. */
export const ValidationSchema = z.looseObject({
  readiness: optional(ValidationPhaseSchema),
  deployment: optional(ValidationPhaseSchema),
  performance: optional(ValidationPhaseSchema),
  conformance: optional(ValidationPhaseSchema)
})

/** A component of the recipe; only `name` is required, the other fields are loosely typed. */
export const ComponentRefSchema = z.looseObject({
  name: z.string().min(1),
  namespace: optional(z.string()),
  chart: optional(z.string()),
  type: optional(z.string()),
  source: optional(z.string()),
  version: optional(stringish),
  tag: optional(stringish),
  valuesFile: optional(z.string()),
  overrides: optional(z.record(z.string(), z.unknown())),
  dependencyRefs: optional(z.array(z.string())),
  manifestFiles: optional(z.array(z.string())),
  path: optional(z.string()),
  expectedResources: optional(z.array(z.looseObject({ kind: z.string(), name: z.string(), namespace: optional(z.string()) })))
})

/** `{service?, accelerator?, intent?, os?, platform?, nodes?}`; values beyond the upstream enums are accepted. */
export const CriteriaSchema = z.looseObject({
  service: optional(z.string()),
  accelerator: optional(z.string()),
  intent: optional(z.string()),
  os: optional(z.string()),
  platform: optional(z.string()),
  nodes: optional(z.number().int().nonnegative())
})

const recipeBody = {
  criteria: optional(CriteriaSchema),
  constraints: optional(z.array(ConstraintSchema)),
  componentRefs: optional(z.array(ComponentRefSchema)),
  validation: optional(ValidationSchema)
}

/** A resolved recipe (`kind: RecipeResult`), as `aicr recipe` writes it. */
export const RecipeResultSchema = z.looseObject({
  kind: z.literal("RecipeResult"),
  apiVersion: optional(z.string()),
  metadata: optional(z.looseObject({ version: optional(stringish), appliedOverlays: optional(z.array(z.string())) })),
  ...recipeBody,
  deploymentOrder: optional(z.array(z.string()))
})

/** A recipe overlay (`kind: RecipeMetadata`); `spec` holds the recipe fields. */
export const RecipeMetadataSchema = z.looseObject({
  kind: z.literal("RecipeMetadata"),
  apiVersion: optional(z.string()),
  metadata: optional(z.looseObject({ name: optional(z.string()) })),
  spec: z.looseObject({ base: optional(z.string()), ...recipeBody })
})

export type Constraint = z.output<typeof ConstraintSchema>
export type ValidationPhase = z.output<typeof ValidationPhaseSchema>
export type ComponentRef = z.output<typeof ComponentRefSchema>
export type Criteria = z.output<typeof CriteriaSchema>
export type RecipeResultDocument = z.output<typeof RecipeResultSchema>
export type RecipeMetadataDocument = z.output<typeof RecipeMetadataSchema>

// ---------------------------------------------------------------------------------------------------------------
// The recipe view

/** The normalized recipe everything downstream uses, whichever kind of document it came from. */
export interface Recipe {
  readonly kind: "RecipeResult" | "RecipeMetadata"
  /** As written; `""` when the document has none. */
  readonly apiVersion: string
  /** `metadata.name` of an overlay; `undefined` for a RecipeResult. */
  readonly name?: string | undefined
  readonly criteria: Record<string, unknown>
  /** Top-level constraints: the readiness pre-flight's input, named by measurement paths. */
  readonly constraints: ReadonlyArray<Constraint>
  readonly componentRefs: ReadonlyArray<ComponentRef>
  readonly validation: Partial<Record<ValidationBlock, ValidationPhase>>
}

export interface LoadedRecipe {
  /** The path or URL as given. */
  readonly source: string
  /** The recipe's text as read (what the in-cluster runner hands its checks); absent for recipes built in memory. */
  readonly text?: string | undefined
  readonly recipe: Recipe
  /** Things worth knowing that do not stop the run, e.g. an overlay's unresolved base chain. */
  readonly warnings: ReadonlyArray<Problem>
  /**
   * Where a path of the recipe view is in the source: `["validation", "performance", "checks", 1]` → its line
   * and column, and the path as written in the file (an overlay's `spec.validation.performance.checks[1]`).
   * `undefined` when the file has no such node.
   */
  readonly locate: (path: ReadonlyArray<string | number>) => { line: number; column: number; path: string } | undefined
}

export type ParseResult =
  | { readonly _tag: "Ok"; readonly loaded: LoadedRecipe }
  | {
    readonly _tag: "Problems"
    readonly problems: ReadonlyArray<Problem>
    readonly warnings: ReadonlyArray<Problem>
    /** The recipe as far as it could be read, when its structure is sound and only values are wrong. */
    readonly partial?: LoadedRecipe | undefined
  }

// ---------------------------------------------------------------------------------------------------------------
// Parsing

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)

const looksLikeJson = (text: string, source: string): boolean => {
  const name = (URL.canParse(source) ? new URL(source).pathname : source).toLowerCase()
  if (name.endsWith(".json")) return true
  if (name.endsWith(".yaml") || name.endsWith(".yml")) return false
  return text.replace(/^\uFEFF/, "").trimStart().startsWith("{")
}

const byPosition = (a: Problem, b: Problem): number =>
  (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER) || (a.column ?? 0) - (b.column ?? 0)

const KIND_HINT = "expected kind: RecipeResult (a resolved recipe, as `aicr recipe` writes it) or kind: RecipeMetadata (an overlay)"

const kindProblem = (kind: unknown): string | undefined => {
  if (kind === "RecipeResult" || kind === "RecipeMetadata") return undefined
  if (kind === undefined) return `the document has no kind; ${KIND_HINT}`
  if (typeof kind !== "string") return `kind must be a string, got ${describe(kind)}; ${KIND_HINT}`
  return `kind ${JSON.stringify(kind)} is not a recipe; ${KIND_HINT}`
}

const apiVersionWarning = (apiVersion: unknown): string | undefined => {
  const known = KNOWN_API_VERSIONS.join(", ")
  if (apiVersion === undefined || apiVersion === null) return `the document has no apiVersion (known: ${known}); loading it anyway`
  if (typeof apiVersion === "string" && !KNOWN_API_VERSIONS.includes(apiVersion)) {
    return `unknown apiVersion ${JSON.stringify(apiVersion)} (known: ${known}); loading it anyway, some fields may be misread`
  }
  return undefined
}

/** Builds problems at YAML paths of the file, positioned by the nearest node that exists. */
const reporter = (yaml: ParsedYaml, source: string) => (finding: Finding): Problem => {
  const position = yaml.locateNearest(finding.path)
  return {
    source,
    path: pathOf(finding.path),
    line: position?.line,
    column: position?.column,
    message: finding.message
  }
}

const toView = (document: RecipeResultDocument | RecipeMetadataDocument): Recipe => {
  const body = document.kind === "RecipeMetadata" ? document.spec : document
  const validation: Partial<Record<ValidationBlock, ValidationPhase>> = {}
  for (const block of VALIDATION_BLOCKS) {
    const phase = body.validation?.[block]
    if (phase !== undefined) validation[block] = phase
  }
  return {
    kind: document.kind,
    apiVersion: document.apiVersion ?? "",
    name: document.kind === "RecipeMetadata" ? document.metadata?.name : undefined,
    criteria: body.criteria ?? {},
    constraints: body.constraints ?? [],
    componentRefs: body.componentRefs ?? [],
    validation
  }
}

/** Maps a path of the recipe view to the path in the file: an overlay's recipe fields live under `spec`. */
const filePath = (kind: Recipe["kind"], path: YamlPath): YamlPath => {
  if (kind === "RecipeResult") return path
  const [head, ...rest] = path
  if (head === "name") return ["metadata", "name", ...rest]
  if (head === "kind" || head === "apiVersion" || head === "metadata" || head === "spec") return path
  return ["spec", ...path]
}

/**
 * Parses a recipe from its text; `source` (a path or URL) names it in problems. The text is read as JSON when
 * `source` ends in `.json`, or has no `.yaml`/`.yml` extension and the text starts with `{`; otherwise as YAML.
 *
 * Details: returns all problems found, sorted by position, or the loaded recipe with its warnings.
 */
export const parseRecipe = (text: string, source: string): ParseResult => {
  const yaml = parseYamlWithPositions(text, source, { json: looksLikeJson(text, source) })
  const report = reporter(yaml, source)
  const warnings: Array<Problem> = [...yaml.warnings]
  const fail = (problems: ReadonlyArray<Problem>): Extract<ParseResult, { _tag: "Problems" }> => ({
    _tag: "Problems",
    problems: [...problems].sort(byPosition),
    warnings
  })
  if (yaml.problems.length > 0) return fail(yaml.problems)

  const data = yaml.value
  if (!isRecord(data)) {
    return fail([report({
      path: [],
      message: data === undefined
        ? `the recipe is empty; ${KIND_HINT}`
        : `a recipe must be a mapping, got ${describe(data)}; ${KIND_HINT}`
    })])
  }
  const apiVersionNote = apiVersionWarning(data.apiVersion)
  if (apiVersionNote !== undefined) {
    warnings.push(report({ path: data.apiVersion === undefined ? [] : ["apiVersion"], message: apiVersionNote }))
  }
  const wrongKind = kindProblem(data.kind)
  if (wrongKind !== undefined) return fail([report({ path: ["kind"], message: wrongKind })])

  const kind = data.kind as Recipe["kind"]
  const prefix: YamlPath = kind === "RecipeMetadata" ? ["spec"] : []
  keepNumbersAsWritten(data, prefix, yaml.scalarSource)
  const parsed = kind === "RecipeMetadata" ? RecipeMetadataSchema.safeParse(data) : RecipeResultSchema.safeParse(data)
  const body = kind === "RecipeMetadata" ? data.spec : data
  const findings = [
    ...(parsed.success ? [] : issueFindings(parsed.error.issues, data)),
    ...constraintBlocks(body, prefix).flatMap((block) => constraintFindings(block, (path) => yaml.locate(path)?.line))
  ]
  warnings.push(...bodyWarnings(data, body, prefix).map(report))
  if (!parsed.success) return fail(findings.map(report))
  const loaded: LoadedRecipe = {
    source,
    text,
    recipe: toView(parsed.data),
    warnings: [...warnings].sort(byPosition),
    locate: (path) => yaml.locate(filePath(kind, path))
  }
  if (findings.length > 0) return { ...fail(findings.map(report)), partial: loaded }
  return { _tag: "Ok", loaded }
}

const bodyWarnings = (data: Record<string, unknown>, body: unknown, prefix: YamlPath): ReadonlyArray<Finding> => {
  const findings: Array<Finding> = []
  if (!isRecord(body)) return findings
  const metadata = isRecord(data.metadata) ? data.metadata : {}
  if (prefix.length > 0 && typeof body.base === "string" && body.base !== "") {
    const name = typeof metadata.name === "string" ? ` ${JSON.stringify(metadata.name)}` : ""
    findings.push({
      path: [...prefix, "base"],
      message: `overlay${name} inherits from base ${JSON.stringify(body.base)}, which is not resolved here; only ` +
        "this overlay's own fields are used — run `aicr recipe` upstream to produce a resolved RecipeResult"
    })
  }
  if (isRecord(body.validation)) {
    const known: ReadonlyArray<string> = VALIDATION_BLOCKS
    for (const block of Object.keys(body.validation).filter((key) => !known.includes(key))) {
      findings.push({
        path: [...prefix, "validation", block],
        message: `unknown validation block ${JSON.stringify(block)} is ignored; blocks are ${VALIDATION_BLOCKS.join(", ")}`
      })
    }
  }
  return findings
}

// ---------------------------------------------------------------------------------------------------------------
// Locations and loading

/** Where a recipe is read from. */
export type RecipeLocation =
  | { readonly _tag: "File"; readonly path: string }
  | { readonly _tag: "Url"; readonly url: string }
  | { readonly _tag: "ConfigMap"; readonly namespace: string; readonly name: string; readonly key?: string | undefined }

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/
const LOCATION_HINT = "give a file path, an http(s):// URL or cm://<namespace>/<name>"

const configMapLocation = (text: string, rest: string): RecipeLocation | Problem => {
  const [namespace = "", name = "", key, ...extra] = rest.split("/")
  const reasons = [
    ...(DNS_LABEL.test(namespace) && namespace.length <= 63
      ? []
      : [`namespace ${JSON.stringify(namespace)} is not a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)`]),
    ...(DNS_SUBDOMAIN.test(name) && name.length <= 253
      ? []
      : [`name ${JSON.stringify(name)} is not a DNS-1123 subdomain (lowercase letters, digits, "-" and ".", at most 253 characters)`]),
    ...(key === undefined || (CONFIGMAP_KEY.test(key) && key !== "." && key !== ".." && key.length <= 253)
      ? []
      : [`key ${JSON.stringify(key)} is not a valid ConfigMap key (letters, digits, "-", "_" and ".")`]),
    ...(extra.length === 0 ? [] : ["too many path segments"])
  ]
  if (reasons.length > 0) {
    return {
      source: text,
      message: `invalid ConfigMap location: ${reasons.join("; ")}; expected cm://<namespace>/<name> or cm://<namespace>/<name>/<key>`
    }
  }
  return { _tag: "ConfigMap", namespace, name, ...(key === undefined ? {} : { key }) }
}

/**
 * Reads a recipe location: `cm://<namespace>/<name>[/<key>]` (names checked as DNS-1123), `http://` and
 * `https://` URLs, `file://` URLs, or else a file path. Returns a problem for an empty text, an unsupported
 * scheme or an invalid URL or ConfigMap reference.
 */
export const parseLocation = (text: string): RecipeLocation | Problem => {
  const trimmed = text.trim()
  if (trimmed === "") return { message: `the recipe location is empty; ${LOCATION_HINT}` }
  const scheme = SCHEME.exec(trimmed)?.[1]?.toLowerCase()
  switch (scheme) {
    case undefined:
      return { _tag: "File", path: text }
    case "http":
    case "https":
      return URL.canParse(trimmed) ? { _tag: "Url", url: trimmed } : { source: text, message: `invalid URL; ${LOCATION_HINT}` }
    case "file":
      return URL.canParse(trimmed)
        ? { _tag: "File", path: fileURLToPath(trimmed) }
        : { source: text, message: `invalid file URL; ${LOCATION_HINT}` }
    case "cm":
      return configMapLocation(text, trimmed.slice("cm://".length))
    default:
      return { source: text, message: `unsupported scheme "${scheme}://"; ${LOCATION_HINT}` }
  }
}

const isProblem = (value: RecipeLocation | Problem): value is Problem => !("_tag" in value)

export interface LoadOptions {
  /** Time limit for fetching a URL or reading a ConfigMap, in milliseconds (default 30 000). */
  readonly timeoutMs?: number | undefined
  /** Reads a ConfigMap for `cm://` locations (the CLI passes its cluster connection); without it they are refused. */
  readonly readConfigMap?: ConfigMapReader | undefined
}

/** Reads ConfigMap `namespace/name`: its `data`, or why it could not. */
export type ConfigMapReader = (
  namespace: string,
  name: string
) => Effect.Effect<Readonly<Record<string, string>>, { readonly reason: string; readonly message: string }>

/** A `ConfigMapReader` over a `KubeClient`: `data` of the ConfigMap (empty when it has none). */
export const configMapReader = (kube: KubeClient["Service"]): ConfigMapReader => (namespace, name) =>
  Effect.map(
    kube.get({ apiVersion: "v1", kind: "ConfigMap", namespace, name }),
    (object) => (object["data"] ?? {}) as Readonly<Record<string, string>>
  )

/** The key a `cm://` recipe is read from when the location names none and the ConfigMap has several (upstream's). */
export const DEFAULT_CONFIGMAP_KEY = "recipe.yaml"

const inputError = (problem: Problem) => new InputError({ problems: [problem] })

const errorText = (cause: unknown): string => {
  const inner = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause
  if (inner instanceof Error) {
    const code = (inner as { code?: unknown }).code
    return typeof code === "string" && !inner.message.includes(code) ? `${inner.message} (${code})` : inner.message
  }
  return String(inner)
}

const readRecipeFile = (path: string): Effect.Effect<string, InputError> =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (cause) => {
      const code = (cause as { code?: unknown }).code
      return inputError(
        code === "ENOENT"
          ? { message: `recipe file not found: ${path}` }
          : code === "EISDIR"
          ? { source: path, message: "is a directory, not a recipe file" }
          : { source: path, message: `cannot read the recipe file: ${errorText(cause)}` }
      )
    }
  })

type Fetched = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly status: number; readonly statusText: string }

const notOk = (response: Response): Fetched => ({ ok: false, status: response.status, statusText: response.statusText })

const fetchRecipe = (url: string, timeoutMs: number): Effect.Effect<string, InputError> =>
  Effect.tryPromise({
    try: (signal): Promise<Fetched> =>
      fetch(url, { signal, headers: { accept: "application/yaml, application/json;q=0.9, */*;q=0.8" } }).then((response) =>
        response.ok
          ? response.text().then((text): Fetched => ({ ok: true, text }))
          : Promise.resolve(response.body?.cancel()).then(() => notOk(response), () => notOk(response))
      ),
    catch: (cause) => inputError({ source: url, message: `cannot fetch the recipe: ${errorText(cause)}` })
  }).pipe(
    Effect.flatMap((fetched) =>
      fetched.ok
        ? Effect.succeed(fetched.text)
        : Effect.fail(inputError({
          source: url,
          message: `fetching the recipe failed: HTTP ${fetched.status}${fetched.statusText === "" ? "" : ` ${fetched.statusText}`}`
        }))
    ),
    Effect.timeoutOrElse({
      duration: timeoutMs,
      orElse: () =>
        Effect.fail(inputError({
          source: url,
          message: `fetching the recipe timed out after ${timeoutMs / 1000} s; check the URL and the network`
        }))
    })
  )

const readConfigMapRecipe = (
  location: Extract<RecipeLocation, { readonly _tag: "ConfigMap" }>,
  text: string,
  options: LoadOptions
): Effect.Effect<string, InputError> => {
  const object = `ConfigMap ${location.namespace}/${location.name}`
  const reader = options.readConfigMap
  if (reader === undefined) {
    return Effect.fail(inputError({ source: text, message: `cm:// recipes are read from the cluster, and no cluster connection is available here` }))
  }
  const timeoutMs = options.timeoutMs ?? 30_000
  return reader(location.namespace, location.name).pipe(
    Effect.mapError((error) =>
      inputError({
        source: text,
        message: error.reason === "NotFound"
          ? `${object} not found on the cluster`
          : `cannot read ${object}: ${error.message}`
      })
    ),
    Effect.timeoutOrElse({
      duration: timeoutMs,
      orElse: () => Effect.fail(inputError({ source: text, message: `reading ${object} timed out after ${timeoutMs / 1000} s` }))
    }),
    Effect.flatMap((data) => {
      const keys = Object.keys(data).sort()
      const key = location.key ?? (keys.length === 1 ? keys[0]! : DEFAULT_CONFIGMAP_KEY)
      const value = data[key]
      if (value !== undefined) return Effect.succeed(value)
      const has = keys.length === 0 ? "it has no data keys" : `its keys are ${keys.join(", ")}`
      return Effect.fail(inputError({
        source: text,
        message: location.key === undefined
          ? `${object} has no key "${DEFAULT_CONFIGMAP_KEY}" (${has}); name the key: cm://${location.namespace}/${location.name}/<key>`
          : `${object} has no key "${key}" (${has})`
      }))
    })
  )
}

const readLocation = (location: RecipeLocation, text: string, options: LoadOptions): Effect.Effect<string, InputError> => {
  switch (location._tag) {
    case "File":
      return readRecipeFile(location.path)
    case "Url":
      return fetchRecipe(location.url, options.timeoutMs ?? 30_000)
    case "ConfigMap":
      return readConfigMapRecipe(location, text, options)
  }
}

/**
 * Loads a recipe from a file path, an http(s) URL or a `cm://namespace/name[/key]` ConfigMap (with
 * `options.readConfigMap`; without a key, the only key or else `recipe.yaml`).
 *
 * Details: fails with an `InputError` listing every problem of the location and the document; warnings
 * (an overlay's unresolved base chain, an unknown apiVersion) come with the loaded recipe.
 */
export const load = (location: string, options: LoadOptions = {}): Effect.Effect<LoadedRecipe, InputError> => {
  const parsed = parseLocation(location)
  if (isProblem(parsed)) return Effect.fail(inputError(parsed))
  return readLocation(parsed, location, options).pipe(
    Effect.flatMap((text) => {
      const result = parseRecipe(text, location)
      return result._tag === "Ok" ? Effect.succeed(result.loaded) : Effect.fail(new InputError({ problems: result.problems }))
    })
  )
}

/**
 * Like {@link load}, but never fails: the problems of the location and the document, and the recipe as far as it
 * could be read (see `partial` of {@link ParseResult}), so a caller can report later problems alongside.
 */
export const loadWithProblems = (
  location: string,
  options: LoadOptions = {}
): Effect.Effect<{ readonly loaded?: LoadedRecipe | undefined; readonly problems: ReadonlyArray<Problem> }> => {
  const parsed = parseLocation(location)
  if (isProblem(parsed)) return Effect.succeed({ problems: [parsed] })
  return readLocation(parsed, location, options).pipe(
    Effect.map((text) => {
      const result = parseRecipe(text, location)
      return result._tag === "Ok" ? { loaded: result.loaded, problems: [] } : { loaded: result.partial, problems: result.problems }
    }),
    Effect.catch((error: InputError) => Effect.succeed({ problems: error.problems }))
  )
}

// ---------------------------------------------------------------------------------------------------------------
// Look-ups

/**
 * The constraints of a block: for `"readiness"` the top-level constraints followed by
 * `validation.readiness.constraints`; for a phase, `validation.<phase>.constraints`.
 */
export const constraintsOf = (recipe: Recipe, block: ValidationBlock): ReadonlyArray<Constraint> =>
  block === "readiness"
    ? [...recipe.constraints, ...(recipe.validation.readiness?.constraints ?? [])]
    : recipe.validation[block]?.constraints ?? []

/** The constraint named `name` in a block (see {@link constraintsOf}), or `undefined`. */
export const constraint = (recipe: Recipe, block: ValidationBlock, name: string): Constraint | undefined =>
  constraintsOf(recipe, block).find((candidate) => candidate.name === name)

/** A block's constraints as `{ [name]: value }`, the shape a plugin's constraint schema decodes. */
export const constraintValues = (recipe: Recipe, block: ValidationBlock): Readonly<Record<string, string>> =>
  Object.fromEntries(constraintsOf(recipe, block).map((c) => [c.name, c.value]))

/**
 * The path of the constraint named `name` in the recipe view (`["validation", "performance", "constraints", 4]`),
 * for {@link LoadedRecipe.locate} and problem paths; `undefined` when there is none.
 */
export const constraintPath = (recipe: Recipe, block: ValidationBlock, name: string): ReadonlyArray<string | number> | undefined => {
  if (block === "readiness") {
    const top = recipe.constraints.findIndex((c) => c.name === name)
    if (top !== -1) return ["constraints", top]
  }
  const index = (recipe.validation[block]?.constraints ?? []).findIndex((c) => c.name === name)
  return index === -1 ? undefined : ["validation", block, "constraints", index]
}

/** The check names a phase declares (`validation.<phase>.checks`), empty when it declares none. */
export const checksOf = (recipe: Recipe, phase: Phase): ReadonlyArray<string> => recipe.validation[phase]?.checks ?? []
