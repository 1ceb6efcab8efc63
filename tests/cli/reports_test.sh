#!/usr/bin/env bash
# The CI outputs of eosim sweep and eosim report: JUnit XML the schema accepts, the JSON summary, --quiet,
# colour, shards and their merge, and one-line errors for bad results files.
# Usage: reports_test.sh EOSIM SCHEMA (tests/reports/junit.xsd)
set -u
eosim="$1"
schema="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
checks=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
check() {  # check DESCRIPTION COMMAND...: the command succeeds
  local what="$1"
  shift
  checks=$((checks + 1))
  if ! "$@"; then
    fail "$what"
  fi
}

valid() {  # valid FILE: the schema accepts it (xmllint's reasons printed when not)
  xmllint --noout --schema "$schema" "$1" 2>"$work/xmllint.err" || { cat "$work/xmllint.err"; false; }
}

# A failing sweep: every seed a test case, every failure with its anomaly, evidence and reproduce command.
"$eosim" sweep log-acks-all --seeds 1..6 -j 2 --bug ack-before-isr --junit "$work/fail.xml" \
  --json "$work/fail.json" --out "$work/fail.jsonl" >"$work/fail.out" 2>&1
status=$?
check "a failing sweep exits 1 (got $status)" test "$status" -eq 1
check "the failing sweep's JUnit XML is accepted by the schema" \
  valid "$work/fail.xml"
check "six test cases" test "$(grep -c '<testcase ' "$work/fail.xml")" -eq 6
check "six failures, counted on the suite" grep -q '<testsuite name="log-acks-all" tests="6" failures="6" errors="0"' "$work/fail.xml"
check "a case names its seed and bug switch" grep -q '<testcase name="seed 1 bug ack-before-isr" classname="eosim.log-acks-all"' "$work/fail.xml"
check "a failure names its anomaly" grep -q '<failure message="invariant-violation" type="invariant-violation">' "$work/fail.xml"
check "a failure carries its evidence" grep -q 'invariant acks-all-after-high-watermark broken' "$work/fail.xml"
check "a failure carries its reproduce command" \
  grep -q 'reproduce: ./eosim run log-acks-all --seed 1 --bug ack-before-isr' "$work/fail.xml"
check "the JSON summary parses and counts the failures" \
  test "$(jq -r '[.format, .runs, .failed, .exit_status, .failures_by_anomaly["invariant-violation"].seeds] | join(" ")' "$work/fail.json")" = "1 6 6 1 6"
check "the JSON summary lists the seeds that did not pass with their reproduce commands" \
  test "$(jq -r '.not_passed[0].reproduce' "$work/fail.json")" = "./eosim run log-acks-all --seed 1 --bug ack-before-isr"
check "a result line keeps the evidence" \
  test "$(head -1 "$work/fail.jsonl" | jq -r '.evidence[0].anomaly')" = "invariant-violation"

# A passing sweep validates too, and --quiet prints the summary's first line only.
"$eosim" sweep log-acks-all --seeds 1..4 -j 2 --junit "$work/pass.xml" --quiet >"$work/pass.out" 2>&1
status=$?
check "a passing sweep exits 0 (got $status)" test "$status" -eq 0
check "the passing sweep's JUnit XML is accepted by the schema" \
  valid "$work/pass.xml"
check "--quiet prints one line for a passing sweep" test "$(wc -l <"$work/pass.out")" -eq 1
"$eosim" run log-acks-all --seed 1 --quiet >"$work/run.out" 2>&1
check "run --quiet prints one line for a passing run" test "$(wc -l <"$work/run.out")" -eq 1

# The schema has teeth: a count that is not a number, a test case without a name.
sed 's/tests="6"/tests="six"/' "$work/fail.xml" >"$work/bad-count.xml"
sed '0,/<testcase name="[^"]*" /s//<testcase /' "$work/fail.xml" >"$work/bad-case.xml"
for bad in bad-count bad-case; do
  checks=$((checks + 1))
  if xmllint --noout --schema "$schema" "$work/$bad.xml" >/dev/null 2>&1; then
    fail "the schema accepts $bad.xml"
  fi
done

