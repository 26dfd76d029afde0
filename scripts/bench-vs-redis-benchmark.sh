#!/usr/bin/env bash
# Is `shoal bench` a bottleneck? Drives ONE redis-server with
# redis-benchmark and with `shoal bench` at equal connections (50, one
# thread each) and pipeline depth (1 and 16), for SET and for GET,
# alternating the two tools within each round (and which goes first), and
# prints the median throughput of each, their ratio, and the CPU time each
# tool spent per request (user + system, from /usr/bin/time).
#
# Usage: scripts/bench-vs-redis-benchmark.sh
# Environment:
#   PORT=23101          loopback port for the redis-server it starts
#   ROUNDS=3            rounds per cell (median reported)
#   REQUESTS_P1=200000  requests per run at -P 1
#   REQUESTS_P16=1000000 requests per run at -P 16
#   PIPELINES="1 16"    pipeline depths to measure
#   TESTS="SET GET"     commands to measure
#   SHOAL_BIN=path      use this shoal binary instead of building one
#
# Needs redis-server, redis-benchmark (Debian: redis-server, redis-tools),
# and GNU time (/usr/bin/time). On a shared machine, look at `uptime`
# first: absolute numbers drift, the ratios measured side by side hold.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-23101}
ROUNDS=${ROUNDS:-3}
REQUESTS_P1=${REQUESTS_P1:-200000}
REQUESTS_P16=${REQUESTS_P16:-1000000}
PIPELINES=${PIPELINES:-1 16}
TESTS=${TESTS:-SET GET}
CLIENTS=50
DATA_BYTES=32
KEYS=100000

for tool in redis-server redis-benchmark redis-cli /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

if [ -z "${SHOAL_BIN:-}" ]; then
  cargo build --release -p shoal >&2
  SHOAL_BIN=target/release/shoal
fi

work=$(mktemp -d)
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
for _ in $(seq 1 100); do
  redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$PORT" ping >/dev/null

echo "load before: $(uptime)"
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$PORT, $CLIENTS connections, ${DATA_BYTES}-byte values, $KEYS keys, $ROUNDS rounds, medians"

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.6f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# run_rb TEST P N -> "ops_per_sec cpu_seconds"
run_rb() {
  local test=$1 p=$2 n=$3 lower
  lower=$(echo "$test" | tr 'A-Z' 'a-z')
  /usr/bin/time -f "%U %S" -o "$work/time" \
    redis-benchmark -p "$PORT" -c "$CLIENTS" -n "$n" -P "$p" -d "$DATA_BYTES" -r "$KEYS" -t "$lower" --csv \
    >"$work/rb.csv" 2>/dev/null
  local ops cpu
  ops=$(awk -F'"' -v t="$test" '$2 == t {print $4}' "$work/rb.csv")
  cpu=$(awk '{print $1 + $2}' "$work/time")
  echo "$ops $cpu"
}

# run_shoal TEST P N -> "ops_per_sec cpu_seconds"
run_shoal() {
  local test=$1 p=$2 n=$3 ratio
  if [ "$test" = SET ]; then ratio=1:0; else ratio=0:1; fi
  /usr/bin/time -f "%U %S" -o "$work/time" \
    "$SHOAL_BIN" bench -p "$PORT" -t 1 -c "$CLIENTS" -n "$n" -P "$p" -d "$DATA_BYTES" \
    --key-maximum $((KEYS - 1)) --ratio "$ratio" --seed 1 --no-progress --json "$work/shoal.json" \
    >/dev/null 2>&1
  local ops cpu
  ops=$(grep -m1 '"ops_per_sec"' "$work/shoal.json" | sed 's/[^0-9.]//g')
  cpu=$(awk '{print $1 + $2}' "$work/time")
  echo "$ops $cpu"
}

printf '%-5s %3s %14s %14s %8s %16s %16s\n' test P redis-bench shoal-bench ratio "rb CPU us/req" "shoal CPU us/req"
for p in $PIPELINES; do
  if [ "$p" = 1 ]; then n=$REQUESTS_P1; else n=$REQUESTS_P16; fi
  for test in $TESTS; do
    : >"$work/rb_ops"; : >"$work/rb_cpu"; : >"$work/sh_ops"; : >"$work/sh_cpu"
    for round in $(seq 1 "$ROUNDS"); do
      # Alternate which tool goes first, so neither always runs on a
      # warmer (or more loaded) machine.
      if [ $((round % 2)) = 1 ]; then order="rb shoal"; else order="shoal rb"; fi
      for tool in $order; do
        if [ "$tool" = rb ]; then
          read -r ops cpu < <(run_rb "$test" "$p" "$n")
          echo "$ops" >>"$work/rb_ops"; echo "$cpu" >>"$work/rb_cpu"
        else
          read -r ops cpu < <(run_shoal "$test" "$p" "$n")
          echo "$ops" >>"$work/sh_ops"; echo "$cpu" >>"$work/sh_cpu"
        fi
      done
    done
    rb_ops=$(median <"$work/rb_ops"); sh_ops=$(median <"$work/sh_ops")
    rb_cpu=$(median <"$work/rb_cpu"); sh_cpu=$(median <"$work/sh_cpu")
    awk -v t="$test" -v p="$p" -v n="$n" -v ro="$rb_ops" -v so="$sh_ops" -v rc="$rb_cpu" -v sc="$sh_cpu" \
      'BEGIN { printf "%-5s %3s %14.0f %14.0f %8.3f %16.3f %16.3f\n", t, p, ro, so, so / ro, rc / n * 1e6, sc / n * 1e6 }'
  done
done
echo "ratio = shoal-bench ops/s / redis-benchmark ops/s (>= 1.0: shoal bench is not the bottleneck)"
echo "load after: $(uptime)"
