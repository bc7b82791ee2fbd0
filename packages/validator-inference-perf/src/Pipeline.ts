/**
 * The inference-perf pipeline: pick and reserve the GPU node, deploy the Dynamo workload and the AIPerf Job through
 * `acquire` in a scope of its own, wait with watches, probe the endpoint, collect AIPerf's output, close the scope
 * (every object released in reverse order), then parse and judge.
 */
import { acquire } from "@aicr/core/Acquire"
import * as Dra from "@aicr/core/Dra"
import { KubeClient, type KubeObject, type ObjectRef } from "@aicr/core/KubeClient"
import * as Progress from "@aicr/core/Progress"
import { RunContext } from "@aicr/core/RunContext"
import * as RunNamespace from "@aicr/core/RunNamespace"
import * as Validator from "@aicr/core/Validator"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Export from "./Export.ts"
import * as Inputs from "./Inputs.ts"
import * as Judge from "./Judge.ts"
import * as Load from "./Load.ts"
import * as Manifests from "./Manifests.ts"

/** "Could not determine": the inference pipeline could not produce a measurement. */
export class InferencePerfError extends Data.TaggedError("InferencePerfError")<{ readonly message: string }> {}

export const CHECK = "inference-perf"

const fail = (message: string) => Effect.fail(new InferencePerfError({ message }))

const note = (message: string) => Progress.note(CHECK, message)

const describeError = (error: unknown): string =>
  typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string"
    ? (error as { message: string }).message
    : String(error)

/** Any failure of a step, as "could not determine", prefixed with the step (core's run-namespace errors say it already). */
const step = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, InferencePerfError, R> =>
  Effect.mapError(effect, (error) =>
    error instanceof InferencePerfError
      ? error
      : new InferencePerfError({ message: error instanceof RunNamespace.RunNamespaceError ? error.message : `${what}: ${describeError(error)}` }))

type Images = Readonly<Record<"frontend" | "worker" | "aiperf", string>>

/** What the scoped part hands to judging: raw output only. */
interface Raw {
  readonly node: string
  readonly gpuCount: number
  readonly nodeGpuCount: number
  readonly concurrency: number
  readonly logs: string | undefined
  readonly terminationMessage: string | undefined
  readonly jobFailed: string | undefined
}

/** A node outcome that ends the check before anything is created. */
type Early = { readonly _tag: "Early"; readonly outcome: Validator.CheckOutcome }

const isReady = (pod: KubeObject): boolean => {
  const status = pod["status"] as { phase?: string; conditions?: ReadonlyArray<{ type?: string; status?: string }> } | undefined
  return status?.phase === "Running" && (status.conditions ?? []).some((condition) => condition.type === "Ready" && condition.status === "True")
}

const jobCondition = (job: KubeObject | undefined, type: string): { readonly message?: string; readonly reason?: string } | undefined => {
  const conditions = (job?.["status"] as { conditions?: ReadonlyArray<{ type?: string; status?: string; message?: string; reason?: string }> } | undefined)?.conditions
  return conditions?.find((condition) => condition.type === type && condition.status === "True")
}

const terminationMessageOf = (pod: KubeObject | undefined): string | undefined => {
  const statuses = (pod?.["status"] as { containerStatuses?: ReadonlyArray<{ name?: string; state?: { terminated?: { message?: string } } }> } | undefined)?.containerStatuses
  const container = statuses?.find((status) => status.name === Manifests.AIPERF_CONTAINER) ?? statuses?.[0]
  const message = container?.state?.terminated?.message
  return message === undefined || message.trim() === "" ? undefined : message
}

const nodeNameOf = (pod: KubeObject): string | undefined => (pod["spec"] as { nodeName?: string } | undefined)?.nodeName

/** The scheduler's reason for leaving a pod Pending (its `PodScheduled=False` condition), as `: <message>`. */
const unscheduledBecause = (pod: KubeObject): string => {
  const conditions = (pod["status"] as { conditions?: ReadonlyArray<{ type?: string; status?: string; message?: string }> } | undefined)?.conditions
  const message = conditions?.find((condition) => condition.type === "PodScheduled" && condition.status === "False")?.message
  return message === undefined || message === "" ? "" : `: ${message}`
}

