import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as ExitCode from "@aicr/core/ExitCode"
import { CONTRACT_VERSION } from "@aicr/core/Validator"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { Argument, Command, Flag } from "effect/cli"
import { resolve } from "node:path"
import * as BuildInfo from "./BuildInfo.ts"
import * as Output from "./Output.ts"
import * as Render from "./Render.ts"
import type * as Validate from "./Validate.ts"

const many = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.atLeast(0))
const maybe = (flag: Flag.Flag<string>) => flag.pipe(Flag.optional, Flag.map(Option.getOrUndefined))

const validate = Command.make(
  "validate",
  {
    recipe: Flag.String("recipe").pipe(Flag.withAlias("r"), Flag.withDescription("Recipe: a file (YAML or JSON), an http(s) URL, or cm://namespace/name")),
    phase: many("phase", "Phase to run: deployment, performance, conformance or all (repeatable; default all)"),
    dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("Print the plan and stop; changes nothing on the cluster (a cm:// recipe is read)"), Flag.withDefault(false)),
    output: maybe(Flag.String("output").pipe(Flag.withAlias("o"), Flag.withDescription("Write the CTRF JSON report to this file (- for stdout)"))),
    junit: maybe(Flag.String("junit").pipe(Flag.withDescription("Write a JUnit XML report to this file"))),
    catalog: maybe(Flag.String("catalog").pipe(Flag.withDescription("A ValidatorCatalog file merged by name over the embedded catalog"))),
    config: maybe(Flag.String("config").pipe(Flag.withDescription("Plugin config (default: aicr.config.{ts,mjs,js,json} in the current directory)"))),
    kubeconfig: maybe(Flag.String("kubeconfig").pipe(Flag.withAlias("k"), Flag.withDescription("Kubeconfig file (default: KUBECONFIG or ~/.kube/config)"))),
    context: maybe(Flag.String("context").pipe(Flag.withDescription("Kubeconfig context to use"))),
    nodeSelector: many("node-selector", "key=value a GPU workload's node must carry (repeatable)"),
    toleration: many("toleration", "Toleration for the checks' workloads: key=value:Effect, key:Effect, key, :Effect or * (repeatable; default: tolerate all)"),
    keep: Flag.Boolean("keep").pipe(Flag.withDescription("Leave the objects the checks create (for debugging); aicr cleanup --run <ID> --yes removes them"), Flag.withDefault(false)),
    imagePullSecret: many("image-pull-secret", "A Secret in the run's namespace that checks copy into the namespaces they create, for private registries (repeatable)"),
    simulate: maybe(Flag.String("simulate").pipe(Flag.withDescription("Run against a simulated GPU cluster started on loopback: a kube-sim profile (h100-eks, h100-gke, dev) or profile file; every report is marked simulated"))),
    failFast: Flag.Boolean("fail-fast").pipe(Flag.withDescription("Stop after a phase that failed or was inconclusive"), Flag.withDefault(false)),
    runner: maybe(Flag.String("runner").pipe(Flag.withDescription("Where the checks run: local (default, in this process) or in-cluster (one Job per check in --namespace, running the validator image with a per-run least-privilege ClusterRole)"))),
    reportConfigmap: Flag.Boolean("report-configmap").pipe(Flag.withDescription("Also write each phase's CTRF report to ConfigMap aicr-ctrf-<run>-<phase> in the validation namespace"), Flag.withDefault(false)),
    namespace: maybe(Flag.String("namespace").pipe(Flag.withAlias("n"), Flag.withDescription("The in-cluster runner's namespace (default: AICR_NAMESPACE, else aicr-validation)")))
  },
  (input) =>
    Effect.gen(function*() {
      const Validation = yield* Effect.promise(() => import("./Validate.ts"))
      const options: Validate.Options = {
        recipe: input.recipe,
        phases: input.phase,
        dryRun: input.dryRun,
        output: input.output,
        junit: input.junit,
        catalog: input.catalog,
        config: input.config,
        kubeconfig: input.kubeconfig,
        context: input.context,
        nodeSelectors: input.nodeSelector,
        tolerations: input.toleration,
        simulate: input.simulate,
        keep: input.keep,
        imagePullSecrets: input.imagePullSecret,
        failFast: input.failFast,
        runner: input.runner,
        namespace: input.namespace
      }
      const cwd = process.cwd()
      const prepared = yield* Effect.result(Validation.prepare(options, cwd, process.env))
      if (prepared._tag === "Failure") {
        process.exitCode = yield* Validation.reportInputError(prepared.failure)
        return
      }
      const inputs = prepared.success
      Output.stderr(Render.warnings(inputs.plan.warnings))
      if (options.dryRun) {
        Output.stdout(Render.plan(inputs.plan, { ...options, runner: inputs.runner, namespace: inputs.namespace }))
        process.exitCode = ExitCode.Success
        return
      }
      const Run = yield* Effect.promise(() => import("./Run.ts"))
      process.exitCode = yield* Run.run(inputs, {
        failFast: options.failFast,
        kubeconfig: options.kubeconfig === undefined ? undefined : resolve(cwd, options.kubeconfig),
        context: options.context,
        simulate: options.simulate === undefined ? undefined : Validation.resolveProfile(options.simulate, cwd),
        keep: options.keep,
        reportConfigMaps: input.reportConfigmap,
        write: (report) => Validation.writeReports(report, options, cwd)
      })
    })
).pipe(Command.withDescription("Validate a cluster against a recipe: run its checks by phase and report an evidence-backed verdict"))

