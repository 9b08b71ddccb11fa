#!/usr/bin/env bash
# make bench: the benchmark suite, printed as a table of medians.
# COUNT runs of each benchmark (default 5); raw output goes to bench.out.
# JOURNEY_RUNS journeys per network profile for the phone's journey (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-5}
OUT=${BENCH_OUT:-bench.out}

echo "== Go benchmarks (count=$COUNT; raw output in $OUT)"
{
  # Durable order transitions (bbolt, fsync on every commit).
  go test -run '^$' -bench 'Transition|Enqueue' -benchmem -count "$COUNT" ./agent/queue
  # A 12-megapixel JPEG to the print TIFF: time and peak memory.
  go test -run '^$' -bench 'PrintFile12MP|Decode12MP|Render12MP' -benchmem -count "$COUNT" ./agent/printfile
  # A relay page in the customer's language (Arabic, with alternatives).
  go test -run '^$' -bench 'Render' -benchmem -count "$COUNT" ./relay/pages
  # Agent start-up to ready (a real process against the simulator).
  go test -run '^$' -bench 'AgentStartup' -benchtime 10x -count "$COUNT" ./agent/e2e
} | tee "$OUT" | go run ./scripts/benchtable

# The relay under load: direct vs through the relay, idle tunnels, restart,
# event fan-out. Real relay binary (make bench builds it), loopback only.
echo
echo "== Relay load harness (scripts/loadtest)"
go run ./scripts/loadtest --relay-bin bin/casefleet-relay

# The relay's data path beside frp and chisel: the same real agent
# directly, through the relay, through frps/frpc and through chisel (each
# built from the Go module proxy at the version pinned in
# scripts/frpbench/go.mod and scripts/chiselbench/go.mod, modules of their
# own); wrk, TUNNEL_ROUNDS interleaved rounds (default 3), a Markdown table
# of medians with ratios. Loopback only. Twice: every process on any CPU,
# then pinned as on two hosts (the agent and the tunnel clients beside it
# on one CPU, the relay, the tunnel servers and wrk on the rest), since on
# a small machine where each process runs changes the figures.
echo
echo "== The relay's data path beside frp and chisel (scripts/tunnelbench)"
go run ./scripts/tunnelbench --bin bin --rounds "${TUNNEL_ROUNDS:-3}"
echo
echo "== The same, pinned as on a kiosk and a cloud host (scripts/tunnelbench --pin)"
go run ./scripts/tunnelbench --bin bin --rounds "${TUNNEL_ROUNDS:-3}" --pin

# The customer's phone through the relay on throttled networks (Chromium's
# network emulation): QR link to the phone models, Order to "in line", the
# bytes the order uploads. Real binaries (make bench builds them) and
# Debian's Chromium, loopback only; JOURNEY_RUNS journeys per network (default 3).
echo
echo "== The phone's journey, throttled (scripts/journey)"
go run ./scripts/journey --bin bin --runs "${JOURNEY_RUNS:-3}"
