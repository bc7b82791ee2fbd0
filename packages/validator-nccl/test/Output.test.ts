import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Output from "../src/Output.ts"

const read = (name: string) => readFileSync(new URL(`./fixtures/nccl/${name}`, import.meta.url), "utf8")

const EKS = read("aicr-v0.11.1-unit-test-fixture-eks-16G.txt")
const GKE = read("aicr-v0.11.1-unit-test-fixture-gke-8G.txt")
const LAMBDA = read("lambda-b200-multinode-nccl-tests-2.17.6-all_reduce_perf.txt")
const LEGACY = read("aws-eks-p4d-efa-launcher-log-legacy-format.txt")

const measured = (parsed: Output.Parsed) => {
  if (parsed._tag !== "Measured") throw new Error(`expected a measurement, got: ${parsed.reason}`)
  return parsed
}

const inconclusive = (parsed: Output.Parsed) => {
  if (parsed._tag !== "Inconclusive") throw new Error(`expected no measurement, got ${parsed.measurement.busBw} GB/s`)
  return parsed
}

/** The out-of-place busbw as printed in the last row, by column position (8th field with root, 7th without). */
const printedLastBusBw = (text: string, withRoot: boolean) => {
  const rows = text.split("\n").map((line) => line.replace(/^\[\d+,\d+\]<stdout>:/, "").trim()).filter((line) => /^\d+\s+\d+\s+float/.test(line))
  return rows.at(-1)!.split(/\s+/)[withRoot ? 7 : 6]
}

/** Upstream's regex (spec §6.2) with RE2's `\s`, last match wins: what AICR v0.11.1 reported. */
const upstreamParse = (text: string) => {
  const s = "[ \\t\\n\\f\\r]"
  const matches = [...text.matchAll(new RegExp(`${s}+(\\d+)${s}+\\d+${s}+\\w+${s}+\\w+${s}+-?\\d+${s}+[\\d.]+${s}+[\\d.]+${s}+([\\d.]+)`, "g"))]
  return Number(matches.at(-1)![2])
}

