#!/usr/bin/env bash
# The EST core of iotsec-pki performs no I/O (iotsec-pki/src/est/service*.rs and the routing
# it owns): no database, no file, no clock, no OS random source, no transport. The servers read
# the clock and plug in SQLite and the OS random source (est/host.rs, est/transport.rs,
# est/http.rs, est/reload.rs). Grep-level, so it also catches a path written out in full
# (`std::fs::read`, `rand_core::OsRng`). First proves on a generated file that each pattern is
# caught. Takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/../.."

# pattern<TAB>what it reaches
forbidden=$(cat <<'LIST'
rusqlite	SQLite
SqliteStore	SQLite
std::fs	files
std::io	files and sockets
std::net::Tcp	sockets
std::time::SystemTime	the clock
std::time::Instant	the clock
now_utc	the clock
now_local	the clock
OsRng	the OS random source
getrandom	the OS random source
thread_rng	the OS random source
est::transport	the transport
est::http	the transport
est::reload	the reloading server
ca::state	the CA state directory
LIST
)

# Lines of $1 that are code (comments and doc comments stripped, tests after #[cfg(test)]
# left out: a test module may use what it likes).
code_of() {
  awk '/^#\[cfg\(test\)\]/ { exit } { sub(/\/\/.*/, ""); print FILENAME ":" FNR ": " $0 }' "$1"
}

scan() { # files... -> prints offending lines, returns 1 if any
  local bad=0 file pattern what
  for file in "$@"; do
    while IFS=$'\t' read -r pattern what; do
      [ -n "$pattern" ] || continue
      if hits=$(code_of "$file" | grep -F -- "$pattern"); then
        printf 'pki-sans-io: %s reaches %s (%s):\n%s\n' "$file" "$what" "$pattern" "$hits"
        bad=1
      fi
    done <<<"$forbidden"
  done
  return $bad
}

# Self-test: every pattern in code is caught; in a comment or a test module it is not.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while IFS=$'\t' read -r pattern what; do
  [ -n "$pattern" ] || continue
  printf 'fn f() { let _ = %s; }\n' "$pattern" >"$tmp/caught.rs"
  if scan "$tmp/caught.rs" >/dev/null; then
    echo "pki-sans-io self-test: '$pattern' in code was not caught" >&2
    exit 1
  fi
  printf '// %s in a comment\n/// and %s in a doc comment\nfn g() {}\n#[cfg(test)]\nmod tests { use %s; }\n' \
    "$pattern" "$pattern" "$pattern" >"$tmp/ignored.rs"
  if ! scan "$tmp/ignored.rs" >/dev/null; then
    echo "pki-sans-io self-test: '$pattern' in a comment or test module was reported" >&2
    exit 1
  fi
done <<<"$forbidden"

core=(iotsec-pki/src/est/service*.rs iotsec-pki/src/est/service/*.rs)
files=()
for f in "${core[@]}"; do
  [ -e "$f" ] && files+=("$f")
done
if [ "${#files[@]}" -eq 0 ]; then
  echo "pki-sans-io: no EST core found under iotsec-pki/src/est/service*" >&2
  exit 1
fi
if ! scan "${files[@]}"; then
  echo "pki-sans-io: the EST core must take these through what it is given (est/host.rs plugs in the host's)" >&2
  exit 1
fi
echo "pki-sans-io: ${files[*]} import no database, file, clock, OS randomness or transport"
