import { describe, expect, it } from "vitest"
import { CelError, CelList, CelMap, CelOptional, type CelValue, compile, fromJson, toRegExp } from "../src/cel.ts"
import type { SchemaProps } from "../src/schema-types.ts"

const run = (source: string, variables: Record<string, CelValue> = {}): CelValue | CelError => {
  const compiled = compile(source)
  if (compiled instanceof CelError) throw new Error(`does not compile: ${compiled.message}`)
  return compiled.evaluate(variables)
}

const errorOf = (source: string, variables: Record<string, CelValue> = {}): string => {
  const result = run(source, variables)
  if (!(result instanceof CelError)) throw new Error(`expected an error, got ${String(result)}`)
  return result.message
}

const self = (raw: unknown, schema?: SchemaProps) => ({ self: fromJson(raw, schema) })

describe("literals and operators", () => {
  it.each([
    ["1 + 2 * 3", 7n],
    ["(1 + 2) * 3", 9n],
    ["7 / 2", 3n],
    ["-7 / 2", -3n],
    ["-7 % 3", -1n],
    ["0x1F", 31n],
    ["1.5 + 1.0", 2.5],
    ["2e3", 2000],
    ["'a' + \"b\"", "ab"],
    ["r'\\d'", "\\d"],
    ["'\\u00e9\\x41\\101\\n'", "éAA\n"],
    ["'''multi'line'''", "multi'line"],
    ["true && !false", true],
    ["null == null", true],
    ["1 == 1.0", true],
    ["1 == '1'", false],
    ["[1, 2] == [1, 2]", true],
    ["[1, 2] == [2, 1]", false],
    ["{'a': 1} == {'a': 1.0}", true],
    ["2 < 2.5", true],
    ["'abc' < 'abd'", true],
    ["false < true", true],
    ["3 in [1, 2, 3]", true],
    ["'x' in {'x': 1}", true],
    ["'y' in {'x': 1}", false],
    ["[1] + [2] == [1, 2]", true],
    ["true ? 'yes' : 'no'", "yes"],
    ["1 > 2 ? 'yes' : 'no'", "no"],
    ["[1, 2, 3][1]", 2n],
    ["{'k': 'v'}['k']", "v"],
    ["-9223372036854775807 - 1", -(2n ** 63n)]
  ])("%s", (source, expected) => {
    expect(run(source)).toEqual(expected)
  })

  it("checks 64-bit integer arithmetic", () => {
    expect(errorOf("9223372036854775807 + 1")).toBe("integer overflow")
    expect(errorOf("-(-9223372036854775807 - 1)")).toBe("integer overflow")
    expect(errorOf("1 / 0")).toBe("division by zero")
    expect(errorOf("1 % 0")).toBe("modulus by zero")
    expect(run("1.0 / 0.0")).toBe(Number.POSITIVE_INFINITY)
  })

  it("does not mix int and double in arithmetic", () => {
    expect(errorOf("1 + 1.0")).toBe("no such overload")
    expect(errorOf("'a' + 1")).toBe("no such overload")
    expect(errorOf("'a' < 1")).toBe("no such overload")
    expect(errorOf("!1")).toBe("no such overload")
  })

  it("absorbs errors in && and || when the other side decides", () => {
    expect(run("1 / 0 == 1 || true")).toBe(true)
    expect(run("true || 1 / 0 == 1")).toBe(true)
    expect(run("1 / 0 == 1 && false")).toBe(false)
    expect(errorOf("1 / 0 == 1 && true")).toBe("division by zero")
    expect(errorOf("false || 1 / 0 == 1")).toBe("division by zero")
    expect(errorOf("1 / 0 == 1 ? 1 : 2")).toBe("division by zero")
  })

  it("reports out of range indexes and missing keys", () => {
    expect(errorOf("[1][3]")).toBe("index out of bounds: 3")
    expect(errorOf("{'a': 1}['b']")).toBe("no such key: b")
    expect(errorOf("{'a': 1, 'a': 2}")).toBe("Failed with repeated key: a")
  })
})

describe("functions", () => {
  it.each([
    ["size('héllo')", 5n],
    ["'héllo'.size()", 5n],
    ["size([1, 2])", 2n],
    ["size({'a': 1})", 1n],
    ["'abc'.matches('^a.c$')", true],
    ["matches('abc', 'b')", true],
    ["'ABC'.matches('(?i)^abc$')", true],
    ["'abc'.matches('\\\\Aabc\\\\z')", true],
    ["'a1'.matches('^[[:alpha:]][[:digit:]]$')", true],
    ["'abc'.startsWith('ab') && 'abc'.endsWith('bc') && 'abc'.contains('b')", true],
    ["'AbC'.lowerAscii() + 'AbC'.upperAscii()", "abcABC"],
    ["'  x '.trim()", "x"],
    ["'a,b'.split(',') == ['a', 'b']", true],
    ["['a', 'b'].join('-')", "a-b"],
    ["['a', 'b'].join()", "ab"],
    ["'aXbX'.replace('X', '.')", "a.b."],
    ["'héllo'.indexOf('l')", 2n],
    ["'héllo'.lastIndexOf('l')", 3n],
    ["'héllo'.substring(1, 3)", "él"],
    ["int('42') + int(2.9)", 44n],
    ["double(3)", 3],
    ["string(12) + string(true)", "12true"],
    ["dyn(1) == 1", true],
    ["bool('true')", true]
  ])("%s", (source, expected) => {
    expect(run(source)).toEqual(expected)
  })
})