describe("recorded outputs (test/fixtures/nccl)", () => {
  it("AICR v0.11.1's EKS fixture: 450.30 GB/s at 16 GiB, as upstream", () => {
    const parsed = measured(Output.parse(EKS))
    expect(parsed.measurement).toEqual({
      busBw: 450.3,
      inPlaceBusBw: 450.3,
      algBw: 139.2,
      sizeBytes: 17_179_869_184,
      row: {
        sizeBytes: 17_179_869_184,
        count: 4_294_967_296,
        type: "float",
        redop: "sum",
        root: -1,
        outOfPlace: { timeUs: 123456, algBw: 139.2, busBw: 450.3, check: { kind: "wrong", count: 0 } },
        inPlace: { timeUs: 123456, algBw: 139.2, busBw: 450.3, check: { kind: "wrong", count: 0 } }
      },
      avgBusBw: 225.15,
      corruption: undefined,
      maxError: undefined
    })
    expect(printedLastBusBw(EKS, true)).toBe("450.30")
    expect(upstreamParse(EKS)).toBe(450.3)
    expect(parsed.source).toBe("log")
    expect(parsed.table.layout).toBe("with-root")
    expect(parsed.table.headed).toBe(true)
    expect(parsed.table.rows.map((row) => row.sizeBytes)).toEqual([1024, 17_179_869_184])
    expect(parsed.table.outOfBounds).toEqual({ count: 0, failed: false })
    expect(parsed.table.text).toBe(EKS.split("\n").slice(5).join("\n"))
    expect(parsed.info).toEqual({
      ncclTestsVersion: undefined,
      ncclVersion: undefined,
      collective: undefined,
      parameters: {
        threads: 1,
        gpusPerRank: 1,
        minBytes: 1024,
        maxBytes: 17_179_869_184,
        step: 2,
        stepKind: "factor",
        warmupIterations: 5,
        iterations: 20,
        aggregatedIterations: 1,
        validation: 1,
        cudaGraph: 0
      },
      ranks: [{ rank: 0, host: "node1", device: 0, gpu: "NVIDIA H100 80GB HBM3" }],
      networks: [],
      warnings: [],
      failures: []
    })
  })

  it("AICR v0.11.1's GKE fixture: 333.51 GB/s at 8 GiB, nccl-tests 2.17.6 on NCCL 2.28.7", () => {
    const parsed = measured(Output.parse(GKE))
    expect(parsed.measurement.busBw).toBe(333.51)
    expect(parsed.measurement.inPlaceBusBw).toBe(333.47)
    expect(parsed.measurement.algBw).toBe(177.87)
    expect(parsed.measurement.sizeBytes).toBe(8_589_934_592)
    expect(parsed.measurement.avgBusBw).toBe(87.0675)
    expect(parsed.measurement.corruption).toBeUndefined()
    expect(printedLastBusBw(GKE, true)).toBe("333.51")
    expect(upstreamParse(GKE)).toBe(333.51)
    expect(parsed.table.rows).toHaveLength(2)
    expect(parsed.info.ncclTestsVersion).toBe("2.17.6")
    expect(parsed.info.ncclVersion).toBe("2.28.7")
    expect(parsed.info.parameters).toBeUndefined()
  })

  it("dstack's Lambda B200 run (nccl-tests 2.17.6, wide #wrong column): 696.06 GB/s at 2 GiB over 29 sizes", () => {
    const parsed = measured(Output.parse(LAMBDA))
    expect(parsed.measurement.busBw).toBe(696.06)
    expect(parsed.measurement.inPlaceBusBw).toBe(702.91)
    expect(parsed.measurement.algBw).toBe(371.23)
    expect(parsed.measurement.sizeBytes).toBe(2_147_483_648)
    expect(parsed.measurement.avgBusBw).toBe(137.179)
    expect(parsed.measurement.corruption).toBeUndefined()
    expect(printedLastBusBw(LAMBDA, true)).toBe("696.06")
    expect(upstreamParse(LAMBDA)).toBe(696.06)
    expect(parsed.table.rows.map((row) => row.sizeBytes)).toEqual(Array.from({ length: 29 }, (_, i) => 8 * 2 ** i))
    expect(parsed.table.rows.every((row) => row.outOfPlace.check.kind === "wrong" && row.inPlace.check.kind === "wrong")).toBe(true)
    expect(parsed.table.text.split("\n")[0]).toBe(
      "#       size         count      type   redop    root     time   algbw   busbw  #wrong     time   algbw   busbw  #wrong"
    )
    expect(parsed.table.text.trimEnd().split("\n").at(-1)).toBe("# Avg bus bandwidth    : 137.179")
    expect(parsed.info).toMatchObject({ ncclTestsVersion: "2.17.6", ncclVersion: "2.26.2", collective: "all_reduce_perf", ranks: [] })
  })

  it("the AWS p4d launcher log without the root column: 43.81 GB/s at 4 GiB, where upstream's regex read 5", () => {
    const parsed = measured(Output.parse(LEGACY))
    expect(upstreamParse(LEGACY)).toBe(5)
    expect(parsed.measurement.busBw).toBe(43.81)
    expect(parsed.measurement.inPlaceBusBw).toBe(43.72)
    expect(parsed.measurement.algBw).toBe(23.36)
    expect(parsed.measurement.sizeBytes).toBe(4_294_967_296)
    expect(parsed.measurement.avgBusBw).toBe(11.2432)
    expect(parsed.measurement.row).toEqual({
      sizeBytes: 4_294_967_296,
      count: 1_073_741_824,
      type: "float",
      redop: "sum",
      root: undefined,
      outOfPlace: { timeUs: 183834, algBw: 23.36, busBw: 43.81, check: { kind: "error", value: 5e-7 } },
      inPlace: { timeUs: 184216, algBw: 23.31, busBw: 43.72, check: { kind: "error", value: 5e-7 } }
    })
    expect(printedLastBusBw(LEGACY, false)).toBe("43.81")
    expect(parsed.measurement.maxError).toBe(5e-7)
    expect(parsed.measurement.corruption).toBeUndefined()
    expect(parsed.table.layout).toBe("without-root")
    expect(parsed.table.rows).toHaveLength(30)
    expect(parsed.table.text).not.toContain("NCCL INFO")
    expect(parsed.table.text).not.toContain("<stdout>")
    expect(parsed.table.text.split("\n").slice(0, 2)).toEqual([
      "#                                                     out-of-place                       in-place          ",
      "#       size         count    type   redop     time   algbw   busbw  error     time   algbw   busbw  error"
    ])
    expect(parsed.info.ncclVersion).toBe("2.9.9")
    expect(parsed.info.networks).toEqual(["AWS Libfabric"])
    expect(parsed.info.parameters).toMatchObject({ minBytes: 8, maxBytes: 4_294_967_296, warmupIterations: 5, iterations: 100, validation: 1, aggregatedIterations: undefined })
    expect(parsed.info.ranks).toHaveLength(16)
    expect([...new Set(parsed.info.ranks.map((rank) => rank.host))]).toEqual(["nccl-tests-efa-16-worker-0", "nccl-tests-efa-16-worker-1"])
    expect(parsed.info.ranks[15]).toEqual({ rank: 15, host: "nccl-tests-efa-16-worker-1", device: 7, gpu: "A100-SXM4-40GB" })
    expect(parsed.info.failures).toEqual([])
  })
})