/** Polls `check` every `interval` until it returns a value, bounded by `timeout`; `onTimeout` says what was awaited. */
const poll = <A, E, R>(
  check: Effect.Effect<Option.Option<A>, E, R>,
  interval: Duration.Duration,
  timeout: Duration.Duration,
  onTimeout: () => string
): Effect.Effect<A, E | InferencePerfError, R> => {
  const loop: Effect.Effect<A, E, R> = Effect.flatMap(check, Option.match({
    onNone: () => Effect.andThen(Effect.sleep(interval), loop),
    onSome: Effect.succeed
  }))
  return loop.pipe(
    Effect.timeoutOption(timeout),
    Effect.flatMap(Option.match({ onNone: () => fail(onTimeout()), onSome: Effect.succeed }))
  )
}

/** The node: census, pick the most free GPUs (narrowed by --node-selector), reserve it; busy or degraded ends early. */
const pickNode = (settings: Inputs.Settings) =>
  Effect.gen(function*() {
    const run = yield* RunContext
    const options: Dra.PickOptions = { nodeSelector: run.nodeSelector, tolerations: run.userTolerations ?? [{ operator: "Exists" }] }
    const deadline = (yield* Clock.currentTimeMillis) + settings.knobs.namespaceTerminationWaitMs
    const reservedElsewhere = new Set<string>()
    for (;;) {
      const census = yield* step("GPU census", Dra.census({ nodeSelector: Object.keys(run.nodeSelector).length === 0 ? undefined : run.nodeSelector }))
      if (census.fallback !== undefined) yield* Progress.warn(census.fallback, CHECK)
      const free: Dra.Census = { ...census, nodes: census.nodes.filter((node) => !reservedElsewhere.has(node.name)) }
      const outcome = Dra.pickMostFree(free, options)
      switch (outcome._tag) {
        case "Degraded":
          return {
            _tag: "Early",
            outcome: Validator.failed(`GPU node ${outcome.node} is degraded: it advertises ${outcome.allocatable} of the ${outcome.expected} GPUs of its shape; nothing was created`)
          } satisfies Early
        case "NoCandidates":
          return yield* fail(`no GPU node can run the benchmark:\n${outcome.reasons.join("\n")}`)
        case "AllBusy":
          if (reservedElsewhere.size > 0 && (yield* Clock.currentTimeMillis) < deadline) {
            yield* note(`every free GPU node is reserved by another aicr run (${[...reservedElsewhere].join(", ")}); waiting`)
            reservedElsewhere.clear()
            yield* Effect.sleep(Duration.millis(Math.min(settings.knobs.endpointPollIntervalMs, 5_000)))
            continue
          }
          return yield* fail(`every GPU is in use, nothing was created:\n${Dra.table(census, options)}`)
        case "Picked": {
          if (!(yield* step("reserve the GPU node", Dra.reserveNode(outcome.node.name)))) {
            reservedElsewhere.add(outcome.node.name)
            continue
          }
          for (const name of outcome.degraded) yield* Progress.warn(`GPU node ${name} is degraded and was passed over`, CHECK)
          yield* note(`node ${outcome.node.name}: ${outcome.gpus} of ${outcome.node.capacity} GPUs free${outcome.node.product === undefined ? "" : ` (${outcome.node.product})`}`)
          return { _tag: "Node", node: outcome.node, gpus: outcome.gpus } as const
        }
      }
    }
  })

