import { describe, expect, it } from "vitest"
import * as CheckInput from "../src/CheckInput.ts"

const FIELDS: CheckInput.Fields = {
  check: "nccl-all-reduce-bw",
  phase: "performance",
  runId: "20261128-120000-00000000000000aa",
  recipe: { source: "examples/recipes/training.yaml", text: "kind: RecipeResult\n" },
  images: { validator: "ghcr.io/aicr-project/aicr-validator:v1.2.3", runtime: "ghcr.io/nvidia/nccl-tests:1" },
  timeoutMs: 1_800_000,
  nodeSelector: { pool: "gpu" },
  tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }, { key: "team", operator: "Equal", value: "ml" }],
  imagePullSecrets: ["regcred"],
  keep: false
}

const problemsOf = (text: string) => {
  const decoded = CheckInput.decode(text)
  expect(decoded._tag).toBe("Problems")
  return decoded._tag === "Problems" ? decoded.problems : []
}

const withChanges = (changes: Record<string, unknown>) => JSON.stringify({ ...(JSON.parse(CheckInput.encode(FIELDS)) as object), ...changes })

describe("CheckInput", () => {
  it("encodes the ADR's document, indented, with apiVersion and kind", () => {
    const text = CheckInput.encode(FIELDS)
    expect(text.endsWith("}\n")).toBe(true)
    expect(JSON.parse(text)).toEqual({ apiVersion: "aicr.nvidia.com/v1alpha1", kind: "CheckInput", ...FIELDS })
    expect(text).toContain('\n  "check": "nccl-all-reduce-bw",\n')
  })

  it("round-trips, with null tolerations meaning none were given", () => {
    const decoded = CheckInput.decode(CheckInput.encode(FIELDS))
    expect(decoded).toEqual({ _tag: "Ok", input: { apiVersion: "aicr.nvidia.com/v1alpha1", kind: "CheckInput", ...FIELDS } })
    const none = CheckInput.decode(CheckInput.encode({ ...FIELDS, tolerations: null }))
    expect(none._tag === "Ok" && CheckInput.tolerationsOf(none.input)).toBeUndefined()
  })

  it("drops undefined toleration fields and ignores unknown fields", () => {
    const text = CheckInput.encode({ ...FIELDS, tolerations: [{ key: undefined, operator: "Exists", value: undefined, effect: undefined }] })
    expect(JSON.parse(text).tolerations).toEqual([{ operator: "Exists" }])
    expect(CheckInput.decode(withChanges({ addedLater: { x: 1 } }))._tag).toBe("Ok")
  })

  it("reports a file that is not JSON or not an object", () => {
    expect(problemsOf("{\"check\": ")[0]).toMatch(/^not JSON: /)
    expect(problemsOf("[1]")).toEqual(["expected a CheckInput object, got an array"])
    expect(problemsOf("null")).toEqual(["expected a CheckInput object, got null"])
  })

  it("reports every problem at once, each with its path", () => {
    const text = withChanges({
      apiVersion: "v1",
      kind: "Recipe",
      phase: "speed",
      runId: "yesterday",
      images: { validator: "", runtime: 7 },
      timeoutMs: "30m",
      tolerations: [{ operator: "Equal", value: "x" }],
      imagePullSecrets: ["Bad_Name"],
      keep: undefined
    })
    expect(problemsOf(text)).toEqual([
      'apiVersion: is string "v1", expected "aicr.nvidia.com/v1alpha1"',
      'kind: is string "Recipe", expected "CheckInput"',
      'phase: is string "speed", expected one of "deployment", "performance", "conformance"',
      'runId: must be a run ID: YYYYMMDD-HHMMSS-<16 hex> (got string "yesterday")',
      'images.validator: must name an image (got string "")',
      "images.runtime: expected string, got number 7",
      'timeoutMs: expected number, got string "30m"',
      "tolerations[0]: a toleration with operator Equal needs a key",
      'imagePullSecrets[0]: must be a Secret name (a DNS-1123 subdomain) (got string "Bad_Name")',
      "keep: is missing (expected boolean)"
    ])
  })

  it("refuses a timeout that is not a positive whole number of milliseconds", () => {
    expect(problemsOf(withChanges({ timeoutMs: 0 }))).toEqual(["timeoutMs: must be greater than 0 (got number 0)"])
    expect(problemsOf(withChanges({ timeoutMs: 1.5 }))).toEqual(["timeoutMs: must be a whole number of milliseconds (got number 1.5)"])
  })

  it("names missing fields with what is expected", () => {
    expect(problemsOf('{"apiVersion":"aicr.nvidia.com/v1alpha1","check":"x"}').slice(0, 3)).toEqual([
      'kind: is missing (expected "CheckInput")',
      'phase: is missing (expected "deployment" or "performance" or "conformance")',
      "runId: is missing (expected string)"
    ])
  })

  it("names a missing recipe text", () => {
    expect(problemsOf(withChanges({ recipe: { source: "r.yaml" } }))).toEqual(["recipe.text: is missing (expected string)"])
  })
})
