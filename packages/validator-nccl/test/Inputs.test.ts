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

const GB = 1024 ** 3

describe("nccl-all-reduce-bw", () => {
  it.each([
    [">= 300", 300],
    [">=300", 300],
    ["  >= 300  ", 300],
    [">= 300 GB/s", 300],
    [">=  450.5", 450.5],
    [">= 1e3", 1000],
    [">=.5", 0.5]
  ])("accepts %j as >= %d GB/s", (text, value) => {
    expect(decode({ "nccl-all-reduce-bw": text })).toEqual({ "nccl-all-reduce-bw": { operator: ">=", value } })
  })

  it("decodes upstream's v0.11.1 floors: EKS >= 300, GKE >= 250, AKS >= 100", () => {
    for (const value of [300, 250, 100]) {
      expect(decode({ "nccl-all-reduce-bw": `>= ${value}` })).toEqual({ "nccl-all-reduce-bw": { operator: ">=", value } })
    }
  })

  const MINIMUM = 'it must be a minimum (bus bandwidth: higher is better; upstream read any operator as ">=")'

  it.each([
    ["<= 300", `constraint "nccl-all-reduce-bw" is "<= 300" but ${MINIMUM}: use ">= 300"`],
    ["< 300", `constraint "nccl-all-reduce-bw" is "< 300" but ${MINIMUM}: use ">= 300"`],
    ["== 300", `constraint "nccl-all-reduce-bw" is "== 300" but ${MINIMUM}: use ">= 300"`],
    ["!=300", `constraint "nccl-all-reduce-bw" is "!=300" but ${MINIMUM}: use ">= 300"`],
    ["> 300", 'constraint "nccl-all-reduce-bw" is "> 300" but nccl-all-reduce-bw accepts only ">=" (the 10% tolerance already relaxes the gate): use ">= 300"'],
    ["300", 'constraint "nccl-all-reduce-bw" is "300" but it needs the operator ">=": use ">= 300"'],
    ["250 GB/s", 'constraint "nccl-all-reduce-bw" is "250 GB/s" but it needs the operator ">=": use ">= 250"'],
    ["450GB/s", 'constraint "nccl-all-reduce-bw" is "450GB/s" but it needs the operator ">=": use ">= 450"'],
    ["fast", 'constraint "nccl-all-reduce-bw" is "fast" but it needs the operator ">=": use ">= 300"'],
    [">== 300", 'constraint "nccl-all-reduce-bw" is ">== 300": write ">=" once, then the number: use ">= 300"'],
    [">= =300", 'constraint "nccl-all-reduce-bw" is ">= =300": write ">=" once, then the number: use ">= 300"'],
    [">=> 300", 'constraint "nccl-all-reduce-bw" is ">=> 300": write ">=" once, then the number: use ">= 300"'],
    [">= 300GB/s", 'constraint "nccl-all-reduce-bw" is ">= 300GB/s": "300GB/s" is not a plain number (GB/s); use ">= 300"'],
    [">= 3k", 'constraint "nccl-all-reduce-bw" is ">= 3k": "3k" is not a plain number (GB/s); use ">= 3"'],
    [">= -5", 'constraint "nccl-all-reduce-bw" is ">= -5": "-5" is not a plain number (GB/s); use ">= 300"'],
    [">= 300 Gb/s", 'constraint "nccl-all-reduce-bw" is ">= 300 Gb/s": the unit "Gb/s" is not GB/s (gigabytes per second); write the number alone or with GB/s'],
    [">= 0", 'constraint "nccl-all-reduce-bw" is ">= 0": the threshold must be a number greater than 0 (GB/s)'],
    [">=", 'constraint "nccl-all-reduce-bw" is ">=": the number is missing; use ">= 300"'],
    ["", 'constraint "nccl-all-reduce-bw" is empty: write ">= 300" (GB/s)']
  ])("refuses %j", (text, message) => {
    expect(messageOf("nccl-all-reduce-bw", text)).toBe(message)
  })
})

