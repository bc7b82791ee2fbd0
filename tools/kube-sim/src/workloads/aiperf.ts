/**
 * AIPerf against a Dynamo frontend: the throughput/latency model of a profile, the summary export AIPerf writes
 * (`profile_export_aiperf.json`, the flat schema of aiperf ≥ 0.8 as in ai-dynamo/aiperf
 * `tests/_artifacts/audit/baseline-chat/bare/profile_export_aiperf.json`), and the workload that plays the
 * validator's AIPerf Job: it prints the export between `===AIPERF-RESULT===` sentinels.
 */
import { readFile } from "node:fs/promises"
import type { KubeObject } from "../types.ts"
import type { ContainerResult, ContainerRun, InferenceModel, Random, Workload, World } from "../world.ts"
import { DGD_LABEL, dynamoStatus, FRONTEND_PORT } from "./dynamo.ts"
import { containerEnv, labelsOf, simulatedSleep, specOf } from "./pods.ts"
import { commandText, commandWords, simpleCommand } from "./shell.ts"

export const AIPERF_SENTINEL = "===AIPERF-RESULT==="

// ---------------------------------------------------------------------------------------------------------------
// The model

const parameterBillions = (model: string): number | undefined => {
  const match = /(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])/.exec(model)
  return match === null ? undefined : Number(match[1])
}

export interface InferenceFiguresOptions {
  readonly inference: InferenceModel
  /** The model served (figures scale with its parameter count against the anchor's, when both names carry one). */
  readonly model: string
  /** Total concurrency of the benchmark. */
  readonly concurrency: number
  readonly readyWorkers: number
}

export interface InferenceFigures {
  readonly outputTokensPerSecond: number
  readonly ttftP99Ms: number
  readonly concurrencyPerWorker: number
}

/**
 * The noise-free figures: each Ready worker (one GPU) delivers `T·c/(c+K)` output tokens/s at `c` requests in
 * flight, `K = 4×` the anchor's concurrency per GPU, with `T` fixed so the anchor configuration gives the anchor
 * throughput exactly; TTFT p99 grows linearly with the requests per worker, `(0.3 + 0.7·c/c₀)×` the anchor's.
 * A model with `p` billion parameters against the anchor's `p₀` scales throughput by `(p₀/p)^0.6` and TTFT by
 * `(p/p₀)^0.5`.
 */
export const inferenceFigures = (options: InferenceFiguresOptions): InferenceFigures => {
  const anchor = options.inference.anchor
  const workers = Math.max(0, options.readyWorkers)
  const perWorker = workers === 0 ? 0 : options.concurrency / workers
  const half = 4 * anchor.concurrencyPerGpu
  const anchorPerGpu = anchor.outputTokensPerSecond / anchor.gpus
  const ceiling = (anchorPerGpu * (anchor.concurrencyPerGpu + half)) / anchor.concurrencyPerGpu
  const size = parameterBillions(options.model)
  const anchorSize = parameterBillions(anchor.model)
  const ratio = size !== undefined && anchorSize !== undefined && size > 0 ? size / anchorSize : 1
  const outputTokensPerSecond = workers * ceiling * (perWorker / (perWorker + half)) * ratio ** -0.6
  const ttftP99Ms = anchor.ttftP99Ms * (0.3 + (0.7 * perWorker) / anchor.concurrencyPerGpu) * ratio ** 0.5
  return { outputTokensPerSecond, ttftP99Ms, concurrencyPerWorker: perWorker }
}

// ---------------------------------------------------------------------------------------------------------------
// The export

export interface AiperfFailure {
  readonly code: number
  readonly type: string
  readonly message: string
}

