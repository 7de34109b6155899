"""The near-duplicate benchmark's parts; ``bench/near_duplicates.py`` is its entry point.

``corpus`` (articles, copies, plain negatives), ``hard`` (hard negatives), ``evaluate``
(storing and judging), ``lookup`` (part B's stores and timings), ``tables`` (formats),
``report`` and ``report_hard`` (the printed report).
"""
