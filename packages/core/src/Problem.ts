/**
 * A problem found in user input: a recipe, a catalog, a config file or a command-line flag.
 *
 * Details: problems are collected and reported together, never one at a time. `source` names the file, URL or
 * flag; `path` is the YAML/JSON path inside it (`validation.performance.checks[1]`); `line`/`column` are
 * 1-based positions in the source text when known.
 */
import * as Data from "effect/Data"

export interface Problem {
  readonly message: string
  readonly source?: string | undefined
  readonly path?: string | undefined
  readonly line?: number | undefined
  readonly column?: number | undefined
}

/** Renders a problem as `source:line:column: path: message`, leaving out what is unknown. */
export const format = (problem: Problem): string => {
  const where = [
    problem.source,
    problem.line !== undefined ? String(problem.line) : undefined,
    problem.line !== undefined && problem.column !== undefined ? String(problem.column) : undefined
  ].filter((part) => part !== undefined).join(":")
  const head = [where, problem.path].filter((part) => part !== undefined && part !== "").join(": ")
  return head === "" ? problem.message : `${head}: ${problem.message}`
}

/**
 * Invalid input: one or more problems, each saying what and where. Maps to exit code 2; nothing on the cluster
 * has been changed when it is raised.
 */
export class InputError extends Data.TaggedError("InputError")<{ readonly problems: ReadonlyArray<Problem> }> {
  override get message(): string {
    return this.problems.map(format).join("\n")
  }
}

/** Formats a YAML/JSON path from its segments: `["validation", "checks", 1]` → `validation.checks[1]`. */
export const pathOf = (segments: ReadonlyArray<string | number>): string =>
  segments.reduce<string>(
    (acc, segment) =>
      typeof segment === "number" ? `${acc}[${segment}]` : acc === "" ? segment : `${acc}.${segment}`,
    ""
  )
