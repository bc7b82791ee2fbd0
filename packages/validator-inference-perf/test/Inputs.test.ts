import { it as effectIt } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import * as Inputs from "../src/Inputs.ts"

/** The schema with no knob in the environment: decoding depends on the recipe only. */
const schema = Inputs.makeConstraints(() => ({}))

const decode = (input: Record<string, string>) => schema.parse(input)

const issues = (input: Record<string, string>, env: Inputs.Env = {}) => {
  const parsed = Inputs.makeConstraints(() => env).safeParse(input)
  if (parsed.success) throw new Error(`expected ${JSON.stringify(input)} to be refused`)
  return parsed.error.issues.map((issue) => ({ path: issue.path, message: issue.message }))
}

const messageOf = (name: string, value: string) => {
  const found = issues({ [name]: value })
  expect(found).toHaveLength(1)
  expect(found[0]!.path).toEqual([name])
  return found[0]!.message
}

describe("inference-throughput", () => {
  it.each([
    [">= 5000", 5000],
    [">= 5000 tok/s", 5000],
    ["  >= 5000", 5000],
    [">=5000", 5000],
    [">=.5", 0.5],
    [">= 50000 tokens/s", 50000],
    [">= 1e5 tokens/sec", 100000],
    [">= 12.5  ", 12.5]
  ])("accepts %j as >= %d tokens/s", (text, value) => {
    expect(decode({ "inference-throughput": text })).toEqual({ "inference-throughput": { operator: ">=", value } })
  })

  it.each([
    ["> 5000", 'constraint "inference-throughput" is "> 5000" but inference-perf accepts only ">=" (the 10% tolerance already relaxes the gate): use ">= 5000"'],
    ["== 5000", 'constraint "inference-throughput" is "== 5000" but it must be a minimum (higher is better): use ">= 5000"'],
    ["!= 5000", 'constraint "inference-throughput" is "!= 5000" but it must be a minimum (higher is better): use ">= 5000"'],
    ["5000", 'constraint "inference-throughput" is "5000" but it needs the operator ">=": use ">= 5000"'],
    ["<= 5000", 'constraint "inference-throughput" is "<= 5000" but it must be a minimum (higher is better): use ">= 5000"'],
    ["< 50000", 'constraint "inference-throughput" is "< 50000" but it must be a minimum (higher is better): use ">= 50000"'],
    [">== 5000", 'constraint "inference-throughput" is ">== 5000": write ">=" once, then the number: use ">= 5000"'],
    [">=! 5000", 'constraint "inference-throughput" is ">=! 5000": write ">=" once, then the number: use ">= 5000"'],
    [">=< 5000", 'constraint "inference-throughput" is ">=< 5000": write ">=" once, then the number: use ">= 5000"'],
    [">= =5000", 'constraint "inference-throughput" is ">= =5000": write ">=" once, then the number: use ">= 5000"'],
    [">=  >5000", 'constraint "inference-throughput" is ">=  >5000": write ">=" once, then the number: use ">= 5000"'],
    [">= 50k", 'constraint "inference-throughput" is ">= 50k": "50k" is not a plain number (tokens/s); use ">= 5000"'],
    [">= -5", 'constraint "inference-throughput" is ">= -5": "-5" is not a plain number (tokens/s); use ">= 5000"'],
    [">= NaN", 'constraint "inference-throughput" is ">= NaN": "NaN" is not a plain number (tokens/s); use ">= 5000"'],
    [">= 0", 'constraint "inference-throughput" is ">= 0": the threshold must be a number greater than 0 (tokens/s)'],
    [">= 5000 GB/s", 'constraint "inference-throughput" is ">= 5000 GB/s": the unit "GB/s" is not tokens/s; write the number alone (tokens/s) or with tok/s, tokens/s, tokens/sec, token/s'],
    [">= 5000 ms", 'constraint "inference-throughput" is ">= 5000 ms": the unit "ms" is not tokens/s; write the number alone (tokens/s) or with tok/s, tokens/s, tokens/sec, token/s'],
    ["", 'constraint "inference-throughput" is empty: write ">= 5000" (tokens/s)'],
    [">=", 'constraint "inference-throughput" is ">=": the number is missing; use ">= 5000"']
  ])("refuses %j", (text, message) => {
    expect(messageOf("inference-throughput", text)).toBe(message)
  })
})

