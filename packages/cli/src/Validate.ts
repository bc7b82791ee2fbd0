import * as Catalog from "@aicr/core/Catalog"
import * as Ctrf from "@aicr/core/Ctrf"
import * as ExitCode from "@aicr/core/ExitCode"
import * as Image from "@aicr/core/Image"
import { KubeClient } from "@aicr/core/KubeClient"
import * as KubeClientLive from "@aicr/core/KubeClientLive"
import * as Junit from "@aicr/core/Junit"
import * as Plan from "@aicr/core/Plan"
import * as Problem from "@aicr/core/Problem"
import * as Recipe from "@aicr/core/Recipe"
import * as RunContext from "@aicr/core/RunContext"
import type * as Validator from "@aicr/core/Validator"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import * as BuildInfo from "./BuildInfo.ts"
import { firstParty } from "./FirstParty.ts"
import * as Output from "./Output.ts"
import * as PluginConfig from "./PluginConfig.ts"
import * as Render from "./Render.ts"
import * as Scheduling from "./Scheduling.ts"

export interface Options {
  readonly recipe: string
  readonly phases: ReadonlyArray<string>
  readonly dryRun: boolean
  readonly output?: string | undefined
  readonly junit?: string | undefined
  readonly catalog?: string | undefined
  readonly config?: string | undefined
  readonly kubeconfig?: string | undefined
  readonly context?: string | undefined
  readonly nodeSelectors: ReadonlyArray<string>
  readonly tolerations: ReadonlyArray<string>
  readonly failFast: boolean
  /** A kube-sim profile name or file: run against a simulated cluster started on loopback. */
  readonly simulate?: string | undefined
  readonly keep?: boolean | undefined
  readonly imagePullSecrets?: ReadonlyArray<string> | undefined
  /** `--runner`: `local` (default) or `in-cluster`. */
  readonly runner?: string | undefined
  /** `--namespace`: the validation namespace of the in-cluster runner (default `AICR_NAMESPACE`, else `aicr-validation`). */
  readonly namespace?: string | undefined
}

/** Where the checks run. */
export type RunnerKind = "local" | "in-cluster"

export const RUNNERS: ReadonlyArray<RunnerKind> = ["local", "in-cluster"]

/** The in-cluster runner's namespace when neither `--namespace` nor `AICR_NAMESPACE` names one (upstream's). */
export const DEFAULT_NAMESPACE = "aicr-validation"

export interface Inputs {
  readonly plan: Plan.Plan
  /** The run ID given in `AICR_RUN_ID` (a run continued elsewhere), else one is generated when the run starts. */
  readonly runId: string | undefined
  readonly imagePullSecrets: ReadonlyArray<string>
  readonly nodeSelector: Readonly<Record<string, string>>
  readonly tolerations: ReturnType<typeof Scheduling.parseTolerations>["tolerations"]
  readonly build: BuildInfo.BuildInfo
  readonly runner: RunnerKind
  /** The in-cluster runner's validation namespace. */
  readonly namespace: string
}

/** Reads `cm://` recipes through a connection made from `--kubeconfig` / `--context` for the one read. */
const clusterConfigMaps = (options: Pick<Options, "kubeconfig" | "context">, cwd: string): Recipe.ConfigMapReader => (namespace, name) =>
  Effect.scoped(Effect.gen(function*() {
    const connection = yield* Layer.build(
      KubeClientLive.layerFromKubeconfig({ kubeconfig: options.kubeconfig === undefined ? undefined : resolve(cwd, options.kubeconfig), context: options.context })
    ).pipe(Effect.mapError((error) => ({ reason: "Config", message: error.message })))
    return yield* Recipe.configMapReader(Context.get(connection, KubeClient))(namespace, name)
  }))

/** A profile name as is; a path (anything with a slash or a .yaml/.yml suffix) resolved against `cwd`. */
export const resolveProfile = (profile: string, cwd: string): string => (/[\\/]|\.ya?ml$/.test(profile) ? resolve(cwd, profile) : profile)

/** `--simulate` excludes a real connection, and its profile must load (kube-sim is imported only here and in runs). */
const simulationProblems = (options: Options, cwd: string) =>
  Effect.gen(function*() {
    const problems: Array<Problem.Problem> = []
    if (options.kubeconfig !== undefined || options.context !== undefined) {
      problems.push({ source: "--simulate", message: "runs against a simulated cluster; it cannot be combined with --kubeconfig or --context" })
    }
    const Sim = yield* Effect.promise(() => import("@aicr/kube-sim"))
    const loaded = yield* Effect.result(Effect.try({ try: () => Sim.loadProfile(resolveProfile(options.simulate!, cwd)), catch: (error) => error }))
    if (loaded._tag === "Failure") {
      if (!(loaded.failure instanceof Sim.ProfileError)) return yield* Effect.die(loaded.failure)
      problems.push({ source: "--simulate", message: loaded.failure.message })
    }
    return problems
  })

const byLine = (a: Problem.Problem, b: Problem.Problem) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0)

const inputErrors = (problems: ReadonlyArray<Problem.Problem>) => new Problem.InputError({ problems })

/**
 * Everything `validate` needs before touching a cluster, or every input problem at once: flags, recipe,
 * catalog, plugin config, check selection and constraint decoding.
 */
