/**
 * What apiextensions-apiserver does with a custom resource body on create and update, as pure functions: pruning of
 * fields the schema does not declare (`structuralpruning.PruneWithOptions`), removal of non-nullable nulls and
 * defaulting (`structuraldefaulting`), OpenAPI v3 validation with kube-openapi's rules and messages, the checks of
 * embedded resources and of `x-kubernetes-list-type` set/map uniqueness, and the CEL rules of
 * `x-kubernetes-validations` (through `cel.ts`) — in that order, with the real field paths and messages, and with
 * update ratcheting (errors in values equal to the stored ones are dropped, CRDValidationRatcheting being GA).
 */
import { isIPv4, isIPv6 } from "node:net"
import { CelError, CelOptional, type CelValue, compile, fromJson, toRegExp } from "./cel.ts"
import type { FieldCause, SchemaProps, ValidationRule } from "./schema-types.ts"
import type { KubeObject } from "./types.ts"

export interface AdmitResult {
  object: KubeObject
  unknownFields: Array<string>
  causes: Array<FieldCause>
}

type JsonObject = Record<string, unknown>

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === "object" && !Array.isArray(value)

const META_FIELDS = new Set(["apiVersion", "kind", "metadata"])

const propertyOf = (schema: SchemaProps, key: string): SchemaProps | undefined =>
  schema.properties !== undefined && Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined

const additionalOf = (schema: SchemaProps): SchemaProps | undefined =>
  typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined

/** `additionalProperties` is set (a schema or `true`): keys outside `properties` are kept. */
const allowsAdditional = (schema: SchemaProps): boolean =>
  schema.additionalProperties !== undefined && schema.additionalProperties !== false

const deepEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, index) => deepEqual(item, b[index]))
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]))
  }
  return false
}

const children = (schema: SchemaProps): Array<SchemaProps> => [
  ...Object.values(schema.properties ?? {}),
  ...(schema.items === undefined ? [] : [schema.items]),
  ...(typeof schema.additionalProperties === "object" ? [schema.additionalProperties] : [])
]

/** Whether a schema node or any node under it (properties, items, additionalProperties) passes `test`; memoized. */
const subtreeHas = (test: (schema: SchemaProps) => boolean) => {
  const memo = new WeakMap<SchemaProps, boolean>()
  const visit = (schema: SchemaProps): boolean => {
    const known = memo.get(schema)
    if (known !== undefined) return known
    memo.set(schema, false)
    const result = test(schema) || children(schema).some(visit)
    memo.set(schema, result)
    return result
  }
  return visit
}

const hasRules = subtreeHas((schema) => (schema["x-kubernetes-validations"]?.length ?? 0) > 0)
const hasEmbedded = subtreeHas((schema) => schema["x-kubernetes-embedded-resource"] === true)
const hasListTypes = subtreeHas((schema) => schema["x-kubernetes-list-type"] === "set" || schema["x-kubernetes-list-type"] === "map")

const defaultedMemo = new WeakMap<SchemaProps, ReadonlyArray<readonly [string, SchemaProps]>>()

const defaultedProperties = (schema: SchemaProps): ReadonlyArray<readonly [string, SchemaProps]> => {
  let found = defaultedMemo.get(schema)
  if (found === undefined) {
    found = Object.entries(schema.properties ?? {}).filter(([, property]) => property.default !== undefined)
    defaultedMemo.set(schema, found)
  }
  return found
}

const joinKey = (path: string, key: string) => (path === "" ? key : `${path}.${key}`)

const prune = (value: unknown, schema: SchemaProps | undefined, path: string, pruned: Array<string>, resourceRoot: boolean): void => {
  if (schema?.["x-kubernetes-preserve-unknown-fields"] === true) return skipPrune(value, schema, path, pruned, resourceRoot)
  if (Array.isArray(value)) {
    value.forEach((item, index) => prune(item, schema?.items, `${path}[${index}]`, pruned, false))
    return
  }
  if (!isObject(value)) return
  if (schema === undefined) {
    for (const key of Object.keys(value)) {
      pruned.push(joinKey(path, key))
      delete value[key]
    }
    return
  }
  const embedded = resourceRoot || schema["x-kubernetes-embedded-resource"] === true
  for (const [key, item] of Object.entries(value)) {
    if (embedded && META_FIELDS.has(key)) continue
    const property = propertyOf(schema, key)
    if (property !== undefined) prune(item, property, joinKey(path, key), pruned, false)
    else if (allowsAdditional(schema)) prune(item, additionalOf(schema), joinKey(path, key), pruned, false)
    else {
      if (!META_FIELDS.has(key) || path !== "") pruned.push(joinKey(path, key))
      delete value[key]
    }
  }
}

const skipPrune = (value: unknown, schema: SchemaProps | undefined, path: string, pruned: Array<string>, resourceRoot: boolean): void => {
  if (schema === undefined) return
  if (Array.isArray(value)) {
    value.forEach((item, index) => skipPrune(item, schema.items, `${path}[${index}]`, pruned, false))
    return
  }
  if (!isObject(value)) return
  const embedded = resourceRoot || schema["x-kubernetes-embedded-resource"] === true
  for (const [key, item] of Object.entries(value)) {
    if (embedded && META_FIELDS.has(key)) continue
    const property = propertyOf(schema, key)
    if (property !== undefined) prune(item, property, joinKey(path, key), pruned, false)
    else if (allowsAdditional(schema)) prune(item, additionalOf(schema), joinKey(path, key), pruned, false)
  }
}

