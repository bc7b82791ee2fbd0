/**
 * The three patch types of `PATCH` as a real API server applies them: JSON patch (RFC 6902, with the quirks of the
 * `evanphx/json-patch` v4 library Kubernetes uses), JSON merge patch (RFC 7386, same library) and strategic merge
 * patch for the built-in kinds (`k8s.io/apimachinery/pkg/util/strategicpatch`), with the real status codes.
 */
import { StatusError, type StatusBody, badRequest } from "./errors.ts"
import type { ResourceType } from "./types.ts"

type Json = null | boolean | number | string | Array<Json> | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === "object" && !Array.isArray(value)
const clone = <T>(value: T): T => (value === undefined ? value : structuredClone(value))
const hasOwn = (object: object, key: string) => Object.hasOwn(object, key)

/** The most operations a JSON patch may have (`maxJSONPatchOperations`). */
export const MAX_JSON_PATCH_OPERATIONS = 10_000

/** What a real server answers when applying a patch fails: 422 with a fixed message, the library's text dropped. */
const unprocessable = () =>
  new StatusError(422, "Invalid", "the server rejected our request due to an error in our request", {})

/** A 500 whose `Status` has no `reason`, as a real server answers errors it does not classify. */
class UnclassifiedError extends StatusError {
  constructor(message: string) {
    super(500, "", message)
  }

  override get body(): StatusBody {
    const { reason: _reason, ...body } = super.body
    return body as StatusBody
  }
}

/** What a real server answers for an error it does not classify: 500, no reason, the error text as message. */
const unclassified = (message: string) => new UnclassifiedError(message)

