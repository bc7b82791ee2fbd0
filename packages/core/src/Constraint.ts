/**
 * The constraint expression language of recipes: `>= 1.32.4`, `== 24.04`, `ubuntu`, `<= 2000`.
 *
 * Details: an expression is an optional operator (`>=`, `<=`, `>`, `<`, `==`, `!=`) followed by a value; without
 * an operator it is an exact, case-sensitive match. Ordering operators compare versions precision-aware
 * (`>= 1.33` accepts `1.33.9`); `==`/`!=` compare versions when both sides parse as versions and strings otherwise.
 * Numeric performance gates (`>= 300` GB/s, `<= 2000` ms) go through {@link parseThreshold} and
 * {@link judgeThreshold}, which honour the operator and apply a tolerance towards the permissive side.
 */

/** A comparison operator; `exact` means the expression had no operator. */
export type Operator = ">=" | "<=" | ">" | "<" | "==" | "!=" | "exact"

/** A parsed constraint expression. */
export interface Expression {
  readonly operator: Operator
  readonly value: string
}

/** The outcome of {@link parseExpression}. */
export type ParseResult =
  | { readonly _tag: "Ok"; readonly expression: Expression }
  | { readonly _tag: "Error"; readonly message: string }

const OPERATORS = [">=", "<=", "!=", "==", ">", "<"] as const

/**
 * Parses a constraint expression such as `>= 1.32.4`, `>=6.8`, `!= 1.0` or `ubuntu`.
 *
 * Details: the text is trimmed; the value after an operator is trimmed too (the space is optional).
 * *Gotchas*: `= 5` has no operator (`=` is not one) and is an exact match on `= 5`.
 */
export const parseExpression = (text: string): ParseResult => {
  const trimmed = text.trim()
  if (trimmed === "") return { _tag: "Error", message: "constraint expression cannot be empty" }
  const operator = OPERATORS.find((op) => trimmed.startsWith(op))
  if (operator === undefined) return { _tag: "Ok", expression: { operator: "exact", value: trimmed } }
  const value = trimmed.slice(operator.length).trim()
  if (value === "") {
    return {
      _tag: "Error",
      message: `constraint value cannot be empty after operator "${operator}" (in "${trimmed}")`
    }
  }
  return { _tag: "Ok", expression: { operator, value } }
}

/** Renders an expression back to text: the bare value for `exact`, otherwise `op value`. */
export const formatExpression = (e: Expression): string =>
  e.operator === "exact" ? e.value : `${e.operator} ${e.value}`

/** True for the ordering operators (`>=`, `<=`, `>`, `<`), which always compare versions or numbers. */
export const isOrdering = (operator: Operator): operator is ">=" | "<=" | ">" | "<" =>
  operator === ">=" || operator === "<=" || operator === ">" || operator === "<"

/**
 * True when evaluating the expression compares versions: always for the ordering operators, and for `exact`,
 * `==` and `!=` only when the value {@link looksLikeVersion}.
 */
export const isVersionComparison = (e: Expression): boolean =>
  isOrdering(e.operator) || (e.operator !== "exact" && looksLikeVersion(e.value))

/** A parsed version; `precision` is how many components were written (`1.33` → 2). */
export interface Version {
  readonly major: number
  readonly minor: number
  readonly patch: number
  readonly precision: 1 | 2 | 3
}

/**
 * Parses a version such as `v1.33.5-eks-3025e55` (→ 1.33.5), `6.8.0-1028-aws` (→ 6.8.0) or `24.04`.
 *
 * Details: one leading `v` is stripped; everything from the first `-` or `+` that directly follows a digit is
 * dropped; what remains must be one to three dot-separated non-negative integers. Returns `undefined` otherwise
 * (`1.2.3.4`, `ubuntu22.04`, `v`).
 */
export const parseVersion = (text: string): Version | undefined => {
  const body = text.startsWith("v") ? text.slice(1) : text
  const cut = body.search(/(?<=\d)[-+]/)
  const core = cut === -1 ? body : body.slice(0, cut)
  const parts = core.split(".")
  if (parts.length > 3 || !parts.every((part) => /^\d+$/.test(part))) return undefined
  const [major = 0, minor = 0, patch = 0] = parts.map(Number)
  return { major, minor, patch, precision: parts.length as 1 | 2 | 3 }
}

