/**
 * A small evaluator for the part of CEL that CRD `x-kubernetes-validations` rules use: literals, `self` and
 * `oldSelf`, field selection, indexing, `has()`, `size()`, the string functions, list and map literals, the `all`,
 * `exists`, `exists_one`, `filter` and `map` macros, the logical, relational and arithmetic operators and the
 * ternary. It follows CEL's semantics where rules can tell: `&&`/`||` absorb errors, `int` and `double` are distinct
 * types that compare across, integer arithmetic is checked 64-bit, and a list of `x-kubernetes-list-type` set or map
 * compares equal regardless of order (Kubernetes' value model). Runtime errors carry cel-go's texts (`no such key: x`,
 * `no such overload`, `division by zero`). An expression outside this subset does not compile: `compile` answers a
 * `CelError` and the caller skips the rule.
 */
import type { SchemaProps } from "./schema-types.ts"

/** A CEL evaluation or compilation error; `message` is cel-go's text where one exists. */
export class CelError {
  readonly message: string

  constructor(message: string) {
    this.message = message
  }
}

/** An `optional` value, as `oldSelf` is for rules with `optionalOldSelf: true`. */
export class CelOptional {
  readonly value: CelValue | undefined

  constructor(value?: CelValue) {
    this.value = value
  }
}

/** A CEL value: `int` is a `bigint`, `double` a `number`; lists and maps wrap JSON lazily. */
export type CelValue = null | boolean | bigint | number | string | CelList | CelMap | CelOptional

type Result = CelValue | CelError

const childSchema = (schema: SchemaProps | undefined, key: string): SchemaProps | undefined => {
  if (schema === undefined) return undefined
  if (schema.properties !== undefined && Object.hasOwn(schema.properties, key)) return schema.properties[key]
  return typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined
}

/** A CEL list; a JSON-backed one converts its elements on first access, with the item schema. */
export class CelList {
  readonly size: number
  readonly listType: string | undefined
  readonly mapKeys: ReadonlyArray<string>
  readonly #raw: ReadonlyArray<unknown> | undefined
  readonly #itemSchema: SchemaProps | undefined
  readonly #values: Array<CelValue | undefined>

  private constructor(size: number, values: Array<CelValue | undefined>, raw?: ReadonlyArray<unknown>, schema?: SchemaProps) {
    this.size = size
    this.#values = values
    this.#raw = raw
    this.#itemSchema = schema?.items
    this.listType = schema?.["x-kubernetes-list-type"]
    this.mapKeys = schema?.["x-kubernetes-list-map-keys"] ?? []
  }

  static of(values: Array<CelValue>): CelList {
    return new CelList(values.length, values)
  }

  static json(raw: ReadonlyArray<unknown>, schema: SchemaProps | undefined): CelList {
    return new CelList(raw.length, new Array<CelValue | undefined>(raw.length), raw, schema)
  }

  get(index: number): CelValue {
    const cached = this.#values[index]
    if (cached !== undefined) return cached
    const value = fromJson(this.#raw?.[index], this.#itemSchema)
    this.#values[index] = value
    return value
  }

  values(): Array<CelValue> {
    return Array.from({ length: this.size }, (_, index) => this.get(index))
  }
}

const KEYWORDS = new Set([
  "as", "break", "const", "continue", "else", "false", "for", "function", "if", "import", "in", "let", "loop", "package",
  "namespace", "null", "return", "true", "var", "void", "while"
])

/** The property name a CEL field name stands for (`foo__dash__bar` → `foo-bar`, `__namespace__` → `namespace`). */
const unescapeField = (name: string): string => {
  const keyword = /^__([a-z]+)__$/.exec(name)
  if (keyword !== null && KEYWORDS.has(keyword[1] ?? "")) return keyword[1] ?? name
  return name.replace(/__(underscores|dot|dash|slash)__/g, (_, word: string) =>
    word === "underscores" ? "__" : word === "dot" ? "." : word === "dash" ? "-" : "/")
}

/** A CEL map; a JSON-backed one converts its values on access, with the property or additionalProperties schema. */
export class CelMap {
  readonly #raw: Readonly<Record<string, unknown>> | undefined
  readonly #schema: SchemaProps | undefined
  readonly #entries: ReadonlyArray<readonly [CelValue, CelValue]> | undefined
  readonly #cache = new Map<string, CelValue>()

  private constructor(raw?: Readonly<Record<string, unknown>>, schema?: SchemaProps, entries?: ReadonlyArray<readonly [CelValue, CelValue]>) {
    this.#raw = raw
    this.#schema = schema
    this.#entries = entries
  }

  static of(entries: ReadonlyArray<readonly [CelValue, CelValue]>): CelMap {
    return new CelMap(undefined, undefined, entries)
  }

  static json(raw: Readonly<Record<string, unknown>>, schema: SchemaProps | undefined): CelMap {
    return new CelMap(raw, schema)
  }

