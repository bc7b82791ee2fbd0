/**
 * The nccl-all-reduce-bw pipeline: pick N GPU nodes of one shape with every GPU free and reserve them, choose the
 * platform template, create the run namespace, the TrainingRuntime and the TrainJob through `acquire` in a scope of
 * its own, watch the launcher pod to its end, read its log (re-read until the table is complete) and termination
 * message, close the scope (every object released, the GPU reservations only once the pods are gone), then parse and
 * judge.
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
import * as Inputs from "./Inputs.ts"
import * as Judge from "./Judge.ts"
import * as Manifests from "./Manifests.ts"
import * as Output from "./Output.ts"
import * as Platform from "./Platform.ts"

/** "Could not determine": the NCCL benchmark could not produce a measurement. */
export class NcclError extends Data.TaggedError("NcclError")<{ readonly message: string }> {}

export const CHECK = "nccl-all-reduce-bw"

const fail = (message: string) => Effect.fail(new NcclError({ message }))

const note = (message: string) => Progress.note(CHECK, message)

const describeError = (error: unknown): string =>
  typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string"
    ? (error as { message: string }).message
    : String(error)

/** Any failure of a step, as "could not determine", prefixed with the step (core's run-namespace errors say it already). */
const step = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, NcclError, R> =>
  Effect.mapError(effect, (error) =>
    error instanceof NcclError
      ? error
      : new NcclError({ message: error instanceof RunNamespace.RunNamespaceError ? error.message : `${what}: ${describeError(error)}` }))

/** An outcome that ends the check before the benchmark runs (skipped, or failed naming the node). */
type Early = { readonly _tag: "Early"; readonly outcome: Validator.CheckOutcome }

const early = (outcome: Validator.CheckOutcome): Early => ({ _tag: "Early", outcome })

/** What the scoped part hands to judging: the launcher's raw output and the facts of the run. */
interface Raw {
  readonly _tag: "Raw"
  readonly run: Judge.Run
  readonly log: string | undefined
  readonly terminationMessage: string | undefined
  /** Why the launcher did not succeed (undefined when it did). */
  readonly launcherFailed: string | undefined
}

const ENOUGH = "Avg bus bandwidth"

/** The most of the launcher's log read (a full sweep with NCCL_DEBUG=INFO on many ranks stays well below). */
const LOG_LIMIT_BYTES = 8 * 1024 * 1024

const phaseOf = (pod: KubeObject): string | undefined => (pod["status"] as { phase?: string } | undefined)?.phase

const nodeNameOf = (pod: KubeObject): string | undefined => (pod["spec"] as { nodeName?: string } | undefined)?.nodeName

interface ContainerStatus {
  readonly name?: string
  readonly state?: { readonly terminated?: { readonly message?: string; readonly reason?: string; readonly exitCode?: number } }
}

const mainContainerOf = (pod: KubeObject | undefined): ContainerStatus | undefined => {
  const statuses = (pod?.["status"] as { containerStatuses?: ReadonlyArray<ContainerStatus> } | undefined)?.containerStatuses
  return statuses?.find((status) => status.name === Manifests.MAIN_CONTAINER)
}

const terminationMessageOf = (pod: KubeObject | undefined): string | undefined => {
  const message = mainContainerOf(pod)?.state?.terminated?.message
  return message === undefined || message.trim() === "" ? undefined : message
}

const isLive = (pod: KubeObject): boolean => pod.metadata["deletionTimestamp"] === undefined

/** How many nodes to ask the census for: one (intra-node), the knob's number, or every candidate of the largest shape. */
const nodeCountFor = (census: Dra.Census, settings: Inputs.Settings, options: Dra.PickOptions): number => {
  if (settings.topology.mode === "intra-node") return 1
  if (settings.topology.nodes !== "all") return settings.topology.nodes
  const byProduct = new Map<string, number>()
  for (const node of census.nodes) {
    if (Dra.exclusions(node, options).length > 0 || node.expected === 0) continue
    const key = `${node.product ?? ""}|${node.expected}`
    byProduct.set(key, (byProduct.get(key) ?? 0) + 1)
  }
  return Math.max(0, ...byProduct.values())
}

