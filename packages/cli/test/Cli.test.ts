import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bundledCrds, type Sim, startSim } from "@aicr/kube-sim"
import { COMMIT, fixture, runCli, runCliSync, startCli, useCluster } from "./support/cli.ts"
import type { CliResult } from "./support/cli.ts"

const NEWER = fixture("recipes", "newer-693a7f8f--h100-gke-cos-inference-dynamo.yaml")
const EKS = fixture("recipes", "v0.11.1--h100-eks-ubuntu-training.yaml")
const PLUGINS_DIR = fixture("config-plugins")
const PLUGINS = fixture("config-plugins", "aicr.config.mjs")
const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version
const NO_GPU = "no GPU node can run the benchmark:\nno node advertises nvidia.com/gpu (allocatable or gpu.nvidia.com ResourceSlices)"

let tmp = ""
let sim: Sim
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "aicr-cli-test-"))
  sim = await startSim()
  sim.seed([...bundledCrds("dynamo"), ...bundledCrds("kubeflow-trainer-v2.2.0")])
  useCluster(sim.kubeconfigPath, join(tmp, "state"))
})
afterAll(async () => {
  await sim.stop()
  rmSync(tmp, { recursive: true, force: true })
})

/** A fresh file name in this run's temporary directory. */
let counter = 0
const temp = (name: string) => join(tmp, `${++counter}-${name}`)

interface CtrfTest {
  readonly name: string
  readonly status: string
  readonly message: string
  readonly suite: ReadonlyArray<string>
  readonly extra?: Record<string, unknown>
}
interface Ctrf {
  readonly results: {
    readonly summary: Record<string, number>
    readonly tests: ReadonlyArray<CtrfTest>
    readonly environment: { readonly extra: Record<string, unknown> }
  }
}
const readCtrf = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Ctrf
const testNamed = (report: Ctrf, name: string) => report.results.tests.find((test) => test.name === name)

/** An input error: exit 2, nothing on stdout, a counted heading, and no stack trace. */
const expectInputError = (result: CliResult, count: number) => {
  expect(result.status).toBe(2)
  expect(result.stdout).toBe("")
  expect(result.stderr).toContain(`error: ${count} problem${count === 1 ? "" : "s"} in the input; nothing was changed on the cluster\n`)
  expect(result.stderr).not.toContain("    at ")
}

