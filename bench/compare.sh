#!/usr/bin/env bash
# Side-by-side benchmark: roomchat against the two reference servers of the
# protocol (../shared/bench: lean python-socketio and Node socket.io), in one run.
#
#   bench/compare.sh                     all scenarios, 2 rounds
#   REPEAT=1 SCENARIOS="broadcast direct" bench/compare.sh
#   EXTRA="cluster history" bench/compare.sh
#                                        also roomchat with cluster: on a Redis (REDIS_URL, default
#                                        redis://127.0.0.1:6379/0; label roomchat-cluster), and with
#                                        rooms' history on (label roomchat-history)
#
# roomchat serves bench/roomchat-bench.yaml with rooms' history off (the
# transport against the references, as issue 12 compares them; history's own
# cost: bench/history.py and the roomchat-history label), its database in the
# results folder (written per run by config_for below).
#
# Copies the shared harness to a scratch folder (it is read-only where shared),
# installs what the references need, runs the references and roomchat one
# after the other with the same settings, and prints one table. Loopback only;
# every load loop is bounded by the harness.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
WORK=${BENCH_DIR:-/tmp/roomchat-bench}
export REPEAT=${REPEAT:-2}
export SCENARIOS=${SCENARIOS:-"join broadcast broadcast-max direct idle"}
RESULTS=${RESULTS:-$WORK/results/$(date +%Y%m%d-%H%M%S)}
export RESULTS
EXTRA=${EXTRA:-}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}

[[ -x "$ROOT/.venv/bin/roomchat" ]] || make -C "$ROOT" install
if [[ ! -d "$WORK" ]]; then cp -r "$SHARED" "$WORK"; chmod -R u+w "$WORK"; fi
"$WORK/run.sh" --setup

run_label() { # run_label LABEL SCENARIO CMD...: one scenario, one server, appended to $RESULTS
  local label=$1 scenario=$2; shift 2
  LABEL=$label SCENARIOS=$scenario REPEAT=1 "$WORK/run.sh" "$@" >/dev/null
}
config_for() { # config_for LABEL TAG: the config file of one roomchat run (a fresh database and key prefix)
  local path="$RESULTS/$1-$2.yaml"
  if [[ $1 == roomchat-history ]]; then cat "$HERE/roomchat-bench.yaml"
  else sed 's/^  new_room:$/  new_room:\n    history: off/' "$HERE/roomchat-bench.yaml"; fi > "$path"
  printf 'storage:\n  url: "sqlite:///%s"\n' "$RESULTS/$1-$2.sqlite3" >> "$path"
  if [[ $1 == roomchat-cluster ]]; then
    printf 'cluster:\n  redis_url: "%s"\n  key_prefix: "%s"\n' "$REDIS_URL" "rcbench-$2" >> "$path"
  fi
  echo "$path"
}
# Interleaved: every round runs each scenario on every server, rotating
# which goes first, so none always runs on a warmer (or busier) machine.
labels=(ref-node ref-python roomchat)
for extra in $EXTRA; do labels+=("roomchat-$extra"); done
count=${#labels[@]}
mkdir -p "$RESULTS"
for ((round = 0; round < REPEAT; round++)); do
  for scenario in $SCENARIOS; do
    for ((k = 0; k < count; k++)); do
      label=${labels[$(((round + k) % count))]}
      echo "[compare] round $((round + 1))/$REPEAT $scenario $label" >&2
      case $label in
        ref-node) run_label ref-node "$scenario" node "$WORK/ref-node/server.js" "{PORT}" ;;
        ref-python) run_label ref-python "$scenario" "$WORK/.venv/bin/python" "$WORK/ref-python/server.py" "{PORT}" ;;
        roomchat*) run_label "$label" "$scenario" "$ROOT/.venv/bin/roomchat" serve \
          --config "$(config_for "$label" "$$-$round-$scenario")" --port "{PORT}" ;;
      esac
    done
  done
done
echo
"$WORK/run.sh" --table "$RESULTS/results.jsonl" --base ref-python | tee "$RESULTS/table.txt"
echo "results: $RESULTS"