/** The patched document is not an object: the typed decode of a real server fails with 422 Invalid. */
const notAnObject = (patched: unknown) => {
  const detail = `json: cannot unmarshal ${goJsonKind(patched)} into Go value of type map[string]interface {}`
  return new StatusError(422, "Invalid", ` "" is invalid: patch: Invalid value: ${JSON.stringify(JSON.stringify(patched))}: ${detail}`, {
    causes: [{ reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(JSON.stringify(patched))}: ${detail}`, field: "patch" }]
  })
}

/** How Go's `encoding/json` names a JSON value's kind in unmarshal errors. */
const goJsonKind = (value: unknown): string => {
  if (Array.isArray(value)) return "array"
  if (value === null) return "null"
  if (typeof value === "boolean") return "bool"
  return typeof value
}

/** `fmt.Sprintf("%v", value)` of a decoded JSON value. */
const goFormat = (value: unknown): string => {
  if (value === null || value === undefined) return "<nil>"
  if (Array.isArray(value)) return `[${value.map(goFormat).join(" ")}]`
  if (isObject(value)) {
    return `map[${Object.keys(value).sort().map((key) => `${key}:${goFormat(value[key])}`).join(" ")}]`
  }
  return String(value)
}

const deepEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, index) => deepEqual(item, b[index]))
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((key) => hasOwn(b, key) && deepEqual(a[key], b[key]))
  }
  return false
}

// ---------------------------------------------------------------------------------------------------------------
// JSON patch (RFC 6902 as gopkg.in/evanphx/json-patch.v4 applies it)

class PatchFailure extends Error {}

type Container = JsonObject | Array<Json>

const decodeKey = (part: string) => part.replaceAll("~1", "/").replaceAll("~0", "~")

/** `strconv.Atoi`: optional sign, decimal digits. */
const atoi = (key: string): number => {
  if (!/^[+-]?\d+$/.test(key)) throw new PatchFailure(`strconv.Atoi: parsing "${key}": invalid syntax`)
  return Number(key)
}

const invalidIndex = (index: number) => new PatchFailure(`Unable to access invalid index: ${index}: invalid index referenced`)

const containerGet = (container: Container, key: string): Json | undefined => {
  if (!Array.isArray(container)) return hasOwn(container, key) ? container[key] : undefined
  let index = atoi(key)
  if (index < 0) {
    if (index < -container.length) throw invalidIndex(index)
    index += container.length
  }
  if (index >= container.length) throw invalidIndex(index)
  return container[index]
}

const containerSet = (container: Container, key: string, value: Json): void => {
  if (!Array.isArray(container)) {
    container[key] = value
    return
  }
  let index = atoi(key)
  if (index < 0) {
    if (index < -container.length) throw invalidIndex(index)
    index += container.length
  }
  container[index] = value
}

const containerAdd = (container: Container, key: string, value: Json): void => {
  if (!Array.isArray(container)) {
    container[key] = value
    return
  }
  if (key === "-") {
    container.push(value)
    return
  }
  let index = atoi(key)
  const size = container.length + 1
  if (index >= size) throw invalidIndex(index)
  if (index < 0) {
    if (index < -size) throw invalidIndex(index)
    index += size
  }
  container.splice(index, 0, value)
}

const containerRemove = (container: Container, key: string): void => {
  if (!Array.isArray(container)) {
    if (!hasOwn(container, key)) throw new PatchFailure(`Unable to remove nonexistent key: ${key}: missing value`)
    delete container[key]
    return
  }
  let index = atoi(key)
  if (index >= container.length) throw invalidIndex(index)
  if (index < 0) {
    if (index < -container.length) throw invalidIndex(index)
    index += container.length
  }
  container.splice(index, 1)
}

/** The container holding the last segment of `path`, and that segment: `undefined` when any parent is missing. */
const findObject = (doc: Container, path: string): [Container, string] | undefined => {
  const split = path.split("/")
  if (split.length < 2) return undefined
  let current: Container = doc
  for (const part of split.slice(1, -1)) {
    let next: Json | undefined
    try {
      next = containerGet(current, decodeKey(part))
    } catch {
      return undefined
    }
    if (next === undefined || next === null || typeof next !== "object") return undefined
    current = next
  }
  return [current, decodeKey(split[split.length - 1]!)]
}

type Operation = Record<string, Json>

const stringField = (operation: Operation, field: "path" | "from"): string => {
  const value = operation[field]
  if (value === undefined || value === null) throw new PatchFailure(`operation missing ${field} field: missing value`)
  if (typeof value !== "string") throw new PatchFailure(`json: cannot unmarshal ${goJsonKind(value)} into Go value of type string`)
  return value
}

/** The operation's `value`: `undefined` when absent (Go nil node); JSON null stays null. */
const valueOf = (operation: Operation): Json | undefined => (hasOwn(operation, "value") ? operation["value"] : undefined)

const applyOperation = (root: { doc: Container }, operation: Operation): void => {
  const kind = typeof operation["op"] === "string" ? operation["op"] : "unknown"
  const locate = (path: string, what: string): [Container, string] => {
    const found = findObject(root.doc, path)
    if (found === undefined) throw new PatchFailure(`${kind} operation does not apply: doc is missing ${what}: ${path}`)
    return found
  }
  switch (kind) {
    case "add": {
      const [container, key] = locate(stringField(operation, "path"), "path")
      containerAdd(container, key, clone(valueOf(operation)) ?? null)
      return
    }
    case "remove": {
      const [container, key] = locate(stringField(operation, "path"), "path")
      containerRemove(container, key)
      return
    }
    case "replace": {
      const path = stringField(operation, "path")
      if (path === "") {
        const value = valueOf(operation)
        if (value === undefined || value === null || typeof value !== "object") throw new PatchFailure("replace operation value must be object or array")
        root.doc = clone(value)
        return
      }
      const [container, key] = locate(path, "path")
      containerGet(container, key)
      containerSet(container, key, clone(valueOf(operation)) ?? null)
      return
    }
    case "move": {
      const [from, fromKey] = locate(stringField(operation, "from"), "from path")
      const value = containerGet(from, fromKey)
      containerRemove(from, fromKey)
      const [to, toKey] = locate(stringField(operation, "path"), "destination path")
      containerAdd(to, toKey, value ?? null)
      return
    }
    case "copy": {
      const [from, fromKey] = locate(stringField(operation, "from"), "from path")
      const value = containerGet(from, fromKey)
      const [to, toKey] = locate(stringField(operation, "path"), "destination path")
      containerAdd(to, toKey, clone(value) ?? null)
      return
    }
    case "test": {
      const path = stringField(operation, "path")
      const expected = valueOf(operation)
      if (path === "") {
        if (!deepEqual(root.doc, expected)) throw new PatchFailure(`testing value ${path} failed: test failed`)
        return
      }
      const [container, key] = locate(path, "path")
      const actual = containerGet(container, key)
      if (actual === undefined || actual === null) {
        if (expected === undefined || expected === null) return
        throw new PatchFailure(`testing value ${path} failed: test failed`)
      }
      if (expected === undefined || !deepEqual(actual, expected)) throw new PatchFailure(`testing value ${path} failed: test failed`)
      return
    }
    default:
      throw new PatchFailure(`Unexpected kind: ${kind}`)
  }
}

/**
 * Applies an RFC 6902 JSON patch the way a real API server does (evanphx/json-patch v4): negative array indices,
 * `replace` of a missing object key adds it, `test` of a missing key with a null value passes. A document that is
 * not an array of objects is 400 BadRequest with Go's decode message; more than 10000 operations is 413; any
 * failing operation (missing path, failed `test`, unknown `op`) is 422 Invalid "the server rejected our request due
 * to an error in our request". The target is not modified.
 */
export const applyJsonPatch = (target: unknown, operations: unknown): unknown => {
  if (operations === null) return clone(target)
  if (!Array.isArray(operations)) throw badRequest(`json: cannot unmarshal ${goJsonKind(operations)} into Go value of type jsonpatch.Patch`)
  for (const operation of operations) {
    if (operation !== null && !isObject(operation)) {
      throw badRequest(`json: cannot unmarshal ${goJsonKind(operation)} into Go value of type jsonpatch.Operation`)
    }
  }
  if (operations.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new StatusError(
      413,
      "RequestEntityTooLarge",
      `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${operations.length}`
    )
  }
  if (target === null || typeof target !== "object") throw unprocessable()
  const root = { doc: clone(target) as Container }
  try {
    for (const operation of operations as Array<Operation | null>) applyOperation(root, operation ?? {})
  } catch (error) {
    if (error instanceof PatchFailure) throw unprocessable()
    throw error
  }
  if (isObject(target) && !isObject(root.doc)) throw notAnObject(root.doc)
  return root.doc
}

// ---------------------------------------------------------------------------------------------------------------
// JSON merge patch

/** RFC 7386 `MergePatch` exactly as the RFC defines it (null removes, objects merge, anything else replaces). */
export const mergePatch = (target: unknown, patch: unknown): unknown => {
  if (!isObject(patch)) return clone(patch)
  const result: JsonObject = isObject(target) ? clone(target) : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = mergePatch(result[key], value) as Json
  }
  return result
}

const pruneNulls = (value: Json): Json => {
  if (Array.isArray(value)) return value.filter((item) => item !== null).map(pruneNulls)
  if (isObject(value)) {
    const pruned: JsonObject = {}
    for (const [key, item] of Object.entries(value)) if (item !== null) pruned[key] = pruneNulls(item)
    return pruned
  }
  return value
}

const mergeDocs = (doc: JsonObject, patch: JsonObject): void => {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete doc[key]
      continue
    }
    const current = doc[key]
    if (current === undefined || current === null) doc[key] = pruneNulls(value)
    else if (!isObject(current)) doc[key] = pruneNulls(value)
    else if (!isObject(value)) doc[key] = value
    else mergeDocs(current, value)
  }
}

/**
 * Applies a JSON merge patch as a real API server does (evanphx/json-patch v4 `MergePatch`): RFC 7386, except that
 * nulls are also pruned from arrays of newly set values. A `null` or scalar patch is 400 BadRequest
 * "Invalid JSON Patch"; an array patch replaces the object and fails the typed decode with 422 Invalid.
 */
export const applyMergePatch = (target: unknown, patch: unknown): unknown => {
  if (patch === null || typeof patch !== "object") throw badRequest("Invalid JSON Patch")
  if (Array.isArray(patch)) {
    const replaced = pruneNulls(clone(patch) as Json)
    if (isObject(target)) throw notAnObject(replaced)
    return replaced
  }
  if (!isObject(target)) return pruneNulls(clone(patch) as Json)
  const doc = clone(target)
  mergeDocs(doc, clone(patch) as JsonObject)
  return doc
}

// ---------------------------------------------------------------------------------------------------------------
// Strategic merge patch

/** Patch metadata of one field, from the `patchStrategy`/`patchMergeKey` tags of the Go types. */
interface FieldMeta {
  /** `merge` for lists merged by key (or as a set, for primitives); lists without it are replaced. */
  readonly list?: "merge"
  readonly key?: string
  /** The schema of the field's object, or of the list's items. */
  readonly of?: Schema
}
type Schema = Readonly<Record<string, FieldMeta>>

const byKey = (key: string, of?: Schema): FieldMeta => (of === undefined ? { list: "merge", key } : { list: "merge", key, of })
const conditions = byKey("type")

const OBJECT_META: Schema = { finalizers: { list: "merge" }, ownerReferences: byKey("uid") }
const CONTAINER: Schema = {
  ports: byKey("containerPort"),
  env: byKey("name"),
  volumeMounts: byKey("mountPath"),
  volumeDevices: byKey("devicePath")
}
const POD_SPEC: Schema = {
  volumes: byKey("name"),
  initContainers: byKey("name", CONTAINER),
  containers: byKey("name", CONTAINER),
  ephemeralContainers: byKey("name", CONTAINER),
  imagePullSecrets: byKey("name"),
  hostAliases: byKey("ip"),
  topologySpreadConstraints: byKey("topologyKey"),
  schedulingGates: byKey("name"),
  resourceClaims: byKey("name")
}
const POD_STATUS: Schema = {
  conditions,
  podIPs: byKey("ip"),
  hostIPs: byKey("ip"),
  resourceClaimStatuses: byKey("name")
}
const POD_TEMPLATE: Schema = { metadata: { of: OBJECT_META }, spec: { of: POD_SPEC } }
const withMeta = (schema: Schema): Schema => ({ metadata: { of: OBJECT_META }, ...schema })

/** Strategic merge patch schemas of the built-in kinds served, by kind. Other kinds: only `metadata` has strategies. */
const KIND_SCHEMAS: Readonly<Record<string, Schema>> = {
  Pod: withMeta({ spec: { of: POD_SPEC }, status: { of: POD_STATUS } }),
  PodTemplate: withMeta({ template: { of: POD_TEMPLATE } }),
  Job: withMeta({ spec: { of: { template: { of: POD_TEMPLATE } } }, status: { of: { conditions } } }),
  Service: withMeta({ spec: { of: { ports: byKey("port") } }, status: { of: { conditions } } }),
  Node: withMeta({ spec: { of: { podCIDRs: { list: "merge" } } }, status: { of: { conditions, addresses: byKey("type") } } }),
  Namespace: withMeta({ status: { of: { conditions } } }),
  ServiceAccount: withMeta({ secrets: byKey("name") }),
  ResourceClaim: withMeta({ status: { of: { reservedFor: byKey("uid") } } })
}

const DIRECTIVE = "$patch"
const RETAIN_KEYS = "$retainKeys"
const DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"
const SET_ELEMENT_ORDER = "$setElementOrder/"
const isDirectiveKey = (key: string) =>
  key === DIRECTIVE || key === RETAIN_KEYS || key.startsWith(DELETE_FROM_PRIMITIVE_LIST) || key.startsWith(SET_ELEMENT_ORDER)

/** A value taken whole from the patch, as the typed decode leaves it: nulls and directive keys gone. */
const fromPatch = (value: Json): Json => {
  if (Array.isArray(value)) return value.map(fromPatch)
  if (isObject(value)) {
    const out: JsonObject = {}
    for (const [key, item] of Object.entries(value)) if (item !== null && !isDirectiveKey(key)) out[key] = fromPatch(item)
    return out
  }
  return value
}

const noMergeKey = (map: JsonObject, key: string) => unclassified(`map: ${goFormat(map)} does not contain declared merge key: ${key}`)
const badPatchType = (directive: Json, map: JsonObject) => unclassified(`unknown patch type: ${goFormat(directive)} in map: ${goFormat(map)}`)

type ElementKind = "map" | "primitive"

const elementKind = (...lists: Array<ReadonlyArray<Json>>): ElementKind | undefined => {
  let kind: string | undefined
  for (const list of lists) {
    for (const item of list) {
      const current = Array.isArray(item) ? "list" : isObject(item) ? "map" : item === null ? "null" : typeof item
      if (kind === undefined) {
        if (current === "list") throw unprocessable()
        kind = current
      } else if (kind !== current) {
        throw unclassified(`list element types are not identical: ${goFormat(lists as Array<Json>)}`)
      }
    }
  }
  if (kind === undefined) return undefined
  return kind === "map" ? "map" : "primitive"
}

const keyOf = (item: Json, key: string, kind: ElementKind): Json | undefined => (kind === "map" ? (item as JsonObject)[key] : item)

const indexIn = (list: ReadonlyArray<Json>, item: Json, key: string, kind: ElementKind): number => {
  const wanted = keyOf(item, key, kind)
  return list.findIndex((candidate) => (kind === "map" ? isObject(candidate) && candidate[key] === wanted : candidate === wanted))
}

const requireKeys = (lists: ReadonlyArray<ReadonlyArray<Json>>, key: string): void => {
  for (const list of lists) {
    for (const item of list) {
      if (!isObject(item)) throw unclassified(`expected a map, but received a ${goJsonKind(item)}`)
      if (!hasOwn(item, key)) throw noMergeKey(item, key)
    }
  }
}

/** Splits `merged` into the items present in `by` (by merge key for maps) and the server-only rest. */
const partition = (merged: ReadonlyArray<Json>, by: ReadonlyArray<Json>, key: string, kind: ElementKind): [Array<Json>, Array<Json>] => {
  if (kind === "map") requireKeys([merged], key)
  const present: Array<Json> = []
  const serverOnly: Array<Json> = []
  for (const item of merged) (indexIn(by, item, key, kind) >= 0 ? present : serverOnly).push(item)
  return [present, serverOnly]
}

const sortBy = (items: Array<Json>, order: ReadonlyArray<Json>, key: string, kind: ElementKind): Array<Json> => {
  if (kind === "map") requireKeys([items, order.filter((item) => !(isObject(item) && item[DIRECTIVE] === "delete"))], key)
  return items
    .map((item, position) => ({ item, position, rank: indexIn(order, item, key, kind) }))
    .sort((a, b) => (a.rank >= 0 && b.rank >= 0 ? a.rank - b.rank : 0) || a.position - b.position)
    .map(({ item }) => item)
}

/**
 * `normalizeElementOrder`: patch items in patch order, server-only items in server order, interleaved by the
 * server order where both are known — so items new to the server come before the server items they meet.
 */
const normalizeOrder = (
  patchItems: Array<Json>,
  serverOnly: Array<Json>,
  patchOrder: ReadonlyArray<Json>,
  serverOrder: ReadonlyArray<Json>,
  key: string,
  kind: ElementKind
): Array<Json> => {
  const right = sortBy(patchItems, patchOrder, key, kind)
  const left = sortBy(serverOnly, serverOrder, key, kind)
  const out: Array<Json> = []
  let i = 0
  let j = 0
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]!)
    else if (j >= right.length) out.push(left[i++]!)
    else {
      const li = indexIn(serverOrder, left[i]!, key, kind)
      const ri = indexIn(serverOrder, right[j]!, key, kind)
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]!)
      else out.push(right[j++]!)
    }
  }
  return out
}

/** `mergeSliceWithSpecialElements`: applies `$patch: delete` items, and `$patch: replace` (the list becomes the patch). */
const specialElements = (original: Array<Json>, patch: ReadonlyArray<Json>, key: string): [Array<Json>, Array<Json>] => {
  const plain: Array<Json> = []
  let replace = false
  let kept = original
  for (const item of patch) {
    const map = item as JsonObject
    if (!hasOwn(map, DIRECTIVE)) {
      plain.push(item)
      continue
    }
    const directive = map[DIRECTIVE]
    if (directive === "delete") {
      if (!hasOwn(map, key)) throw noMergeKey(map, key)
      kept = kept.filter((candidate) => !(isObject(candidate) && candidate[key] === map[key]))
    } else if (directive === "replace") replace = true
    else if (directive === "merge") throw unclassified("merging lists cannot yet be specified in the patch")
    else throw badPatchType(directive ?? null, map)
  }
  return replace ? [plain.map(fromPatch), []] : [kept, plain]
}

const mergeSlice = (original: Array<Json>, patch: Array<Json>, meta: FieldMeta | undefined, deleteList: boolean): Array<Json> => {
  if (original.length === 0 && patch.length === 0) return original
  const kind = elementKind(original, patch) ?? "primitive"
  const key = meta?.key ?? ""
  let merged: Array<Json>
  if (kind === "primitive") {
    if (deleteList) return original.filter((item) => !patch.includes(item))
    merged = [...new Set([...original, ...patch])]
  } else {
    if (key === "") throw unclassified("cannot merge lists without merge key for type struct")
    ;[original, patch] = specialElements(original, patch, key)
    merged = [...original]
    for (const item of patch) {
      const map = item as JsonObject
      if (!hasOwn(map, key)) throw noMergeKey(map, key)
      const index = merged.findIndex((candidate) => {
        if (!isObject(candidate)) throw unclassified(`expected a map, but received a ${goJsonKind(candidate)}`)
        return candidate[key] === map[key]
      })
      if (index >= 0) merged[index] = mergeMap(merged[index] as JsonObject, map, meta?.of)
      else merged.push(fromPatch(map))
    }
  }
  const [patchItems, serverOnly] = partition(merged, patch, key, kind)
  return normalizeOrder(patchItems, serverOnly, patch, original, key, kind)
}

const mergeList = (original: Array<Json>, patch: Array<Json>, meta: FieldMeta | undefined, deleteList: boolean): Array<Json> =>
  meta?.list === "merge" || deleteList ? mergeSlice(original, patch, meta, deleteList) : (fromPatch(patch) as Array<Json>)

const applyRetainKeys = (original: JsonObject, patch: JsonObject): void => {
  if (!hasOwn(patch, RETAIN_KEYS)) return
  const retain = patch[RETAIN_KEYS]
  delete patch[RETAIN_KEYS]
  if (!Array.isArray(retain)) throw badRequest("invalid patch format of retainKeys")
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || key.startsWith(DELETE_FROM_PRIMITIVE_LIST) || key.startsWith(SET_ELEMENT_ORDER)) continue
    if (!retain.includes(key)) throw badRequest("invalid patch format of retainKeys")
  }
  for (const key of Object.keys(original)) if (!retain.includes(key)) delete original[key]
}

const checkOrderList = (patchList: ReadonlyArray<Json>, order: ReadonlyArray<Json>, key: string, kind: ElementKind): void => {
  if (order.length === 0 || patchList.length === 0) return
  const items = kind === "map" ? patchList.filter((item) => !(isObject(item) && item[DIRECTIVE] === "delete")) : patchList
  let position = 0
  for (const item of items) {
    while (position < order.length && keyOf(order[position]!, key, kind) !== keyOf(item, key, kind)) position++
    if (position >= order.length) throw badRequest("invalid patch format of setElementOrder list")
  }
}

/** `$setElementOrder/<field>`: merges the field's patch list (if any) and orders the result as the directive says. */
const applySetElementOrder = (original: JsonObject, patch: JsonObject, schema: Schema | undefined): void => {
  for (const directiveKey of Object.keys(patch)) {
    if (!directiveKey.startsWith(SET_ELEMENT_ORDER)) continue
    const order = patch[directiveKey]
    delete patch[directiveKey]
    const field = directiveKey.slice(SET_ELEMENT_ORDER.length)
    const meta = schema?.[field]
    if (meta?.list !== "merge") continue
    if (!Array.isArray(order)) throw badRequest("invalid patch format of setElementOrder list")
    const originalList = original[field]
    const patchList = patch[field]
    if (originalList !== undefined && !Array.isArray(originalList)) throw unclassified(`expected a []interface {}, but received a ${goJsonKind(originalList)}`)
    if (patchList !== undefined && !Array.isArray(patchList)) throw badRequest("invalid patch format of setElementOrder list")
    const key = meta.key ?? ""
    const kind = elementKind(originalList ?? [], patchList ?? [], order) ?? "primitive"
    checkOrderList(patchList ?? [], order, key, kind)
    let merged: Array<Json>
    if (originalList !== undefined && patchList === undefined) merged = originalList
    else if (originalList === undefined && patchList !== undefined) merged = fromPatch(patchList) as Array<Json>
    else if (originalList !== undefined && patchList !== undefined) merged = mergeList(originalList, patchList, meta, false)
    else continue
    delete patch[field]
    const [patchItems, serverOnly] = partition(merged, order, key, kind)
    original[field] = normalizeOrder(patchItems, serverOnly, order, originalList ?? [], key, kind)
  }
}

const mergeMap = (original: JsonObject | undefined, patch: JsonObject, schema: Schema | undefined): JsonObject => {
  if (hasOwn(patch, DIRECTIVE)) {
    const directive = patch[DIRECTIVE]
    if (directive === "replace") return fromPatch(patch) as JsonObject
    if (directive === "delete") return {}
    throw badPatchType(directive ?? null, patch)
  }
  const target = original ?? {}
  applyRetainKeys(target, patch)
  applySetElementOrder(target, patch, schema)
  for (const [patchKey, value] of Object.entries(patch)) {
    let key = patchKey
    const deleteList = patchKey.startsWith(DELETE_FROM_PRIMITIVE_LIST)
    if (deleteList) key = patchKey.slice(DELETE_FROM_PRIMITIVE_LIST.length)
    else if (isDirectiveKey(patchKey)) continue
    if (value === null) {
      delete target[key]
      continue
    }
    const meta = schema?.[key]
    if (!hasOwn(target, key)) {
      if (!deleteList) target[key] = fromPatch(value)
      continue
    }
    const current = target[key]!
    if (Array.isArray(current) && Array.isArray(value)) target[key] = mergeList(current, value, meta, deleteList)
    else if (isObject(current) && isObject(value)) target[key] = mergeMap(current, value, meta?.of)
    else if (!deleteList) target[key] = fromPatch(value)
  }
  return target
}

/** Whether a real server accepts `application/strategic-merge-patch+json` for the type: not for custom resources. */
export const strategicPatchSupported = (type: ResourceType): boolean => type.custom !== true

/**
 * Applies a strategic merge patch as a real API server does for a built-in `kind`: maps merge (null deletes), lists
 * with a `patchMergeKey` (containers, env, volumes, ports, volumeMounts, conditions, finalizers as a set…) merge by
 * key with the real element order, other lists are replaced; `$patch: replace|delete` in maps and list items,
 * `$retainKeys`, `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` are honoured. A patch that is not a
 * JSON object is 400; malformed directives are 400, 422 or 500 as the real server answers. Unknown kinds patch like
 * kinds without list strategies.
 */
export const applyStrategicMergePatch = (target: unknown, patch: unknown, kind: string): unknown => {
  if (patch === null) return clone(target)
  if (!isObject(patch)) throw badRequest(`json: cannot unmarshal ${goJsonKind(patch)} into Go value of type map[string]interface {}`)
  const schema = KIND_SCHEMAS[kind] ?? withMeta({})
  return mergeMap(isObject(target) ? clone(target) : {}, clone(patch), schema)
}
