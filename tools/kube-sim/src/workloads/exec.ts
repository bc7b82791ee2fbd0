/**
 * An image played by a local command (`--exec-image IMAGE=COMMAND`): the process gets the pod's environment, its
 * mounted ConfigMaps and Secrets as local files, in-cluster API server settings and a kubeconfig for the pod's
 * ServiceAccount; its output is the container log, its exit code and termination message the container's result.
 */
import { spawn } from "node:child_process"
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { constants, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import type { KubeObject } from "../types.ts"
import type { ContainerResult, ContainerRun, Workload, World } from "../world.ts"
import { containerEnv, containersOf, specOf } from "./pods.ts"
import { expandReferences } from "./shell.ts"

export interface ServiceAccountFiles {
  readonly token: string
  /** Default: the pod's namespace. */
  readonly namespace?: string | undefined
  /** PEM of the API server's CA; without it (or over plain HTTP) the kubeconfig skips TLS verification. */
  readonly caCrt?: string | undefined
}

export interface ExecImageOptions {
  /** The image to play: an exact reference, a repository without tag or digest (any tag), or a pattern with `*`. */
  readonly image: string
  /** The local command: argv, or a shell command line run by `/bin/sh -c`. The container's `args` are appended. */
  readonly command: string | ReadonlyArray<string>
  /** The API server as in-cluster clients reach it: `KUBERNETES_SERVICE_HOST`/`PORT` and the kubeconfig's server. */
  readonly apiServerUrl?: string | (() => string) | undefined
  /** The pod's ServiceAccount credentials, written as `token`, `ca.crt` and `namespace` into a directory. */
  readonly serviceAccount?: ((run: ContainerRun) => ServiceAccountFiles | Promise<ServiceAccountFiles>) | undefined
  /** Env var given that directory's path (default `KUBE_SIM_SERVICEACCOUNT_DIR`). `KUBECONFIG` names a kubeconfig in it. */
  readonly serviceAccountDirEnv?: string | undefined
  /** Env var given the path of a file the command may write its termination message to (`/dev/termination-log`). */
  readonly terminationMessageEnv?: string | undefined
  /** Environment under the pod's (the host's `PATH`, `HOME`, `TMPDIR` and `LANG` are passed on too). */
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  /**
   * Real milliseconds from SIGTERM to SIGKILL when the pod is deleted (default 2000). The pod stays Terminating until
   * the command has exited (a graceful deletion; a delete with `gracePeriodSeconds: 0` removes it at once).
   */
  readonly killGraceMs?: number | undefined
}

const SERVICE_ACCOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
const HOST_ENV = ["PATH", "HOME", "TMPDIR", "LANG", "SYSTEMROOT"]

/** Whether `image` is what `pattern` names (see `ExecImageOptions.image`). */
export const imageMatches = (pattern: string, image: string): boolean => {
  if (pattern.includes("*")) {
    const regex = new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`)
    return regex.test(image)
  }
  if (pattern === image) return true
  const hasTag = pattern.includes("@") || /:[^/]+$/.test(pattern)
  if (hasTag) return false
  return image.startsWith(`${pattern}:`) || image.startsWith(`${pattern}@`)
}

type Json = Record<string, unknown>
const record = (value: unknown): Json | undefined => (value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined)
const list = (value: unknown): Array<Json> => (Array.isArray(value) ? value.flatMap((item) => (record(item) === undefined ? [] : [record(item)!])) : [])

/** The files of one volume source: `path → content` (ConfigMaps, Secrets and projections of them). */
const volumeFiles = (world: World, namespace: string, source: Json, token: string | undefined): Map<string, string> => {
  const files = new Map<string, string>()
  const fromObject = (kind: "configmaps" | "secrets", name: unknown, items: unknown) => {
    if (typeof name !== "string") return
    const object = world.cluster.store.get(`/${kind}`, namespace, name)
    const data = record(object?.["data"]) ?? {}
    const decode = (value: unknown) => (typeof value !== "string" ? undefined : kind === "secrets" ? Buffer.from(value, "base64").toString("utf8") : value)
    const wanted = list(items)
    if (wanted.length > 0) {
      for (const item of wanted) {
        const value = decode(data[String(item["key"])])
        if (value !== undefined) files.set(String(item["path"] ?? item["key"]), value)
      }
    } else {
      for (const [key, value] of Object.entries(data)) {
        const decoded = decode(value)
        if (decoded !== undefined) files.set(key, decoded)
      }
    }
  }
  const configMap = record(source["configMap"])
  const secret = record(source["secret"])
  if (configMap !== undefined) fromObject("configmaps", configMap["name"], configMap["items"])
  if (secret !== undefined) fromObject("secrets", secret["secretName"], secret["items"])
  for (const projection of list(record(source["projected"])?.["sources"])) {
    const projectedConfigMap = record(projection["configMap"])
    const projectedSecret = record(projection["secret"])
    const serviceAccountToken = record(projection["serviceAccountToken"])
    if (projectedConfigMap !== undefined) fromObject("configmaps", projectedConfigMap["name"], projectedConfigMap["items"])
    if (projectedSecret !== undefined) fromObject("secrets", projectedSecret["name"], projectedSecret["items"])
    if (serviceAccountToken !== undefined && token !== undefined) files.set(String(serviceAccountToken["path"] ?? "token"), token)
  }
  return files
}

const write = async (path: string, content: string): Promise<void> => {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, content, { mode: 0o600 })
}

/** Writes the container's ConfigMap, Secret and projected mounts under `root` and makes its `emptyDir` mounts there; returns the mount paths. */
const materializeVolumes = async (world: World, pod: KubeObject, containerName: string, root: string, token: string | undefined): Promise<Array<string>> => {
  const namespace = pod.metadata.namespace ?? "default"
  const volumes = new Map(list(specOf(pod)["volumes"]).map((volume) => [String(volume["name"]), volume]))
  const container = containersOf(pod).find((candidate) => candidate["name"] === containerName)
  const mounted: Array<string> = []
  for (const mount of list(container?.["volumeMounts"])) {
    const volume = volumes.get(String(mount["name"]))
    const mountPath = mount["mountPath"]
    if (volume === undefined || typeof mountPath !== "string") continue
    if (record(volume["emptyDir"]) !== undefined) {
      // A fresh directory of the pod's own, gone with it (an env value naming a path under it is relocated too).
      await mkdir(join(root, mountPath), { recursive: true })
      mounted.push(mountPath)
      continue
    }
    const files = volumeFiles(world, namespace, volume, token)
    if (files.size === 0) continue
    const subPath = typeof mount["subPath"] === "string" ? mount["subPath"] : undefined
    for (const [path, content] of files) {
      if (subPath !== undefined && path !== subPath) continue
      await write(join(root, subPath === undefined ? join(mountPath, path) : mountPath), content)
    }
    mounted.push(mountPath)
  }
  return mounted
}

/** Rewrites an env value that names a file under a mounted path to the local copy. */
const relocate = (value: string, mounts: ReadonlyArray<string>, root: string): string => {
  for (const mount of mounts) if (value === mount || value.startsWith(`${mount.replace(/\/$/, "")}/`)) return join(root, value)
  return value
}

const kubeconfigFor = (server: string, token: string, namespace: string, caPath: string | undefined): string =>
  JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "in-cluster", cluster: { server, ...(caPath !== undefined && server.startsWith("https:") ? { "certificate-authority": caPath } : { "insecure-skip-tls-verify": true }) } }],
      users: [{ name: "service-account", user: { token } }],
      contexts: [{ name: "in-cluster", context: { cluster: "in-cluster", user: "service-account", namespace } }],
      "current-context": "in-cluster"
    },
    null,
    2
  )

const signalCode = (signal: NodeJS.Signals | null): number => (signal === null ? 1 : 128 + (constants.signals[signal] ?? 0))

const runExec = async (options: ExecImageOptions, run: ContainerRun): Promise<ContainerResult> => {
  const { world, pod, container, signal } = run
  const namespace = pod.metadata.namespace ?? "default"
  const root = await mkdtemp(join(tmpdir(), "kube-sim-exec-"))
  try {
    const podEnv = containerEnv(world, pod, container.name)
    for (const variable of container.env ?? []) if (variable.value !== undefined && !podEnv.has(variable.name)) podEnv.set(variable.name, variable.value)
    const account = options.serviceAccount === undefined ? undefined : await options.serviceAccount(run)
    const mounts = await materializeVolumes(world, pod, container.name, root, account?.token)
    const env: Record<string, string> = {}
    for (const name of HOST_ENV) if (process.env[name] !== undefined) env[name] = process.env[name]!
    Object.assign(env, options.env ?? {})
    for (const [name, value] of podEnv) env[name] = relocate(value, mounts, root)
    env["HOSTNAME"] = typeof specOf(pod)["hostname"] === "string" ? String(specOf(pod)["hostname"]) : pod.metadata.name!
    env["KUBE_SIM_ROOT"] = root
    const server = typeof options.apiServerUrl === "function" ? options.apiServerUrl() : options.apiServerUrl
    if (server !== undefined) {
      const url = new URL(server)
      const port = url.port === "" ? (url.protocol === "https:" ? "443" : "80") : url.port
      env["KUBERNETES_SERVICE_HOST"] = url.hostname.replace(/^\[|\]$/g, "")
      env["KUBERNETES_SERVICE_PORT"] = port
      if (url.protocol === "https:") env["KUBERNETES_SERVICE_PORT_HTTPS"] = port
      env["KUBERNETES_PORT"] = `tcp://${url.host}`
    }
    if (account !== undefined) {
      const directory = join(root, SERVICE_ACCOUNT_PATH)
      await write(join(directory, "token"), account.token)
      await write(join(directory, "namespace"), account.namespace ?? namespace)
      if (account.caCrt !== undefined) await write(join(directory, "ca.crt"), account.caCrt)
      env[options.serviceAccountDirEnv ?? "KUBE_SIM_SERVICEACCOUNT_DIR"] = directory
      if (server !== undefined) {
        const kubeconfig = join(directory, "kubeconfig")
        await write(kubeconfig, kubeconfigFor(server, account.token, account.namespace ?? namespace, account.caCrt === undefined ? undefined : join(directory, "ca.crt")))
        env["KUBECONFIG"] = kubeconfig
      }
    }
    const terminationLog = options.terminationMessageEnv === undefined ? undefined : join(root, "dev", "termination-log")
    if (terminationLog !== undefined) {
      await mkdir(dirname(terminationLog), { recursive: true })
      env[options.terminationMessageEnv!] = terminationLog
    }
    const args = (container.args ?? []).map((arg) => expandReferences(arg, podEnv))
    const argv = typeof options.command === "string" ? ["/bin/sh", "-c", `${options.command} "$@"`, "sh", ...args] : [...options.command, ...args]
    if (signal.aborted) return { exitCode: 137 }
    const exit = await new Promise<{ code: number; error?: string }>((resolve) => {
      let settled = false
      const settle = (result: { code: number; error?: string }) => {
        if (settled) return
        settled = true
        signal.removeEventListener("abort", abort)
        clearTimeout(killer)
        resolve(result)
      }
      let killer: ReturnType<typeof setTimeout> | undefined
      const child = spawn(argv[0]!, argv.slice(1), { env, cwd: options.cwd ?? process.cwd(), stdio: ["ignore", "pipe", "pipe"], detached: true })
      const kill = (name: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, name)
        } catch {
          child.kill(name)
        }
      }
      const abort = () => {
        kill("SIGTERM")
        killer = setTimeout(() => kill("SIGKILL"), options.killGraceMs ?? 2000)
      }
      signal.addEventListener("abort", abort, { once: true })
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => run.log(chunk))
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => run.log(chunk))
      child.on("error", (error) => settle({ code: 128, error: error.message }))
      child.on("close", (code, name) => settle({ code: code ?? signalCode(name) }))
    })
    if (exit.error !== undefined) {
      const message = `failed to start container process: exec: "${argv[0]}": ${exit.error}`
      run.log(`${message}\n`)
      return { exitCode: 128, reason: "StartError", message }
    }
    const message = terminationLog === undefined ? undefined : await readFile(terminationLog, "utf8").catch(() => undefined)
    return message === undefined || message === "" ? { exitCode: exit.code } : { exitCode: exit.code, message }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

/** A workload that runs `options.command` locally for containers of `options.image`. */
export const execImage = (options: ExecImageOptions): Workload => ({
  name: `exec:${options.image}`,
  matches: (_pod, container) => imageMatches(options.image, container.image),
  run: (run) => runExec(options, run),
  stopsGracefully: true
})

/** Parses `IMAGE=COMMAND` (the `--exec-image` flag): the command is a shell command line. */
export const parseExecImage = (flag: string): { image: string; command: string } | undefined => {
  const split = flag.indexOf("=")
  if (split <= 0 || split === flag.length - 1) return undefined
  return { image: flag.slice(0, split), command: flag.slice(split + 1) }
}
