"""Watchlist matching, pure (no database, no I/O).

* :mod:`~monitor.watch.fold` -- text folding for matching, with an offset map back;
* :mod:`~monitor.watch.query` -- the rule language: parser to a typed AST, printer;
* :mod:`~monitor.watch.fuzzy` -- name-variant (transliteration) matching;
* :mod:`~monitor.watch.matcher` -- every rule of every watchlist in one matcher.
"""
