#!/usr/bin/env bash
# Sharded sweeps on a batch engine give the same per-seed results as one unsharded sweep (docs/scale.md).
# Starts a one-node Slurm cluster (slurmctld, slurmd and munged in a temporary directory, on ports of its
# own), submits deploy/slurm/eosim-sweep.sbatch as a job array of 4 shards of 1..400, merges them with
# eosim report and compares them with the unsharded sweep. When Slurm cannot start here it says why and
# tests the GNU parallel recipe instead; the Kubernetes manifest's command is run by hand for each index.
# Usage: shards_test.sh EOSIM REPOSITORY (EOSIM_SHARDS_NO_SLURM=1 tries the GNU parallel recipe)
set -u
eosim="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
repo="$2"
scenario=log-acks-all
seeds=${EOSIM_SHARDS_SEEDS:-1..400}  # a smaller range for a quick try by hand
work="$(mktemp -d /tmp/eosim-shards.XXXXXX)"
chmod 755 "$work"
failures=0
started=()
cleanup() {
  # The daemons this test started: the Slurm ones first (they hold munge connections), each given 10 s to
  # stop, then killed.
  local pids=()
  for pidfile in "${started[@]}"; do
    [ -f "$pidfile" ] && pids+=("$(cat "$pidfile")")
  done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[$i]}" 2>/dev/null
    for _ in $(seq 1 20); do
      kill -0 "${pids[$i]}" 2>/dev/null || break
      sleep 0.5
    done
    kill -9 "${pids[$i]}" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
strip() { sed 's/"wall_ms":[0-9]*,//' "$1"; }
# same MERGED WHOLE WHAT: the merged shards hold the same runs, seed for seed, as the unsharded sweep
same() {
  if [ ! -s "$2" ]; then
    fail "$3: the unsharded sweep wrote no results"
  elif cmp -s <(strip "$1") <(strip "$2"); then
    echo "ok: $3: $(wc -l <"$1") runs, the same as one unsharded sweep"
  else
    fail "$3: the merged shards differ from the unsharded sweep"
    diff <(strip "$1") <(strip "$2") | head -5
  fi
}

"$eosim" sweep "$scenario" --seeds "$seeds" -j 2 --quiet --out "$work/whole.jsonl" || fail "the unsharded sweep failed"

# Slurm: why it cannot start here, or "" once it runs.
start_slurm() {
  local dir="$work/slurm" host
  if [ -n "${EOSIM_SHARDS_NO_SLURM:-}" ]; then
    echo "EOSIM_SHARDS_NO_SLURM is set"
    return
  fi
  for tool in munged mungekey slurmctld slurmd sbatch sinfo; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool is not installed (scripts/bootstrap.sh installs slurm-wlm and munge)"; return; }
  done
  [ "$(id -u)" -eq 0 ] || { echo "the daemons need root here (slurmd runs the jobs as the submitting user)"; return; }
  host="$(hostname -s)"
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  chmod 755 "$dir" "$dir/munge"
  mungekey -c -k "$dir/munge/munge.key" >/dev/null 2>&1 || { echo "mungekey could not make a key"; return; }
  munged -f --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" --log-file="$dir/munge/munged.log" \
    --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" >/dev/null 2>&1 ||
    { echo "munged did not start: $(tail -1 "$dir/munge/munged.log" 2>/dev/null)"; return; }
  started+=("$dir/munge/munged.pid")
  local port=$((20000 + $$ % 20000))
  cat >"$dir/slurm.conf" <<CONF
ClusterName=eosimtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=eosim Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF" >/dev/null 2>&1 || { echo "slurmctld did not start: $(tail -1 "$dir/slurmctld.log" 2>/dev/null)"; return; }
  started+=("$dir/slurmctld.pid")
  slurmd -f "$SLURM_CONF" >/dev/null 2>&1 || { echo "slurmd did not start: $(tail -1 "$dir/slurmd.log" 2>/dev/null)"; return; }
  started+=("$dir/slurmd.pid")
  for _ in $(seq 1 30); do
    if sinfo -h -o '%T' 2>/dev/null | grep -q idle; then
      echo ""
      return
    fi
    sleep 1
  done
  echo "the node did not come up idle within 30 s: $(sinfo -h 2>&1 | head -1); $(tail -1 "$dir/slurmd.log" 2>/dev/null)"
}