const isNonNullableNull = (value: unknown, schema: SchemaProps | undefined): schema is SchemaProps =>
  value === null && schema !== undefined && schema.nullable !== true

/** PruneNonNullableNullsWithoutDefaults, then Default, node by node (the two passes touch disjoint cases). */
const applyDefaults = (value: unknown, schema: SchemaProps | undefined, resourceRoot: boolean): void => {
  if (schema === undefined) return
  if (Array.isArray(value)) {
    const items = schema.items
    if (items === undefined) return
    value.forEach((item, index) => {
      if (isNonNullableNull(item, items) && items.default !== undefined) value[index] = structuredClone(items.default)
      else applyDefaults(item, items, false)
    })
    return
  }
  if (!isObject(value)) return
  const additional = additionalOf(schema)
  for (const [key, item] of Object.entries(value)) {
    if (resourceRoot && META_FIELDS.has(key)) continue
    const child = propertyOf(schema, key) ?? additional
    if (isNonNullableNull(item, child) && child.default === undefined) delete value[key]
  }
  for (const [key, property] of defaultedProperties(schema)) {
    if (!Object.hasOwn(value, key) || isNonNullableNull(value[key], property)) value[key] = structuredClone(property.default)
  }
  for (const [key, item] of Object.entries(value)) {
    const property = propertyOf(schema, key)
    if (property !== undefined) applyDefaults(item, property, false)
    else if (additional !== undefined) {
      if (isNonNullableNull(item, additional) && additional.default !== undefined) value[key] = structuredClone(additional.default)
      else applyDefaults(item, additional, false)
    }
  }
}

// Go formatting of values in messages (k8s.io/apimachinery/pkg/util/validation/field.ErrorBody, fmt's %v and %q).

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u
const GO_ESCAPES: Readonly<Record<string, string>> = { '"': '\\"', "\\": "\\\\", "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v" }

const hex = (code: number, digits: number) => code.toString(16).padStart(digits, "0")

/** `strconv.Quote`. */
const goQuote = (text: string): string => {
  let out = '"'
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0
    const escape = GO_ESCAPES[char]
    if (escape !== undefined) out += escape
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`
    else if (code < 0x80 || PRINTABLE.test(char)) out += char
    else out += code > 0xffff ? `\\U${hex(code, 8)}` : `\\u${hex(code, 4)}`
  }
  return `${out}"`
}

/** `%v` of a float64: shortest digits, exponent form outside [1e-4, 1e6). */
const goFloat = (value: number): string => {
  if (Number.isNaN(value)) return "NaN"
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf"
  if (value === 0) return Object.is(value, -0) ? "-0" : "0"
  const [mantissa = "", exponentText = "0"] = value.toExponential().split("e")
  const exponent = Number(exponentText)
  if (exponent < -4 || exponent >= 6) return `${mantissa}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`
  return String(value)
}

const goJsonString = (text: string): string => {
  let out = '"'
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0
    if (char === '"' || char === "\\") out += `\\${char}`
    else if (char === "\n") out += "\\n"
    else if (char === "\r") out += "\\r"
    else if (char === "\t") out += "\\t"
    else if (code < 0x20 || char === "<" || char === ">" || char === "&" || code === 0x2028 || code === 0x2029) out += `\\u${hex(code, 4)}`
    else out += char
  }
  return `${out}"`
}

/** `json.Marshal` of a decoded JSON value: sorted keys, HTML-safe escapes. */
const goJson = (value: unknown): string => {
  if (value === null || value === undefined) return "null"
  if (typeof value === "string") return goJsonString(value)
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null"
  if (typeof value === "boolean") return String(value)
  if (Array.isArray(value)) return `[${value.map(goJson).join(",")}]`
  if (isObject(value)) return `{${Object.keys(value).sort().map((key) => `${goJsonString(key)}:${goJson(value[key])}`).join(",")}}`
  return "null"
}

/** A bad value as `field.Error.ErrorBody` prints it: `%q` for strings, `%v` for numbers and booleans, JSON otherwise. */
const badValue = (value: unknown): string => {
  if (typeof value === "string") return goQuote(value)
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : goFloat(value)
  if (typeof value === "boolean") return String(value)
  return goJson(value)
}

// OpenAPI schema validation (k8s.io/kube-openapi/pkg/validation/validate, errors/schema.go), converted to field
// errors as apiextensions-apiserver's kubeOpenAPIResultToFieldErrors does.

interface SchemaError {
  /** kube-openapi's `Error()` text, by which a result drops duplicates. */
  readonly text: string
  readonly cause: FieldCause
}

/** The field of a kube-openapi error: its name without the leading dot; `<nil>` for the root. */
const fieldOfName = (name: string): string => (name === "" || name === "." ? "<nil>" : name.replace(/^\./, ""))

const typeError = (name: string, typeName: string, value: string): SchemaError => {
  const text = `${name} in body must be of type ${typeName}: ${goQuote(value)}`
  return { text, cause: { reason: "FieldValueTypeInvalid", message: `Invalid value: ${goQuote(value)}: ${text}`, field: fieldOfName(name) } }
}

const invalidError = (name: string, value: unknown, text: string): SchemaError =>
  ({ text, cause: { reason: "FieldValueInvalid", message: `Invalid value: ${badValue(value)}: ${text}`, field: fieldOfName(name) } })