/**
 * True when the text looks like a version: after an optional leading `v` it contains a digit and a dot
 * (`1.0`, `v1.2.3`, `ubuntu22.04`; not `123`, `abc.def`, `v`).
 */
export const looksLikeVersion = (text: string): boolean => {
  const body = text.startsWith("v") ? text.slice(1) : text
  return /\d/.test(body) && body.includes(".")
}

const components = (v: Version): ReadonlyArray<number> => [v.major, v.minor, v.patch]

/**
 * Compares two versions on the components both of them wrote (`1.33` vs `1.33.9` → 0); negative, zero or positive.
 */
export const compareVersions = (a: Version, b: Version): number => {
  const depth = Math.min(a.precision, b.precision)
  const left = components(a)
  const right = components(b)
  for (let i = 0; i < depth; i++) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0)
    if (diff !== 0) return Math.sign(diff)
  }
  return 0
}

/** True when the versions are equal on all three components, missing ones counting as 0 (`1.33` ≠ `1.33.5`). */
export const versionsEqual = (a: Version, b: Version): boolean =>
  a.major === b.major && a.minor === b.minor && a.patch === b.patch

/** The outcome of {@link evaluate}: whether the trimmed actual value satisfies the expression, or why not known. */
export type EvaluateResult =
  | { readonly _tag: "Ok"; readonly passed: boolean; readonly actual: string }
  | { readonly _tag: "Error"; readonly message: string; readonly actual: string }

/**
 * Evaluates an expression against an actual value (trimmed first).
 *
 * Details: `exact` is case-sensitive string equality (even for versions); `==`/`!=` compare versions on all three
 * components when the value looks like a version and both sides parse, strings otherwise; `>=`, `<=`, `>`, `<`
 * require both sides to parse as versions and compare precision-aware (`> 1.30` vs `1.30.0` is false).
 */
export const evaluate = (expression: Expression, actual: string): EvaluateResult => {
  const value = actual.trim()
  const ok = (passed: boolean): EvaluateResult => ({ _tag: "Ok", passed, actual: value })
  const op = expression.operator
  switch (op) {
    case "exact":
      return ok(value === expression.value)
    case "==":
    case "!=": {
      const expected = looksLikeVersion(expression.value) ? parseVersion(expression.value) : undefined
      const got = expected === undefined ? undefined : parseVersion(value)
      const equal = expected !== undefined && got !== undefined
        ? versionsEqual(got, expected)
        : value === expression.value
      return ok(op === "==" ? equal : !equal)
    }
    case ">=":
    case "<=":
    case ">":
    case "<": {
      const expected = parseVersion(expression.value)
      if (expected === undefined) {
        return {
          _tag: "Error",
          message: `cannot parse expected version "${expression.value}" in "${formatExpression(expression)}"`,
          actual: value
        }
      }
      const got = parseVersion(value)
      if (got === undefined) {
        return {
          _tag: "Error",
          message: `cannot parse actual version "${value}" for "${formatExpression(expression)}"`,
          actual: value
        }
      }
      const order = compareVersions(got, expected)
      return ok(op === ">=" ? order >= 0 : op === "<=" ? order <= 0 : op === ">" ? order > 0 : order < 0)
    }
    default:
      return { _tag: "Error", message: `unknown constraint operator "${String(op)}"`, actual: value }
  }
}

/** The measurement types a readiness constraint path may start with (case-sensitive). */
export const MEASUREMENT_TYPES = ["K8s", "GPU", "OS", "SystemD", "NodeTopology"] as const

/** A measurement type. */
export type MeasurementType = (typeof MEASUREMENT_TYPES)[number]

/** A parsed measurement path `{Type}.{Subtype}.{Key}`. */
export interface MeasurementPath {
  readonly type: MeasurementType
  readonly subtype: string
  readonly key: string
}

/** The outcome of {@link parsePath}. */
export type PathResult =
  | { readonly _tag: "Ok"; readonly path: MeasurementPath }
  | { readonly _tag: "Error"; readonly message: string }

const isMeasurementType = (text: string): text is MeasurementType =>
  (MEASUREMENT_TYPES as ReadonlyArray<string>).includes(text)

