import { describe, expect, it } from "vitest"
import * as Image from "../src/Image.ts"
import type { ImageEnv, ResolveOptions } from "../src/Image.ts"

const VALIDATOR = "ghcr.io/aicr-project/aicr-validator:latest"
const AIPERF = "ghcr.io/aicr-project/aiperf-bench:latest"
const VLLM = "nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.2.1"
const NCCL = "public.ecr.aws/hpc-cloud/nccl-tests:cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9"
const BUSYBOX = "busybox:1.37"
const DIGEST = "ghcr.io/aicr-project/aicr-validator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
const SHA = "0123456789abcdef0123456789abcdef01234567"
const REG = "localhost:5001"

const opts = (version: string, env: ImageEnv = {}, commit?: string): ResolveOptions => ({ version, commit, env })

describe("isDevBuild / isReleaseVersion", () => {
  it.each([
    ["0.11.1", {}, false],
    ["v0.11.1", {}, false],
    ["1.0.0-rc.1", {}, false],
    ["v0.11.1-next", {}, false],
    ["0.1.0-dev.3", {}, true],
    ["v0.1.0-dev", {}, true],
    ["0.0.0", {}, true],
    ["0.0.0-abc", {}, true],
    ["1.2.3", { AICR_DEV: "1" }, true],
    ["1.2.3", { AICR_DEV: "true" }, true],
    ["1.2.3", { AICR_DEV: "0" }, false],
    ["1.2.3", { AICR_DEV: "" }, false],
    ["dev", {}, true],
    ["", {}, true],
    ["1.2", {}, true],
    ["1.2.3-a-b", {}, true],
    [" 1.2.3 ", {}, false]
  ] as const)("%j %j → dev %s", (version, env, dev) => {
    expect([Image.isDevBuild(version, env), Image.isReleaseVersion(version, env)]).toEqual([dev, !dev])
  })
})

describe("normalizeCommit", () => {
  it.each([
    ["abc1234", "abc1234"],
    [SHA, SHA],
    ["ABC1234", "abc1234"],
    [" abc1234\n", "abc1234"],
    ["abc123", undefined],
    [`${SHA}0`, undefined],
    ["unknown", undefined],
    ["xyz1234", undefined],
    ["", undefined],
    [undefined, undefined]
  ])("%j → %j", (commit, expected) => {
    expect(Image.normalizeCommit(commit)).toBe(expected)
  })
})

describe("tag helpers", () => {
  it.each([
    ["busybox", undefined, "busybox:v1"],
    ["busybox:1.37", "1.37", "busybox:v1"],
    ["localhost:5001/x", undefined, "localhost:5001/x:v1"],
    ["localhost:5001/x:latest", "latest", "localhost:5001/x:v1"],
    ["ghcr.io/a/b/c:edge", "edge", "ghcr.io/a/b/c:v1"],
    [DIGEST, undefined, DIGEST]
  ])("%s: tag %j, withTag v1 → %s", (image, tag, retagged) => {
    expect([Image.tagOf(image), Image.withTag(image, "v1")]).toEqual([tag, retagged])
  })
})

describe("withRegistry", () => {
  // Upstream TestReplaceRegistry (framework.md §13), adapted: the override replaces our whole prefix, and
  // other images keep their repository path (upstream dropped the first two segments of every image).
  it.each([
    ["ours, 2 segments after the prefix", "ghcr.io/aicr-project/aicr-validator:v1", REG, "localhost:5001/aicr-validator:v1"],
    ["ours, nested path", "ghcr.io/aicr-project/sub/x:latest", REG, "localhost:5001/sub/x:latest"],
    ["ours, digest kept", DIGEST, REG, `localhost:5001/aicr-validator@sha256:${"0123456789abcdef".repeat(4)}`],
    ["ours, registry with a path", "ghcr.io/aicr-project/aicr-validator:v1", "registry.example.com/team/", "registry.example.com/team/aicr-validator:v1"],
    ["third-party, nested path", VLLM, REG, "localhost:5001/nvidia/ai-dynamo/vllm-runtime:1.2.1"],
    ["third-party, ecr", NCCL, REG, `localhost:5001/hpc-cloud/nccl-tests:${NCCL.split(":")[1]}`],
    ["Docker Hub official image", BUSYBOX, REG, "localhost:5001/library/busybox:1.37"],
    ["Docker Hub user image", "bitnami/kubectl:1.31", REG, "localhost:5001/bitnami/kubectl:1.31"],
    ["registry with port", "myreg:5000/a/b:1", REG, "localhost:5001/a/b:1"],
    ["localhost registry", "localhost/a:1", REG, "localhost:5001/a:1"],
    ["upstream 3-part image", "ghcr.io/nvidia/aicr-validators/deployment:latest", REG, "localhost:5001/nvidia/aicr-validators/deployment:latest"],
    ["third-party digest kept", "nvcr.io/x/y@sha256:abc", REG, "localhost:5001/x/y@sha256:abc"]
  ])("%s", (_, image, registry, expected) => {
    expect(Image.withRegistry(image, registry)).toBe(expected)
  })
})