describe("inference-ttft-p99", () => {
  it.each([
    ["<= 200", 200],
    ["<=200.5", 200.5],
    ["<= 2000 ms", 2000],
    ["  <=  750", 750]
  ])("accepts %j as <= %d ms", (text, value) => {
    expect(decode({ "inference-ttft-p99": text })).toEqual({ "inference-ttft-p99": { operator: "<=", value } })
  })

  it.each([
    ["< 200", 'constraint "inference-ttft-p99" is "< 200" but inference-perf accepts only "<=" (the 10% tolerance already relaxes the gate): use "<= 200"'],
    [">= 2000", 'constraint "inference-ttft-p99" is ">= 2000" but it must be a maximum (lower is better): use "<= 2000"'],
    ["200", 'constraint "inference-ttft-p99" is "200" but it needs the operator "<=": use "<= 200"'],
    ["<=   !200", 'constraint "inference-ttft-p99" is "<=   !200": write "<=" once, then the number: use "<= 200"'],
    ["<= <200", 'constraint "inference-ttft-p99" is "<= <200": write "<=" once, then the number: use "<= 200"'],
    ["<=> 200", 'constraint "inference-ttft-p99" is "<=> 200": write "<=" once, then the number: use "<= 200"'],
    ["<= 2 s", 'constraint "inference-ttft-p99" is "<= 2 s": the unit "s" is not ms; write the number alone (ms) or with ms']
  ])("refuses %j", (text, message) => {
    expect(messageOf("inference-ttft-p99", text)).toBe(message)
  })
})

