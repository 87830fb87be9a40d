"""The official huggingface_hub client against a Paperboy server.

Usage: python hf_client.py BASE_URL EXPECTED.json

EXPECTED.json holds what the database holds (written by the Rust test that started the
server). Every call the client makes must return objects whose fields equal those values.
Exits non-zero (an AssertionError with a message) on the first difference.
"""

import datetime as dt
import json
import sys

from huggingface_hub import HfApi
from huggingface_hub.errors import BadRequestError, HfHubHTTPError

base, expected_path = sys.argv[1], sys.argv[2]
with open(expected_path, encoding="utf-8") as f:
    db = json.load(f)
papers = db["papers"]  # id -> fields
api = HfApi(endpoint=base, token=False)


def ts(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def check(info, where):
    """The client's PaperInfo equals the database row."""
    want = papers.get(info.id)
    assert want is not None, f"{where}: unknown id {info.id}"
    assert info.title == want["title"], (where, info.id, info.title, want["title"])
    assert info.summary == want["summary"], (where, info.id)
    # The client turns 0 upvotes into None (`0 or None`).
    assert info.upvotes == (want["upvotes"] or None), (where, info.id, info.upvotes, want["upvotes"])
    assert [a.name for a in info.authors or []] == want["authors"], (where, info.id)
    assert info.published_at == ts(want["published_at"]), (where, info.id, info.published_at)
    assert info.comments == want["num_comments"], (where, info.id, info.comments)
    assert info.ai_summary == want["ai_summary"], (where, info.id)
    assert (info.ai_keywords or []) == want["ai_keywords"], (where, info.id)
    assert info.github_repo == want["github_repo"], (where, info.id)
    if want["submitted_at"] is not None:
        assert info.submitted_at == ts(want["submitted_at"]), (where, info.id, info.submitted_at)
        assert info.submitted_by is not None, (where, info.id)
        assert info.submitted_by.username == want["submitter"], (where, info.id)
        assert info.submitted_by.fullname == want["submitter_fullname"], (where, info.id)
    if want["organization"] is not None:
        assert info.organization is not None and info.organization.name == want["organization"], (where, info.id)
    else:
        assert info.organization is None, (where, info.id)


def on_list(pred):
    """Ids on the daily list matching pred, newest submission first (the default sort)."""
    rows = [(p["submitted_at"], i) for i, p in papers.items() if p["feed_date"] and pred(p)]
    return [i for _, i in sorted(rows, reverse=True)]


# date
day = db["day"]
got = list(api.list_daily_papers(date=day, limit=100))
assert [p.id for p in got] == on_list(lambda p: p["feed_date"] == day), ("date", [p.id for p in got])
for p in got:
    check(p, "date")
assert len(got) >= 3

# week: every submission inside the ISO week (a day of slack each side, as the client's tests)
week = db["week"]
monday = dt.date.fromisocalendar(int(week[:4]), int(week[6:]), 1)
got = list(api.list_daily_papers(week=week, limit=100))
want = on_list(lambda p: monday <= dt.date.fromisoformat(p["feed_date"]) < monday + dt.timedelta(days=7))
assert sorted(p.id for p in got) == sorted(want), ("week", len(got), len(want))
for p in got:
    check(p, "week")
    assert monday - dt.timedelta(days=1) <= p.submitted_at.date() <= monday + dt.timedelta(days=7)

# month
month = db["month"]
got = list(api.list_daily_papers(month=month, limit=100))
want = on_list(lambda p: p["feed_date"].startswith(month))
assert sorted(p.id for p in got) == sorted(want), ("month", len(got), len(want))
for p in got:
    check(p, "month")

# submitter
name = db["submitter"]
got = list(api.list_daily_papers(month=month, submitter=name, limit=100))
want = on_list(lambda p: p["feed_date"].startswith(month) and p["submitter"] == name)
assert sorted(p.id for p in got) == sorted(want) and got, ("submitter", len(got), len(want))
for p in got:
    assert p.submitted_by.fullname == db["submitter_fullname"]

# paging and limit
all_month = [p.id for p in api.list_daily_papers(month=month, limit=100)]
first = [p.id for p in api.list_daily_papers(month=month, p=0, limit=5)]
second = [p.id for p in api.list_daily_papers(month=month, p=1, limit=5)]
assert first + second == all_month[:10], ("paging", first, second)
assert len([*api.list_daily_papers(month=month, limit=10)]) == 10
assert list(api.list_daily_papers(month=month, p=1000, limit=10)) == []

# a bad date is the client's BadRequestError
try:
    list(api.list_daily_papers(date="2025-13-40"))
    raise AssertionError("2025-13-40 was accepted")
except BadRequestError:
    pass

# paper_info
known = db["known_id"]
info = api.paper_info(known)
assert info.id == known
check(info, "paper_info")
assert info.linked_models == [] and info.num_total_models == 0
try:
    api.paper_info("2599.99999")
    raise AssertionError("an unknown id was found")
except HfHubHTTPError as e:
    assert e.response.status_code == 404, e.response.status_code

# list_papers (search): a word of a known title finds it; limit holds
word = db["title_word"]
found = list(api.list_papers(query=word, limit=120))
assert known in [p.id for p in found], ("search", word)
for p in found:
    check(p, "search")
assert len(list(api.list_papers(query="attention", limit=2))) == 2

# read_paper, where the client has it
if hasattr(api, "read_paper"):
    md = api.read_paper(known)
    assert papers[known]["title"] in md

print("huggingface_hub OK:", len(papers), "papers checked")