describe.concurrent("aicr validate --dry-run", () => {
  it("plans inference-perf of the newer GKE Dynamo recipe with its images and located constraints", async () => {
    const result = await runCli(["validate", "-r", NEWER, "--phase", "performance", "--dry-run"])
    expect(result.status).toBe(0)
    const lines = result.stdout.split("\n")
    expect(lines[0]).toBe("aicr validate --dry-run: the plan (nothing is run and nothing is changed on the cluster)")
    expect(lines).toContain(`recipe: ${NEWER} (RecipeMetadata aicr.run/v1beta1, h100-gke-cos-inference-dynamo)`)
    expect(lines).toContain("phases: performance")
    expect(lines).toContain("phase performance: 1 check, 1 to run")
    expect(lines).toContain("  inference-perf — run")
    expect(lines).toContain("    timeout 1h5m, exclusive: gpu")
    expect(lines).toContain(`      validator  ghcr.io/aicr-project/aicr-validator:sha-${COMMIT}  (pull IfNotPresent)`)
    expect(lines).toContain("      frontend   nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.2.1  (pull IfNotPresent)")
    expect(lines).toContain("      worker     nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.2.1  (pull IfNotPresent)")
    expect(lines).toContain(`      aiperf     ghcr.io/aicr-project/aiperf-bench:sha-${COMMIT}  (pull IfNotPresent)`)
    expect(lines).toContain("      inference-model Qwen/Qwen3-8B  (spec.validation.performance.constraints[0].value, line 104)")
    expect(lines).toContain("      inference-concurrency-per-gpu 256  (spec.validation.performance.constraints[1].value, line 106)")
    expect(lines).toContain("      inference-routing-mode dynamo-router  (spec.validation.performance.constraints[2].value, line 108)")
    expect(lines).toContain("      inference-throughput >= 50000  (spec.validation.performance.constraints[3].value, line 110)")
    expect(lines).toContain("      inference-ttft-p99 <= 2000  (spec.validation.performance.constraints[4].value, line 112)")
    expect(lines).toContain("      nvidia.com: dynamographdeployments [create get list watch delete]")
    expect(result.stdout).not.toContain("phase conformance")
    expect(result.stdout).not.toContain("warning")
    expect(result.stderr).toBe(
      `warning: ${NEWER}:23:3: spec.base: overlay "h100-gke-cos-inference-dynamo" inherits from base "h100-gke-cos-inference", ` +
        "which is not resolved here; only this overlay's own fields are used — run `aicr recipe` upstream to produce a resolved RecipeResult\n"
    )
  })

  it("moves every image to AICR_VALIDATOR_IMAGE_REGISTRY", async () => {
    const result = await runCli(["validate", "-r", NEWER, "--phase", "performance", "--dry-run"], { env: { AICR_VALIDATOR_IMAGE_REGISTRY: "localhost:5001" } })
    expect(result.status).toBe(0)
    const lines = result.stdout.split("\n")
    expect(lines).toContain(`      validator  localhost:5001/aicr-validator:sha-${COMMIT}  (pull IfNotPresent)`)
    expect(lines).toContain("      frontend   localhost:5001/nvidia/ai-dynamo/vllm-runtime:1.2.1  (pull IfNotPresent)")
    expect(lines).toContain("      worker     localhost:5001/nvidia/ai-dynamo/vllm-runtime:1.2.1  (pull IfNotPresent)")
    expect(lines).toContain(`      aiperf     localhost:5001/aiperf-bench:sha-${COMMIT}  (pull IfNotPresent)`)
    expect(result.stdout).not.toContain("ghcr.io")
    expect(result.stdout).not.toContain("nvcr.io")
    expect(result.stderr).toContain("which is not resolved here")
  })

  it("forces AICR_VALIDATOR_IMAGE_TAG on our images only, and pulls them Always", async () => {
    const result = await runCli(["validate", "-r", NEWER, "--phase", "performance", "--dry-run"], { env: { AICR_VALIDATOR_IMAGE_TAG: "v9.9.9" } })
    expect(result.status).toBe(0)
    const lines = result.stdout.split("\n")
    expect(lines).toContain("      validator  ghcr.io/aicr-project/aicr-validator:v9.9.9  (pull Always)")
    expect(lines).toContain("      frontend   nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.2.1  (pull IfNotPresent)")
    expect(lines).toContain("      aiperf     ghcr.io/aicr-project/aiperf-bench:v9.9.9  (pull Always)")
  })

  it("tags our images with the checkout's commit when AICR_COMMIT is not set", async () => {
    const result = await runCli(["validate", "-r", NEWER, "--phase", "performance", "--dry-run"], { env: { AICR_COMMIT: undefined } })
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/^ {6}validator {2}ghcr\.io\/aicr-project\/aicr-validator:sha-[0-9a-f]{40} {2}\(pull IfNotPresent\)$/m)
  })

  it("plans nccl-all-reduce-bw of the v0.11.1 EKS training recipe with its >= 300 threshold", async () => {
    const result = await runCli(["validate", "-r", EKS, "--phase", "performance", "--dry-run"])
    expect(result.status).toBe(0)
    const lines = result.stdout.split("\n")
    expect(lines).toContain("  nccl-all-reduce-bw — run")
    expect(lines).toContain("    timeout 30m, exclusive: gpu")
    expect(lines).toContain("      runtime      public.ecr.aws/hpc-cloud/nccl-tests:cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9  (pull IfNotPresent)")
    expect(lines).toContain("      runtime-gke  nvcr.io/nvidia/pytorch:25.06-py3  (pull IfNotPresent)")
    expect(lines).toContain("      probe        busybox:1.37  (pull IfNotPresent)")
    expect(lines).toContain("      nccl-all-reduce-bw >= 300  (spec.validation.performance.constraints[0].value, line 60)")
    expect(lines).toContain(
      "    requires: constraint nccl-all-reduce-bw in the recipe; TrainJob (trainer.kubeflow.org/v1alpha1) served by the cluster, " +
        "else skipped: the recipe does not declare kubeflow-trainer (checked when the check runs)"
    )
    expect(lines).toContain("      trainer.kubeflow.org: trainjobs, trainingruntimes [create get list watch delete]")
  })

  it("plans every phase by default, skipping catalog checks that have no plugin", async () => {
    const result = await runCli(["validate", "-r", NEWER, "--dry-run"])
    expect(result.status).toBe(0)
    const lines = result.stdout.split("\n")
    expect(lines).toContain("phases: deployment → performance → conformance")
    expect(lines).toContain("phase deployment: 4 checks, 0 to run")
    expect(lines).toContain("  operator-health — skip: no plugin for this check")
    expect(lines).toContain("phase performance: 1 check, 1 to run")
    expect(lines).toContain("phase conformance: 11 checks, 0 to run")
    expect(lines).toContain("  secure-accelerator-access — skip: no plugin for this check")
  })

  it("only warns about names in phases that were not requested", async () => {
    const recipe = fixture("recipes", "conformance-typo.yaml")
    const result = await runCli(["validate", "-r", recipe, "--phase", "performance", "--dry-run"])
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("  nccl-all-reduce-bw — run\n")
    expect(result.stderr).toBe(
      `warning: ${recipe}:17:11: spec.validation.conformance.checks[0]: check "dra-suport" matches no validator in the catalog ` +
        `(did you mean "dra-support"?) (phase conformance not requested; ignored)\n`
    )
  })

  it("refuses the same misspelt name when its phase is requested", async () => {
    const recipe = fixture("recipes", "conformance-typo.yaml")
    const result = await runCli(["validate", "-r", recipe, "--phase", "conformance", "--dry-run"])
    expectInputError(result, 1)
    expect(result.stderr).toContain(`${recipe}:17:11: spec.validation.conformance.checks[0]: check "dra-suport" matches no validator in the catalog (did you mean "dra-support"?)\n`)
  })
})

