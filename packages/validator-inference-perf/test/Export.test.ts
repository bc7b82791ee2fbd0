import { readdirSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Export from "../src/Export.ts"

const DIR = new URL("./fixtures/aiperf/", import.meta.url)
const read = (name: string) => readFileSync(new URL(name, DIR), "utf8")

const FLAT_TTFT = "flat-format-with-ttft_tests-fixtures-operator_ui-aiperf-llama3-c128_profile_export_aiperf.json"
const NON_STREAMING = "flat-format-v0.8.0-nonstreaming_tests-_artifacts-audit-baseline-chat-bare_profile_export_aiperf.json"
const LEGACY = "legacy-records-format_examples-artifacts-run1_profile_export_aiperf.json"

const CANCELLED_499 = "AIPerf error summary: 11 × RequestCancellationError (code 499): Request was cancelled after 0.000 seconds"
const LEGACY_REASON = 'the AIPerf export uses the legacy layout (metrics under "records", aiperf before October 2025), which aicr ' +
  `does not read: rebuild the aiperf-bench image with a current aiperf; ${CANCELLED_499}`
const NO_TTFT = "the AIPerf export has no time_to_first_token.p99 (ms); AIPerf reports TTFT only for streaming runs"

/** The upstream unit-test export (`TestParseAIPerfOutput`). */
const UPSTREAM = JSON.stringify({
  output_token_throughput: { unit: "tokens/sec", avg: 5667.5 },
  time_to_first_token: { unit: "ms", avg: 45.2, p99: 84.1, min: 20.0, max: 95.3 }
})

const measured = (parsed: Export.Parsed) => {
  if (parsed._tag !== "Measured") throw new Error(`expected a measurement, got: ${parsed.reason}`)
  return parsed.measurement
}

const reason = (parsed: Export.Parsed) => {
  if (parsed._tag !== "Inconclusive") throw new Error(`expected an inconclusive result, got ${JSON.stringify(parsed.measurement)}`)
  return parsed.reason
}

describe("every recorded AIPerf export", () => {
  const exports = readdirSync(DIR).filter((name) => name.endsWith("_profile_export_aiperf.json")).sort()

  it("is one of the three this file knows", () => {
    expect(exports).toEqual([NON_STREAMING, FLAT_TTFT, LEGACY])
  })

  it.each(exports)("%s gives a measurement or a reason, never a zero for a missing key", (name) => {
    const parsed = Export.parse(read(name))
    if (parsed._tag === "Measured") {
      expect(parsed.measurement.throughput).toBeGreaterThan(0)
      expect(parsed.measurement.ttftP99Ms).toBeGreaterThan(0)
    } else {
      expect(parsed.reason).not.toBe("")
    }
    expect(parsed.raw).toBe(read(name).trim())
  })
})

describe("parse", () => {
  it("reads throughput avg and TTFT p99 of the flat export", () => {
    expect(Export.parse(read(FLAT_TTFT))).toEqual({
      _tag: "Measured",
      measurement: {
        throughput: 5388.8,
        ttftP99Ms: 195,
        requestCount: undefined,
        errorRequestCount: undefined,
        totalOutputTokens: undefined,
        errors: [],
        aiperfVersion: "0.0.0-e2e",
        schemaVersion: "1.0.0"
      },
      raw: read(FLAT_TTFT).trim(),
      source: "logs"
    })
  })

  it("a non-streaming export has no TTFT: inconclusive, not 0 ms", () => {
    expect(reason(Export.parse(read(NON_STREAMING)))).toBe(NO_TTFT)
  })

  it("the legacy records layout is inconclusive with AIPerf's own error summary, not 0 tokens/s", () => {
    expect(reason(Export.parse(read(LEGACY)))).toBe(LEGACY_REASON)
  })

  it("reads upstream's unit-test export", () => {
    expect(measured(Export.parse(UPSTREAM))).toMatchObject({ throughput: 5667.5, ttftP99Ms: 84.1 })
  })

  it("keeps the request counts and converts a TTFT given in seconds", () => {
    expect(measured(Export.parse(JSON.stringify({
      output_token_throughput: { unit: "tokens/sec", avg: 38367.2 },
      time_to_first_token: { unit: "s", p99: 0.1279 },
      request_count: { unit: "requests", avg: 1024 },
      error_request_count: { unit: "requests", avg: 3 },
      total_output_tokens: { unit: "tokens", avg: 131072 },
      error_summary: [{ error_details: { code: 503, type: "HTTPError", message: "Service Unavailable" }, count: 3 }]
    })))).toEqual({
      throughput: 38367.2,
      ttftP99Ms: 127.9,
      requestCount: 1024,
      errorRequestCount: 3,
      totalOutputTokens: 131072,
      errors: [{ type: "HTTPError", code: 503, message: "Service Unavailable", count: 3 }],
      aiperfVersion: undefined,
      schemaVersion: undefined
    })
  })

  it.each([
    [
      "zero output tokens",
      { output_token_throughput: { unit: "tokens/sec", avg: 0 }, time_to_first_token: { unit: "ms", p99: 0 }, request_count: { avg: 200 } },
      "AIPerf measured zero output tokens: the endpoint answered without generating text (workers not serving?), so there is no throughput to judge"
    ],
    [
      "zero output tokens in total",
      { output_token_throughput: { avg: 0.5 }, time_to_first_token: { p99: 10 }, total_output_tokens: { avg: 0 } },
      "AIPerf measured zero output tokens: the endpoint answered without generating text (workers not serving?), so there is no throughput to judge"
    ],
    [
      "zero successful requests",
      {
        request_count: { unit: "requests", avg: 0 },
        error_request_count: { unit: "requests", avg: 200 },
        error_summary: [{ error_details: { code: 503, type: "HTTPError", message: "no instances" }, count: 200 }]
      },
      "AIPerf completed no successful request (200 failed); AIPerf error summary: 200 × HTTPError (code 503): no instances"
    ],
    [
      "only failed requests",
      { error_request_count: { avg: 16 }, error_summary: [{ error_details: { type: "TimeoutError" }, count: 16 }] },
      "AIPerf completed no successful request (16 failed); AIPerf error summary: 16 × TimeoutError"
    ],
    [
      "a cancelled run",
      { was_cancelled: true, output_token_throughput: { avg: 10 }, time_to_first_token: { p99: 10 } },
      "AIPerf reports the benchmark was cancelled before it finished (was_cancelled: true)"
    ],
    [
      "no throughput",
      { time_to_first_token: { unit: "ms", p99: 84.1 } },
      "the AIPerf export has no output_token_throughput.avg (tokens/sec)"
    ],
    [
      "a null throughput",
      { output_token_throughput: { unit: "tokens/sec", avg: null }, time_to_first_token: { unit: "ms", p99: 84.1 } },
      "the AIPerf export has no output_token_throughput.avg (tokens/sec)"
    ],
    [
      "a negative TTFT",
      { output_token_throughput: { avg: 5 }, time_to_first_token: { p99: -1 } },
      "the AIPerf export's time_to_first_token.p99 is -1, not a measurement"
    ],
    [
      "TTFT in tokens",
      { output_token_throughput: { avg: 5 }, time_to_first_token: { unit: "tokens", p99: 1 } },
      'the AIPerf export gives time_to_first_token in "tokens", which is not a unit of time'
    ],
    [
      "throughput in requests",
      { output_token_throughput: { unit: "requests/sec", avg: 5 }, time_to_first_token: { p99: 1 } },
      'the AIPerf export gives output_token_throughput in "requests/sec", not tokens/sec'
    ]
  ])("%s is inconclusive", (_, document, expected) => {
    expect(reason(Export.parse(JSON.stringify(document)))).toBe(expected)
  })

  it("shows five kinds of error, then counts the rest", () => {
    const error_summary = Array.from({ length: 7 }, (_, index) => ({ error_details: { code: 500 + index, type: "E", message: "x".repeat(250) }, count: index + 1 }))
    const text = reason(Export.parse(JSON.stringify({ request_count: { avg: 0 }, error_summary })))
    expect(text).toBe(
      "AIPerf completed no successful request; AIPerf error summary: " +
        [0, 1, 2, 3, 4].map((index) => `${index + 1} × E (code ${500 + index}): ${"x".repeat(199)}…`).join("; ") +
        "; and 2 more kinds of error"
    )
  })

  it.each([
    ["{bad", "failed to parse AIPerf JSON output: 4 bytes that are not valid JSON"],
    ["", "failed to parse AIPerf JSON output: 0 bytes that are not valid JSON"],
    ["[1,2]", "the AIPerf export does not have the expected shape: Expected object"],
    ['{"time_to_first_token": {"p99": "84.1"}}', 'the AIPerf export does not have the expected shape: Expected number | null | undefined   at ["time_to_first_token"]["p99"]']
  ])("refuses %j", (text, expected) => {
    expect(reason(Export.parse(text))).toBe(expected)
  })
})

describe("extract and fromLogs", () => {
  const framed = (body: string) => `starting\n${Export.RESULT_SENTINEL}\n${body}\n${Export.RESULT_SENTINEL}\ndone\n`

  it("takes the text between the first two sentinels, ignoring noise with braces", () => {
    const logs = `{"noise": 1}\nINFO {warming}\n${framed(UPSTREAM)}{"after": true}\n${Export.RESULT_SENTINEL}\n{"third": 1}`
    expect(Export.extract(logs)).toEqual({ _tag: "Ok", json: UPSTREAM })
    expect(measured(Export.fromLogs(logs))).toMatchObject({ throughput: 5667.5, ttftP99Ms: 84.1 })
  })

  it("names a missing start sentinel with the log length in bytes", () => {
    expect(Export.extract("aiperf: error: connection refused\n{}")).toEqual({
      _tag: "Error",
      message: 'AIPerf result sentinel "===AIPERF-RESULT===" not found in pod logs (length=36); benchmark likely failed'
    })
    expect(Export.fromLogs("é")).toEqual({
      _tag: "Inconclusive",
      reason: 'AIPerf result sentinel "===AIPERF-RESULT===" not found in pod logs (length=2); benchmark likely failed',
      raw: undefined,
      source: "logs"
    })
  })

  it("names a missing end sentinel", () => {
    expect(Export.extract(`${Export.RESULT_SENTINEL}\n{"output_token_throughput": {`)).toEqual({
      _tag: "Error",
      message: "AIPerf result end sentinel not found in pod logs; benchmark may have been truncated"
    })
  })

  it("reports malformed JSON between the sentinels", () => {
    expect(reason(Export.fromLogs(framed("{not json")))).toBe("failed to parse AIPerf JSON output: 9 bytes that are not valid JSON")
  })

  it("reads the recorded pod log of the aiperf-bench entrypoint", () => {
    const parsed = Export.fromLogs(read("entrypoint-logs_flat-format-with-ttft.log"))
    expect(parsed).toMatchObject({ _tag: "Measured", raw: read(FLAT_TTFT).trim(), source: "logs" })
    expect(measured(parsed)).toMatchObject({ throughput: 5388.8, ttftP99Ms: 195 })
    expect(reason(Export.fromLogs(read("entrypoint-logs_flat-format-v0.8.0-nonstreaming.log")))).toBe(NO_TTFT)
    expect(reason(Export.fromLogs(read("entrypoint-logs_legacy-records-format.log")))).toBe(LEGACY_REASON)
    expect(reason(Export.fromLogs(read("entrypoint-logs_aiperf-exit-1.log")))).toBe(
      'AIPerf result sentinel "===AIPERF-RESULT===" not found in pod logs (length=93); benchmark likely failed'
    )
  })
})

describe("fromTerminationMessage", () => {
  it("reads the entrypoint's summary of a good run", () => {
    const summary = read("entrypoint-summary_flat-format-with-ttft.json")
    expect(Export.fromTerminationMessage(summary)).toEqual({
      _tag: "Measured",
      measurement: {
        throughput: 5388.8,
        ttftP99Ms: 195,
        requestCount: undefined,
        errorRequestCount: undefined,
        totalOutputTokens: undefined,
        errors: [],
        aiperfVersion: "0.0.0-e2e",
        schemaVersion: undefined
      },
      raw: summary.trim(),
      source: "termination-message"
    })
  })

  it("a summary with a null TTFT is inconclusive, as the export is", () => {
    expect(reason(Export.fromTerminationMessage(read("entrypoint-summary_flat-format-v0.8.0-nonstreaming.json")))).toBe(NO_TTFT)
  })

  it("a summary of a legacy export has no metrics, and keeps AIPerf's error summary", () => {
    expect(reason(Export.fromTerminationMessage(read("entrypoint-summary_legacy-records-format.json")))).toBe(
      `the AIPerf export has no output_token_throughput.avg (tokens/sec); ${CANCELLED_499}`
    )
  })

  it("a failed run gives the entrypoint's reason", () => {
    expect(reason(Export.fromTerminationMessage(read("entrypoint-summary_aiperf-exit-1.json")))).toBe(
      "AIPerf produced no result: aiperf exited with code 1 (aiperf-bench exit code 1)"
    )
  })

  it("counts the error kinds the summary had to drop", () => {
    const summary = {
      ...JSON.parse(read("entrypoint-summary_aiperf-exit-1.json")),
      error: "aiperf exited with code 2",
      exit_code: 2,
      error_summary: [{ code: 429, type: "HTTPError", message: "Too Many Requests", count: 12 }],
      error_summary_omitted: 3
    }
    expect(reason(Export.fromTerminationMessage(JSON.stringify(summary)))).toBe(
      "AIPerf produced no result: aiperf exited with code 2 (aiperf-bench exit code 2); " +
        "AIPerf error summary: 12 × HTTPError (code 429): Too Many Requests; and 3 more kinds of error"
    )
  })

  it("reports anything else in the pod's own words", () => {
    expect(Export.fromTerminationMessage("  ")).toEqual({
      _tag: "Inconclusive",
      reason: "the AIPerf pod left no termination message",
      raw: undefined,
      source: "termination-message"
    })
    expect(reason(Export.fromTerminationMessage("OOMKilled"))).toBe(
      'the AIPerf pod\'s termination message is not an aicr.aiperf-bench/summary/v1 summary: "OOMKilled"'
    )
    expect(reason(Export.fromTerminationMessage('{"schema":"aicr.aiperf-bench/summary/v0","status":"ok"}'))).toBe(
      'the AIPerf pod\'s termination message is not an aicr.aiperf-bench/summary/v1 summary: "{\\"schema\\":\\"aicr.aiperf-bench/summary/v0\\",\\"status\\":\\"ok\\"}"'
    )
  })
})