describe("nccl-benchmark-profile", () => {
  it.each([
    ["h100/eks", { accelerator: "h100", service: "eks" }],
    ["h200/eks", { accelerator: "h200", service: "eks" }],
    [" H100/GKE ", { accelerator: "h100", service: "gke" }],
    ["gb200/any", { accelerator: "gb200", service: "any" }],
    ["rtx-pro-6000/any", { accelerator: "rtx-pro-6000", service: "any" }]
  ])("accepts %j (lowercased)", (text, profile) => {
    expect(decode({ "nccl-benchmark-profile": text })).toEqual({ "nccl-benchmark-profile": profile })
    expect(Inputs.formatProfile(profile as Inputs.Profile)).toBe(text.trim().toLowerCase())
  })

  const ONE_OF = "one of h100/eks, h200/eks, h100/gke, <accelerator>/any (a100, b200, gb200, gb300, h100, h200, l40, rtx-pro-6000)"

  it.each([
    ["gb200/eks", `constraint "nccl-benchmark-profile" is "gb200/eks": the eks template does not implement accelerator "gb200" (it implements h100, h200); ${ONE_OF}`],
    ["h200/gke", `constraint "nccl-benchmark-profile" is "h200/gke": the gke template does not implement accelerator "h200" (it implements h100); ${ONE_OF}`],
    ["mi300/any", `constraint "nccl-benchmark-profile" is "mi300/any": the any template does not implement accelerator "mi300" (it implements a100, b200, gb200, gb300, h100, h200, l40, rtx-pro-6000); ${ONE_OF}`],
    ["h100/aks", `constraint "nccl-benchmark-profile" is "h100/aks": this version of aicr has no NCCL template for service "aks"; ${ONE_OF}`],
    ["h100", `constraint "nccl-benchmark-profile" is "h100": must be "{accelerator}/{service}" (e.g. "h100/eks"); ${ONE_OF}`],
    ["eks/h100/x", `constraint "nccl-benchmark-profile" is "eks/h100/x": must be "{accelerator}/{service}" (e.g. "h100/eks"); ${ONE_OF}`],
    [">= h100/eks", `constraint "nccl-benchmark-profile" is ">= h100/eks": must be "{accelerator}/{service}" (e.g. "h100/eks"); ${ONE_OF}`]
  ])("refuses %j", (text, message) => {
    expect(messageOf("nccl-benchmark-profile", text)).toBe(message)
  })
})

describe("recipe constraints", () => {
  it.each(["nccl-benchmark-runtime", "nccl-benchmark-runtime-ref"])("refuses upstream's recipe-supplied runtime %s", (name) => {
    expect(messageOf(name, "validators/performance/testdata/h100/eks/runtime.yaml")).toBe(
      `constraint "${name}" is not supported by this version of aicr, which runs only its own TrainingRuntime templates: ` +
        "remove it (to borrow another platform's template, use nccl-benchmark-profile)"
    )
  })

  it("ignores constraints of the phase that are not its own, and accepts nothing at all", () => {
    expect(decode({ "nccl-all-reduce-bw": ">= 300", "inference-throughput": ">= 5000" })).toEqual({
      "nccl-all-reduce-bw": { operator: ">=", value: 300 }
    })
    expect(decode({})).toEqual({})
  })

  it("reports every bad constraint and every bad knob at once, knobs without a path", () => {
    expect(issues(
      { "nccl-all-reduce-bw": "<= 300", "nccl-benchmark-profile": "h100/oke" },
      { AICR_NCCL_ITERATIONS: "0", AICR_NCCL_TRAINJOB_TIMEOUT: "half an hour" }
    )).toEqual([
      {
        path: ["nccl-all-reduce-bw"],
        message: 'constraint "nccl-all-reduce-bw" is "<= 300" but it must be a minimum (bus bandwidth: higher is better; upstream read any operator as ">="): use ">= 300"'
      },
      {
        path: ["nccl-benchmark-profile"],
        message: 'constraint "nccl-benchmark-profile" is "h100/oke": this version of aicr has no NCCL template for service "oke"; ' +
          "one of h100/eks, h200/eks, h100/gke, <accelerator>/any (a100, b200, gb200, gb300, h100, h200, l40, rtx-pro-6000)"
      },
      { path: [], message: 'invalid AICR_NCCL_ITERATIONS="0": must be a whole number >= 1; unset it to use the default 20' },
      { path: [], message: 'invalid AICR_NCCL_TRAINJOB_TIMEOUT="half an hour": must be a positive Go duration (e.g. 30m, 90s, 500ms); unset it to use the default 30m' }
    ])
  })

  it("the plugin's schema reads the knobs of this process when it decodes", () => {
    const saved = process.env["AICR_NCCL_MAX_MESSAGE_SIZE"]
    process.env["AICR_NCCL_MAX_MESSAGE_SIZE"] = "16T"
    try {
      const parsed = Inputs.constraints.safeParse({ "nccl-all-reduce-bw": ">= 300" })
      expect(parsed.error?.issues.map((issue) => issue.message)).toEqual([
        'invalid AICR_NCCL_MAX_MESSAGE_SIZE="16T": must be a positive size in bytes or with K, M or G (powers of 1024, e.g. 1K, 512M, 16G); unset it to use the default 16G'
      ])
    } finally {
      if (saved === undefined) delete process.env["AICR_NCCL_MAX_MESSAGE_SIZE"]
      else process.env["AICR_NCCL_MAX_MESSAGE_SIZE"] = saved
    }
  })
})

