import { describe, expect, it } from "vitest"
import { parseNodeSelectors, parseTolerations } from "../src/Scheduling.ts"

const TOLERATION_HINT = "use key=value:Effect, key:Effect, key=value, key, :Effect or * (Effect one of NoSchedule, PreferNoSchedule, NoExecute)"

describe("parseNodeSelectors", () => {
  it("is empty without flags", () => {
    expect(parseNodeSelectors([])).toEqual({ selector: {}, problems: [] })
  })

  it("accepts plain and prefixed label keys, and empty or dotted values", () => {
    expect(parseNodeSelectors(["nodeGroup=gpu", "nvidia.com/gpu.present=true", "cloud.google.com/gke-accelerator=nvidia-h100-mega-80gb", "empty="])).toEqual({
      selector: {
        nodeGroup: "gpu",
        "nvidia.com/gpu.present": "true",
        "cloud.google.com/gke-accelerator": "nvidia-h100-mega-80gb",
        empty: ""
      },
      problems: []
    })
  })

  it("keeps the last value of a key given twice", () => {
    expect(parseNodeSelectors(["pool=a", "pool=b"]).selector).toEqual({ pool: "b" })
  })

  it("splits at the first = only, so a value with = is refused as a label value", () => {
    expect(parseNodeSelectors(["a=b=c"]).problems).toEqual([
      { source: "--node-selector", message: '"a=b=c" is not key=value with a valid label key and value (e.g. nodeGroup=gpu)' }
    ])
  })

  it.each([
    ["no =", "foo"],
    ["empty key", "=gpu"],
    ["empty flag", ""],
    ["key with a space", "node group=gpu"],
    ["key starting with -", "-pool=gpu"],
    ["uppercase prefix", "Example.COM/pool=gpu"],
    ["empty name after prefix", "example.com/=gpu"],
    ["value with a space", "pool=g pu"],
    ["value ending with -", "pool=gpu-"],
    ["value longer than 63", `pool=${"a".repeat(64)}`],
    ["name longer than 63", `${"k".repeat(64)}=v`]
  ])("refuses %s (%j), naming the flag", (_label, raw) => {
    const parsed = parseNodeSelectors(["ok=1", raw])
    expect(parsed.selector).toEqual({ ok: "1" })
    expect(parsed.problems).toEqual([
      { source: "--node-selector", message: `"${raw}" is not key=value with a valid label key and value (e.g. nodeGroup=gpu)` }
    ])
  })

  it("reports every malformed flag", () => {
    expect(parseNodeSelectors(["a", "b=", "c"]).problems.map((problem) => problem.message)).toEqual([
      '"a" is not key=value with a valid label key and value (e.g. nodeGroup=gpu)',
      '"c" is not key=value with a valid label key and value (e.g. nodeGroup=gpu)'
    ])
  })

  it("accepts values of exactly 63 characters", () => {
    expect(parseNodeSelectors([`pool=${"a".repeat(63)}`]).problems).toEqual([])
  })
})

describe("parseTolerations", () => {
  it("gives no tolerations when no flag is given (the run then tolerates everything, and a GPU check may mirror its node's taints)", () => {
    expect(parseTolerations([])).toEqual({ tolerations: undefined, problems: [] })
  })

  it.each([
    ["key=value:Effect", "dedicated=gpu:NoSchedule", { key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }],
    ["prefixed key=value:Effect", "nvidia.com/gpu=present:NoExecute", { key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoExecute" }],
    ["key:Effect", "nvidia.com/gpu:NoSchedule", { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
    ["key=value", "dedicated=gpu", { key: "dedicated", operator: "Equal", value: "gpu" }],
    ["key", "nvidia.com/gpu", { key: "nvidia.com/gpu", operator: "Exists" }],
    [":Effect", ":PreferNoSchedule", { operator: "Exists", effect: "PreferNoSchedule" }],
    ["*", "*", { operator: "Exists" }],
    ["key=:Effect (empty value)", "dedicated=:NoSchedule", { key: "dedicated", operator: "Equal", value: "", effect: "NoSchedule" }]
  ])("accepts %s", (_form, raw, toleration) => {
    expect(parseTolerations([raw])).toEqual({ tolerations: [toleration], problems: [] })
  })

  it("keeps the given tolerations in order, replacing the tolerate-all default", () => {
    expect(parseTolerations(["a:NoSchedule", "b=c"]).tolerations).toEqual([
      { key: "a", operator: "Exists", effect: "NoSchedule" },
      { key: "b", operator: "Equal", value: "c" }
    ])
  })

  it.each([
    ["an unknown effect", "a=b:Never"],
    ["a lower-case effect", "a:noschedule"],
    ["an empty effect", "a:"],
    ["a lone colon", ":"],
    ["a value without a key", "=b"],
    ["a value without a key, with an effect", "=b:NoSchedule"],
    ["an empty flag", ""],
    ["an invalid key", "bad key:NoSchedule"],
    ["an invalid value", "a=b c:NoSchedule"],
    ["a wildcard with an effect", "*:NoSchedule"]
  ])("refuses %s (%j), naming the flag and the accepted forms", (_label, raw) => {
    const parsed = parseTolerations([raw])
    expect(parsed.problems).toEqual([{ source: "--toleration", message: `"${raw}" is not a toleration: ${TOLERATION_HINT}` }])
    expect(parsed.tolerations).toEqual([])
  })

  it("reports every malformed flag and keeps the good ones", () => {
    const parsed = parseTolerations(["a:Never", "ok:NoSchedule", "b:Sometimes"])
    expect(parsed.tolerations).toEqual([{ key: "ok", operator: "Exists", effect: "NoSchedule" }])
    expect(parsed.problems.map((problem) => problem.message)).toEqual([
      `"a:Never" is not a toleration: ${TOLERATION_HINT}`,
      `"b:Sometimes" is not a toleration: ${TOLERATION_HINT}`
    ])
  })
})
