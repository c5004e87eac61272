#!/usr/bin/env bash
# Installs what the build, the tests and CI need, each only when it is missing:
# the thumbv7em target, Debian packages for the real peers (.ci/apt-packages.txt),
# PyPI tools in a venv under target/venv (.ci/pip-packages.txt), cargo tools (.ci/cargo-tools.txt).
# Safe to run again: a machine that has everything spends a second here.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "install: $*" >&2; }
entries() { grep -vE '^[[:space:]]*(#|$)' "$1" || true; }

for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done
rustup target list --installed | grep -qx thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf

mapfile -t apt_wanted < <(entries .ci/apt-packages.txt | awk '{print $1}')
apt_missing=()
for p in "${apt_wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || apt_missing+=("$p")
done
if ((${#apt_missing[@]})); then
  say "apt packages: ${apt_missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

if [ -n "$(entries .ci/pip-packages.txt)" ]; then
  venv=target/venv
  [ -x "$venv/bin/python" ] || { say "python venv in $venv"; python3 -m venv "$venv"; }
  stamp="$venv/.installed-$(sha256sum .ci/pip-packages.txt | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    say "pip packages: $(entries .ci/pip-packages.txt | tr '\n' ' ')"
    "$venv/bin/pip" install -q --disable-pip-version-check -r <(entries .ci/pip-packages.txt)
    touch "$stamp"
  fi
fi

# cargo-tools.txt lines: crate version binary
while read -r crate version binary; do
  [ -n "$crate" ] || continue
  if ! command -v "$binary" >/dev/null 2>&1; then
    say "cargo install $crate@$version"
    cargo install --quiet --locked "$crate" --version "$version"
  fi
done < <(entries .ci/cargo-tools.txt)