const replaceLine = (text: string, find: string, replacement: string) => {
  if (!text.includes(find)) throw new Error(`fixture lacks ${find}`)
  return text.replace(find, replacement)
}

const LAMBDA_1K = "        1024           256     float     sum      -1    45.33    0.02    0.04       0    37.98    0.03    0.05       0"
const LAMBDA_2G = "  2147483648     536870912     float     sum      -1  5784.75  371.23  696.06       0  5728.40  374.88  702.91       0"

describe("data correctness", () => {
  it("a #wrong above 0 in any row is corruption, whatever the placement", () => {
    const text = replaceLine(
      replaceLine(LAMBDA, LAMBDA_1K, LAMBDA_1K.replace("0.04       0", "0.04       3")),
      LAMBDA_2G,
      LAMBDA_2G.replace(/0$/, "12")
    )
    const parsed = measured(Output.parse(text))
    expect(parsed.measurement.busBw).toBe(696.06)
    expect(parsed.measurement.corruption).toEqual({
      wrong: [
        { sizeBytes: 1024, placement: "out-of-place", count: 3 },
        { sizeBytes: 2_147_483_648, placement: "in-place", count: 12 }
      ],
      outOfBounds: undefined,
      message: "data corruption: nccl-tests found wrong results (#wrong: 3 at 1024 B out-of-place, 12 at 2147483648 B in-place)"
    })
  })

  it("names three wrong rows and counts the rest", () => {
    const lines = LAMBDA.split("\n").map((line) => (/^\s+\d+\s+\d+\s+float/.test(line) ? line.replace(/0$/, "1") : line))
    const parsed = measured(Output.parse(lines.join("\n")))
    expect(parsed.measurement.corruption?.wrong).toHaveLength(29)
    expect(parsed.measurement.corruption?.message).toBe(
      "data corruption: nccl-tests found wrong results (#wrong: 1 at 8 B in-place, 1 at 16 B in-place, 1 at 32 B in-place and 26 more)"
    )
  })

  it("Out of bounds values : N FAILED is corruption", () => {
    const parsed = measured(Output.parse(replaceLine(GKE, "# Out of bounds values : 0 OK", "# Out of bounds values : 2 FAILED")))
    expect(parsed.table.outOfBounds).toEqual({ count: 2, failed: true })
    expect(parsed.measurement.corruption).toEqual({
      wrong: [],
      outOfBounds: 2,
      message: 'data corruption: nccl-tests reports "Out of bounds values : 2 FAILED"'
    })
  })

  it("the legacy float error column is reported, not judged, even when large", () => {
    const last = "[1,0]<stdout>:  4294967296    1073741824   float     sum   183834   23.36   43.81  5e-07   184216   23.31   43.72  5e-07"
    const parsed = measured(Output.parse(replaceLine(LEGACY, last, last.replace("43.81  5e-07", "43.81  2e+00"))))
    expect(parsed.measurement.maxError).toBe(2)
    expect(parsed.measurement.corruption).toBeUndefined()
  })

  it("N/A (a run with -c 0) is unchecked, not corruption", () => {
    const text = LAMBDA.split("\n").map((line) => (/^\s+\d+\s+\d+\s+float/.test(line) ? line.replace(/\s0(\s+\S+\s+\S+\s+\S+\s+)0$/, "   N/A$1   N/A") : line))
    const parsed = measured(Output.parse(text.join("\n")))
    expect(parsed.measurement.row.outOfPlace.check).toEqual({ kind: "unchecked" })
    expect(parsed.measurement.row.inPlace.check).toEqual({ kind: "unchecked" })
    expect(parsed.measurement.corruption).toBeUndefined()
  })
})