export interface AiperfExportOptions {
  /** The model name requested (`--model`). */
  readonly model: string
  readonly url: string
  readonly concurrency: number
  readonly requestCount: number
  readonly readyWorkers: number
  readonly inference: InferenceModel
  readonly random: Random
  /** `--streaming` (default `true`): without it there are no TTFT and inter-token metrics, as in AIPerf. */
  readonly streaming?: boolean | undefined
  readonly endpointType?: string | undefined
  readonly inputTokensMean?: number | undefined
  readonly outputTokensMean?: number | undefined
  readonly warmupRequestCount?: number | undefined
  readonly randomSeed?: number | undefined
  readonly artifactDir?: string | undefined
  readonly cliCommand?: string | undefined
  readonly startTime?: Date | undefined
  readonly aiperfVersion?: string | undefined
  /** Every request failed with this HTTP error (the frontend answered but did not serve): no token metrics. */
  readonly failure?: AiperfFailure | undefined
}

const PERCENTILES: ReadonlyArray<[string, number]> = [
  ["p1", -2.3263],
  ["p5", -1.6449],
  ["p10", -1.2816],
  ["p25", -0.6745],
  ["p50", 0],
  ["p75", 0.6745],
  ["p90", 1.2816],
  ["p95", 1.6449],
  ["p99", 2.3263]
]

type Stats = Record<string, string | number | null>

/** A record metric distributed log-normally around `median` with shape `sigma`. */
const logNormal = (unit: string, median: number, sigma: number): Stats => {
  const avg = median * Math.exp((sigma * sigma) / 2)
  const stats: Stats = { unit, avg }
  for (const [name, z] of PERCENTILES) stats[name] = median * Math.exp(z * sigma)
  stats["min"] = median * Math.exp(-2.9 * sigma)
  stats["max"] = median * Math.exp(3.4 * sigma)
  stats["std"] = avg * Math.sqrt(Math.exp(sigma * sigma) - 1)
  return stats
}

/** A log-normal record metric with mean `avg`. */
const logNormalMean = (unit: string, avg: number, sigma: number): Stats => logNormal(unit, avg / Math.exp((sigma * sigma) / 2), sigma)

const constant = (unit: string, value: number): Stats => {
  const stats: Stats = { unit, avg: value }
  for (const [name] of PERCENTILES) stats[name] = value
  return { ...stats, min: value, max: value, std: 0 }
}

const aggregate = (unit: string, avg: number): Stats => ({ unit, avg })

const unsorted = (unit: string, avg: number): Stats => {
  const stats: Stats = { unit, avg }
  for (const [name] of PERCENTILES) stats[name] = null
  return { ...stats, min: null, max: null, std: null }
}

const timestamp = (date: Date): string => `${date.toISOString().replace(/Z$/, "")}000`

const hex = (random: Random, length: number): string => Array.from({ length }, () => random.int(16).toString(16)).join("")

const TTFT_SIGMA = 0.12

/**
 * The summary export of one AIPerf run against `readyWorkers` serving workers, with seeded run-to-run noise
 * (`inference.noise` on throughput, twice that on TTFT p99). Request latency follows Little's law from the
 * throughput and concurrency; inter-token latency is what remains after the first token.
 */
