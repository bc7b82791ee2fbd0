import { describe, expect, it } from "vitest"
import { fixture, runCli } from "./support/cli.ts"

const RECIPE = fixture("recipes", "inference-gt-throughput.yaml")

const HEADING = "error: 1 problem in the input; nothing was changed on the cluster"

describe.concurrent("inference-perf inputs are decoded before anything touches the cluster", () => {
  it('refuses inference-throughput "> 5000" in a dry run with exit 2, at the constraint\'s YAML path', async () => {
    const result = await runCli(["validate", "-r", RECIPE, "--phase", "performance", "--dry-run"])
    expect(result.status).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr.split("\n")).toEqual([
      HEADING,
      `  ${RECIPE}:19:11: spec.validation.performance.constraints[1].value: inference-perf: constraint "inference-throughput" is "> 5000" ` +
        'but inference-perf accepts only ">=" (the 10% tolerance already relaxes the gate): use ">= 5000"',
      ""
    ])
  })

  it("refuses a knob of the environment that does not parse, naming the variable and its default", async () => {
    const recipe = fixture("recipes", "newer-693a7f8f--h100-gke-cos-inference-dynamo.yaml")
    const result = await runCli(["validate", "-r", recipe, "--phase", "performance", "--dry-run"], {
      env: { AICR_INFERENCE_PERF_WORKLOAD_READY_TIMEOUT: "ten minutes" }
    })
    expect(result.status).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr).toContain(`${HEADING}\n`)
    expect(result.stderr).toMatch(
      new RegExp(
        `\\n  ${recipe.replaceAll(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:\\d+:\\d+: spec\\.validation\\.performance\\.constraints: inference-perf: ` +
          'invalid AICR_INFERENCE_PERF_WORKLOAD_READY_TIMEOUT="ten minutes": must be a positive Go duration \\(e\\.g\\. 30m, 90s, 250ms\\); ' +
          "unset it to use the default 10m\\n"
      )
    )
  })
})
