import { describe, expect, it } from "vitest"
import * as InClusterRunner from "../src/InClusterRunner.ts"
import type { KubeObject } from "../src/KubeClient.ts"

const pod = (container: Record<string, unknown> | undefined, phase = "Failed"): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "aicr-x-1234-abcde", namespace: "aicr-validation" },
  status: { phase, ...(container === undefined ? {} : { containerStatuses: [{ name: "validator", ...container }] }) }
})

const job = (condition?: { type: string; reason: string; message: string }): KubeObject => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "aicr-x-1234" },
  status: { conditions: condition === undefined ? [] : [{ ...condition, status: "True" }] }
})

describe("InClusterRunner.keepLines", () => {
  it("keeps the last N lines and cuts long ones, saying by how much", () => {
    const text = ["one", "two", "x".repeat(20), "four"].join("\n") + "\n"
    expect(InClusterRunner.keepLines(text, 2, 10)).toEqual(["x".repeat(10) + "... [truncated 10 chars]", "four"])
    expect(InClusterRunner.keepLines("a\nb", 1000, 512)).toEqual(["a", "b"])
  })
})

describe("InClusterRunner.reasonWithoutRecord", () => {
  it("names an OOM kill, a deadline, an exit without a record, a stuck image and a missing pod", () => {
    expect(InClusterRunner.reasonWithoutRecord(pod({ state: { terminated: { reason: "OOMKilled", exitCode: 137 } } }), job())).toBe(
      "the check's container was OOMKilled (it ran out of memory) before it reported an outcome"
    )
    expect(InClusterRunner.reasonWithoutRecord(pod({ state: { running: {} } }, "Running"), job({ type: "Failed", reason: "DeadlineExceeded", message: "Job was active longer than specified deadline" })))
      .toBe("the check's Job exceeded its deadline (Job was active longer than specified deadline) before the check reported an outcome")
    expect(InClusterRunner.reasonWithoutRecord(pod({ state: { terminated: { reason: "Error", exitCode: 1 } } }), job())).toBe(
      "the check exited with code 1 (Error) without reporting an outcome"
    )
    expect(InClusterRunner.reasonWithoutRecord(pod({ state: { waiting: { reason: "ImagePullBackOff", message: "Back-off pulling image \"x\"" } } }, "Pending"), undefined)).toBe(
      "the check's container could not start: ImagePullBackOff: Back-off pulling image \"x\""
    )
    expect(InClusterRunner.reasonWithoutRecord(undefined, job())).toBe("the check's pod never appeared")
    expect(InClusterRunner.reasonWithoutRecord(undefined, job({ type: "Failed", reason: "BackoffLimitExceeded", message: "x" }))).toBe(
      "the check's Job failed before its pod ran (BackoffLimitExceeded: x)"
    )
  })
})

describe("InClusterRunner.forwardedEnv", () => {
  it("passes the checks' AICR_* knobs, not the runner's own variables nor anything else", () => {
    expect(InClusterRunner.forwardedEnv({
      AICR_NCCL_ITERATIONS: "5",
      AICR_INFERENCE_PERF_API_TIMEOUT: "10s",
      AICR_RUN_ID: "20261128-120000-00000000000000aa",
      AICR_STATE_DIR: "/home/me/.local/state",
      AICR_VALIDATOR_IMAGE_REGISTRY: "mirror.example",
      AICR_COMMIT: "abc",
      KUBECONFIG: "/home/me/.kube/config",
      HF_TOKEN: "secret",
      AICR_EMPTY: undefined
    })).toEqual({ AICR_NCCL_ITERATIONS: "5", AICR_INFERENCE_PERF_API_TIMEOUT: "10s" })
  })
})