describe("resolveImage", () => {
  // Upstream catalog TestResolveImage (inference-perf.md §8), adapted to our prefix and dev-build rule.
  it.each([
    ["dev → unchanged", AIPERF, opts("dev"), AIPERF],
    ["v0.11.1-next → release here (upstream: unchanged; our dev marker is -dev)", AIPERF, opts("v0.11.1-next"), "ghcr.io/aicr-project/aiperf-bench:v0.11.1-next"],
    ["v0.11.1 → :v0.11.1", AIPERF, opts("v0.11.1"), "ghcr.io/aicr-project/aiperf-bench:v0.11.1"],
    ["0.11.1 → :v0.11.1", AIPERF, opts("0.11.1"), "ghcr.io/aicr-project/aiperf-bench:v0.11.1"],
    ["pinned :v1.2.3 → unchanged", "ghcr.io/aicr-project/aiperf-bench:v1.2.3", opts("0.11.1"), "ghcr.io/aicr-project/aiperf-bench:v1.2.3"],
    ["dev + registry", AIPERF, opts("dev", { AICR_VALIDATOR_IMAGE_REGISTRY: REG }), "localhost:5001/aiperf-bench:latest"],
    ["v0.11.1 + registry", AIPERF, opts("v0.11.1", { AICR_VALIDATOR_IMAGE_REGISTRY: REG }), "localhost:5001/aiperf-bench:v0.11.1"]
  ])("upstream table: %s", (_, image, options, expected) => {
    expect(Image.resolveImage(image, options)).toBe(expected)
  })

  it.each([
    // rule 1: release
    ["release 1.0.0", VALIDATOR, opts("1.0.0"), "ghcr.io/aicr-project/aicr-validator:v1.0.0"],
    ["release with prerelease", VALIDATOR, opts("v1.0.0-rc.2"), "ghcr.io/aicr-project/aicr-validator:v1.0.0-rc.2"],
    ["release ignores the commit", VALIDATOR, opts("1.0.0", {}, SHA), "ghcr.io/aicr-project/aicr-validator:v1.0.0"],
    ["release keeps an explicit tag", "ghcr.io/aicr-project/aicr-validator:edge", opts("1.0.0"), "ghcr.io/aicr-project/aicr-validator:edge"],
    ["release leaves an untagged image alone", "ghcr.io/aicr-project/aicr-validator", opts("1.0.0"), "ghcr.io/aicr-project/aicr-validator"],
    ["release, third-party :latest untouched", "nvcr.io/x/y:latest", opts("1.0.0"), "nvcr.io/x/y:latest"],
    ["release, third-party pinned untouched", VLLM, opts("1.0.0"), VLLM],
    ["release, digest untouched", DIGEST, opts("1.0.0"), DIGEST],
    // rule 2: dev
    ["dev build with commit", VALIDATOR, opts("0.1.0-dev.3", {}, SHA), `ghcr.io/aicr-project/aicr-validator:sha-${SHA}`],
    ["dev build with short upper-case commit", VALIDATOR, opts("0.1.0-dev.3", {}, "ABCDEF1"), "ghcr.io/aicr-project/aicr-validator:sha-abcdef1"],
    ["dev build, commit unknown", VALIDATOR, opts("0.1.0-dev.3", {}, "unknown"), VALIDATOR],
    ["dev build, no commit", VALIDATOR, opts("0.1.0-dev.3"), VALIDATOR],
    ["version 0.0.0 with commit", VALIDATOR, opts("0.0.0", {}, "abc1234"), "ghcr.io/aicr-project/aicr-validator:sha-abc1234"],
    ["AICR_DEV=1 overrides a release version", VALIDATOR, opts("1.0.0", { AICR_DEV: "1" }, "abc1234"), "ghcr.io/aicr-project/aicr-validator:sha-abc1234"],
    ["AICR_DEV=1 without commit keeps latest", VALIDATOR, opts("1.0.0", { AICR_DEV: "1" }), VALIDATOR],
    ["dev build keeps an explicit tag", "ghcr.io/aicr-project/aicr-validator:v2", opts("0.0.0", {}, SHA), "ghcr.io/aicr-project/aicr-validator:v2"],
    ["dev build, third-party untouched", BUSYBOX, opts("0.0.0", {}, SHA), BUSYBOX],
    ["dev build, digest untouched", DIGEST, opts("0.0.0", {}, SHA), DIGEST],
    // rule 3: forced tag
    ["forced tag beats release", VALIDATOR, opts("1.0.0", { AICR_VALIDATOR_IMAGE_TAG: "pr-42" }), "ghcr.io/aicr-project/aicr-validator:pr-42"],
    ["forced tag beats dev sha", VALIDATOR, opts("0.0.0", { AICR_VALIDATOR_IMAGE_TAG: "pr-42" }, SHA), "ghcr.io/aicr-project/aicr-validator:pr-42"],
    ["forced tag replaces an explicit tag", "ghcr.io/aicr-project/aicr-validator:v2", opts("1.0.0", { AICR_VALIDATOR_IMAGE_TAG: "edge" }), "ghcr.io/aicr-project/aicr-validator:edge"],
    ["forced tag appended to an untagged image", "ghcr.io/aicr-project/aicr-validator", opts("1.0.0", { AICR_VALIDATOR_IMAGE_TAG: "edge" }), "ghcr.io/aicr-project/aicr-validator:edge"],
    ["forced tag is trimmed", VALIDATOR, opts("1.0.0", { AICR_VALIDATOR_IMAGE_TAG: " edge " }), "ghcr.io/aicr-project/aicr-validator:edge"],
    ["blank forced tag ignored", VALIDATOR, opts("1.0.0", { AICR_VALIDATOR_IMAGE_TAG: "  " }), "ghcr.io/aicr-project/aicr-validator:v1.0.0"],
    ["forced tag skips third-party", VLLM, opts("1.0.0", { AICR_VALIDATOR_IMAGE_TAG: "edge" }), VLLM],
    ["forced tag skips busybox", BUSYBOX, opts("1.0.0", { AICR_VALIDATOR_IMAGE_TAG: "edge" }), BUSYBOX],
    ["forced tag skips digests", DIGEST, opts("1.0.0", { AICR_VALIDATOR_IMAGE_TAG: "edge" }), DIGEST],
    // rule 4: registry, after the tag rules
    ["registry + release", VALIDATOR, opts("1.0.0", { AICR_VALIDATOR_IMAGE_REGISTRY: REG }), "localhost:5001/aicr-validator:v1.0.0"],
    ["registry + dev sha", VALIDATOR, opts("0.0.0", { AICR_VALIDATOR_IMAGE_REGISTRY: REG }, "abc1234"), "localhost:5001/aicr-validator:sha-abc1234"],
    ["registry + forced tag", VALIDATOR, opts("1.0.0", { AICR_VALIDATOR_IMAGE_REGISTRY: REG, AICR_VALIDATOR_IMAGE_TAG: "edge" }), "localhost:5001/aicr-validator:edge"],
    ["registry mirrors third-party (upstream #1159 left it unmirrored)", VLLM, opts("1.0.0", { AICR_VALIDATOR_IMAGE_REGISTRY: REG }), "localhost:5001/nvidia/ai-dynamo/vllm-runtime:1.2.1"],
    ["registry mirrors nccl-tests", NCCL, opts("1.0.0", { AICR_VALIDATOR_IMAGE_REGISTRY: REG, AICR_VALIDATOR_IMAGE_TAG: "edge" }), `localhost:5001/hpc-cloud/nccl-tests:${NCCL.split(":")[1]}`],
    ["registry mirrors busybox under library/", BUSYBOX, opts("1.0.0", { AICR_VALIDATOR_IMAGE_REGISTRY: REG }), "localhost:5001/library/busybox:1.37"],
    ["registry keeps a digest", DIGEST, opts("1.0.0", { AICR_VALIDATOR_IMAGE_REGISTRY: REG, AICR_VALIDATOR_IMAGE_TAG: "edge" }), `localhost:5001/aicr-validator@sha256:${"0123456789abcdef".repeat(4)}`],
    ["registry with path and trailing slash", AIPERF, opts("1.0.0", { AICR_VALIDATOR_IMAGE_REGISTRY: "reg.example.com/team/" }), "reg.example.com/team/aiperf-bench:v1.0.0"],
    ["blank registry ignored", AIPERF, opts("1.0.0", { AICR_VALIDATOR_IMAGE_REGISTRY: " " }), "ghcr.io/aicr-project/aiperf-bench:v1.0.0"]
  ])("%s", (_, image, options, expected) => {
    expect(Image.resolveImage(image, options)).toBe(expected)
  })
})