# Colour on a terminal only, and never with NO_COLOR (script, from util-linux, gives the command a terminal).
checks=$((checks + 1))
command -v script >/dev/null 2>&1 || fail "no script(1) to give eosim a terminal (util-linux)"
if command -v script >/dev/null 2>&1; then
  TERM=xterm script -qec "'$eosim' run log-acks-all --seed 1 --bug ack-before-isr" /dev/null >"$work/tty.out" 2>&1
  check "colour on a terminal" grep -q $'\x1b\\[' "$work/tty.out"
  NO_COLOR=1 TERM=xterm script -qec "'$eosim' run log-acks-all --seed 1 --bug ack-before-isr" /dev/null >"$work/nocolor.out" 2>&1
  checks=$((checks + 1))
  if grep -q $'\x1b\\[' "$work/nocolor.out"; then fail "colour with NO_COLOR set"; fi
fi
checks=$((checks + 1))
if grep -q $'\x1b\\[' "$work/fail.out"; then fail "colour when the output is not a terminal"; fi

# Shards: each seed in exactly one shard, and the merge equals the unsharded sweep, seed for seed.
for k in 1 2 3; do
  "$eosim" sweep log-acks-1 --seeds 5..15 --shard "$k/3" --quiet --out "$work/shard$k.jsonl" >"$work/shard$k.out" 2>&1
done
"$eosim" sweep log-acks-1 --seeds 5..15 -j 2 --quiet --out "$work/whole.jsonl" >/dev/null 2>&1
check "shard 1/3 of 5..15 runs 4 seeds" grep -q 'seeds 5..15 shard 1/3: 4 runs' "$work/shard1.out"
check "shard 3/3 of 5..15 runs 3 seeds" grep -q 'seeds 5..15 shard 3/3: 3 runs' "$work/shard3.out"
"$eosim" report "$work/shard1.jsonl" "$work/shard2.jsonl" "$work/shard3.jsonl" --out "$work/merged.jsonl" \
  --junit "$work/merged.xml" >"$work/merged.out" 2>&1
status=$?
check "the merged report exits 0 (got $status)" test "$status" -eq 0
strip() { sed 's/"wall_ms":[0-9]*,//' "$1"; }
check "the unsharded sweep wrote 11 results" test "$(wc -l <"$work/whole.jsonl")" -eq 11
check "the merged shards equal the unsharded sweep" cmp -s <(strip "$work/merged.jsonl") <(strip "$work/whole.jsonl")
check "the merged JUnit XML is accepted by the schema" valid "$work/merged.xml"
check "the merge judges the weakness scenario" grep -q 'weakness observed: log-acks-1: lost-write' "$work/merged.out"
"$eosim" report "$work/shard1.jsonl" >"$work/one.out" 2>&1
check "one shard alone: weaknesses not judged" grep -q 'weaknesses not judged' "$work/one.out"
"$eosim" report "$work/fail.jsonl" --quiet >/dev/null 2>&1
status=$?
check "a report of failed runs exits 1 (got $status)" test "$status" -eq 1

# Bad input: one line naming the file (and line), exit 2.
printf '{"scenario":"x"}\n' >"$work/missing.jsonl"
printf 'not json\n' >"$work/garbage.jsonl"
: >"$work/empty.jsonl"
expect_usage() {  # expect_usage PATTERN ARGS...
  local pattern="$1"
  shift
  checks=$((checks + 1))
  "$eosim" "$@" >"$work/err.out" 2>"$work/err.err"
  local got=$?
  if [ "$got" -ne 2 ] || [ "$(wc -l <"$work/err.err")" -ne 1 ] || ! grep -qE "$pattern" "$work/err.err"; then
    fail "eosim $* exited $got (expected 2, one line matching '$pattern')"
    cat "$work/err.err"
  fi
}
expect_usage "missing.jsonl:1: key 'seed' not found" report "$work/missing.jsonl"
expect_usage "garbage.jsonl:1: not a JSON result line" report "$work/garbage.jsonl"
expect_usage "empty.jsonl: no results" report "$work/empty.jsonl"
expect_usage "shard1.jsonl: log-acks-1 seed 5 is also in .*shard1.jsonl: the shards overlap" \
  report "$work/shard1.jsonl" "$work/shard1.jsonl"
expect_usage "nope.jsonl: cannot read" report "$work/nope.jsonl"
expect_usage "bad shard '0/3': K must be from 1 to N" sweep log-acks-1 --seeds 1..3 --shard 0/3
expect_usage "bad shard '2': expected K/N" sweep log-acks-1 --seeds 1..3 --shard 2
expect_usage "cannot write" sweep log-acks-1 --seeds 1..3 --junit /nonexistent/dir/out.xml

echo "reports_test: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
