#!/usr/bin/env python3
"""Writes a large synthetic arXiv catalogue for benchmarks (arXiv JSON Lines, Kaggle format).

    python3 scripts/gen-papers.py [--uniform] N OUT.jsonl.gz ARXIV.jsonl.gz [HF.jsonl.gz]

The real papers of the given files come first (HF daily items are converted), then generated
papers up to N in all.

By default a generated paper is written *near a real one*, as a real catalogue grows: it takes
a real paper as its seed, finds up to six real papers that share one of the seed title's
distinctive words (a word found in 2 to 400 titles), and draws its abstract's sentences from
the seed and those neighbours, its title from the seed's title and a neighbour's, its authors
and categories from the seed. So term statistics, topic clusters and the embeddings' geometry
look like those of a real catalogue.

`--uniform` writes what earlier benchmark runs used: every generated abstract is made of
sentences drawn from *all* real abstracts at random, so each mixes unrelated topics and all
their embeddings crowd around the corpus mean. That is a harsher case for a vector index than
real text (nearest neighbours are barely nearer than anything else), kept for comparison.

Ids are new-style ids in months 1501-2412 (never clashing with real ones: the number is 5
digits starting at 90000+). Deterministic (seeded).
"""
import gzip
import json
import random
import re
import sys

STOP = set(
    "a an and are as at be by for from in into is it its of on or that the this to with via "
    "using towards toward based new we our can not no do does how what when why which beyond "
    "through under over between across vs versus".split()
)


def words_of(title):
    return [w for w in re.findall(r"[a-z][a-z0-9\-]+", title.lower()) if w not in STOP]


def read_real(paths, n, out):
    papers, written = [], 0
    for path in paths:
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
                sentences = [
                    s
                    for s in re.split(r"(?<=\.)\s+", r["abstract"].replace("\n", " "))
                    if len(s) > 20
                ]
                papers.append(
                    {
                        "title": r["title"].split(),
                        "sentences": sentences,
                        "authors": r.get("authors") or "Anonymous",
                        "categories": r.get("categories") or "cs.AI",
                    }
                )
                if written < n:
                    out.write(json.dumps(r) + "\n")
                    written += 1
    return papers, written


def main():
    args = sys.argv[1:]
    uniform = "--uniform" in args
    args = [a for a in args if a != "--uniform"]
    n = int(args[0])
    out = gzip.open(args[1], "wt", encoding="utf-8", compresslevel=1)
    rng = random.Random(42)
    papers, written = read_real(args[2:], n, out)
    papers = [p for p in papers if p["sentences"] and p["title"]]
    all_sentences = [s for p in papers for s in p["sentences"]]

    # Distinctive title words: in at least 2 titles (so a neighbour exists), at most 400.
    by_word = {}
    for i, p in enumerate(papers):
        for w in set(words_of(" ".join(p["title"]))):
            by_word.setdefault(w, []).append(i)
    keys = [
        [w for w in set(words_of(" ".join(p["title"]))) if 2 <= len(by_word[w]) <= 400]
        for p in papers
    ]

    month = [f"{y:02d}{m:02d}" for y in range(15, 25) for m in range(1, 13)]
    i = 0
    while written < n:
        yymm = month[i % len(month)]
        num = 90000 + (i // len(month))
        i += 1
        seed = rng.randrange(len(papers))
        s = papers[seed]
        if uniform:
            other = rng.choice(papers)
            t = s["title"][:] + other["title"][:4]
            abstract = " ".join(rng.choice(all_sentences) for _ in range(rng.randint(4, 9)))
            authors, cats = other["authors"], rng.choice(papers)["categories"]
        else:
            near = []
            if keys[seed]:
                for _ in range(6):
                    w = rng.choice(keys[seed])
                    j = rng.choice(by_word[w])
                    if j != seed:
                        near.append(papers[j])
            pool = [(s, x) for x in s["sentences"]] + [(p, x) for p in near for x in p["sentences"]]
            k = min(len(pool), rng.randint(4, 9))
            picked = rng.sample(pool, k)
            # The seed's own sentences lead, as a paper's opening states its topic.
            picked.sort(key=lambda px: px[0] is not s)
            abstract = " ".join(x for _, x in picked)
            other = rng.choice(near) if near else s
            t = s["title"][:] + other["title"][:4]
            authors, cats = s["authors"], s["categories"]
        rng.shuffle(t)
        r = {
            "id": f"{yymm}.{num:05d}",
            "submitter": None,
            "authors": authors,
            "title": " ".join(t[:14]),
            "abstract": abstract,
            "categories": cats,
            "versions": [{"version": "v1", "created": f"Mon, 1 Jan 20{yymm[:2]} 00:00:00 GMT"}],
            "update_date": f"20{yymm[:2]}-{yymm[2:]}-01",
        }
        out.write(json.dumps(r) + "\n")
        written += 1
    out.close()
    print(f"wrote {written} papers", file=sys.stderr)


if __name__ == "__main__":
    main()
