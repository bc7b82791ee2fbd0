/**
 * The typed JSON decode of a built-in object as kube-apiserver does it (`sigs.k8s.io/json`, a case-sensitive fork of
 * Go's `encoding/json`), walking client-node's type tree: unknown fields for field validation, and the first error
 * that makes the decode fail, with Go's text (`json: cannot unmarshal string into Go struct field JobSpec.spec.parallelism
 * of type int32`).
 */
import { type AjvError, type FieldType, classFields, goStructName, goTypeName } from "./builtin-schema.ts"
import { goQuote, isRecord } from "./builtin-messages.ts"

/** What decoding found: unknown field paths (`spec.template.spec.containers[0].bogus`) and the error, if any. */
export interface DecodeResult {
  unknownFields: Array<string>
  error?: string
}

interface At {
  /** The field path with indices, as strict decoding names unknown fields. */
  readonly path: string
  /** The JSON field names from the root, without indices or map keys: Go's `UnmarshalTypeError.Field`. */
  readonly stack: ReadonlyArray<string>
  /** The Go struct holding the current field: `UnmarshalTypeError.Struct`. */
  readonly struct: string | undefined
  readonly pointer: string
}

interface State {
  readonly unknown: Array<string>
  readonly seen: Set<string>
  readonly ajv: ReadonlyMap<string, ReadonlyArray<AjvError>>
  saved?: string
  fatal?: string
}

/** The most strict decoding errors `sigs.k8s.io/json` collects. */
const MAX_STRICT_ERRORS = 100

/** How `encoding/json` names a JSON value in `UnmarshalTypeError.Value`. */
const jsonKind = (value: unknown): string => {
  if (Array.isArray(value)) return "array"
  if (typeof value === "boolean") return "bool"
  if (typeof value === "object") return "object"
  return typeof value
}

const typeError = (kind: string, goType: string, at: At): string =>
  at.struct === undefined && at.stack.length === 0
    ? `json: cannot unmarshal ${kind} into Go value of type ${goType}`
    : `json: cannot unmarshal ${kind} into Go struct field ${at.struct ?? ""}.${at.stack.join(".")} of type ${goType}`

/** Go's `%v` of a float64 JSON number literal (`number 1.5`). */
const numberLiteral = (value: number): string => (Number.isInteger(value) ? BigInt(value).toString() : String(value))

const save = (state: State, message: string) => {
  state.saved ??= message
}

const child = (at: At, key: string, struct: string | undefined): At => ({
  path: at.path === "" ? key : `${at.path}.${key}`,
  stack: [...at.stack, key],
  struct,
  pointer: `${at.pointer}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`
})

const element = (at: At, index: number): At => ({ ...at, path: `${at.path}[${index}]`, pointer: `${at.pointer}/${index}` })

const entry = (at: At, key: string): At => ({
  ...at,
  path: at.path === "" ? key : `${at.path}.${key}`,
  pointer: `${at.pointer}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`
})

const INT_RANGE: Readonly<Record<string, readonly [number, number]>> = {
  int32: [-2147483648, 2147483647],
  int64: [-9223372036854775808, 9223372036854775807],
  uint8: [0, 255]
}

const checkInteger = (value: unknown, goType: "int32" | "int64" | "uint8", at: At): string | undefined => {
  if (typeof value !== "number") return typeError(jsonKind(value), goType, at)
  const [min, max] = INT_RANGE[goType]!
  if (!Number.isInteger(value) || value < min || value > max) return typeError(`number ${numberLiteral(value)}`, goType, at)
  return undefined
}

const walk = (value: unknown, type: FieldType, at: At, state: State): void => {
  if (value === null || value === undefined || state.fatal !== undefined) return
  switch (type.kind) {
    case "class": {
      const fields = classFields(type.name)
      if (fields === undefined) return
      if (!isRecord(value)) return save(state, typeError(jsonKind(value), goTypeName(type), at))
      const struct = goStructName(type.name)
      for (const [key, item] of Object.entries(value)) {
        const fieldType = fields.get(key)
        if (fieldType === undefined) {
          const path = at.path === "" ? key : `${at.path}.${key}`
          if (!state.seen.has(path) && state.unknown.length < MAX_STRICT_ERRORS) {
            state.seen.add(path)
            state.unknown.push(path)
          }
          continue
        }
        if (at.stack.length === 0 && (key === "apiVersion" || key === "kind")) continue
        walk(item, fieldType, child(at, key, struct), state)
        if (state.fatal !== undefined) return
      }
      return
    }
    case "array": {
      if (!Array.isArray(value)) return save(state, typeError(jsonKind(value), goTypeName(type), at))
      value.forEach((item, index) => walk(item, type.item, element(at, index), state))
      return
    }
    case "map": {
      if (!isRecord(value)) return save(state, typeError(jsonKind(value), goTypeName(type), at))
      for (const [key, item] of Object.entries(value)) {
        walk(item, type.value, entry(at, key), state)
        if (state.fatal !== undefined) return
      }
      return
    }
    case "any":
      return
    case "boolean":
      if (typeof value !== "boolean") save(state, typeError(jsonKind(value), "bool", at))
      return
    case "number": {
      if (type.format === "double") {
        if (typeof value !== "number") save(state, typeError(jsonKind(value), "float64", at))
        return
      }
      const error = checkInteger(value, type.format === "int64" ? "int64" : "int32", at)
      if (error !== undefined) save(state, error)
      return
    }
    case "IntOrString": {
      if (typeof value === "string") return
      const error = checkInteger(value, "int32", at)
      if (error !== undefined) state.fatal = error
      return
    }
    case "Date": {
      if (typeof value !== "string") {
        state.fatal = typeError(jsonKind(value), "string", at)
        return
      }
      const error = goTimeParseError(value, type.format === "date-time-micro" ? RFC3339_MICRO : RFC3339)
      if (error !== undefined) state.fatal = error
      return
    }
    case "string":
      return type.format === "byte" ? decodeBytes(value, at, state) : decodeString(value, at, state)
  }
}

