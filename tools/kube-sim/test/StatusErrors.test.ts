import { describe, expect, it } from "vitest"
import * as Errors from "../src/errors.ts"

describe("Status error bodies", () => {
  it("lists several invalid fields in brackets, one without, as a real server does", () => {
    const type = { group: "batch", kind: "Job" }
    expect(Errors.invalid(type, "j", [{ field: "metadata.name", message: "Required value" }]).message).toBe("Job.batch \"j\" is invalid: metadata.name: Required value")
    const two = Errors.invalid(type, "j", [{ field: "spec.template", message: "Required value" }, { field: "spec.parallelism", message: "Invalid value: -1" }])
    expect(two.message).toBe("Job.batch \"j\" is invalid: [spec.template: Required value, spec.parallelism: Invalid value: -1]")
    expect(two.body.details?.causes).toEqual([
      { reason: "FieldValueInvalid", message: "Required value", field: "spec.template" },
      { reason: "FieldValueInvalid", message: "Invalid value: -1", field: "spec.parallelism" }
    ])
  })

  it("answers 405 with empty details and 429 with a Retry-After header", () => {
    expect(Errors.methodNotAllowed().body).toEqual({
      kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure",
      message: "the server does not allow this method on the requested resource", reason: "MethodNotAllowed", details: {}, code: 405
    })
    const limited = Errors.tooManyRequests(3)
    expect(limited.headers).toEqual({ "Retry-After": "3" })
    expect(limited.body.details).toEqual({ retryAfterSeconds: 3 })
  })
})