const compositeError = (text: string): SchemaError =>
  ({ text, cause: { reason: "FieldValueInvalid", message: `Invalid value: "": ${text}`, field: "<nil>" } })

const tooManyError = (name: string, max: number, actual: number, what: string): SchemaError => ({
  text: `${name} in body should have at most ${max} ${what}`,
  cause: { reason: "FieldValueTooMany", message: `Too many: ${actual}: must have at most ${max} ${max === 1 ? "item" : "items"}`, field: fieldOfName(name) }
})

class SchemaErrors {
  readonly list: Array<SchemaError> = []
  readonly #seen = new Set<string>()

  add(error: SchemaError): void {
    if (this.#seen.has(error.text)) return
    this.#seen.add(error.text)
    this.list.push(error)
  }

  addAll(errors: ReadonlyArray<SchemaError>): void {
    for (const error of errors) this.add(error)
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const isDate = (text: string): boolean => {
  const match = DATE.exec(text)
  if (match === null) return false
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  if (month < 1 || month > 12 || day < 1) return false
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0
  return day <= days
}

const TIME = /^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$/
const isDateTime = (text: string): boolean => {
  if (text.length < 4) return false
  const parts = text.toLowerCase().split("t")
  if (parts.length < 2 || !isDate(parts[0] ?? "")) return false
  const match = TIME.exec(parts[1] ?? "")
  return match !== null && (match[1] ?? "") <= "23" && (match[2] ?? "") <= "59" && (match[3] ?? "") <= "59"
}

const GO_DURATION = /^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$/
const DURATION_UNITS: ReadonlyArray<ReadonlyArray<string>> = [
  ["ns", "nano"], ["us", "µs", "micro"], ["ms", "milli"], ["s", "sec"], ["m", "min"], ["h", "hr", "hour"], ["d", "day"], ["w", "wk", "week"]
]
const isDuration = (text: string): boolean => {
  if (text === "0" || GO_DURATION.test(text)) return true
  for (const match of text.matchAll(/(\d+)\s*([A-Za-zµ]+)/g)) {
    const unit = (match[2] ?? "").trim().toLowerCase()
    if (DURATION_UNITS.some((variants) => variants.some((variant, index) => variant === unit || (index === variants.length - 1 && unit.startsWith(variant))))) return true
  }
  return false
}

const HOSTNAME = /^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9\-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z0-9\-\p{L}]){2,63})$/u
const isHostname = (text: string): boolean =>
  HOSTNAME.test(text) && Buffer.byteLength(text) <= 255 && text.split(".").every((part) => Buffer.byteLength(part) <= 63)

const isCidr = (text: string): boolean => {
  const [address = "", prefix, ...rest] = text.split("/")
  if (prefix === undefined || rest.length > 0 || !/^[0-9]+$/.test(prefix)) return false
  const bits = isIPv4(address) ? 32 : isIPv6(address) ? 128 : 0
  return bits > 0 && Number(prefix) <= bits
}

const luhn = (digits: string): boolean => {
  let sum = 0
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index])
    if (index % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2
    sum += digit
  }
  return sum % 10 === 0
}

const isIsbn10 = (text: string): boolean => {
  const clean = text.replace(/[\s-]/g, "")
  if (!/^(?:[0-9]{9}X|[0-9]{10})$/.test(clean)) return false
  let sum = 0
  for (let index = 0; index < 10; index++) sum += (10 - index) * (clean[index] === "X" ? 10 : Number(clean[index]))
  return sum % 11 === 0
}

const isIsbn13 = (text: string): boolean => {
  const clean = text.replace(/[\s-]/g, "")
  if (!/^[0-9]{13}$/.test(clean)) return false
  let sum = 0
  for (let index = 0; index < 13; index++) sum += Number(clean[index]) * (index % 2 === 0 ? 1 : 3)
  return sum % 10 === 0
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const RGB_PART = "\\s*(0|[1-9]\\d?|1\\d\\d?|2[0-4]\\d|25[0-5])\\s*"
const RGB = new RegExp(`^rgb\\(${RGB_PART},${RGB_PART},${RGB_PART}\\)$`)
const CREDIT_CARD = /^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})$/

/**
 * The string formats a CRD schema may use (apiextensions-apiserver `supportedVersionedFormats` at compatibility
 * version 1.34, names without dashes) with strfmt's checks; any other format (`int32`, `int64`, `quantity`, …) is
 * stripped by `StripUnsupportedFormatsPostProcess` and not enforced.
 */
const FORMATS: Readonly<Record<string, (text: string) => boolean>> = {
  bsonobjectid: (text) => /^[0-9a-fA-F]{24}$/.test(text),
  uri: (text) => text === "*" || (!/[\x00-\x1f\x7f]/.test(text) && /^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|\/)/.test(text)),
  email: (text) => /^(?:[^<>]*<)?[^\s@<>]+@[^\s@<>]+(?:>)?$/.test(text.trim()),
  hostname: isHostname,
  ipv4: (text) => isIPv4(text),
  ipv6: (text) => isIPv6(text),
  cidr: isCidr,
  mac: (text) => /^[0-9a-fA-F]{2}(?:([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}(?:(?:\1[0-9a-fA-F]{2}){2}(?:(?:\1[0-9a-fA-F]{2}){12})?)?)$/.test(text) ||
    /^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}(?:(?:\.[0-9a-fA-F]{4})(?:(?:\.[0-9a-fA-F]{4}){5})?)?$/.test(text),
  uuid: (text) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(text),
  uuid3: (text) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(text),
  uuid4: (text) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i.test(text),
  uuid5: (text) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i.test(text),
  isbn: (text) => isIsbn10(text) || isIsbn13(text),
  isbn10: isIsbn10,
  isbn13: isIsbn13,
  creditcard: (text) => {
    const digits = text.replace(/[^0-9]+/g, "")
    return CREDIT_CARD.test(digits) && luhn(digits)
  },
  ssn: (text) => /^\d{3}[- ]?\d{2}[- ]?\d{4}$/.test(text),
  hexcolor: (text) => /^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(text),
  rgbcolor: (text) => RGB.test(text),
  byte: (text) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text.replace(/[\r\n]/g, "")),
  password: () => true,
  date: isDate,
  duration: isDuration,
  datetime: isDateTime,
  k8sshortname: (text) => text.length <= 63 && DNS_LABEL.test(text),
  k8slongname: (text) => text.length <= 253 && DNS_SUBDOMAIN.test(text)
}