describe.concurrent("aicr validate: input problems, all at once, exit 2", () => {
  it("names a misspelt check and a duplicate with their YAML paths and lines", async () => {
    const recipe = fixture("recipes", "invalid-typo-and-duplicate.yaml")
    const result = await runCli(["validate", "-r", recipe, "--phase", "performance"])
    expectInputError(result, 2)
    expect(result.stderr.split("\n")).toEqual([
      "error: 2 problems in the input; nothing was changed on the cluster",
      `  ${recipe}:13:11: spec.validation.performance.checks[0]: check "inference-pref" matches no validator in the catalog (did you mean "inference-perf"?)`,
      `  ${recipe}:15:11: spec.validation.performance.checks[2]: check "nccl-all-reduce-bw" is declared more than once (first at checks[1])`,
      ""
    ])
  })

  it("prints three independent problems of one recipe", async () => {
    const recipe = fixture("recipes", "invalid-three-problems.yaml")
    const result = await runCli(["validate", "-r", recipe, "--phase", "performance", "--dry-run"])
    expectInputError(result, 3)
    const lines = result.stderr.split("\n")
    expect(lines).toHaveLength(5)
    expect(lines[1]).toBe(`  ${recipe}:14:11: spec.validation.performance.checks[1]: check "operator-health" belongs to phase deployment, not performance (found under phase: deployment)`)
    expect(lines[2]).toBe(
      `  ${recipe}:17:11: spec.validation.performance.constraints[0].value: inference-perf: constraint "inference-throughput" is "<= 50000" ` +
        `but it must be a minimum (higher is better): use ">= 50000"`
    )
    expect(lines[3]).toBe(`  ${recipe}:19:11: spec.validation.performance.constraints[1].value: inference-perf: constraint "inference-concurrency-per-gpu" must be a positive whole number (got "many")`)
  })

  it("adds flag problems to the recipe's problems", async () => {
    const recipe = fixture("recipes", "invalid-three-problems.yaml")
    const result = await runCli(["validate", "-r", recipe, "--phase", "performance", "--node-selector", "foo", "--dry-run"])
    expectInputError(result, 4)
    expect(result.stderr).toContain('  --node-selector: "foo" is not key=value with a valid label key and value (e.g. nodeGroup=gpu)\n')
  })

  it("refuses an invalid phase", async () => {
    const result = await runCli(["validate", "-r", EKS, "--phase", "readiness"])
    expectInputError(result, 1)
    expect(result.stderr).toContain('  --phase: invalid phase "readiness": must be one of: deployment, performance, conformance, all\n')
  })

  it("refuses a malformed --node-selector and --toleration, naming each flag", async () => {
    const result = await runCli(["validate", "-r", EKS, "--node-selector", "foo", "--toleration", "a=b:Never", "--dry-run"])
    expectInputError(result, 2)
    expect(result.stderr).toContain('  --node-selector: "foo" is not key=value with a valid label key and value (e.g. nodeGroup=gpu)\n')
    expect(result.stderr).toContain(
      '  --toleration: "a=b:Never" is not a toleration: use key=value:Effect, key:Effect, key=value, key, :Effect or * ' +
        "(Effect one of NoSchedule, PreferNoSchedule, NoExecute)\n"
    )
  })

  it("accepts well-formed scheduling flags", async () => {
    const result = await runCli([
      "validate", "-r", EKS, "--phase", "performance", "--dry-run",
      "--node-selector", "nodeGroup=gpu", "--node-selector", "nvidia.com/gpu.present=true",
      "--toleration", "nvidia.com/gpu:NoSchedule", "--toleration", "*"
    ])
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("  nccl-all-reduce-bw — run\n")
  })

  it("says a recipe file is not found", async () => {
    const result = await runCli(["validate", "-r", "no-such-recipe.yaml"])
    expectInputError(result, 1)
    expect(result.stderr).toContain("  recipe file not found: no-such-recipe.yaml\n")
  })

  it("gives the line of malformed YAML", async () => {
    const recipe = fixture("recipes", "malformed.yaml")
    const result = await runCli(["validate", "-r", recipe, "--dry-run"])
    expectInputError(result, 1)
    expect(result.stderr).toMatch(new RegExp(`^ {2}${recipe.replaceAll(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:\\d+:\\d+: `, "m"))
    expect(result.stderr).toContain(`${recipe}:9:`)
  })

  it("checks the report and kubeconfig paths and the --catalog file before anything runs", async () => {
    const result = await runCli([
      "validate", "-r", EKS, "-o", "/no-such-dir/out.json", "--junit", tmp, "-k", "/no-such-kubeconfig", "--catalog", "no-such-catalog.yaml"
    ])
    expectInputError(result, 4)
    expect(result.stderr).toContain("  --kubeconfig: kubeconfig file not found: /no-such-kubeconfig\n")
    expect(result.stderr).toContain("  --output: directory of /no-such-dir/out.json does not exist\n")
    expect(result.stderr).toContain(`  --junit: ${tmp} is a directory: give the path of the report file to write\n`)
    expect(result.stderr).toContain(`${fixture("no-such-catalog.yaml")}: cannot read the validator catalog: ENOENT`)
  })

  it("refuses an invalid AICR_VALIDATOR_IMAGE_REGISTRY", async () => {
    const result = await runCli(["validate", "-r", EKS, "--dry-run"], { env: { AICR_VALIDATOR_IMAGE_REGISTRY: "https://registry.example.com" } })
    expectInputError(result, 1)
    expect(result.stderr).toContain('  AICR_VALIDATOR_IMAGE_REGISTRY: "https://registry.example.com" is not a registry')
  })

  it("exits 2 with the usage when --recipe is missing", async () => {
    const result = await runCli(["validate"])
    expect(result.status).toBe(2)
    expect(result.stderr).toContain("Missing required flag: --recipe")
    expect(result.stderr).not.toContain("    at ")
  })

  it("exits 2 on an unknown flag", async () => {
    const result = await runCli(["validate", "-r", EKS, "--bogus"])
    expect(result.status).toBe(2)
    expect(result.stderr).toContain("Unrecognized flag: --bogus")
    expect(result.stderr).not.toContain("    at ")
  })

  it("exits 2 on an unknown subcommand", async () => {
    const result = await runCli(["bogus"])
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('Unknown subcommand "bogus" for "aicr"')
    expect(result.stderr).not.toContain("    at ")
  })
})

