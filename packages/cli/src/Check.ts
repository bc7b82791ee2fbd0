/**
 * `aicr check <name>`: one check inside the cluster, the validator image's entrypoint (docs/adr/0005).
 *
 * Input: the CheckInput document at `AICR_CHECK_INPUT` (default `/data/input/<name>.json`), cross-checked with
 * `AICR_VALIDATOR_NAME`, `AICR_VALIDATOR_PHASE` and `AICR_RUN_ID` when they are set; the namespace from
 * `AICR_NAMESPACE`, else the service account's. Only the first-party plugins are loaded (nothing from the working
 * directory). The check's constraints are decoded from the recipe text by the same `Plan` code as `validate`; its
 * images and timeout are the input's. The connection is the in-cluster service account only — `KUBECONFIG` and
 * `~/.kube/config` are ignored, so the check acts with its ServiceAccount's rights and nothing else
 * (`AICR_SERVICEACCOUNT_DIR`, `KUBERNETES_SERVICE_HOST`/`PORT`). The run ledger is kept in `AICR_STATE_DIR`, else a
 * temporary directory. The check runs through core's local runner as a one-check plan, so requirements, timeout and
 * `afterVerdict` work behave exactly as in `validate`.
 *
 * Output: progress on stderr; the outcome record between sentinel lines on stdout; its compact form in
 * `AICR_TERMINATION_LOG` (default `/dev/termination-log`; a write failure only warns). Exit 0 passed, 1 failed,
 * 2 skipped, 3 inconclusive. Anything that stops the check from starting, an internal error and an interruption
 * (SIGTERM/SIGINT, after every release ran) are inconclusive records too.
 */
import * as Catalog from "@aicr/core/Catalog"
import * as CheckInput from "@aicr/core/CheckInput"
import * as CheckRecord from "@aicr/core/CheckRecord"
import * as InCluster from "@aicr/core/InCluster"
import { KubeClient } from "@aicr/core/KubeClient"
import * as KubeClientLive from "@aicr/core/KubeClientLive"
import * as Ledger from "@aicr/core/Ledger"
import * as Plan from "@aicr/core/Plan"
import * as Problem from "@aicr/core/Problem"
import { Progress } from "@aicr/core/Progress"
import * as Recipe from "@aicr/core/Recipe"
import * as RunContext from "@aicr/core/RunContext"
import * as Runner from "@aicr/core/Runner"
import type * as Validator from "@aicr/core/Validator"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { readFileSync, writeFileSync } from "node:fs"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as BuildInfo from "./BuildInfo.ts"
import { firstParty } from "./FirstParty.ts"
import * as Output from "./Output.ts"
import * as Render from "./Render.ts"

/** The variables `aicr check` reads (upstream's names where upstream has them). */
export const ENV = {
  input: "AICR_CHECK_INPUT",
  name: "AICR_VALIDATOR_NAME",
  phase: "AICR_VALIDATOR_PHASE",
  runId: RunContext.ENV_RUN_ID,
  namespace: "AICR_NAMESPACE",
  terminationLog: "AICR_TERMINATION_LOG",
  stateDir: "AICR_STATE_DIR",
  serviceAccountDir: "AICR_SERVICEACCOUNT_DIR"
} as const

/** The exit code of an interrupted check (inconclusive), for the entry point's teardown. */
export const INTERRUPTED_EXIT_CODE = CheckRecord.EXIT_CODES.inconclusive

const DEFAULT_SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

type Env = Readonly<Record<string, string | undefined>>

/** A variable's value; empty counts as unset (upstream's rule). */
const read = (env: Env, name: string): string | undefined => {
  const value = env[name]
  return value === undefined || value.trim() === "" ? undefined : value.trim()
}

/** What the check needs once the cluster is reached. */
export interface Ready {
  readonly check: string
  readonly input: CheckInput.CheckInput
  /** A plan of the one check, with the input's images and timeout. */
  readonly plan: Plan.Plan
  readonly namespace: string
}

