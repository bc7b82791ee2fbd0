/** The `openAPIV3Schema` of a CustomResourceDefinition version (apiextensions.k8s.io/v1 `JSONSchemaProps`), as far as the simulator reads it. */
export interface SchemaProps {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean"
  format?: string
  description?: string
  nullable?: boolean
  default?: unknown
  enum?: ReadonlyArray<unknown>
  required?: ReadonlyArray<string>
  properties?: Readonly<Record<string, SchemaProps>>
  additionalProperties?: SchemaProps | boolean
  items?: SchemaProps
  minimum?: number
  maximum?: number
  exclusiveMinimum?: boolean
  exclusiveMaximum?: boolean
  multipleOf?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  minProperties?: number
  maxProperties?: number
  allOf?: ReadonlyArray<SchemaProps>
  anyOf?: ReadonlyArray<SchemaProps>
  oneOf?: ReadonlyArray<SchemaProps>
  not?: SchemaProps
  "x-kubernetes-int-or-string"?: boolean
  "x-kubernetes-preserve-unknown-fields"?: boolean
  "x-kubernetes-embedded-resource"?: boolean
  "x-kubernetes-list-type"?: "atomic" | "set" | "map"
  "x-kubernetes-list-map-keys"?: ReadonlyArray<string>
  "x-kubernetes-map-type"?: "granular" | "atomic"
  "x-kubernetes-validations"?: ReadonlyArray<ValidationRule>
}

/** One CEL rule of `x-kubernetes-validations`. */
export interface ValidationRule {
  rule: string
  message?: string
  messageExpression?: string
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate"
  fieldPath?: string
  optionalOldSelf?: boolean
}

/** One field error of a `422 Invalid` answer: the `details.causes` entry a real server writes. */
export interface FieldCause {
  /** `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, `FieldValueTypeInvalid`, `FieldValueForbidden`, `FieldValueTooLong`, `FieldValueTooMany`, `FieldValueDuplicate`. */
  reason: string
  /** The error without its field path, e.g. `Invalid value: "two": spec.replicas in body must be of type integer: "string"`. */
  message: string
  /** The field path as a real server prints it: `spec.services.Frontend.replicas`, `spec.containers[0].name`, `metadata.labels`. */
  field: string
}