interface NodeInfo {
  /** The OpenAPI types: `[type]`, `["integer", "string"]` for int-or-string, `[]` when untyped. */
  readonly types: ReadonlyArray<string>
  /** The format as written when it is enforced, else `""`. */
  readonly format: string
  readonly checkFormat: ((text: string) => boolean) | undefined
}

const infoMemo = new WeakMap<SchemaProps, NodeInfo>()

const infoOf = (schema: SchemaProps): NodeInfo => {
  let info = infoMemo.get(schema)
  if (info === undefined) {
    const types = schema["x-kubernetes-int-or-string"] === true ? ["integer", "string"] : schema.type === undefined ? [] : [schema.type]
    const normalized = (schema.format ?? "").replaceAll("-", "")
    const checkFormat = Object.hasOwn(FORMATS, normalized) ? FORMATS[normalized] : undefined
    info = { types, format: checkFormat === undefined ? "" : (schema.format ?? ""), checkFormat }
    infoMemo.set(schema, info)
  }
  return info
}

const jsonType = (value: unknown): string => {
  if (typeof value === "boolean") return "boolean"
  if (typeof value === "string") return "string"
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number"
  if (Array.isArray(value)) return "array"
  return "object"
}

/** kube-openapi's enum comparison: deep equality, numbers compared after Go's type conversion to the enum's type. */
const enumMatches = (value: unknown, candidate: unknown): boolean => {
  if (typeof value === "number" && typeof candidate === "number") {
    return Number.isInteger(candidate) && !Number.isInteger(value) ? Math.trunc(value) === candidate : value === candidate
  }
  return deepEqual(value, candidate)
}

const enumError = (name: string, value: unknown, values: ReadonlyArray<unknown>): SchemaError => {
  const supported = values.map((allowed) => goQuote(typeof allowed === "string" ? allowed : goJson(allowed))).join(", ")
  return {
    text: `${name} in body should be one of ${goJson(values)}`,
    cause: { reason: "FieldValueNotSupported", message: `Unsupported value: ${badValue(value)}: supported values: ${supported}`, field: fieldOfName(name) }
  }
}

/** The old value an element is compared with: the stored value at the same key (lists: same map keys). */
interface Correlation {
  readonly old: unknown
}

const correlateKey = (correlation: Correlation | undefined, key: string): Correlation | undefined =>
  correlation !== undefined && isObject(correlation.old) && Object.hasOwn(correlation.old, key) ? { old: correlation.old[key] } : undefined

const correlateItem = (schema: SchemaProps, correlation: Correlation | undefined, item: unknown): Correlation | undefined => {
  const keys = schema["x-kubernetes-list-map-keys"]
  if (correlation === undefined || schema["x-kubernetes-list-type"] !== "map" || keys === undefined || !Array.isArray(correlation.old) || !isObject(item)) return undefined
  const old = correlation.old.find((candidate) => isObject(candidate) && keys.every((key) => deepEqual(candidate[key], item[key])))
  return old === undefined ? undefined : { old }
}

const typeCheck = (schema: SchemaProps, value: unknown, name: string): SchemaError | undefined => {
  const { types, format } = infoOf(schema)
  const type = jsonType(value)
  const textual = typeof value === "string" || Array.isArray(value)
  const intAsNumber = type === "integer" && types.includes("number")
  if (!textual && format !== "" && !(types.includes(type) || intAsNumber)) {
    return typeError(name, format, type === "integer" ? "int64" : type === "number" ? "float64" : "")
  }
  if (!(types.includes("number") || types.includes("integer")) && format !== "" && textual) return undefined
  if (!(types.includes(type) || intAsNumber)) return typeError(name, types.join(","), type)
  return undefined
}

