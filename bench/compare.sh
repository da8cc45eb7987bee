#!/usr/bin/env bash
# Side-by-side benchmark: roomchat against the two reference servers of the
# protocol (../shared/bench: lean python-socketio and Node socket.io), in one run.
#
#   bench/compare.sh                     all scenarios, 2 rounds
#   REPEAT=1 SCENARIOS="broadcast direct" bench/compare.sh
#   CLUSTER=1 bench/compare.sh           also roomchat with cluster: on a Redis (REDIS_URL,
#                                        default redis://127.0.0.1:6379/0), labelled roomchat-cluster
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
CLUSTER=${CLUSTER:-0}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}

[[ -x "$ROOT/.venv/bin/roomchat" ]] || make -C "$ROOT" install
if [[ ! -d "$WORK" ]]; then cp -r "$SHARED" "$WORK"; chmod -R u+w "$WORK"; fi
"$WORK/run.sh" --setup

run_label() { # run_label LABEL SCENARIO CMD...: one scenario, one server, appended to $RESULTS
  local label=$1 scenario=$2; shift 2
  LABEL=$label SCENARIOS=$scenario REPEAT=1 "$WORK/run.sh" "$@" >/dev/null
}
cluster_config() { # cluster_config PREFIX: the bench config with a cluster: section (a fresh key prefix per server)
  local path="$RESULTS/roomchat-cluster-$1.yaml"
  { cat "$HERE/roomchat-bench.yaml"
    printf 'cluster:\n  redis_url: "%s"\n  key_prefix: "%s"\n' "$REDIS_URL" "rcbench-$1"; } > "$path"
  echo "$path"
}
# Interleaved: every round runs each scenario on every server, rotating
# which goes first, so none always runs on a warmer (or busier) machine.
labels=(ref-node ref-python roomchat)
[[ "$CLUSTER" == 1 ]] && labels+=(roomchat-cluster)
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
        roomchat) run_label roomchat "$scenario" "$ROOT/.venv/bin/roomchat" serve \
          --config "$HERE/roomchat-bench.yaml" --port "{PORT}" ;;
        roomchat-cluster) run_label roomchat-cluster "$scenario" "$ROOT/.venv/bin/roomchat" serve \
          --config "$(cluster_config "$$-$round-$scenario")" --port "{PORT}" ;;
      esac
    done
  done
done
echo
"$WORK/run.sh" --table "$RESULTS/results.jsonl" --base ref-python | tee "$RESULTS/table.txt"
echo "results: $RESULTS"