describe("truncated and missing tables are inconclusive", () => {
  it("no table at all", () => {
    expect(inconclusive(Output.parse("")).reason).toBe("no nccl-tests result table found in the launcher log")
    const noise = LEGACY.split("\n").filter((line) => line.includes("NCCL INFO")).join("\n")
    expect(inconclusive(Output.parse(noise)).reason).toBe("no nccl-tests result table found in the launcher log")
    expect(inconclusive(Output.parse(EKS.split("\n").slice(0, 8).join("\n"))).table).toBeUndefined()
  })

  it("rows without the # Avg bus bandwidth line (log cut short)", () => {
    const lines = LAMBDA.split("\n")
    const cut = lines.slice(0, lines.indexOf(LAMBDA_2G)).join("\n")
    const parsed = inconclusive(Output.parse(cut))
    expect(parsed.reason).toBe(
      'the nccl-tests table in the launcher log is truncated: it stops after 1073741824 B (1 GiB) without the "# Avg bus bandwidth" line ' +
        "nccl-tests prints once every size has run"
    )
    expect(parsed.table?.rows).toHaveLength(28)
  })

  it("a last row cut in the middle", () => {
    const end = LEGACY.indexOf("   23.36   43.81")
    const parsed = inconclusive(Output.parse(LEGACY.slice(0, end)))
    expect(parsed.reason).toBe(
      "the nccl-tests table in the launcher log is truncated: the row after 2147483648 B (2 GiB) cannot be read " +
        '("4294967296    1073741824   float     sum   183834")'
    )
  })

  it("an average line, but fewer sizes than the sweep's parameters call for", () => {
    const lines = EKS.split("\n").filter((line) => !line.startsWith(" 17179869184"))
    expect(inconclusive(Output.parse(lines.join("\n"))).reason).toBe(
      "the nccl-tests table in the launcher log is truncated: its largest size is 1024 B (1 KiB) but the sweep goes to 17179869184 B (16 GiB)"
    )
  })

  it("without parameters, against the sweep the caller asked for", () => {
    const lines = GKE.split("\n").filter((line) => !line.startsWith("  8589934592"))
    expect(measured(Output.parse(lines.join("\n"))).measurement.busBw).toBe(328.06)
    expect(inconclusive(Output.parse(lines.join("\n"), { expected: { maxBytes: 8 * 1024 ** 3, stepFactor: 2 } })).reason).toBe(
      "the nccl-tests table in the launcher log is truncated: its largest size is 4294967296 B (4 GiB) but the sweep goes to 8589934592 B (8 GiB)"
    )
    expect(measured(Output.parse(GKE, { expected: { maxBytes: 8 * 1024 ** 3, stepFactor: 2 } })).measurement.busBw).toBe(333.51)
  })

  it("the output of another collective", () => {
    const text = LAMBDA.replace("# Collective test starting: all_reduce_perf", "# Collective test starting: all_gather_perf")
    expect(inconclusive(Output.parse(text)).reason).toBe("the launcher log holds the output of all_gather_perf, not all_reduce_perf")
  })

  it("the MPI build of all_reduce_perf (GKE's all_reduce_perf_mpi) is all_reduce_perf", () => {
    const text = LAMBDA.replace("# Collective test starting: all_reduce_perf", "# Collective test starting: all_reduce_perf_mpi")
    expect(measured(Output.parse(text)).measurement.busBw).toBe(measured(Output.parse(LAMBDA)).measurement.busBw)
  })

  it("names what failed when the output says so", () => {
    const text = [
      "# nccl-tests version 2.17.6 nccl-headers=22602 nccl-library=22602",
      "# Collective test starting: all_reduce_perf",
      "[1,0]<stdout>:worker-0: Test NCCL failure common.cu:1279 'unhandled system error (run with NCCL_DEBUG=INFO for details) / '",
      "[1,0]<stdout>:worker-0:25:66 [0] NCCL WARN NET/OFI Request 0x7f completed with error",
      "--------------------------------------------------------------------------",
      "mpirun noticed that process rank 0 with PID 0 on node worker-0 exited on signal 6 (Aborted).",
      ""
    ].join("\n")
    const parsed = inconclusive(Output.parse(text))
    expect(parsed.reason).toBe(
      "no nccl-tests result table found in the launcher log; the output reports: " +
        "worker-0: Test NCCL failure common.cu:1279 'unhandled system error (run with NCCL_DEBUG=INFO for details) / ' | " +
        "mpirun noticed that process rank 0 with PID 0 on node worker-0 exited on signal 6 (Aborted)."
    )
    expect(parsed.info.warnings).toEqual(["NET/OFI Request 0x7f completed with error"])
    expect(parsed.info.ncclVersion).toBe("2.26.2")
  })

  it("a row whose size is not its element count × the type's size is unreadable (a cut size)", () => {
    const text = replaceLine(GKE, "  8589934592    2147483648", "       934592    2147483648")
    expect(inconclusive(Output.parse(text)).reason).toBe(
      'the nccl-tests table in the launcher log is truncated: the row after 4294967296 B (4 GiB) cannot be read ("934592    2147483648     float     sum      -1  48292.9  177.87  333.51      0  48298.2  177.85  333.47      0")'
    )
  })
})