interface Picked {
  readonly _tag: "Picked"
  readonly nodes: ReadonlyArray<Dra.NodeGpus>
  readonly gpusPerNode: number
  readonly product: string | undefined
}

/**
 * The nodes: census, N of one shape with every GPU free (narrowed by --node-selector), each reserved for this run.
 * Too few GPU nodes → skipped; a degraded node → failed naming it; busy → inconclusive with the node table.
 */
const pickNodes = (settings: Inputs.Settings) =>
  Effect.gen(function*() {
    const run = yield* RunContext
    const options: Dra.PickOptions = { nodeSelector: run.nodeSelector, tolerations: run.userTolerations ?? [{ operator: "Exists" }] }
    const deadline = (yield* Clock.currentTimeMillis) + settings.knobs.namespaceTerminationWaitMs
    const reservedElsewhere = new Set<string>()
    const ours = new Set<string>()
    for (;;) {
      const census = yield* step("GPU census", Dra.census({ nodeSelector: Object.keys(run.nodeSelector).length === 0 ? undefined : run.nodeSelector }))
      if (census.fallback !== undefined) yield* Progress.warn(census.fallback, CHECK)
      const wanted = nodeCountFor(census, settings, options)
      if (settings.topology.mode === "inter-node" && wanted < Inputs.MIN_NODES) {
        return early(Validator.skipped(
          `requires at least ${Inputs.MIN_NODES} GPU nodes of one shape for the east-west fabric test, found ${wanted}` +
            ` (set AICR_NCCL_INTRA_NODE=true to measure one node's GPUs over NVLink instead)`
        ))
      }
      if (wanted === 0) return early(Validator.skipped("no schedulable GPU node to run nccl-tests on"))
      const free: Dra.Census = { ...census, nodes: census.nodes.map((node) => (reservedElsewhere.has(node.name) ? { ...node, free: 0 } : node)) }
      const outcome = Dra.pickEqualNodes(free, wanted, options)
      switch (outcome._tag) {
        case "Degraded":
          return early(Validator.failed(
            `GPU node ${outcome.node} is degraded: it advertises ${outcome.allocatable} of the ${outcome.expected} GPUs of its shape; nothing was created`
          ))
        case "NoCandidates":
          return yield* fail(`no ${wanted} GPU nodes can run the benchmark:\n${outcome.reasons.join("\n")}`)
        case "AllBusy":
          if (reservedElsewhere.size > 0 && (yield* Clock.currentTimeMillis) < deadline) {
            yield* note(`GPU nodes reserved by another aicr run (${[...reservedElsewhere].join(", ")}); waiting`)
            reservedElsewhere.clear()
            yield* Effect.sleep(Duration.millis(Math.min(settings.knobs.runtimeVisiblePollIntervalMs * 4, 5_000)))
            continue
          }
          return yield* fail(
            `the GPUs of the nodes are in use, nothing was created` +
              `${reservedElsewhere.size === 0 ? "" : ` (reserved by another aicr run: ${[...reservedElsewhere].join(", ")})`}:\n${Dra.table(census, options)}`
          )
        case "Picked": {
          let lost = false
          // One fixed order and a stop at the first loss: two runs racing for the same nodes cannot each win half.
          for (const node of [...outcome.nodes].sort((a, b) => a.name.localeCompare(b.name))) {
            if (ours.has(node.name)) continue
            if (yield* step("reserve the GPU nodes", Dra.reserveNode(node.name))) {
              ours.add(node.name)
            } else {
              reservedElsewhere.add(node.name)
              lost = true
              break
            }
          }
          if (lost) continue
          for (const name of outcome.degraded) yield* Progress.warn(`GPU node ${name} is degraded and was passed over`, CHECK)
          yield* note(
            `node${outcome.nodes.length === 1 ? "" : "s"} ${outcome.nodes.map((node) => node.name).join(", ")}: ` +
              `${outcome.gpusPerNode} GPUs each${outcome.product === undefined ? "" : ` (${outcome.product})`}`
          )
          return { _tag: "Picked", nodes: outcome.nodes, gpusPerNode: outcome.gpusPerNode, product: outcome.product } satisfies Picked
        }
      }
    }
  })

