#!/usr/bin/env bash
# The eosim command as a user meets it: exit statuses and one-line errors. Usage: cli_test.sh EOSIM
set -u
eosim="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

# expect STATUS PATTERN -- ARGS...: the command exits STATUS and its stderr (or stdout) matches PATTERN
# on a single line.
expect() {
  local status="$1" pattern="$2"
  shift 3
  "$eosim" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$status" ]; then
    echo "FAIL: eosim $* exited $got, expected $status"; cat "$work/err"; failures=$((failures + 1)); return
  fi
  if ! grep -qE "$pattern" "$work/err" "$work/out"; then
    echo "FAIL: eosim $*: no line matches '$pattern'"; cat "$work/out" "$work/err"; failures=$((failures + 1)); return
  fi
  if [ "$status" -eq 2 ] && [ "$(wc -l <"$work/err")" -ne 1 ]; then
    echo "FAIL: eosim $*: the error is not one line"; cat "$work/err"; failures=$((failures + 1)); return
  fi
  passes=$((passes + 1))
}

printf 'name = "broken"\n[cluster\nbrokers = 3\n' >"$work/malformed.toml"
printf 'not json\n' >"$work/bad-history.jsonl"
printf '{"kind":"op","index":0,"time":1,"process":"p","type":"invoke","f":"send","partition":"t-0","value":"a","acks":"all"}\n{"kind":"op","index":1,"time":2,"process":"p","type":"ok","f":"send","partition":"t-0","value":"a","acks":"all","offset":0}\n{"kind":"replica","partition":"t-0","replica":"b1","leader":true,"log_start_offset":0,"high_watermark":0,"log_end_offset":0,"records":[]}\n' >"$work/lost.jsonl"

printf 'name = "tiny"\n[faults]\nkinds = ["pause"]\nchaos_ms = 2000\n' >"$work/tiny.toml"
printf 'name = "tiny-weak"\n[faults]\nkinds = ["pause"]\nchaos_ms = 2000\n[checks]\nweaknesses = ["lost-write"]\n' >"$work/weak.toml"
printf 'name = "lax"\n[workload]\nacks = "all"\n[checks]\nallowed = ["duplicate when retried-send"]\n' >"$work/lax.toml"

expect 0 "Usage" -- --help
expect 0 "^eosim [0-9]" -- --version
expect 0 "log-acks-all" -- list
expect 0 "kip101-hw-truncation" -- list --bugs
expect 0 "power-loss" -- list --faults
expect 0 "fraud-window" -- list --apps
expect 2 "unknown scenario 'nope'" -- run nope --seed 1
expect 2 "bad seed range '9..1'" -- sweep log-acks-all --seeds 9..1
expect 2 "bad seed range 'x'" -- sweep log-acks-all --seeds x
expect 2 "malformed.toml:2:" -- run --spec "$work/malformed.toml" --seed 1
expect 2 "cannot read the spec file" -- run --spec "$work/missing.toml" --seed 1
expect 2 "unknown bug switch 'nope'" -- run log-acks-all --seed 1 --bug nope
expect 2 "duplicate cannot be allowed or a weakness with idempotent producers" -- run --spec "$work/lax.toml" --seed 1
expect 2 "bad-history.jsonl: line 1" -- check "$work/bad-history.jsonl"
expect 1 "lost-write" -- check "$work/lost.jsonl"
expect 2 "not both" -- run log-acks-all --spec "$work/tiny.toml" --seed 1
expect 2 "name a scenario" -- sweep --seeds 1..2
expect 2 "cannot write" -- sweep log-acks-all --seeds 1..1 --out "$work/no/such/dir/out.jsonl"
expect 0 "tiny seeds 1..2: 2 runs, 2 passed" -- sweep --spec "$work/tiny.toml" --seeds 1..2
expect 1 "weakness NOT observed: tiny-weak" -- sweep --spec "$work/weak.toml" --seeds 1..2
printf '{"key":"acct-1","value":"t1 100"}\n{"key":"acct-1","value":"t2 -30"}\n' >"$work/amounts.jsonl"
printf '{"key":"acct-1","value":"t1 100"}\n{"key":"acct-1"}\n' >"$work/no-value.jsonl"
expect 2 "no-value.jsonl:2: missing \"value\"" -- run account-balance-eos --seed 1 --input "transactions=$work/no-value.jsonl"
expect 2 "not an input topic of account-balance" -- run account-balance-eos --seed 1 --input "balances=$work/amounts.jsonl"
expect 2 "runs no stream application" -- run log-acks-all --seed 1 --input "orders=$work/amounts.jsonl"
printf '{"key":"acct-1","value":"t1 100"}\n{"key":"acct-2","value":"t1 100"}\n' >"$work/twice.jsonl"
expect 2 "twice.jsonl: the value 't1 100' is sent to 'transactions' twice" -- run account-balance-eos --seed 1 --input "transactions=$work/twice.jsonl"
expect 2 "wants TOPIC=FILE" -- run account-balance-eos --seed 1 --input "$work/amounts.jsonl"
expect 2 "has no topic 'nope'" -- run account-balance-eos --seed 1 --dump "nope=$work/out.jsonl"
expect 0 "pass" -- run account-balance-eos --seed 1 --input "transactions=$work/amounts.jsonl" --dump "balances=$work/balances.jsonl"
if [ "$(grep -c '"key":"acct-1"' "$work/balances.jsonl")" -ne 2 ]; then
  echo "FAIL: --dump balances: expected 2 balances of acct-1"; cat "$work/balances.jsonl"; failures=$((failures + 1))