export type Prepared =
  | { readonly _tag: "Ready"; readonly ready: Ready }
  | { readonly _tag: "Stop"; readonly problems: ReadonlyArray<string> }

const stop = (problems: ReadonlyArray<string>): Prepared => ({ _tag: "Stop", problems })

const errorText = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const code = (error as { code?: unknown }).code
  return code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : error.message
}

/** The embedded catalog plus a placeholder for each check of `phase` it does not know (an entry of the user's `--catalog`). */
const catalogFor = (recipe: Recipe.Recipe, phase: Catalog.Phase): Catalog.Catalog => {
  const catalog = Catalog.embedded()
  const unknown = Recipe.checksOf(recipe, phase).filter((name) => Catalog.find(catalog, name) === undefined)
  return {
    ...catalog,
    validators: [
      ...catalog.validators,
      ...[...new Set(unknown)].map((name): Catalog.Entry => ({
        name,
        phase,
        description: "",
        image: "",
        timeout: Catalog.DEFAULT_TIMEOUT_MS,
        args: [name],
        env: [],
        dependencyAffinity: [],
        images: {}
      }))
    ]
  }
}

/** `AICR_NAMESPACE`, else the service account's namespace file, else `aicr-validation`. */
const namespaceOf = (env: Env) =>
  Effect.gen(function*() {
    const given = read(env, ENV.namespace)
    if (given !== undefined) return given
    const file = join(read(env, ENV.serviceAccountDir) ?? DEFAULT_SERVICEACCOUNT_DIR, "namespace")
    const fromAccount = yield* Effect.orElseSucceed(Effect.try(() => readFileSync(file, "utf8").trim()), () => "")
    return fromAccount === "" ? InCluster.DEFAULT_NAMESPACE : fromAccount
  })

/**
 * Everything before the cluster is touched: the check's name, its input, its plugin, the recipe and the one-check
 * plan — or every problem found, for an inconclusive record.
 */
export const prepare = (name: string | undefined, env: Env, plugins: ReadonlyArray<Validator.AnyValidator> = firstParty) =>
  Effect.gen(function*(): Effect.fn.Return<Prepared> {
    const fromEnv = read(env, ENV.name)
    const check = name ?? fromEnv
    if (check === undefined) return stop([`usage: aicr check <name> (or set ${ENV.name})`])
    const problems: Array<string> = []
    if (name !== undefined && fromEnv !== undefined && name !== fromEnv) {
      problems.push(`the check to run is "${name}" but ${ENV.name} is "${fromEnv}"`)
    }
    const plugin = plugins.find((candidate) => candidate.name === check)
    if (plugin === undefined) problems.push(`unknown check "${check}": this image runs ${plugins.map((known) => known.name).join(", ")}`)

    const path = read(env, ENV.input) ?? `${InCluster.INPUT_MOUNT}/${InCluster.inputKey(check)}`
    const text = yield* Effect.result(Effect.try({ try: () => readFileSync(path, "utf8"), catch: errorText }))
    if (text._tag === "Failure") {
      problems.push(`cannot read the check input ${path} (${ENV.input}): ${text.failure}`)
      return stop(problems)
    }
    const decoded = CheckInput.decode(text.success)
    if (decoded._tag === "Problems") {
      return stop([...problems, `the check input ${path} (${ENV.input}) is not a valid ${CheckInput.KIND}: ${decoded.problems.join("; ")}`])
    }
    const input = decoded.input
    if (input.check !== check) problems.push(`${path}: check is "${input.check}" but this pod runs "${check}"`)
    const phase = read(env, ENV.phase)
    if (phase !== undefined && phase !== input.phase) problems.push(`${path}: phase is "${input.phase}" but ${ENV.phase} is "${phase}"`)
    const runId = read(env, ENV.runId)
    if (runId !== undefined && runId !== input.runId) problems.push(`${path}: runId is "${input.runId}" but ${ENV.runId} is "${runId}"`)
    if (plugin !== undefined && plugin.phase !== input.phase) {
      problems.push(`${path}: phase is "${input.phase}" but ${check} belongs to phase ${plugin.phase}`)
    }
    if (plugin === undefined || problems.length > 0) return stop(problems)

    const missing = (plugin.images ?? []).filter((key) => input.images[key] === undefined)
    if (missing.length > 0) {
      return stop([`${path}: images has no ${missing.map((key) => `"${key}"`).join(", ")} (${check} uses ${plugin.images.join(", ")})`])
    }
    const parsed = Recipe.parseRecipe(input.recipe.text, input.recipe.source)
    if (parsed._tag === "Problems") return stop(parsed.problems.map(Problem.format))
    const planned = Plan.make({
      recipe: parsed.loaded,
      catalog: catalogFor(parsed.loaded.recipe, input.phase),
      plugins: [plugin],
      phases: [input.phase],
      image: { version: BuildInfo.version(), env: {} }
    })
    if (planned._tag === "Problems") return stop(planned.problems.map(Problem.format))
    const found = planned.plan.phases.flatMap((entry) => entry.checks).find((candidate) => candidate.name === check)
    if (found === undefined) {
      return stop([`the recipe ${input.recipe.source} does not declare ${check} under validation.${input.phase}.checks`])
    }
    const one: Plan.PlannedCheck = { ...found, images: input.images, timeoutMs: input.timeoutMs }
    return {
      _tag: "Ready",
      ready: {
        check,
        input,
        plan: { recipe: parsed.loaded, phases: [{ phase: input.phase, checks: [one] }], warnings: planned.plan.warnings },
        namespace: yield* namespaceOf(env)
      }
    }
  })

