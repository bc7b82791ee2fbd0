import { describe, expect, it } from "vitest"
import { fixture, runCli } from "./support/cli.ts"

const RECIPE = fixture("recipes", "nccl-le-bandwidth.yaml")
const EKS = fixture("recipes", "v0.11.1--h100-eks-ubuntu-training.yaml")

const HEADING = "error: 1 problem in the input; nothing was changed on the cluster"

const escape = (text: string) => text.replaceAll(/[.*+?^${}()|[\]\\/]/g, "\\$&")

describe.concurrent("nccl-all-reduce-bw inputs are decoded before anything touches the cluster", () => {
  it('refuses nccl-all-reduce-bw "<= 300" (upstream read it as ">= 300") in a dry run with exit 2, at the constraint\'s YAML path', async () => {
    const result = await runCli(["validate", "-r", RECIPE, "--phase", "performance", "--dry-run"])
    expect(result.status).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr.split("\n")).toEqual([
      HEADING,
      `  ${RECIPE}:21:11: spec.validation.performance.constraints[1].value: nccl-all-reduce-bw: constraint "nccl-all-reduce-bw" is "<= 300" ` +
        'but it must be a minimum (bus bandwidth: higher is better; upstream read any operator as ">="): use ">= 300"',
      ""
    ])
  })

  it("refuses a knob of the environment that does not parse, naming the variable and its default", async () => {
    const result = await runCli(["validate", "-r", EKS, "--phase", "performance", "--dry-run"], {
      env: { AICR_NCCL_MAX_MESSAGE_SIZE: "16T" }
    })
    expect(result.status).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr).toContain(`${HEADING}\n`)
    expect(result.stderr).toMatch(
      new RegExp(
        `\\n  ${escape(EKS)}:\\d+:\\d+: spec\\.validation\\.performance\\.constraints: nccl-all-reduce-bw: ` +
          escape('invalid AICR_NCCL_MAX_MESSAGE_SIZE="16T": must be a positive size in bytes or with K, M or G (powers of 1024, e.g. 1K, 512M, 16G); ') +
          "unset it to use the default 16G\\n"
      )
    )
  })

  it("refuses a runtime image that is not an image reference", async () => {
    const result = await runCli(["validate", "-r", EKS, "--phase", "performance", "--dry-run"], {
      env: { AICR_NCCL_RUNTIME_IMAGE: "nvcr.io/nvidia/pytorch:25.06 py3" }
    })
    expect(result.status).toBe(2)
    expect(result.stderr).toContain(
      'nccl-all-reduce-bw: invalid AICR_NCCL_RUNTIME_IMAGE="nvcr.io/nvidia/pytorch:25.06 py3": not a well-formed image reference'
    )
  })

  it("plans with valid knobs", async () => {
    const result = await runCli(["validate", "-r", EKS, "--phase", "performance", "--dry-run"], {
      env: {
        AICR_NCCL_RUNTIME_IMAGE: "localhost:5001/hpc-cloud/nccl-tests:mirror",
        AICR_NCCL_NODE_COUNT: "4",
        AICR_NCCL_MAX_MESSAGE_SIZE: "8G",
        AICR_NCCL_TRAINJOB_TIMEOUT: "20m"
      }
    })
    expect(result.stderr).not.toContain("error:")
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("  nccl-all-reduce-bw — run\n")
  })
})