describe.concurrent("aicr validate: first-party checks without a cluster are inconclusive (exit 9)", () => {
  it("inference-perf on a cluster without GPU nodes: CTRF other with the reason, JUnit error", async () => {
    const out = temp("out.json")
    const junit = temp("junit.xml")
    const result = await runCli(["validate", "-r", NEWER, "--phase", "performance", "-o", out, "--junit", junit])
    expect(result.status).toBe(9)
    expect(result.stdout).toBe("")
    const report = readCtrf(out)
    expect(report.results.summary).toMatchObject({ tests: 1, passed: 0, failed: 0, skipped: 0, other: 1 })
    const test = testNamed(report, "inference-perf")!
    expect(test.status).toBe("other")
    expect(test.suite).toEqual(["performance"])
    expect(test.message).toBe(NO_GPU)
    const xml = readFileSync(junit, "utf8")
    expect(xml).toContain('<testsuites name="aicr" tests="1" failures="0" errors="1" skipped="0"')
    expect(xml).toContain(`<error message="no GPU node can run the benchmark:&#10;no node advertises nvidia.com/gpu (allocatable or gpu.nvidia.com ResourceSlices)"/>`)
    expect(result.stderr).toContain("  INCONCLUSIVE performance/inference-perf: no GPU node can run the benchmark:")
    expect(result.stderr).toContain("0 passed, 0 failed, 0 skipped, 1 inconclusive\n")
    expect(result.stderr).toContain(`wrote ${out}\nwrote ${junit}\n`)
  })

  it("nccl-all-reduce-bw of the v0.11.1 EKS recipe on a cluster without GPU nodes: skipped; with -o - stdout is the CTRF and nothing else", async () => {
    const result = await runCli(["validate", "-r", EKS, "--phase", "performance", "-o", "-"])
    expect(result.status).toBe(0)
    const report = JSON.parse(result.stdout) as Ctrf
    expect(report.results.tests).toHaveLength(1)
    const test = testNamed(report, "nccl-all-reduce-bw")!
    expect(test.status).toBe("skipped")
    expect(test.message).toMatch(/^requires at least 2 GPU nodes of one shape for the east-west fabric test, found 0/)
    expect(report.results.environment.extra["runId"]).toMatch(/^\d{8}-\d{6}-[0-9a-f]{16}$/)
    expect(result.stderr).toContain(`run ${String(report.results.environment.extra["runId"])}\n`)
    expect(result.stderr).toContain("  nccl-all-reduce-bw: started\n")
    expect(result.stderr).not.toContain("wrote")
  })

  it("every phase of the newer recipe: checks without a plugin are skipped, inference-perf inconclusive", async () => {
    const out = temp("all.json")
    const result = await runCli(["validate", "-r", NEWER, "-o", out])
    expect(result.status).toBe(9)
    const report = readCtrf(out)
    expect(report.results.summary).toMatchObject({ tests: 16, passed: 0, failed: 0, skipped: 15, other: 1 })
    expect(testNamed(report, "operator-health")).toMatchObject({ status: "skipped", message: "no plugin for this check", suite: ["deployment"] })
  })
})