  get size(): number {
    return this.#raw === undefined ? (this.#entries?.length ?? 0) : Object.keys(this.#raw).length
  }

  keys(): Array<CelValue> {
    return this.#raw === undefined ? (this.#entries ?? []).map(([key]) => key) : Object.keys(this.#raw)
  }

  get(key: CelValue): CelValue | undefined {
    if (this.#raw === undefined) return this.#entries?.find(([candidate]) => celEquals(candidate, key))?.[1]
    if (typeof key !== "string" || !Object.hasOwn(this.#raw, key)) return undefined
    const cached = this.#cache.get(key)
    if (cached !== undefined) return cached
    const value = fromJson(this.#raw[key], childSchema(this.#schema, key))
    this.#cache.set(key, value)
    return value
  }

  /** The value of a selected field, trying the unescaped property name (`a__dash__b` → `a-b`) second. */
  field(name: string): CelValue | undefined {
    const direct = this.get(name)
    if (direct !== undefined || !name.includes("__")) return direct
    return this.get(unescapeField(name))
  }
}

/** A JSON value as CEL sees it under `schema`: integers are `int` unless the schema says `number`. */
export const fromJson = (raw: unknown, schema: SchemaProps | undefined): CelValue => {
  if (raw === null || raw === undefined) return null
  if (typeof raw === "boolean" || typeof raw === "string") return raw
  if (typeof raw === "number") return schema?.type === "number" || !Number.isInteger(raw) ? raw : BigInt(raw)
  if (Array.isArray(raw)) return CelList.json(raw, schema)
  if (typeof raw === "object") return CelMap.json(raw as Record<string, unknown>, schema)
  return null
}

const isNumber = (value: CelValue): value is bigint | number => typeof value === "bigint" || typeof value === "number"

const numbersEqual = (a: bigint | number, b: bigint | number): boolean => {
  if (typeof a === typeof b) return a === b
  const [int, double] = typeof a === "bigint" ? [a, b as number] : [b as bigint, a as number]
  return Number.isInteger(double) && BigInt(double) === int
}

const mapKeyOf = (list: CelList, item: CelValue): Array<CelValue | undefined> | undefined =>
  item instanceof CelMap ? list.mapKeys.map((key) => item.get(key)) : undefined

const listsEqual = (a: CelList, b: CelList): boolean => {
  if (a.size !== b.size) return false
  if (a.listType === "set" || b.listType === "set") {
    return a.values().every((item) => b.values().some((other) => celEquals(item, other)))
  }
  const keyed = a.listType === "map" ? a : b.listType === "map" ? b : undefined
  if (keyed !== undefined && keyed.mapKeys.length > 0) {
    return a.values().every((item) => {
      const key = mapKeyOf(keyed, item)
      const match = b.values().find((other) => {
        const otherKey = mapKeyOf(keyed, other)
        return key !== undefined && otherKey !== undefined &&
          key.every((part, index) => part === undefined ? otherKey[index] === undefined : otherKey[index] !== undefined && celEquals(part, otherKey[index] ?? null))
      })
      return match !== undefined && celEquals(item, match)
    })
  }
  for (let index = 0; index < a.size; index++) if (!celEquals(a.get(index), b.get(index))) return false
  return true
}

const mapsEqual = (a: CelMap, b: CelMap): boolean => {
  if (a.size !== b.size) return false
  return a.keys().every((key) => {
    const other = b.get(key)
    const value = a.get(key)
    return other !== undefined && value !== undefined && celEquals(value, other)
  })
}

/** CEL equality: heterogeneous (`1 == 1.0`, `1 == 'a'` is false), deep for lists and maps. */
export const celEquals = (a: CelValue, b: CelValue): boolean => {
  if (a === b) return true
  if (isNumber(a) && isNumber(b)) return numbersEqual(a, b)
  if (a instanceof CelList && b instanceof CelList) return listsEqual(a, b)
  if (a instanceof CelMap && b instanceof CelMap) return mapsEqual(a, b)
  if (a instanceof CelOptional && b instanceof CelOptional) {
    return a.value === undefined ? b.value === undefined : b.value !== undefined && celEquals(a.value, b.value)
  }
  return false
}

const noOverload = () => new CelError("no such overload")

const INT_MIN = -(2n ** 63n)
const INT_MAX = 2n ** 63n - 1n
const checked = (value: bigint): Result => (value < INT_MIN || value > INT_MAX ? new CelError("integer overflow") : value)

const compare = (a: CelValue, b: CelValue): number | CelError => {
  if (isNumber(a) && isNumber(b)) {
    if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0
    const x = Number(a)
    const y = Number(b)
    return x < y ? -1 : x > y ? 1 : 0
  }
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b)
  return noOverload()
}

const arithmetic = (op: string, a: CelValue, b: CelValue): Result => {
  if (typeof a === "bigint" && typeof b === "bigint") {
    switch (op) {
      case "+": return checked(a + b)
      case "-": return checked(a - b)
      case "*": return checked(a * b)
      case "/": return b === 0n ? new CelError("division by zero") : checked(a / b)
      case "%": return b === 0n ? new CelError("modulus by zero") : a % b
    }
  }
  if (typeof a === "number" && typeof b === "number") {
    switch (op) {
      case "+": return a + b
      case "-": return a - b
      case "*": return a * b
      case "/": return a / b
    }
  }
  if (op === "+" && typeof a === "string" && typeof b === "string") return a + b
  if (op === "+" && a instanceof CelList && b instanceof CelList) return CelList.of([...a.values(), ...b.values()])
  return noOverload()
}

const codePoints = (text: string): Array<string> => Array.from(text)

const regexCache = new Map<string, RegExp | undefined>()

const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alpha: "A-Za-z", digit: "0-9", alnum: "A-Za-z0-9", upper: "A-Z", lower: "a-z", space: "\\t\\n\\v\\f\\r ", xdigit: "0-9A-Fa-f", word: "0-9A-Za-z_"
}

/**
 * A JavaScript `RegExp` for an RE2 pattern (`pattern`, `matches()`): leading `(?i)`/`(?s)`/`(?m)` flags, `\A`, `\z`
 * and the POSIX classes are translated; `undefined` when the pattern cannot be expressed.
 */
export const toRegExp = (pattern: string): RegExp | undefined => {
  if (regexCache.has(pattern)) return regexCache.get(pattern)
  let source = pattern
  let flags = ""
  const leading = /^\(\?([imsU]+)\)/.exec(source)
  if (leading !== null) {
    const letters = leading[1] ?? ""
    if (letters.includes("U")) {
      regexCache.set(pattern, undefined)
      return undefined
    }
    flags = letters
    source = source.slice(leading[0].length)
  }
  source = source
    .replace(/\\\\|\\A|\\z/g, (match) => (match === "\\A" ? "^" : match === "\\z" ? "$(?![\\s\\S])" : match))
    .replace(/\[:(\^?)([a-z]+):\]/g, (match, negated: string, name: string) =>
      negated === "" && POSIX_CLASSES[name] !== undefined ? POSIX_CLASSES[name] : match)
  let compiled: RegExp | undefined
  for (const extra of ["u", ""]) {
    try {
      compiled = new RegExp(source, flags + extra)
      break
    } catch {
      compiled = undefined
    }
  }
  regexCache.set(pattern, compiled)
  return compiled
}

type Expr =
  | { readonly k: "lit"; readonly v: CelValue }
  | { readonly k: "ident"; readonly name: string }
  | { readonly k: "select"; readonly x: Expr; readonly field: string }
  | { readonly k: "has"; readonly x: Expr; readonly field: string }
  | { readonly k: "index"; readonly x: Expr; readonly i: Expr }
  | { readonly k: "call"; readonly fn: string; readonly target: Expr | undefined; readonly args: ReadonlyArray<Expr> }
  | { readonly k: "list"; readonly items: ReadonlyArray<Expr> }
  | { readonly k: "map"; readonly entries: ReadonlyArray<readonly [Expr, Expr]> }
  | { readonly k: "not" | "neg"; readonly x: Expr }
  | { readonly k: "and" | "or"; readonly l: Expr; readonly r: Expr }
  | { readonly k: "bin"; readonly op: string; readonly l: Expr; readonly r: Expr }
  | { readonly k: "cond"; readonly c: Expr; readonly t: Expr; readonly f: Expr }
  | { readonly k: "loop"; readonly macro: string; readonly range: Expr; readonly v: string; readonly p: Expr; readonly t: Expr | undefined }

type Token =
  | { readonly kind: "punct" | "ident"; readonly text: string; readonly pos: number }
  | { readonly kind: "literal"; readonly value: CelValue; readonly pos: number }
  | { readonly kind: "end"; readonly pos: number }

class Unsupported extends Error {}

const PUNCTUATION = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%", "?", ":", ".", ",", "(", ")", "[", "]", "{", "}"]

const ESCAPES: Readonly<Record<string, string>> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?" }

const readString = (source: string, start: number): { value: string; end: number } => {
  let pos = start
  let raw = false
  if (source[pos] === "r" || source[pos] === "R") {
    raw = true
    pos++
  }
  const mark = source[pos] ?? ""
  const quote = source.startsWith(mark.repeat(3), pos) ? mark.repeat(3) : mark
  pos += quote.length
  let value = ""
  for (;;) {
    if (pos >= source.length) throw new Unsupported("unterminated string")
    if (source.startsWith(quote, pos)) return { value, end: pos + quote.length }
    const char = source[pos] ?? ""
    if (quote.length === 1 && char === "\n") throw new Unsupported("newline in string")
    if (char !== "\\" || raw) {
      value += char
      pos++
      continue
    }
    const next = source[pos + 1] ?? ""
    const simple = ESCAPES[next]
    if (simple !== undefined) {
      value += simple
      pos += 2
    } else if (next === "x" || next === "u" || next === "U") {
      const digits = next === "x" ? 2 : next === "u" ? 4 : 8
      const hex = source.slice(pos + 2, pos + 2 + digits)
      if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) throw new Unsupported("bad escape")
      value += String.fromCodePoint(Number.parseInt(hex, 16))
      pos += 2 + digits
    } else if (/[0-3]/.test(next) && /^[0-7]{2}$/.test(source.slice(pos + 2, pos + 4))) {
      value += String.fromCodePoint(Number.parseInt(source.slice(pos + 1, pos + 4), 8))
      pos += 4
    } else {
      throw new Unsupported("bad escape")
    }
  }
}

const tokenize = (source: string): Array<Token> => {
  const tokens: Array<Token> = []
  let pos = 0
  while (pos < source.length) {
    const char = source[pos] ?? ""
    if (/\s/.test(char)) {
      pos++
      continue
    }
    if (char === "/" && source[pos + 1] === "/") {
      while (pos < source.length && source[pos] !== "\n") pos++
      continue
    }
    const start = pos
    if (char === "'" || char === '"' || ((char === "r" || char === "R") && (source[pos + 1] === "'" || source[pos + 1] === '"'))) {
      const { value, end } = readString(source, pos)
      tokens.push({ kind: "literal", value, pos: start })
      pos = end
      continue
    }
    if ((char === "b" || char === "B") && (source[pos + 1] === "'" || source[pos + 1] === '"')) throw new Unsupported("bytes literals")
    if (/[0-9]/.test(char)) {
      const hex = /^0[xX][0-9a-fA-F]+/.exec(source.slice(pos))
      const number = hex ?? /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(source.slice(pos))
      const text = number?.[0] ?? char
      pos += text.length
      if (source[pos] === "u" || source[pos] === "U") throw new Unsupported("uint literals")
      const isDouble = hex === null && (text.includes(".") || /[eE]/.test(text))
      tokens.push({ kind: "literal", value: isDouble ? Number(text) : BigInt(text), pos: start })
      continue
    }
    if (/[A-Za-z_]/.test(char)) {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(pos))?.[0] ?? char
      pos += word.length
      if (word === "true" || word === "false") tokens.push({ kind: "literal", value: word === "true", pos: start })
      else if (word === "null") tokens.push({ kind: "literal", value: null, pos: start })
      else tokens.push({ kind: "ident", text: word, pos: start })
      continue
    }
    const punct = PUNCTUATION.find((candidate) => source.startsWith(candidate, pos))
    if (punct === undefined) throw new Unsupported(`unexpected character ${char}`)
    tokens.push({ kind: "punct", text: punct, pos: start })
    pos += punct.length
  }
  tokens.push({ kind: "end", pos })
  return tokens
}

const MACROS = new Set(["all", "exists", "exists_one", "filter", "map"])

class Parser {
  readonly #tokens: ReadonlyArray<Token>
  #pos = 0