describe("sizes", () => {
  it.each([
    ["1K", 1024],
    ["16G", 16 * GB],
    ["4g", 4 * GB],
    ["512M", 512 * 1024 ** 2],
    ["8", 8],
    [" 1024 ", 1024]
  ])("parses %j as %d bytes", (text, bytes) => {
    expect(Inputs.parseSize(text)).toBe(bytes)
  })

  it.each(["", "16T", "1.5G", "-1K", "G", "1 K", "16GB", "99999999999G"])("refuses %j", (text) => {
    expect(Inputs.parseSize(text)).toBeUndefined()
  })

  it.each([[1024, "1K"], [16 * GB, "16G"], [3 * 1024 ** 2, "3M"], [1536, "1536"], [8, "8"]])("formats %d bytes as %j", (bytes, text) => {
    expect(Inputs.formatSize(bytes)).toBe(text)
  })
})

describe("Go durations", () => {
  it.each([
    ["30m", 1_800_000],
    ["1h30m", 5_400_000],
    ["2s", 2_000],
    ["500ms", 500],
    ["1.5s", 1_500],
    [".5s", 500],
    ["100us", 0.1],
    ["1m0.5s", 60_500],
    [" +10s ", 10_000]
  ])("parses %j as %d ms", (text, ms) => {
    expect(Inputs.parseDuration(text)).toBe(ms)
  })

  it.each(["", "10", "-5m", "5 m", "5x", "m", "1d", "Infinity", "1h 30m"])("refuses %j", (text) => {
    expect(Inputs.parseDuration(text)).toBeUndefined()
  })

  it.each([[1_800_000, "30m"], [7_200_000, "2h"], [2_000, "2s"], [500, "500ms"], [90_000, "90s"]])("formats %d ms as %j", (ms, text) => {
    expect(Inputs.formatDuration(ms)).toBe(text)
  })
})

describe("image references", () => {
  it.each([
    "public.ecr.aws/hpc-cloud/nccl-tests:cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9",
    "nvcr.io/nvidia/pytorch:25.06-py3",
    "busybox:1.37",
    "busybox",
    "localhost:5001/nvidia/pytorch:25.06-py3",
    "registry.example.com:443/team/nccl_tests__x:v1",
    `nvcr.io/nvidia/pytorch@sha256:${"a".repeat(64)}`,
    `nvcr.io/nvidia/pytorch:25.06-py3@sha256:${"0".repeat(64)}`
  ])("accepts %s", (reference) => {
    expect(Inputs.isImageReference(reference)).toBe(true)
  })

  it.each([
    "",
    "nvcr.io/NVIDIA/pytorch:25.06",
    "nvcr.io/nvidia/pytorch:",
    "nvcr.io/nvidia/pytorch:25.06 py3",
    "nvcr.io//pytorch",
    "pytorch:-bad",
    `pytorch@sha256:${"a".repeat(10)}`,
    "https://nvcr.io/nvidia/pytorch:25.06",
    `${"a".repeat(256)}:1`
  ])("refuses %j", (reference) => {
    expect(Inputs.isImageReference(reference)).toBe(false)
  })
})