/**
 * Parses a measurement path such as `K8s.server.version` or `OS.sysctl./proc/sys/kernel/osrelease`.
 *
 * Details: split on the first two dots only, so the key may contain dots and slashes
 * (`SystemD.containerd.service.ActiveState` → subtype `containerd`, key `service.ActiveState`; see
 * {@link extractValue} for how such keys are found). The type is case-sensitive.
 */
export const parsePath = (text: string): PathResult => {
  const shape = `expected {Type}.{Subtype}.{Key}, e.g. "K8s.server.version"`
  if (text.trim() === "") return { _tag: "Error", message: `measurement path cannot be empty; ${shape}` }
  const first = text.indexOf(".")
  const second = first === -1 ? -1 : text.indexOf(".", first + 1)
  if (second === -1) return { _tag: "Error", message: `invalid measurement path "${text}": ${shape}` }
  const type = text.slice(0, first)
  const subtype = text.slice(first + 1, second)
  const key = text.slice(second + 1)
  if (subtype === "" || key === "") {
    return { _tag: "Error", message: `invalid measurement path "${text}": empty subtype or key; ${shape}` }
  }
  if (!isMeasurementType(type)) {
    return {
      _tag: "Error",
      message: `invalid measurement type "${type}" in "${text}": must be one of ${MEASUREMENT_TYPES.join(", ")}`
    }
  }
  return { _tag: "Ok", path: { type, subtype, key } }
}

/** Renders a measurement path as `Type.subtype.key`. */
export const formatPath = (path: MeasurementPath): string => `${path.type}.${path.subtype}.${path.key}`

/** The part of a snapshot that {@link extractValue} reads (`measurements[]` of a `kind: Snapshot` document). */
export interface Measurement {
  readonly type: string
  readonly subtypes?: ReadonlyArray<{ readonly subtype: string; readonly data?: Readonly<Record<string, unknown>> }>
}

/** The outcome of {@link extractValue}. */
export type ExtractResult =
  | { readonly _tag: "Ok"; readonly value: string }
  | { readonly _tag: "Error"; readonly message: string }

/**
 * Looks up a measurement path in snapshot measurements and returns the value as a string.
 *
 * Details: uses the first measurement of the type, then the subtype by name, then `data[key]`. When the literal
 * split finds nothing and the key has dots, dots are moved from the key into the subtype one at a time, so
 * `SystemD.containerd.service.ActiveState` finds subtype `containerd.service`, key `ActiveState`.
 */
export const extractValue = (path: MeasurementPath, measurements: ReadonlyArray<Measurement>): ExtractResult => {
  const where = formatPath(path)
  const measurement = measurements.find((m) => m.type === path.type)
  if (measurement === undefined) {
    return { _tag: "Error", message: `${where}: the snapshot has no ${path.type} measurement` }
  }
  const keyParts = path.key.split(".")
  for (let moved = 0; moved < keyParts.length; moved++) {
    const subtypeName = [path.subtype, ...keyParts.slice(0, moved)].join(".")
    const key = keyParts.slice(moved).join(".")
    const data = measurement.subtypes?.find((s) => s.subtype === subtypeName)?.data
    if (data !== undefined && Object.hasOwn(data, key)) {
      const raw = data[key]
      if (raw === null || raw === undefined || typeof raw === "object") {
        return { _tag: "Error", message: `${where}: the snapshot value is not a scalar` }
      }
      return { _tag: "Ok", value: String(raw) }
    }
  }
  const hasSubtype = measurement.subtypes?.some((s) => s.subtype === path.subtype) ?? false
  return {
    _tag: "Error",
    message: hasSubtype
      ? `${where}: key "${path.key}" not found in ${path.type} subtype "${path.subtype}" of the snapshot`
      : `${where}: subtype "${path.subtype}" not found in the ${path.type} measurement of the snapshot`
  }
}

/** An ordering operator, the only kind a numeric threshold may use. */
export type ThresholdOperator = ">=" | "<=" | ">" | "<"

/** A numeric gate such as `>= 300` (bus bandwidth, GB/s) or `<= 2000` (TTFT p99, ms). */
export interface Threshold {
  readonly operator: ThresholdOperator
  readonly value: number
}