else
  passes=$((passes + 1))
fi
expect 0 "pass" -- run log-acks-all --seed 3
# Fault plans (--plan): a hand-written one runs; bad ones say what and where.
printf '{"actions":[{"at_ms":1000,"kind":"crash","targets":["broker-1"],"duration_ms":500},{"at_ms":2000,"kind":"partition","targets":["broker-2"],"other_side":["controller"]}]}\n' >"$work/plan.json"
expect 0 "fault_actions = 2" -- run log-acks-all --seed 3 --plan "$work/plan.json" -v
expect 0 "2 runs, 2 passed" -- sweep log-acks-all --seeds 1..2 --plan "$work/plan.json" --out "$work/plan-sweep.jsonl"
grep -q -- "--plan $work/plan.json" "$work/plan-sweep.jsonl" && passes=$((passes + 1)) ||
  { echo "FAIL: a sweep's reproduce command lacks its --plan"; failures=$((failures + 1)); }
printf '{"actions":[' >"$work/truncated.json"
expect 2 "truncated.json: not a JSON fault plan: parse error at line 1" -- run log-acks-all --seed 1 --plan "$work/truncated.json"
printf '{"actions":[{"at_ms":5,"kind":"crush","targets":["broker-1"]}]}' >"$work/kind.json"
expect 2 "kind.json: action 1 kind: unknown fault kind 'crush'" -- run log-acks-all --seed 1 --plan "$work/kind.json"
printf '{"actions":[{"at_ms":5,"kind":"crash","targets":["broker-9"]}]}' >"$work/node.json"
expect 2 "node.json: action 1 \\(crash\\): 'broker-9' is not one of the scenario's brokers" -- run log-acks-all --seed 1 --plan "$work/node.json"
printf '{"actions":[{"at_ms":5,"kind":"crash-instance","targets":["broker-1"]}]}' >"$work/instance.json"
expect 2 "is not one of the scenario's application instances \\(none\\)" -- run log-acks-all --seed 1 --plan "$work/instance.json"
printf '{"actions":[{"at_ms":11000,"kind":"crash-instance","targets":["producer-1"]}]}' >"$work/late.json"
expect 2 "an instance fault comes within the chaos phase" -- run client-crashes --seed 1 --plan "$work/late.json"
printf '{"actions":[{"at_ms":5,"kind":"crash","targets":["broker-1"]},{"at_ms":1,"kind":"pause","targets":["broker-1"]}]}' >"$work/order.json"
expect 2 "action 2 at_ms: comes before the action above it" -- run log-acks-all --seed 1 --plan "$work/order.json"
expect 2 "missing.json: cannot read" -- run log-acks-all --seed 1 --plan "$work/missing.json"
printf '{"actions":[{"at_ms":5,"kind":"crash-controller","targets":["broker-1"],"unsynced":"lose"}]}' >"$work/ctl.json"
expect 2 "'broker-1' is not one of the scenario's controllers \\(controller\\)" -- run log-acks-all --seed 1 --plan "$work/ctl.json"
expect 2 "plan with the swarm scenario: each seed draws" -- sweep swarm --seeds 1..2 --plan "$work/plan.json"
cp "$work/plan.json" "$work/keep.json"
expect 2 "passes, so there is nothing to shrink" -- shrink log-acks-all --seed 3 --plan "$work/keep.json" --out "$work/keep.json"
cmp -s "$work/plan.json" "$work/keep.json" && passes=$((passes + 1)) ||
  { echo "FAIL: a shrink that stopped early changed its --out file"; failures=$((failures + 1)); }