describe.concurrent("aicr version, help and catalog", () => {
  it("--version prints the package version", () => {
    const result = runCliSync(["--version"])
    expect(result.status).toBe(0)
    expect(result.stdout).toBe(`${VERSION}\n`)
    expect(result.stderr).toBe("")
  })

  it("-v prints the package version", async () => {
    const result = await runCli(["-v"])
    expect(result.status).toBe(0)
    expect(result.stdout).toBe(`${VERSION}\n`)
  })

  it("version prints the version, the plugin contract, the commit and Node", async () => {
    const result = await runCli(["version"])
    expect(result.status).toBe(0)
    expect(result.stdout).toBe(`aicr ${VERSION}\nplugin contract 1\ncommit ${COMMIT}\nnode ${process.version}\n`)
  })

  it("--help lists the commands and the exit codes", async () => {
    const result = await runCli(["--help"])
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/^ {2}validate {4}Validate a cluster against a recipe/m)
    expect(result.stdout).toMatch(/^ {2}catalog {5}Inspect the validator catalog$/m)
    expect(result.stdout).toContain("    9  no check failed, but at least one could not determine a verdict\n")
    expect(result.stdout).toContain("  143  terminated by SIGTERM, after cleanup\n")
  })

  it("validate --help lists its flags", async () => {
    const result = await runCli(["validate", "--help"])
    expect(result.status).toBe(0)
    for (const flag of ["--recipe, -r", "--phase", "--dry-run", "--output, -o", "--junit", "--catalog", "--config", "--node-selector", "--toleration", "--fail-fast"]) {
      expect(result.stdout).toContain(`  ${flag} `)
    }
  })

  it("catalog list lists every phase and its checks", async () => {
    const result = await runCli(["catalog", "list"])
    expect(result.status).toBe(0)
    const lines = result.stdout.split("\n")
    const at = (text: string) => lines.indexOf(text)
    expect(at("deployment")).toBe(0)
    expect(at("performance")).toBeGreaterThan(at("deployment"))
    expect(at("conformance")).toBeGreaterThan(at("performance"))
    const row = (name: string) => lines.findIndex((line) => line.startsWith(`  ${name} `))
    expect(row("operator-health")).toBeGreaterThan(at("deployment"))
    expect(row("operator-health")).toBeLessThan(at("performance"))
    expect(row("nccl-all-reduce-bw")).toBeGreaterThan(at("performance"))
    expect(row("inference-perf")).toBeGreaterThan(at("performance"))
    expect(row("inference-perf")).toBeLessThan(at("conformance"))
    expect(row("dra-support")).toBeGreaterThan(at("conformance"))
    expect(lines[row("inference-perf")]).toMatch(/^ {2}inference-perf +Dynamo inference throughput and TTFT p99/)
  })
})

