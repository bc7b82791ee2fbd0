import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { goJsonSyntaxError } from "../src/server.ts"
import { eventually, type Harness, harness } from "./support/sim.ts"

let h: Harness
beforeAll(async () => {
  h = await harness()
  await h.core.createNamespace({ body: { metadata: { name: "errs" } } })
  await h.objects.create({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "widgets.example.com" },
    spec: {
      group: "example.com",
      scope: "Namespaced",
      names: { plural: "widgets", singular: "widget", kind: "Widget" },
      versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", x_kubernetes_preserve_unknown_fields: true } } }]
    }
  })
  await eventually(async () => ((await fetch(`${h.sim.url}/apis/example.com/v1`, { headers: auth() })).status === 200 ? true : undefined))
  await call("POST", "/apis/example.com/v1/namespaces/errs/widgets", JSON.stringify({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, spec: { size: 1 } }))
  await call("POST", "/api/v1/namespaces/errs/configmaps", JSON.stringify({ metadata: { name: "cm" } }))
})
afterAll(async () => {
  await h.sim.stop()
})

const auth = () => ({ authorization: `Bearer ${h.sim.adminToken}` })

interface Answer {
  readonly status: number
  readonly contentType: string | null
  readonly body: Record<string, any>
}

/** A raw request with the admin token; every answer checked here is JSON. */
const call = async (method: string, path: string, body?: string, contentType = "application/json"): Promise<Answer> => {
  const response = await fetch(`${h.sim.url}${path}`, { method, headers: { ...auth(), ...(body === undefined ? {} : { "content-type": contentType }) }, ...(body === undefined ? {} : { body }) })
  const answer = { status: response.status, contentType: response.headers.get("content-type"), body: (await response.json()) as Record<string, any> }
  expect(answer.contentType).toBe("application/json")
  return answer
}

const failureOf = (code: number, reason: string, message: string, details?: Record<string, unknown>) => ({
  status: code,
  contentType: "application/json",
  body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details === undefined ? {} : { details }), code }
})

