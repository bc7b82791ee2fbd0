/**
 * Field errors and format checks of the Kubernetes 1.35 validation code, with their exact texts:
 * `k8s.io/apimachinery/pkg/util/validation/field/errors.go` (causes), `.../api/validate/content/kube.go` and `dns.go`
 * (label keys and values, which count bytes), `.../util/validation/validation.go` (DNS labels, config keys and ports,
 * which count characters).
 */
import type { FieldCause } from "./schema-types.ts"

/** A value that prints as given (Go `%#v` of a struct, rendered by the caller). */
export class GoLiteral {
  readonly text: string

  constructor(text: string) {
    this.text = text
  }
}

/** Go `strconv.Quote` of a string. */
export const goQuote = (value: string): string => {
  let out = '"'
  for (const char of value) {
    const code = char.codePointAt(0)!
    if (char === '"' || char === "\\") out += `\\${char}`
    else if (char === "\n") out += "\\n"
    else if (char === "\t") out += "\\t"
    else if (char === "\r") out += "\\r"
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`
    else out += char
  }
  return `${out}"`
}

/** How `field.Error.ErrorBody` prints a bad value: `%q` for strings, `%v` for numbers and booleans, `null` for nil. */
export const goValue = (value: unknown): string => {
  if (value instanceof GoLiteral) return value.text
  if (value === null || value === undefined) return "null"
  if (typeof value === "string") return goQuote(value)
  if (typeof value === "number" || typeof value === "boolean") return String(value)
  return JSON.stringify(value)
}

/** Go `%#v` of a `[]string`. */
export const goStringSlice = (values: ReadonlyArray<string> | undefined): GoLiteral =>
  new GoLiteral(values === undefined ? "[]string(nil)" : `[]string{${values.map(goQuote).join(", ")}}`)

/** A struct value of Go type `type`, rendered with its JSON content (the simulator's stand-in for `%#v`). */
export const goStruct = (type: string, value: unknown): GoLiteral => {
  const json = JSON.stringify(value ?? {})
  return new GoLiteral(json.startsWith("{") ? `${type}${json}` : `${type}{${json}}`)
}

export const required = (field: string, detail = ""): FieldCause => ({
  reason: "FieldValueRequired",
  message: detail === "" ? "Required value" : `Required value: ${detail}`,
  field
})

export const invalid = (field: string, value: unknown, detail: string): FieldCause => ({
  reason: "FieldValueInvalid",
  message: `Invalid value: ${goValue(value)}${detail === "" ? "" : `: ${detail}`}`,
  field
})

export const notSupported = (field: string, value: unknown, supported: ReadonlyArray<string>): FieldCause => ({
  reason: "FieldValueNotSupported",
  message: `Unsupported value: ${goValue(value)}${supported.length === 0 ? "" : `: supported values: ${supported.map(goQuote).join(", ")}`}`,
  field
})

export const forbidden = (field: string, detail: string): FieldCause => ({ reason: "FieldValueForbidden", message: `Forbidden: ${detail}`, field })

export const duplicate = (field: string, value: unknown): FieldCause => ({ reason: "FieldValueDuplicate", message: `Duplicate value: ${goValue(value)}`, field })

export const notFound = (field: string, value: unknown): FieldCause => ({ reason: "FieldValueNotFound", message: `Not found: ${goValue(value)}`, field })

/** `field.TooLong`: the value is left out of the message. */
export const tooLong = (field: string, max: number): FieldCause => ({
  reason: "FieldValueTooLong",
  message: `Too long: may not be more than ${max} ${max === 1 ? "byte" : "bytes"}`,
  field
})

const bytes = (value: string) => Buffer.byteLength(value, "utf8")

/** `RegexError`: the message, the examples and the regular expression. */
export const regexError = (message: string, format: string, ...examples: Array<string>): string =>
  examples.length === 0
    ? `${message} (regex used for validation is '${format}')`
    : `${message} (e.g. ${examples.map((example, index) => `${index > 0 ? " or " : ""}'${example}', `).join("")}regex used for validation is '${format}')`

const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`
const DNS1123_LABEL_RE = new RegExp(`^${DNS1123_LABEL}$`)
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN}$`)
const DNS1123_LABEL_MESSAGE = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
const DNS1123_SUBDOMAIN_MESSAGE = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"