describe("pullPolicy", () => {
  it.each([
    [DIGEST, false, "IfNotPresent"],
    [DIGEST, true, "IfNotPresent"],
    ["localhost:5001/aicr-validator:latest", false, "IfNotPresent"],
    ["localhost:5001/aicr-validator:edge", true, "IfNotPresent"],
    ["localhost/aicr-validator:latest", false, "IfNotPresent"],
    ["kind.local/aicr-validator:latest", false, "IfNotPresent"],
    ["ko.local/aicr-validator", true, "IfNotPresent"],
    [VALIDATOR, false, "Always"],
    ["ghcr.io/aicr-project/aicr-validator", false, "Always"],
    ["ghcr.io/aicr-project/aicr-validator:v1.0.0", false, "IfNotPresent"],
    ["ghcr.io/aicr-project/aicr-validator:edge", true, "Always"],
    [VLLM, false, "IfNotPresent"],
    ["localhostish.example.com/x:1", false, "IfNotPresent"],
    ["localhostish.example.com/x:latest", false, "Always"],
    [BUSYBOX, false, "IfNotPresent"]
  ] as const)("%s (forced %s) → %s", (image, tagForced, policy) => {
    expect(Image.pullPolicy(image, { tagForced })).toBe(policy)
  })
})

describe("isTagForced", () => {
  it.each([
    [{}, false],
    [{ AICR_VALIDATOR_IMAGE_TAG: "" }, false],
    [{ AICR_VALIDATOR_IMAGE_TAG: "  " }, false],
    [{ AICR_VALIDATOR_IMAGE_TAG: "edge" }, true]
  ])("%j → %s", (env, forced) => {
    expect(Image.isTagForced(opts("1.0.0", env))).toBe(forced)
  })
})