const compositions = (schema: SchemaProps, value: unknown, name: string, errors: SchemaErrors): void => {
  if (schema.anyOf !== undefined && schema.anyOf.length > 0) {
    let best: Array<SchemaError> | undefined
    let matched = false
    for (const option of schema.anyOf) {
      const result = validateValue(option, value, name, undefined)
      if (result.length === 0) {
        matched = true
        break
      }
      if (best === undefined || result.length < best.length) best = result
    }
    if (!matched) {
      errors.add(compositeError(`${goQuote(name)} must validate at least one schema (anyOf)`))
      errors.addAll(best ?? [])
    }
  }
  if (schema.oneOf !== undefined && schema.oneOf.length > 0) {
    let best: Array<SchemaError> | undefined
    let valid = 0
    for (const option of schema.oneOf) {
      const result = validateValue(option, value, name, undefined)
      if (result.length === 0) valid++
      else if (valid === 0 && (best === undefined || result.length < best.length)) best = result
    }
    if (valid !== 1) {
      errors.add(compositeError(`${goQuote(name)} must validate one and only one schema (oneOf). ${valid === 0 ? "Found none valid" : `Found ${valid} valid alternatives`}`))
      if (valid === 0) errors.addAll(best ?? [])
    }
  }
  if (schema.allOf !== undefined && schema.allOf.length > 0) {
    let valid = 0
    for (const option of schema.allOf) {
      const result = validateValue(option, value, name, undefined)
      if (result.length === 0) valid++
      errors.addAll(result)
    }
    if (valid !== schema.allOf.length) {
      errors.add(compositeError(`${goQuote(name)} must validate all the schemas (allOf)${valid === 0 ? ". None validated" : ""}`))
    }
  }
  if (schema.not !== undefined && validateValue(schema.not, value, name, undefined).length === 0) {
    errors.add(compositeError(`${goQuote(name)} must not validate the schema (not)`))
  }
}

const stringChecks = (schema: SchemaProps, value: string, name: string): SchemaError | undefined => {
  const length = schema.maxLength !== undefined || schema.minLength !== undefined ? Array.from(value).length : 0
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    const max = schema.maxLength
    return {
      text: `${name} in body should be at most ${max} chars long`,
      cause: { reason: "FieldValueTooLong", message: `Too long: may not be more than ${max} ${max === 1 ? "byte" : "bytes"}`, field: fieldOfName(name) }
    }
  }
  if (schema.minLength !== undefined && length < schema.minLength) {
    return invalidError(name, value, `${name} in body should be at least ${schema.minLength} chars long`)
  }
  if (schema.pattern !== undefined) {
    const regex = toRegExp(schema.pattern)
    if (regex !== undefined && !regex.test(value)) return invalidError(name, value, `${name} in body should match '${schema.pattern}'`)
  }
  return undefined
}

const numberChecks = (schema: SchemaProps, value: number, name: string, errors: SchemaErrors): void => {
  const integral = Number.isInteger(value)
  const bound = (limit: number) => (integral ? String(Math.trunc(limit)) : goFloat(limit))
  const limitOf = (limit: number) => (integral ? Math.trunc(limit) : limit)
  if (schema.multipleOf !== undefined) {
    const factor = schema.multipleOf
    if (integral && Math.trunc(factor) !== 0) {
      if (value % Math.trunc(factor) !== 0) errors.add(invalidError(name, value, `${name} in body should be a multiple of ${Math.trunc(factor)}`))
    } else {
      const ratio = factor < 1 ? (1 / factor) * value : value / factor
      if (!Number.isInteger(ratio)) errors.add(invalidError(name, value, `${name} in body should be a multiple of ${goFloat(factor)}`))
    }
  }
  if (schema.minimum !== undefined) {
    const limit = limitOf(schema.minimum)
    const exclusive = schema.exclusiveMinimum === true
    if (exclusive ? value <= limit : value < limit) {
      errors.add(invalidError(name, value, `${name} in body should be greater than${exclusive ? "" : " or equal to"} ${bound(schema.minimum)}`))
    }
  }
  if (schema.maximum !== undefined) {
    const limit = limitOf(schema.maximum)
    const exclusive = schema.exclusiveMaximum === true
    if (exclusive ? value >= limit : value > limit) {
      errors.add(invalidError(name, value, `${name} in body should be less than${exclusive ? "" : " or equal to"} ${bound(schema.maximum)}`))
    }
  }
}

const hasDuplicates = (items: ReadonlyArray<unknown>): boolean =>
  items.some((item, index) => items.findIndex((other) => deepEqual(other, item)) !== index)

/**
 * kube-openapi's `SchemaValidator.Validate` of one value: type, allOf/anyOf/oneOf/not, string, format, number, array,
 * enum and object checks in that order. `name` is kube-openapi's path (`spec.services.Frontend.replicas`). A value
 * equal to its correlated stored value is not validated (ratcheting).
 */
