#!/usr/bin/env bash
# Builds the wheelhouse the image installs offline: every Python dependency of
# requirements/image.lock as a cp311 wheel. Downloads are checked against the
# lock's hashes; the two sdists (llama-cpp-python, systemd-python) are built
# here. Cached outside the repo, keyed by the lock and the llama flags, so a
# second run does nothing. Prints the wheelhouse's path.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
lock="$repo/requirements/image.lock"
CACHE=${NOOS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/noos}
PYTHON=${PYTHON:-python3}
# The gpu image's llama.cpp flags make a wheelhouse of their own; the default
# build's key is the lock and the llama build script alone.
key=$( (cat "$lock" "$repo/tools/build-llama-wheel.sh"; printf '%s' "${LLAMA_CMAKE_ARGS:-}") | sha256sum | cut -c1-16)
out="$CACHE/wheelhouse/$key"
if [ ! -f "$out/SHA256SUMS" ]; then
  echo "build-wheelhouse: building $out" >&2
  mkdir -p "$CACHE/wheelhouse"
  tmp=$(mktemp -d "$CACHE/wheelhouse/tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  $PYTHON -m pip download --quiet --no-deps --require-hashes -r "$lock" -d "$tmp/dl" >&2
  mkdir "$tmp/wh"
  for f in "$tmp"/dl/*; do
    case "$f" in
      *.whl) mv "$f" "$tmp/wh/" ;;
      */llama_cpp_python-*.tar.gz) cp "$("$repo/tools/build-llama-wheel.sh" "$f")" "$tmp/wh/" ;;
      *.tar.gz|*.zip) $PYTHON -m pip wheel --quiet --no-deps -w "$tmp/wh" "$f" >&2 ;;
      *) echo "build-wheelhouse: unexpected download $f" >&2; exit 1 ;;
    esac
  done
  # The pins without the hashes: two of the wheels are built here, so their
  # hashes differ from the sdists' in the lock. SHA256SUMS covers the wheels.
  grep -E '^[A-Za-z0-9_.-]+==' "$lock" | sed 's/ *\\$//' > "$tmp/wh/requirements.txt"
  (cd "$tmp/wh" && sha256sum -- *.whl > SHA256SUMS)
  mv "$tmp/wh" "$out"
fi
echo "$out"
