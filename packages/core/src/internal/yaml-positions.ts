/**
 * Parses one YAML (or JSON) document and keeps an index from YAML paths to source positions, so that problems
 * found later in the parsed value can be reported at `source:line:column`.
 *
 * Details: YAML 1.2 is a superset of JSON, so one parser serves both; with `json: true` the JSON schema is used
 * and unquoted words such as `yes` are syntax errors. Syntax errors, duplicate keys and a second non-empty
 * document in the same text are problems; YAML warnings are kept as warnings.
 */
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type YAMLError } from "yaml"
import type { Problem } from "../Problem.ts"
import { pathOf } from "../Problem.ts"

export type YamlPath = ReadonlyArray<string | number>

/** A 1-based position in the source and the formatted path of the node found there. */
export interface Position {
  readonly line: number
  readonly column: number
  readonly path: string
}

export interface ParsedYaml {
  /** The document as plain JS (mappings → objects, sequences → arrays); `undefined` for an empty text or on problems. */
  readonly value: unknown
  readonly problems: ReadonlyArray<Problem>
  readonly warnings: ReadonlyArray<Problem>
  /**
   * The position of the node at `path`: for a mapping entry the position of its key, for a sequence item the
   * item itself, for `[]` the document root. `undefined` when there is no such node.
   */
  readonly locate: (path: YamlPath) => Position | undefined
  /** Like `locate`, but falls back to the deepest existing ancestor (whose path the result names). */
  readonly locateNearest: (path: YamlPath) => Position | undefined
  /** The text of the scalar at `path` as written (`1.30` stays `1.30`), or `undefined` if it is not a scalar. */
  readonly scalarSource: (path: YamlPath) => string | undefined
}

export interface ParseOptions {
  /** Parse with the JSON schema (strict JSON values). */
  readonly json?: boolean | undefined
}

type Node = unknown

/** Syntax errors cascade; past this many the rest are summarised in one problem. */
const MAX_SYNTAX_PROBLEMS = 10

interface Step {
  readonly node: Node
  readonly offset: number | undefined
}

const rangeStart = (node: Node): number | undefined =>
  node !== null && typeof node === "object" && "range" in node && Array.isArray(node.range)
    ? (node.range[0] as number)
    : undefined

const keyText = (key: Node): string | undefined =>
  isScalar(key) && key.value !== null && typeof key.value !== "object" ? String(key.value) : undefined

const isEmptyDocument = (doc: Document.Parsed): boolean => {
  const contents = doc.contents
  if (contents === null) return true
  const [start, end] = contents.range
  return isScalar(contents) && contents.value === null && start === end
}

const keyAt = (doc: Document.Parsed, offset: number): string | undefined => {
  let found: string | undefined
  visit(doc, {
    Pair: (_, pair) => {
      if (rangeStart(pair.key) !== offset) return undefined
      found = keyText(pair.key)
      return visit.BREAK
    }
  })
  return found
}

const friendlyMessage = (doc: Document.Parsed, error: YAMLError, text: string, json: boolean): string => {
  const [start, end] = error.pos
  switch (error.code) {
    case "DUPLICATE_KEY": {
      const key = keyAt(doc, start)
      return key === undefined ? "duplicate key" : `duplicate key ${JSON.stringify(key)}`
    }
    case "TAG_RESOLVE_FAILED": {
      if (!json) return error.message
      const value = text.slice(start, end).trim()
      return value === ""
        ? "missing JSON value"
        : `invalid JSON value ${JSON.stringify(value)} (JSON strings must be in double quotes)`
    }
    default:
      return error.message
  }
}