/** `validation.IsDNS1123Label` (util/validation: lengths in characters). */
export const dns1123LabelErrors = (value: string): Array<string> => {
  const errors: Array<string> = []
  if (bytes(value) > 63) errors.push("must be no more than 63 characters")
  if (!DNS1123_LABEL_RE.test(value)) {
    errors.push(DNS1123_SUBDOMAIN_RE.test(value) ? "must not contain dots" : regexError(DNS1123_LABEL_MESSAGE, DNS1123_LABEL, "my-name", "123-abc"))
  }
  return errors
}

/** `validation.IsDNS1123Subdomain`; `unit` is `characters` (util/validation) or `bytes` (content). */
export const dns1123SubdomainErrors = (value: string, unit: "characters" | "bytes" = "characters"): Array<string> => {
  const errors: Array<string> = []
  if (bytes(value) > 253) errors.push(`must be no more than 253 ${unit}`)
  if (!DNS1123_SUBDOMAIN_RE.test(value)) errors.push(regexError(DNS1123_SUBDOMAIN_MESSAGE, DNS1123_SUBDOMAIN, "example.com"))
  return errors
}

const LABEL_KEY = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
const LABEL_KEY_RE = new RegExp(`^${LABEL_KEY}$`)
const LABEL_KEY_MESSAGE = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
const LABEL_VALUE = `(${LABEL_KEY})?`
const LABEL_VALUE_RE = new RegExp(`^${LABEL_VALUE}$`)
const LABEL_VALUE_MESSAGE = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"

/** `content.IsLabelKey` (also `IsQualifiedName`), Kubernetes 1.35. */
export const labelKeyErrors = (value: string): Array<string> => {
  const errors: Array<string> = []
  const parts = value.split("/")
  if (parts.length > 2) {
    return [`a valid label key ${regexError(LABEL_KEY_MESSAGE, LABEL_KEY, "MyName", "my.name", "123-abc")} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`]
  }
  const name = parts.length === 2 ? parts[1]! : parts[0]!
  if (parts.length === 2) {
    const prefix = parts[0]!
    if (prefix === "") errors.push("prefix part must be non-empty")
    else errors.push(...dns1123SubdomainErrors(prefix, "bytes").map((message) => `prefix part ${message}`))
  }
  if (name === "") errors.push("name part must be non-empty")
  else if (bytes(name) > 63) errors.push("name part must be no more than 63 bytes")
  if (!LABEL_KEY_RE.test(name)) errors.push(`name part ${regexError(LABEL_KEY_MESSAGE, LABEL_KEY, "MyName", "my.name", "123-abc")}`)
  return errors
}

/** `content.IsLabelValue`. */
export const labelValueErrors = (value: string): Array<string> => {
  const errors: Array<string> = []
  if (bytes(value) > 63) errors.push("must be no more than 63 bytes")
  if (!LABEL_VALUE_RE.test(value)) errors.push(regexError(LABEL_VALUE_MESSAGE, LABEL_VALUE, "MyValue", "my_value", "12345"))
  return errors
}

const CONFIG_KEY = "[-._a-zA-Z0-9]+"
const CONFIG_KEY_RE = new RegExp(`^${CONFIG_KEY}$`)