const cleanup = Command.make(
  "cleanup",
  {
    run: maybe(Flag.String("run").pipe(Flag.withDescription("The run ID whose objects to remove (printed by aicr validate as `run <ID>`)"))),
    stale: Flag.Boolean("stale").pipe(Flag.withDescription("Remove the objects of every run in this machine's ledger whose process is gone"), Flag.withDefault(false)),
    yes: Flag.Boolean("yes").pipe(Flag.withAlias("y"), Flag.withDescription("Delete what was found (without it, only list)"), Flag.withDefault(false)),
    kubeconfig: maybe(Flag.String("kubeconfig").pipe(Flag.withAlias("k"), Flag.withDescription("Kubeconfig file (default: KUBECONFIG or ~/.kube/config)"))),
    context: maybe(Flag.String("context").pipe(Flag.withDescription("Kubeconfig context to use"))),
    timeout: maybe(Flag.String("timeout").pipe(Flag.withDescription("How long to wait for deleted objects to be gone (default 2m)")))
  },
  (input) =>
    Effect.gen(function*() {
      const Cleanup = yield* Effect.promise(() => import("./Cleanup.ts"))
      process.exitCode = yield* Cleanup.cleanup({
        ...input,
        kubeconfig: input.kubeconfig === undefined ? undefined : resolve(process.cwd(), input.kubeconfig)
      })
    })
).pipe(Command.withDescription(
  "Remove what runs left on the cluster (after kill -9, a lost connection or a failed release), found from the run ledger and the aicr.nvidia.com/run-id labels; exit 0 when nothing is left, 1 when something remains, 2 for usage errors"
))

/** Set by a command that reports its own interruption (`check`): the exit code after SIGINT/SIGTERM instead of 130/143. */
let interruptedExitCode: number | undefined

const check = Command.make(
  "check",
  { name: Argument.String("name").pipe(Argument.withDescription("The check to run (default: AICR_VALIDATOR_NAME)"), Argument.optional) },
  (input) =>
    Effect.gen(function*() {
      const Check = yield* Effect.promise(() => import("./Check.ts"))
      interruptedExitCode = Check.INTERRUPTED_EXIT_CODE
      process.exitCode = yield* Check.check(Option.getOrUndefined(input.name), process.env, { debug })
    })
).pipe(Command.withDescription(
  "Run one check inside the cluster, as the validator image's entrypoint (docs/adr/0005): input from AICR_CHECK_INPUT, the in-cluster " +
    "service account only, the outcome record on stdout and in AICR_TERMINATION_LOG; exit 0 passed, 1 failed, 2 skipped, 3 inconclusive"
))

const catalogList = Command.make("list", {}, () =>
  Effect.map(Effect.promise(() => import("./CatalogList.ts")), (CatalogList) => CatalogList.print())).pipe(Command.withDescription("List the checks of the embedded catalog by phase"))

const catalog = Command.make("catalog").pipe(
  Command.withDescription("Inspect the validator catalog"),
  Command.withSubcommands([catalogList])
)

const version = Command.make("version", {}, () =>
  Effect.sync(() => {
    const build = BuildInfo.read()
    Output.stdout(`aicr ${build.version}\nplugin contract ${CONTRACT_VERSION}\n${build.commit === undefined ? "" : `commit ${build.commit}\n`}node ${process.version}\n`)
  })).pipe(Command.withDescription("Print the version"))

const root = Command.make("aicr").pipe(
  Command.withDescription(
    "aicr tells whether a GPU Kubernetes cluster really delivers what its recipe promises.\n\nExit codes:\n" +
      ExitCode.describe().map((entry) => `  ${String(entry.code).padStart(3)}  ${entry.meaning}`).join("\n")
  ),
  Command.withSubcommands([validate, cleanup, catalog, version, check])
)

let signal: "SIGINT" | "SIGTERM" | undefined
process.once("SIGINT", () => (signal = "SIGINT"))
process.once("SIGTERM", () => (signal = "SIGTERM"))

const debug = process.argv.includes("--debug") || process.env["AICR_DEBUG"] === "1"
const argv = process.argv.slice(2).filter((arg) => arg !== "--debug")

const program = Command.runWith(root, { version: BuildInfo.version() })(argv).pipe(
  Effect.catch(() => Effect.sync(() => void (process.exitCode = ExitCode.InvalidInput))),
  Effect.provide(NodeServices.layer)
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit)) return onExit(typeof process.exitCode === "number" ? process.exitCode : 0)
    if (Cause.hasInterruptsOnly(exit.cause)) return onExit(interruptedExitCode ?? ExitCode.fromSignal(signal ?? "SIGINT"))
    const squashed = Cause.squash(exit.cause)
    Output.stderr(`aicr: internal error: ${squashed instanceof Error ? (debug ? squashed.stack : squashed.message) : String(squashed)}\n`)
    if (!debug) Output.stderr("run again with --debug for the stack trace\n")
    onExit(1)
  }
})