const validateValue = (schema: SchemaProps, value: unknown, name: string, correlation: Correlation | undefined): Array<SchemaError> => {
  if (correlation !== undefined && deepEqual(value, correlation.old)) return []
  const errors = new SchemaErrors()
  const { types, format, checkFormat } = infoOf(schema)
  if (value === null || value === undefined) {
    if (types.length > 0 && schema.nullable !== true) errors.add(typeError(name, types.join(","), "null"))
    if (schema.enum !== undefined && schema.enum.length > 0) errors.add(enumError(name, null, schema.enum))
    return errors.list
  }
  if (types.length > 0 || format !== "") {
    const error = typeCheck(schema, value, name)
    if (error !== undefined) errors.add(error)
  }
  compositions(schema, value, name, errors)
  if (typeof value === "string") {
    const error = stringChecks(schema, value, name)
    if (error !== undefined) errors.add(error)
    if (checkFormat !== undefined && !checkFormat(value)) errors.add(typeError(name, format, value))
  }
  if (typeof value === "number") numberChecks(schema, value, name, errors)
  if (Array.isArray(value)) {
    const items = schema.items
    if (items !== undefined) {
      value.forEach((item, index) => errors.addAll(validateValue(items, item, `${name}[${index}]`, correlateItem(schema, correlation, item))))
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      errors.add(invalidError(name, value.length, `${name} in body should have at least ${schema.minItems} items`))
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.add(tooManyError(name, schema.maxItems, value.length, "items"))
    if (schema.uniqueItems === true && hasDuplicates(value)) errors.add(invalidError(name, "", `${name} in body shouldn't contain duplicates`))
  }
  if (schema.enum !== undefined && schema.enum.length > 0 && !schema.enum.some((candidate) => enumMatches(value, candidate))) {
    errors.add(enumError(name, value, schema.enum))
  }
  if (isObject(value)) objectChecks(schema, value, name, correlation, errors)
  return errors.list
}

const objectChecks = (schema: SchemaProps, value: JsonObject, name: string, correlation: Correlation | undefined, errors: SchemaErrors): void => {
  const keys = Object.keys(value)
  if (schema.minProperties !== undefined && keys.length < schema.minProperties) {
    errors.add(invalidError(name, keys.length, `${name} in body should have at least ${schema.minProperties} properties`))
    return
  }
  if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
    errors.add(tooManyError(name, schema.maxProperties, keys.length, "properties"))
    return
  }
  const additional = additionalOf(schema)
  if (additional !== undefined) {
    for (const key of keys) {
      if (propertyOf(schema, key) === undefined) errors.addAll(validateValue(additional, value[key], `${name}.${key}`, correlateKey(correlation, key)))
    }
  }
  for (const key of keys) {
    const property = propertyOf(schema, key)
    if (property !== undefined) errors.addAll(validateValue(property, value[key], name === "" ? key : `${name}.${key}`, correlateKey(correlation, key)))
  }
  for (const key of schema.required ?? []) {
    if (!Object.hasOwn(value, key)) {
      const required = `${name}.${key}`
      errors.add({ text: `${required} in body is required`, cause: { reason: "FieldValueRequired", message: "Required value", field: fieldOfName(required) } })
    }
  }
}

// Field paths as k8s.io/apimachinery's field.Path prints them; `null` is the nil path (`<nil>`).

type FieldPath = string | null

const child = (path: FieldPath, name: string): string => (path === null ? name : `${path}.${name}`)
const keyed = (path: FieldPath, key: string | number): string => `${path ?? ""}[${key}]`
const printed = (path: FieldPath): string => path ?? "<nil>"

/** schemaobjectmeta.Validate for embedded resources: apiVersion and kind must be non-empty strings. */
const validateEmbedded = (schema: SchemaProps, value: unknown, path: FieldPath, causes: Array<FieldCause>): void => {
  if (Array.isArray(value)) {
    const items = schema.items
    if (items !== undefined) value.forEach((item, index) => validateEmbedded(items, item, keyed(path, index), causes))
    return
  }
  if (!isObject(value)) return
  if (schema["x-kubernetes-embedded-resource"] === true) {
    for (const field of ["apiVersion", "kind"]) {
      const where = child(path, field)
      if (!Object.hasOwn(value, field)) causes.push({ reason: "FieldValueRequired", message: "Required value: must not be empty", field: where })
      else if (typeof value[field] !== "string") causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${badValue(value[field])}: must be a string`, field: where })
      else if (value[field] === "") causes.push({ reason: "FieldValueInvalid", message: 'Invalid value: "": must not be empty', field: where })
    }
  }
  const additional = additionalOf(schema)
  for (const [key, item] of Object.entries(value)) {
    const property = propertyOf(schema, key)
    if (property !== undefined) validateEmbedded(property, item, child(path, key), causes)
    else if (additional !== undefined) validateEmbedded(additional, item, keyed(path, key), causes)
  }
}

const setKey = (value: unknown): string => {
  if (isObject(value) || Array.isArray(value)) return `c${goJson(value)}`
  if (typeof value === "number") return Number.isInteger(value) ? `i${value}` : `f${value}`
  return `${typeof value}${String(value)}`
}

/** Indices of the second appearance of each repeated value (listtype.validateListSet). */
const repeatedIndices = (keys: ReadonlyArray<string>): Array<number> => {
  const seen = new Map<string, number>()
  const repeated: Array<number> = []
  keys.forEach((key, index) => {
    const times = seen.get(key) ?? 0
    if (times === 1) repeated.push(index)
    seen.set(key, times + 1)
  })
  return repeated
}

/** structurallisttype.ValidateListSetsAndMaps: unique items in `set` lists, unique keys in `map` lists. */
const validateLists = (schema: SchemaProps, value: unknown, path: FieldPath, causes: Array<FieldCause>): void => {
  if (Array.isArray(value)) {
    const listType = schema["x-kubernetes-list-type"]
    if (listType === "set") {
      for (const index of repeatedIndices(value.map(setKey))) {
        causes.push({ reason: "FieldValueDuplicate", message: `Duplicate value: ${badValue(value[index])}`, field: keyed(path, index) })
      }
    } else if (listType === "map") {
      validateListMap(schema, value, path, causes)
    }
    const items = schema.items
    if (items !== undefined && hasListTypes(items)) value.forEach((item, index) => validateLists(items, item, keyed(path, index), causes))
    return
  }
  if (!isObject(value)) return
  const additional = additionalOf(schema)
  if (additional !== undefined && hasListTypes(additional)) {
    for (const [key, item] of Object.entries(value)) validateLists(additional, item, keyed(path, key), causes)
  }
  for (const [key, item] of Object.entries(value)) {
    const property = propertyOf(schema, key)
    if (property !== undefined && hasListTypes(property)) validateLists(property, item, child(path, key), causes)
  }
}

const validateListMap = (schema: SchemaProps, value: ReadonlyArray<unknown>, path: FieldPath, causes: Array<FieldCause>): void => {
  const notObject = value.findIndex((item) => item !== null && !isObject(item))
  if (notObject >= 0) {
    causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${badValue(value[notObject])}: must be an object for an array of list-type map`, field: keyed(path, notObject) })
    return
  }
  const mapKeys = schema["x-kubernetes-list-map-keys"] ?? []
  const keys = value.map((item) => {
    const key: JsonObject = {}
    if (isObject(item)) for (const field of mapKeys) if (Object.hasOwn(item, field)) key[field] = item[field]
    return key
  })
  const identities = keys.map((key) => (mapKeys.length === 1 && !Object.hasOwn(key, mapKeys[0] ?? "") ? "u" : setKey(mapKeys.length === 1 ? key[mapKeys[0] ?? ""] : key)))
  for (const index of repeatedIndices(identities)) {
    causes.push({ reason: "FieldValueDuplicate", message: `Duplicate value: ${goJson(keys[index])}`, field: keyed(path, index) })
  }
}

