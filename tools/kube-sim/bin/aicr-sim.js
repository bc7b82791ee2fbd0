#!/usr/bin/env node
// aicr-sim start [--profile NAME] [--port N] [--dir DIR]: runs a simulated cluster in the foreground and prints
// its kubeconfig path on the first line. Ctrl-C stops it.
await import("../src/cli.ts")
