/** A kubeconfig for the simulator, written as YAML by hand: one cluster, one token user, one current context. */

export interface KubeconfigOptions {
  /** `http://127.0.0.1:PORT` or `https://…`. */
  readonly server: string
  /** Bearer token of the user. */
  readonly token: string
  /** Name of the cluster, user and context (default `aicr-sim`). */
  readonly name?: string | undefined
  /** Default namespace of the context. */
  readonly namespace?: string | undefined
  /**
   * Skip server certificate checks. Defaults to true for plain `http://` servers (client-node wants it there) and
   * for servers without `caData`; kubectl refuses it together with a CA, so both at once is an error.
   */
  readonly insecureSkipTlsVerify?: boolean | undefined
  /** Base64 PEM of the CA that signed the server's certificate. */
  readonly caData?: string | undefined
}

const YAML_UNSAFE = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g

/** A YAML double-quoted scalar: JSON escaping, plus escapes for what YAML reads as line breaks or non-printable. */
const quote = (value: string): string =>
  JSON.stringify(value).replace(YAML_UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** The kubeconfig (`apiVersion: v1`, `kind: Config`) that points kubectl and client-node at `server` with `token`. */
export const kubeconfigYaml = (options: KubeconfigOptions): string => {
  const name = options.name ?? "aicr-sim"
  const insecure = options.insecureSkipTlsVerify ?? (options.server.startsWith("http://") || options.caData === undefined)
  if (insecure && options.caData !== undefined) {
    throw new Error("kubeconfig: insecure-skip-tls-verify cannot be combined with certificate-authority-data")
  }
  const lines = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- cluster:",
    ...(options.caData === undefined ? [] : [`    certificate-authority-data: ${quote(options.caData)}`]),
    ...(insecure ? ["    insecure-skip-tls-verify: true"] : []),
    `    server: ${quote(options.server)}`,
    `  name: ${quote(name)}`,
    "contexts:",
    "- context:",
    `    cluster: ${quote(name)}`,
    ...(options.namespace === undefined ? [] : [`    namespace: ${quote(options.namespace)}`]),
    `    user: ${quote(name)}`,
    `  name: ${quote(name)}`,
    `current-context: ${quote(name)}`,
    "preferences: {}",
    "users:",
    `- name: ${quote(name)}`,
    "  user:",
    `    token: ${quote(options.token)}`
  ]
  return `${lines.join("\n")}\n`
}