// x-kubernetes-validations (apiextensions-apiserver pkg/apiserver/schema/cel/validation.go).

const OMITTED = Symbol("omitted")

const ruleErrorString = (rule: ValidationRule): string => (rule.message !== undefined && rule.message.length > 0 ? rule.message.trim() : rule.rule.trim())

const ruleMessageOrDefault = (rule: ValidationRule): string =>
  rule.message !== undefined && rule.message.length > 0 ? rule.message.trim() : `failed rule: ${ruleErrorString(rule)}`

/** A rule's `fieldPath` (`.spec.foo`, `['a.b']`) as the field.Path string it names under the rule's node. */
const normalizeFieldPath = (fieldPath: string, schema: SchemaProps): string | undefined => {
  let path: FieldPath = null
  let node: SchemaProps | undefined = schema
  const step = /\.([^.[\]']+)|\['((?:[^'\\]|\\.)*)'\]/y
  let position = 0
  while (position < fieldPath.length) {
    step.lastIndex = position
    const match = step.exec(fieldPath)
    if (match === null || node === undefined) return undefined
    position = step.lastIndex
    const name = match[1] ?? (match[2] ?? "").replace(/\\(.)/g, "$1")
    if (node.properties !== undefined) {
      path = child(path, name)
      node = propertyOf(node, name)
      if (node === undefined) return undefined
    } else if (node.additionalProperties !== undefined) {
      path = keyed(path, name)
      node = additionalOf(node)
    } else {
      return undefined
    }
  }
  return path ?? undefined
}

const ruleCause = (reason: ValidationRule["reason"], path: FieldPath, value: unknown, detail: string): FieldCause => {
  const field = printed(path)
  switch (reason) {
    case "FieldValueForbidden":
      return { reason, message: `Forbidden: ${detail}`, field }
    case "FieldValueRequired":
      return { reason, message: `Required value: ${detail}`, field }
    case "FieldValueDuplicate":
      return { reason, message: value === OMITTED ? "Duplicate value" : `Duplicate value: ${badValue(value)}`, field }
    default:
      return { reason: "FieldValueInvalid", message: value === OMITTED ? `Invalid value: ${detail}` : `Invalid value: ${badValue(value)}: ${detail}`, field }
  }
}

const messageFrom = (result: CelValue | CelError): string | undefined => {
  if (typeof result !== "string") return undefined
  const trimmed = result.trim()
  return trimmed.length === 0 || trimmed.length > 5120 || trimmed.includes("\n") ? undefined : trimmed
}

interface RuleContext {
  readonly causes: Array<FieldCause>
}

const evaluateRules = (
  schema: SchemaProps,
  value: unknown,
  path: FieldPath,
  correlation: Correlation | undefined,
  unchanged: () => boolean,
  context: RuleContext
): void => {
  const type = schema.type ?? ""
  const self = fromJson(value, schema)
  const hasOld = correlation !== undefined && correlation.old !== null && correlation.old !== undefined
  const oldSelf = hasOld ? fromJson(correlation.old, schema) : undefined
  for (const rule of schema["x-kubernetes-validations"] ?? []) {
    const compiled = compile(rule.rule)
    if (compiled instanceof CelError) continue
    const optional = rule.optionalOldSelf === true
    if (compiled.usesOldSelf && !hasOld && !optional) continue
    const variables: Record<string, CelValue> = { self }
    if (oldSelf !== undefined) variables["oldSelf"] = oldSelf
    const ruleVariables = optional ? { self, oldSelf: new CelOptional(oldSelf) } : variables
    const result = compiled.evaluate(ruleVariables)
    if (result instanceof CelError) {
      const detail = result.message.startsWith("no such overload")
        ? `'${result.message}': call arguments did not match a supported operator, function or macro signature for rule: ${ruleErrorString(rule)}`
        : `${result.message} evaluating rule: ${ruleErrorString(rule)}`
      context.causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${goQuote(type)}: ${detail}`, field: printed(path) })
      continue
    }
    if (result === true) continue
    let rulePath = path
    if (rule.fieldPath !== undefined && rule.fieldPath !== "") {
      const normalized = normalizeFieldPath(rule.fieldPath, schema)
      if (normalized !== undefined) rulePath = child(path, normalized)
    }
    let detail: string | undefined
    if (rule.messageExpression !== undefined && rule.messageExpression !== "") {
      const message = compile(rule.messageExpression)
      if (!(message instanceof CelError)) detail = messageFrom(message.evaluate(variables))
    }
    const shown = type === "object" || type === "array" ? OMITTED : value
    const cause = ruleCause(rule.reason, rulePath, shown, detail ?? ruleMessageOrDefault(rule))
    if (compiled.usesOldSelf || !unchanged()) context.causes.push(cause)
  }
}

const memo = (compute: () => boolean): (() => boolean) => {
  let known: boolean | undefined
  return () => (known ??= compute())
}

/** The CEL validator's walk: rules of every node with a non-null value, old values correlated by key and map key. */
const validateRules = (
  schema: SchemaProps,
  value: unknown,
  path: FieldPath,
  correlation: Correlation | undefined,
  parentUnchanged: () => boolean,
  context: RuleContext
): void => {
  if (value === null || value === undefined || !hasRules(schema)) return
  const unchanged = correlation === undefined ? parentUnchanged : memo(() => deepEqual(value, correlation.old))
  if ((schema["x-kubernetes-validations"]?.length ?? 0) > 0) evaluateRules(schema, value, path, correlation, unchanged, context)
  if (Array.isArray(value)) {
    const items = schema.items
    if (items === undefined || !hasRules(items)) return
    value.forEach((item, index) => validateRules(items, item, keyed(path, index), correlateItem(schema, correlation, item), unchanged, context))
    return
  }
  if (!isObject(value)) return
  const additional = additionalOf(schema)
  if (additional !== undefined && hasRules(additional)) {
    for (const [key, item] of Object.entries(value)) validateRules(additional, item, keyed(path, key), correlateKey(correlation, key), unchanged, context)
  }
  for (const [key, item] of Object.entries(value)) {
    const property = propertyOf(schema, key)
    if (property !== undefined) validateRules(property, item, child(path, key), correlateKey(correlation, key), unchanged, context)
  }
}

const BLOCKING = new Set(["FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong", "FieldValueTooMany", "FieldValueTypeInvalid"])

/**
 * Admission of a custom resource body against its CRD version's `openAPIV3Schema`, as apiextensions-apiserver does
 * it: prune unknown fields (their paths returned sorted, for `fieldValidation=Strict|Warn`), drop non-nullable nulls,
 * apply defaults (the returned object is what is stored), then OpenAPI validation, embedded resources, list-type
 * set/map uniqueness and CEL rules (skipped after a blocking error, as the real server does), with the real causes.
 * On create `old` is `undefined`; on update it is the stored object, for transition rules and ratcheting.
 * Does not mutate its input.
 */
export const admitCustom = (schema: SchemaProps, object: KubeObject, old: KubeObject | undefined): AdmitResult => {
  const copy = structuredClone(object)
  const unknownFields: Array<string> = []
  prune(copy, schema, "", unknownFields, true)
  unknownFields.sort()
  applyDefaults(copy, schema, true)
  const root: Correlation | undefined = old === undefined ? undefined : { old }
  const causes = validateValue(schema, copy, "", root).map((error) => error.cause)
  if (hasEmbedded(schema)) validateEmbedded(schema, copy, null, causes)
  if (hasListTypes(schema)) {
    const previous: Array<FieldCause> = []
    if (old !== undefined) validateLists(schema, old, null, previous)
    if (previous.length === 0) validateLists(schema, copy, null, causes)
  }
  if (hasRules(schema)) {
    if (causes.some((cause) => BLOCKING.has(cause.reason))) {
      causes.push({
        reason: "FieldValueInvalid",
        message: "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        field: "<nil>"
      })
    } else {
      validateRules(schema, copy, null, root, () => false, { causes })
    }
  }
  return { object: copy, unknownFields, causes }
}

const collectRules = (schema: SchemaProps, path: string, enforced: boolean, out: Array<{ path: string; rule: string }>): void => {
  for (const rule of schema["x-kubernetes-validations"] ?? []) {
    if (!enforced || compile(rule.rule) instanceof CelError) out.push({ path, rule: rule.rule })
    else if (rule.messageExpression !== undefined && rule.messageExpression !== "" && compile(rule.messageExpression) instanceof CelError) {
      out.push({ path, rule: `messageExpression: ${rule.messageExpression}` })
    }
  }
  const at = (suffix: string) => (path === "<root>" ? suffix.replace(/^\./, "") : `${path}${suffix}`)
  for (const [key, property] of Object.entries(schema.properties ?? {})) collectRules(property, at(`.${key}`), enforced, out)
  if (schema.items !== undefined) collectRules(schema.items, at("[*]"), enforced, out)
  const additional = additionalOf(schema)
  if (additional !== undefined) collectRules(additional, at("[*]"), enforced, out)
  for (const nested of [...(schema.allOf ?? []), ...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.not === undefined ? [] : [schema.not])]) {
    collectRules(nested, path, false, out)
  }
}

/**
 * The `x-kubernetes-validations` rules `admitCustom` does not enforce: rules outside the CEL subset of `cel.ts`, rules
 * under `allOf`/`anyOf`/`oneOf`/`not`, and (as `messageExpression: …`) message expressions it cannot evaluate (their
 * rule is enforced with the static message). Paths are schema paths: `spec.mlPolicy`, `spec.pvcs[*]`, `<root>`.
 */
export const unsupportedRules = (schema: SchemaProps): Array<{ path: string; rule: string }> => {
  const out: Array<{ path: string; rule: string }> = []
  collectRules(schema, "<root>", true, out)
  return out
}
