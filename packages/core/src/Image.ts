/**
 * Container image resolution: which tag and registry a catalog image is pulled from, and with which pull policy.
 *
 * Details: rules apply in order to our images (those under {@link OUR_PREFIX}, built from `images/` in this
 * repository): (1) a release CLI turns `:latest` into `:v<version>`; (2) a dev build keeps `:latest`, or uses
 * `:sha-<commit>` when the commit is known; (3) `AICR_VALIDATOR_IMAGE_TAG` forces a tag. Third-party images
 * are pinned by explicit tag and skip rules 1–3. (4) `AICR_VALIDATOR_IMAGE_REGISTRY` then moves every image,
 * ours and third-party, to a mirror registry. Digest-pinned references keep their digest.
 */
import type { Problem } from "./Problem.ts"

/** The registry namespace of the images this project builds; a placeholder for the user's own registry. */
export const OUR_PREFIX = "ghcr.io/aicr-project/"

/** The environment variables that steer image resolution. */
export interface ImageEnv {
  /** `1` or `true` marks a dev build whatever the version says. */
  readonly AICR_DEV?: string | undefined
  /** Forces this tag on every one of our images. */
  readonly AICR_VALIDATOR_IMAGE_TAG?: string | undefined
  /** Mirror registry (`localhost:5001`, `registry.example.com/team`) for every image. */
  readonly AICR_VALIDATOR_IMAGE_REGISTRY?: string | undefined
}

/** What image resolution depends on: the CLI version and commit, and the environment. */
export interface ResolveOptions {
  readonly version: string
  readonly commit?: string | undefined
  readonly env: ImageEnv
}

/** A pull policy the resolver may choose. */
export type PullPolicy = "Always" | "IfNotPresent"

const RELEASE = /^v?\d+\.\d+\.\d+(-[A-Za-z0-9.]+)?$/
const COMMIT = /^[0-9a-f]{7,40}$/
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

const blankToUndefined = (text: string | undefined): string | undefined => {
  const trimmed = text?.trim()
  return trimmed === undefined || trimmed === "" ? undefined : trimmed
}

/**
 * True for a dev build: `AICR_DEV=1` (or `true`), version `0.0.0[-…]`, a prerelease starting with `dev`
 * (`0.1.0-dev.3`), or any version that is not a release version (`dev`, empty).
 */
export const isDevBuild = (version: string, env: ImageEnv): boolean => {
  const dev = env.AICR_DEV?.trim().toLowerCase()
  if (dev === "1" || dev === "true") return true
  const v = version.trim()
  if (!RELEASE.test(v)) return true
  const core = v.replace(/^v/, "")
  return core.startsWith("0.0.0") || /^\d+\.\d+\.\d+-dev/.test(core)
}

/** True for a release build: an `X.Y.Z[-pre]` version that is not a {@link isDevBuild | dev build}. */
export const isReleaseVersion = (version: string, env: ImageEnv): boolean =>
  RELEASE.test(version.trim()) && !isDevBuild(version, env)

/** The commit to tag dev images with: 7–40 hex digits (lower-cased), else `undefined` (`unknown`, empty). */
export const normalizeCommit = (commit: string | undefined): string | undefined => {
  const c = commit?.trim().toLowerCase()
  return c !== undefined && COMMIT.test(c) ? c : undefined
}

/** True when `AICR_VALIDATOR_IMAGE_TAG` is set to something other than blanks. */
export const isTagForced = (options: ResolveOptions): boolean =>
  blankToUndefined(options.env.AICR_VALIDATOR_IMAGE_TAG) !== undefined

/** True for an image this project builds (under {@link OUR_PREFIX}). */
export const isOurImage = (image: string): boolean => image.startsWith(OUR_PREFIX)

/** True for a digest-pinned reference (`…@sha256:…`). */
export const isDigest = (image: string): boolean => image.includes("@")

const tagIndex = (image: string): number => {
  const colon = image.lastIndexOf(":")
  return colon > image.lastIndexOf("/") ? colon : -1
}

/** The tag of a reference (`nvcr.io/x:1.2` → `1.2`), `undefined` when it has none or is digest-pinned. */
export const tagOf = (image: string): string | undefined => {
  if (isDigest(image)) return undefined
  const colon = tagIndex(image)
  return colon === -1 ? undefined : image.slice(colon + 1)
}

/** Replaces the tag of a reference, appending one when it has none; digest-pinned references are returned as is. */
export const withTag = (image: string, tag: string): string => {
  if (isDigest(image)) return image
  const colon = tagIndex(image)
  return `${colon === -1 ? image : image.slice(0, colon)}:${tag}`
}

const hasRegistryHost = (first: string): boolean =>
  first.includes(".") || first.includes(":") || first === "localhost"

