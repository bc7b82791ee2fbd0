#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Entrypoint of the aiperf-bench image (the load Job of aicr's inference-perf check).

Usage:  entrypoint.py [--] [profile] <aiperf profile flags...>

Every argument is handed to `aiperf profile` unchanged (a leading `--` and a leading `profile` word are
dropped, so both `entrypoint.py --model m ...` and `entrypoint.py profile --model m ...` work). Unless the
arguments already name one (`--artifact-dir`/`--output-artifact-dir`, as `FLAG DIR` or `FLAG=DIR`), the
entrypoint appends `--artifact-dir <AICR_AIPERF_ARTIFACT_DIR>`.

Environment (an unset or empty variable takes its default):
  AICR_AIPERF_ARTIFACT_DIR  artifact directory when the arguments name none   (default /tmp/aiperf)
  AICR_RESULT_SENTINEL      the sentinel line around the result              (default ===AIPERF-RESULT===)
  AICR_TERMINATION_LOG      where the compact summary is written             (default /dev/termination-log;
                            the value `-` disables it)

After aiperf exits 0 the export `profile_export_aiperf.json` written by this run is looked up in the artifact
directory (directly in it, else in its subdirectories down to 3 levels when exactly one fresh copy is there;
files that existed unchanged before the run are never used). Its bytes are printed to stdout, unmodified,
between two sentinel lines:

    <blank line>
    ===AIPERF-RESULT===
    <profile_export_aiperf.json, byte for byte; a newline is added if it lacks one>
    ===AIPERF-RESULT===

Exit codes: 0 result printed; N aiperf's own non-zero exit code; 128+N aiperf died by signal N; 2 usage error
(no arguments, bad sentinel); 3 aiperf exited 0 but wrote no export (or several candidates); 4 the export is
unreadable or not a strict JSON object; 126 aiperf cannot be executed; 127 aiperf not found on PATH. Nothing is
printed between sentinels unless the exit code is 0.

SIGTERM and SIGINT received by the entrypoint are forwarded to the aiperf process.

In every case except --help, a JSON summary (schema `aicr.aiperf-bench/summary/v1`, at most 4000 bytes, ASCII)
is written to the termination log, so the result survives log rotation. Metrics missing from the export are
`null` in it, never 0.

Standard library only; runs on Python 3.9 and later.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from typing import Any, Dict, List, Optional, Tuple

RESULT_SENTINEL = "===AIPERF-RESULT==="
DEFAULT_ARTIFACT_DIR = "/tmp/aiperf"
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
EXPORT_NAME = "profile_export_aiperf.json"
SUMMARY_SCHEMA = "aicr.aiperf-bench/summary/v1"
# The kubelet keeps at most 4096 bytes of a termination message; stay clearly below.
SUMMARY_LIMIT = 4000
SEARCH_DEPTH = 3

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NO_EXPORT = 3
EXIT_BAD_EXPORT = 4
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127

ARTIFACT_FLAGS = ("--artifact-dir", "--output-artifact-dir")
HELP_FLAGS = ("-h", "--help")
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)

AIPERF = "aiperf"

Stamp = Tuple[int, int, int]


def log(message: str) -> None:
    sys.stderr.write("aiperf-bench: " + message + "\n")
    sys.stderr.flush()


def env(name: str, default: str) -> str:
    value = os.environ.get(name, "")
    return value if value != "" else default


# ----------------------------------------------------------------------------------------------------------------
# Arguments