const GKE_NETWORK_API = "networking.gke.io/v1"

/** The template for the picked nodes: EFA counts from their Node objects, GKE's networks when the nodes are GKE's. */
const detectPlatform = (picked: Picked, settings: Inputs.Settings) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const run = yield* RunContext
    const objects = yield* step("read the GPU nodes", Effect.forEach(picked.nodes, (node) => kube.get({ apiVersion: "v1", kind: "Node", name: node.name })))
    const nodes = Platform.platformNodes(picked.nodes, objects)
    const service: Platform.Service | undefined = settings.profile === undefined
      ? undefined
      : settings.profile.service === "any"
      ? "other"
      : settings.profile.service
    let networks: ReadonlyArray<string> | undefined
    if ((service ?? Platform.serviceOf(nodes)) === "gke") {
      const served = yield* step("ask whether GKE networks are served", kube.isServed(GKE_NETWORK_API, "Network"))
      networks = served ? (yield* step("list the GKE networks", kube.list({ apiVersion: GKE_NETWORK_API, kind: "Network" }))).map((network) => network.metadata.name) : []
    }
    return Platform.detect(nodes, { nodeSelector: run.nodeSelector, networks, service })
  })

/** Creates the TrainJob, retrying while the Trainer's webhook cannot see the runtime yet (it rejects, so nothing was created). */
const createTrainJob = (trainJob: KubeObject, knobs: Inputs.Knobs, timeouts: { readonly createTimeout: Duration.Duration; readonly releaseTimeout: Duration.Duration }) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    for (let attempt = 1;; attempt++) {
      const created = yield* Effect.result(acquire(trainJob, timeouts))
      if (created._tag === "Success") return
      const error = created.failure
      const message = describeError(error)
      const reason = "reason" in error ? String(error.reason) : undefined
      const notVisible = message.includes("must be created before the TrainJob is created") ||
        (message.includes(Manifests.RUNTIME_NAME) && /not found/i.test(message) &&
          (reason === "Invalid" || reason === "Forbidden" || reason === "Unknown"))
      if (!notVisible) return yield* fail(`create the TrainJob: ${message}`)
      if ((yield* Clock.currentTimeMillis) - started >= knobs.trainJobAdmissionTimeoutMs) {
        return yield* fail(
          `the Trainer webhook did not admit the TrainJob within ${Duration.format(Duration.millis(knobs.trainJobAdmissionTimeoutMs))} ` +
            `(${attempt} attempts; last: ${message})`
        )
      }
      yield* Effect.sleep(Duration.millis(knobs.trainJobAdmissionRetryIntervalMs))
    }
  })

const trainJobFailed = (trainJob: KubeObject | undefined) =>
  ((trainJob?.["status"] as { conditions?: ReadonlyArray<{ type?: string; status?: string; reason?: string; message?: string }> } | undefined)?.conditions ?? [])
    .find((condition) => condition.type === "Failed" && condition.status === "True")

/**
 * Fails as soon as the TrainJob reports Failed (a worker died: the Trainer deletes the launcher, which then never
 * finishes), so a wait on the launcher does not last its whole window.
 */