export const aiperfExport = (options: AiperfExportOptions): Record<string, unknown> => {
  const random = options.random
  const streaming = options.streaming ?? true
  const isl = options.inputTokensMean ?? 550
  const osl = options.outputTokensMean ?? 128
  const requests = options.requestCount
  const start = options.startTime ?? new Date(0)
  const cli =
    options.cliCommand ??
    `aiperf profile --model '${options.model}' --url '${options.url}' --endpoint-type '${options.endpointType ?? "chat"}'${streaming ? " --streaming" : ""} --concurrency ${options.concurrency} --request-count ${requests}`
  const inputConfig = {
    models: { items: [{ name: options.model }] },
    endpoint: { urls: [options.url], type: options.endpointType ?? "chat", ...(streaming ? { streaming: true } : {}) },
    datasets: [
      {
        name: "main",
        type: "synthetic",
        entries: requests,
        ...(options.randomSeed === undefined ? {} : { random_seed: options.randomSeed }),
        prompts: { isl: { mean: isl }, osl: { mean: osl } }
      }
    ],
    phases: [
      ...(options.warmupRequestCount === undefined ? [] : [{ name: "warmup", type: "concurrency", requests: options.warmupRequestCount, concurrency: options.concurrency }]),
      { name: "profiling", type: "concurrency", requests, concurrency: options.concurrency }
    ],
    artifacts: { dir: options.artifactDir ?? "/tmp/aiperf", records: ["jsonl", "csv"], cli_command: cli },
    tokenizer: { name: options.model },
    gpu_telemetry: { enabled: false },
    server_metrics: { enabled: false, urls: [], formats: ["json", "csv", "parquet"] },
    runtime: { ui: "none" },
    ...(options.randomSeed === undefined ? {} : { random_seed: options.randomSeed })
  }
  const head = { schema_version: "1.0", aiperf_version: options.aiperfVersion ?? "0.8.0", benchmark_id: hex(random, 32) }
  if (options.failure !== undefined || options.readyWorkers <= 0) {
    const failure = options.failure ?? { code: 503, type: "Service Unavailable", message: "Service is not ready" }
    const duration = Math.max(0.05, requests * 0.002)
    return {
      ...head,
      error_request_count: aggregate("requests", requests),
      benchmark_duration: aggregate("sec", duration),
      input_config: inputConfig,
      was_cancelled: false,
      error_summary: [{ error_details: { code: failure.code, type: failure.type, message: failure.message }, count: requests }],
      start_time: timestamp(start),
      end_time: timestamp(new Date(start.getTime() + duration * 1000))
    }
  }
  const figures = inferenceFigures({ inference: options.inference, model: options.model, concurrency: options.concurrency, readyWorkers: options.readyWorkers })
  const noise = options.inference.noise
  const throughput = figures.outputTokensPerSecond * Math.max(0.5, random.normal(1, noise))
  const ttftP99 = figures.ttftP99Ms * Math.max(0.5, random.normal(1, 2 * noise))
  const ttftMedian = ttftP99 / Math.exp(PERCENTILES[8]![1] * TTFT_SIGMA)
  const ttftAvg = ttftMedian * Math.exp((TTFT_SIGMA * TTFT_SIGMA) / 2)
  const requestThroughput = throughput / osl
  const minimumLatency = (streaming ? ttftAvg : 0) + Math.max(0, osl - 1) * 0.5
  const latencyMs = Math.max(minimumLatency, (figures.concurrencyPerWorker * osl * 1000) / (throughput / options.readyWorkers))
  const interTokenMs = osl > 1 ? (latencyMs - (streaming ? ttftAvg : latencyMs / osl)) / (osl - 1) : 0
  const duration = requests / requestThroughput
  const promptUsage = isl + 9
  const streamingMetrics = streaming
    ? {
        time_to_first_token: logNormal("ms", ttftMedian, TTFT_SIGMA),
        time_to_second_token: logNormalMean("ms", interTokenMs * 1.15, 0.2),
        inter_token_latency: logNormalMean("ms", interTokenMs, 0.05),
        output_token_throughput_per_user: logNormalMean("tokens/sec/user", 1000 / interTokenMs, 0.05)
      }
    : {}
  return {
    ...head,
    request_throughput: aggregate("requests/sec", requestThroughput),
    request_latency: logNormalMean("ms", latencyMs, 0.08),
    ...streamingMetrics,
    request_count: aggregate("requests", requests),
    output_token_throughput: aggregate("tokens/sec", throughput),
    output_sequence_length: constant("tokens", osl),
    input_sequence_length: constant("tokens", isl),
    output_token_count: constant("tokens", osl),
    total_output_tokens: aggregate("tokens", requests * osl),
    benchmark_duration: aggregate("sec", duration),
    total_isl: aggregate("tokens", requests * isl),
    total_osl: aggregate("tokens", requests * osl),
    input_config: inputConfig,
    was_cancelled: false,
    error_summary: [],
    start_time: timestamp(start),
    end_time: timestamp(new Date(start.getTime() + duration * 1000)),
    usage_prompt_tokens: constant("tokens", promptUsage),
    usage_completion_tokens: constant("tokens", osl),
    usage_total_tokens: constant("tokens", promptUsage + osl),
    e2e_output_token_throughput: logNormalMean("tokens/sec/user", (osl * 1000) / latencyMs, 0.08),
    usage_prompt_tokens_diff_pct: constant("%", (100 * (promptUsage - isl)) / isl),
    usage_completion_tokens_diff_pct: constant("%", 0),
    usage_discrepancy_count: unsorted("requests", 0),
    total_usage_completion_tokens: unsorted("tokens", requests * osl),
    total_usage_total_tokens: unsorted("tokens", requests * (promptUsage + osl)),
    total_usage_prompt_tokens: unsorted("tokens", requests * promptUsage),
    total_token_throughput: unsorted("tokens/sec", requestThroughput * (isl + osl))
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The command line

export interface AiperfInvocation {
  readonly model?: string | undefined
  readonly url?: string | undefined
  readonly endpointType: string
  readonly streaming: boolean
  readonly concurrency: number
  readonly requestCount?: number | undefined
  readonly inputTokensMean?: number | undefined
  readonly outputTokensMean?: number | undefined
  readonly warmupRequestCount?: number | undefined
  readonly randomSeed?: number | undefined
  readonly artifactDir: string
  /** The sentinel the script (or `AICR_RESULT_SENTINEL`) frames the export with. */
  readonly sentinel: string
  /** Run through AICR's Python entrypoint (`aiperf_entrypoint.py`), which needs its two env vars. */
  readonly entrypoint: boolean
  /** The words after `profile` (or given to the entrypoint). */
  readonly args: ReadonlyArray<string>
}

const BOOLEAN_FLAGS = new Set(["--streaming", "--verbose", "-v", "--extra-verbose", "-vv"])

/**
 * Reads an AIPerf invocation from a container's words: `aiperf profile [MODEL] --flag value …` (in a script or
 * as argv), or the flags given to AICR's `aiperf_entrypoint.py`.
 */
export const parseAiperf = (words: ReadonlyArray<string>, env: ReadonlyMap<string, string>): AiperfInvocation | undefined => {
  const entrypoint = words.findIndex((word) => /aiperf_entrypoint/.test(word))
  const profile = words.findIndex((word, index) => word === "profile" && (index === 0 || /(?:^|\/)aiperf$/.test(words[index - 1]!)))
  const start = profile !== -1 ? profile + 1 : entrypoint !== -1 ? entrypoint + 1 : words.findIndex((word) => word.startsWith("--"))
  if (start < 0) return undefined
  const args = simpleCommand(words, start)
  const flags = new Map<string, string>()
  const positional: Array<string> = []
  for (let index = 0; index < args.length; index++) {
    const word = args[index]!
    if (!word.startsWith("-")) {
      positional.push(word)
      continue
    }
    const [flag, inline] = word.includes("=") ? [word.slice(0, word.indexOf("=")), word.slice(word.indexOf("=") + 1)] : [word, undefined]
    if (BOOLEAN_FLAGS.has(flag)) flags.set(flag, inline ?? "true")
    else flags.set(flag, inline ?? args[++index] ?? "")
  }
  const integer = (flag: string) => {
    const value = Number.parseInt(flags.get(flag) ?? "", 10)
    return Number.isFinite(value) ? value : undefined
  }
  const sentinel = words.find((word) => /^={3}[A-Z0-9_-]+={3}$/.test(word)) ?? env.get("AICR_RESULT_SENTINEL") ?? AIPERF_SENTINEL
  return {
    model: flags.get("--model") ?? flags.get("-m") ?? positional[0],
    url: flags.get("--url") ?? flags.get("-u"),
    endpointType: flags.get("--endpoint-type") ?? "chat",
    streaming: flags.has("--streaming") && flags.get("--streaming") !== "false",
    concurrency: integer("--concurrency") ?? 1,
    requestCount: integer("--request-count") ?? integer("--num-requests"),
    inputTokensMean: integer("--prompt-input-tokens-mean") ?? integer("--isl"),
    outputTokensMean: integer("--prompt-output-tokens-mean") ?? integer("--osl"),
    warmupRequestCount: integer("--warmup-request-count"),
    randomSeed: integer("--random-seed"),
    artifactDir: flags.get("--output-artifact-dir") ?? flags.get("--artifact-dir") ?? env.get("AICR_AIPERF_ARTIFACT_DIR") ?? "artifacts",
    sentinel,
    entrypoint: entrypoint !== -1,
    args
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The workload

interface Target {
  readonly namespace: string
  readonly service?: KubeObject | undefined
  readonly host: string
  readonly port: string
}

/** The Service an in-cluster URL names: `svc.ns.svc[.cluster.local]`, `svc.ns`, `svc` (the pod's namespace) or a cluster IP. */
const targetOf = (world: World, namespace: string, url: URL): Target => {
  const host = url.hostname
  const port = url.port === "" ? (url.protocol === "https:" ? "443" : "80") : url.port
  const parts = host.split(".")
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) {
    const service = (world.cluster.store.list("/services") ?? []).find((candidate) => specOf(candidate)["clusterIP"] === host)
    return { namespace: service?.metadata.namespace ?? namespace, service, host, port }
  }
  const [name = "", ns = namespace] = parts.length >= 2 ? [parts[0], parts[1]] : [parts[0]]
  return { namespace: ns, service: world.cluster.store.get("/services", ns, name), host, port }
}

const connectError = (url: URL, target: Target, reason: string): string =>
  `ERROR    Failed to send request to ${url.origin}${url.pathname.replace(/\/$/, "")}/v1/chat/completions: Cannot connect to host ${target.host}:${target.port} ssl:default [${reason}]\n` +
  "ERROR    AIPerf could not reach the inference endpoint; no requests completed\n"

const runAiperf = async (run: ContainerRun): Promise<ContainerResult> => {
  const { world, pod, container, signal } = run
  const inference = world.profile.performance.inference
  const env = containerEnv(world, pod, container.name)
  for (const variable of container.env ?? []) if (variable.value !== undefined && !env.has(variable.name)) env.set(variable.name, variable.value)
  const invocation = parseAiperf(commandWords(container, env), env)
  if (invocation?.entrypoint === true && (!env.has("AICR_AIPERF_ARTIFACT_DIR") || !env.has("AICR_RESULT_SENTINEL"))) {
    run.log("aiperf_entrypoint: AICR_AIPERF_ARTIFACT_DIR and AICR_RESULT_SENTINEL must both be set\n")
    return { exitCode: 2 }
  }
  if (invocation?.model === undefined || invocation.url === undefined) {
    run.log(`Usage: aiperf profile [ARGS] [OPTIONS]\nError: ${invocation?.model === undefined ? "a model is required (--model)" : "an endpoint URL is required (--url)"}\n`)
    return { exitCode: 2 }
  }
  let url: URL
  try {
    url = new URL(invocation.url)
  } catch {
    run.log(`Error: Invalid value for --url: ${invocation.url}\n`)
    return { exitCode: 2 }
  }
  const requestCount = invocation.requestCount ?? Math.max(10, invocation.concurrency)
  run.log(
    "INFO     Starting AIPerf System\n" +
      `INFO     Profiling ${invocation.model} at ${invocation.url} (${invocation.endpointType}${invocation.streaming ? ", streaming" : ""}): concurrency ${invocation.concurrency}, ${requestCount} requests\n`
  )
  const target = targetOf(world, pod.metadata.namespace ?? "default", url)
  if (target.service === undefined) {
    run.log(connectError(url, target, "Name or service not known"))
    return { exitCode: 1 }
  }
  const dgd = labelsOf(target.service)[DGD_LABEL] ?? target.service.metadata.name!.replace(/-frontend$/, "")
  const status = dynamoStatus(world, target.namespace, dgd)
  const ports = (Array.isArray(specOf(target.service)["ports"]) ? (specOf(target.service)["ports"] as Array<{ port?: unknown }>) : []).map((entry) => String(entry.port))
  if (!status.frontendReady || !(ports.length === 0 ? [String(FRONTEND_PORT)] : ports).includes(target.port)) {
    run.log(connectError(url, target, `Connect call failed ('${String(specOf(target.service)["clusterIP"] ?? target.host)}', ${target.port})`))
    return { exitCode: 1 }
  }
  if (status.readyWorkers === 0) {
    run.log(
      `ERROR    Request to ${url.origin}/v1/chat/completions failed: 503 Service Unavailable: {"message":"Service is not ready","type":"Service Unavailable","code":503}\n` +
        "ERROR    AIPerf could not reach a serving model at the endpoint; aborting the profile run\n"
    )
    return { exitCode: 1 }
  }
  const started = new Date()
  if (!(await simulatedSleep(world, inference.benchmarkSeconds, signal))) return { exitCode: 137 }
  let payload: string
  if (world.profile.replay.aiperf !== undefined) {
    try {
      payload = await readFile(world.profile.replay.aiperf, "utf8")
    } catch (error) {
      run.log(`kube-sim: cannot read the recorded AIPerf export ${world.profile.replay.aiperf}: ${(error as Error).message}\n`)
      return { exitCode: 1 }
    }
  } else {
    const failure: AiperfFailure | undefined = !status.warm
      ? { code: 503, type: "Service Unavailable", message: "Service is not ready" }
      : status.model !== undefined && status.model !== invocation.model
        ? { code: 404, type: "Not Found", message: "Model not found" }
        : undefined
    const exported = aiperfExport({
      model: invocation.model,
      url: invocation.url,
      concurrency: invocation.concurrency,
      requestCount,
      readyWorkers: status.readyWorkers,
      inference,
      random: world.random("aiperf"),
      streaming: invocation.streaming,
      endpointType: invocation.endpointType,
      inputTokensMean: invocation.inputTokensMean,
      outputTokensMean: invocation.outputTokensMean,
      warmupRequestCount: invocation.warmupRequestCount,
      randomSeed: invocation.randomSeed,
      artifactDir: invocation.artifactDir,
      cliCommand: ["aiperf", "profile", ...invocation.args].map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`)).join(" "),
      startTime: started,
      failure
    })
    const throughput = (exported["output_token_throughput"] as { avg?: number } | undefined)?.avg
    const ttft = (exported["time_to_first_token"] as { p99?: number } | undefined)?.p99
    run.log(
      failure === undefined
        ? `INFO     Benchmark complete: ${throughput?.toFixed(1) ?? "-"} output tokens/sec${ttft === undefined ? "" : `, TTFT p99 ${ttft.toFixed(1)} ms`}\n`
        : `WARNING  All ${requestCount} requests failed: ${failure.code} ${failure.type}\n`
    )
    payload = `${JSON.stringify(exported, null, 2)}\n`
  }
  run.log(`INFO     Exported ${invocation.artifactDir.replace(/\/$/, "")}/profile_export_aiperf.json\n`)
  run.log(`${invocation.sentinel}\n${payload}${payload.endsWith("\n") ? "" : "\n"}${invocation.sentinel}\n`)
  return { exitCode: 0 }
}

/**
 * The AIPerf Job container (an `aiperf` image, or a command running `aiperf`): reads the model, URL and
 * concurrency from its command line, fails like AIPerf (exit 1) when the endpoint's Service is missing, its frontend
 * is not Ready or no worker serves, runs `benchmarkSeconds` simulated, and prints the export between the
 * sentinels; with `profile.replay.aiperf` it prints that file instead.
 */
export const aiperfWorkload = (): Workload => ({
  name: "aiperf",
  matches: (_pod, container) => /aiperf/i.test(container.image) || /\baiperf\b/.test(commandText(container)),
  run: runAiperf
})
