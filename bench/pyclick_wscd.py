"""Writes PyClick's sample of the Yandex WSCD click log in the WSCD 2011 record
layout that `hyrank data convert --from yandex` reads.

PyClick (github.com/markovi/PyClick, GPL-3.0) kept a sample of the Yandex
Relevance Prediction Challenge (WSCD 2011/2012) log in commit 2a0e03a ("An
example using the Yandex WSCD dataset", examples/data/trainSample and
testSample; removed from the repository in 0f313d8). Its layout: pages
separated by ';', each `QUERY_REGION<TAB>URL1,...,URL10 : CLICKED , CLICKED ...`,
clicks in the order they happened. Each page becomes a session of its own:

    SessionID <TAB> 0 <TAB> Q <TAB> QueryID <TAB> RegionID <TAB> URL1 ... URL10
    SessionID <TAB> t <TAB> C <TAB> URLID          (t = 1, 2, ...: click order)

The sample is not copied into this repository (the log's own terms are those
of the challenge); get it with

    git clone https://github.com/markovi/PyClick && cd PyClick
    git show 2a0e03a:examples/data/trainSample > trainSample
    git show 2a0e03a:examples/data/testSample > testSample

and run `python3 bench/pyclick_wscd.py trainSample train.tsv` (the same for
the test file). Malformed pages stop it with the file and page number.
"""
import sys


def convert(src, dst, first_session=0):
    text = open(src, encoding="utf-8").read()
    out = []
    session = first_session
    for page_no, page in enumerate(text.split(";"), start=1):
        page = page.strip()
        if not page:
            continue
        try:
            query, rest = page.split("\t", 1)
            shown, clicked = rest.split(":", 1)
        except ValueError:
            sys.exit(f"{src}: page {page_no}: expected QUERY<TAB>URLS : CLICKS, got {page[:60]!r}")
        query_id, _, region = query.partition("_")
        urls = [u.strip() for u in shown.split(",") if u.strip()]
        clicks = [c.strip() for c in clicked.split(",") if c.strip()]
        if not query_id.isdigit() or not urls or not all(u.isdigit() for u in urls + clicks):
            sys.exit(f"{src}: page {page_no}: ids must be numbers, got {page[:60]!r}")
        out.append("\t".join([str(session), "0", "Q", query_id, region or "0", *urls]))
        for t, c in enumerate(clicks, start=1):
            out.append("\t".join([str(session), str(t), "C", c]))
        session += 1
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    return session - first_session


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: pyclick_wscd.py PYCLICK_SAMPLE OUT.tsv")
    n = convert(sys.argv[1], sys.argv[2])
    print(f"{sys.argv[2]}: {n} pages")