const decodeBytes = (value: unknown, at: At, state: State) => {
  if (typeof value === "string") {
    const error = goBase64Error(value)
    if (error !== undefined) save(state, error)
    return
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item === null) continue
      const error = checkInteger(item, "uint8", at)
      if (error !== undefined) return save(state, error)
    }
    return
  }
  save(state, typeError(jsonKind(value), "[]uint8", at))
}

/**
 * A `string` field of client-node is either a Go string or a `resource.Quantity`; the kubernetes-models errors at the
 * same place tell them apart (a Quantity takes numbers, and is a `oneOf` of number and quantity-formatted string).
 */
const decodeString = (value: unknown, at: At, state: State) => {
  const errors = state.ajv.get(at.pointer) ?? []
  const quantity = errors.some((error) => error.keyword === "oneOf" || error.params["format"] === "quantity")
  if (typeof value === "string") {
    if (quantity) {
      const error = goQuantityError(value)
      if (error !== undefined) state.fatal = error
    }
    return
  }
  if (typeof value === "number") {
    if (errors.length > 0) save(state, typeError("number", "string", at))
    return
  }
  if (quantity) state.fatal = QUANTITY_FORMAT
  else save(state, typeError(jsonKind(value), "string", at))
}

/** Decodes `object` as the client-node class `root` would be by a real server. */
export const decodeObject = (object: unknown, root: string, ajv: ReadonlyArray<AjvError>): DecodeResult => {
  const byPointer = new Map<string, Array<AjvError>>()
  for (const error of ajv) byPointer.set(error.instancePath, [...(byPointer.get(error.instancePath) ?? []), error])
  const state: State = { unknown: [], seen: new Set(), ajv: byPointer }
  walk(object, { kind: "class", name: root }, { path: "", stack: [], struct: undefined, pointer: "" }, state)
  const error = state.fatal ?? state.saved
  return error === undefined ? { unknownFields: state.unknown } : { unknownFields: state.unknown, error }
}

// ---------------------------------------------------------------------------------------------------------------
// resource.Quantity (k8s.io/apimachinery/pkg/api/resource/quantity.go)

const QUANTITY_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
const QUANTITY_RE = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/
const QUANTITY_SUFFIXES = new Set(["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"])

/** `ParseQuantity`'s error for a quantity string, if any. */
export const goQuantityError = (text: string): string | undefined => {
  const match = QUANTITY_RE.exec(text.trim())
  if (!match) return QUANTITY_FORMAT
  const suffix = match[2]!
  if (QUANTITY_SUFFIXES.has(suffix) || /^[eE][-+]?[0-9]+$/.test(suffix)) return undefined
  return "unable to parse quantity's suffix"
}

// ---------------------------------------------------------------------------------------------------------------
// []byte: encoding/base64 StdEncoding (padded, newlines ignored)

const BASE64 = new Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

