/**
 * Label and field selectors as a real API server parses and applies them: the grammar and error texts of
 * `k8s.io/apimachinery` `labels.Parse` and `fields.ParseSelector`, and the selectable fields of the built-in kinds.
 */
import { badRequest } from "./errors.ts"
import type { KubeObject, ResourceType } from "./types.ts"

/** One requirement of a label selector. `gt`/`lt` are the integer comparisons real servers also accept. */
export type LabelRequirement = {
  key: string
  operator: "=" | "==" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt"
  values: string[]
}

/** One `field=value`, `field==value` or `field!=value` term of a field selector (value unescaped). */
export type FieldRequirement = { field: string; operator: "=" | "==" | "!="; value: string }

// ---------------------------------------------------------------------------------------------------------------
// Label keys and values (k8s.io/apimachinery/pkg/api/validate/content)

const LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
const LABEL_VALUE_FMT = `(${LABEL_KEY_FMT})?`
const DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`
const labelKeyPattern = new RegExp(`^${LABEL_KEY_FMT}$`)
const labelValuePattern = new RegExp(`^${LABEL_VALUE_FMT}$`)
const subdomainPattern = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`)

const regexError = (message: string, pattern: string, ...examples: Array<string>): string =>
  `${message} (e.g. ${examples.map((example) => `'${example}', `).join(" or ")}regex used for validation is '${pattern}')`
const maxLenError = (length: number) => `must be no more than ${length} bytes`
const bytes = (text: string) => Buffer.byteLength(text, "utf8")

const LABEL_KEY_MESSAGE = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"

/** The reasons `key` is not a valid label key (empty when it is). */
export const labelKeyErrors = (key: string): Array<string> => {
  const errors: Array<string> = []
  const parts = key.split("/")
  let name: string
  if (parts.length === 1) {
    name = parts[0]!
  } else if (parts.length === 2) {
    const prefix = parts[0]!
    name = parts[1]!
    if (prefix === "") errors.push("prefix part must be non-empty")
    else {
      if (bytes(prefix) > 253) errors.push(`prefix part ${maxLenError(253)}`)
      if (!subdomainPattern.test(prefix)) {
        errors.push(
          `prefix part ${regexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", DNS1123_SUBDOMAIN_FMT, "example.com")}`
        )
      }
    }
  } else {
    return [
      `a valid label key ${regexError(LABEL_KEY_MESSAGE, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`
    ]
  }
  if (name === "") errors.push("name part must be non-empty")
  else if (bytes(name) > 63) errors.push(`name part ${maxLenError(63)}`)
  if (!labelKeyPattern.test(name)) errors.push(`name part ${regexError(LABEL_KEY_MESSAGE, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")}`)
  return errors
}

/** The reasons `value` is not a valid label value (empty when it is). */
export const labelValueErrors = (value: string): Array<string> => {
  const errors: Array<string> = []
  if (bytes(value) > 63) errors.push(maxLenError(63))
  if (!labelValuePattern.test(value)) {
    errors.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE_FMT,
        "MyValue",
        "my_value",
        "12345"
      )
    )
  }
  return errors
}

/** `field: Invalid value: "value": detail`, as `field.Invalid(...).Error()` prints it. */
const invalidValue = (field: string, value: string, detail: string) => `${field}: Invalid value: ${JSON.stringify(value)}: ${detail}`

/** How `utilerrors.NewAggregate(...).Error()` prints several messages. */
const aggregate = (messages: ReadonlyArray<string>): string => {
  const unique = [...new Set(messages)]
  return unique.length === 1 ? unique[0]! : `[${unique.join(", ")}]`
}

// ---------------------------------------------------------------------------------------------------------------
// Label selector lexer and parser (k8s.io/apimachinery/pkg/labels/selector.go)

type Token =
  | "error" | "end" | "closedPar" | "comma" | "doesNotExist" | "doubleEquals" | "equals" | "greaterThan"
  | "identifier" | "in" | "lessThan" | "notEquals" | "notIn" | "openPar"

const LITERALS: ReadonlyMap<string, Token> = new Map<string, Token>([
  [")", "closedPar"], [",", "comma"], ["!", "doesNotExist"], ["==", "doubleEquals"], ["=", "equals"], [">", "greaterThan"],
  ["in", "in"], ["<", "lessThan"], ["!=", "notEquals"], ["notin", "notIn"], ["(", "openPar"]
])

const isWhitespace = (ch: string) => ch === " " || ch === "\t" || ch === "\r" || ch === "\n"
const isSpecial = (ch: string) => "=!(),><".includes(ch)