/** The outcome of {@link parseThreshold} and {@link requireDirection}. */
export type ThresholdResult =
  | { readonly _tag: "Ok"; readonly threshold: Threshold }
  | { readonly _tag: "Error"; readonly message: string }

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/**
 * Parses a numeric threshold from an expression or its text (`>= 300`, `<=200.5`, `>=.5`).
 *
 * Details: the operator must be `>=`, `<=`, `>` or `<` and the value a plain finite decimal number.
 * *Gotchas*: stricter than upstream on purpose: units (`>= 5000 tok/s`), doubled operators (`>== 5000`,
 * `>= =5000`) and bare numbers (`5000`) are errors rather than silently reinterpreted.
 */
export const parseThreshold = (input: Expression | string): ThresholdResult => {
  const parsed: ParseResult = typeof input === "string" ? parseExpression(input) : { _tag: "Ok", expression: input }
  if (parsed._tag === "Error") return parsed
  const { operator, value } = parsed.expression
  const text = typeof input === "string" ? input.trim() : formatExpression(parsed.expression)
  if (!isOrdering(operator)) {
    return {
      _tag: "Error",
      message: `threshold "${text}" must start with one of >=, <=, >, < followed by a number (e.g. ">= 300")`
    }
  }
  const number = NUMBER.test(value) ? Number(value) : Number.NaN
  if (!Number.isFinite(number)) {
    return {
      _tag: "Error",
      message: `threshold "${text}": "${value}" is not a plain number; write the operator once, then only digits ` +
        `(e.g. "${operator} 300", no units)`
    }
  }
  return { _tag: "Ok", threshold: { operator, value: number } }
}

/** Renders a threshold as `op value`. */
export const formatThreshold = (t: Threshold): string => `${t.operator} ${t.value}`

/** Which way a metric improves: throughput and bandwidth are higher-is-better, latency is lower-is-better. */
export type Direction = "higher-is-better" | "lower-is-better"

/**
 * Rejects a threshold whose operator points the wrong way for the metric (`<= 50000` for throughput), naming
 * the constraint and the operators that are accepted.
 */
export const requireDirection = (threshold: Threshold, direction: Direction, name: string): ThresholdResult => {
  const wanted: ReadonlyArray<ThresholdOperator> = direction === "higher-is-better" ? [">=", ">"] : ["<=", "<"]
  if (wanted.includes(threshold.operator)) return { _tag: "Ok", threshold }
  const what = direction === "higher-is-better" ? "a minimum (higher is better)" : "a maximum (lower is better)"
  return {
    _tag: "Error",
    message: `constraint "${name}" is "${formatThreshold(threshold)}" but it must be ${what}: use ` +
      `"${wanted[0]} ${threshold.value}" (or "${wanted[1]}")`
  }
}

/** The verdict of {@link judgeThreshold}. */
export interface Judgement {
  readonly passed: boolean
  readonly measured: number
  readonly threshold: Threshold
  readonly tolerance: number
  /** The effective bound after tolerance, compared with the threshold's own operator. */
  readonly limit: number
}

/**
 * Judges a measured value against a threshold with a relative tolerance (a fraction: 0.1 = 10 %).
 *
 * Details: the tolerance always relaxes the gate: for `>=`/`>` the floor is `value − |value|·tol`, for
 * `<=`/`<` the ceiling is `value + |value|·tol`; the operator's strictness is kept at that bound (`> 100` with
 * 10 % passes 90.1, not 90). The bound is rounded to 12 significant digits so binary floating point does not
 * move it (`300 × 0.9` is exactly 270). A NaN measurement never passes.
 * *Gotchas*: `tolerance` is expected in [0, 1); it is not validated here.
 */
export const judgeThreshold = (threshold: Threshold, measured: number, tolerance: number): Judgement => {
  const slack = Math.abs(threshold.value) * tolerance
  const raw = threshold.operator === ">=" || threshold.operator === ">"
    ? threshold.value - slack
    : threshold.value + slack
  const limit = Number(raw.toPrecision(12))
  const passed = threshold.operator === ">="
    ? measured >= limit
    : threshold.operator === ">"
    ? measured > limit
    : threshold.operator === "<="
    ? measured <= limit
    : measured < limit
  return { passed, measured, threshold, tolerance, limit }
}
