/**
 * The validator catalog: which checks exist, their phase, container image, timeout, arguments and environment.
 *
 * Details: a catalog is a YAML document of kind `ValidatorCatalog`. The CLI ships one ({@link embedded}); a
 * user catalog ({@link loadCatalogFile}) is {@link merge}d over it by check name. Parsing collects every problem
 * with its file, YAML path and line. Accepted apiVersions: `aicr.run/v1alpha1` (ours) and upstream's
 * `validator.nvidia.com/v1alpha1` and `aicr.nvidia.com/v1`. Unknown fields are ignored.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml"
import type { Node, YAMLError, YAMLMap } from "yaml"
import * as GoDuration from "./GoDuration.ts"
import * as Problem from "./Problem.ts"

/** A validation phase. */
export type Phase = "deployment" | "performance" | "conformance"

/** The phases in the order they run. */
export const PHASES = ["deployment", "performance", "conformance"] as const satisfies ReadonlyArray<Phase>

/** True when the text names a phase. */
export const isPhase = (text: unknown): text is Phase => (PHASES as ReadonlyArray<unknown>).includes(text)

/** Our catalog apiVersion. */
export const API_VERSION = "aicr.run/v1alpha1"

/** Every apiVersion a catalog may declare: ours, then upstream's newest and v0.11.1 ones. */
export const API_VERSIONS = [API_VERSION, "validator.nvidia.com/v1alpha1", "aicr.nvidia.com/v1"] as const

/** The only accepted kind. */
export const KIND = "ValidatorCatalog"

/** The timeout of an entry that declares none (or `0`): 5 minutes, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 5 * 60_000

/** A literal environment variable for the check container. */
export interface EnvVar {
  readonly name: string
  readonly value: string
}

/** A preference (or requirement) to schedule the check next to the pods of a recipe component. */
export interface DependencyAffinity {
  readonly componentRef: string
  readonly podLabelSelector: Readonly<Record<string, string>>
  readonly requirement: "preferred" | "required"
}

/** One check of the catalog. */
export interface Entry {
  readonly name: string
  readonly phase: Phase
  readonly description: string
  /** The container image that runs the check, before tag and registry resolution (`Image.resolveImage`). */
  readonly image: string
  /** Milliseconds; {@link DEFAULT_TIMEOUT_MS} when the file has none or `0`. */
  readonly timeout: number
  /** Arguments for the container; empty when the file has none. */
  readonly args: ReadonlyArray<string>
  readonly env: ReadonlyArray<EnvVar>
  /** Container resources (`cpu`, `memory`) when declared. */
  readonly resources?: Readonly<Record<string, string>> | undefined
  readonly dependencyAffinity: ReadonlyArray<DependencyAffinity>
  /** Named images the check starts itself (benchmark workers, probes), keyed by role. */
  readonly images: Readonly<Record<string, string>>
}

/** A parsed catalog; the header is absent when the document had none (a catalog embedded in another object). */
export interface Catalog {
  readonly apiVersion?: string | undefined
  readonly kind?: typeof KIND | undefined
  readonly metadata?: { readonly name?: string | undefined; readonly version?: string | undefined } | undefined
  readonly validators: ReadonlyArray<Entry>
}

/** The outcome of {@link parseCatalog}. */
export type ParseResult =
  | { readonly _tag: "Ok"; readonly catalog: Catalog }
  | { readonly _tag: "Problems"; readonly problems: ReadonlyArray<Problem.Problem> }

type Path = ReadonlyArray<string | number>

interface Ctx {
  readonly source: string
  readonly lines: LineCounter
  readonly problems: Array<Problem.Problem>
}

const report = (ctx: Ctx, node: Node | null | undefined, path: Path, message: string): undefined => {
  const offset = node?.range?.[0]
  const pos = offset === undefined ? undefined : ctx.lines.linePos(offset)
  ctx.problems.push({ message, source: ctx.source, path: Problem.pathOf(path), line: pos?.line, column: pos?.col })
  return undefined
}

interface Scope {
  readonly ctx: Ctx
  readonly path: Path
  readonly label: string
}

const fail = (scope: Scope, node: unknown, sub: Path, message: string): undefined =>
  report(scope.ctx, node as Node | undefined, [...scope.path, ...sub], `${scope.label}: ${message}`)

const child = (map: YAMLMap, key: string): Node | undefined => {
  const node = map.get(key, true) as Node | undefined
  return isScalar(node) && node.value === null ? undefined : node
}