type Item = { token: Token; literal: string }

const lex = (text: string): Array<Item> => {
  const items: Array<Item> = []
  let pos = 0
  for (;;) {
    while (pos < text.length && isWhitespace(text[pos]!)) pos++
    if (pos >= text.length) {
      items.push({ token: "end", literal: "" })
      return items
    }
    if (isSpecial(text[pos]!)) {
      let buffer = ""
      let last: Item | undefined
      while (pos < text.length && isSpecial(text[pos]!)) {
        buffer += text[pos]!
        const token = LITERALS.get(buffer)
        if (token !== undefined) last = { token, literal: buffer }
        else if (last !== undefined) break
        pos++
      }
      items.push(last ?? { token: "error", literal: `error expected: keyword found '${buffer}'` })
      continue
    }
    let buffer = ""
    while (pos < text.length && !isSpecial(text[pos]!) && !isWhitespace(text[pos]!)) buffer += text[pos++]!
    const keyword = LITERALS.get(buffer)
    items.push({ token: keyword ?? "identifier", literal: buffer })
  }
}

class SelectorSyntaxError extends Error {}

class LabelParser {
  private readonly items: Array<Item>
  private position = 0

  constructor(text: string) {
    this.items = lex(text)
  }

  private lookahead(values: boolean): Item {
    return asValue(this.items[this.position]!, values)
  }

  private consume(values: boolean): Item {
    return asValue(this.items[this.position++]!, values)
  }

  parse(): Array<LabelRequirement> {
    const requirements: Array<LabelRequirement> = []
    for (;;) {
      const { token, literal } = this.lookahead(true)
      if (token === "identifier" || token === "doesNotExist") {
        try {
          requirements.push(this.requirement())
        } catch (error) {
          if (error instanceof SelectorSyntaxError) throw new SelectorSyntaxError(`unable to parse requirement: ${error.message}`)
          throw error
        }
        const next = this.consume(true)
        if (next.token === "end") return requirements
        if (next.token === "comma") {
          const after = this.lookahead(true)
          if (after.token !== "identifier" && after.token !== "doesNotExist") {
            throw new SelectorSyntaxError(`found '${after.literal}', expected: identifier after ','`)
          }
          continue
        }
        throw new SelectorSyntaxError(`found '${next.literal}', expected: ',' or 'end of string'`)
      }
      if (token === "end") return requirements
      throw new SelectorSyntaxError(`found '${literal}', expected: !, identifier, or 'end of string'`)
    }
  }

  private requirement(): LabelRequirement {
    let operator: LabelRequirement["operator"] | undefined
    let item = this.consume(true)
    if (item.token === "doesNotExist") {
      operator = "!"
      item = this.consume(true)
    }
    if (item.token !== "identifier") throw new SelectorSyntaxError(`found '${item.literal}', expected: identifier`)
    const key = item.literal
    const keyErrors = labelKeyErrors(key)
    if (keyErrors.length > 0) throw new SelectorSyntaxError(invalidValue("<nil>", key, keyErrors.join("; ")))
    const ahead = this.lookahead(true).token
    if ((ahead === "end" || ahead === "comma") && operator === undefined) operator = "exists"
    if (operator === "exists" || operator === "!") return { key, operator, values: [] }

    const op = this.consume(false)
    const binary: Partial<Record<Token, LabelRequirement["operator"]>> = {
      in: "in", equals: "=", doubleEquals: "==", greaterThan: "gt", lessThan: "lt", notIn: "notin", notEquals: "!="
    }
    operator = binary[op.token]
    if (operator === undefined) throw new SelectorSyntaxError(`found '${op.literal}', expected: in, notin, =, ==, !=, gt, lt`)
    const values = operator === "in" || operator === "notin" ? this.setValues() : this.exactValue()
    return newRequirement(key, operator, [...values].sort())
  }

  private setValues(): Set<string> {
    const open = this.consume(true)
    if (open.token !== "openPar") throw new SelectorSyntaxError(`found '${open.literal}' expected: '('`)
    const { token, literal } = this.lookahead(true)
    if (token === "identifier" || token === "comma") {
      const values = this.identifiers()
      if (this.consume(true).token !== "closedPar") throw new SelectorSyntaxError(`found '${literal}', expected: ')'`)
      return values
    }
    if (token === "closedPar") {
      this.consume(true)
      return new Set([""])
    }
    throw new SelectorSyntaxError(`found '${literal}', expected: ',', ')' or identifier`)
  }

