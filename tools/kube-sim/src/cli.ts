import { parseArgs } from "node:util"
import { startSim } from "./index.ts"

const PROFILES = ["empty"]
const usage = "usage: aicr-sim start [--profile empty] [--port N] [--dir DIR] [--insecure-http]"

const main = async (): Promise<void> => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      profile: { type: "string", default: "empty" },
      port: { type: "string" },
      dir: { type: "string" },
      "insecure-http": { type: "boolean" },
      help: { type: "boolean" }
    }
  })
  if (values.help === true) {
    process.stdout.write(`${usage}\n`)
    return
  }
  if (positionals[0] !== "start" || positionals.length !== 1) {
    process.stderr.write(`${usage}\n`)
    process.exitCode = 2
    return
  }
  if (!PROFILES.includes(values.profile)) {
    process.stderr.write(`aicr-sim: unknown profile "${values.profile}" (known: ${PROFILES.join(", ")})\n`)
    process.exitCode = 2
    return
  }
  const port = values.port === undefined ? 0 : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`aicr-sim: --port must be a port number (got "${values.port}")\n`)
    process.exitCode = 2
    return
  }
  const sim = await startSim({ port, dir: values.dir, tls: values["insecure-http"] !== true })
  process.stdout.write(`${sim.kubeconfigPath}\n`)
  process.stderr.write(`aicr-sim: serving ${sim.url} (profile ${values.profile}); export KUBECONFIG=${sim.kubeconfigPath}\n`)
  const stop = () => {
    void sim.stop().then(() => process.exit(0))
  }
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
}

await main()