const inconclusive = (message: string) => CheckRecord.make("inconclusive", message)

/** The run ledger in `AICR_STATE_DIR`, else (or when it cannot be written) in a temporary directory; none when neither works. */
const openLedger = (env: Env, runId: string) =>
  Effect.gen(function*() {
    const wanted = read(env, ENV.stateDir)
    if (wanted !== undefined) {
      const ledger = yield* Ledger.make(wanted)
      const begun = yield* Effect.result(ledger.begin(runId))
      if (begun._tag === "Success") return ledger
      Output.stderr(`warning: ${begun.failure.message}; keeping the run ledger in a temporary directory instead\n`)
    }
    const directory = yield* Effect.result(Effect.tryPromise({ try: () => mkdtemp(join(tmpdir(), "aicr-check-")), catch: errorText }))
    if (directory._tag === "Failure") {
      Output.stderr(`warning: no run ledger (cannot create a temporary directory: ${directory.failure}); the run labels still mark every object\n`)
      return undefined
    }
    const ledger = yield* Ledger.make(directory.success)
    const begun = yield* Effect.result(ledger.begin(runId))
    if (begun._tag === "Success") return ledger
    Output.stderr(`warning: no run ledger (${begun.failure.message}); the run labels still mark every object\n`)
    return undefined
  })

/** Connects with the service account and runs the check; an unusable connection is an inconclusive record. */
const execute = (ready: Ready, env: Env) =>
  Effect.scoped(Effect.gen(function*() {
    const { input } = ready
    const connection = yield* Effect.result(Layer.build(KubeClientLive.layerInCluster()))
    if (connection._tag === "Failure") return inconclusive(`cannot start: ${connection.failure.message}`)
    const kube = Context.get(connection.success, KubeClient)
    const reachable = yield* Effect.result(kube.isServed("v1", "Namespace"))
    if (reachable._tag === "Failure") return inconclusive(`cannot start: cannot use the cluster: ${reachable.failure.message}`)

    const ledger = yield* openLedger(env, input.runId)
    const context = RunContext.make({
      runId: input.runId,
      namespace: ready.namespace,
      nodeSelector: input.nodeSelector,
      tolerations: CheckInput.tolerationsOf(input),
      recorder: ledger === undefined ? RunContext.recordNothing : Ledger.recorder(ledger, input.runId),
      imagePullSecrets: input.imagePullSecrets,
      keep: input.keep
    })
    const layer = Layer.mergeAll(
      Layer.succeed(RunContext.RunContext, context),
      Layer.succeedContext(connection.success),
      Progress.layerLines((line) => Output.stderr(`${line}\n`))
    )
    const results = yield* Ref.make<ReadonlyArray<Runner.CheckResult>>([])
    const finished = yield* Runner.run(ready.plan, { failFast: false, results }).pipe(
      Effect.provide(layer),
      Effect.ensuring(ledger === undefined ? Effect.void : Effect.ignore(ledger.finish(input.runId)))
    )
    const result = finished[0]!
    return CheckRecord.make(result.status, result.message, { metrics: result.metrics, artifacts: result.artifacts })
  }))