printf 'name = "inst"\n[faults]\nkinds = ["crash-instance"]\n' >"$work/inst.toml"
expect 2 "'crash-instance' is drawn from the workload" -- run --spec "$work/inst.toml" --seed 1
expect 2 "log-acks-all seed 3: passes, so there is nothing to shrink" -- shrink log-acks-all --seed 3 --out "$work/shrunk.json"
expect 2 "budget 0: give the seconds" -- shrink log-acks-all --seed 3 --budget 0
# Shrinking the scenario as well as its plan: the smaller spec is written beside the plan, and the reproduce
# command runs both.
expect 0 "shrunk the scenario: " -- shrink swarm --seed 1 --bug no-dedup --out "$work/swarm.plan.json"
expect 1 "^reproduce: ./eosim run --spec $work/swarm.spec.toml --seed 1 --bug no-dedup --plan $work/swarm.plan.json" -- \
  run --spec "$work/swarm.spec.toml" --seed 1 --bug no-dedup --plan "$work/swarm.plan.json"
grep -q "^anomalies: .*duplicate" "$work/out" && passes=$((passes + 1)) ||
  { echo "FAIL: the shrunk swarm scenario does not fail with duplicate"; cat "$work/out"; failures=$((failures + 1)); }
expect 0 "deterministic" -- run log-acks-all --seed 42 --check-determinism
# The zoo, code probes, and --stop-on-failure's first failure (the lowest failing seed with any -j).
expect 0 "in swarm: caught 1 of 1" -- zoo --bug kafka-5376 --seeds 1..20
expect 0 "caught 1 of 1" -- zoo --bug kafka-5376 --seeds 1..20 --no-swarm
expect 2 "unknown bug switch 'nope'" -- zoo --bug nope
expect 2 "bad seed range" -- zoo --seeds 5..1
expect 0 "truncation-by-diverging-epoch" -- probes
expect 0 "slow-find-coordinator" -- probes --buggify
# Swarm: the seed draws the scenario; -v shows the draw; the run is deterministic.
expect 0 "param swarm.base = " -- run swarm --seed 3 -v
expect 0 "swarm seed 11: deterministic" -- run swarm --seed 11 --check-determinism
expect 0 "swarm seeds 1..4: 4 runs, 4 passed" -- sweep swarm --seeds 1..4 -j 2
expect 0 "code probes: [0-9]+ of [0-9]+ hit" -- sweep txn-basic --seeds 1..2
expect 0 "duplicate-answered-from-producer-state +[0-9]+ seeds" -- sweep idempotent-acks-all --seeds 1..2 --probes
# What became of the planned faults: applied = planned - dropped, in the summary and in each --out line.
expect 0 "faults: [0-9]+ planned, [0-9]+ applied \([0-9]+ deferred, [0-9]+ downgraded\), [0-9]+ dropped" -- sweep log-acks-all --seeds 1..2
"$eosim" sweep log-acks-all --seeds 3..3 --out "$work/faults.jsonl" >/dev/null
faults="$(grep -oE '"faults":\{[^}]*\}' "$work/faults.jsonl")"
field() { echo "$faults" | grep -oE "\"$1\":[0-9]+" | cut -d: -f2; }
if [ -n "$faults" ] && [ "$(field planned)" -gt 0 ] && [ $(($(field applied) + $(field dropped))) -eq "$(field planned)" ] &&
   [ "$(field applied)" -ge 0 ] && [ "$(field deferred)" -le "$(field planned)" ] && [ "$(field downgraded)" -le "$(field planned)" ]; then
  passes=$((passes + 1))
