import { parseArgs } from "node:util"
import { type ExecImageOptions, type KubeObject, PROFILE_NAMES, ProfileError, type ProfileOptions, parseExecImage, readSeedFile, SeedFileError, startSim } from "./index.ts"

const usage = `usage: aicr-sim start [--profile empty|${PROFILE_NAMES.join("|")}|FILE] [--nodes N] [--seed N] [--time-scale X]
                      [--exec-image IMAGE=COMMAND]... [--seed-file FILE] [--port N] [--dir DIR] [--insecure-http]`

const fail = (message: string): void => {
  process.stderr.write(`aicr-sim: ${message}\n`)
  process.exitCode = 2
}

const main = async (): Promise<void> => {
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        profile: { type: "string", default: "empty" },
        nodes: { type: "string" },
        seed: { type: "string" },
        "time-scale": { type: "string" },
        "exec-image": { type: "string", multiple: true },
        "seed-file": { type: "string" },
        port: { type: "string" },
        dir: { type: "string" },
        "insecure-http": { type: "boolean" },
        help: { type: "boolean" }
      }
    })
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}\n${usage}`)
    return
  }
  const { positionals, values } = parsed
  if (values.help === true) {
    process.stdout.write(`${usage}\n`)
    return
  }
  if (positionals[0] !== "start" || positionals.length !== 1) {
    process.stderr.write(`${usage}\n`)
    process.exitCode = 2
    return
  }
  const port = values.port === undefined ? 0 : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fail(`--port must be a port number (got "${values.port}")`)
  const profileOptions: { -readonly [K in keyof ProfileOptions]: ProfileOptions[K] } = {}
  if (values.nodes !== undefined) {
    const nodes = Number(values.nodes)
    if (!Number.isInteger(nodes) || nodes < 0) return fail(`--nodes must be a whole number of GPU nodes (got "${values.nodes}")`)
    profileOptions.nodes = nodes
  }
  if (values.seed !== undefined) {
    const seed = Number(values.seed)
    if (!Number.isInteger(seed)) return fail(`--seed must be an integer (got "${values.seed}")`)
    profileOptions.seed = seed
  }
  if (values["time-scale"] !== undefined) {
    const scale = Number(values["time-scale"])
    if (!(scale > 0)) return fail(`--time-scale must be a positive number (got "${values["time-scale"]}")`)
    profileOptions.timeScale = scale
  }
  const execImages: Array<Pick<ExecImageOptions, "image" | "command">> = []
  for (const flag of values["exec-image"] ?? []) {
    const mapping = parseExecImage(flag)
    if (mapping === undefined) return fail(`--exec-image must be IMAGE=COMMAND (got "${flag}")`)
    execImages.push(mapping)
  }
  const profile = values.profile === "empty" ? undefined : values.profile
  if (profile === undefined && (Object.keys(profileOptions).length > 0 || execImages.length > 0)) {
    return fail("--nodes, --seed, --time-scale and --exec-image need a cluster profile (--profile h100-eks, h100-gke, dev or a file)")
  }
  const seedFile = values["seed-file"]
  let seeds: ReadonlyArray<KubeObject> = []
  if (seedFile !== undefined) {
    try {
      seeds = readSeedFile(seedFile)
    } catch (error) {
      if (error instanceof SeedFileError) return fail(error.message)
      throw error
    }
  }
  let sim
  try {
    sim = await startSim({ port, dir: values.dir, tls: values["insecure-http"] !== true, profile, profileOptions, execImages })
  } catch (error) {
    if (error instanceof ProfileError) return fail(error.message)
    throw error
  }
  for (const [index, object] of seeds.entries()) {
    try {
      sim.seed([object])
    } catch (error) {
      const namespace = object.metadata.namespace === undefined ? "" : `${object.metadata.namespace}/`
      await sim.stop()
      return fail(`${seedFile}: object ${index + 1} (${object.kind} ${namespace}${object.metadata.name}): ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  process.stdout.write(`${sim.kubeconfigPath}\n`)
  const described = sim.profile === undefined ? "empty" : `${sim.profile.name}, seed ${sim.profile.seed}, time scale ${sim.profile.timeScale}`
  const seeded = seedFile === undefined ? "" : `, ${seeds.length} objects from ${seedFile}`
  process.stderr.write(`aicr-sim: serving ${sim.url} (profile ${described}${seeded}); export KUBECONFIG=${sim.kubeconfigPath}\n`)
  const stop = () => {
    void sim.stop().then(() => process.exit(0))
  }
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
}

await main()