const scalarText = (node: unknown): string | undefined =>
  isScalar(node) && ["string", "number", "boolean"].includes(typeof node.value) ? String(node.value) : undefined

const stringValue = (node: unknown): string | undefined =>
  isScalar(node) && typeof node.value === "string" ? node.value : undefined

const stringAt = (scope: Scope, map: YAMLMap, key: string): string | undefined => {
  const node = child(map, key)
  if (node === undefined) return undefined
  return stringValue(node) ?? fail(scope, node, [key], `${key} must be a string`)
}

const stringMap = (scope: Scope, node: Node, key: string): Record<string, string> | undefined => {
  if (!isMap(node)) return fail(scope, node, [key], `${key}: must be a mapping of names to strings`)
  const out: Record<string, string> = {}
  for (const pair of node.items) {
    const name = scalarText(pair.key)
    const value = scalarText(pair.value)
    if (name && value) out[name] = value
    else fail(scope, pair.value ?? pair.key, name ? [key, name] : [key], `${key}: every entry needs a non-empty value`)
  }
  return out
}

const listAt = (scope: Scope, map: YAMLMap, key: string, shape: string): ReadonlyArray<unknown> => {
  const node = child(map, key)
  if (node === undefined) return []
  if (isSeq(node)) return node.items
  fail(scope, node, [key], `${key} must be a list of ${shape}`)
  return []
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const PHASE_LIST = PHASES.join(", ")

const parseTimeout = (scope: Scope, map: YAMLMap): number => {
  const node = child(map, "timeout")
  if (node === undefined) return DEFAULT_TIMEOUT_MS
  const text = isScalar(node) && node.value === 0 ? "0" : stringValue(node)
  const ms = text === undefined ? undefined : GoDuration.parse(text)
  if (ms === undefined || ms < 0) {
    const shown = JSON.stringify(scalarText(node) ?? "")
    return fail(scope, node, ["timeout"], `invalid timeout ${shown}: must be a Go duration such as 90s, 2m or 1h30m`) ??
      DEFAULT_TIMEOUT_MS
  }
  return ms === 0 ? DEFAULT_TIMEOUT_MS : ms
}

const parseArgs = (scope: Scope, map: YAMLMap): ReadonlyArray<string> =>
  listAt(scope, map, "args", "strings").flatMap((item, i) => {
    const text = stringValue(item)
    if (text === undefined) fail(scope, item, ["args", i], "args must be a list of strings (quote numbers)")
    return text === undefined ? [] : [text]
  })

const parseEnv = (scope: Scope, map: YAMLMap): ReadonlyArray<EnvVar> =>
  listAt(scope, map, "env", "{name, value}").flatMap((item, i) => {
    const here: Scope = { ...scope, path: [...scope.path, "env", i] }
    if (!isMap(item)) return fail(here, item, [], "env entries must be {name, value}") ?? []
    const name = stringAt(here, item, "name")
    const valueNode = child(item, "value")
    const value = valueNode === undefined ? "" : stringValue(valueNode)
    if (!name) fail(here, item, ["name"], "env name is required")
    if (value === undefined) fail(here, valueNode, ["value"], "env value must be a string (quote numbers and booleans)")
    return name && value !== undefined ? [{ name, value }] : []
  })

const parseAffinity = (scope: Scope, map: YAMLMap): ReadonlyArray<DependencyAffinity> =>
  listAt(scope, map, "dependencyAffinity", "{componentRef, podLabelSelector, requirement}").flatMap((item, i) => {
    const path = [...scope.path, "dependencyAffinity", i]
    const here: Scope = { ...scope, path, label: `${scope.label}: dependencyAffinity` }
    if (!isMap(item)) return fail(here, item, [], "entries must be mappings") ?? []
    const componentRef = stringAt(here, item, "componentRef")
    if (!componentRef) fail(here, item, ["componentRef"], "componentRef is required")
    const selectorNode = child(item, "podLabelSelector")
    const selector = selectorNode === undefined ? undefined : stringMap(here, selectorNode, "podLabelSelector")
    const labelled = selector !== undefined && Object.keys(selector).length > 0
    if (!labelled && (selectorNode === undefined || selector !== undefined)) {
      fail(here, selectorNode ?? item, ["podLabelSelector"], "podLabelSelector needs at least one label")
    }
    const requirement = stringAt(here, item, "requirement") ?? "preferred"
    if (requirement !== "preferred" && requirement !== "required") {
      const message = `invalid requirement "${requirement}", must be one of: preferred, required`
      return fail(here, child(item, "requirement"), ["requirement"], message) ?? []
    }
    return componentRef && labelled ? [{ componentRef, podLabelSelector: selector, requirement }] : []
  })

const parseName = (scope: Scope, map: YAMLMap, index: number, seen: Map<string, number>): string | undefined => {
  const node = child(map, "name")
  const name = stringAt(scope, map, "name")
  if (!name) return fail(scope, node ?? map, ["name"], "name is required")
  const first = seen.get(name)
  if (first !== undefined) {
    return fail(scope, node, ["name"], `duplicate name "${name}" (first defined at validators[${first}])`)
  }
  seen.set(name, index)
  if (!DNS_LABEL.test(name) || name.length > 63) {
    const rule = "lowercase letters, digits and '-', at most 63 characters"
    fail(scope, node, ["name"], `name "${name}" must be a DNS-1123 label (${rule})`)
  }
  return name
}

const parsePhase = (scope: Scope, map: YAMLMap): Phase | undefined => {
  const node = child(map, "phase")
  const phase = scalarText(node)
  if (isPhase(phase)) return phase
  return node === undefined
    ? fail(scope, map, ["phase"], `phase is required, must be one of: ${PHASE_LIST}`)
    : fail(scope, node, ["phase"], `invalid phase "${phase ?? ""}", must be one of: ${PHASE_LIST}`)
}

const parseEntry = (ctx: Ctx, item: unknown, i: number, seen: Map<string, number>): Entry | undefined => {
  const indexed: Scope = { ctx, path: ["validators", i], label: `validator[${i}]` }
  if (!isMap(item)) return fail(indexed, item, [], "must be a mapping with name, phase and image")
  const name = parseName(indexed, item, i, seen)
  const shown = name ?? stringValue(child(item, "name"))
  const scope: Scope = shown ? { ...indexed, label: `validator "${shown}"` } : indexed
  const phase = parsePhase(scope, item)
  const description = stringAt(scope, item, "description") ?? ""
  const image = stringAt(scope, item, "image")
  if (!image?.trim()) fail(scope, child(item, "image") ?? item, ["image"], "image is required")
  const timeout = parseTimeout(scope, item)
  const args = parseArgs(scope, item)
  const env = parseEnv(scope, item)
  const resourcesNode = child(item, "resources")
  const resources = resourcesNode === undefined ? undefined : stringMap(scope, resourcesNode, "resources")
  const dependencyAffinity = parseAffinity(scope, item)
  const imagesNode = child(item, "images")
  const images = imagesNode === undefined ? {} : stringMap(scope, imagesNode, "images") ?? {}
  if (!name || phase === undefined || !image?.trim()) return undefined
  return { name, phase, description, image, timeout, args, env, resources, dependencyAffinity, images }
}

const parseHeader = (ctx: Ctx, root: YAMLMap): Omit<Catalog, "validators"> => {
  const apiNode = child(root, "apiVersion")
  const kindNode = child(root, "kind")
  const metaNode = child(root, "metadata")
  const apiVersion = scalarText(apiNode)
  const kind = scalarText(kindNode)
  if (apiNode === undefined && metaNode !== undefined) {
    report(ctx, root, ["apiVersion"], `apiVersion is required, must be one of: ${API_VERSIONS.join(", ")}`)
  } else if (apiNode !== undefined && !(API_VERSIONS as ReadonlyArray<string | undefined>).includes(apiVersion)) {
    const message = `unsupported apiVersion "${apiVersion ?? ""}", must be one of: ${API_VERSIONS.join(", ")}`
    report(ctx, apiNode, ["apiVersion"], message)
  }
  if (kindNode === undefined && metaNode !== undefined) {
    report(ctx, root, ["kind"], `kind is required, must be "${KIND}"`)
  } else if (kindNode !== undefined && kind !== KIND) {
    report(ctx, kindNode, ["kind"], `invalid kind "${kind ?? ""}", must be "${KIND}"`)
  }
  if (metaNode !== undefined && !isMap(metaNode)) report(ctx, metaNode, ["metadata"], "metadata must be a mapping")
  const metadata = isMap(metaNode)
    ? { name: scalarText(child(metaNode, "name")), version: scalarText(child(metaNode, "version")) }
    : undefined
  return {
    apiVersion,
    kind: kind === KIND ? KIND : undefined,
    metadata
  }
}

const syntaxMessage = (error: YAMLError): string =>
  error.code === "MULTIPLE_DOCS"
    ? "invalid YAML: a catalog file holds exactly one YAML document (remove the `---` separators)"
    : `invalid YAML: ${error.message.split("\n")[0] ?? ""}`

/**
 * Parses a catalog document, collecting every problem (YAML syntax, header, each entry) with its source, YAML
 * path (`validators[3].phase`) and line.
 *
 * Details: header fields are checked when present; when `metadata` is present `apiVersion` and `kind` are
 * required (a catalog embedded in another object may omit all three). Timeouts are Go durations
 * (`90s`, `2m`, `1h30m`) converted to milliseconds.
 */
export const parseCatalog = (text: string, source: string): ParseResult => {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  const ctx: Ctx = { source, lines, problems: [] }
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error) => {
      const pos = lines.linePos(error.pos[0])
      return { message: syntaxMessage(error), source, line: pos.line, column: pos.col }
    })
    return { _tag: "Problems", problems }
  }
  const root = doc.contents as Node | null
  if (!isMap(root)) {
    report(ctx, root, [], `a validator catalog must be a mapping with kind: ${KIND} and a validators list`)
    return { _tag: "Problems", problems: ctx.problems }
  }
  const header = parseHeader(ctx, root)
  const list = child(root, "validators")
  if (list !== undefined && !isSeq(list)) report(ctx, list, ["validators"], "validators must be a list")
  const seen = new Map<string, number>()
  const validators = isSeq(list)
    ? list.items.flatMap((item, i) => parseEntry(ctx, item, i, seen) ?? [])
    : []
  return ctx.problems.length > 0
    ? { _tag: "Problems", problems: ctx.problems }
    : { _tag: "Ok", catalog: { ...header, validators } }
}

