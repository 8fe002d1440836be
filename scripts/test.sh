#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's laptop:
# installs what the tests need when missing (as root), then fmt, clippy and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Programs the integration tests drive as real clients and peers.
needed=()
command -v curl >/dev/null 2>&1 || needed+=(curl)
# git-http-backend and php-cgi at the paths the CGI tests name (Debian's packages).
{ command -v git >/dev/null 2>&1 && [ -x /usr/lib/git-core/git-http-backend ]; } || needed+=(git)
[ -x /usr/bin/php-cgi ] || needed+=(php-cgi)
# php-fpm for the FastCGI tests (Debian names it by version: /usr/sbin/php-fpm8.2).
compgen -G "/usr/sbin/php-fpm*" >/dev/null || needed+=(php-fpm)
if [ ${#needed[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${needed[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}"
  else
    echo "test.sh: missing ${needed[*]}; install them (e.g. sudo apt-get install ${needed[*]})" >&2
    exit 1
  fi
fi

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# The benchmark's smoke mode (about a second per row) keeps bench/compare.sh working; it
# checks answers, not speed. Always in CI; locally with USHER_BENCH_SMOKE=1. It runs before
# the tests so the test summary stays the last thing printed.
if [ "${CI:-}" = true ] || [ "${USHER_BENCH_SMOKE:-}" = 1 ]; then
  bench/compare.sh --smoke
fi
cargo test