/**
 * Moves a reference to a mirror registry.
 *
 * Details: for our images the mirror replaces the whole {@link OUR_PREFIX} (`ghcr.io/aicr-project/aicr-validator:v1`
 * + `localhost:5001` → `localhost:5001/aicr-validator:v1`), which matches upstream's rule of dropping registry
 * and organisation. Any other image keeps its repository path and only loses its registry host, Docker Hub
 * being implied when there is none: `nvcr.io/nvidia/pytorch:25.06-py3` → `localhost:5001/nvidia/pytorch:25.06-py3`,
 * `busybox:1.37` → `localhost:5001/library/busybox:1.37` — the layout `crane copy`/`skopeo sync` mirrors use.
 * Tags and digests are kept as text.
 */
export const withRegistry = (image: string, registry: string): string => {
  const mirror = registry.trim().replace(/\/+$/, "")
  if (isOurImage(image)) return `${mirror}/${image.slice(OUR_PREFIX.length)}`
  const slash = image.indexOf("/")
  const first = slash === -1 ? "" : image.slice(0, slash)
  if (slash !== -1 && hasRegistryHost(first)) return `${mirror}/${image.slice(slash + 1)}`
  return `${mirror}/${slash === -1 ? `library/${image}` : image}`
}

/**
 * Resolves a catalog image for this CLI build and environment.
 *
 * Details, in order:
 * 1. release version, our image, tag `latest` → `v<version>` (no double `v`);
 * 2. dev build, our image, tag `latest` → `sha-<commit>` when the commit is 7–40 hex, else kept;
 * 3. `AICR_VALIDATOR_IMAGE_TAG` → that tag on our images, replacing any tag or appending one;
 * 4. `AICR_VALIDATOR_IMAGE_REGISTRY` → {@link withRegistry} on every image.
 * Digest-pinned references skip 1–3. Third-party images (not under {@link OUR_PREFIX}) skip 1–3: they are
 * pinned by explicit tag in the catalog.
 */
export const resolveImage = (image: string, options: ResolveOptions): string => {
  const ours = isOurImage(image) && !isDigest(image)
  let resolved = image
  if (ours && tagOf(image) === "latest") {
    if (isReleaseVersion(options.version, options.env)) {
      resolved = withTag(image, `v${options.version.trim().replace(/^v/, "")}`)
    } else {
      const commit = normalizeCommit(options.commit)
      if (commit !== undefined) resolved = withTag(image, `sha-${commit}`)
    }
  }
  const forced = blankToUndefined(options.env.AICR_VALIDATOR_IMAGE_TAG)
  if (ours && forced !== undefined) resolved = withTag(resolved, forced)
  const registry = blankToUndefined(options.env.AICR_VALIDATOR_IMAGE_REGISTRY)
  return registry === undefined ? resolved : withRegistry(resolved, registry)
}

const LOCAL_REGISTRIES = ["kind.local", "ko.local"]

const isLocalRegistry = (image: string): boolean => {
  const slash = image.indexOf("/")
  if (slash === -1) return false
  const host = image.slice(0, slash)
  return host === "localhost" || host.startsWith("localhost:") || LOCAL_REGISTRIES.includes(host)
}

/**
 * The pull policy of a resolved image: digest-pinned → `IfNotPresent`; a local registry (`localhost[:port]`,
 * `kind.local`, `ko.local`) → `IfNotPresent`; tag `latest`, no tag, or a forced tag → `Always` (the tag is
 * mutable); otherwise `IfNotPresent`.
 */
export const pullPolicy = (image: string, options: { readonly tagForced: boolean }): PullPolicy => {
  if (isDigest(image)) return "IfNotPresent"
  if (isLocalRegistry(image)) return "IfNotPresent"
  const tag = tagOf(image)
  if (tag === undefined || tag === "latest" || options.tagForced) return "Always"
  return "IfNotPresent"
}

/**
 * Resolves an image and picks its pull policy in one go; a forced tag only makes our images `Always`, since
 * third-party images keep their pinned tag.
 */
export const resolve = (
  image: string,
  options: ResolveOptions
): { readonly image: string; readonly pullPolicy: PullPolicy } => {
  const resolved = resolveImage(image, options)
  return { image: resolved, pullPolicy: pullPolicy(resolved, { tagForced: isTagForced(options) && isOurImage(image) }) }
}

/** Problems with the image environment variables, each naming the variable and what to write instead. */
export const envProblems = (env: ImageEnv): ReadonlyArray<Problem> => {
  const problems: Array<Problem> = []
  const tag = blankToUndefined(env.AICR_VALIDATOR_IMAGE_TAG)
  if (tag !== undefined && !TAG.test(tag)) {
    problems.push({
      source: "AICR_VALIDATOR_IMAGE_TAG",
      message: `"${tag}" is not a valid image tag: use letters, digits, '_', '.' and '-' ` +
        `(at most 128, not starting with '.' or '-'), e.g. v1.2.3`
    })
  }
  const registry = blankToUndefined(env.AICR_VALIDATOR_IMAGE_REGISTRY)
  if (registry !== undefined && !/^[A-Za-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*\/?$/.test(registry)) {
    problems.push({
      source: "AICR_VALIDATOR_IMAGE_REGISTRY",
      message: `"${registry}" is not a registry: write a host with optional port and path, without scheme or tag, ` +
        `e.g. localhost:5001 or registry.example.com/team`
    })
  }
  return problems
}