const prefixed = (text: string, rank = 0) =>
  text.split("\n").map((line) => (line === "" ? line : `[1,${rank}]<stdout>:${line}`)).join("\n")

describe("noise around the table", () => {
  it("reads MPI --tag-output prefixes, interleaved NCCL INFO/WARN lines from other ranks and MPI noise", () => {
    const lines = prefixed(LAMBDA).split("\n")
    const noisy = [
      "+ mpirun -np 16 --allow-run-as-root --tag-output /opt/nccl-tests/build/all_reduce_perf -b 8 -e 2G -f 2 -g 1",
      "Warning: Permanently added 'worker-1,10.0.0.2' (ECDSA) to the list of known hosts.",
      "[1,3]<stdout>:worker-0:28:28 [3] NCCL INFO Bootstrap : Using eth0:10.0.0.1<0>",
      "[1,3]<stdout>:worker-0:28:28 [3] NCCL INFO Using network IB",
      "[1,0]<stdout>:worker-0:25:25 [0] NCCL INFO NCCL version 2.26.2+cuda12.8",
      ...lines.slice(0, 5),
      "[1,9]<stdout>:worker-1:26:67 [1] NCCL INFO Channel 03 : 9[1] -> 8[0] via P2P/CUMEM",
      "[1,9]<stderr>:worker-1:26:67 [1] NCCL WARN Cuda failure 'out of memory' is not fatal here",
      "[1,12]<stdout>:worker-1:29:83 [4] NCCL INFO comm 0x7f4534000f60 rank 12 nranks 16 cudaDev 4 busId a01d0 - Init COMPLETE",
      ...lines.slice(5, 20),
      "[1,15]<stdout>:worker-1:40:72 [7] NCCL INFO 8 coll channels, 8 p2p channels, 1 p2p channels per peer",
      ...lines.slice(20),
      "[1,1]<stdout>:worker-0:26:26 [1] NCCL INFO comm 0x7fb6f8000f60 rank 1 nranks 16 - Destroy COMPLETE",
      "--------------------------------------------------------------------------"
    ].join("\r\n")
    const parsed = measured(Output.parse(noisy))
    expect(parsed.measurement).toEqual(measured(Output.parse(LAMBDA)).measurement)
    expect(parsed.table.text).toBe(measured(Output.parse(LAMBDA)).table.text)
    expect(parsed.info.networks).toEqual(["IB"])
    expect(parsed.info.ncclVersion).toBe("2.26.2")
    expect(parsed.info.warnings).toEqual(["Cuda failure 'out of memory' is not fatal here"])
  })

  it("reports every network NCCL names, in order", () => {
    const text = [
      "[1,0]<stdout>:a:1:1 [0] NCCL INFO Using network AWS Libfabric",
      "[1,8]<stdout>:b:1:1 [0] NCCL INFO Using network Socket",
      "[1,1]<stdout>:a:1:1 [1] NCCL INFO Using network AWS Libfabric",
      prefixed(GKE)
    ].join("\n")
    expect(measured(Output.parse(text)).info.networks).toEqual(["AWS Libfabric", "Socket"])
  })

  it("judges the last table when the output holds more than one, with the ranks of the last run", () => {
    const parsed = measured(Output.parse(`${GKE}${EKS}${EKS}`))
    expect(parsed.measurement.busBw).toBe(450.3)
    expect(parsed.info.ranks).toEqual([{ rank: 0, host: "node1", device: 0, gpu: "NVIDIA H100 80GB HBM3" }])
  })

  it("ignores a row-like line after the last complete table", () => {
    const parsed = measured(Output.parse(`${GKE}1024 256 float garbage\n`))
    expect(parsed.measurement.busBw).toBe(333.51)
  })
})