describe("knobs", () => {
  it("default to upstream's sweep and waits, every eligible node, and the catalog image", () => {
    expect(Inputs.decodeKnobs({})).toEqual({ _tag: "Ok", knobs: Inputs.DEFAULT_KNOBS })
    expect(Inputs.DEFAULT_KNOBS).toEqual({
      benchmarkProfile: undefined,
      runtimeImage: undefined,
      minMessageBytes: 1024,
      maxMessageBytes: 17_179_869_184,
      stepFactor: 2,
      iterations: 20,
      warmupIterations: 5,
      nodeCount: "all",
      intraNode: false,
      apiTimeoutMs: 120_000,
      preflightTimeoutMs: 120_000,
      runtimeVisibleTimeoutMs: 120_000,
      runtimeVisiblePollIntervalMs: 500,
      trainJobAdmissionTimeoutMs: 60_000,
      trainJobAdmissionRetryIntervalMs: 500,
      launcherPodTimeoutMs: 300_000,
      trainJobTimeoutMs: 1_800_000,
      logReadAttempts: 5,
      logReadIntervalMs: 2_000,
      namespaceTerminationWaitMs: 300_000,
      cleanupTimeoutMs: 30_000
    })
  })

  it("are read from AICR_NCCL_* variables; blank means unset", () => {
    expect(Inputs.KNOBS.map((knob) => knob.env)).toEqual([
      "AICR_NCCL_BENCHMARK_PROFILE",
      "AICR_NCCL_RUNTIME_IMAGE",
      "AICR_NCCL_MIN_MESSAGE_SIZE",
      "AICR_NCCL_MAX_MESSAGE_SIZE",
      "AICR_NCCL_STEP_FACTOR",
      "AICR_NCCL_ITERATIONS",
      "AICR_NCCL_WARMUP_ITERATIONS",
      "AICR_NCCL_NODE_COUNT",
      "AICR_NCCL_INTRA_NODE",
      "AICR_NCCL_API_TIMEOUT",
      "AICR_NCCL_PREFLIGHT_TIMEOUT",
      "AICR_NCCL_RUNTIME_VISIBLE_TIMEOUT",
      "AICR_NCCL_RUNTIME_VISIBLE_POLL_INTERVAL",
      "AICR_NCCL_TRAINJOB_ADMISSION_TIMEOUT",
      "AICR_NCCL_TRAINJOB_ADMISSION_RETRY_INTERVAL",
      "AICR_NCCL_LAUNCHER_POD_TIMEOUT",
      "AICR_NCCL_TRAINJOB_TIMEOUT",
      "AICR_NCCL_LOG_READ_ATTEMPTS",
      "AICR_NCCL_LOG_READ_INTERVAL",
      "AICR_NCCL_NAMESPACE_TERMINATION_WAIT",
      "AICR_NCCL_CLEANUP_TIMEOUT"
    ])
    expect(Inputs.decodeKnobs({
      AICR_NCCL_BENCHMARK_PROFILE: "H200/EKS",
      AICR_NCCL_RUNTIME_IMAGE: " localhost:5001/hpc-cloud/nccl-tests:mirror ",
      AICR_NCCL_MIN_MESSAGE_SIZE: "8",
      AICR_NCCL_MAX_MESSAGE_SIZE: "4G",
      AICR_NCCL_STEP_FACTOR: "4",
      AICR_NCCL_ITERATIONS: "+100",
      AICR_NCCL_WARMUP_ITERATIONS: "0",
      AICR_NCCL_NODE_COUNT: "4",
      AICR_NCCL_TRAINJOB_TIMEOUT: "50ms",
      AICR_NCCL_LOG_READ_ATTEMPTS: "2",
      AICR_NCCL_LOG_READ_INTERVAL: "1ms",
      AICR_NCCL_CLEANUP_TIMEOUT: "   "
    })).toEqual({
      _tag: "Ok",
      knobs: {
        ...Inputs.DEFAULT_KNOBS,
        benchmarkProfile: { accelerator: "h200", service: "eks" },
        runtimeImage: "localhost:5001/hpc-cloud/nccl-tests:mirror",
        minMessageBytes: 8,
        maxMessageBytes: 4 * GB,
        stepFactor: 4,
        iterations: 100,
        warmupIterations: 0,
        nodeCount: 4,
        trainJobTimeoutMs: 50,
        logReadAttempts: 2,
        logReadIntervalMs: 1
      }
    })
  })

  it.each([
    ["ALL", "all"],
    ["2", 2],
    ["64", 64]
  ])("take the node count %j", (text, nodeCount) => {
    expect(Inputs.decodeKnobs({ AICR_NCCL_NODE_COUNT: text })).toEqual({ _tag: "Ok", knobs: { ...Inputs.DEFAULT_KNOBS, nodeCount } })
  })

  it.each([["true", true], ["1", true], ["YES", true], ["false", false], ["0", false], ["off", false]])(
    "take the intra-node switch %j",
    (text, intraNode) => {
      expect(Inputs.decodeKnobs({ AICR_NCCL_INTRA_NODE: text })).toEqual({ _tag: "Ok", knobs: { ...Inputs.DEFAULT_KNOBS, intraNode } })
    }
  )

  it("collect every problem, with the variable, its value and what to do", () => {
    expect(Inputs.decodeKnobs({
      AICR_NCCL_BENCHMARK_PROFILE: "gb200/eks",
      AICR_NCCL_RUNTIME_IMAGE: "nvcr.io/NVIDIA/pytorch:25.06-py3",
      AICR_NCCL_MIN_MESSAGE_SIZE: "0",
      AICR_NCCL_STEP_FACTOR: "1",
      AICR_NCCL_WARMUP_ITERATIONS: "-1",
      AICR_NCCL_NODE_COUNT: "1",
      AICR_NCCL_INTRA_NODE: "maybe",
      AICR_NCCL_LAUNCHER_POD_TIMEOUT: "0s",
      AICR_NCCL_LOG_READ_ATTEMPTS: "2.5"
    })).toEqual({
      _tag: "Error",
      problems: [
        {
          env: "AICR_NCCL_BENCHMARK_PROFILE",
          value: "gb200/eks",
          message: 'invalid AICR_NCCL_BENCHMARK_PROFILE="gb200/eks": the eks template does not implement accelerator "gb200" (it implements h100, h200); ' +
            "one of h100/eks, h200/eks, h100/gke, <accelerator>/any (a100, b200, gb200, gb300, h100, h200, l40, rtx-pro-6000)"
        },
        {
          env: "AICR_NCCL_RUNTIME_IMAGE",
          value: "nvcr.io/NVIDIA/pytorch:25.06-py3",
          message: 'invalid AICR_NCCL_RUNTIME_IMAGE="nvcr.io/NVIDIA/pytorch:25.06-py3": not a well-formed image reference ' +
            "([registry[:port]/]repository[:tag][@digest], lowercase repository); unset it to use the catalog's image"
        },
        {
          env: "AICR_NCCL_MIN_MESSAGE_SIZE",
          value: "0",
          message: 'invalid AICR_NCCL_MIN_MESSAGE_SIZE="0": must be a positive size in bytes or with K, M or G (powers of 1024, e.g. 1K, 512M, 16G); unset it to use the default 1K'
        },
        { env: "AICR_NCCL_STEP_FACTOR", value: "1", message: 'invalid AICR_NCCL_STEP_FACTOR="1": must be a whole number >= 2; unset it to use the default 2' },
        { env: "AICR_NCCL_WARMUP_ITERATIONS", value: "-1", message: 'invalid AICR_NCCL_WARMUP_ITERATIONS="-1": must be a whole number >= 0; unset it to use the default 5' },
        {
          env: "AICR_NCCL_NODE_COUNT",
          value: "1",
          message: 'invalid AICR_NCCL_NODE_COUNT="1": an inter-node run needs at least 2 nodes; for one node set AICR_NCCL_INTRA_NODE=true instead'
        },
        { env: "AICR_NCCL_INTRA_NODE", value: "maybe", message: 'invalid AICR_NCCL_INTRA_NODE="maybe": must be true or false; unset it to use the default false' },
        {
          env: "AICR_NCCL_LAUNCHER_POD_TIMEOUT",
          value: "0s",
          message: 'invalid AICR_NCCL_LAUNCHER_POD_TIMEOUT="0s": must be a positive Go duration (e.g. 30m, 90s, 500ms); unset it to use the default 5m'
        },
        { env: "AICR_NCCL_LOG_READ_ATTEMPTS", value: "2.5", message: 'invalid AICR_NCCL_LOG_READ_ATTEMPTS="2.5": must be a whole number >= 1; unset it to use the default 5' }
      ]
    })
  })

  it("refuse a node count of other than all, or none, in intra-node mode", () => {
    expect(Inputs.decodeKnobs({ AICR_NCCL_NODE_COUNT: "zero" })).toEqual({
      _tag: "Error",
      problems: [{ env: "AICR_NCCL_NODE_COUNT", value: "zero", message: 'invalid AICR_NCCL_NODE_COUNT="zero": must be "all" or a whole number >= 2; unset it to use the default all' }]
    })
    expect(Inputs.decodeKnobs({ AICR_NCCL_INTRA_NODE: "true", AICR_NCCL_NODE_COUNT: "4" })).toEqual({
      _tag: "Error",
      problems: [{
        env: "AICR_NCCL_NODE_COUNT",
        value: "4",
        message: "AICR_NCCL_NODE_COUNT=4 contradicts AICR_NCCL_INTRA_NODE=true (an intra-node run uses one node): unset one of them"
      }]
    })
    expect(Inputs.decodeKnobs({ AICR_NCCL_INTRA_NODE: "true", AICR_NCCL_NODE_COUNT: "all" })).toMatchObject({ _tag: "Ok" })
  })

  it("refuse a smallest message above the largest", () => {
    expect(Inputs.decodeKnobs({ AICR_NCCL_MIN_MESSAGE_SIZE: "32G" })).toEqual({
      _tag: "Error",
      problems: [{
        env: "AICR_NCCL_MIN_MESSAGE_SIZE",
        value: "32G",
        message: "AICR_NCCL_MIN_MESSAGE_SIZE (32G) is larger than AICR_NCCL_MAX_MESSAGE_SIZE (16G): the smallest message must not exceed the largest"
      }]
    })
  })

  effectIt.effect("load from the ConfigProvider, so a test runs every wait in milliseconds", () =>
    Effect.gen(function*() {
      const knobs = yield* Inputs.loadKnobs
      expect(knobs).toEqual({ ...Inputs.DEFAULT_KNOBS, launcherPodTimeoutMs: 50, trainJobTimeoutMs: 100, intraNode: true })
    }).pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord({
      AICR_NCCL_LAUNCHER_POD_TIMEOUT: "50ms",
      AICR_NCCL_TRAINJOB_TIMEOUT: "100ms",
      AICR_NCCL_INTRA_NODE: "true",
      UNRELATED: "x"
    }))))

  effectIt.effect("fail to load with KnobError naming every bad variable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Inputs.loadKnobs)
      expect(error._tag).toBe("NcclKnobError")
      expect(error.message).toBe(
        'invalid AICR_NCCL_ITERATIONS="many": must be a whole number >= 1; unset it to use the default 20; ' +
          'invalid AICR_NCCL_CLEANUP_TIMEOUT="30": must be a positive Go duration (e.g. 30m, 90s, 500ms); unset it to use the default 30s'
      )
      expect(error.problems.map((found) => found.env)).toEqual(["AICR_NCCL_ITERATIONS", "AICR_NCCL_CLEANUP_TIMEOUT"])
    }).pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord({
      AICR_NCCL_ITERATIONS: "many",
      AICR_NCCL_CLEANUP_TIMEOUT: "30"
    }))))
})

