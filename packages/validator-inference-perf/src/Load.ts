import type * as Inputs from "./Inputs.ts"

/** Where AIPerf writes its artifacts inside the aiperf-bench container (the entrypoint reads the export there). */
export const ARTIFACT_DIR = "/tmp/aiperf"

/** Deterministic inputs (upstream #1196): one seed, a fixed prompt pool, fixed lengths, greedy decoding. */
export const RANDOM_SEED = 100
export const DATASET_ENTRIES = 100

/** The shape of one AIPerf run. */
export interface LoadInput {
  readonly model: string
  /** The frontend's base URL, e.g. `http://aicr-inference-perf-frontend.<ns>.svc:8000`. */
  readonly url: string
  /** GPUs benchmarked (one vLLM worker each). */
  readonly gpuCount: number
  readonly concurrencyPerGpu: number
  /** Warm-up requests per unit of concurrency: 1 is one wave. */
  readonly warmupPerConcurrency: number
  readonly minRequests: number
  readonly requestsPerConcurrency: number
  readonly inputTokensMean: number
  readonly outputTokensMean: number
  readonly artifactDir?: string | undefined
}

/** The load AIPerf will put on the endpoint, and the `aiperf profile` arguments that ask for it. */
export interface Load {
  readonly concurrency: number
  readonly requestCount: number
  readonly warmupRequestCount: number
  readonly randomSeed: number
  readonly datasetEntries: number
  /** Flags for `aiperf profile` (without the subcommand), beginning with `--model <model>`. */
  readonly args: ReadonlyArray<string>
}

const positiveInteger = (name: string, value: number): number => {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer (got ${value})`)
  return value
}

/**
 * Sizes the benchmark and renders its `aiperf profile` flags.
 *
 * concurrency = per-GPU × GPUs; requests = max(minimum, concurrency × requests per concurrency), so AIPerf always
 * has at least as many requests as concurrent slots; warm-up = concurrency × warm-up per concurrency (one wave by
 * default), excluded from the metrics. Inputs are deterministic: fixed input and output lengths (stddev 0), a pool
 * of {@link DATASET_ENTRIES} prompts, seed {@link RANDOM_SEED}, temperature 0. Throws a `RangeError` on a count
 * that is not a positive integer (a programming error: knobs and constraints are validated before).
 */
export const plan = (input: LoadInput): Load => {
  const gpus = positiveInteger("gpuCount", input.gpuCount)
  const concurrency = positiveInteger("concurrency", gpus * positiveInteger("concurrencyPerGpu", input.concurrencyPerGpu))
  const requestCount = Math.max(
    positiveInteger("minRequests", input.minRequests),
    concurrency * positiveInteger("requestsPerConcurrency", input.requestsPerConcurrency)
  )
  const warmupRequestCount = concurrency * positiveInteger("warmupPerConcurrency", input.warmupPerConcurrency)
  const args = [
    "--model", input.model,
    "--url", input.url,
    "--endpoint-type", "chat",
    "--streaming",
    "--concurrency", String(concurrency),
    "--request-count", String(requestCount),
    "--warmup-request-count", String(warmupRequestCount),
    "--prompt-input-tokens-mean", String(positiveInteger("inputTokensMean", input.inputTokensMean)),
    "--prompt-input-tokens-stddev", "0",
    "--prompt-output-tokens-mean", String(positiveInteger("outputTokensMean", input.outputTokensMean)),
    "--prompt-output-tokens-stddev", "0",
    "--num-dataset-entries", String(DATASET_ENTRIES),
    "--random-seed", String(RANDOM_SEED),
    "--extra-inputs", "temperature:0",
    "--output-artifact-dir", input.artifactDir ?? ARTIFACT_DIR,
    "--export-level", "summary"
  ]
  return { concurrency, requestCount, warmupRequestCount, randomSeed: RANDOM_SEED, datasetEntries: DATASET_ENTRIES, args }
}

/** {@link plan} for resolved settings: the model and per-GPU concurrency of the recipe (or knobs), the knobs' load shape. */
export const forSettings = (settings: Inputs.Settings, target: { readonly url: string; readonly gpuCount: number }): Load =>
  plan({
    model: settings.model,
    url: target.url,
    gpuCount: target.gpuCount,
    concurrencyPerGpu: settings.concurrencyPerGpu,
    warmupPerConcurrency: settings.knobs.warmupPerConcurrency,
    minRequests: settings.knobs.minRequests,
    requestsPerConcurrency: settings.knobs.requestsPerConcurrency,
    inputTokensMean: settings.knobs.inputTokensMean,
    outputTokensMean: settings.knobs.outputTokensMean
  })