/** `base64.StdEncoding.Decode`'s error for `text`, if any: `illegal base64 data at input byte 3`. */
export const goBase64Error = (text: string): string | undefined => {
  const corrupt = (at: number) => `illegal base64 data at input byte ${at}`
  const input = Buffer.from(text, "utf8")
  let index = 0
  while (index < input.length) {
    let filled = 0
    while (filled < 4) {
      if (index === input.length) {
        if (filled === 0) return undefined
        return corrupt(index - filled)
      }
      const char = String.fromCharCode(input[index]!)
      index++
      if (BASE64.has(char)) {
        filled++
        continue
      }
      if (char === "\n" || char === "\r") continue
      if (char !== "=") return corrupt(index - 1)
      if (filled < 2) return corrupt(index - 1)
      if (filled === 2) {
        while (index < input.length && (input[index] === 0x0a || input[index] === 0x0d)) index++
        if (index === input.length) return corrupt(input.length)
        if (input[index] !== 0x3d) return corrupt(index - 1)
        index++
      }
      while (index < input.length && (input[index] === 0x0a || input[index] === 0x0d)) index++
      if (index < input.length) return corrupt(index)
      return undefined
    }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// metav1.Time / metav1.MicroTime: time.Parse(RFC3339 | RFC3339Micro)

const RFC3339 = "2006-01-02T15:04:05Z07:00"
const RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"

type Element = { readonly literal: string } | { readonly std: "2006" | "01" | "02" | "15" | "04" | "05" | ".000000" | "Z07:00" }

const LAYOUTS: Readonly<Record<string, ReadonlyArray<Element>>> = {
  [RFC3339]: [
    { std: "2006" }, { literal: "-" }, { std: "01" }, { literal: "-" }, { std: "02" }, { literal: "T" }, { std: "15" },
    { literal: ":" }, { std: "04" }, { literal: ":" }, { std: "05" }, { std: "Z07:00" }
  ],
  [RFC3339_MICRO]: [
    { std: "2006" }, { literal: "-" }, { std: "01" }, { literal: "-" }, { std: "02" }, { literal: "T" }, { std: "15" },
    { literal: ":" }, { std: "04" }, { literal: ":" }, { std: "05" }, { std: ".000000" }, { std: "Z07:00" }
  ]
}

const isDigit = (text: string, index: number) => index < text.length && text.charCodeAt(index) >= 48 && text.charCodeAt(index) <= 57

/** Go's `getnum`: one or two digits (exactly two when `fixed`). */
const getnum = (text: string, fixed: boolean): [number, string] | undefined => {
  if (!isDigit(text, 0)) return undefined
  if (!isDigit(text, 1)) return fixed ? undefined : [Number(text[0]), text.slice(1)]
  return [Number(text.slice(0, 2)), text.slice(2)]
}

const daysIn = (month: number, year: number) =>
  month === 2 ? ((year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31

/** The error of Go's `time.Parse(layout, value)`, if any, with `time.ParseError`'s text. */
export const goTimeParseError = (value: string, layout: string): string | undefined => {
  const cannot = (valueElem: string, layoutElem: string) =>
    `parsing time ${goQuote(value)} as ${goQuote(layout)}: cannot parse ${goQuote(valueElem)} as ${goQuote(layoutElem)}`
  const outOfRange = (what: string) => `parsing time ${goQuote(value)}: ${what} out of range`
  let rest = value
  let year = 0
  let month = 0
  let day = 0
  for (const element of LAYOUTS[layout] ?? []) {
    if ("literal" in element) {
      if (!rest.startsWith(element.literal)) return cannot(rest, element.literal)
      rest = rest.slice(element.literal.length)
      continue
    }
    const hold = rest
    switch (element.std) {
      case "2006": {
        if (rest.length < 4 || !/^[0-9]{4}/.test(rest)) return cannot(hold, element.std)
        year = Number(rest.slice(0, 4))
        rest = rest.slice(4)
        break
      }
      case "01":
      case "02":
      case "15":
      case "04": {
        const parsed = getnum(rest, element.std !== "15")
        if (parsed === undefined) return cannot(hold, element.std)
        const [n, after] = parsed
        rest = after
        if (element.std === "01") {
          if (n <= 0 || n > 12) return outOfRange("month")
          month = n
        } else if (element.std === "02") day = n
        else if (element.std === "15" && n >= 24) return outOfRange("hour")
        else if (element.std === "04" && n >= 60) return outOfRange("minute")
        break
      }
      case "05": {
        const parsed = getnum(rest, true)
        if (parsed === undefined) return cannot(hold, element.std)
        const [n, after] = parsed
        rest = after
        if (n >= 60) return outOfRange("second")
        if (layout === RFC3339 && rest.length >= 2 && (rest[0] === "." || rest[0] === ",") && isDigit(rest, 1)) {
          let end = 2
          while (isDigit(rest, end)) end++
          rest = rest.slice(end)
        }
        break
      }
      case ".000000": {
        if (rest.length < 7 || (rest[0] !== "." && rest[0] !== ",") || !/^[0-9]{6}$/.test(rest.slice(1, 7))) return cannot(hold, element.std)
        rest = rest.slice(7)
        break
      }
      case "Z07:00": {
        if (rest.startsWith("Z")) {
          rest = rest.slice(1)
          break
        }
        if (rest.length < 6 || rest[3] !== ":" || (rest[0] !== "+" && rest[0] !== "-") || !/^[0-9]{2}$/.test(rest.slice(1, 3)) || !/^[0-9]{2}$/.test(rest.slice(4, 6))) {
          return cannot(hold, element.std)
        }
        if (Number(rest.slice(1, 3)) > 24) return outOfRange("time zone offset hour")
        if (Number(rest.slice(4, 6)) > 60) return outOfRange("time zone offset minute")
        rest = rest.slice(6)
        break
      }
    }
  }
  if (rest.length > 0) return `parsing time ${goQuote(value)}: extra text: ${goQuote(rest)}`
  if (day < 1 || day > daysIn(month, year)) return `parsing time ${goQuote(value)}: day out of range`
  return undefined
}
