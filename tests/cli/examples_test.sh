#!/usr/bin/env bash
# eosim check over docs/examples/histories: each file gives exactly the anomalies its README's table names
# (and the clean ones pass); malformed histories get the file, line and reason, exit 2.
# Usage: examples_test.sh EOSIM EXAMPLES_DIR
set -u
eosim="$1"
dir="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
checks=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# The table: | `file` | anomalies or "nothing" | what happened |
grep '^| `' "$dir/README.md" | awk -F'|' '{gsub(/[` ]/, "", $2); gsub(/^ +| +$/, "", $3); print $2 "|" $3}' >"$work/table"
for file in "$dir"/*.jsonl; do
  grep -q "^$(basename "$file")|" "$work/table" || fail "$(basename "$file") is not in the README's table"
done
while IFS='|' read -r name expected; do
  checks=$((checks + 1))
  [ -f "$dir/$name" ] || { fail "$name is in the table but not in $dir"; continue; }
  "$eosim" check "$dir/$name" >"$work/out" 2>&1
  status=$?
  got="$(grep -vE '^(checked|nothing to check for): ' "$work/out" | grep -v "^$dir/$name: " | awk '{print $1}' | sort -u | paste -sd, - | sed 's/,/, /g')"
  if [ "$expected" = "nothing" ]; then
    [ "$status" -eq 0 ] && [ -z "$got" ] || fail "$name: expected no anomaly, got status $status: $got"
  else
    [ "$status" -eq 1 ] || fail "$name: expected status 1, got $status"
    [ "$got" = "$expected" ] || fail "$name: expected '$expected', got '$got'"
  fi
done <"$work/table"

# What eosim check says it checked: the log and the committed logs here; nothing of groups.
"$eosim" check "$dir/clean-log.jsonl" >"$work/clean" 2>&1
checks=$((checks + 1))
grep -q '^checked: log (2 sends, 1 polls); committed logs (1 partitions); replicas (2 replicas of 1 partitions)$' "$work/clean" ||
  fail "the checked line of clean-log.jsonl: $(grep checked "$work/clean")"
checks=$((checks + 1))
grep -q '^nothing to check for: .*groups (split-ownership' "$work/clean" || fail "no 'nothing to check for' line"

# Malformed: the file, the line and the reason; exit 2.
printf '{"kind":"meta","format":1}\n{"kind":"op","index":1,"time":0,"process":"p","type":"ok","f":"send","partition":"t-0","acks":"all"}\n' >"$work/missing-value.jsonl"
printf '{"kind":"meta","format":9}\n' >"$work/newer.jsonl"
printf '{"kind":"op","index":1,"time":0,"process":"p","type":"ok","f":"poll","partition":"t-0","records":[]}\n{"kind":"meta","format":1}\n' >"$work/late-meta.jsonl"
for case in "missing-value.jsonl:2: missing \"value\"" "newer.jsonl:1: \"format\" 9 is not one this eosim reads" \
  "late-meta.jsonl:2: the meta line must be the history's first line"; do
  checks=$((checks + 1))
  file="${case%%:*}"
  "$eosim" check "$work/$file" >/dev/null 2>"$work/err"
  status=$?
  line="${case#*:}"
  expected_text="eosim: $work/$file: line ${line%%:*}: ${line#*: }"
  if [ "$status" -ne 2 ] || [ "$(wc -l <"$work/err")" -ne 1 ] || ! grep -qF "$expected_text" "$work/err"; then
    fail "check $file: status $status, stderr: $(cat "$work/err") (expected 2 and '$expected_text')"
  fi
done

echo "examples_test: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