  constructor(tokens: ReadonlyArray<Token>) {
    this.#tokens = tokens
  }

  parse(): Expr {
    const expr = this.#expr()
    if (this.#peek().kind !== "end") throw new Unsupported("trailing input")
    return expr
  }

  #peek(): Token {
    return this.#tokens[this.#pos] ?? { kind: "end", pos: 0 }
  }

  #isPunct(text: string): boolean {
    const token = this.#peek()
    return token.kind === "punct" && token.text === text
  }

  #accept(text: string): boolean {
    if (!this.#isPunct(text)) return false
    this.#pos++
    return true
  }

  #expect(text: string): void {
    if (!this.#accept(text)) throw new Unsupported(`expected ${text}`)
  }

  #ident(): string {
    const token = this.#peek()
    if (token.kind !== "ident") throw new Unsupported("expected identifier")
    this.#pos++
    return token.text
  }

  #expr(): Expr {
    const c = this.#or()
    if (!this.#accept("?")) return c
    const t = this.#or()
    this.#expect(":")
    return { k: "cond", c, t, f: this.#expr() }
  }

  #or(): Expr {
    let l = this.#and()
    while (this.#accept("||")) l = { k: "or", l, r: this.#and() }
    return l
  }

  #and(): Expr {
    let l = this.#relation()
    while (this.#accept("&&")) l = { k: "and", l, r: this.#relation() }
    return l
  }

  #relation(): Expr {
    let l = this.#addition()
    for (;;) {
      const token = this.#peek()
      const op = token.kind === "punct" && ["==", "!=", "<", "<=", ">", ">="].includes(token.text) ? token.text
        : token.kind === "ident" && token.text === "in" ? "in" : undefined
      if (op === undefined) return l
      this.#pos++
      l = { k: "bin", op, l, r: this.#addition() }
    }
  }

  #addition(): Expr {
    let l = this.#multiplication()
    for (;;) {
      if (this.#accept("+")) l = { k: "bin", op: "+", l, r: this.#multiplication() }
      else if (this.#accept("-")) l = { k: "bin", op: "-", l, r: this.#multiplication() }
      else return l
    }
  }

  #multiplication(): Expr {
    let l = this.#unary()
    for (;;) {
      const token = this.#peek()
      if (token.kind !== "punct" || !["*", "/", "%"].includes(token.text)) return l
      this.#pos++
      l = { k: "bin", op: token.text, l, r: this.#unary() }
    }
  }

  #unary(): Expr {
    if (this.#accept("!")) return { k: "not", x: this.#unary() }
    if (this.#accept("-")) {
      const token = this.#peek()
      if (token.kind === "literal" && isNumber(token.value)) {
        this.#pos++
        const negated: CelValue = typeof token.value === "bigint" ? -token.value : -token.value
        return this.#postfix({ k: "lit", v: negated })
      }
      return { k: "neg", x: this.#unary() }
    }
    return this.#postfix(this.#primary())
  }

  #arguments(): Array<Expr> {
    const args: Array<Expr> = []
    if (this.#accept(")")) return args
    do args.push(this.#expr())
    while (this.#accept(","))
    this.#expect(")")
    return args
  }

  #call(fn: string, target: Expr | undefined): Expr {
    const args = this.#arguments()
    if (target !== undefined && MACROS.has(fn) && (args.length === 2 || (args.length === 3 && fn === "map"))) {
      const variable = args[0]
      if (variable?.k !== "ident") throw new Unsupported("macro variable")
      const [p, t] = args.length === 3 ? [args[1], args[2]] : [args[1], undefined]
      if (p === undefined) throw new Unsupported("macro")
      return { k: "loop", macro: fn, range: target, v: variable.name, p, t }
    }
    if (target === undefined && fn === "has") {
      const arg = args[0]
      if (args.length !== 1 || arg?.k !== "select") throw new Unsupported("invalid argument to has() macro")
      return { k: "has", x: arg.x, field: arg.field }
    }
    return { k: "call", fn, target, args }
  }

  #postfix(start: Expr): Expr {
    let x = start
    for (;;) {
      if (this.#accept(".")) {
        if (this.#isPunct("?")) throw new Unsupported("optional field selection")
        const field = this.#ident()
        x = this.#accept("(") ? this.#call(field, x) : { k: "select", x, field }
      } else if (this.#accept("[")) {
        if (this.#isPunct("?")) throw new Unsupported("optional index")
        const i = this.#expr()
        this.#expect("]")
        x = { k: "index", x, i }
      } else if (this.#isPunct("{")) {
        throw new Unsupported("message construction")
      } else {
        return x
      }
    }
  }

  #primary(): Expr {
    const token = this.#peek()
    if (token.kind === "literal") {
      this.#pos++
      return { k: "lit", v: token.value }
    }
    if (token.kind === "ident") {
      if (token.text === "in" || KEYWORDS.has(token.text)) throw new Unsupported(`reserved word ${token.text}`)
      this.#pos++
      return this.#accept("(") ? this.#call(token.text, undefined) : { k: "ident", name: token.text }
    }
    if (this.#accept(".")) return { k: "ident", name: this.#ident() }
    if (this.#accept("(")) {
      const inner = this.#expr()
      this.#expect(")")
      return inner
    }
    if (this.#accept("[")) {
      const items: Array<Expr> = []
      while (!this.#accept("]")) {
        items.push(this.#expr())
        if (!this.#accept(",")) {
          this.#expect("]")
          break
        }
      }
      return { k: "list", items }
    }
    if (this.#accept("{")) {
      const entries: Array<readonly [Expr, Expr]> = []
      while (!this.#accept("}")) {
        const key = this.#expr()
        this.#expect(":")
        entries.push([key, this.#expr()])
        if (!this.#accept(",")) {
          this.#expect("}")
          break
        }
      }
      return { k: "map", entries }
    }
    throw new Unsupported("unexpected token")
  }
}

const GLOBAL_FUNCTIONS: Readonly<Record<string, ReadonlyArray<number>>> = {
  size: [1], int: [1], double: [1], string: [1], bool: [1], dyn: [1], matches: [2]
}

const MEMBER_FUNCTIONS: Readonly<Record<string, ReadonlyArray<number>>> = {
  size: [0], matches: [1], startsWith: [1], endsWith: [1], contains: [1], lowerAscii: [0], upperAscii: [0], trim: [0],
  split: [1], join: [0, 1], replace: [2], indexOf: [1], lastIndexOf: [1], substring: [1, 2], hasValue: [0], value: [0], orValue: [1]
}

/** Rejects identifiers and functions outside the supported subset; reports whether `oldSelf` is used. */
const check = (expr: Expr, scope: ReadonlySet<string>, usage: { oldSelf: boolean }): void => {
  switch (expr.k) {
    case "lit":
      return
    case "ident":
      if (expr.name === "oldSelf" && !scope.has("oldSelf")) usage.oldSelf = true
      else if (!scope.has(expr.name) && expr.name !== "self") throw new Unsupported(`undeclared reference to '${expr.name}'`)
      return
    case "select":
    case "has":
    case "not":
    case "neg":
      return check(expr.x, scope, usage)
    case "index":
      check(expr.x, scope, usage)
      return check(expr.i, scope, usage)
    case "call": {
      const arities = expr.target === undefined ? GLOBAL_FUNCTIONS[expr.fn] : MEMBER_FUNCTIONS[expr.fn]
      if (arities === undefined || !arities.includes(expr.args.length)) throw new Unsupported(`undeclared reference to '${expr.fn}'`)
      if (expr.target !== undefined) check(expr.target, scope, usage)
      for (const arg of expr.args) check(arg, scope, usage)
      return
    }
    case "list":
      for (const item of expr.items) check(item, scope, usage)
      return
    case "map":
      for (const [key, value] of expr.entries) {
        check(key, scope, usage)
        check(value, scope, usage)
      }
      return
    case "and":
    case "or":
    case "bin":
      check(expr.l, scope, usage)
      return check(expr.r, scope, usage)
    case "cond":
      check(expr.c, scope, usage)
      check(expr.t, scope, usage)
      return check(expr.f, scope, usage)
    case "loop": {
      check(expr.range, scope, usage)
      const inner = new Set(scope).add(expr.v)
      check(expr.p, inner, usage)
      if (expr.t !== undefined) check(expr.t, inner, usage)
    }
  }
}

interface Scope {
  readonly name: string
  readonly value: CelValue
  readonly parent: Scope | undefined
}

type Variables = Readonly<Record<string, CelValue>>

const lookup = (scope: Scope | undefined, variables: Variables, name: string): Result => {
  for (let current = scope; current !== undefined; current = current.parent) if (current.name === name) return current.value
  const value = variables[name]
  return value === undefined ? new CelError(`no such attribute: ${name}`) : value
}

const asBool = (value: Result): boolean | CelError => (value instanceof CelError ? value : typeof value === "boolean" ? value : noOverload())

const toInt = (value: CelValue): Result => {
  if (typeof value === "bigint") return value
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value <= -(2 ** 63) || value >= 2 ** 63) return new CelError("range error converting double to int")
    return BigInt(Math.trunc(value))
  }
  if (typeof value === "string") {
    return /^[+-]?[0-9]+$/.test(value) ? checked(BigInt(value)) : new CelError(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`)
  }
  return noOverload()
}

const toDouble = (value: CelValue): Result => {
  if (typeof value === "number") return value
  if (typeof value === "bigint") return Number(value)
  if (typeof value === "string") {
    const parsed = Number(value)
    return value.trim() === "" || Number.isNaN(parsed) ? new CelError(`strconv.ParseFloat: parsing ${JSON.stringify(value)}: invalid syntax`) : parsed
  }
  return noOverload()
}

const toCelString = (value: CelValue): Result => {
  if (typeof value === "string") return value
  if (typeof value === "bigint" || typeof value === "number" || typeof value === "boolean") return String(value)
  return noOverload()
}

const size = (value: CelValue): Result => {
  if (typeof value === "string") return BigInt(codePoints(value).length)
  if (value instanceof CelList || value instanceof CelMap) return BigInt(value.size)
  return noOverload()
}

const matches = (text: CelValue, pattern: CelValue): Result => {
  if (typeof text !== "string" || typeof pattern !== "string") return noOverload()
  const regex = toRegExp(pattern)
  return regex === undefined ? new CelError(`error parsing regexp: ${pattern}`) : regex.test(text)
}

const stringFunction = (fn: string, target: string, args: ReadonlyArray<CelValue>): Result => {
  const [first, second] = args
  switch (fn) {
    case "startsWith": return typeof first === "string" ? target.startsWith(first) : noOverload()
    case "endsWith": return typeof first === "string" ? target.endsWith(first) : noOverload()
    case "contains": return typeof first === "string" ? target.includes(first) : noOverload()
    case "lowerAscii": return target.replace(/[A-Z]/g, (char) => char.toLowerCase())
    case "upperAscii": return target.replace(/[a-z]/g, (char) => char.toUpperCase())
    case "trim": return target.trim()
    case "split": return typeof first === "string" ? CelList.of(target.split(first)) : noOverload()
    case "replace": return typeof first === "string" && typeof second === "string" ? target.replaceAll(first, second) : noOverload()
    case "indexOf":
    case "lastIndexOf": {
      if (typeof first !== "string") return noOverload()
      const index = fn === "indexOf" ? target.indexOf(first) : target.lastIndexOf(first)
      return BigInt(index < 0 ? -1 : codePoints(target.slice(0, index)).length)
    }
    case "substring": {
      const points = codePoints(target)
      const start = typeof first === "bigint" ? Number(first) : Number.NaN
      const end = second === undefined ? points.length : typeof second === "bigint" ? Number(second) : Number.NaN
      if (Number.isNaN(start) || Number.isNaN(end)) return noOverload()
      if (start < 0 || end > points.length || start > end) return new CelError(`index out of range: ${start < 0 || start > points.length ? start : end}`)
      return points.slice(start, end).join("")
    }
  }
  return noOverload()
}

class Evaluator {
  readonly #variables: Variables

  constructor(variables: Variables) {
    this.#variables = variables
  }

  eval(expr: Expr, scope: Scope | undefined): Result {
    switch (expr.k) {
      case "lit":
        return expr.v
      case "ident":
        return lookup(scope, this.#variables, expr.name)
      case "select": {
        const target = this.eval(expr.x, scope)
        if (target instanceof CelError) return target
        if (!(target instanceof CelMap)) return noOverload()
        const field = target.field(expr.field)
        return field === undefined ? new CelError(`no such key: ${expr.field}`) : field
      }
      case "has": {
        const target = this.eval(expr.x, scope)
        if (target instanceof CelError) return target
        if (!(target instanceof CelMap)) return noOverload()
        return target.field(expr.field) !== undefined
      }
      case "index": {
        const target = this.eval(expr.x, scope)
        if (target instanceof CelError) return target
        const index = this.eval(expr.i, scope)
        if (index instanceof CelError) return index
        if (target instanceof CelList) {
          const position = typeof index === "bigint" ? index : typeof index === "number" && Number.isInteger(index) ? BigInt(index) : undefined
          if (position === undefined) return noOverload()
          if (position < 0n || position >= BigInt(target.size)) return new CelError(`index out of bounds: ${position}`)
          return target.get(Number(position))
        }
        if (target instanceof CelMap) {
          const entry = target.get(index)
          return entry === undefined ? new CelError(`no such key: ${typeof index === "string" ? index : String(index)}`) : entry
        }
        return noOverload()
      }
      case "call":
        return this.#call(expr, scope)
      case "list": {
        const items: Array<CelValue> = []
        for (const item of expr.items) {
          const value = this.eval(item, scope)
          if (value instanceof CelError) return value
          items.push(value)
        }
        return CelList.of(items)
      }
      case "map": {
        const entries: Array<readonly [CelValue, CelValue]> = []
        for (const [keyExpr, valueExpr] of expr.entries) {
          const key = this.eval(keyExpr, scope)
          if (key instanceof CelError) return key
          const value = this.eval(valueExpr, scope)
          if (value instanceof CelError) return value
          if (entries.some(([existing]) => celEquals(existing, key))) return new CelError(`Failed with repeated key: ${String(key)}`)
          entries.push([key, value])
        }
        return CelMap.of(entries)
      }
      case "not": {
        const value = asBool(this.eval(expr.x, scope))
        return value instanceof CelError ? value : !value
      }
      case "neg": {
        const value = this.eval(expr.x, scope)
        if (value instanceof CelError) return value
        if (typeof value === "bigint") return checked(-value)
        if (typeof value === "number") return -value
        return noOverload()
      }
      case "and":
      case "or": {
        const decisive = expr.k === "or"
        const left = asBool(this.eval(expr.l, scope))
        if (left === decisive) return decisive
        const right = asBool(this.eval(expr.r, scope))
        if (right === decisive) return decisive
        if (left instanceof CelError) return left
        if (right instanceof CelError) return right
        return !decisive
      }
      case "bin":
        return this.#binary(expr.op, expr.l, expr.r, scope)
      case "cond": {
        const condition = asBool(this.eval(expr.c, scope))
        if (condition instanceof CelError) return condition
        return this.eval(condition ? expr.t : expr.f, scope)
      }
      case "loop":
        return this.#loop(expr, scope)
    }
  }

  #binary(op: string, l: Expr, r: Expr, scope: Scope | undefined): Result {
    const left = this.eval(l, scope)
    if (left instanceof CelError) return left
    const right = this.eval(r, scope)
    if (right instanceof CelError) return right
    switch (op) {
      case "==": return celEquals(left, right)
      case "!=": return !celEquals(left, right)
      case "in":
        if (right instanceof CelList) return right.values().some((item) => celEquals(item, left))
        if (right instanceof CelMap) return right.get(left) !== undefined
        return noOverload()
      case "<":
      case "<=":
      case ">":
      case ">=": {
        const order = compare(left, right)
        if (order instanceof CelError) return order
        return op === "<" ? order < 0 : op === "<=" ? order <= 0 : op === ">" ? order > 0 : order >= 0
      }
      default:
        return arithmetic(op, left, right)
    }
  }

  #call(expr: Extract<Expr, { k: "call" }>, scope: Scope | undefined): Result {
    const args: Array<CelValue> = []
    for (const arg of expr.args) {
      const value = this.eval(arg, scope)
      if (value instanceof CelError) return value
      args.push(value)
    }
    const [first = null, second = null] = args
    if (expr.target === undefined) {
      switch (expr.fn) {
        case "size": return size(first)
        case "int": return toInt(first)
        case "double": return toDouble(first)
        case "string": return toCelString(first)
        case "bool": return typeof first === "boolean" ? first : first === "true" ? true : first === "false" ? false : noOverload()
        case "dyn": return first
        case "matches": return matches(first, second)
      }
      return noOverload()
    }
    const target = this.eval(expr.target, scope)
    if (target instanceof CelError) return target
    if (target instanceof CelOptional) {
      if (expr.fn === "hasValue") return target.value !== undefined
      if (expr.fn === "value") return target.value === undefined ? new CelError("optional.none() dereference") : target.value
      if (expr.fn === "orValue") return target.value === undefined ? first : target.value
      return noOverload()
    }
    if (expr.fn === "size") return size(target)
    if (expr.fn === "matches") return matches(target, first)
    if (expr.fn === "join" && target instanceof CelList) {
      const parts = target.values()
      if (!parts.every((part) => typeof part === "string")) return noOverload()
      const separator = args.length === 0 ? "" : first
      return typeof separator === "string" ? parts.join(separator) : noOverload()
    }
    if (typeof target === "string") return stringFunction(expr.fn, target, args)
    return noOverload()
  }

  #loop(expr: Extract<Expr, { k: "loop" }>, scope: Scope | undefined): Result {
    const range = this.eval(expr.range, scope)
    if (range instanceof CelError) return range
    const elements = range instanceof CelList ? range.values() : range instanceof CelMap ? range.keys() : undefined
    if (elements === undefined) return noOverload()
    const inner = (value: CelValue): Scope => ({ name: expr.v, value, parent: scope })
    switch (expr.macro) {
      case "all":
      case "exists": {
        const decisive = expr.macro === "exists"
        let error: CelError | undefined
        for (const element of elements) {
          const result = asBool(this.eval(expr.p, inner(element)))
          if (result === decisive) return decisive
          if (result instanceof CelError) error ??= result
        }
        return error ?? !decisive
      }
      case "exists_one": {
        let count = 0
        for (const element of elements) {
          const result = asBool(this.eval(expr.p, inner(element)))
          if (result instanceof CelError) return result
          if (result) count++
        }
        return count === 1
      }
      case "filter":
      case "map": {
        const out: Array<CelValue> = []
        for (const element of elements) {
          const elementScope = inner(element)
          if (expr.macro === "filter" || expr.t !== undefined) {
            const keep = asBool(this.eval(expr.p, elementScope))
            if (keep instanceof CelError) return keep
            if (!keep) continue
          }
          if (expr.macro === "filter") {
            out.push(element)
            continue
          }
          const mapped = this.eval(expr.t ?? expr.p, elementScope)
          if (mapped instanceof CelError) return mapped
          out.push(mapped)
        }
        return CelList.of(out)
      }
    }
    return noOverload()
  }
}

/** A rule or message expression that compiled: evaluate it with `self` (and `oldSelf`) bound. */
export interface CompiledExpression {
  readonly source: string
  /** True for transition rules: the expression reads `oldSelf`. */
  readonly usesOldSelf: boolean
  readonly evaluate: (variables: Readonly<Record<string, CelValue>>) => CelValue | CelError
}

const compiledCache = new Map<string, CompiledExpression | CelError>()

/** Parses and checks an expression; a `CelError` says it is outside the supported subset. Cached by source text. */
export const compile = (source: string): CompiledExpression | CelError => {
  const cached = compiledCache.get(source)
  if (cached !== undefined) return cached
  let result: CompiledExpression | CelError
  try {
    const expr = new Parser(tokenize(source)).parse()
    const usage = { oldSelf: false }
    check(expr, new Set(), usage)
    const evaluate = (variables: Variables): Result => {
      try {
        return new Evaluator(variables).eval(expr, undefined)
      } catch (error) {
        return new CelError(error instanceof RangeError ? "evaluation exceeded a limit" : String(error))
      }
    }
    result = { source, usesOldSelf: usage.oldSelf, evaluate }
  } catch (error) {
    result = new CelError(error instanceof Unsupported ? error.message : `unsupported expression: ${String(error)}`)
  }
  compiledCache.set(source, result)
  return result
}