describe.concurrent("plugins from aicr.config", () => {
  const THIRD_PARTY = fixture("recipes", "third-party.yaml")

  it("finds aicr.config.mjs in the working directory and plans its plugin", async () => {
    const result = await runCli(["validate", "-r", THIRD_PARTY, "--phase", "conformance", "--dry-run"], { cwd: PLUGINS_DIR })
    expect(result.status).toBe(0)
    const lines = result.stdout.split("\n")
    expect(lines).toContain("phase conformance: 1 check, 1 to run")
    expect(lines).toContain("  verdict-check — run")
    expect(lines).toContain("    Test plugin: reports the verdict named by AICR_TEST_VERDICT")
    expect(lines).toContain("    timeout 1m")
    expect(lines).toContain(`      validator  ghcr.io/aicr-project/aicr-validator:sha-${COMMIT}  (pull IfNotPresent)`)
    expect(lines).toContain("    constraints: none declared")
  })

  it("without a config the same recipe names an unknown check", async () => {
    const result = await runCli(["validate", "-r", THIRD_PARTY, "--phase", "conformance", "--dry-run"])
    expectInputError(result, 1)
    expect(result.stderr).toContain(`${THIRD_PARTY}:8:9: validation.conformance.checks[0]: check "verdict-check" matches no validator in the catalog\n`)
  })

  it("runs a passing third-party plugin: exit 0, its metrics in the CTRF", async () => {
    const out = temp("pass.json")
    const result = await runCli(["validate", "-r", THIRD_PARTY, "--phase", "conformance", "-o", out], { cwd: PLUGINS_DIR, env: { AICR_TEST_VERDICT: "passed" } })
    expect(result.status).toBe(0)
    expect(result.stderr).toContain("  verdict-check: counting widgets\n")
    const test = testNamed(readCtrf(out), "verdict-check")!
    expect(test).toMatchObject({ status: "passed", message: "42 widgets meet the threshold >= 40", suite: ["conformance"] })
    expect(test.extra).toEqual({ widgets: { value: 42, unit: "count", threshold: ">= 40", passed: true } })
  })

  it("runs a failing third-party plugin: exit 8", async () => {
    const out = temp("fail.json")
    const result = await runCli(["validate", "-r", THIRD_PARTY, "--phase", "conformance", "-o", out, "--config", PLUGINS], { env: { AICR_TEST_VERDICT: "failed" } })
    expect(result.status).toBe(8)
    expect(testNamed(readCtrf(out), "verdict-check")).toMatchObject({ status: "failed", message: "12 widgets, below the threshold >= 40" })
    expect(result.stderr).toContain("  FAIL         conformance/verdict-check: 12 widgets, below the threshold >= 40\n")
  })

  it("loads aicr.config.json with a module specifier relative to it", async () => {
    const dir = fixture("config-json")
    const dry = runCli(["validate", "-r", THIRD_PARTY, "--phase", "conformance", "--dry-run"], { cwd: dir })
    const real = runCli(["validate", "-r", THIRD_PARTY, "--phase", "conformance", "-o", "-"], { cwd: dir })
    const [planned, ran] = await Promise.all([dry, real])
    expect(planned.status).toBe(0)
    expect(planned.stdout).toContain("  verdict-check — run\n")
    expect(ran.status).toBe(0)
    expect(testNamed(JSON.parse(ran.stdout) as Ctrf, "verdict-check")?.status).toBe("passed")
  })

  it("names a config module that cannot be found", async () => {
    const config = fixture("config-missing", "aicr.config.mjs")
    const result = await runCli(["validate", "-r", THIRD_PARTY, "--config", config, "--dry-run"])
    expectInputError(result, 3)
    expect(result.stderr).toContain(
      `  ${config}: plugins[0]: plugin module "./no-such-plugin.mjs" could not be resolved: no such file: ${fixture("config-missing", "no-such-plugin.mjs")}\n`
    )
    expect(result.stderr).toContain(`  ${config}: plugins[1]: plugin module "aicr-plugin-no-such-package" could not be resolved: Cannot find module 'aicr-plugin-no-such-package'\n`)
    expect(result.stderr).toContain('check "verdict-check" matches no validator in the catalog')
  })

  it("refuses entries that are not plugins", async () => {
    const config = fixture("config-not-plugin", "aicr.config.mjs")
    const result = await runCli(["validate", "-r", EKS, "--config", config, "--dry-run"])
    expectInputError(result, 3)
    expect(result.stderr).toContain(
      `  ${config}: plugins[0]: plugin module "./not-a-plugin.mjs" is not a validator plugin (got an object; make it with defineValidator from @aicr/core/Validator)\n`
    )
    expect(result.stderr).toContain(`  ${config}: plugins[1]: the entry is not a validator plugin (got number; make it with defineValidator from @aicr/core/Validator)\n`)
    expect(result.stderr).toContain(`  ${config}: plugins[2]: the entry was built for plugin contract 2; this aicr implements contract 1\n`)
  })

  it("refuses a plugin that takes the name of a first-party one", async () => {
    const config = fixture("config-duplicate", "aicr.config.mjs")
    const result = await runCli(["validate", "-r", fixture("recipes", "duplicate-first-party.yaml"), "--config", config, "--dry-run"])
    expectInputError(result, 1)
    expect(result.stderr).toContain(`  ${config}: plugin "inference-perf" is registered twice (a plugin of that name is already installed)\n`)
  })

  it("refuses a package specifier that resolves to a first-party plugin", async () => {
    const config = fixture("config-bare-specifier", "aicr.config.json")
    const result = await runCli(["validate", "-r", EKS, "--config", config, "--dry-run"])
    expectInputError(result, 1)
    expect(result.stderr).toContain(`  ${config}: plugin "nccl-all-reduce-bw" is registered twice (a plugin of that name is already installed)\n`)
  })

  it("refuses a --config that does not exist", async () => {
    const result = await runCli(["validate", "-r", EKS, "--config", "no-such-config.mjs", "--dry-run"])
    expectInputError(result, 1)
    expect(result.stderr).toContain(`  ${fixture("no-such-config.mjs")}: config file not found\n`)
  })

  it("refuses a config that does not load", async () => {
    const config = fixture("config-broken", "aicr.config.mjs")
    const result = await runCli(["validate", "-r", EKS, "--config", config, "--dry-run"])
    expectInputError(result, 1)
    expect(result.stderr).toContain(`  ${config}: could not load the config: `)
  })
})

