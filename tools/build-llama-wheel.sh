#!/usr/bin/env bash
# Builds the llama-cpp-python wheel from a hash-checked sdist, once, and caches
# it outside the repo keyed by version, CMake flags and Python: the sdist takes
# ~6 minutes to compile on 2 cores. Prints the cached wheel's path.
#   build-llama-wheel.sh SDIST
# -DGGML_NATIVE=OFF: the wheel runs in the image on other CPUs (it still needs
# AVX2/FMA, x86-64-v3; QEMU's `-cpu max` has them).
set -euo pipefail
sdist=$1
FLAGS=${LLAMA_CMAKE_ARGS:-"-DGGML_NATIVE=OFF"}
CACHE=${NOOS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/noos}
PYTHON=${PYTHON:-python3}
version=$(basename "$sdist" .tar.gz | sed 's/^llama_cpp_python-//')
key=$(printf '%s|%s|%s' "$version" "$FLAGS" "$($PYTHON -c 'import sys;print(sys.implementation.cache_tag)')" | sha256sum | cut -c1-16)
dir="$CACHE/llama-wheels/$version-$key"
wheel=$(ls "$dir"/llama_cpp_python-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$wheel" ]; then
  echo "build-llama-wheel: compiling llama-cpp-python $version ($FLAGS), ~6 min on 2 cores" >&2
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/llama-build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    $PYTHON -m pip wheel --quiet --no-deps -w "$tmp" "$sdist" >&2
  mkdir -p "$dir"
  mv "$tmp"/llama_cpp_python-*.whl "$dir"/
  wheel=$(ls "$dir"/llama_cpp_python-*.whl | head -n1)
fi
echo "$wheel"