export const prepare = (options: Options, cwd: string, env: NodeJS.ProcessEnv) =>
  Effect.gen(function*() {
    const problems: Array<Problem.Problem> = []
    const phases = Plan.parsePhases(options.phases)
    problems.push(...phases.problems)
    const selector = Scheduling.parseNodeSelectors(options.nodeSelectors)
    problems.push(...selector.problems)
    const tolerations = Scheduling.parseTolerations(options.tolerations)
    problems.push(...tolerations.problems)
    problems.push(...Image.envProblems(env))
    const givenRunId = env[RunContext.ENV_RUN_ID]
    const runId = givenRunId === undefined || givenRunId === "" ? undefined : givenRunId
    if (runId !== undefined && !RunContext.isRunId(runId)) {
      problems.push({ source: RunContext.ENV_RUN_ID, message: `"${runId}" is not a run ID: expected YYYYMMDD-HHMMSS-<16 hex>, e.g. 20260422-145927-2e674d7ee93860ac` })
    }
    for (const [flag, file] of [["--kubeconfig", options.kubeconfig], ["--output", options.output], ["--junit", options.junit]] as const) {
      if (file === undefined || file === "-") continue
      const path = resolve(cwd, file)
      if (flag === "--kubeconfig" ? !existsSync(path) : !existsSync(dirname(path))) {
        problems.push({ source: flag, message: flag === "--kubeconfig" ? `kubeconfig file not found: ${file}` : `directory of ${file} does not exist` })
      } else if (flag !== "--kubeconfig" && existsSync(path) && statSync(path).isDirectory()) {
        problems.push({ source: flag, message: `${file} is a directory: give the path of the report file to write` })
      }
    }

    const runner = options.runner ?? "local"
    if (!RUNNERS.includes(runner as RunnerKind)) {
      problems.push({ source: "--runner", message: `"${runner}" is not a runner: use ${RUNNERS.join(" or ")}` })
    }
    const namespace = options.namespace ?? (env["AICR_NAMESPACE"] === undefined || env["AICR_NAMESPACE"] === "" ? DEFAULT_NAMESPACE : env["AICR_NAMESPACE"])
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) {
      problems.push({ source: options.namespace === undefined ? "AICR_NAMESPACE" : "--namespace", message: `"${namespace}" is not a namespace name (a DNS-1123 label)` })
    }
    for (const secret of options.imagePullSecrets ?? []) {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(secret) || secret.length > 253) {
        problems.push({ source: "--image-pull-secret", message: `"${secret}" is not a Secret name (a DNS-1123 subdomain)` })
      }
    }
    if (options.simulate !== undefined) problems.push(...(yield* simulationProblems(options, cwd)))
    const recipe = yield* Recipe.loadWithProblems(options.recipe, {
      readConfigMap: options.simulate === undefined ? clusterConfigMaps(options, cwd) : undefined
    })

    let catalog = Catalog.embedded()
    if (options.catalog !== undefined) {
      const extra = yield* Effect.result(Catalog.loadCatalogFile(resolve(cwd, options.catalog)))
      if (extra._tag === "Failure") problems.push(...extra.failure.problems)
      else catalog = Catalog.merge(catalog, extra.success)
    }

    const config = yield* PluginConfig.load(PluginConfig.find(options.config, cwd))
    problems.push(...config.problems)
    const plugins: Array<Validator.AnyValidator> = [...firstParty]
    for (const plugin of config.plugins) {
      if (plugins.some((known) => known.name === plugin.name)) {
        problems.push({ source: config.file, message: `plugin "${plugin.name}" is registered twice (a plugin of that name is already installed)` })
      } else plugins.push(plugin)
    }

    const build = BuildInfo.read(env)
    if (recipe.loaded === undefined) return yield* Effect.fail(inputErrors([...recipe.problems, ...problems]))
    const planned = Plan.make({
      recipe: recipe.loaded,
      catalog,
      plugins,
      phases: phases.phases,
      image: { version: build.version, commit: build.commit, env }
    })
    const recipePaths = new Set(recipe.problems.map((problem) => problem.path))
    const planProblems = planned._tag === "Problems" ? planned.problems.filter((problem) => !recipePaths.has(problem.path)) : []
    const all = [...recipe.problems, ...planProblems].sort(byLine).concat(problems)
    if (planned._tag === "Problems" || all.length > 0) return yield* Effect.fail(inputErrors(all))
    return {
      plan: planned.plan,
      runId,
      imagePullSecrets: options.imagePullSecrets ?? [],
      nodeSelector: selector.selector,
      tolerations: tolerations.tolerations,
      build,
      runner: runner as RunnerKind,
      namespace
    } satisfies Inputs
  })

/** Writes the CTRF and JUnit reports the user asked for. */
export const writeReports = (report: Ctrf.Report, options: Pick<Options, "output" | "junit">, cwd: string) =>
  Effect.sync(() => {
    const written: Array<string> = []
    if (options.output === "-") Output.stdout(Ctrf.toJson(report) + "\n")
    else if (options.output !== undefined) {
      const path = resolve(cwd, options.output)
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, Ctrf.toJson(report) + "\n")
      written.push(path)
    }
    if (options.junit !== undefined) {
      const path = resolve(cwd, options.junit)
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, Junit.toJunitXml(report) + "\n")
      written.push(path)
    }
    return written
  })

/** Exit code and rendering of input problems. */
export const reportInputError = (error: Problem.InputError) =>
  Effect.sync(() => {
    Output.stderr(Render.problems(error.problems))
    return ExitCode.InvalidInput
  })