  private identifiers(): Set<string> {
    const values = new Set<string>()
    for (;;) {
      const { token, literal } = this.consume(true)
      if (token === "identifier") {
        values.add(literal)
        const next = this.lookahead(true)
        if (next.token === "comma") continue
        if (next.token === "closedPar") return values
        throw new SelectorSyntaxError(`found '${next.literal}', expected: ',' or ')'`)
      }
      if (token === "comma") {
        if (values.size === 0) values.add("")
        const next = this.lookahead(true).token
        if (next === "closedPar") {
          values.add("")
          return values
        }
        if (next === "comma") values.add("")
        continue
      }
      throw new SelectorSyntaxError(`found '${literal}', expected: ',', or identifier`)
    }
  }

  private exactValue(): Set<string> {
    const ahead = this.lookahead(true).token
    if (ahead === "end" || ahead === "comma") return new Set([""])
    const { token, literal } = this.consume(true)
    if (token === "identifier") return new Set([literal])
    throw new SelectorSyntaxError(`found '${literal}', expected: identifier`)
  }
}

const asValue = (item: Item, values: boolean): Item =>
  values && (item.token === "in" || item.token === "notIn") ? { token: "identifier", literal: item.literal } : item

const newRequirement = (key: string, operator: LabelRequirement["operator"], values: Array<string>): LabelRequirement => {
  const errors: Array<string> = []
  if (operator === "gt" || operator === "lt") {
    values.forEach((value, index) => {
      if (!/^[+-]?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
        errors.push(invalidValue(`values[${index}]`, value, "for 'Gt', 'Lt' operators, the value must be an integer"))
      }
    })
  }
  values.forEach((value, index) => {
    const valueErrors = labelValueErrors(value)
    if (valueErrors.length > 0) errors.push(invalidValue(`values[${index}][${key}]`, value, valueErrors.join("; ")))
  })
  if (errors.length > 0) throw new SelectorSyntaxError(aggregate(errors))
  return { key, operator, values }
}

/**
 * Parses a label selector like `labels.Parse`: requirements sorted by key, set values sorted and de-duplicated.
 * Throws a 400 BadRequest `StatusError` with the real parser's message on bad syntax, keys or values.
 */
export const parseLabelSelector = (text: string): LabelRequirement[] => {
  try {
    return new LabelParser(text).parse().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  } catch (error) {
    if (error instanceof SelectorSyntaxError) throw badRequest(error.message)
    throw error
  }
}

