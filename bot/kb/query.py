"""Builds safe FTS5 queries from arbitrary user text.

User text never reaches FTS5 syntax: it is cut into word tokens, stop words are dropped, and each
remaining term is double-quoted and OR-ed, so quotes, operators and emoji cannot raise.
"""

from __future__ import annotations

import re

_APOSTROPHES = "'\u2019"
_WORD = re.compile(r"[^\W_]+(?:[" + _APOSTROPHES + r"][^\W_]+)?", re.UNICODE)

# Function words and the filler of support questions ("how do I ...", "is it possible ...").
_STOP_TEXT = """
    a about above after again against all also am an and any anyone anything are aren't as at be
    because been before being below between both but by can can't cannot could couldn't did didn't
    do does doesn't doing don't down during each either else even ever every few for from further
    get gets getting got had hadn't has hasn't have haven't having he he'd he'll he's her here
    here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's
    its itself just let let's like me might more most much must mustn't my myself need needs no nor
    not now of off on once one only or other ought our ours ourselves out over own please possible
    really same shall shan't she she'd she'll she's should shouldn't so some someone something
    somehow still such than thank thanks that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've thing things this those though through to too
    trying under until up us very via want wants was wasn't way we we'd we'll we're we've were
    weren't what what's whats when when's where where's whether which while who who's whom why
    why's will with won't would wouldn't yes yet you you'd you'll you're you've your yours yourself
    yourselves able anybody everyone everybody hi hello hey ok okay pls plz im ive dont cant
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def _normalise(token: str) -> str:
    return token.lower().replace("\u2019", "'")


def query_terms(text: str) -> list[str]:
    """Distinct, lower-cased content words of `text`, in order of appearance."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text):
        token = _normalise(match.group(0))
        if token in STOP_WORDS:
            continue
        if token.endswith("'s"):
            token = token[:-2]
        token = token.replace("'", "")
        if len(token) < 2 or token in STOP_WORDS:
            continue
        seen.setdefault(token, None)
    return list(seen)


def quote_term(term: str) -> str:
    """One FTS5 string literal; embedded double quotes are doubled (terms never contain any)."""
    return '"' + term.replace('"', '""') + '"'


def match_any(terms: list[str]) -> str:
    """An FTS5 expression matching rows that contain at least one of `terms`."""
    return " OR ".join(quote_term(t) for t in terms)