describe("resolve", () => {
  it("takes the gate from the recipe, the sweep and topology from the knobs, and 10% tolerance", () => {
    expect(Inputs.resolve(decode({ "nccl-all-reduce-bw": ">= 300" }))).toEqual({
      gate: { operator: ">=", value: 300 },
      tolerance: 0.1,
      profile: undefined,
      profileSource: undefined,
      runtimeImage: undefined,
      benchmark: { minBytes: 1024, maxBytes: 16 * GB, stepFactor: 2, iterations: 20, warmupIterations: 5 },
      topology: { mode: "inter-node", nodes: "all" },
      knobs: Inputs.DEFAULT_KNOBS
    })
  })

  it("takes the profile from the recipe, else the knob", () => {
    const knobs: Inputs.Knobs = { ...Inputs.DEFAULT_KNOBS, benchmarkProfile: { accelerator: "h100", service: "gke" } }
    expect(Inputs.resolve(decode({ "nccl-benchmark-profile": "h200/eks" }), knobs)).toMatchObject({
      profile: { accelerator: "h200", service: "eks" },
      profileSource: "recipe"
    })
    expect(Inputs.resolve(decode({}), knobs)).toMatchObject({ profile: { accelerator: "h100", service: "gke" }, profileSource: "environment" })
  })

  it("turns the node knobs into a topology", () => {
    expect(Inputs.resolve(decode({}), { ...Inputs.DEFAULT_KNOBS, nodeCount: 3 }).topology).toEqual({ mode: "inter-node", nodes: 3 })
    expect(Inputs.resolve(decode({}), { ...Inputs.DEFAULT_KNOBS, intraNode: true }).topology).toEqual({ mode: "intra-node" })
  })

  it("passes the runtime image override through", () => {
    expect(Inputs.resolve(decode({}), { ...Inputs.DEFAULT_KNOBS, runtimeImage: "localhost:5001/nccl:1" }).runtimeImage).toBe("localhost:5001/nccl:1")
  })
})