/** Waits until the DGD is `successful` and each component has its desired number of Ready pods. */
const waitForWorkload = (namespace: string, workers: number, knobs: Inputs.Knobs) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const started = yield* Clock.currentTimeMillis
    const total = Duration.millis(knobs.workloadReadyTimeoutMs)
    const dgd: ObjectRef = { apiVersion: Manifests.DGD_API_VERSION, kind: Manifests.DGD_KIND, namespace, name: Manifests.DEPLOYMENT_NAME }
    const state = (object: KubeObject | undefined) => (object?.["status"] as { state?: string } | undefined)?.state
    const ready = yield* kube.waitFor(dgd, (object) => state(object) === "successful" || state(object) === "failed", {
      timeout: total,
      description: "to become successful"
    }).pipe(
      Effect.catchTag("WaitTimeout", (timeout) =>
        fail(`the DynamoGraphDeployment did not become ready within ${Duration.format(total)} (last state: ${state(timeout.last) ?? "none"})`))
    )
    if (state(ready) === "failed") return yield* fail(`the DynamoGraphDeployment ${namespace}/${Manifests.DEPLOYMENT_NAME} failed: ${JSON.stringify(ready?.["status"])}`)
    let last = ""
    const spent = (yield* Clock.currentTimeMillis) - started
    yield* poll(
      Effect.gen(function*() {
        const pods = yield* kube.list({ apiVersion: "v1", kind: "Pod", namespace })
        const count = (role: Manifests.Role) =>
          pods.filter((pod) => Object.entries(Manifests.podSelector(role)).every(([key, value]) => pod.metadata.labels?.[key] === value) && isReady(pod)).length
        const workersReady = count("worker")
        const frontendReady = count("frontend")
        const line = `${workersReady}/${workers} workers ready, ${frontendReady}/1 frontend`
        if (line !== last) {
          last = line
          yield* note(line)
        }
        return workersReady >= workers && frontendReady >= 1 ? Option.some(undefined) : Option.none()
      }),
      Duration.millis(Math.min(1_000, knobs.endpointPollIntervalMs)),
      Duration.millis(Math.max(1, knobs.workloadReadyTimeoutMs - spent)),
      () => `the workload did not get every pod Ready within ${Duration.format(total)} (${last})`
    )
  })

const PROBE_BODY_LIMIT = 8192

/** POSTs a tiny chat completion through the service proxy until a reply carries content. */
const probeEndpoint = (hash: string, model: string, knobs: Inputs.Knobs) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    let attempt = 0
    const once = Effect.scoped(Effect.gen(function*() {
      attempt += 1
      const request = { ...Manifests.readinessRequest(hash, model), timeout: Duration.millis(knobs.endpointProbeTimeoutMs) }
      const response = yield* kube.proxy(request)
      let size = 0
      const chunks: Array<Uint8Array> = []
      yield* Stream.runForEachWhile(response.body, (chunk) =>
        Effect.sync(() => {
          size += chunk.byteLength
          if (size <= PROBE_BODY_LIMIT) chunks.push(chunk)
          return size <= PROBE_BODY_LIMIT
        }))
      if (size > PROBE_BODY_LIMIT) return `answer over ${PROBE_BODY_LIMIT} bytes`
      if (response.status !== 200) return `HTTP ${response.status}`
      const text = Buffer.concat(chunks).toString("utf8")
      const json = yield* Effect.option(Effect.try({ try: (): unknown => JSON.parse(text), catch: () => "not JSON" }))
      if (Option.isNone(json)) return "an answer that is not JSON"
      const parsed = json.value
      const content = (parsed as { choices?: ReadonlyArray<{ message?: { content?: unknown } }> }).choices?.[0]?.message?.content
      return typeof content === "string" && content !== "" ? undefined : "no content in choices[0].message"
    })).pipe(
      Effect.timeoutOption(Duration.millis(knobs.endpointProbeTimeoutMs)),
      Effect.map(Option.getOrElse(() => `no answer within ${Duration.format(Duration.millis(knobs.endpointProbeTimeoutMs))}`)),
      Effect.catch((error) => Effect.succeed(describeError(error)))
    )
    let lastProblem = ""
    yield* poll(
      Effect.gen(function*() {
        const problem = yield* once
        if (problem === undefined) {
          yield* note(`the endpoint serves completions (probe ${attempt})`)
          return Option.some(undefined)
        }
        lastProblem = problem
        yield* note(`probe ${attempt}: ${problem}`)
        return Option.none()
      }),
      Duration.millis(knobs.endpointPollIntervalMs),
      Duration.millis(knobs.endpointReadyTimeoutMs),
      () => `the inference endpoint did not serve a completion within ${Duration.format(Duration.millis(knobs.endpointReadyTimeoutMs))} (${attempt} probes, last: ${lastProblem})`
    )
  })