describe.concurrent("the local runner through config plugins", () => {
  it("never overlaps two gpu-exclusive checks, while a non-exclusive one runs alongside", async () => {
    const log = temp("exclusive.log")
    const result = await runCli(["validate", "-r", fixture("recipes", "exclusive.yaml"), "--config", PLUGINS, "--phase", "conformance"], { env: { AICR_TEST_LOG: log } })
    expect(result.status).toBe(0)
    const events = readFileSync(log, "utf8").trim().split("\n").map((line) => {
      const [name, edge, at] = line.split(" ")
      return { name: name!, edge: edge!, at: Number(at) }
    })
    expect(events).toHaveLength(6)
    const span = (name: string) => {
      const start = events.find((event) => event.name === name && event.edge === "start")!
      const end = events.find((event) => event.name === name && event.edge === "end")!
      return { start: start.at, end: end.at, first: events.indexOf(start), last: events.indexOf(end) }
    }
    const [a, b, c] = [span("gpu-a"), span("gpu-b"), span("shared-c")]
    const [earlier, later] = a.start < b.start ? [a, b] : [b, a]
    expect(later.first).toBeGreaterThan(earlier.last)
    expect(later.start).toBeGreaterThanOrEqual(earlier.end)
    const overlaps = (x: typeof a, y: typeof a) => x.start < y.end && y.start < x.end
    expect(overlaps(c, earlier) || overlaps(c, later)).toBe(true)
    expect(c.first).toBeLessThan(earlier.last)
  })

  it("stops a check at its own timeoutMs: inconclusive, exit 9, its finalizer ran", async () => {
    const out = temp("timeout.json")
    const marker = temp("timeout.marker")
    const result = await runCli(["validate", "-r", fixture("recipes", "timeout.yaml"), "--config", PLUGINS, "--phase", "conformance", "-o", out], { env: { AICR_TEST_MARKER: marker } })
    expect(result.status).toBe(9)
    expect(testNamed(readCtrf(out), "slow-check")).toMatchObject({ status: "other", message: "timed out after 1s; its objects were released" })
    expect(readFileSync(marker, "utf8")).toBe("slow-check released\n")
  })

  it("lets a --catalog entry's timeout win over the plugin's", async () => {
    const out = temp("catalog-timeout.json")
    const args = ["validate", "-r", fixture("recipes", "timeout.yaml"), "--config", PLUGINS, "--catalog", fixture("catalog-slow-check.yaml"), "--phase", "conformance"]
    const [planned, ran] = await Promise.all([runCli([...args, "--dry-run"]), runCli([...args, "-o", out])])
    expect(planned.status).toBe(0)
    expect(planned.stdout).toContain("    slow-check as listed by a user catalog\n    timeout 2s\n")
    expect(planned.stdout).toContain("      validator  registry.example.com/team/slow-check:1.0  (pull IfNotPresent)\n")
    expect(ran.status).toBe(9)
    expect(testNamed(readCtrf(out), "slow-check")?.message).toBe("timed out after 2s; its objects were released")
  })

  it("turns a plugin that throws or returns a Promise into inconclusive results, not a crash", async () => {
    const result = await runCli(["validate", "-r", fixture("recipes", "misbehaving.yaml"), "--config", PLUGINS, "--phase", "conformance", "-o", "-"])
    expect(result.status).toBe(9)
    expect(result.stderr).not.toContain("    at ")
    const report = JSON.parse(result.stdout) as Ctrf
    expect(report.results.summary).toMatchObject({ tests: 2, passed: 0, other: 2 })
    expect(testNamed(report, "throwing-check")).toMatchObject({ status: "other", message: "internal error in the plugin: boom" })
    expect(testNamed(report, "promise-check")?.status).toBe("other")
    expect(testNamed(report, "promise-check")?.message).toMatch(/^internal error in the plugin: /)
  })

  it("--fail-fast skips the conformance phase after a failed performance phase", async () => {
    const out = temp("fail-fast.json")
    const result = await runCli(["validate", "-r", fixture("recipes", "fail-fast.yaml"), "--config", PLUGINS, "--fail-fast", "-o", out])
    expect(result.status).toBe(8)
    const report = readCtrf(out)
    expect(testNamed(report, "failing-perf")).toMatchObject({ status: "failed", message: "measured 10 GB/s, below the threshold >= 100" })
    expect(testNamed(report, "verdict-check")).toMatchObject({ status: "skipped", message: "skipped because phase performance did not pass (--fail-fast)", suite: ["conformance"] })
    expect(result.stderr).not.toContain("verdict-check: started")
  })

  it("without --fail-fast the conformance phase still runs", async () => {
    const out = temp("no-fail-fast.json")
    const result = await runCli(["validate", "-r", fixture("recipes", "fail-fast.yaml"), "--config", PLUGINS, "-o", out])
    expect(result.status).toBe(8)
    const report = readCtrf(out)
    expect(testNamed(report, "failing-perf")?.status).toBe("failed")
    expect(testNamed(report, "verdict-check")?.status).toBe("passed")
  })

  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`${signal}: releases the running check, writes the reports, exits ${code}`, async () => {
      const out = temp(`${signal}.json`)
      const junit = temp(`${signal}.xml`)
      const marker = temp(`${signal}.marker`)
      const running = startCli(["validate", "-r", fixture("recipes", "hang.yaml"), "--config", PLUGINS, "-o", out, "--junit", junit], {
        env: { AICR_TEST_MARKER: marker }
      })
      await running.waitForStderr("  hang-check: started\n")
      await running.waitForStderr("  hang-check: finalizer registered, waiting forever\n")
      expect(existsSync(marker)).toBe(false)
      running.signal(signal)
      const result = await running.result
      expect(result.status).toBe(code)
      expect(result.stderr).not.toContain("    at ")
      expect(readFileSync(marker, "utf8")).toBe("hang-check released (Failure)\n")
      const report = readCtrf(out)
      expect(report.results.environment.extra["interrupted"]).toBe(true)
      expect(testNamed(report, "verdict-check")?.status).toBe("passed")
      const hang = testNamed(report, "hang-check")!
      expect(hang.status).toBe("other")
      expect(hang.message).toContain("interrupted")
      expect(readFileSync(junit, "utf8")).toContain('<error message="interrupted before it finished; its objects were released"/>')
      expect(result.stderr).toContain("interrupted: partial results\n")
      expect(result.stderr).toContain(`wrote ${out}\nwrote ${junit}\n`)
    })
  }
})
