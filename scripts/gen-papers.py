#!/usr/bin/env python3
"""Writes a large synthetic arXiv catalogue for benchmarks (arXiv JSON Lines, Kaggle format).

    python3 scripts/gen-papers.py N OUT.jsonl.gz ARXIV.jsonl.gz [HF.jsonl.gz]

The real papers of the given files come first (HF daily items are converted), then generated
papers up to N in all: each takes a real title's words reshuffled with another's, and an
abstract made of sentences drawn from real abstracts, so term statistics and embeddings look
like real ones. Ids are new-style ids in months 1501-2412 (never clashing with real ones: the
number is 5 digits starting at 90000+). Deterministic (seeded).
"""
import gzip
import json
import random
import re
import sys


def main():
    n = int(sys.argv[1])
    out = gzip.open(sys.argv[2], "wt", encoding="utf-8", compresslevel=1)
    rng = random.Random(42)
    titles, sentences, authors, cats = [], [], [], []
    written = 0
    for path in sys.argv[3:]:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                if "paper" in r and isinstance(r["paper"], dict):
                    p = r["paper"]
                    r = {
                        "id": p["id"],
                        "title": p.get("title") or r.get("title") or "",
                        "abstract": p.get("summary") or r.get("summary") or "",
                        "authors": ", ".join(a.get("name", "") for a in p.get("authors", [])),
                        "categories": "cs.AI",
                        "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 00:00:00 GMT"}],
                        "update_date": (p.get("publishedAt") or "2024-01-01")[:10],
                    }
                titles.append(r["title"].split())
                sentences.extend(s for s in re.split(r"(?<=\.)\s+", r["abstract"].replace("\n", " ")) if len(s) > 20)
                authors.append(r.get("authors") or "Anonymous")
                cats.append(r.get("categories") or "cs.AI")
                if written < n:
                    out.write(json.dumps(r) + "\n")
                    written += 1
    month = [f"{y:02d}{m:02d}" for y in range(15, 25) for m in range(1, 13)]
    i = 0
    while written < n:
        yymm = month[i % len(month)]
        num = 90000 + (i // len(month))
        i += 1
        t = rng.choice(titles)[:] + rng.choice(titles)[:4]
        rng.shuffle(t)
        abstract = " ".join(rng.choice(sentences) for _ in range(rng.randint(4, 9)))
        r = {
            "id": f"{yymm}.{num:05d}",
            "submitter": None,
            "authors": rng.choice(authors),
            "title": " ".join(t[:14]),
            "abstract": abstract,
            "categories": rng.choice(cats),
            "versions": [{"version": "v1", "created": f"Mon, 1 Jan 20{yymm[:2]} 00:00:00 GMT"}],
            "update_date": f"20{yymm[:2]}-{yymm[2:]}-01",
        }
        out.write(json.dumps(r) + "\n")
        written += 1
    out.close()
    print(f"wrote {written} papers", file=sys.stderr)


if __name__ == "__main__":
    main()
