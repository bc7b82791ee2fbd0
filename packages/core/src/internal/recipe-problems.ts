/**
 * Checks and messages for recipe documents that go beyond the zod schemas: zod issues rephrased for people,
 * constraint expressions and names, duplicate constraint names, and numbers kept as written.
 */
import type * as z from "zod"
import { parseExpression, parsePath } from "../Constraint.ts"
import type { YamlPath } from "./yaml-positions.ts"

/** Where to report a finding: a path in the file and a message. */
export interface Finding {
  readonly path: YamlPath
  readonly message: string
}

/** The validation blocks a recipe may have, in report order. */
export const VALIDATION_BLOCKS = ["readiness", "deployment", "performance", "conformance"] as const

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/** Reads the value at `path` in plain JS data. */
export const valueAt = (data: unknown, path: YamlPath): unknown =>
  path.reduce<unknown>((node, segment) => {
    if (typeof segment === "number") return Array.isArray(node) ? node[segment] : undefined
    return isRecord(node) ? node[segment] : undefined
  }, data)

/** Names a value's YAML type for messages: `a mapping`, `a list`, `the number 5`, `null`. */
export const describe = (value: unknown): string => {
  if (value === undefined) return "nothing"
  if (value === null) return "null (an empty value)"
  if (Array.isArray(value)) return "a list"
  if (isRecord(value)) return "a mapping"
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`
  if (typeof value === "number") return `the number ${String(value)}`
  if (typeof value === "boolean") return `the boolean ${String(value)}`
  return typeof value
}

const NOUNS: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean (true or false)",
  array: "a list",
  object: "a mapping",
  record: "a mapping"
}

const noun = (expected: string): string => NOUNS[expected] ?? expected

const oneOf = (values: ReadonlyArray<unknown>): string => {
  const shown = values.map((value) => JSON.stringify(value))
  return shown.length <= 2 ? shown.join(" or ") : `one of ${shown.join(", ")}`
}

const endsWith = (path: YamlPath, ...tail: ReadonlyArray<string | "#">): boolean =>
  path.length >= tail.length &&
  tail.every((segment, i) => {
    const actual = path[path.length - tail.length + i]
    return segment === "#" ? typeof actual === "number" : actual === segment
  })

const expectedTypeMessage = (path: YamlPath, expected: string, input: unknown): string => {
  if (endsWith(path, "checks", "#")) {
    return `check name must be a string such as "nccl-all-reduce-bw", got ${describe(input)}`
  }
  if (endsWith(path, "constraints", "#", "value")) {
    return input === undefined
      ? `constraint has no value; add one such as value: ">= 1.32.4"`
      : `constraint value must be a string such as ">= 1.32.4", got ${describe(input)}`
  }
  if (endsWith(path, "constraints", "#", "name") && input === undefined) return "constraint has no name"
  if (input === undefined) return `required field is missing (expected ${noun(expected)})`
  return `expected ${noun(expected)}, got ${describe(input)}`
}

const issueMessage = (issue: z.core.$ZodIssue, path: YamlPath, input: unknown): string => {
  switch (issue.code) {
    case "invalid_type":
      return expectedTypeMessage(path, issue.expected, input)
    case "invalid_value":
      return `${endsWith(path, "severity") ? "severity must be" : "expected"} ${oneOf(issue.values)}, got ${describe(input)}`
    case "invalid_union": {
      const expected = issue.errors.flatMap((branch) =>
        branch.flatMap((inner) => inner.code === "invalid_type" && inner.path.length === 0 ? [noun(inner.expected)] : [])
      )
      return expected.length > 0 ? `expected ${expected.join(" or ")}, got ${describe(input)}` : issue.message
    }
    case "too_small":
      return issue.origin === "string"
        ? "must not be empty"
        : issue.origin === "array"
        ? `must have at least ${String(issue.minimum)} item(s)`
        : `must be ${issue.inclusive === false ? "greater than" : "at least"} ${String(issue.minimum)}, got ${describe(input)}`
    default:
      return issue.message
  }
}

/** Rephrases zod issues (raised on `data`) as findings at their paths. */
export const issueFindings = (issues: ReadonlyArray<z.core.$ZodIssue>, data: unknown): ReadonlyArray<Finding> =>
  issues.map((issue) => {
    const path = issue.path.filter((segment): segment is string | number => typeof segment !== "symbol")
    return { path, message: issueMessage(issue, path, valueAt(data, path)) }
  })

/** A list of constraints in the document: the top-level (readiness) list or one in a validation block. */
export interface ConstraintBlock {
  readonly path: YamlPath
  readonly items: ReadonlyArray<unknown>
  /** True for the top-level list, whose names are measurement paths (`K8s.server.version`). */
  readonly measurementNames: boolean
}

/** The constraint lists of a recipe body (the document for a RecipeResult, `spec` for an overlay). */
export const constraintBlocks = (body: unknown, prefix: YamlPath): ReadonlyArray<ConstraintBlock> => {
  if (!isRecord(body)) return []
  const blocks: Array<ConstraintBlock> = []
  if (Array.isArray(body.constraints)) {
    blocks.push({ path: [...prefix, "constraints"], items: body.constraints, measurementNames: true })
  }
  const validation = body.validation
  if (isRecord(validation)) {
    for (const phase of VALIDATION_BLOCKS) {
      const block = validation[phase]
      if (isRecord(block) && Array.isArray(block.constraints)) {
        blocks.push({ path: [...prefix, "validation", phase, "constraints"], items: block.constraints, measurementNames: false })
      }
    }
  }
  return blocks
}

/**
 * Checks the constraints of one block: every value parses as an expression, top-level names are measurement
 * paths, and no name appears twice. `lineOf` names the line of an earlier declaration in duplicate messages.
 */
export const constraintFindings = (
  block: ConstraintBlock,
  lineOf: (path: YamlPath) => number | undefined
): ReadonlyArray<Finding> => {
  const findings: Array<Finding> = []
  const firstByName = new Map<string, number>()
  block.items.forEach((item, index) => {
    if (!isRecord(item)) return
    const at = [...block.path, index]
    const { name, value } = item
    if (typeof value === "string") {
      const parsed = parseExpression(value)
      if (parsed._tag === "Error") {
        findings.push({ path: [...at, "value"], message: `invalid constraint expression ${JSON.stringify(value)}: ${parsed.message}` })
      }
    }
    if (typeof name !== "string" || name === "") return
    if (block.measurementNames) {
      const path = parsePath(name)
      if (path._tag === "Error") {
        findings.push({ path: [...at, "name"], message: `invalid readiness constraint name: ${path.message}` })
      }
    }
    const first = firstByName.get(name)
    if (first === undefined) {
      firstByName.set(name, index)
      return
    }
    const line = lineOf([...block.path, first])
    findings.push({
      path: [...at, "name"],
      message: `duplicate constraint name ${JSON.stringify(name)} (first declared at ${
        line === undefined ? `index ${first}` : `line ${line}`
      }); keep one of them`
    })
  })
  return findings
}

/**
 * Replaces numbers in string-typed recipe fields (constraint values, component versions and tags, the
 * metadata version) by their text as written, so `value: 1.30` reads `"1.30"` and not `"1.3"`.
 *
 * Gotchas: mutates `data`, which must be a freshly parsed document.
 */
export const keepNumbersAsWritten = (
  data: unknown,
  prefix: YamlPath,
  sourceOf: (path: YamlPath) => string | undefined
): void => {
  const restore = (owner: unknown, key: string, path: YamlPath) => {
    if (isRecord(owner) && typeof owner[key] === "number") owner[key] = sourceOf(path) ?? String(owner[key])
  }
  const body = valueAt(data, prefix)
  for (const block of constraintBlocks(body, prefix)) {
    block.items.forEach((item, index) => restore(item, "value", [...block.path, index, "value"]))
  }
  const refs = isRecord(body) ? body.componentRefs : undefined
  if (Array.isArray(refs)) {
    refs.forEach((ref, index) => {
      for (const key of ["version", "tag"]) restore(ref, key, [...prefix, "componentRefs", index, key])
    })
  }
  if (isRecord(data)) restore(data.metadata, "version", ["metadata", "version"])
}
