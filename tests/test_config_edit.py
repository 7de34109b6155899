"""Saving a watchlist into feeds.yaml: comments and layout kept byte for byte, invalid
results and concurrent edits refused, the file replaced atomically."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load_settings
from monitor.config_edit import delete_watchlist, file_hash, save_watchlist
from monitor.errors import ConfigError

REPO_CONFIG = Path(__file__).resolve().parent.parent / "feeds.yaml"

LAYERED = """\
# the desk's configuration
config_version: 7

feeds:
  - name: Wire   # the only one
    url: https://wire.example/feed
    tags: [wire]

watchlists:
  # -- people --------------------------------------------------------
  - name: People
    rules:
      - Qassem Soleimani       # the commander
      - Ismail Haniyeh
    fuzzy: true

  # -- places --------------------------------------------------------
  - name: Places
    rules: [Tehran, Gaza]      # flow style, kept
    tags: [wire]

  - name: Groups
    rules:
      - Hezbollah

# mail settings follow
smtp:
  host: mail.example.org
  from: monitor@example.org
"""


@pytest.fixture
def layered(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(LAYERED, encoding="utf-8")
    return path


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(REPO_CONFIG.read_bytes())
    return path


def names(path: Path) -> list[str]:
    return [w.name for w in load_settings(path).watchlists]


def test_adding_to_the_repository_file_keeps_every_byte_of_it(repo_copy: Path) -> None:
    before = repo_copy.read_bytes()
    settings = load_settings(repo_copy)
    new = {
        "name": "Gulf shipping",
        "rules": ["Strait of Hormuz", "tanker NEAR/5 seized"],
        "fuzzy": False,
        "tags": ["gulf"],
        "recipients": ["desk@example.org"],
    }
    save_watchlist(repo_copy, new, expected_hash=hashlib.sha256(before).hexdigest())
    after = repo_copy.read_bytes()
    assert after.startswith(before)  # the watchlists are last: the rest is untouched
    added = after[len(before) :].decode()
    assert "  - name: Gulf shipping\n" in added and "# " not in added
    reloaded = load_settings(repo_copy)
    assert [w.name for w in reloaded.watchlists] == ["Iran and its allies", "Gulf shipping"]
    gulf = reloaded.watchlists[1]
    assert [r.query for r in gulf.rules] == new["rules"] and gulf.tags == ["gulf"]
    assert reloaded.feeds == settings.feeds  # the feeds are untouched
    assert reloaded.config_version == settings.config_version


def test_replacing_keeps_its_position_its_unchanged_comments_and_the_rest(
    layered: Path,
) -> None:
    lines = LAYERED.splitlines(keepends=True)
    people = {
        "name": "People",
        "rules": ["Qassem Soleimani", "Yahya Sinwar"],  # the first rule and its comment stay
        "fuzzy": True,
    }
    save_watchlist(layered, people, replace="People")
    text = layered.read_text(encoding="utf-8")
    start = lines.index("  - name: People\n")
    end = lines.index("  # -- places --------------------------------------------------------\n")
    assert text.startswith("".join(lines[:start]))
    assert text.endswith("".join(lines[end - 1 :]))  # the blank line, places, groups, smtp
    assert "      - Qassem Soleimani       # the commander\n" in text
    assert "Ismail Haniyeh" not in text and "      - Yahya Sinwar\n" in text
    assert names(layered) == ["People", "Places", "Groups"]
    settings = load_settings(layered)
    assert settings.config_version == 7 and [f.name for f in settings.feeds] == ["Wire"]


def test_renaming_the_middle_one_touches_only_its_lines(layered: Path) -> None:
    lines = LAYERED.splitlines(keepends=True)
    cities = {"name": "Cities", "rules": ["Tehran", "Gaza", "Beirut"], "tags": ["wire"]}
    save_watchlist(layered, cities, replace="Places")
    text = layered.read_text(encoding="utf-8")
    start = lines.index("  - name: Places\n")
    end = lines.index("  - name: Groups\n")
    assert text.startswith("".join(lines[:start]))
    assert text.endswith("".join(lines[end - 1 :]))
    assert names(layered) == ["People", "Cities", "Groups"]
    assert [r.query for r in load_settings(layered).watchlists[1].rules] == [
        "Tehran",
        "Gaza",
        "Beirut",
    ]


def test_adding_after_the_last_keeps_the_comments_that_follow(layered: Path) -> None:
    save_watchlist(layered, {"name": "Oil", "rules": ["OPEC"]})
    text = layered.read_text(encoding="utf-8")
    head, _, tail = LAYERED.partition("\n# mail settings follow\n")
    assert text.startswith(head.rstrip("\n").rsplit("\n", 1)[0])
    assert text.endswith("\n# mail settings follow\n" + tail)
    assert "      - Hezbollah\n  - name: Oil\n    rules:\n      - OPEC\n" in text
    assert names(layered) == ["People", "Places", "Groups", "Oil"]


def test_a_file_without_watchlists_gets_a_section(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    original = "# feeds only\nfeeds:\n  - name: Wire\n    url: https://wire.example/feed\n"
    path.write_text(original, encoding="utf-8")
    save_watchlist(path, {"name": "First", "rules": ["Gaza"]})
    assert path.read_text(encoding="utf-8").startswith(original)
    assert names(path) == ["First"]
    path.write_text(original + "watchlists: []  # none yet\n", encoding="utf-8")
    save_watchlist(path, {"name": "First", "rules": ["Gaza"]})
    assert path.read_text(encoding="utf-8").startswith(original + "watchlists:  # none yet\n")
    assert names(path) == ["First"]


def test_a_flow_list_of_watchlists_is_dumped_again_and_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds: []\nwatchlists: [{name: A, rules: [Gaza]}]  # compact\n", encoding="utf-8"
    )
    save_watchlist(path, {"name": "B", "rules": ["Tehran"]})
    assert names(path) == ["A", "B"]
    save_watchlist(path, {"name": "A", "rules": ["Rafah"]}, replace="A")
    assert [r.query for r in load_settings(path).watchlists[0].rules] == ["Rafah"]


def test_delete_removes_its_lines_only(layered: Path) -> None:
    delete_watchlist(layered, "Places")
    expected = LAYERED.replace(
        "  - name: Places\n    rules: [Tehran, Gaza]      # flow style, kept\n    tags: [wire]\n",
        "",
    )
    assert layered.read_text(encoding="utf-8") == expected
    assert names(layered) == ["People", "Groups"]
    delete_watchlist(layered, "Groups")
    assert names(layered) == ["People"]
    assert layered.read_text(encoding="utf-8").endswith(
        "# mail settings follow\n"
        + ("smtp:\n  host: mail.example.org\n  from: monitor@example.org\n")
    )
    with pytest.raises(ConfigError, match="no watchlist named 'Groups'"):
        delete_watchlist(layered, "Groups")


@pytest.mark.parametrize(
    ("watchlist", "replace", "message"),
    [
        ({"name": "Bad", "rules": ["Hamas AND"]}, None, "column 10"),
        ({"name": "Bad", "rules": []}, None, "rules"),
        ({"name": "Bad", "rules": ["x"], "recipients": ["not-mail"]}, None, "e-mail"),
        ({"name": "Bad", "rules": ["x"], "fuzzy": "perhaps"}, None, "fuzzy"),
        ({"name": "People", "rules": ["x"]}, None, "already exists"),
        ({"name": "Places", "rules": ["x"]}, "People", "already exists"),
        ({"name": "New", "rules": ["x"]}, "Nobody", "no watchlist named 'Nobody'"),
        ({"rules": ["x"]}, None, "needs a name"),
    ],
)
def test_an_invalid_result_is_refused_and_the_file_untouched(
    layered: Path, watchlist: dict[str, Any], replace: str | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        save_watchlist(layered, watchlist, replace=replace)
    assert layered.read_text(encoding="utf-8") == LAYERED
    assert ".tmp" not in str(caught.value)  # the message names the real file
    assert sorted(p.name for p in layered.parent.iterdir()) == ["feeds.yaml"]


def test_a_concurrent_edit_is_refused(layered: Path) -> None:
    seen = file_hash(layered)
    assert seen == hashlib.sha256(LAYERED.encode()).hexdigest()
    edited = LAYERED.replace("Hezbollah", "Hizballah")
    layered.write_text(edited, encoding="utf-8")  # someone else saved meanwhile
    with pytest.raises(ConfigError, match="someone else edited"):
        save_watchlist(layered, {"name": "Oil", "rules": ["OPEC"]}, expected_hash=seen)
    with pytest.raises(ConfigError, match="someone else edited"):
        delete_watchlist(layered, "People", expected_hash=seen)
    assert layered.read_text(encoding="utf-8") == edited
    save_watchlist(layered, {"name": "Oil", "rules": ["OPEC"]}, expected_hash=file_hash(layered))
    assert "Oil" in names(layered)


def test_the_file_is_replaced_atomically_with_its_permissions(layered: Path) -> None:
    layered.chmod(0o640)
    # held open so that the filesystem cannot hand the original's inode to a later file
    original = layered.open("rb")
    inode = layered.stat().st_ino
    stop = threading.Event()
    torn: list[str] = []

    def read() -> None:
        while not stop.is_set():
            text = layered.read_text(encoding="utf-8")
            if not text.endswith("smtp:\n  host: mail.example.org\n  from: monitor@example.org\n"):
                torn.append(text)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(15):
            save_watchlist(layered, {"name": "Groups", "rules": [f"group {n}"]}, replace="Groups")
    finally:
        stop.set()
        reader.join()
        original.close()
    assert torn == []  # never a half-written file
    assert layered.stat().st_ino != inode  # renamed into place, not rewritten
    assert layered.stat().st_mode & 0o777 == 0o640
    assert [r.query for r in load_settings(layered).watchlists[2].rules] == ["group 14"]
    assert sorted(p.name for p in layered.parent.iterdir()) == ["feeds.yaml"]
    assert os.access(layered, os.R_OK)