const unlessTrainJobFails = <E, R>(namespace: string, wait: Effect.Effect<KubeObject, E, R>, timeoutMs: number) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const ref: ObjectRef = { apiVersion: Manifests.TRAINER_API_VERSION, kind: Manifests.TRAINJOB_KIND, namespace, name: Manifests.TRAINJOB_NAME }
    const failed = kube.waitFor(ref, (object) => trainJobFailed(object) !== undefined, { timeout: Duration.millis(timeoutMs) }).pipe(
      Effect.catchTag("WaitTimeout", () => Effect.never),
      Effect.flatMap((object) =>
        Effect.gen(function*() {
          // The launcher itself failing fails the TrainJob too: then its pod (and log) is the answer.
          const pods = yield* kube.list({ apiVersion: "v1", kind: "Pod", namespace, labels: Manifests.launcherPodSelector() })
          const done = pods.find((pod) => phaseOf(pod) === "Succeeded" || phaseOf(pod) === "Failed")
          if (done !== undefined) return done
          const condition = trainJobFailed(object)
          return yield* fail(
            `the TrainJob failed (${condition?.reason ?? "Failed"}${condition?.message === undefined ? "" : `: ${condition.message}`}) before the launcher finished`
          )
        })
      )
    )
    return yield* Effect.raceFirst(wait, failed)
  })

/** Watches for the launcher pod (by its JobSet labels) until it has finished; says when it starts running. */
const awaitLauncher = (namespace: string, knobs: Inputs.Knobs) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const query = { apiVersion: "v1", kind: "Pod", namespace, labels: Manifests.launcherPodSelector() }
    const newestLive = (pods: ReadonlyArray<KubeObject>) =>
      pods.filter(isLive).sort((a, b) => String(a.metadata["creationTimestamp"] ?? "").localeCompare(String(b.metadata["creationTimestamp"] ?? ""))).at(-1)
    const appeared = yield* unlessTrainJobFails(namespace, kube.waitForMatch(query, newestLive, {
      timeout: Duration.millis(knobs.launcherPodTimeoutMs),
      description: "to appear"
    }).pipe(
      Effect.catchTag("WaitTimeout", () =>
        fail(`the launcher pod did not appear within ${Duration.format(Duration.millis(knobs.launcherPodTimeoutMs))} (is the Kubeflow Trainer controller running?)`))
    ), knobs.launcherPodTimeoutMs)
    yield* note(`launcher pod ${appeared.metadata.name} created; waiting for the benchmark`)
    const finished = yield* unlessTrainJobFails(namespace, kube.waitForMatch(query, (pods) => pods.find((pod) => phaseOf(pod) === "Succeeded" || phaseOf(pod) === "Failed"), {
      timeout: Duration.millis(knobs.trainJobTimeoutMs),
      description: "to finish"
    }).pipe(
      Effect.catchTag("WaitTimeout", (timeout) =>
        fail(
          `the launcher did not finish within ${Duration.format(Duration.millis(knobs.trainJobTimeoutMs))}` +
            ` (last phase: ${timeout.last === undefined ? "none" : phaseOf(timeout.last) ?? "unknown"})`
        ))
    ), knobs.trainJobTimeoutMs)
    return finished
  })

/** Reads the launcher's log until it holds the `# Avg bus bandwidth` line (kubelets may serve it short), at most `attempts` times. */
const readLauncherLog = (namespace: string, pod: string, knobs: Pick<Inputs.Knobs, "logReadAttempts" | "logReadIntervalMs">) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    let last: string | undefined
    for (let attempt = 1; attempt <= knobs.logReadAttempts; attempt++) {
      const read = yield* Effect.option(Stream.mkString(kube.logs({ namespace, name: pod }, { container: Manifests.MAIN_CONTAINER, limitBytes: LOG_LIMIT_BYTES })))
      if (Option.isSome(read)) last = read.value
      if (last !== undefined && last.includes(ENOUGH)) return last
      if (attempt < knobs.logReadAttempts) yield* Effect.sleep(Duration.millis(knobs.logReadIntervalMs))
    }
    return last
  })

const failureOf = (pod: KubeObject): string => {
  const terminated = mainContainerOf(pod)?.state?.terminated
  const status = pod["status"] as { reason?: string; message?: string } | undefined
  const parts = [
    terminated?.exitCode === undefined ? undefined : `exit code ${terminated.exitCode}`,
    terminated?.reason ?? status?.reason,
    status?.message
  ].filter((part): part is string => part !== undefined && part !== "")
  return parts.length === 0 ? "the launcher pod failed" : `the launcher pod failed (${parts.join(", ")})`
}

