/**
 * Field paths and field sets as structured-merge-diff (`sigs.k8s.io/structured-merge-diff/fieldpath`) defines them,
 * with the `FieldsV1` encoding of `metadata.managedFields` and the path strings of apply conflicts.
 */

export type Json = null | boolean | number | string | Array<Json> | { [key: string]: Json }

/** One step of a field path: a struct or map field, a list-map item by its keys, a set item by value, or a list index. */
export type PathElement =
  | { readonly kind: "field"; readonly name: string }
  | { readonly kind: "key"; readonly fields: ReadonlyArray<readonly [string, Json]> }
  | { readonly kind: "value"; readonly value: Json }
  | { readonly kind: "index"; readonly index: number }

export type Path = ReadonlyArray<PathElement>

export const fieldElement = (name: string): PathElement => ({ kind: "field", name })

/** A list-map item element; the key fields are kept sorted by name, as the real key is. */
export const keyElement = (fields: ReadonlyArray<readonly [string, Json]>): PathElement => ({
  kind: "key",
  fields: [...fields].sort((a, b) => compareStrings(a[0], b[0]))
})

export const valueElement = (value: Json): PathElement => ({ kind: "value", value })

const isObject = (value: unknown): value is { [key: string]: Json } => value !== null && typeof value === "object" && !Array.isArray(value)

/** Go's `strings.Compare`: byte order of the UTF-8 encodings, which is code point order. */
export const compareStrings = (a: string, b: string): number => {
  const left = [...a]
  const right = [...b]
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = left[i]!.codePointAt(0)! - right[i]!.codePointAt(0)!
    if (difference !== 0) return difference < 0 ? -1 : 1
  }
  return left.length === right.length ? 0 : left.length < right.length ? -1 : 1
}

const rank = (value: Json): number => {
  if (typeof value === "number") return 0
  if (typeof value === "string") return 1
  if (typeof value === "boolean") return 2
  if (Array.isArray(value)) return 3
  if (isObject(value)) return 4
  return 5
}

/** The total order of `value.Compare`: numbers, strings, booleans, lists, maps, null. */
export const compareValues = (a: Json, b: Json): number => {
  const byRank = rank(a) - rank(b)
  if (byRank !== 0) return byRank < 0 ? -1 : 1
  if (typeof a === "number" && typeof b === "number") return a === b ? 0 : a < b ? -1 : 1
  if (typeof a === "string" && typeof b === "string") return compareStrings(a, b)
  if (typeof a === "boolean" && typeof b === "boolean") return a === b ? 0 : a ? 1 : -1
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareValues(a[i]!, b[i]!)
      if (c !== 0) return c
    }
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
  }
  if (isObject(a) && isObject(b)) {
    const left = Object.keys(a).sort(compareStrings)
    const right = Object.keys(b).sort(compareStrings)
    for (let i = 0; i < Math.min(left.length, right.length); i++) {
      const c = compareStrings(left[i]!, right[i]!) || compareValues(a[left[i]!]!, b[right[i]!]!)
      if (c !== 0) return c
    }
    return left.length === right.length ? 0 : left.length < right.length ? -1 : 1
  }
  return 0
}

const elementRank = { field: 0, key: 1, value: 2, index: 3 } as const

/** `PathElement.Compare`: fields, then keys, then values, then indices. */
export const compareElements = (a: PathElement, b: PathElement): number => {
  if (a.kind !== b.kind) return elementRank[a.kind] < elementRank[b.kind] ? -1 : 1
  switch (a.kind) {
    case "field":
      return compareStrings(a.name, (b as typeof a).name)
    case "key": {
      const other = (b as typeof a).fields
      for (let i = 0; i < Math.min(a.fields.length, other.length); i++) {
        const c = compareStrings(a.fields[i]![0], other[i]![0]) || compareValues(a.fields[i]![1], other[i]![1])
        if (c !== 0) return c
      }
      return a.fields.length === other.length ? 0 : a.fields.length < other.length ? -1 : 1
    }
    case "value":
      return compareValues(a.value, (b as typeof a).value)
    case "index": {
      const other = (b as typeof a).index
      return a.index === other ? 0 : a.index < other ? -1 : 1
    }
  }
}

/** Go's `encoding/json` text of a value: keys in the given order, `<`, `>`, `&`, U+2028 and U+2029 escaped. */
export const goJson = (value: unknown): string =>
  JSON.stringify(value)
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029")

/** The `FieldsV1` key of an element: `f:name`, `k:{"name":"x"}`, `v:"x"`, `i:0`. Also its identity in a set. */
export const serializeElement = (element: PathElement): string => {
  switch (element.kind) {
    case "field":
      return `f:${element.name}`
    case "key":
      return `k:{${element.fields.map(([name, value]) => `${goJson(name)}:${goJson(value)}`).join(",")}}`
    case "value":
      return `v:${goJson(element.value)}`
    case "index":
      return `i:${element.index}`
  }
}