describe("macros", () => {
  it.each([
    ["[1, 2, 3].all(x, x > 0)", true],
    ["[1, 2, 3].exists(x, x > 2)", true],
    ["[1, 2, 3].exists_one(x, x > 1)", false],
    ["[1, 2, 3].filter(x, x % 2 == 1) == [1, 3]", true],
    ["[1, 2, 3].map(x, x * 10) == [10, 20, 30]", true],
    ["[1, 2, 3].map(x, x > 1, x * 10) == [20, 30]", true],
    ["{'a': 1, 'b': 2}.all(k, k in ['a', 'b'])", true],
    ["[true, false, true].filter(x, x).size() <= 1", false],
    ["[[1], [2, 3]].exists(l, l.exists(x, x == 3))", true]
  ])("%s", (source, expected) => {
    expect(run(source)).toBe(expected)
  })

  it("absorbs errors in all and exists like the logical operators", () => {
    expect(run("[0, 1].exists(x, 1 / x == 1)")).toBe(true)
    expect(run("[0, 1].all(x, 1 / x == 2)")).toBe(false)
    expect(errorOf("[0, 1].all(x, 1 / x == 1)")).toBe("division by zero")
    expect(errorOf("[0, 1].exists_one(x, 1 / x == 1)")).toBe("division by zero")
  })
})

describe("self and oldSelf", () => {
  it("reads JSON as typed by the schema: integers are int unless the schema says number", () => {
    expect(run("self.replicas == 3 && self.ratio == 0.5", self({ replicas: 3, ratio: 0.5 }))).toBe(true)
    expect(run("self + 1", self(2, { type: "integer" }))).toBe(3n)
    expect(errorOf("self + 1", self(2, { type: "number" }))).toBe("no such overload")
    expect(run("self + 1.0", self(2, { type: "number" }))).toBe(3)
  })

  it("selects fields, tests presence and reports missing keys like cel-go", () => {
    const variables = self({ metadata: { name: "job" }, spec: { a: null } })
    expect(run("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')", variables)).toBe(true)
    expect(run("has(self.spec.a) && !has(self.spec.b)", variables)).toBe(true)
    expect(run("self.spec.a == null", variables)).toBe(true)
    expect(errorOf("self.spec.b.c", variables)).toBe("no such key: b")
    expect(errorOf("has(self.spec.b.c)", variables)).toBe("no such key: b")
  })

  it("reaches properties whose names need escaping", () => {
    const variables = self({ "max-surge": 1, "a.b": 2, namespace: "x", a__b: 3 })
    expect(run("self.max__dash__surge + self.a__dot__b + self.a__underscores__b", variables)).toBe(6n)
    expect(run("self.__namespace__", variables)).toBe("x")
  })

  it("compares set and map lists regardless of order, atomic lists in order", () => {
    const set: SchemaProps = { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "set" }
    const map: SchemaProps = {
      type: "array",
      items: { type: "object", properties: { name: { type: "string" }, value: { type: "string" } } },
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"]
    }
    const atomic: SchemaProps = { type: "array", items: { type: "string" } }
    expect(run("self == oldSelf", { self: fromJson(["a", "b"], set), oldSelf: fromJson(["b", "a"], set) })).toBe(true)
    expect(run("self == oldSelf", { self: fromJson(["a", "b"], atomic), oldSelf: fromJson(["b", "a"], atomic) })).toBe(false)
    const before = [{ name: "A", value: "1" }, { name: "B", value: "2" }]
    expect(run("self == oldSelf", { self: fromJson([...before].reverse(), map), oldSelf: fromJson(before, map) })).toBe(true)
    expect(run("self == oldSelf", { self: fromJson([{ name: "A", value: "9" }, before[1]], map), oldSelf: fromJson(before, map) })).toBe(false)
  })

  it("evaluates the fixture CRDs' rules", () => {
    const mlPolicy = (value: unknown) => self(value)
    const onlyOne = "[has(self.torch), has(self.mpi), has(self.jax), has(self.xgboost),has(self.flux)].filter(x, x).size() <= 1"
    expect(run(onlyOne, mlPolicy({ torch: {} }))).toBe(true)
    expect(run(onlyOne, mlPolicy({ torch: {}, mpi: {} }))).toBe(false)
    const numProc = "self > 0 || self in ['auto', 'cpu', 'gpu']"
    const intOrString: SchemaProps = { "x-kubernetes-int-or-string": true }
    expect(run(numProc, self("auto", intOrString))).toBe(true)
    expect(run(numProc, self(4, intOrString))).toBe(true)
    expect(run(numProc, self(0, intOrString))).toBe(false)
    expect(errorOf(numProc, self("four", intOrString))).toBe("no such overload")
    const dependsOn = "!(has(self.startupPolicy) && self.startupPolicy.startupPolicyOrder == 'InOrder' && self.replicatedJobs.exists(x, has(x.dependsOn)))"
    expect(run(dependsOn, self({ startupPolicy: { startupPolicyOrder: "InOrder" }, replicatedJobs: [{ name: "a" }, { name: "b", dependsOn: [] }] }))).toBe(false)
    expect(run(dependsOn, self({ replicatedJobs: [{ name: "b", dependsOn: [] }] }))).toBe(true)
    const namespaces = "self.templates.all(t, !has(t.metadata.namespace) || size(t.metadata.namespace) == 0)"
    expect(run(namespaces, self({ templates: [{ metadata: { name: "a" } }, { metadata: { namespace: "" } }] }))).toBe(true)
    expect(run(namespaces, self({ templates: [{ metadata: { namespace: "x" } }] }))).toBe(false)
  })

  it("gives optionalOldSelf rules an optional", () => {
    const rule = "!oldSelf.hasValue() || self >= oldSelf.value()"
    expect(run(rule, { self: 1n, oldSelf: new CelOptional() })).toBe(true)
    expect(run(rule, { self: 1n, oldSelf: new CelOptional(2n) })).toBe(false)
    expect(run("oldSelf.orValue(5)", { self: 1n, oldSelf: new CelOptional() })).toBe(5n)
    expect(errorOf("oldSelf.value()", { self: 1n, oldSelf: new CelOptional() })).toBe("optional.none() dereference")
  })
})