describe("inputs", () => {
  it("decodes upstream's h100-gke-cos-inference-dynamo overlay (@ 693a7f8f)", () => {
    expect(decode({
      "inference-model": "Qwen/Qwen3-8B",
      "inference-concurrency-per-gpu": "256",
      "inference-routing-mode": "dynamo-router",
      "inference-throughput": ">= 50000",
      "inference-ttft-p99": "<= 2000"
    })).toEqual({
      "inference-model": "Qwen/Qwen3-8B",
      "inference-concurrency-per-gpu": 256,
      "inference-routing-mode": "dynamo-router",
      "inference-throughput": { operator: ">=", value: 50000 },
      "inference-ttft-p99": { operator: "<=", value: 2000 }
    })
  })

  it.each(["Qwen/Qwen3-0.6B", "meta-llama/Llama-3.1-8B-Instruct", "gpt2", "nvidia/Llama-3_3-Nemotron-Super-49B-v1", " Qwen/Qwen3-8B "])(
    "accepts the model %j (trimmed)",
    (model) => {
      expect(decode({ "inference-model": model })).toEqual({ "inference-model": model.trim() })
    }
  )

  it.each([
    ["Qwen Qwen3", 'constraint "inference-model" is "Qwen Qwen3": must be a Hugging Face model ID such as Qwen/Qwen3-0.6B (characters [A-Za-z0-9._/-], at most one "/")'],
    ["a/b/c", 'constraint "inference-model" is "a/b/c": must be a Hugging Face model ID such as Qwen/Qwen3-0.6B (characters [A-Za-z0-9._/-], at most one "/")'],
    ["../etc", 'constraint "inference-model" is "../etc": must be a Hugging Face model ID such as Qwen/Qwen3-0.6B (characters [A-Za-z0-9._/-], at most one "/")'],
    ["org/..", 'constraint "inference-model" is "org/..": must be a Hugging Face model ID such as Qwen/Qwen3-0.6B (characters [A-Za-z0-9._/-], at most one "/")'],
    ["-rf", 'constraint "inference-model" is "-rf": must be a Hugging Face model ID such as Qwen/Qwen3-0.6B (characters [A-Za-z0-9._/-], at most one "/")'],
    ["Qwen/$(id)", 'constraint "inference-model" is "Qwen/$(id)": must be a Hugging Face model ID such as Qwen/Qwen3-0.6B (characters [A-Za-z0-9._/-], at most one "/")'],
    [">= 3", 'constraint "inference-model" takes a plain value, not a comparison'],
    ["  ", 'constraint "inference-model" is empty: name a Hugging Face model such as Qwen/Qwen3-0.6B']
  ])("refuses the model %j", (model, message) => {
    expect(messageOf("inference-model", model)).toBe(message)
  })

  it.each(["0", "2.5", "-3", "many", ""])("refuses the concurrency %j", (value) => {
    expect(messageOf("inference-concurrency-per-gpu", value)).toBe(
      `constraint "inference-concurrency-per-gpu" must be a positive whole number (got "${value}")`
    )
  })

  it("refuses gateway-epp, which is not deployed, and any other routing mode", () => {
    expect(messageOf("inference-routing-mode", "gateway-epp")).toBe(
      'constraint "inference-routing-mode" is "gateway-epp", which this version of aicr does not deploy: use dynamo-router or remove the constraint'
    )
    expect(messageOf("inference-routing-mode", "round-robin")).toBe('constraint "inference-routing-mode" must be dynamo-router (got "round-robin")')
  })

  it("checks the model-cache storage class is a StorageClass name", () => {
    expect(decode({ "inference-model-cache-storage-class": "premium-rwo" })).toEqual({ "inference-model-cache-storage-class": "premium-rwo" })
    expect(messageOf("inference-model-cache-storage-class", "Premium_RWO")).toBe(
      'constraint "inference-model-cache-storage-class" is "Premium_RWO": a StorageClass name is lowercase letters, digits, "-" and "."'
    )
  })

  it("ignores constraints of the phase that are not its own, and accepts nothing at all", () => {
    expect(decode({ "inference-throughput": ">= 50000", "nccl-all-reduce-bw": ">= 300" })).toEqual({
      "inference-throughput": { operator: ">=", value: 50000 }
    })
    expect(decode({})).toEqual({})
  })

  it("reports every bad constraint and every bad knob at once, knobs without a path", () => {
    expect(issues(
      { "inference-throughput": "> 1", "inference-ttft-p99": ">= 1", "inference-concurrency-per-gpu": "x" },
      { AICR_INFERENCE_PERF_HEALTH_TIMEOUT: "soon", AICR_INFERENCE_PERF_MIN_REQUESTS: "0" }
    )).toEqual([
      { path: ["inference-throughput"], message: 'constraint "inference-throughput" is "> 1" but inference-perf accepts only ">=" (the 10% tolerance already relaxes the gate): use ">= 1"' },
      { path: ["inference-ttft-p99"], message: 'constraint "inference-ttft-p99" is ">= 1" but it must be a maximum (lower is better): use "<= 1"' },
      { path: ["inference-concurrency-per-gpu"], message: 'constraint "inference-concurrency-per-gpu" must be a positive whole number (got "x")' },
      { path: [], message: 'invalid AICR_INFERENCE_PERF_MIN_REQUESTS="0": must be a positive integer; unset it to use the default 1000' },
      { path: [], message: 'invalid AICR_INFERENCE_PERF_HEALTH_TIMEOUT="soon": must be a positive Go duration (e.g. 30m, 90s, 250ms); unset it to use the default 5m' }
    ])
  })

  it("the plugin's schema reads the knobs of this process when it decodes", () => {
    const saved = process.env["AICR_INFERENCE_PERF_AIPERF_JOB_TIMEOUT"]
    process.env["AICR_INFERENCE_PERF_AIPERF_JOB_TIMEOUT"] = "-1m"
    try {
      const parsed = Inputs.constraints.safeParse({ "inference-throughput": ">= 1" })
      expect(parsed.error?.issues.map((issue) => issue.message)).toEqual([
        'invalid AICR_INFERENCE_PERF_AIPERF_JOB_TIMEOUT="-1m": must be a positive Go duration (e.g. 30m, 90s, 250ms); unset it to use the default 15m'
      ])
    } finally {
      if (saved === undefined) delete process.env["AICR_INFERENCE_PERF_AIPERF_JOB_TIMEOUT"]
      else process.env["AICR_INFERENCE_PERF_AIPERF_JOB_TIMEOUT"] = saved
    }
  })
})

describe("Go durations", () => {
  it.each([
    ["30m", 1_800_000],
    ["1h30m", 5_400_000],
    ["90s", 90_000],
    ["1.5s", 1_500],
    ["250ms", 250],
    ["5ms", 5],
    ["100us", 0.1],
    ["2h", 7_200_000],
    [" +10s ", 10_000],
    ["1m0.5s", 60_500]
  ])("parses %j as %d ms", (text, ms) => {
    expect(Inputs.parseDuration(text)).toBe(ms)
  })

  it.each(["", "10", "-5m", "5 m", "5x", "m", "1d", "Infinity"])("refuses %j", (text) => {
    expect(Inputs.parseDuration(text)).toBeUndefined()
  })

  it.each([[300_000, "5m"], [7_200_000, "2h"], [10_000, "10s"], [1_500, "1500ms"]])("formats %d ms as %j", (ms, text) => {
    expect(Inputs.formatDuration(ms)).toBe(text)
  })
})