/** The entries of a phase, in file order. */
export const forPhase = (catalog: Catalog, phase: Phase): ReadonlyArray<Entry> =>
  catalog.validators.filter((entry) => entry.phase === phase)

/** The entry with that name, if any. */
export const find = (catalog: Catalog, name: string): Entry | undefined =>
  catalog.validators.find((entry) => entry.name === name)

/**
 * Lays an overlay catalog over a base by check name: an overlay entry replaces the base entry of the same name
 * in place, new names are appended in overlay order. The header is the base's.
 */
export const merge = (base: Catalog, overlay: Catalog): Catalog => {
  const replacements = new Map(overlay.validators.map((entry) => [entry.name, entry]))
  const baseNames = new Set(base.validators.map((entry) => entry.name))
  return {
    ...base,
    validators: [
      ...base.validators.map((entry) => replacements.get(entry.name) ?? entry),
      ...overlay.validators.filter((entry) => !baseNames.has(entry.name))
    ]
  }
}

let embeddedCatalog: Catalog | undefined

/**
 * The catalog shipped with this package (`catalog.yaml` next to this module), parsed on first use.
 *
 * *Gotchas*: throws if the shipped file is invalid — a packaging bug, pinned by the tests.
 */
export const embedded = (): Catalog => {
  if (embeddedCatalog !== undefined) return embeddedCatalog
  const url = new URL("./catalog.yaml", import.meta.url)
  const parsed = parseCatalog(readFileSync(url, "utf8"), fileURLToPath(url))
  if (parsed._tag === "Problems") throw new Error(parsed.problems.map(Problem.format).join("\n"))
  embeddedCatalog = parsed.catalog
  return parsed.catalog
}

/** Reads and parses a catalog file; fails with an {@link Problem.InputError} listing every problem. */
export const loadCatalogFile = (path: string): Effect.Effect<Catalog, Problem.InputError> =>
  Effect.try({
    try: () => readFileSync(path, "utf8"),
    catch: (error) =>
      new Problem.InputError({
        problems: [{
          message: `cannot read the validator catalog: ${error instanceof Error ? error.message : String(error)}`,
          source: path
        }]
      })
  }).pipe(
    Effect.flatMap((text) => {
      const parsed = parseCatalog(text, path)
      return parsed._tag === "Ok"
        ? Effect.succeed(parsed.catalog)
        : Effect.fail(new Problem.InputError({ problems: parsed.problems }))
    })
  )