/** Last lines of a text, for a failure message. */
const tail = (text: string | undefined, lines: number): string =>
  (text ?? "").trimEnd().split("\n").slice(-lines).join("\n")

/** Picks, deploys and benchmarks in its own scope; returns raw output once every object is released. */
const measure = (settings: Inputs.Settings, images: Manifests.Images) =>
  Effect.scoped(Effect.gen(function*() {
    const run = yield* RunContext
    const knobs = settings.knobs
    const pullSecrets = yield* step("read the image pull secrets", RunNamespace.readPullSecrets)
    const picked = yield* pickNodes(settings)
    if (picked._tag === "Early") return picked
    const detection = yield* detectPlatform(picked, settings)
    if (detection._tag === "Unsupported") return early(Validator.skipped(detection.reason))
    if (detection._tag === "Misconfigured") return early(Validator.failed(`${detection.reason}; nothing was created`))
    const template = detection.template
    const gpuAllocation = Manifests.gpuAllocationFor(picked.nodes, picked.gpusPerNode)
    if (gpuAllocation === undefined) {
      return yield* fail(`the nodes advertise ${picked.gpusPerNode} GPUs neither as allocatable nvidia.com/gpu nor as DRA devices on every node; nothing was created`)
    }
    const names = Manifests.names(run.hash)
    const workers = picked.nodes.length
    const tooLong = Manifests.overBudget(names, workers)
    if (tooLong.length > 0) {
      return yield* fail(`generated names exceed their limits: ${tooLong.map((budget) => `${budget.what} ${budget.value} (> ${budget.limit})`).join(", ")}`)
    }
    const benchmark = Manifests.effectiveBenchmark(settings.benchmark, template)
    if (benchmark.maxBytes < settings.benchmark.maxBytes) {
      yield* Progress.warn(`${template.description}: largest message capped at ${Manifests.formatSize(benchmark.maxBytes)} (asked ${Manifests.formatSize(settings.benchmark.maxBytes)})`, CHECK)
    }
    yield* note(`platform: ${template.description}; GPUs by ${gpuAllocation === "dra" ? "DRA claims" : "the device plugin"}`)
    const identity = { hash: run.hash, labels: run.labels }
    const runtimeImage = settings.runtimeImage ?? images[template.imageKey]

    yield* step("check the run namespace", RunNamespace.ensureFresh(names.namespace, knobs.namespaceTerminationWaitMs, note))
    const timeouts = { createTimeout: Duration.millis(knobs.apiTimeoutMs), releaseTimeout: Duration.millis(knobs.cleanupTimeoutMs) }
    yield* step("create the run namespace", acquire(Manifests.namespace(identity), { ...timeouts, waitUntilGone: "after-verdict" }))
    for (const secret of pullSecrets) {
      yield* step(
        `copy the image pull secret ${secret.metadata.name}`,
        acquire(RunNamespace.pullSecretCopy(secret, names.namespace, run.labels), timeouts)
      )
    }
    if (gpuAllocation === "dra") {
      yield* step("create the ResourceClaimTemplate", acquire(Manifests.claimTemplate(identity, picked.gpusPerNode), timeouts))
    }
    const activeDeadlineSeconds = Math.max(1, Math.ceil((knobs.launcherPodTimeoutMs + knobs.trainJobTimeoutMs) / 1000))
    yield* step("create the TrainingRuntime", acquire(Manifests.trainingRuntime({
      run: identity,
      template,
      nodes: picked.nodes,
      gpusPerNode: picked.gpusPerNode,
      benchmark,
      images,
      runtimeImage: settings.runtimeImage,
      tolerations: run.userTolerations,
      gpuAllocation,
      imagePullSecrets: pullSecrets.map((secret) => secret.metadata.name),
      activeDeadlineSeconds
    }), timeouts))
    const kube = yield* KubeClient
    const runtimeRef: ObjectRef = { apiVersion: Manifests.TRAINER_API_VERSION, kind: Manifests.TRAINING_RUNTIME_KIND, namespace: names.namespace, name: names.runtime }
    yield* kube.waitFor(runtimeRef, (object) => object !== undefined, {
      timeout: Duration.millis(knobs.runtimeVisibleTimeoutMs),
      description: "to be visible"
    }).pipe(
      Effect.catchTag("WaitTimeout", () => fail(`the TrainingRuntime was not visible within ${Duration.format(Duration.millis(knobs.runtimeVisibleTimeoutMs))}`)),
      (effect) => step("wait for the TrainingRuntime", effect)
    )
    yield* createTrainJob(Manifests.trainJob({ run: identity, workers }), knobs, timeouts)
    yield* note(
      `created namespace ${names.namespace}, TrainingRuntime and TrainJob: ${workers} worker${workers === 1 ? "" : "s"} × ` +
        `${picked.gpusPerNode} GPUs, all_reduce_perf ${Manifests.formatSize(benchmark.minBytes)}…${Manifests.formatSize(benchmark.maxBytes)}`
    )
    const launcher = yield* step("wait for the launcher", awaitLauncher(names.namespace, knobs))
    const succeeded = phaseOf(launcher) === "Succeeded"
    yield* note(`launcher ${succeeded ? "succeeded" : "failed"}${nodeNameOf(launcher) === undefined ? "" : ` (on ${nodeNameOf(launcher)})`}; reading its log`)
    const log = yield* readLauncherLog(names.namespace, launcher.metadata.name, succeeded ? knobs : { ...knobs, logReadAttempts: 1 })
    return {
      _tag: "Raw",
      run: {
        runId: run.runId,
        nodes: picked.nodes.map((node) => node.name),
        gpusPerNode: picked.gpusPerNode,
        mode: settings.topology.mode,
        platform: template.description,
        fabric: template.fabric,
        benchmark,
        runtimeImage,
        runtimeImageOverridden: settings.runtimeImage !== undefined
      },
      log,
      terminationMessage: terminationMessageOf(launcher),
      launcherFailed: succeeded ? undefined : failureOf(launcher)
    } satisfies Raw
  }))

