#!/usr/bin/env bash
# Vendor onnxruntime-web (the WebAssembly execution provider only) into the page's static files, so that
# `segany serve` decodes in the browser with no internet and no Node at run time.
#
# Needs npm (run time does not). Usage:  bash scripts/vendor_onnxruntime_web.sh
# Re-running it reproduces the committed files byte for byte (the tarball's sha1 is checked).
#
# Kept from the npm package (everything else, ~130 MB of other back ends and source maps, is left out):
#   ort.wasm.min.mjs              the ES-module loader of the wasm back end (imported by decoder_worker.js)
#   ort-wasm-simd-threaded.mjs    the Emscripten glue it imports (also starts the wasm threads)
#   ort-wasm-simd-threaded.wasm   the runtime itself (SIMD + threads; threads need cross-origin isolation)
#   package.json                  provenance (name, version, licence field)
#   LICENSE                       the MIT licence the package declares (the tarball ships no LICENSE file)
set -euo pipefail

VERSION="1.31.1"
SHA1="309e196c733e90a038e0380867dde308a994de92"  # `npm view onnxruntime-web@1.31.1 dist.shasum`
FILES=(ort.wasm.min.mjs ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm)

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
target="$repo_root/segany/server/static/vendor/onnxruntime-web"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "onnxruntime-web@$VERSION" >/dev/null)
tarball="$work/onnxruntime-web-$VERSION.tgz"
actual="$(sha1sum "$tarball" | cut -d' ' -f1)"
if [[ "$actual" != "$SHA1" ]]; then
    echo "onnxruntime-web-$VERSION.tgz: sha1 $actual, expected $SHA1" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"

rm -rf "$target"
mkdir -p "$target"
for name in "${FILES[@]}"; do
    cp "$work/package/dist/$name" "$target/$name"
done
cp "$work/package/package.json" "$target/package.json"
license="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["license"])' "$work/package/package.json")"
if [[ "$license" != "MIT" ]]; then
    echo "onnxruntime-web-$VERSION declares licence $license, not MIT: update LICENSE below" >&2
    exit 1
fi
cat > "$target/LICENSE" <<'LICENSE_TEXT'
onnxruntime-web (https://github.com/microsoft/onnxruntime, npm package onnxruntime-web), vendored unmodified.

MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
LICENSE_TEXT
echo "vendored onnxruntime-web $VERSION into ${target#"$repo_root"/}:"
ls -l "$target"