/** Runs the AIPerf Job to its end and returns its pod's log, termination message, and why the Job failed. */
const runAiperf = (namespace: string, jobName: string, knobs: Inputs.Knobs) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const byJob = { "batch.kubernetes.io/job-name": jobName }
    const within = Duration.format(Duration.millis(knobs.aiperfPodTimeoutMs))
    let seen: KubeObject | undefined
    const pod = yield* poll(
      Effect.map(kube.list({ apiVersion: "v1", kind: "Pod", namespace, labels: byJob }), (pods) => {
        seen = pods[0]
        return Option.fromNullishOr(pods.find((candidate) => nodeNameOf(candidate) !== undefined))
      }),
      Duration.millis(Math.min(1_000, knobs.endpointPollIntervalMs)),
      Duration.millis(knobs.aiperfPodTimeoutMs),
      () =>
        seen === undefined
          ? `the AIPerf pod did not appear within ${within}`
          : `the AIPerf pod ${seen.metadata.name} was not scheduled within ${within}${unscheduledBecause(seen)}`
    )
    yield* note(`AIPerf running (pod ${pod.metadata.name} on ${nodeNameOf(pod)})`)
    const jobRef: ObjectRef = { apiVersion: "batch/v1", kind: "Job", namespace, name: jobName }
    const job = yield* kube.waitFor(jobRef, (object) => jobCondition(object, "Complete") !== undefined || jobCondition(object, "Failed") !== undefined, {
      timeout: Duration.millis(knobs.aiperfJobTimeoutMs),
      description: "to complete"
    }).pipe(Effect.catchTag("WaitTimeout", () => fail(`the AIPerf Job did not finish within ${Duration.format(Duration.millis(knobs.aiperfJobTimeoutMs))}`)))
    const failed = jobCondition(job, "Failed")
    const finalPod = yield* Effect.option(kube.get({ apiVersion: "v1", kind: "Pod", namespace, name: pod.metadata.name }))
    const logs = yield* Effect.option(Stream.mkString(kube.logs({ namespace, name: pod.metadata.name }, { container: Manifests.AIPERF_CONTAINER })))
    return {
      logs: Option.getOrUndefined(logs),
      terminationMessage: terminationMessageOf(Option.getOrUndefined(finalPod)),
      jobFailed: failed === undefined ? undefined : `${failed.reason ?? "Failed"}${failed.message === undefined ? "" : `: ${failed.message}`}`
    }
  })