why="$(start_slurm)"
# start_slurm ran in a subshell: take what it started and its configuration from the files it left.
started=()
for pidfile in "$work/slurm/munge/munged.pid" "$work/slurm/slurmctld.pid" "$work/slurm/slurmd.pid"; do
  [ -f "$pidfile" ] && started+=("$pidfile")
done
if [ -z "$why" ]; then
  export SLURM_CONF="$work/slurm/slurm.conf"
  echo "Slurm: a one-node cluster is up; submitting 4 shards of $scenario $seeds as a job array"
  if ! (cd "$work" && EOSIM="$eosim" timeout 1200 sbatch --wait --array=1-4 --quiet \
      "$repo/deploy/slurm/eosim-sweep.sbatch" "$work/slurm-results" "$scenario" --seeds "$seeds"); then
    fail "the Slurm job array failed: $(cat "$work"/eosim-sweep-*.log 2>/dev/null | head -5)"
  fi
  "$eosim" report "$work"/slurm-results/shard-*.jsonl --quiet --out "$work/slurm-merged.jsonl" ||
    fail "eosim report of the Slurm shards did not pass"
  same "$work/slurm-merged.jsonl" "$work/whole.jsonl" "Slurm job array of 4 shards"
else
  echo "Slurm cannot start here: $why"
  echo "testing the GNU parallel recipe instead"
  if ! command -v parallel >/dev/null 2>&1; then
    fail "neither Slurm nor GNU parallel (scripts/bootstrap.sh installs both)"
  else
    (cd "$work" && parallel --will-cite -j 2 "$eosim" sweep "$scenario" --seeds "$seeds" --shard '{}/4' --quiet \
      --out 'parallel-{}.jsonl' ::: 1 2 3 4 >/dev/null) || fail "the GNU parallel recipe failed"
    "$eosim" report "$work"/parallel-*.jsonl --quiet --out "$work/parallel-merged.jsonl" ||
      fail "eosim report of the GNU parallel shards did not pass"
    same "$work/parallel-merged.jsonl" "$work/whole.jsonl" "GNU parallel, 4 shards"
  fi
fi

# The Kubernetes Indexed Job's command, run for each index as the pods would (a smaller range).
manifest="$repo/deploy/kubernetes/eosim-sweep.yaml"
command="$(sed -n 's/^ *- \(exec eosim sweep .*\)$/\1/p' "$manifest")"
if [ -z "$command" ]; then
  fail "no 'exec eosim sweep' command in $manifest"
else
  mkdir -p "$work/k8s"
  for index in 0 1 2 3; do
    PATH="$(dirname "$eosim"):$PATH" JOB_COMPLETION_INDEX=$index SCENARIO=$scenario SEEDS=1..40 SHARDS=4 \
      RESULTS="$work/k8s" sh -c "$command" >/dev/null || fail "the Kubernetes command failed for index $index"
  done
  "$eosim" sweep "$scenario" --seeds 1..40 -j 2 --quiet --out "$work/whole-40.jsonl" >/dev/null
  "$eosim" report "$work"/k8s/shard-*.jsonl --quiet --out "$work/k8s-merged.jsonl" >/dev/null
  same "$work/k8s-merged.jsonl" "$work/whole-40.jsonl" "the Kubernetes Indexed Job's command, 4 indexes"
fi

[ "$failures" -eq 0 ] && echo "shards_test: passed" || echo "shards_test: $failures failed"
[ "$failures" -eq 0 ]