else
  echo "FAIL: the --out line's faults do not add up: $faults"; failures=$((failures + 1))
fi
# Liveness: each run's recovery from the heal against its bound, in the run, the sweep and each --out line.
expect 0 "recovery: [0-9.]+ s from the heal to the last probe \(bound 60 s\)" -- run log-acks-all --seed 3
expect 0 "recovery after the heal: median [0-9.]+ s, 99th percentile [0-9.]+ s, max [0-9.]+ s \(log-acks-all seed [12]\); bound 60 s; 2 of 2 runs recovered" -- sweep log-acks-all --seeds 1..2
if grep -qE '"liveness_bound_ns":60000000000' "$work/faults.jsonl" && grep -qE '"recovery_ns":[0-9]+' "$work/faults.jsonl"; then
  passes=$((passes + 1))
else
  echo "FAIL: the --out line lacks recovery_ns or liveness_bound_ns"; cat "$work/faults.jsonl"; failures=$((failures + 1))
fi
# The fault kinds of clocks, disks and links: a hand-written plan of each runs, and a bad field is one line, exit 2.
printf '%s\n' '{"actions":[{"at_ms":100,"kind":"clock-jump","targets":["broker-1"],"clock_step_ms":-3000,"duration_ms":500},' \
  '{"at_ms":200,"kind":"clock-drift","targets":["controller"],"drift_ppm":150000,"duration_ms":800},' \
  '{"at_ms":300,"kind":"disk-full","targets":["broker-2"],"free_bytes":0,"duration_ms":600},' \
  '{"at_ms":400,"kind":"slow-disk","targets":["broker-3"],"extra_latency_ms":300,"duration_ms":900},' \
  '{"at_ms":500,"kind":"flap","targets":["broker-1"],"other_side":["broker-2"],"period_ms":50,"duration_ms":700},' \
  '{"at_ms":600,"kind":"slow-link","targets":["broker-2"],"other_side":["controller"],"extra_latency_ms":400,"duration_ms":900},' \
  '{"at_ms":700,"kind":"slow-node","targets":["broker-3"],"extra_latency_ms":40,"period_ms":100,"duration_ms":900},' \
  '{"at_ms":800,"kind":"crash-rack","targets":["broker-1","broker-3"],"unsynced":"lose","duration_ms":400}]}' >"$work/new-kinds.json"
expect 0 "faults: 8 planned, 8 applied" -- run txn-clock-disk --seed 1 --plan "$work/new-kinds.json"
printf '{"actions":[{"at_ms":1,"kind":"clock-drift","targets":["broker-1"],"drift_ppm":"fast"}]}\n' >"$work/bad-drift.json"
expect 2 "action 1 drift_ppm: must be a whole number" -- run txn-clock-disk --seed 1 --plan "$work/bad-drift.json"
"$eosim" sweep txn-basic --bug kafka-17754 --seeds 1..300 --stop-on-failure -j 1 | grep '^FAIL' >"$work/first-j1"
"$eosim" sweep txn-basic --bug kafka-17754 --seeds 1..300 --stop-on-failure -j 2 | grep '^FAIL' >"$work/first-j2"
if [ -s "$work/first-j1" ] && [ "$(head -1 "$work/first-j1")" = "$(sort -t' ' -k4 -n "$work/first-j2" | head -1)" ]; then
  passes=$((passes + 1))
else
  echo "FAIL: --stop-on-failure -j 2 did not report the first failing seed -j 1 found"; cat "$work/first-j1" "$work/first-j2"
  failures=$((failures + 1))
fi

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