const NOT_FOUND = failureOf(404, "NotFound", "the server could not find the requested resource", {})
const NOT_ALLOWED = failureOf(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

describe("paths and methods", () => {
  it.each([
    ["an unknown path", "/foo/bar"],
    ["an unknown group", "/apis/nope.example.com/v1/things"],
    ["an unknown version", "/api/v9/pods"],
    ["an unknown resource", "/api/v1/namespaces/errs/widgets"],
    ["a cluster-scoped resource under a namespace", "/api/v1/namespaces/errs/nodes"],
    ["an unknown subresource", "/api/v1/namespaces/errs/configmaps/cm/status"]
  ])("answers %s with a 404 Status", async (_what, path) => {
    expect(await call("GET", path)).toEqual(NOT_FOUND)
  })

  it.each([
    ["PUT", "/api/v1/namespaces/errs/configmaps", "{}"],
    ["PATCH", "/api/v1/namespaces/errs/configmaps", "{}"],
    ["POST", "/api/v1/namespaces/errs/configmaps/cm", "{}"],
    ["DELETE", "/api/v1/namespaces", undefined],
    ["POST", "/api/v1/namespaces/errs/pods/p/status", "{}"]
  ])("answers %s %s with 405 MethodNotAllowed", async (method, path, body) => {
    expect(await call(method, path, body)).toEqual(NOT_ALLOWED)
    expect((await call("GET", "/api/v1/namespaces/errs/configmaps/cm")).status).toBe(200)
  })
})

describe("request bodies", () => {
  it.each([
    ['{"metadata": {"name": "x"}', "unexpected end of JSON input", '{"metadata": {"name": "x"}'],
    ["{bad}", "invalid character 'b' looking for beginning of object key string", "{bad}"],
    ['{"metadata": {"name": "a-long-enough-name-to-cut"}} x', "invalid character 'x' after top-level value", '{"metadata": {"name": "a-long- ...'],
    ["not json", "invalid character 'o' in literal null (expecting 'u')", "6e6f74206a736f6e"],
    ["", "unexpected end of JSON input", "<empty>"],
    ["[1, 2]", 'json: cannot unmarshal array into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }', "5b312c20325d"],
    ['{"kind": 5}', "json: cannot unmarshal number into Go struct field .kind of type string", '{"kind": 5}']
  ])("answers the malformed body %j with 400 and Go's decoding error", async (body, why, summary) => {
    expect(await call("POST", "/api/v1/namespaces/errs/configmaps", body)).toEqual(
      failureOf(400, "BadRequest", `the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: ${why} (${summary})`)
    )
  })

  it("answers a malformed update body and a malformed patch with 400", async () => {
    expect(await call("PUT", "/api/v1/namespaces/errs/configmaps/cm", '{"data": {"a": 1,}}')).toEqual(
      failureOf(400, "BadRequest", `the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: invalid character '}' looking for beginning of object key string ({"data": {"a": 1,}})`)
    )
    expect(await call("PATCH", "/api/v1/namespaces/errs/configmaps/cm", '{"data": ', "application/merge-patch+json")).toEqual(failureOf(400, "BadRequest", "unexpected end of JSON input"))
  })

  it("answers a create without a name with 422 and the field of the cause", async () => {
    expect(await call("POST", "/api/v1/namespaces/errs/configmaps", JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: {} }))).toEqual(
      failureOf(422, "Invalid", 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required', {
        kind: "ConfigMap",
        causes: [{ reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name" }]
      })
    )
  })

  it("answers an invalid name with 422 and the RFC 1123 text", async () => {
    const subdomain =
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    expect(await call("POST", "/api/v1/namespaces/errs/configmaps", JSON.stringify({ metadata: { name: "Bad_Name" } }))).toEqual(
      failureOf(422, "Invalid", `ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ${subdomain}`, {
        name: "Bad_Name",
        kind: "ConfigMap",
        causes: [{ reason: "FieldValueInvalid", message: `Invalid value: "Bad_Name": ${subdomain}`, field: "metadata.name" }]
      })
    )
    const label =
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    const namespace = await call("POST", "/api/v1/namespaces", JSON.stringify({ metadata: { name: "a.b" } }))
    expect([namespace.status, namespace.body["message"]]).toEqual([422, `Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": ${label}`])
    const job = await call("POST", "/apis/batch/v1/namespaces/errs/jobs", JSON.stringify({ metadata: { name: "-job" } }))
    expect([job.status, job.body["details"]["group"], job.body["message"]]).toEqual([422, "batch", `Job.batch "-job" is invalid: metadata.name: Invalid value: "-job": ${subdomain}`])
  })

  it.each([
    [{ apiVersion: "v1", kind: "Secret", metadata: { name: "s" } }, 'Secret in version "v1" cannot be handled as a ConfigMap: converting (v1.Secret) to (core.ConfigMap): unknown conversion'],
    [{ apiVersion: "batch/v1", kind: "Job", metadata: { name: "j" } }, 'Job in version "v1" cannot be handled as a ConfigMap: converting (v1.Job) to (core.ConfigMap): unknown conversion'],
    [{ apiVersion: "v1", kind: "Gizmo", metadata: { name: "g" } }, 'Gizmo in version "v1" cannot be handled as a ConfigMap: no kind "Gizmo" is registered for version "v1" in scheme "pkg/api/legacyscheme/scheme.go:30"'],
    [{ apiVersion: "events.k8s.io/v1", kind: "Event", metadata: { name: "e" } }, 'Event in version "v1" cannot be handled as a ConfigMap: converting (v1.Event) to (core.ConfigMap): unknown conversion']
  ])("answers a body of another kind (%j) with 400", async (body, message) => {
    expect(await call("POST", "/api/v1/namespaces/errs/configmaps", JSON.stringify(body))).toEqual(failureOf(400, "BadRequest", message))
  })

  it("answers a body of the same kind in another version with 400", async () => {
    const answer = await call("POST", "/apis/events.k8s.io/v1/namespaces/errs/events", JSON.stringify({ apiVersion: "v1", kind: "Event", metadata: { name: "e" } }))
    expect(answer).toEqual(failureOf(400, "BadRequest", "the API version in the data (v1) does not match the expected API version (events.k8s.io/v1)"))
  })

  it("answers a custom resource of another kind with 422 on its kind field", async () => {
    const answer = await call("POST", "/apis/example.com/v1/namespaces/errs/widgets", JSON.stringify({ apiVersion: "example.com/v1", kind: "Other", metadata: { name: "o" } }))
    expect(answer).toEqual(
      failureOf(422, "Invalid", 'Other.example.com "o" is invalid: kind: Invalid value: "Other": must be Widget', {
        name: "o",
        group: "example.com",
        kind: "Other",
        causes: [{ reason: "FieldValueInvalid", message: 'Invalid value: "Other": must be Widget', field: "kind" }]
      })
    )
  })

  it("answers a namespace in the body that differs from the path with 400, on create and on update", async () => {
    const mismatch = failureOf(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
    expect(await call("POST", "/api/v1/namespaces/errs/configmaps", JSON.stringify({ metadata: { name: "n", namespace: "default" } }))).toEqual(mismatch)
    expect(await call("PUT", "/api/v1/namespaces/errs/configmaps/cm", JSON.stringify({ metadata: { name: "cm", namespace: "default" } }))).toEqual(mismatch)
    expect(await call("PUT", "/api/v1/namespaces/errs/configmaps/cm", JSON.stringify({ metadata: { name: "other" } }))).toEqual(
      failureOf(400, "BadRequest", "the name of the object (other) does not match the name on the URL (cm)")
    )
  })
})

describe("patch content types", () => {
  it("answers an unknown patch content type with 415 and the media types a built-in kind takes", async () => {
    expect(await call("PATCH", "/api/v1/namespaces/errs/configmaps/cm", '{"data": {"a": "b"}}', "text/plain")).toEqual(
      failureOf(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml")
    )
  })

  it("answers a strategic merge patch of a custom resource with 415 and the media types custom resources take", async () => {
    expect(await call("PATCH", "/apis/example.com/v1/namespaces/errs/widgets/w", '{"spec": {"size": 2}}', "application/strategic-merge-patch+json")).toEqual(
      failureOf(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
    )
    const merged = await call("PATCH", "/apis/example.com/v1/namespaces/errs/widgets/w", '{"spec": {"size": 2}}', "application/merge-patch+json")
    expect([merged.status, merged.body["spec"]]).toEqual([200, { size: 2 }])
  })

  it("answers 415 before looking the object up", async () => {
    const answer = await call("PATCH", "/api/v1/namespaces/errs/configmaps/missing", "{}", "application/xml")
    expect(answer.status).toBe(415)
  })
})

describe("lists, continue tokens and compaction", () => {
  const encode = (token: unknown) => Buffer.from(JSON.stringify(token)).toString("base64url")

  it.each([
    ["garbage!!", "invalid continue token: continue key is not valid: illegal base64 data at input byte 7"],
    ["abcde", "invalid continue token: continue key is not valid: illegal base64 data at input byte 4"],
    [Buffer.from("nope").toString("base64url"), "invalid continue token: continue key is not valid: invalid character 'o' in literal null (expecting 'u')"],
    [encode({ v: "v2", rv: 5, start: "a" }), "invalid continue token: continue key is not valid: server does not recognize this encoded version"],
    [encode({ v: "meta.k8s.io/v1", rv: 0, start: "a" }), "invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"],
    [encode({ v: "meta.k8s.io/v1", rv: 5, start: "" }), "invalid continue token: continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"]
  ])("answers the continue token %j with 400", async (token, message) => {
    expect(await call("GET", `/api/v1/namespaces/errs/configmaps?limit=1&continue=${token}`)).toEqual(failureOf(400, "BadRequest", message))
  })

  it("refuses a resourceVersion next to a continue token, and a resourceVersionMatch without a resourceVersion", async () => {
    const first = await call("GET", "/api/v1/namespaces?limit=1")
    const token = first.body["metadata"]["continue"] as string
    expect(await call("GET", `/api/v1/namespaces?limit=1&continue=${token}&resourceVersion=5`)).toEqual(failureOf(400, "BadRequest", "specifying resource version is not allowed when using continue"))
    expect(await call("GET", "/api/v1/namespaces?resourceVersionMatch=Exact")).toEqual(
      failureOf(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided', {
        group: "meta.k8s.io",
        kind: "ListOptions",
        causes: [{ reason: "FieldValueForbidden", message: "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided", field: "resourceVersionMatch" }]
      })
    )
  })

  it("answers a continue token from before a compaction with 410 and a token that continues at the latest version", async () => {
    await call("POST", "/api/v1/namespaces", JSON.stringify({ metadata: { name: "paged" } }))
    for (const name of ["a", "b", "c"]) await call("POST", "/api/v1/namespaces/paged/configmaps", JSON.stringify({ metadata: { name } }))
    const first = await call("GET", "/api/v1/namespaces/paged/configmaps?limit=1")
    expect([first.body["items"].map((item: { metadata: { name: string } }) => item.metadata.name), first.body["metadata"]["remainingItemCount"]]).toEqual([["a"], 2])
    await call("POST", "/api/v1/namespaces/paged/configmaps", JSON.stringify({ metadata: { name: "d" } }))
    h.sim.cluster.store.compactTo(h.sim.cluster.store.resourceVersion)
    const expired = await call("GET", `/api/v1/namespaces/paged/configmaps?limit=1&continue=${first.body["metadata"]["continue"]}`)
    const next = expired.body["metadata"]["continue"] as string
    expect(expired).toEqual({
      status: 410,
      contentType: "application/json",
      body: {
        kind: "Status",
        apiVersion: "v1",
        metadata: { continue: next },
        status: "Failure",
        message:
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
        reason: "Expired",
        code: 410
      }
    })
    expect(JSON.parse(Buffer.from(next, "base64url").toString())).toMatchObject({ v: "meta.k8s.io/v1", rv: -1 })
    const rest = await call("GET", `/api/v1/namespaces/paged/configmaps?continue=${next}`)
    expect([rest.status, rest.body["items"].map((item: { metadata: { name: string } }) => item.metadata.name), rest.body["metadata"]["resourceVersion"]]).toEqual([
      200,
      ["b", "c", "d"],
      String(h.sim.cluster.store.resourceVersion)
    ])
  })

  it("answers an exact list at a compacted resourceVersion with 410, and one at a version to come with 504", async () => {
    const old = h.sim.cluster.store.resourceVersion
    await call("POST", "/api/v1/namespaces/errs/configmaps", JSON.stringify({ metadata: { name: `exact-${old}` } }))
    const atOld = await call("GET", `/api/v1/namespaces/errs/configmaps?resourceVersion=${old}&resourceVersionMatch=Exact`)
    expect([atOld.status, atOld.body["metadata"]["resourceVersion"]]).toEqual([200, String(old)])
    h.sim.cluster.store.compactTo(h.sim.cluster.store.resourceVersion)
    const expired = failureOf(410, "Expired", "The resourceVersion for the provided list is too old.")
    expect(await call("GET", `/api/v1/namespaces/errs/configmaps?resourceVersion=${old}&resourceVersionMatch=Exact`)).toEqual(expired)
    expect(await call("GET", `/api/v1/namespaces/errs/configmaps?resourceVersion=${old}&limit=10`)).toEqual(expired)
    const future = h.sim.cluster.store.resourceVersion + 100
    expect(await call("GET", `/api/v1/namespaces/errs/configmaps?resourceVersion=${future}&resourceVersionMatch=Exact`)).toEqual(
      failureOf(504, "Timeout", `Too large resource version: ${future}, current: ${h.sim.cluster.store.resourceVersion}`, {
        causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
        retryAfterSeconds: 1
      })
    )
  })

  it("answers a watch from a compacted resourceVersion with a 200 stream whose first event is an ERROR Status 410", async () => {
    const old = h.sim.cluster.store.resourceVersion
    await call("POST", "/api/v1/namespaces/errs/configmaps", JSON.stringify({ metadata: { name: `watched-${old}` } }))
    h.sim.cluster.store.compactTo(h.sim.cluster.store.resourceVersion)
    const response = await fetch(`${h.sim.url}/api/v1/namespaces/errs/configmaps?watch=true&resourceVersion=${old}`, { headers: auth() })
    expect([response.status, response.headers.get("content-type")]).toEqual([200, "application/json"])
    const lines = (await response.text()).trim().split("\n").map((line) => JSON.parse(line) as { type: string; object: Record<string, unknown> })
    expect(lines).toEqual([
      {
        type: "ERROR",
        object: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `too old resource version: ${old} (${h.sim.cluster.store.compactedResourceVersion})`, reason: "Expired", code: 410 }
      }
    ])
  })
})

describe("Go's JSON syntax errors", () => {
  it.each([
    ["{}", undefined],
    ['{"a": [1, -2.5e+3, true, false, null, "\\u00e9\\n"]}', undefined],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a": 1 "b": 2}', "invalid character '\"' after object key:value pair"],
    ["[1 2]", "invalid character '2' after array element"],
    ["[1,]", "invalid character ']' looking for beginning of value"],
    ["01", "invalid character '1' after top-level value"],
    ["-", "invalid character ' ' in numeric literal"],
    ['{"a": 1.}', "invalid character '}' after decimal point in numeric literal"],
    ["1e", "invalid character ' ' in exponent of numeric literal"],
    ["tru", "invalid character ' ' in literal true (expecting 'e')"],
    ["fals!", "invalid character '!' in literal false (expecting 'e')"],
    ['"a\\x"', "invalid character 'x' in string escape code"],
    ['"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"],
    ['"a\tb"', "invalid character '\\t' in string literal"],
    ["{'a': 1}", "invalid character '\\'' looking for beginning of object key string"],
    ['{"a": 1', "unexpected end of JSON input"],
    ["   ", "unexpected end of JSON input"]
  ])("%j → %s", (text, message) => {
    expect(goJsonSyntaxError(Buffer.from(text))).toBe(message)
  })
})
