import { describe, expect, it } from "vitest"
import * as Ctrf from "../src/Ctrf.ts"
import * as Junit from "../src/Junit.ts"

const T0 = 1774087200000

const report = (tests: ReadonlyArray<Ctrf.TestResult>, stop = T0 + 61_500): Ctrf.Report =>
  Ctrf.build({ version: "1.2.3", start: T0, stop, tests })

describe("toJunitXml", () => {
  it("renders suites per phase, outcomes, stdout and metrics", () => {
    const xml = Junit.toJunitXml(report([
      { name: "operator-health", status: "passed", duration: 1500, suite: ["deployment"] },
      {
        name: "expected-resources",
        status: "failed",
        duration: 250,
        suite: ["deployment"],
        message: "deployment gpu-operator/x not available",
        stdout: ["checking 3 resources", "missing: x"]
      },
      {
        name: "inference-perf",
        status: "passed",
        duration: 42_000,
        suite: ["performance"],
        extra: { "inference-throughput": 5120.5, unit: "tokens/s" }
      },
      { name: "nccl-all-reduce-bw", status: "other", duration: 7, suite: ["performance"], message: "launcher pod never started" },
      Ctrf.skipped("dra-support", "conformance", "no plugin for this check"),
      { name: "gang-scheduling", status: "pending", duration: 0, suite: ["conformance"] },
      { name: "loose", status: "passed", duration: 1 }
    ]))
    expect(xml).toBe(`<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="aicr" tests="7" failures="1" errors="1" skipped="2" time="61.500">
  <testsuite name="deployment" tests="2" failures="1" errors="0" skipped="0" time="1.750">
    <testcase name="operator-health" classname="aicr.deployment" time="1.500"/>
    <testcase name="expected-resources" classname="aicr.deployment" time="0.250">
      <failure message="deployment gpu-operator/x not available"/>
      <system-out>checking 3 resources
missing: x</system-out>
    </testcase>
  </testsuite>
  <testsuite name="performance" tests="2" failures="0" errors="1" skipped="0" time="42.007">
    <testcase name="inference-perf" classname="aicr.performance" time="42.000">
      <properties>
        <property name="inference-throughput" value="5120.5"/>
        <property name="unit" value="tokens/s"/>
      </properties>
    </testcase>
    <testcase name="nccl-all-reduce-bw" classname="aicr.performance" time="0.007">
      <error message="launcher pod never started"/>
    </testcase>
  </testsuite>
  <testsuite name="conformance" tests="2" failures="0" errors="0" skipped="2" time="0.000">
    <testcase name="dra-support" classname="aicr.conformance" time="0.000">
      <skipped message="no plugin for this check"/>
    </testcase>
    <testcase name="gang-scheduling" classname="aicr.conformance" time="0.000">
      <skipped message="pending"/>
    </testcase>
  </testsuite>
  <testsuite name="aicr" tests="1" failures="0" errors="0" skipped="0" time="0.001">
    <testcase name="loose" classname="aicr" time="0.001"/>
  </testsuite>
</testsuites>`)
  })

  it("renders an empty report as an empty <testsuites>", () => {
    expect(Junit.toJunitXml(report([], T0))).toBe(`<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="aicr" tests="0" failures="0" errors="0" skipped="0" time="0.000">
</testsuites>`)
  })

  it("groups by suite in order of first appearance, even when interleaved", () => {
    const xml = Junit.toJunitXml(report([
      { name: "a", status: "passed", duration: 0, suite: ["performance"] },
      { name: "b", status: "passed", duration: 0, suite: ["deployment"] },
      { name: "c", status: "failed", duration: 0, suite: ["performance"] }
    ]))
    const suites = xml.split("\n").filter((line) => line.trimStart().startsWith("<testsuite "))
    expect(suites).toStrictEqual([
      `  <testsuite name="performance" tests="2" failures="1" errors="0" skipped="0" time="0.000">`,
      `  <testsuite name="deployment" tests="1" failures="0" errors="0" skipped="0" time="0.000">`
    ])
  })

  it("escapes markup and quotes in attributes and text", () => {
    const xml = Junit.toJunitXml(report([{
      name: `a<b>&"c'`,
      status: "failed",
      duration: 0,
      suite: ["deployment"],
      message: `expected "x" & 'y' < 3 > 1`,
      stdout: [`<script>alert("&")</script>`],
      extra: { 'k"&': `v<'>` }
    }]))
    expect(xml).toContain(`<testcase name="a&lt;b&gt;&amp;&quot;c&apos;" classname="aicr.deployment" time="0.000">`)
    expect(xml).toContain(`<property name="k&quot;&amp;" value="v&lt;&apos;&gt;"/>`)
    expect(xml).toContain(`<failure message="expected &quot;x&quot; &amp; &apos;y&apos; &lt; 3 &gt; 1"/>`)
    expect(xml).toContain(`<system-out>&lt;script&gt;alert(&quot;&amp;&quot;)&lt;/script&gt;</system-out>`)
  })

  it("keeps newlines and tabs of attributes as character references", () => {
    const xml = Junit.toJunitXml(report([
      { name: "a", status: "failed", duration: 0, message: "line 1\nline 2\tcol\r" }
    ]))
    expect(xml).toContain(`<failure message="line 1&#10;line 2&#9;col&#13;"/>`)
  })

  it("strips characters XML 1.0 forbids and keeps the rest of Unicode", () => {
    const xml = Junit.toJunitXml(report([{
      name: "nul\u0000bell\u0007vt\u000bff\u000cesc\u001b[31m",
      status: "failed",
      duration: 0,
      message: "lone \uD800 surrogate \uFFFE \uFFFF",
      stdout: ["ok → 🚀 \u0008done"]
    }]))
    expect(xml).toContain(`<testcase name="nulbellvtffesc[31m" classname="aicr" time="0.000">`)
    expect(xml).toContain(`<failure message="lone  surrogate  "/>`)
    expect(xml).toContain(`<system-out>ok → 🚀 done</system-out>`)
  })

  it("renders non-string metrics as JSON", () => {
    const xml = Junit.toJunitXml(report([
      { name: "a", status: "passed", duration: 0, extra: { count: 3, ok: true, none: null, gpus: [0, 1], shape: { n: 8 } } }
    ]))
    expect(xml).toContain(`<property name="count" value="3"/>`)
    expect(xml).toContain(`<property name="ok" value="true"/>`)
    expect(xml).toContain(`<property name="none" value="null"/>`)
    expect(xml).toContain(`<property name="gpus" value="[0,1]"/>`)
    expect(xml).toContain(`<property name="shape" value="{&quot;n&quot;:8}"/>`)
  })

  it("leaves out the message attribute of a failure without a message", () => {
    const xml = Junit.toJunitXml(report([{ name: "a", status: "failed", duration: 0 }, { name: "b", status: "other", duration: 0 }]))
    expect(xml).toContain("      <failure/>")
    expect(xml).toContain("      <error/>")
  })
})
