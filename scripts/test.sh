#!/usr/bin/env bash
# Sets everything up and runs every test: unit tests, the store crash test, the DER
# writer against openssl, the API, TLS and browser tests (all under ASan+UBSan), then a
# short libFuzzer run of every fuzz target. Prints "N passed, N failed" at the end.
# Environment: FEDGW_FUZZ_SECONDS (per target, default 20; 0 skips fuzzing).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
start=$(date +%s)

scripts/deps.sh test

if [ -f tests/browser/package-lock.json ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

scripts/check-banned.sh

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

cmake --preset asan >/dev/null
cmake --build --preset asan -j2
set +e
ctest --preset asan -j2 --timeout 600 2>&1 | tee build/asan/ctest.log
ctest_rc=${PIPESTATUS[0]}
set -e

# The appliance image: built from this tree and booted under QEMU (TCG + OVMF): first-run
# setup, a certificate, a reboot that keeps both. FEDGW_IMAGE_TEST=0 skips it.
image_pass=0
image_fail=0
if [ "${FEDGW_IMAGE_TEST:-1}" != 0 ]; then
  if image/build.sh --out build/image >build/image.log 2>&1 &&
     image/boot-test.sh --image build/image/fedgw.qcow2 >>build/image.log 2>&1; then
    echo "image: built and boot-tested ($(grep -E 'PASS: boot test' build/image.log | tail -n1 | sed 's/.*PASS: //'))"
    image_pass=1
  else
    echo "image: FAILED (see build/image.log)"; tail -n 40 build/image.log
    image_fail=1
  fi
fi

fuzz_pass=0
fuzz_fail=0
secs=${FEDGW_FUZZ_SECONDS:-20}
if [ "$secs" -gt 0 ]; then
  cmake --preset fuzz >/dev/null
  # Only the libFuzzer targets (and what they link): the rest was built and tested above.
  mapfile -t fuzz_targets < <(cmake --build --preset fuzz --target help |
                              sed -nE 's/^\.\.\. (fuzz_[a-z0-9_]+).*/\1/p')
  cmake --build --preset fuzz -j2 --target "${fuzz_targets[@]}"
  mapfile -t targets < <(find build/fuzz/tests/fuzz -maxdepth 2 -type f -executable -name 'fuzz_*' | sort)
  for t in "${targets[@]}"; do
    name=$(basename "$t")
    corpus_src=$(find tests/fuzz -type d -path "*/corpus/${name#fuzz_}" | head -n1)
    work=$(mktemp -d)
    [ -n "$corpus_src" ] && cp -r "$corpus_src"/. "$work"/
    if "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 "$work" \
         >"build/fuzz/$name.log" 2>&1; then
      echo "fuzz $name: ok, ${secs}s, corpus grew to $(ls "$work" | wc -l) inputs"
      fuzz_pass=$((fuzz_pass + 1))
    else
      echo "fuzz $name: FAILED (see build/fuzz/$name.log)"; tail -n 30 "build/fuzz/$name.log"
      fuzz_fail=$((fuzz_fail + 1))
    fi
    rm -rf "$work"
  done
fi

# ctest ends with "NN% tests passed, F tests failed out of T".
summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' build/asan/ctest.log | tail -n1)
failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$summary")
total=$(sed -E 's/.* tests failed out of ([0-9]+).*/\1/' <<<"$summary")
failed=${failed:-0}
total=${total:-0}
passed=$((total - failed))
echo
echo "ctest: $passed of $total passed; image: $image_pass passed, $image_fail failed;" \
     "fuzz targets: $fuzz_pass passed, $fuzz_fail failed; $(( $(date +%s) - start )) s"
echo "$((passed + image_pass + fuzz_pass)) passed, $((failed + image_fail + fuzz_fail)) failed"
[ "$ctest_rc" -eq 0 ] && [ "$image_fail" -eq 0 ] && [ "$fuzz_fail" -eq 0 ]