/** Parses `text` (named `source` in problems) and indexes node positions. */
export const parseYamlWithPositions = (text: string, source: string, options: ParseOptions = {}): ParsedYaml => {
  const lineCounter = new LineCounter()
  const parsed = parseAllDocuments(text, {
    lineCounter,
    prettyErrors: false,
    ...(options.json === true ? { schema: "json" as const } : {})
  })
  const documents = Array.isArray(parsed) ? parsed.filter((doc) => !isEmptyDocument(doc)) : []
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset)
    return { line, column: col }
  }
  const problems: Array<Problem> = []
  const warnings: Array<Problem> = []
  const all = Array.isArray(parsed) ? parsed : []
  for (const doc of all) {
    for (const error of doc.errors) {
      problems.push({ source, ...at(error.pos[0]), message: friendlyMessage(doc, error, text, options.json === true) })
    }
    for (const warning of doc.warnings) {
      warnings.push({ source, ...at(warning.pos[0]), message: warning.message })
    }
  }
  if (problems.length > MAX_SYNTAX_PROBLEMS) {
    const hidden = problems.length - MAX_SYNTAX_PROBLEMS
    problems.splice(MAX_SYNTAX_PROBLEMS, hidden, {
      source,
      message: `${hidden} more syntax error(s) not shown; fix the ones above first (is this a YAML or JSON file?)`
    })
  }
  const extra = documents[1]
  if (extra !== undefined) {
    problems.push({
      source,
      ...at(extra.range[0]),
      message: `the file holds ${documents.length} YAML documents; it must hold exactly one (remove the extra "---" sections)`
    })
  }
  const doc = documents[0]

  const step = (node: Node, segment: string | number): Step | undefined => {
    const target = doc !== undefined && isAlias(node) ? node.resolve(doc) : node
    if (typeof segment === "number") {
      if (!isSeq(target)) return undefined
      const item: Node = target.items[segment]
      if (item === undefined) return undefined
      return isPair(item)
        ? { node: item.value, offset: rangeStart(item.key) ?? rangeStart(item.value) }
        : { node: item, offset: rangeStart(item) }
    }
    if (!isMap(target)) return undefined
    const pair = target.items.find((candidate) => keyText(candidate.key) === segment)
    if (pair === undefined) return undefined
    return { node: pair.value, offset: rangeStart(pair.key) ?? rangeStart(pair.value) }
  }

  const walk = (path: YamlPath): { readonly depth: number; readonly step: Step } | undefined => {
    if (doc === undefined || doc.contents === null) return undefined
    let current: Step = { node: doc.contents, offset: rangeStart(doc.contents) }
    let depth = 0
    for (const segment of path) {
      const next = step(current.node, segment)
      if (next === undefined) break
      current = next
      depth++
    }
    return { depth, step: current }
  }

  const positionOf = (path: YamlPath, offset: number | undefined): Position | undefined =>
    offset === undefined ? undefined : { ...at(offset), path: pathOf(path) }

  const locate = (path: YamlPath): Position | undefined => {
    const found = walk(path)
    return found === undefined || found.depth < path.length ? undefined : positionOf(path, found.step.offset)
  }

  const locateNearest = (path: YamlPath): Position | undefined => {
    const found = walk(path)
    return found === undefined ? undefined : positionOf(path.slice(0, found.depth), found.step.offset)
  }

  const scalarSource = (path: YamlPath): string | undefined => {
    const found = walk(path)
    if (found === undefined || found.depth < path.length) return undefined
    const node = found.step.node
    if (!isScalar(node)) return undefined
    return typeof node.source === "string" ? node.source : String(node.value)
  }

  const toValue = (): { readonly value: unknown; readonly problem?: Problem } => {
    if (doc === undefined) return { value: undefined }
    try {
      return { value: doc.toJS() }
    } catch (error) {
      return {
        value: undefined,
        problem: { source, message: `cannot read the document: ${error instanceof Error ? error.message : String(error)}` }
      }
    }
  }
  const converted = problems.length === 0 ? toValue() : { value: undefined }
  if (converted.problem !== undefined) problems.push(converted.problem)

  return { value: converted.value, problems, warnings, locate, locateNearest, scalarSource }
}