/** Prints the record on stdout and writes its compact form to the termination log; returns the exit code. */
const report = (record: CheckRecord.CheckRecord, env: Env) =>
  Effect.gen(function*() {
    Output.stdout(CheckRecord.block(record))
    const path = read(env, ENV.terminationLog) ?? InCluster.TERMINATION_LOG
    const written = yield* Effect.result(Effect.try({ try: () => writeFileSync(path, CheckRecord.compact(record)), catch: errorText }))
    if (written._tag === "Failure") Output.stderr(`warning: cannot write the termination log ${path}: ${written.failure}\n`)
    return CheckRecord.exitCode(record.status)
  })

const signalName = (): { readonly get: () => string | undefined } => {
  let received: string | undefined
  for (const name of ["SIGTERM", "SIGINT"] as const) process.once(name, () => void (received ??= name))
  return { get: () => received }
}

/**
 * Runs `aicr check`: the check named by `name` (else `AICR_VALIDATOR_NAME`) with the input and environment of `env`.
 * Always reports a record — interrupted, crashed or refused too — and sets `process.exitCode` from it, so an
 * interrupted run still exits with 3; the effect returns the exit code.
 */
export const check = (name: string | undefined, env: Env, options: { readonly debug?: boolean | undefined } = {}) =>
  Effect.suspend(() => {
    const signal = signalName()
    let code: number = CheckRecord.EXIT_CODES.inconclusive
    const body: Effect.Effect<CheckRecord.CheckRecord> = Effect.gen(function*() {
      const prepared = yield* prepare(name, env)
      if (prepared._tag === "Stop") {
        const message = `cannot start: ${prepared.problems.join("; ")}`
        Output.stderr(`error: ${prepared.problems.length === 1 ? prepared.problems[0] : `\n${prepared.problems.map((problem) => `  ${problem}`).join("\n")}`}\n`)
        return inconclusive(message)
      }
      const { ready } = prepared
      Output.stderr(Render.warnings(ready.plan.warnings))
      Output.stderr(`aicr check ${ready.check}: run ${ready.input.runId}, namespace ${ready.namespace}, timeout ${Runner.formatDuration(ready.input.timeoutMs)}\n`)
      return yield* execute(ready, env)
    })
    const internalError = (cause: Cause.Cause<never>) => {
      const squashed = Cause.squash(cause)
      const record = inconclusive(`internal error in aicr check: ${squashed instanceof Error ? squashed.message : String(squashed)}`)
      Output.stderr(`${record.message}\n${options.debug === true && squashed instanceof Error ? `${squashed.stack}\n` : ""}`)
      return record
    }
    return body.pipe(
      Effect.catchCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.sync(() => internalError(cause)))),
      Effect.onExit((exit) =>
        Effect.gen(function*() {
          let record: CheckRecord.CheckRecord
          if (Exit.isSuccess(exit)) record = exit.value
          else {
            record = inconclusive(`interrupted${signal.get() === undefined ? "" : ` by ${signal.get()}`} before it finished; its objects were released`)
            Output.stderr(`${record.message}\n`)
          }
          code = yield* report(record, env)
          process.exitCode = code
        })
      ),
      Effect.map(() => code)
    )
  })