/** What the launcher writes to its termination message: table rows and the average, the last `bytes` bytes. */
const terminationTail = (text: string, bytes: number) => {
  const kept = text.split("\n").filter((line) => /^\s*\d+\s+\d+\s+[A-Za-z]+/.test(line) || line.includes("Avg bus bandwidth")).join("\n")
  return `${kept}\n`.slice(-bytes)
}

describe("the termination message", () => {
  it("rows only, the first cut in the middle: read without a header", () => {
    const message = terminationTail(LAMBDA, 1_000)
    expect(message.startsWith(" ")).toBe(false)
    const parsed = measured(Output.parse(message, { source: "termination-message", expected: { maxBytes: 2 * 1024 ** 3, stepFactor: 2 } }))
    expect(parsed.source).toBe("termination-message")
    expect(parsed.measurement.busBw).toBe(696.06)
    expect(parsed.measurement.avgBusBw).toBe(137.179)
    expect(parsed.table.headed).toBe(false)
    expect(parsed.table.layout).toBe("with-root")
    expect(parsed.table.rows.at(-1)?.sizeBytes).toBe(2_147_483_648)
  })

  it("reads the legacy layout without a header too", () => {
    const message = terminationTail(LEGACY.split("\n").map(Output.stripPrefix).join("\n"), 600)
    const parsed = measured(Output.parse(message, { source: "termination-message" }))
    expect(parsed.measurement.busBw).toBe(43.81)
    expect(parsed.table.layout).toBe("without-root")
  })

  it("is the fallback when the log lost the table to rotation, keeping the log's versions and transport", () => {
    const rotated = LEGACY.split("\n").filter((line) => line.includes("NCCL INFO") || line.includes("NCCL version")).join("\n")
    const parsed = measured(Output.fromLauncher({ log: rotated, terminationMessage: terminationTail(prefixed(LAMBDA).split("\n").map(Output.stripPrefix).join("\n"), 3_900) }))
    expect(parsed.source).toBe("termination-message")
    expect(parsed.measurement.busBw).toBe(696.06)
    expect(parsed.info.networks).toEqual(["AWS Libfabric"])
    expect(parsed.info.ncclVersion).toBe("2.9.9")
  })

  it("prefers a complete log", () => {
    const parsed = measured(Output.fromLauncher({ log: EKS, terminationMessage: terminationTail(GKE, 3_900) }))
    expect(parsed.source).toBe("log")
    expect(parsed.measurement.busBw).toBe(450.3)
  })

  it("is checked against the sweep of the log's parameters", () => {
    const head = EKS.split("\n").slice(0, 8).join("\n")
    const parsed = inconclusive(Output.fromLauncher({ log: head, terminationMessage: terminationTail(GKE, 3_900) }))
    expect(parsed.reason).toBe(
      "no nccl-tests result table found in the launcher log; the nccl-tests table in the launcher's termination message is truncated: " +
        "its largest size is 8589934592 B (8 GiB) but the sweep goes to 17179869184 B (16 GiB)"
    )
  })

  it("gives both reasons when neither holds a measurement", () => {
    const parsed = inconclusive(Output.fromLauncher({ log: "", terminationMessage: "mpirun: command not found" }))
    expect(parsed.reason).toBe("no nccl-tests result table found in the launcher log; no nccl-tests result table found in the launcher's termination message")
    expect(inconclusive(Output.fromLauncher({ log: undefined, terminationMessage: undefined })).reason).toBe(
      "no nccl-tests result table found in the launcher log"
    )
  })
})

describe("helpers", () => {
  it.each([[22807, "2.28.7"], [22602, "2.26.2"], [21903, "2.19.3"], [2708, "2.7.8"]])("NCCL version code %d is %s", (code, version) => {
    expect(Output.versionOfCode(code)).toBe(version)
  })

  it("strips MPI tags and carriage returns only", () => {
    expect(Output.stripPrefix("[1,0]<stdout>:  1024  256  float\r")).toBe("  1024  256  float")
    expect(Output.stripPrefix("[1,12]<stderr>:x")).toBe("x")
    expect(Output.stripPrefix("[x]<stdout>:y")).toBe("[x]<stdout>:y")
  })

  it("describes sizes for messages", () => {
    expect(Output.describeSize(17_179_869_184)).toBe("17179869184 B (16 GiB)")
    expect(Output.describeSize(3 * 1024 ** 2)).toBe("3145728 B (3 MiB)")
    expect(Output.describeSize(1000)).toBe("1000 B")
  })
})