describe("resolve", () => {
  it.each([
    [VALIDATOR, opts("1.0.0"), "ghcr.io/aicr-project/aicr-validator:v1.0.0", "IfNotPresent"],
    [VALIDATOR, opts("0.0.0"), VALIDATOR, "Always"],
    [VALIDATOR, opts("1.0.0", { AICR_VALIDATOR_IMAGE_TAG: "edge" }), "ghcr.io/aicr-project/aicr-validator:edge", "Always"],
    [VLLM, opts("1.0.0", { AICR_VALIDATOR_IMAGE_TAG: "edge" }), VLLM, "IfNotPresent"],
    [VALIDATOR, opts("1.0.0", { AICR_VALIDATOR_IMAGE_REGISTRY: REG, AICR_VALIDATOR_IMAGE_TAG: "edge" }), "localhost:5001/aicr-validator:edge", "IfNotPresent"]
  ])("%s with %j", (image, options, resolved, policy) => {
    expect(Image.resolve(image, options)).toEqual({ image: resolved, pullPolicy: policy })
  })
})

describe("envProblems", () => {
  it("accepts valid values and blanks", () => {
    expect(Image.envProblems({})).toEqual([])
    expect(Image.envProblems({ AICR_VALIDATOR_IMAGE_TAG: "v1.2.3_rc-1", AICR_VALIDATOR_IMAGE_REGISTRY: "localhost:5001" })).toEqual([])
    expect(Image.envProblems({ AICR_VALIDATOR_IMAGE_REGISTRY: "registry.example.com/team/sub/" })).toEqual([])
    expect(Image.envProblems({ AICR_VALIDATOR_IMAGE_TAG: " ", AICR_VALIDATOR_IMAGE_REGISTRY: "" })).toEqual([])
  })

  it.each([
    [{ AICR_VALIDATOR_IMAGE_TAG: "-bad" }, "AICR_VALIDATOR_IMAGE_TAG"],
    [{ AICR_VALIDATOR_IMAGE_TAG: "a:b" }, "AICR_VALIDATOR_IMAGE_TAG"],
    [{ AICR_VALIDATOR_IMAGE_TAG: "x".repeat(129) }, "AICR_VALIDATOR_IMAGE_TAG"],
    [{ AICR_VALIDATOR_IMAGE_REGISTRY: "https://localhost:5001" }, "AICR_VALIDATOR_IMAGE_REGISTRY"],
    [{ AICR_VALIDATOR_IMAGE_REGISTRY: "localhost:5001/x:tag" }, "AICR_VALIDATOR_IMAGE_REGISTRY"],
    [{ AICR_VALIDATOR_IMAGE_REGISTRY: "my reg" }, "AICR_VALIDATOR_IMAGE_REGISTRY"]
  ])("%j is a problem of %s", (env, source) => {
    expect(Image.envProblems(env).map((problem) => problem.source)).toEqual([source])
  })

  it("says what to write instead", () => {
    expect(Image.envProblems({ AICR_VALIDATOR_IMAGE_REGISTRY: "https://r" })).toEqual([
      {
        source: "AICR_VALIDATOR_IMAGE_REGISTRY",
        message:
          `"https://r" is not a registry: write a host with optional port and path, without scheme or tag, e.g. localhost:5001 or registry.example.com/team`
      }
    ])
  })
})