def split_arguments(argv: List[str]) -> List[str]:
    """The arguments for `aiperf profile`: argv without a leading `--` and a leading `profile`."""
    args = list(argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if args[:1] == ["profile"]:
        args = args[1:]
    return args


def artifact_dir_of(args: List[str]) -> Optional[str]:
    """The artifact directory the arguments name (the last occurrence wins), or None."""
    found: Optional[str] = None
    index = 0
    while index < len(args):
        arg = args[index]
        for flag in ARTIFACT_FLAGS:
            if arg == flag:
                found = args[index + 1] if index + 1 < len(args) else ""
                index += 1
            elif arg.startswith(flag + "="):
                found = arg[len(flag) + 1:]
        index += 1
    return found


# ----------------------------------------------------------------------------------------------------------------
# Export lookup


def find_exports(root: str) -> Dict[str, Stamp]:
    """Every `profile_export_aiperf.json` under root (root itself and SEARCH_DEPTH levels below), with a stamp."""
    found: Dict[str, Stamp] = {}
    if not os.path.isdir(root):
        return found
    base_depth = root.rstrip(os.sep).count(os.sep)
    for directory, subdirectories, files in os.walk(root, followlinks=False):
        if directory.rstrip(os.sep).count(os.sep) - base_depth >= SEARCH_DEPTH:
            subdirectories[:] = []
        subdirectories.sort()
        if EXPORT_NAME in files:
            path = os.path.join(directory, EXPORT_NAME)
            try:
                info = os.stat(path)
            except OSError:
                continue
            found[path] = (info.st_mtime_ns, info.st_size, info.st_ino)
    return found


def pick_export(root: str, before: Dict[str, Stamp]) -> Tuple[Optional[str], str]:
    """The export this run wrote, or (None, why not)."""
    after = find_exports(root)
    fresh = sorted(path for path, stamp in after.items() if before.get(path) != stamp)
    top = os.path.join(root, EXPORT_NAME)
    if top in fresh:
        return top, ""
    if len(fresh) == 1:
        return fresh[0], ""
    if len(fresh) > 1:
        return None, "several AIPerf exports were written under %s, cannot tell which is the result: %s" % (
            root,
            ", ".join(fresh),
        )
    stale = sorted(path for path in after if path not in fresh)
    reason = "aiperf exited 0 but wrote no %s under %s (searched %d levels deep)" % (EXPORT_NAME, root, SEARCH_DEPTH)
    if stale:
        reason += "; ignored exports older than this run: " + ", ".join(stale)
    return None, reason


def _reject_constant(name: str) -> Any:
    raise ValueError("non-standard JSON constant %s" % name)


def load_export(path: str) -> Tuple[Optional[bytes], Optional[Dict[str, Any]], str]:
    """The export's bytes and its decoded object, or (None, None, why not)."""
    try:
        with open(path, "rb") as handle:
            payload = handle.read()
    except OSError as error:
        return None, None, "cannot read the AIPerf export %s: %s" % (path, error)
    try:
        document = json.loads(payload, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as error:
        return None, None, "the AIPerf export %s is not valid JSON: %s" % (path, error)
    if not isinstance(document, dict):
        return None, None, "the AIPerf export %s is not a JSON object" % path
    return payload, document, ""


# ----------------------------------------------------------------------------------------------------------------
# Summary


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _text(value: Any, limit: int) -> Optional[str]:
    if not isinstance(value, str):
        return None
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _statistic(document: Dict[str, Any], metric: str, field: str) -> Tuple[Optional[float], Optional[str]]:
    block = document.get(metric)
    if not isinstance(block, dict):
        return _number(block) if field == "avg" else None, None
    return _number(block.get(field)), _text(block.get("unit"), 64)


def _error_summary(value: Any) -> Optional[List[Dict[str, Any]]]:
    if not isinstance(value, list):
        return None
    entries = []
    for item in value:
        if not isinstance(item, dict):
            continue
        details = item.get("error_details")
        details = details if isinstance(details, dict) else {}
        code = details.get("code")
        entries.append(
            {
                "code": code if isinstance(code, int) and not isinstance(code, bool) else None,
                "type": _text(details.get("type"), 100),
                "message": _text(details.get("message"), 200),
                "count": _number(item.get("count")),
            }
        )
    return entries


def blank_summary() -> Dict[str, Any]:
    return {
        "schema": SUMMARY_SCHEMA,
        "status": "error",
        "exit_code": None,
        "aiperf_exit_code": None,
        "aiperf_signal": None,
        "forwarded_signal": None,
        "export": None,
        "aiperf_version": None,
        "output_token_throughput_avg": None,
        "output_token_throughput_unit": None,
        "time_to_first_token_p99": None,
        "time_to_first_token_unit": None,
        "request_count": None,
        "error_request_count": None,
        "was_cancelled": None,
        "error_summary": None,
        "error_summary_omitted": 0,
        "error": None,
    }


def describe_export(summary: Dict[str, Any], path: str, document: Dict[str, Any]) -> None:
    summary["export"] = _text(path, 300)
    summary["aiperf_version"] = _text(document.get("aiperf_version"), 64)
    avg, unit = _statistic(document, "output_token_throughput", "avg")
    summary["output_token_throughput_avg"], summary["output_token_throughput_unit"] = avg, unit
    p99, unit = _statistic(document, "time_to_first_token", "p99")
    summary["time_to_first_token_p99"], summary["time_to_first_token_unit"] = p99, unit
    summary["request_count"] = _statistic(document, "request_count", "avg")[0]
    summary["error_request_count"] = _statistic(document, "error_request_count", "avg")[0]
    cancelled = document.get("was_cancelled")
    summary["was_cancelled"] = cancelled if isinstance(cancelled, bool) else None
    summary["error_summary"] = _error_summary(document.get("error_summary"))


def encode_summary(summary: Dict[str, Any]) -> str:
    """Compact ASCII JSON of at most SUMMARY_LIMIT bytes: error entries are dropped from the end to fit."""
    summary = dict(summary)
    if isinstance(summary.get("error_summary"), list):
        summary["error_summary"] = list(summary["error_summary"])
    while True:
        text = json.dumps(summary, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
        if len(text) <= SUMMARY_LIMIT:
            return text
        entries = summary.get("error_summary")
        if isinstance(entries, list) and entries:
            entries.pop()
            summary["error_summary_omitted"] += 1
            continue
        error = summary.get("error")
        if isinstance(error, str) and len(error) > 200:
            summary["error"] = error[:197] + "..."
            continue
        return json.dumps(
            {"schema": SUMMARY_SCHEMA, "status": summary["status"], "exit_code": summary["exit_code"],
             "error": "summary too large"},
            separators=(",", ":"),
        )


def write_termination_log(path: str, summary: Dict[str, Any]) -> None:
    if path == "-":
        return
    try:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(encode_summary(summary))
    except OSError as error:
        log("warning: cannot write the summary to %s: %s" % (path, error))


# ----------------------------------------------------------------------------------------------------------------
# Running aiperf


class Forwarder:
    """Forwards SIGTERM/SIGINT to the aiperf process; a signal received before it started is sent once it has."""

    def __init__(self) -> None:
        self.child: Optional[subprocess.Popen] = None
        self.pending: List[int] = []
        self.last: Optional[int] = None

    def install(self) -> None:
        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, self._handle)

    def attach(self, child: subprocess.Popen) -> None:
        self.child = child
        while self.pending:
            self._send(self.pending.pop(0))

    def _handle(self, signum: int, _frame: Any) -> None:
        self.last = signum
        if self.child is None:
            self.pending.append(signum)
        else:
            self._send(signum)

    def _send(self, signum: int) -> None:
        # os.write, not sys.stderr: a handler may run while the main flow is inside a buffered write.
        try:
            os.write(2, ("aiperf-bench: forwarding %s to aiperf\n" % signal.Signals(signum).name).encode())
        except OSError:
            pass
        try:
            if self.child is not None and self.child.poll() is None:
                self.child.send_signal(signum)
        except OSError:
            pass


def run_aiperf(args: List[str], forwarder: Optional[Forwarder]) -> Tuple[Optional[int], str]:
    """Run `aiperf profile args` with inherited stdio: (returncode, "") or (None, why it could not start)."""
    command = [AIPERF, "profile"] + args
    try:
        child = subprocess.Popen(command)
    except FileNotFoundError:
        return None, "not-found"
    except OSError as error:
        return None, "cannot execute %s: %s" % (AIPERF, error)
    if forwarder is not None:
        forwarder.attach(child)
    return child.wait(), ""


def print_result(sentinel: str, payload: bytes) -> None:
    sys.stdout.flush()
    out = sys.stdout.buffer
    marker = sentinel.encode("utf-8")
    out.write(b"\n" + marker + b"\n")
    out.write(payload)
    if not payload.endswith(b"\n"):
        out.write(b"\n")
    out.write(marker + b"\n")
    out.flush()


def main(argv: List[str]) -> int:
    args = split_arguments(argv)
    termination_log = env("AICR_TERMINATION_LOG", DEFAULT_TERMINATION_LOG)
    sentinel = env("AICR_RESULT_SENTINEL", RESULT_SENTINEL)
    summary = blank_summary()

    def finish(code: int, error: Optional[str]) -> int:
        summary["exit_code"] = code
        summary["status"] = "ok" if code == EXIT_OK else "error"
        summary["error"] = error
        if error is not None:
            log("error: " + error)
        write_termination_log(termination_log, summary)
        return code

    if any(arg in HELP_FLAGS for arg in args):
        returncode, problem = run_aiperf(args, None)
        if returncode is None:
            log("error: %s" % ("aiperf was not found on PATH" if problem == "not-found" else problem))
            return EXIT_NOT_FOUND if problem == "not-found" else EXIT_NOT_EXECUTABLE
        return returncode if returncode >= 0 else 128 - returncode

    if not args:
        log("usage: entrypoint.py [--] [profile] <aiperf profile flags...>  (e.g. --model M --url URL ...)")
        return finish(EXIT_USAGE, "no aiperf profile arguments were given")
    if "\n" in sentinel or "\r" in sentinel or sentinel.strip() != sentinel:
        return finish(EXIT_USAGE, "AICR_RESULT_SENTINEL must be one line without surrounding whitespace")

    named = artifact_dir_of(args)
    if named is None:
        artifact_dir = env("AICR_AIPERF_ARTIFACT_DIR", DEFAULT_ARTIFACT_DIR)
        args = args + ["--artifact-dir", artifact_dir]
    else:
        artifact_dir = named
    artifact_dir = os.path.abspath(artifact_dir or ".")
    before = find_exports(artifact_dir)

    forwarder = Forwarder()
    forwarder.install()
    returncode, problem = run_aiperf(args, forwarder)
    summary["forwarded_signal"] = forwarder.last
    if returncode is None:
        if problem == "not-found":
            return finish(EXIT_NOT_FOUND, "aiperf was not found on PATH")
        return finish(EXIT_NOT_EXECUTABLE, problem)
    if returncode < 0:
        summary["aiperf_signal"] = -returncode
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        return finish(128 - returncode, "aiperf was killed by signal %s (%d)" % (name, -returncode))
    summary["aiperf_exit_code"] = returncode
    if returncode != 0:
        return finish(returncode, "aiperf exited with code %d" % returncode)

    path, reason = pick_export(artifact_dir, before)
    if path is None:
        return finish(EXIT_NO_EXPORT, reason)
    payload, document, reason = load_export(path)
    if payload is None or document is None:
        return finish(EXIT_BAD_EXPORT, reason)

    describe_export(summary, path, document)
    print_result(sentinel, payload)
    def shown(value: Any, unit: Any) -> str:
        return "missing" if value is None else ("%s %s" % (value, unit or "")).strip()

    log(
        "result from %s: output_token_throughput avg %s, time_to_first_token p99 %s"
        % (
            path,
            shown(summary["output_token_throughput_avg"], summary["output_token_throughput_unit"]),
            shown(summary["time_to_first_token_p99"], summary["time_to_first_token_unit"]),
        )
    )
    return finish(EXIT_OK, None)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
