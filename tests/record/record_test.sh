#!/usr/bin/env bash
# eosim-record against librdkafka's built-in mock cluster (loopback only, no network): each workload's history
# passes `eosim check`, retriable faults included, and where the mock's injected faults break a promise the
# checkers report what broke: a lost produce response duplicates a record of a producer without idempotence
# (and of an idempotent one: the mock checks sequences for transactional producers only), a transactional
# producer's retry is acknowledged at the wrong offset, and aborted transactions reach read_committed
# consumers (the mock's Fetch lists no aborted transactions). docs/real-clusters.md.
# Usage: record_test.sh EOSIM_RECORD EOSIM
set -u
record="$1"
eosim="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
checks=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# recorded NAME EXPECTED_STATUS PATTERN -- RECORD_ARGS...: record a history, check it; `eosim check` exits
# EXPECTED_STATUS and (when given) prints a line matching PATTERN.
recorded() {
  local name="$1" expected="$2" pattern="$3"
  shift 4
  checks=$((checks + 1))
  if ! timeout 300 "$record" --mock-brokers 3 --out "$work/$name.jsonl" "$@" >"$work/$name.record" 2>&1; then
    fail "$name: eosim-record $* failed: $(tail -3 "$work/$name.record")"
    return
  fi
  "$eosim" check "$work/$name.jsonl" >"$work/$name.check" 2>&1
  local status=$?
  if [ "$status" -ne "$expected" ]; then
    fail "$name: eosim check exited $status, expected $expected"
    head -5 "$work/$name.check"
    return
  fi
  if [ -n "$pattern" ] && ! grep -qE "$pattern" "$work/$name.check"; then
    fail "$name: eosim check printed no line matching '$pattern'"
    head -5 "$work/$name.check"
    return
  fi
  echo "ok: $name: $(tail -1 "$work/$name.check")"
}

recorded log 0 "" -- --workload log --acks all --messages 100
recorded idempotent 0 "" -- --workload idempotent --messages 100
recorded transactional 0 "" -- --workload transactional --messages 60 --txn-size 4 --abort-every 0
recorded faults-idempotent 0 "" -- --workload idempotent --messages 100 --inject produce-errors --inject leader-change
recorded faults-transactional 0 "" -- --workload transactional --messages 60 --txn-size 4 --abort-every 0 \
  --inject txn-errors --inject produce-errors
# A lost produce response: the broker wrote the batch but answered after the client's timeout, so the client
# sent it again. Without idempotence the log holds it twice.
recorded lost-response-log 1 "^duplicate " -- --workload log --acks all --messages 100 --inject lost-produce-response
# The mock checks producer sequences only for transactional producers: a plain idempotent producer's retry
# is written again.
recorded lost-response-idempotent 1 "^duplicate " -- --workload idempotent --messages 100 --inject lost-produce-response
# A transactional producer's retry is found to be a duplicate, but the mock acknowledges it at offset 0, not
# where the record is: the client was told an offset that holds another record.
recorded lost-response-transactional 1 "^inconsistent-offsets " -- --workload transactional --messages 60 --txn-size 4 \
  --abort-every 0 --inject lost-produce-response
# The mock's Fetch lists no aborted transactions (and its last stable offset is its high watermark), so a
# read_committed consumer returns aborted transactions' records.
recorded aborts 1 "^aborted-read " -- --workload transactional --messages 60 --txn-size 4 --abort-every 3

# A broker down and back: recorded and checked. Not held to a verdict: once, under the load of the whole test
# run, the mock acknowledged 4 sends without an offset that its log did not hold (lost-write), and that was
# never seen again in 105 runs; docs/real-clusters.md gives the likely path. The client's debug log is kept, so
# that a repeat shows it.
checks=$((checks + 1))
if timeout 300 "$record" --mock-brokers 3 --out "$work/broker-down.jsonl" --workload idempotent --messages 100 \
  --inject broker-down --debug eos,msg >"$work/broker-down.record" 2>&1; then
  "$eosim" check "$work/broker-down.jsonl" >"$work/broker-down.check" 2>&1
  status=$?
  [ "$status" -le 1 ] || fail "broker-down: eosim check exited $status: $(tail -2 "$work/broker-down.check")"
  echo "broker-down: eosim check exited $status: $(tail -1 "$work/broker-down.check")"
  if [ "$status" -ne 0 ]; then
    grep -v '^checked\|^nothing' "$work/broker-down.check" | head -5
    # The client's side of it: batches refused and acknowledgements librdkafka inferred (docs/real-clusters.md).
    grep -i 'encountered error\|implicit\|drain' "$work/broker-down.record" | head -20
  fi
else
  fail "broker-down: eosim-record failed: $(grep -v '^%7|' "$work/broker-down.record" | tail -3)"
fi

# What the histories hold: the format's version, the final reads as replica lines, aborted transactions.
checks=$((checks + 1))
head -1 "$work/log.jsonl" | grep -q '"kind":"meta"' || fail "the history does not start with its meta line (format version)"
checks=$((checks + 1))
grep -q '"kind":"replica","partition":"eosim-record-0","replica":"client-read"' "$work/log.jsonl" ||
  fail "no replica line from the final read"
checks=$((checks + 1))
grep -q '"f":"abort"' "$work/aborts.jsonl" || fail "the transactional workload aborted nothing"
checks=$((checks + 1))
grep -q '"isolation":"read_committed"' "$work/transactional.jsonl" || fail "no read_committed poll"

# Bad input: one line, exit 2.
for args in "--out $work/x.jsonl" "--mock-brokers 3 --bootstrap localhost:9092 --out $work/x.jsonl" \
  "--mock-brokers 3 --workload nope --out $work/x.jsonl" "--bootstrap localhost:1 --inject broker-down --out $work/x.jsonl" \
  "--mock-brokers 3 --out /nonexistent/dir/x.jsonl"; do
  checks=$((checks + 1))
  # shellcheck disable=SC2086
  "$record" $args >"$work/bad.out" 2>"$work/bad.err"
  status=$?
  if [ "$status" -ne 2 ] || [ "$(wc -l <"$work/bad.err")" -ne 1 ]; then
    fail "eosim-record $args exited $status (expected 2 with one line): $(cat "$work/bad.err")"
  fi
done

echo "record_test: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