/** Whether `labels` satisfy every requirement; `!=` and `notin` match objects without the key. */
export const matchesLabels = (requirements: LabelRequirement[], labels: Record<string, string> | undefined): boolean =>
  requirements.every((requirement) => {
    const has = labels !== undefined && Object.hasOwn(labels, requirement.key)
    const value = has ? labels[requirement.key]! : undefined
    switch (requirement.operator) {
      case "=":
      case "==":
      case "in":
        return value !== undefined && requirement.values.includes(value)
      case "!=":
      case "notin":
        return value === undefined || !requirement.values.includes(value)
      case "exists":
        return has
      case "!":
        return !has
      case "gt":
      case "lt": {
        if (value === undefined || !/^[+-]?\d+$/.test(value) || requirement.values.length !== 1) return false
        const actual = BigInt(value)
        const bound = BigInt(requirement.values[0]!)
        return requirement.operator === "gt" ? actual > bound : actual < bound
      }
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// Field selectors (k8s.io/apimachinery/pkg/fields/selector.go)

const splitTerms = (text: string): Array<string> => {
  if (text === "") return []
  const terms: Array<string> = []
  let start = 0
  let escaped = false
  for (let index = 0; index < text.length; index++) {
    const ch = text[index]!
    if (escaped) escaped = false
    else if (ch === "\\") escaped = true
    else if (ch === ",") {
      terms.push(text.slice(start, index))
      start = index + 1
    }
  }
  terms.push(text.slice(start))
  return terms
}

const TERM_OPERATORS = ["!=", "==", "="] as const

const unescapeValue = (value: string): string => {
  if (!/[\\,=]/.test(value)) return value
  let out = ""
  let escaped = false
  for (const ch of value) {
    if (escaped) {
      if (ch !== "\\" && ch !== "," && ch !== "=") throw badRequest(`invalid field selector: invalid escape sequence: \\${ch}`)
      out += ch
      escaped = false
    } else if (ch === "\\") escaped = true
    else if (ch === "," || ch === "=") throw badRequest(`invalid field selector: unescaped character in value: ${ch.codePointAt(0)}`)
    else out += ch
  }
  if (escaped) throw badRequest("invalid field selector: invalid escape sequence: \\")
  return out
}

/**
 * Parses a field selector like `fields.ParseSelector`: comma-separated terms (sorted), `\,` `\=` `\\` escapes in
 * values. Throws 400 BadRequest with the real messages on malformed terms or escapes.
 */
export const parseFieldSelector = (text: string): FieldRequirement[] => {
  const requirements: Array<FieldRequirement> = []
  for (const term of splitTerms(text).sort()) {
    if (term === "") continue
    let split: FieldRequirement | undefined
    for (let index = 0; index < term.length && split === undefined; index++) {
      const operator = TERM_OPERATORS.find((candidate) => term.startsWith(candidate, index))
      if (operator !== undefined) split = { field: term.slice(0, index), operator, value: term.slice(index + operator.length) }
    }
    if (split === undefined) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`)
    requirements.push({ ...split, value: unescapeValue(split.value) })
  }
  return requirements
}

/** Resource types whose field label conversion does not accept `metadata.namespace` (cluster-scoped core kinds). */
const WITHOUT_NAMESPACE_FIELD = new Set(["/namespaces", "/nodes"])

/** Field labels a type accepts that its stored field set names differently (`spec.host` is the old `spec.nodeName`). */
const FIELD_ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "/pods": { "spec.host": "spec.nodeName" }
}

/**
 * Throws 400 BadRequest `field label not supported: <field>` for a field the type's field label conversion rejects:
 * anything but `metadata.name`, `metadata.namespace` (not for namespaces and nodes) and the type's `fieldSelectors`.
 */
export const checkFieldSelector = (requirements: FieldRequirement[], type: ResourceType): void => {
  const key = `${type.group}/${type.resource}`
  for (const { field } of requirements) {
    if (field === "metadata.name") continue
    if (field === "metadata.namespace" && !WITHOUT_NAMESPACE_FIELD.has(key)) continue
    if (type.fieldSelectors.includes(field)) continue
    if (FIELD_ALIASES[key]?.[field] !== undefined) continue
    throw badRequest(`field label not supported: ${field}`)
  }
}

type FieldSource = { path?: string; value?: (object: KubeObject) => unknown; zero?: string }

/** Fields whose selectable value is not simply the JSON at the dotted path, or has a Go zero value when absent. */
const FIELD_SOURCES: Readonly<Record<string, Readonly<Record<string, FieldSource>>>> = {
  "/Pod": {
    "spec.host": { path: "spec.nodeName" },
    "spec.hostNetwork": { zero: "false" },
    "status.podIP": {
      value: (object) => {
        const status = object["status"] as { podIP?: unknown; podIPs?: Array<{ ip?: unknown }> } | undefined
        return status?.podIPs?.[0]?.ip ?? status?.podIP
      }
    }
  },
  "/Node": { "spec.unschedulable": { zero: "false" } },
  "/Event": {
    reportingComponent: { path: "reportingComponent" },
    source: {
      value: (object) => {
        const component = (object["source"] as { component?: unknown } | undefined)?.component
        return component === undefined || component === "" ? object["reportingComponent"] : component
      }
    }
  },
  "batch/Job": { "status.successful": { path: "status.succeeded", zero: "0" } }
}

const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "")

const atPath = (object: unknown, path: string): unknown => {
  let current = object
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object" || Array.isArray(current)) return undefined
    current = (current as Record<string, unknown>)[part]
  }
  return current
}

const stringify = (value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value)
  return undefined
}

/**
 * The value a field selector compares for `field` of `object`: the string, number or boolean at the dotted path
 * (stringified), the kind-specific value real servers index (a pod's first `podIPs`, an event's `source.component`,
 * a job's `status.succeeded` as `status.successful`), and Go zero values (`false`, `0`) where real fields are
 * non-pointer; `""` when absent.
 */
export const fieldValue = (object: KubeObject, field: string): string => {
  const source = FIELD_SOURCES[`${groupOf(object.apiVersion ?? "")}/${object.kind}`]?.[field]
  const raw = source?.value !== undefined ? source.value(object) : atPath(object, source?.path ?? field)
  return stringify(raw) ?? source?.zero ?? ""
}

/** Whether `object` satisfies every field requirement. */
export const matchesFields = (requirements: FieldRequirement[], object: KubeObject): boolean =>
  requirements.every((requirement) => {
    const actual = fieldValue(object, requirement.field)
    return requirement.operator === "!=" ? actual !== requirement.value : actual === requirement.value
  })