describe("compile", () => {
  it("marks transition rules", () => {
    const transition = compile("self == oldSelf")
    const plain = compile("self.x == 1")
    if (transition instanceof CelError || plain instanceof CelError) throw new Error("does not compile")
    expect([transition.usesOldSelf, plain.usesOldSelf]).toEqual([true, false])
    const shadowed = compile("[1].all(oldSelf, oldSelf > 0)")
    if (shadowed instanceof CelError) throw new Error("does not compile")
    expect(shadowed.usesOldSelf).toBe(false)
  })

  it.each([
    ["1u", "uint literals"],
    ["b'abc'", "bytes literals"],
    ["self.?field", "optional field selection"],
    ["quantity(self.x).isGreaterThan(quantity('1'))", "undeclared reference to 'isGreaterThan'"],
    ["self.x.exists_two(y, y)", "undeclared reference to 'exists_two'"],
    ["request.x == 1", "undeclared reference to 'request'"],
    ["has(self)", "invalid argument to has() macro"],
    ["Foo{a: 1}", "message construction"],
    ["self.x ==", "unexpected token"],
    ["'unterminated", "unterminated string"],
    ["self.x == 1 1", "trailing input"],
    ["size(self) # 2", "unexpected character #"]
  ])("rejects %s", (source, message) => {
    const compiled = compile(source)
    expect(compiled).toBeInstanceOf(CelError)
    expect((compiled as CelError).message).toBe(message)
  })

  it("caches by source text", () => {
    expect(compile("self.a == 1")).toBe(compile("self.a == 1"))
  })
})

describe("values", () => {
  it("wraps JSON lazily with the item and property schemas", () => {
    const list = fromJson([1, "a", [2]], { type: "array" })
    expect(list).toBeInstanceOf(CelList)
    expect((list as CelList).values()).toEqual([1n, "a", expect.any(CelList)])
    const map = fromJson({ n: 1 }, { type: "object", properties: { n: { type: "number" } } })
    expect(map).toBeInstanceOf(CelMap)
    expect((map as CelMap).get("n")).toBe(1)
    expect((map as CelMap).get("constructor")).toBeUndefined()
  })

  it("translates RE2 syntax and rejects what JavaScript cannot express", () => {
    expect(toRegExp("(?i)^ab$")?.test("AB")).toBe(true)
    expect(toRegExp("^a\\z")?.test("a\n")).toBe(false)
    expect(toRegExp("(?U)a+")).toBeUndefined()
    expect(toRegExp("(")).toBeUndefined()
  })
})

describe("robustness", () => {
  it("answers a CelError instead of throwing for any malformed input", () => {
    expect(compile("'\\U0011FFFF'")).toBeInstanceOf(CelError)
    const deep = `${"[".repeat(20000)}${"]".repeat(20000)}`
    expect(compile(deep)).toBeInstanceOf(CelError)
  })
})