/** The whole check: decode knobs, measure (scoped), then parse and judge outside the scope. */
export const run = (input: Validator.RunInput<Inputs.Constraints, "runtime" | "runtime-gke" | "probe">) =>
  Effect.gen(function*() {
    const knobs = yield* step("check the AICR_NCCL_* settings", Inputs.loadKnobs)
    const settings = Inputs.resolve(input.config, knobs)
    if (settings.gate === undefined) return Validator.skipped(`no ${Inputs.BANDWIDTH} constraint in the recipe`)
    const raw = yield* measure(settings, input.images)
    if (raw._tag === "Early") return raw.outcome
    const parsed = Output.fromLauncher(
      { log: raw.log, terminationMessage: raw.terminationMessage },
      { maxBytes: raw.run.benchmark.maxBytes, stepFactor: raw.run.benchmark.stepFactor }
    )
    const judged = Judge.judge({ gate: settings.gate, tolerance: settings.tolerance, parsed, run: raw.run })
    if (judged._tag === "Verdict" && judged.outcome.status === "passed" && raw.launcherFailed !== undefined) {
      return yield* fail(`${raw.launcherFailed} after printing its table, so the figure is not trusted: ${judged.outcome.message}`)
    }
    if (judged._tag === "Inconclusive") {
      if (raw.launcherFailed === undefined) return yield* fail(judged.reason)
      const evidence = tail(raw.log ?? raw.terminationMessage, 20)
      return yield* fail(`${raw.launcherFailed}; ${judged.reason}${evidence === "" ? "" : `\nlast lines of the launcher:\n${evidence}`}`)
    }
    return judged.outcome
  })