/** `validation.IsConfigMapKey` (ConfigMap and Secret keys). */
export const configMapKeyErrors = (value: string): Array<string> => {
  const errors: Array<string> = []
  if (bytes(value) > 253) errors.push("must be no more than 253 characters")
  if (!CONFIG_KEY_RE.test(value)) {
    errors.push(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", CONFIG_KEY, "key.name", "KEY_NAME", "key-name"))
  }
  if (value === ".") errors.push("must not be '.'")
  else if (value === "..") errors.push("must not be '..'")
  else if (value.startsWith("..")) errors.push("must not start with '..'")
  return errors
}

/** `validation.IsValidPortNum`. */
export const portNumberErrors = (port: number): Array<string> => (port >= 1 && port <= 65535 ? [] : ["must be between 1 and 65535, inclusive"])

/** `validation.IsValidPortName`. */
export const portNameErrors = (name: string): Array<string> => {
  const errors: Array<string> = []
  if (bytes(name) > 15) errors.push("must be no more than 15 characters")
  if (!/^[-a-z0-9]+$/.test(name)) errors.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
  if (!/[a-z]/.test(name)) errors.push("must contain at least one letter (a-z)")
  if (name.includes("--")) errors.push("must not contain consecutive hyphens")
  if (name.startsWith("-") || name.endsWith("-")) errors.push("must not begin or end with a hyphen")
  return errors
}

/** `ValidateLabels`: every key and value, all reported at `field` (the map, not the key). */
export const validateLabels = (labels: unknown, field: string): Array<FieldCause> => {
  if (!isRecord(labels)) return []
  const causes: Array<FieldCause> = []
  for (const [key, value] of Object.entries(labels)) {
    for (const message of labelKeyErrors(key)) causes.push(invalid(field, key, message))
    if (typeof value === "string") for (const message of labelValueErrors(value)) causes.push(invalid(field, value, message))
  }
  return causes
}

/** The most bytes all annotations of an object may take together (`TotalAnnotationSizeLimitB`). */
export const ANNOTATIONS_SIZE_LIMIT = 256 * 1024

/** `ValidateAnnotations`: keys are qualified names (case-insensitive) and all of them fit in 256 KiB. */
export const validateAnnotations = (annotations: unknown, field: string): Array<FieldCause> => {
  if (!isRecord(annotations)) return []
  const causes: Array<FieldCause> = []
  let size = 0
  for (const [key, value] of Object.entries(annotations)) {
    for (const message of labelKeyErrors(key.toLowerCase())) causes.push(invalid(field, key, message))
    size += bytes(key) + (typeof value === "string" ? bytes(value) : 0)
  }
  if (size > ANNOTATIONS_SIZE_LIMIT) causes.push(tooLong(field, ANNOTATIONS_SIZE_LIMIT))
  return causes
}

/** `ValidateLabelSelector` of a `metav1.LabelSelector` at `field`. */
export const validateLabelSelector = (selector: unknown, field: string): Array<FieldCause> => {
  if (!isRecord(selector)) return []
  const causes = validateLabels(selector["matchLabels"], `${field}.matchLabels`)
  const expressions = selector["matchExpressions"]
  if (Array.isArray(expressions)) {
    expressions.forEach((expression: unknown, index) => {
      if (!isRecord(expression)) return
      const at = `${field}.matchExpressions[${index}]`
      const operator = expression["operator"]
      const values = Array.isArray(expression["values"]) ? (expression["values"] as Array<unknown>) : []
      if (operator === "In" || operator === "NotIn") {
        if (values.length === 0) causes.push(required(`${at}.values`, "must be specified when `operator` is 'In' or 'NotIn'"))
      } else if (operator === "Exists" || operator === "DoesNotExist") {
        if (values.length > 0) causes.push(forbidden(`${at}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
      } else {
        causes.push(invalid(`${at}.operator`, operator ?? "", "not a valid selector operator"))
      }
      const key = typeof expression["key"] === "string" ? expression["key"] : ""
      for (const message of labelKeyErrors(key)) causes.push(invalid(`${at}.key`, key, message))
      values.forEach((value, valueIndex) => {
        if (typeof value === "string") for (const message of labelValueErrors(value)) causes.push(invalid(`${at}.values[${valueIndex}]`, value, message))
      })
    })
  }
  return causes
}

export const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value)

/** A string field, `""` when missing (Go's zero value). */
export const str = (object: unknown, key: string): string => {
  const value = isRecord(object) ? object[key] : undefined
  return typeof value === "string" ? value : ""
}

/** A list field, `[]` when missing. */
export const list = (object: unknown, key: string): Array<unknown> => {
  const value = isRecord(object) ? object[key] : undefined
  return Array.isArray(value) ? value : []
}

/** An object field, `undefined` when missing. */
export const obj = (object: unknown, key: string): Record<string, unknown> | undefined => {
  const value = isRecord(object) ? object[key] : undefined
  return isRecord(value) ? value : undefined
}

/** A number field, `undefined` when missing. */
export const num = (object: unknown, key: string): number | undefined => {
  const value = isRecord(object) ? object[key] : undefined
  return typeof value === "number" ? value : undefined
}
