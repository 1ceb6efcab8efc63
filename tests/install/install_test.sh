#!/usr/bin/env bash
# eosim as a user installs it: cmake --install into a temporary prefix, the installed eosim runs, the
# out-of-tree docs/examples/user-project builds against it with find_package(eosim CONFIG) and its
# RapidCheck property passes; cpack makes a Debian package holding the same files.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -u
build="$(cd "$1" && pwd)"
source="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

prefix="$work/prefix"
if ! cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1; then
  fail "cmake --install failed"
  cat "$work/install.log"
fi
for file in bin/eosim bin/eosim-record lib/cmake/eosim/eosimConfig.cmake lib/cmake/eosim/eosimConfigVersion.cmake \
  lib/cmake/eosim/eosimTargets.cmake lib/libeosim_scenarios.a include/eosim/scenarios/runner.h \
  include/eosim/sim/simulation.h include/eosim/reports/junit.h share/eosim/deploy/slurm/eosim-sweep.sbatch \
  share/doc/eosim/install.md; do
  [ -e "$prefix/$file" ] || fail "the install has no $file"
done
"$prefix/bin/eosim" run log-acks-all --seed 1 --quiet >"$work/run.out" 2>&1 ||
  fail "the installed eosim did not run: $(cat "$work/run.out")"

# The user's project, out of the tree, against the install only.
project="$source/docs/examples/user-project"
if cmake -S "$project" -B "$work/user" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >"$work/user.log" 2>&1 &&
  cmake --build "$work/user" -j 2 >>"$work/user.log" 2>&1; then
  if ctest --test-dir "$work/user" --output-on-failure >"$work/ctest.log" 2>&1; then
    echo "ok: $(grep -c 'Passed' "$work/ctest.log") tests of docs/examples/user-project passed against the install"
    grep -q 'AnySeedPassesAndRunsTheSameTwice .*Passed' "$work/ctest.log" || fail "the RapidCheck property did not run"
  else
    fail "the user project's tests failed"
    cat "$work/ctest.log"
  fi
else
  fail "the user project did not build against the install"
  tail -30 "$work/user.log"
fi

# The Debian package.
if (cd "$work" && cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/package" >"$work/cpack.log" 2>&1); then
  deb="$(ls "$work"/package/eosim_*.deb 2>/dev/null | head -1)"
  if [ -z "$deb" ]; then
    fail "cpack made no eosim_*.deb"
  else
    dpkg-deb -c "$deb" >"$work/contents"
    for file in ./usr/bin/eosim ./usr/lib/cmake/eosim/eosimConfig.cmake ./usr/include/eosim/scenarios/runner.h; do
      grep -q " $file\$" "$work/contents" || fail "the package has no $file"
    done
    dpkg-deb -f "$deb" Depends | grep -q libboost-context-dev || fail "the package does not depend on libboost-context-dev"
    echo "ok: $(basename "$deb"), $(wc -l <"$work/contents") entries"
  fi
else
  fail "cpack failed"
  tail -20 "$work/cpack.log"
fi

[ "$failures" -eq 0 ] && echo "install_test: passed" || echo "install_test: $failures failed"
[ "$failures" -eq 0 ]
