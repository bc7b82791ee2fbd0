import { describe, expect, it } from "vitest"
import * as CheckRecord from "../src/CheckRecord.ts"

const PASSED = CheckRecord.make("passed", 'NCCL all-reduce bus bandwidth 489.12 GB/s satisfies constraint ">= 250"', {
  metrics: [
    { name: "nccl-all-reduce-bw", value: 489.12, unit: "GB/s", threshold: ">= 250", passed: true },
    { name: "nccl-ranks", value: 16, unit: "ranks" }
  ],
  artifacts: [{ name: "nccl-all-reduce.log", contentType: "text/plain", content: "# nccl-tests\n#  size  count\n" }]
})

const bytes = (text: string) => Buffer.byteLength(text, "utf8")

describe("CheckRecord", () => {
  it("maps each status to aicr check's exit code", () => {
    expect(CheckRecord.STATUSES.map(CheckRecord.exitCode)).toEqual([0, 1, 2, 3])
  })

  it("encodes a record as one JSON line and decodes it back", () => {
    const line = CheckRecord.encode(PASSED)
    expect(line).not.toContain("\n")
    expect(JSON.parse(line)).toEqual({
      status: "passed",
      message: PASSED.message,
      metrics: [
        { name: "nccl-all-reduce-bw", value: 489.12, unit: "GB/s", threshold: ">= 250", passed: true },
        { name: "nccl-ranks", value: 16, unit: "ranks" }
      ],
      artifacts: [{ name: "nccl-all-reduce.log", contentType: "text/plain", content: "# nccl-tests\n#  size  count\n" }]
    })
    expect(CheckRecord.decode(line)).toEqual(PASSED)
  })

  it("decodes a record without metrics and artifacts, ignores unknown fields, and refuses what is not a record", () => {
    expect(CheckRecord.decode('{"status":"skipped","message":"no constraint","future":1}')).toEqual(CheckRecord.make("skipped", "no constraint"))
    expect(CheckRecord.decode('{"status":"ok","message":"x"}')).toBeUndefined()
    expect(CheckRecord.decode('{"status":"passed"}')).toBeUndefined()
    expect(CheckRecord.decode('{"status":"passed","message":"m","metrics":[{"name":"x"}]}')).toBeUndefined()
    expect(CheckRecord.decode("not json")).toBeUndefined()
    expect(CheckRecord.decode("[]")).toBeUndefined()
  })

  it("writes a non-finite metric value as null and reads it back as NaN", () => {
    const record = CheckRecord.make("failed", "m", { metrics: [{ name: "x", value: Number.NaN, unit: "GB/s" }] })
    expect(CheckRecord.encode(record)).toContain('"value":null')
    expect(CheckRecord.decode(CheckRecord.encode(record))?.metrics[0]?.value).toBeNaN()
  })

  describe("block and fromLog", () => {
    it("prints the begin line, the record, the end line", () => {
      expect(CheckRecord.block(PASSED)).toBe(`##AICR-OUTCOME-BEGIN##\n${CheckRecord.encode(PASSED)}\n##AICR-OUTCOME-END##\n`)
    })

    it("finds the record among progress lines of a pod log (stdout and stderr merged)", () => {
      const log = "phase performance: nccl-all-reduce-bw\n  nccl-all-reduce-bw: started\n" + CheckRecord.block(PASSED) + "phase performance: passed\n"
      expect(CheckRecord.fromLog(log)).toEqual(PASSED)
    })

    it("reads CRLF logs and a stderr line interleaved inside the block", () => {
      const log = `progress\r\n##AICR-OUTCOME-BEGIN##\r\n  warning: slow release\r\n${CheckRecord.encode(PASSED)}\r\n##AICR-OUTCOME-END##\r\n`
      expect(CheckRecord.fromLog(log)).toEqual(PASSED)
    })

    it("takes the last complete block", () => {
      const first = CheckRecord.make("failed", "first")
      const last = CheckRecord.make("inconclusive", "last")
      expect(CheckRecord.fromLog(CheckRecord.block(first) + "more\n" + CheckRecord.block(last))).toEqual(last)
    })

    it("is undefined without a block, for a block without its end, and for a cut JSON line", () => {
      expect(CheckRecord.fromLog("")).toBeUndefined()
      expect(CheckRecord.fromLog("phase performance: nccl-all-reduce-bw\nKilled\n")).toBeUndefined()
      expect(CheckRecord.fromLog(`##AICR-OUTCOME-BEGIN##\n${CheckRecord.encode(PASSED)}\n`)).toBeUndefined()
      expect(CheckRecord.fromLog(`##AICR-OUTCOME-BEGIN##\n${CheckRecord.encode(PASSED).slice(0, 40)}\n##AICR-OUTCOME-END##\n`)).toBeUndefined()
    })

    it("keeps an earlier complete block when a later one was cut off", () => {
      const log = CheckRecord.block(PASSED) + `##AICR-OUTCOME-BEGIN##\n{"status":"fai`
      expect(CheckRecord.fromLog(log)).toEqual(PASSED)
    })

    it("withoutRecord leaves the other lines of the log", () => {
      const log = "a\n" + CheckRecord.block(PASSED) + "b\n"
      expect(CheckRecord.withoutRecord(log)).toBe("a\nb\n")
      expect(CheckRecord.withoutRecord("a\nb\n")).toBe("a\nb\n")
    })
  })

  describe("compact and fromTerminationMessage", () => {
    it("keeps status, message and metrics, never the artifacts", () => {
      const text = CheckRecord.compact(PASSED)
      expect(JSON.parse(text)).toEqual({ status: "passed", message: PASSED.message, metrics: PASSED.metrics })
      expect(CheckRecord.fromTerminationMessage(text)).toEqual({ ...PASSED, artifacts: [] })
    })

    it("cuts a long message to fit 4096 bytes, saying how much was cut, and keeps the metrics", () => {
      const record = CheckRecord.make("failed", "é".repeat(5000), { metrics: PASSED.metrics })
      const text = CheckRecord.compact(record)
      expect(bytes(text)).toBeLessThanOrEqual(4096)
      expect(bytes(text)).toBeGreaterThan(4000)
      const read = CheckRecord.fromTerminationMessage(text)!
      expect(read.status).toBe("failed")
      expect(read.metrics).toEqual(PASSED.metrics)
      expect(read.message).toMatch(/^é+… \[\d+ more characters cut\]$/)
      const kept = read.message.indexOf("…")
      expect(read.message).toContain(`[${5000 - kept} more characters cut]`)
    })

    it("counts JSON escapes: a message of quotes and newlines still fits", () => {
      const text = CheckRecord.compact(CheckRecord.make("inconclusive", '"\n\u0001'.repeat(3000)))
      expect(bytes(text)).toBeLessThanOrEqual(4096)
      expect(CheckRecord.fromTerminationMessage(text)?.status).toBe("inconclusive")
    })

    it("drops the metrics when they leave too little room for the message, and says so", () => {
      const metrics = Array.from({ length: 80 }, (_, index) => ({ name: `metric-number-${index}`, value: index * 1.5, unit: "GB/s", threshold: ">= 100" }))
      const text = CheckRecord.compact(CheckRecord.make("passed", "m".repeat(3000), { metrics }))
      expect(bytes(text)).toBeLessThanOrEqual(4096)
      const read = CheckRecord.fromTerminationMessage(text)!
      expect(read.metrics).toEqual([])
      expect(read.message).toBe(`${"m".repeat(3000)} [80 metrics omitted: see the pod log]`)
      const longer = CheckRecord.fromTerminationMessage(CheckRecord.compact(CheckRecord.make("passed", "m".repeat(5000), { metrics })))!
      expect(longer.message).toMatch(/^m+… \[\d+ more characters cut\] \[80 metrics omitted: see the pod log\]$/)
    })

    it("keeps small metrics sets and a short message whole", () => {
      const record = CheckRecord.make("skipped", "no nccl-all-reduce-bw constraint in recipe")
      expect(CheckRecord.compact(record)).toBe('{"status":"skipped","message":"no nccl-all-reduce-bw constraint in recipe","metrics":[]}')
    })

    it("reads a termination message with a trailing newline and refuses one that is not a record", () => {
      expect(CheckRecord.fromTerminationMessage('{"status":"failed","message":"m","metrics":[]}\n')).toEqual(CheckRecord.make("failed", "m"))
      expect(CheckRecord.fromTerminationMessage("panic: runtime error")).toBeUndefined()
      expect(CheckRecord.fromTerminationMessage("")).toBeUndefined()
    })
  })
})
