import { describe, expect, it } from "vitest"
import * as Inputs from "../src/Inputs.ts"
import * as Load from "../src/Load.ts"

const URL = "http://aicr-inference-perf-frontend.aicr-inference-perf-1a2b3c4d.svc:8000"

const input = (overrides: Partial<Load.LoadInput> = {}): Load.LoadInput => ({
  model: "Qwen/Qwen3-0.6B",
  url: URL,
  gpuCount: 8,
  concurrencyPerGpu: 16,
  warmupPerConcurrency: 1,
  minRequests: 1000,
  requestsPerConcurrency: 8,
  inputTokensMean: 128,
  outputTokensMean: 128,
  ...overrides
})

const flag = (args: ReadonlyArray<string>, name: string) => {
  const index = args.indexOf(name)
  return index === -1 ? undefined : args[index + 1]
}

describe("plan", () => {
  it("renders every aiperf profile flag in order, model first", () => {
    expect(Load.plan(input())).toEqual({
      concurrency: 128,
      requestCount: 1024,
      warmupRequestCount: 128,
      randomSeed: 100,
      datasetEntries: 100,
      args: [
        "--model", "Qwen/Qwen3-0.6B",
        "--url", URL,
        "--endpoint-type", "chat",
        "--streaming",
        "--concurrency", "128",
        "--request-count", "1024",
        "--warmup-request-count", "128",
        "--prompt-input-tokens-mean", "128",
        "--prompt-input-tokens-stddev", "0",
        "--prompt-output-tokens-mean", "128",
        "--prompt-output-tokens-stddev", "0",
        "--num-dataset-entries", "100",
        "--random-seed", "100",
        "--extra-inputs", "temperature:0",
        "--output-artifact-dir", "/tmp/aiperf",
        "--export-level", "summary"
      ]
    })
  })

  it.each([
    // gpus, per GPU, min requests, per concurrency → concurrency, requests, warm-up
    [1, 16, 1000, 8, 16, 1000, 16],
    [8, 16, 1000, 8, 128, 1024, 128],
    [8, 256, 1000, 8, 2048, 16384, 2048],
    [1, 16, 200, 2, 16, 200, 16],
    [2, 250, 200, 2, 500, 1000, 500]
  ])("%d GPUs × %d per GPU, min %d, %d per concurrency → C=%d, R=%d, warm-up %d", (gpuCount, concurrencyPerGpu, minRequests, requestsPerConcurrency, concurrency, requestCount, warmup) => {
    const load = Load.plan(input({ gpuCount, concurrencyPerGpu, minRequests, requestsPerConcurrency }))
    expect([load.concurrency, load.requestCount, load.warmupRequestCount]).toEqual([concurrency, requestCount, warmup])
    expect(flag(load.args, "--concurrency")).toBe(String(concurrency))
    expect(flag(load.args, "--request-count")).toBe(String(requestCount))
    expect(load.requestCount).toBeGreaterThanOrEqual(load.concurrency)
  })

  it("makes warm-up waves of the full concurrency", () => {
    expect(Load.plan(input({ warmupPerConcurrency: 3 })).warmupRequestCount).toBe(384)
  })

  it("carries the model as one argument, whatever it looks like, and another artifact directory when asked", () => {
    const args = Load.plan(input({ model: "meta-llama/Llama-3.1-8B-Instruct", artifactDir: "/work/out", inputTokensMean: 512, outputTokensMean: 64 })).args
    expect(args.slice(0, 2)).toEqual(["--model", "meta-llama/Llama-3.1-8B-Instruct"])
    expect(flag(args, "--output-artifact-dir")).toBe("/work/out")
    expect(flag(args, "--prompt-input-tokens-mean")).toBe("512")
    expect(flag(args, "--prompt-output-tokens-mean")).toBe("64")
  })

  it.each([
    [{ gpuCount: 0 }, "gpuCount must be a positive integer (got 0)"],
    [{ concurrencyPerGpu: 1.5 }, "concurrencyPerGpu must be a positive integer (got 1.5)"],
    [{ minRequests: -1 }, "minRequests must be a positive integer (got -1)"],
    [{ warmupPerConcurrency: Number.NaN }, "warmupPerConcurrency must be a positive integer (got NaN)"]
  ])("refuses %j as a programming error", (overrides, message) => {
    expect(() => Load.plan(input(overrides))).toThrow(new RangeError(message))
  })
})

describe("forSettings", () => {
  it("takes the model and per-GPU concurrency of the settings, and the load shape of the knobs", () => {
    const settings = Inputs.resolve(
      { "inference-model": "Qwen/Qwen3-8B", "inference-concurrency-per-gpu": 256, "inference-throughput": { operator: ">=", value: 50000 } },
      { ...Inputs.DEFAULT_KNOBS, minRequests: 10, requestsPerConcurrency: 2, warmupPerConcurrency: 2, outputTokensMean: 256 }
    )
    const load = Load.forSettings(settings, { url: URL, gpuCount: 4 })
    expect([load.concurrency, load.requestCount, load.warmupRequestCount]).toEqual([1024, 2048, 2048])
    expect(load.args.slice(0, 4)).toEqual(["--model", "Qwen/Qwen3-8B", "--url", URL])
    expect(flag(load.args, "--prompt-output-tokens-mean")).toBe("256")
  })

  it("defaults to upstream's load shape at 16 requests in flight per GPU", () => {
    const load = Load.forSettings(Inputs.resolve({}), { url: URL, gpuCount: 8 })
    expect(load).toEqual(Load.plan(input()))
  })
})
