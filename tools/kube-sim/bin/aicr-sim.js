#!/usr/bin/env node
// aicr-sim start [--profile NAME|FILE] [--nodes N] [--seed N] [--time-scale X] [--exec-image IMAGE=COMMAND] [--seed-file FILE] …: runs a simulated cluster in the foreground and prints
// its kubeconfig path on the first line. Ctrl-C stops it.
await import("../src/cli.ts")
