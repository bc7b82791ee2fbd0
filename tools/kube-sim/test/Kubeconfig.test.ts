import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import { kubeconfigYaml } from "../src/kubeconfig.ts"

describe("kubeconfigYaml", () => {
  it("writes a v1 Config with one cluster, user and current context", () => {
    const text = kubeconfigYaml({ server: "http://127.0.0.1:40123", token: "sim-admin-token", namespace: "default" })
    expect(parse(text)).toEqual({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "aicr-sim", cluster: { server: "http://127.0.0.1:40123", "insecure-skip-tls-verify": true } }],
      contexts: [{ name: "aicr-sim", context: { cluster: "aicr-sim", user: "aicr-sim", namespace: "default" } }],
      "current-context": "aicr-sim",
      preferences: {},
      users: [{ name: "aicr-sim", user: { token: "sim-admin-token" } }]
    })
    expect(text.endsWith("\n")).toBe(true)
  })

  it("uses the given name everywhere and leaves the namespace out when none is given", () => {
    const config = parse(kubeconfigYaml({ server: "http://127.0.0.1:1", token: "t", name: "lab" }))
    expect(config["current-context"]).toBe("lab")
    expect(config.clusters[0].name).toBe("lab")
    expect(config.users[0].name).toBe("lab")
    expect(config.contexts[0]).toEqual({ name: "lab", context: { cluster: "lab", user: "lab" } })
  })

  it("trusts a CA for https servers that give one, without skipping verification", () => {
    const config = parse(kubeconfigYaml({ server: "https://127.0.0.1:6443", token: "t", caData: "LS0tLS1CRUdJTi==" }))
    expect(config.clusters[0].cluster).toEqual({ server: "https://127.0.0.1:6443", "certificate-authority-data": "LS0tLS1CRUdJTi==" })
  })

  it("skips verification for https without a CA, and obeys an explicit choice", () => {
    expect(parse(kubeconfigYaml({ server: "https://127.0.0.1:6443", token: "t" })).clusters[0].cluster["insecure-skip-tls-verify"]).toBe(true)
    expect(parse(kubeconfigYaml({ server: "https://127.0.0.1:6443", token: "t", insecureSkipTlsVerify: false })).clusters[0].cluster).toEqual({ server: "https://127.0.0.1:6443" })
    expect(parse(kubeconfigYaml({ server: "http://127.0.0.1:1", token: "t", insecureSkipTlsVerify: true })).clusters[0].cluster["insecure-skip-tls-verify"]).toBe(true)
  })

  it("refuses a CA together with skipped verification, as kubectl does", () => {
    expect(() => kubeconfigYaml({ server: "https://127.0.0.1:6443", token: "t", caData: "QQ==", insecureSkipTlsVerify: true })).toThrow(
      "kubeconfig: insecure-skip-tls-verify cannot be combined with certificate-authority-data"
    )
  })

  it("quotes strings so that any value reads back unchanged", () => {
    const awkward = ['yes', "null", "123", "- item", "a: b # c", "'single' \"double\" \\back", "line\nbreak\ttab", "nel\u0085ls\u2028ps\u2029", "del\u007f", "ünïcødé 🚀", "{[&*!|>%@`]}"]
    for (const value of awkward) {
      const config = parse(kubeconfigYaml({ server: "http://127.0.0.1:1", token: value, name: value, namespace: value }))
      expect(config.users[0].user.token).toBe(value)
      expect(config["current-context"]).toBe(value)
      expect(config.contexts[0].context.namespace).toBe(value)
    }
  })

  it("writes every value double-quoted and escapes YAML line breaks", () => {
    const text = kubeconfigYaml({ server: "http://127.0.0.1:1", token: "a\u2028b" })
    expect(text).toContain('    token: "a\\u2028b"\n')
    expect(text).toContain('    server: "http://127.0.0.1:1"\n')
  })
})