/** Deploys, waits, probes and benchmarks in its own scope; returns raw output once every object is released. */
const measure = (settings: Inputs.Settings, images: Images) =>
  Effect.scoped(Effect.gen(function*() {
    const run = yield* RunContext
    const pullSecrets = yield* step("read the image pull secrets", RunNamespace.readPullSecrets)
    const picked = yield* pickNode(settings)
    if (picked._tag === "Early") return picked
    const { node, gpus } = picked
    const names = Manifests.names(run.hash)
    const knobs = settings.knobs
    const identity = { hash: run.hash, labels: run.labels }

    yield* step("check the run namespace", RunNamespace.ensureFresh(names.namespace, knobs.namespaceTerminationWaitMs, note))
    const timeouts = { createTimeout: Duration.millis(knobs.apiCallTimeoutMs), releaseTimeout: Duration.millis(knobs.cleanupTimeoutMs) }
    yield* step("create the run namespace", acquire(Manifests.namespace(identity), { ...timeouts, waitUntilGone: "after-verdict" }))
    for (const secret of pullSecrets) {
      yield* step(`copy the image pull secret ${secret.metadata.name}`, acquire(Manifests.pullSecretCopy(secret, identity), timeouts))
    }
    const imagePullSecrets = pullSecrets.map((secret) => secret.metadata.name)
    yield* step("create the ResourceClaimTemplate", acquire(Manifests.claimTemplate(identity), timeouts))
    yield* step("create the DynamoGraphDeployment", acquire(Manifests.dynamoGraphDeployment({
      run: identity,
      node,
      workers: gpus,
      model: settings.model,
      images: { frontend: { image: images.frontend }, worker: { image: images.worker } },
      tolerations: run.userTolerations,
      routerMode: knobs.routerMode,
      imagePullSecrets
    }), timeouts))
    const copied = imagePullSecrets.length === 0 ? "" : `, image pull secret${imagePullSecrets.length === 1 ? "" : "s"} ${imagePullSecrets.join(", ")}`
    yield* note(`created namespace ${names.namespace}${copied}, ResourceClaimTemplate and DynamoGraphDeployment (${gpus} vLLM worker${gpus === 1 ? "" : "s"}, model ${settings.model})`)

    yield* step("wait for the workload", waitForWorkload(names.namespace, gpus, knobs))
    yield* step("probe the endpoint", probeEndpoint(run.hash, settings.model, knobs))

    const endpoint = Manifests.frontendEndpoint(run.hash)
    const load = Load.forSettings(settings, { url: endpoint.url, gpuCount: gpus })
    yield* step("create the AIPerf Job", acquire(Manifests.aiperfJob({
      run: identity,
      image: { image: images.aiperf },
      args: load.args,
      activeDeadlineSeconds: Math.max(1, Math.ceil(knobs.aiperfJobTimeoutMs / 1000)),
      gpuNode: node,
      tolerations: run.userTolerations,
      imagePullSecrets
    }), { ...timeouts, createTimeout: Duration.millis(knobs.jobCreationTimeoutMs) }))
    yield* note(`AIPerf Job created: concurrency ${load.concurrency}, ${load.requestCount} requests after ${load.warmupRequestCount} warm-up`)
    const output = yield* step("run AIPerf", runAiperf(names.namespace, names.aiperfJob, knobs))
    return {
      _tag: "Raw",
      node: node.name,
      gpuCount: gpus,
      nodeGpuCount: node.allocatable > 0 ? node.allocatable : node.capacity,
      concurrency: load.concurrency,
      ...output
    } satisfies Raw & { readonly _tag: "Raw" }
  }))

/** The whole check: decode knobs, measure (scoped), then parse and judge outside the scope. */
export const run = (input: Validator.RunInput<Inputs.Constraints, "frontend" | "worker" | "aiperf">) =>
  Effect.gen(function*() {
    const knobs = yield* step("check the AICR_INFERENCE_PERF_* settings", Inputs.loadKnobs)
    const settings = Inputs.resolve(input.config, knobs)
    const run = yield* RunContext
    const raw = yield* measure(settings, input.images)
    if (raw._tag === "Early") return raw.outcome
    const fromLogs = raw.logs === undefined ? undefined : Export.fromLogs(raw.logs)
    const parsed: Export.Parsed = fromLogs !== undefined && fromLogs._tag === "Measured"
      ? fromLogs
      : raw.terminationMessage !== undefined
      ? Export.fromTerminationMessage(raw.terminationMessage)
      : fromLogs ?? { _tag: "Inconclusive", reason: "the AIPerf pod left neither a log nor a termination message", raw: undefined, source: "logs" }
    const judged = Judge.judge({
      throughput: settings.throughput,
      ttftP99: settings.ttftP99,
      tolerance: settings.tolerance,
      parsed,
      run: {
        runId: run.runId,
        node: raw.node,
        gpuCount: raw.gpuCount,
        nodeGpuCount: raw.nodeGpuCount,
        model: settings.model,
        concurrency: raw.concurrency,
        concurrencyPerGpu: settings.concurrencyPerGpu
      }
    })
    if (judged._tag === "Inconclusive") {
      return yield* fail(raw.jobFailed === undefined ? judged.reason : `the AIPerf Job failed (${raw.jobFailed}); ${judged.reason}`)
    }
    return judged.outcome
  })
