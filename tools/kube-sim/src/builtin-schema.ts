/**
 * The two schema sources of the built-in kinds, loaded synchronously on first use:
 * `@kubernetes/client-node` model classes (`attributeTypeMap`: the set of known fields, their JSON names and types)
 * and `kubernetes-models` precompiled ajv validators (required fields, enums, formats). See
 * docs/adr/0003-kube-sim-builtin-schemas.md.
 */
import { createRequire } from "node:module"
import { dirname, join } from "node:path"

const require = createRequire(import.meta.url)

/** One field of a client-node model class. */
interface Attribute {
  readonly name: string
  readonly baseName: string
  readonly type: string
  readonly format: string
}

/** The type of a field, parsed from client-node's TypeScript type text. */
export type FieldType =
  | { readonly kind: "string" | "boolean" | "Date" | "any" | "IntOrString" | "number"; readonly format: string }
  | { readonly kind: "array"; readonly item: FieldType }
  | { readonly kind: "map"; readonly value: FieldType }
  | { readonly kind: "class"; readonly name: string }

/** One error of a kubernetes-models (ajv) validator. */
export interface AjvError {
  readonly instancePath: string
  readonly keyword: string
  readonly params: Readonly<Record<string, unknown>>
}

interface Validator {
  (data: unknown): boolean
  errors?: ReadonlyArray<AjvError> | null
}

const PRIMITIVES = new Set(["string", "boolean", "Date", "any", "IntOrString", "number"])

const parseType = (text: string, format: string): FieldType => {
  const trimmed = text.trim()
  const array = /^Array<(.+)>$/.exec(trimmed)
  if (array) return { kind: "array", item: parseType(array[1]!, format) }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(trimmed)
  if (map) return { kind: "map", value: parseType(map[1]!, format) }
  if (PRIMITIVES.has(trimmed)) return { kind: trimmed as "string", format }
  if (trimmed === "V1MicroTime") return { kind: "Date", format: "date-time-micro" }
  return { kind: "class", name: trimmed }
}

let modelsDir: string | undefined
const classes = new Map<string, ReadonlyMap<string, FieldType> | undefined>()

/** The fields of a client-node model class by JSON name, or `undefined` when the class is unknown. */
export const classFields = (name: string): ReadonlyMap<string, FieldType> | undefined => {
  if (classes.has(name)) return classes.get(name)
  modelsDir ??= join(dirname(require.resolve("@kubernetes/client-node/package.json")), "dist", "gen", "models")
  let fields: Map<string, FieldType> | undefined
  try {
    const module = require(join(modelsDir, `${name}.js`)) as Record<string, { attributeTypeMap?: ReadonlyArray<Attribute> } | undefined>
    const attributes = module[name]?.attributeTypeMap
    if (attributes) fields = new Map(attributes.map((attribute) => [attribute.baseName, parseType(attribute.type, attribute.format)]))
  } catch {
    fields = undefined
  }
  classes.set(name, fields)
  return fields
}

let schemasDir: string | undefined
const validators = new Map<string, Validator>()

/** The kubernetes-models validator of a definition (`IoK8sApiBatchV1Job`). */
export const validatorOf = (definition: string): Validator => {
  const cached = validators.get(definition)
  if (cached) return cached
  schemasDir ??= join(dirname(require.resolve("kubernetes-models/package.json")), "_schemas")
  const validator = (require(join(schemasDir, `${definition}.js`)) as { validate: Validator }).validate
  validators.set(definition, validator)
  return validator
}

/** The errors of validating `object` against a definition, each once. */
export const ajvErrors = (definition: string, object: unknown): ReadonlyArray<AjvError> => {
  const validate = validatorOf(definition)
  if (validate(object)) return []
  return validate.errors ?? []
}

const CLASS_PREFIX = /^(?:[A-Z][a-z]+)?(V\d+(?:(?:alpha|beta)\d+)?)(?=[A-Z])/

/** The Go struct name of a client-node class: `V1JobSpec` → `JobSpec`, `CoreV1Event` → `Event`. */
export const goStructName = (className: string): string => className.replace(CLASS_PREFIX, "")

/** The Go type of a field as `reflect.Type.String()` prints it in unmarshal errors: `int32`, `[]v1.Container`. */
export const goTypeName = (type: FieldType): string => {
  switch (type.kind) {
    case "class": {
      const version = CLASS_PREFIX.exec(type.name)?.[1]?.toLowerCase() ?? "v1"
      return `${version}.${goStructName(type.name)}`
    }
    case "array":
      return `[]${goTypeName(type.item)}`
    case "map":
      return `map[string]${goTypeName(type.value)}`
    case "boolean":
      return "bool"
    case "number":
      return type.format === "int64" ? "int64" : type.format === "double" ? "float64" : "int32"
    case "string":
      return type.format === "byte" ? "[]uint8" : "string"
    case "Date":
      return type.format === "date-time-micro" ? "v1.MicroTime" : "v1.Time"
    case "IntOrString":
      return "intstr.IntOrString"
    case "any":
      return "runtime.RawExtension"
  }
}