describe("knobs", () => {
  it("default to upstream's values: model, router, load shape, and every wait", () => {
    expect(Inputs.decodeKnobs({})).toEqual({ _tag: "Ok", knobs: Inputs.DEFAULT_KNOBS })
    expect(Inputs.DEFAULT_KNOBS).toEqual({
      model: "Qwen/Qwen3-0.6B",
      routerMode: "least-loaded",
      concurrencyPerGpu: 16,
      warmupPerConcurrency: 1,
      minRequests: 1000,
      requestsPerConcurrency: 8,
      inputTokensMean: 128,
      outputTokensMean: 128,
      namespaceTerminationWaitMs: 300_000,
      workloadReadyTimeoutMs: 600_000,
      modelCachePopulateTimeoutMs: 780_000,
      endpointReadyTimeoutMs: 300_000,
      endpointPollIntervalMs: 10_000,
      endpointProbeTimeoutMs: 120_000,
      aiperfPodTimeoutMs: 300_000,
      aiperfJobTimeoutMs: 900_000,
      apiCallTimeoutMs: 120_000,
      jobCreationTimeoutMs: 30_000,
      cleanupTimeoutMs: 30_000
    })
  })

  it("are read from AICR_INFERENCE_PERF_* variables; blank means unset", () => {
    expect(Inputs.KNOBS.map((knob) => knob.env)).toEqual([
      "AICR_INFERENCE_PERF_MODEL",
      "AICR_INFERENCE_PERF_ROUTER_MODE",
      "AICR_INFERENCE_PERF_CONCURRENCY_PER_GPU",
      "AICR_INFERENCE_PERF_WARMUP_PER_CONCURRENCY",
      "AICR_INFERENCE_PERF_MIN_REQUESTS",
      "AICR_INFERENCE_PERF_REQUESTS_PER_CONCURRENCY",
      "AICR_INFERENCE_PERF_INPUT_TOKENS_MEAN",
      "AICR_INFERENCE_PERF_OUTPUT_TOKENS_MEAN",
      "AICR_INFERENCE_PERF_NAMESPACE_TERMINATION_WAIT",
      "AICR_INFERENCE_PERF_WORKLOAD_READY_TIMEOUT",
      "AICR_INFERENCE_PERF_MODEL_CACHE_POPULATE_TIMEOUT",
      "AICR_INFERENCE_PERF_HEALTH_TIMEOUT",
      "AICR_INFERENCE_PERF_HEALTH_POLL_INTERVAL",
      "AICR_INFERENCE_PERF_ENDPOINT_PROBE_TIMEOUT",
      "AICR_INFERENCE_PERF_AIPERF_POD_TIMEOUT",
      "AICR_INFERENCE_PERF_AIPERF_JOB_TIMEOUT",
      "AICR_INFERENCE_PERF_API_TIMEOUT",
      "AICR_INFERENCE_PERF_JOB_CREATION_TIMEOUT",
      "AICR_INFERENCE_PERF_CLEANUP_TIMEOUT"
    ])
    expect(Inputs.decodeKnobs({
      AICR_INFERENCE_PERF_MODEL: " meta-llama/Llama-3.1-8B ",
      AICR_INFERENCE_PERF_ROUTER_MODE: "kv",
      AICR_INFERENCE_PERF_CONCURRENCY_PER_GPU: "256",
      AICR_INFERENCE_PERF_MIN_REQUESTS: "+10",
      AICR_INFERENCE_PERF_HEALTH_TIMEOUT: "20ms",
      AICR_INFERENCE_PERF_HEALTH_POLL_INTERVAL: "1ms",
      AICR_INFERENCE_PERF_WORKLOAD_READY_TIMEOUT: "1h30m",
      AICR_INFERENCE_PERF_CLEANUP_TIMEOUT: "   "
    })).toEqual({
      _tag: "Ok",
      knobs: {
        ...Inputs.DEFAULT_KNOBS,
        model: "meta-llama/Llama-3.1-8B",
        routerMode: "kv",
        concurrencyPerGpu: 256,
        minRequests: 10,
        endpointReadyTimeoutMs: 20,
        endpointPollIntervalMs: 1,
        workloadReadyTimeoutMs: 5_400_000
      }
    })
  })

  it("collect every problem, with the variable, its value and what to do", () => {
    expect(Inputs.decodeKnobs({
      AICR_INFERENCE_PERF_MODEL: "Qwen Qwen3",
      AICR_INFERENCE_PERF_ROUTER_MODE: "direct",
      AICR_INFERENCE_PERF_CONCURRENCY_PER_GPU: "2.5",
      AICR_INFERENCE_PERF_OUTPUT_TOKENS_MEAN: "99999999999999999999",
      AICR_INFERENCE_PERF_ENDPOINT_PROBE_TIMEOUT: "0s"
    })).toEqual({
      _tag: "Error",
      problems: [
        {
          env: "AICR_INFERENCE_PERF_MODEL",
          value: "Qwen Qwen3",
          message: 'invalid inference model "Qwen Qwen3" (AICR_INFERENCE_PERF_MODEL): must be a Hugging Face model ID such as Qwen/Qwen3-0.6B (characters [A-Za-z0-9._/-], at most one "/")'
        },
        {
          env: "AICR_INFERENCE_PERF_ROUTER_MODE",
          value: "direct",
          message: 'invalid AICR_INFERENCE_PERF_ROUTER_MODE "direct": must be one of kv, round-robin, random, power-of-two, least-loaded, device-aware-weighted'
        },
        {
          env: "AICR_INFERENCE_PERF_CONCURRENCY_PER_GPU",
          value: "2.5",
          message: 'invalid AICR_INFERENCE_PERF_CONCURRENCY_PER_GPU="2.5": must be a positive integer; unset it to use the default 16'
        },
        {
          env: "AICR_INFERENCE_PERF_OUTPUT_TOKENS_MEAN",
          value: "99999999999999999999",
          message: 'invalid AICR_INFERENCE_PERF_OUTPUT_TOKENS_MEAN="99999999999999999999": must be a positive integer; unset it to use the default 128'
        },
        {
          env: "AICR_INFERENCE_PERF_ENDPOINT_PROBE_TIMEOUT",
          value: "0s",
          message: 'invalid AICR_INFERENCE_PERF_ENDPOINT_PROBE_TIMEOUT="0s": must be a positive Go duration (e.g. 30m, 90s, 250ms); unset it to use the default 2m'
        }
      ]
    })
  })

  effectIt.effect("load from the ConfigProvider, so a test runs every wait in milliseconds", () =>
    Effect.gen(function*() {
      const knobs = yield* Inputs.loadKnobs
      expect(knobs).toEqual({ ...Inputs.DEFAULT_KNOBS, endpointReadyTimeoutMs: 50, endpointPollIntervalMs: 5, aiperfJobTimeoutMs: 100 })
    }).pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord({
      AICR_INFERENCE_PERF_HEALTH_TIMEOUT: "50ms",
      AICR_INFERENCE_PERF_HEALTH_POLL_INTERVAL: "5ms",
      AICR_INFERENCE_PERF_AIPERF_JOB_TIMEOUT: "100ms",
      UNRELATED: "x"
    }))))

  effectIt.effect("fail to load with KnobError naming every bad variable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Inputs.loadKnobs)
      expect(error._tag).toBe("InferencePerfKnobError")
      expect(error.message).toBe(
        'invalid AICR_INFERENCE_PERF_WARMUP_PER_CONCURRENCY="none": must be a positive integer; unset it to use the default 1; ' +
          'invalid AICR_INFERENCE_PERF_API_TIMEOUT="2": must be a positive Go duration (e.g. 30m, 90s, 250ms); unset it to use the default 2m'
      )
      expect(error.problems.map((problem) => problem.env)).toEqual(["AICR_INFERENCE_PERF_WARMUP_PER_CONCURRENCY", "AICR_INFERENCE_PERF_API_TIMEOUT"])
    }).pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord({
      AICR_INFERENCE_PERF_WARMUP_PER_CONCURRENCY: "none",
      AICR_INFERENCE_PERF_API_TIMEOUT: "2"
    }))))
})

describe("resolve", () => {
  const knobs: Inputs.Knobs = { ...Inputs.DEFAULT_KNOBS, model: "env/model", concurrencyPerGpu: 64 }

  it("takes each input from the recipe, else the knob, else the default", () => {
    expect(Inputs.resolve(decode({ "inference-throughput": ">= 5000" }))).toEqual({
      throughput: { operator: ">=", value: 5000 },
      ttftP99: undefined,
      model: "Qwen/Qwen3-0.6B",
      concurrencyPerGpu: 16,
      routingMode: "dynamo-router",
      modelCacheStorageClass: undefined,
      tolerance: 0.1,
      knobs: Inputs.DEFAULT_KNOBS
    })
    expect(Inputs.resolve(decode({ "inference-ttft-p99": "<= 200" }), knobs)).toMatchObject({ model: "env/model", concurrencyPerGpu: 64 })
    expect(Inputs.resolve(decode({ "inference-model": "Qwen/Qwen3-8B", "inference-concurrency-per-gpu": "256" }), knobs)).toMatchObject({
      model: "Qwen/Qwen3-8B",
      concurrencyPerGpu: 256,
      knobs
    })
  })
})
