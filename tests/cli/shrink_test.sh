#!/usr/bin/env bash
# eosim shrink as the issue asks: the first failing seed of a switch's scenario shrinks to a plan of at most
# 3 fault actions, whose reproduce command fails again with the anomaly kept. Usage: shrink_test.sh EOSIM
set -u
eosim="$(realpath "$1")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

# shrink_first SCENARIO BUG: shrinks the first failing seed of 1..300.
shrink_first() {
  local scenario="$1" bug="$2"
  "$eosim" sweep "$scenario" --bug "$bug" --seeds 1..300 --stop-on-failure >"$work/sweep" 2>&1
  local seed
  seed="$(sed -n "s/^FAIL $scenario seed \([0-9]*\):.*/\1/p" "$work/sweep" | head -1)"
  if [ -z "$seed" ]; then
    echo "FAIL: $bug: no failing seed of $scenario in 1..300"; failures=$((failures + 1)); return
  fi
  (cd "$work" && "$eosim" shrink "$scenario" --seed "$seed" --bug "$bug" --budget 120) >"$work/shrink" 2>&1
  local status=$?
  cat "$work/shrink"
  local anomaly actions plan command
  anomaly="$(sed -n 's/^shrink .*: fails with \([a-z-]*\) under .*/\1/p' "$work/shrink")"
  actions="$(sed -n 's/^shrunk to \([0-9]*\) fault action.*/\1/p' "$work/shrink")"
  plan="$work/$(sed -n 's/^wrote \(.*\.plan\.json\)$/\1/p' "$work/shrink")"
  command="$(sed -n 's/^reproduce: \.\/eosim //p' "$work/shrink")"
  if [ "$status" -ne 0 ] || [ -z "$actions" ] || [ "$actions" -gt 3 ]; then
    echo "FAIL: $bug seed $seed: shrink exited $status with '${actions:-no}' actions"; failures=$((failures + 1)); return
  fi
  if [ "$(grep -c '"kind"' "$plan")" -ne "$actions" ]; then
    echo "FAIL: $bug: the plan file does not hold $actions actions"; cat "$plan"; failures=$((failures + 1)); return
  fi
  # The reproduce command, as a user pastes it (from the directory the plan was written to).
  (cd "$work" && eval "\"$eosim\" $command") >"$work/replay" 2>&1
  local replayed=$?
  if [ "$replayed" -ne 1 ] || ! grep -qE "^anomalies: (.*, )?$anomaly(,|$)" "$work/replay"; then
    echo "FAIL: $bug: the reproduce command exited $replayed without $anomaly"; cat "$work/replay"
    failures=$((failures + 1)); return
  fi
  echo "ok: $bug seed $seed shrinks to $actions actions and fails again with $anomaly"
}

shrink_first log-acks-all kip101-hw-truncation
shrink_first txn-basic kafka-17754
shrink_first word-count-eos kafka-7192
shrink_first word-count-eos kafka-16017
shrink_first eos-echo-sum-eos streams-partial-commit
shrink_first swarm kafka-6683

[ "$failures" -eq 0 ]
