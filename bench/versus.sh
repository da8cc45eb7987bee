#!/usr/bin/env bash
# Two builds of roomchat side by side on the shared harness, interleaved in one run:
# a change against the commit before it.
#
#   bench/versus.sh BEFORE_ROOMCHAT AFTER_ROOMCHAT
#   REPEAT=3 SCENARIOS="broadcast direct" bench/versus.sh /tmp/a/.venv/bin/roomchat .venv/bin/roomchat
#
# Each argument is a `roomchat` executable (a venv with that build installed, e.g.
# `git archive COMMIT | tar -x -C DIR && python3 -m venv DIR/.venv && DIR/.venv/bin/pip install DIR`).
# Both serve bench/roomchat-bench.yaml of this checkout. Labels: BEFORE_LABEL and AFTER_LABEL
# (default "before" and "after"). Loopback only; every load loop is bounded by the harness.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
WORK=${BENCH_DIR:-/tmp/roomchat-bench}
export REPEAT=${REPEAT:-2}
export SCENARIOS=${SCENARIOS:-"join broadcast broadcast-max direct idle"}
RESULTS=${RESULTS:-$WORK/results/versus-$(date +%Y%m%d-%H%M%S)}
export RESULTS
CONFIG=${CONFIG:-$HERE/roomchat-bench.yaml}
if [[ $# -ne 2 ]]; then
  echo "usage: bench/versus.sh BEFORE_ROOMCHAT AFTER_ROOMCHAT (two roomchat executables)" >&2
  exit 2
fi
builds=("$1" "$2")
labels=("${BEFORE_LABEL:-before}" "${AFTER_LABEL:-after}")
for exe in "${builds[@]}"; do
  [[ -x "$exe" ]] || { echo "bench/versus.sh: $exe is not an executable roomchat" >&2; exit 2; }
done

if [[ ! -d "$WORK" ]]; then cp -r "$SHARED" "$WORK"; chmod -R u+w "$WORK"; fi
"$WORK/run.sh" --setup

# Every round runs each scenario on both builds, alternating which goes first.
for ((round = 0; round < REPEAT; round++)); do
  for scenario in $SCENARIOS; do
    for ((k = 0; k < 2; k++)); do
      i=$(((round + k) % 2))
      echo "[versus] round $((round + 1))/$REPEAT $scenario ${labels[$i]}" >&2
      LABEL=${labels[$i]} SCENARIOS=$scenario REPEAT=1 "$WORK/run.sh" "${builds[$i]}" serve \
        --config "$CONFIG" --port "{PORT}" >/dev/null
    done
  done
done
echo
"$WORK/run.sh" --table "$RESULTS/results.jsonl" --base "${labels[0]}" | tee "$RESULTS/table.txt"
echo "results: $RESULTS"