/** Parses a `FieldsV1` key back into an element; throws on a malformed key. */
export const parseElement = (text: string): PathElement => {
  const body = text.slice(2)
  switch (text.slice(0, 2)) {
    case "f:":
      return fieldElement(body)
    case "k:": {
      const parsed: unknown = JSON.parse(body)
      if (!isObject(parsed)) throw new Error(`expected a map as key of ${text}`)
      return keyElement(Object.entries(parsed))
    }
    case "v:":
      return valueElement(JSON.parse(body) as Json)
    case "i:": {
      if (!/^-?\d+$/.test(body)) throw new Error(`invalid index ${body}`)
      return { kind: "index", index: Number(body) }
    }
    default:
      throw new Error(`unknown path element prefix in ${text}`)
  }
}

/** Go's `%q` of a string. */
export const goQuote = (text: string): string => {
  let out = '"'
  for (const char of text) {
    const code = char.codePointAt(0)!
    if (char === '"' || char === "\\") out += `\\${char}`
    else if (char === "\n") out += "\\n"
    else if (char === "\t") out += "\\t"
    else if (char === "\r") out += "\\r"
    else if (char === "\x07") out += "\\a"
    else if (char === "\b") out += "\\b"
    else if (char === "\f") out += "\\f"
    else if (char === "\v") out += "\\v"
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`
    else out += char
  }
  return `${out}"`
}

/** `value.ToString`: strings quoted, numbers and booleans bare, lists bracketed. */
const valueString = (value: Json): string => {
  if (value === null) return "null"
  if (typeof value === "string") return goQuote(value)
  if (typeof value === "number" || typeof value === "boolean") return String(value)
  if (Array.isArray(value)) return `[${value.map(valueString).join(",")}]`
  return Object.entries(value).map(([key, item]) => `${key}=${valueString(item)}`).join("")
}

/** `PathElement.String`: `.name`, `[name="x",port=80]`, `[="x"]`, `[0]`. */
export const elementString = (element: PathElement): string => {
  switch (element.kind) {
    case "field":
      return `.${element.name}`
    case "key":
      return `[${element.fields.map(([name, value]) => `${name}=${valueString(value)}`).join(",")}]`
    case "value":
      return `[=${valueString(element.value)}]`
    case "index":
      return `[${element.index}]`
  }
}

/** `Path.String`: `.spec.containers[name="app"].image`. */
export const pathString = (path: Path): string => path.map(elementString).join("")

interface Child {
  readonly element: PathElement
  readonly set: FieldSet
}

/**
 * An immutable set of field paths, a trie as `fieldpath.Set` is: `members` are the paths that end at this node,
 * `children` the sub-sets below each element.
 */
export class FieldSet {
  private readonly members: ReadonlyMap<string, PathElement>
  private readonly children: ReadonlyMap<string, Child>

  private constructor(members: ReadonlyMap<string, PathElement>, children: ReadonlyMap<string, Child>) {
    this.members = members
    this.children = children
  }

  static readonly EMPTY = new FieldSet(new Map(), new Map())

  static of(paths: Iterable<Path>): FieldSet {
    const members = new Map<string, PathElement>()
    const groups = new Map<string, { element: PathElement; rest: Array<Path> }>()
    for (const path of paths) {
      const head = path[0]
      if (head === undefined) continue
      const id = serializeElement(head)
      if (path.length === 1) members.set(id, head)
      else {
        const group = groups.get(id) ?? { element: head, rest: [] }
        group.rest.push(path.slice(1))
        groups.set(id, group)
      }
    }
    const children = new Map<string, Child>()
    for (const [id, group] of groups) children.set(id, { element: group.element, set: FieldSet.of(group.rest) })
    return new FieldSet(members, children)
  }

  empty(): boolean {
    return this.members.size === 0 && this.children.size === 0
  }

  insert(path: Path): FieldSet {
    if (path.length === 0) return this
    const [head, ...rest] = path as [PathElement, ...Array<PathElement>]
    const id = serializeElement(head)
    if (rest.length === 0) {
      if (this.members.has(id)) return this
      return new FieldSet(new Map([...this.members, [id, head]]), this.children)
    }
    const child = this.children.get(id)?.set ?? FieldSet.EMPTY
    return new FieldSet(this.members, new Map([...this.children, [id, { element: head, set: child.insert(rest) }]]))
  }

  /** Whether `path` is a member (not merely a prefix of one). */
  has(path: Path): boolean {
    if (path.length === 0) return false
    const [head, ...rest] = path as [PathElement, ...Array<PathElement>]
    const id = serializeElement(head)
    if (rest.length === 0) return this.members.has(id)
    return this.children.get(id)?.set.has(rest) ?? false
  }

  hasMember(element: PathElement): boolean {
    return this.members.has(serializeElement(element))
  }

  /** The paths below `element`, relative to it (`Set.WithPrefix`). */
  child(element: PathElement): FieldSet | undefined {
    return this.children.get(serializeElement(element))?.set
  }

  union(other: FieldSet): FieldSet {
    if (other.empty()) return this
    if (this.empty()) return other
    const members = new Map([...this.members, ...other.members])
    const children = new Map(this.children)
    for (const [id, child] of other.children) {
      const mine = children.get(id)
      children.set(id, mine === undefined ? child : { element: child.element, set: mine.set.union(child.set) })
    }
    return new FieldSet(members, children)
  }

  /** Paths of this set that are not members of `other` (children are subtracted path by path). */
  difference(other: FieldSet): FieldSet {
    if (other.empty() || this.empty()) return this
    const members = new Map([...this.members].filter(([id]) => !other.members.has(id)))
    const children = new Map<string, Child>()
    for (const [id, child] of this.children) {
      const theirs = other.children.get(id)
      const rest = theirs === undefined ? child.set : child.set.difference(theirs.set)
      if (!rest.empty()) children.set(id, { element: child.element, set: rest })
    }
    return new FieldSet(members, children)
  }

  intersection(other: FieldSet): FieldSet {
    const members = new Map([...this.members].filter(([id]) => other.members.has(id)))
    const children = new Map<string, Child>()
    for (const [id, child] of this.children) {
      const theirs = other.children.get(id)
      if (theirs === undefined) continue
      const both = child.set.intersection(theirs.set)
      if (!both.empty()) children.set(id, { element: child.element, set: both })
    }
    return new FieldSet(members, children)
  }

  /** Removes every member of `other` together with everything below it (`Set.RecursiveDifference`). */
  recursiveDifference(other: FieldSet): FieldSet {
    if (other.empty() || this.empty()) return this
    const members = new Map([...this.members].filter(([id]) => !other.members.has(id)))
    const children = new Map<string, Child>()
    for (const [id, child] of this.children) {
      if (other.members.has(id)) continue
      const theirs = other.children.get(id)
      const rest = theirs === undefined ? child.set : child.set.recursiveDifference(theirs.set)
      if (!rest.empty()) children.set(id, { element: child.element, set: rest })
    }
    return new FieldSet(members, children)
  }

  /** Rebuilds the set node by node: `adjust` may add members at each node, given the node's path. */
  mapNodes(adjust: (path: Path, children: ReadonlyArray<PathElement>) => ReadonlyArray<PathElement>, path: Path = []): FieldSet {
    const childElements = [...this.children.values()].map((child) => child.element)
    const members = new Map(this.members)
    for (const element of adjust(path, childElements)) members.set(serializeElement(element), element)
    const children = new Map<string, Child>()
    for (const [id, child] of this.children) children.set(id, { element: child.element, set: child.set.mapNodes(adjust, [...path, child.element]) })
    return new FieldSet(members, children)
  }

  /** Every member path, in the order `Set.Iterate` visits them: this node's members sorted, then each child sorted. */
  paths(prefix: Path = []): Array<Path> {
    const out: Array<Path> = this.sortedMembers().map((element) => [...prefix, element])
    for (const child of this.sortedChildren()) out.push(...child.set.paths([...prefix, child.element]))
    return out
  }

  private sortedMembers(): Array<PathElement> {
    return [...this.members.values()].sort(compareElements)
  }

  private sortedChildren(): Array<Child> {
    return [...this.children.values()].sort((a, b) => compareElements(a.element, b.element))
  }

  /** The `FieldsV1` JSON of the set: `{"f:data":{"f:a":{}}}`, with `".": {}` marking nodes that are members and have children. */
  toFieldsV1(): Record<string, unknown> {
    return this.emit(false)
  }

  private emit(self: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    if (self && !this.empty()) out["."] = {}
    const members = this.sortedMembers()
    const children = this.sortedChildren()
    let m = 0
    let c = 0
    while (m < members.length || c < children.length) {
      const member = members[m]
      const child = children[c]
      const order = member === undefined ? 1 : child === undefined ? -1 : compareElements(member, child.element)
      if (order < 0) {
        out[serializeElement(member!)] = {}
        m++
      } else if (order > 0) {
        out[serializeElement(child!.element)] = child!.set.emit(false)
        c++
      } else {
        out[serializeElement(child!.element)] = child!.set.emit(true)
        m++
        c++
      }
    }
    return out
  }

  /** Parses `FieldsV1` JSON; throws on anything that is not a valid encoding. */
  static fromFieldsV1(fields: unknown): FieldSet {
    if (!isObject(fields)) throw new Error("FieldsV1 must be a JSON object")
    const members = new Map<string, PathElement>()
    const children = new Map<string, Child>()
    for (const [text, value] of Object.entries(fields)) {
      if (text === ".") continue
      if (!isObject(value)) throw new Error(`the value of ${text} must be a JSON object`)
      const element = parseElement(text)
      const id = serializeElement(element)
      const entries = Object.keys(value)
      if (entries.length === 0 || entries.includes(".")) members.set(id, element)
      const below = FieldSet.fromFieldsV1(value)
      if (!below.empty()) children.set(id, { element, set: below })
    }
    return new FieldSet(members, children)
  }
}
