"""Strip news-page furniture (navigation labels, sign-up prompts, donation appeals) from text.

Extracted pages carry site chrome that pollutes retrieval and answers. Cleaning only drops
whole lines and normalises whitespace, so every line it keeps is verbatim article text; the
patterns target phrasing seen repeatedly across outlets, never single articles. Each prompt
pattern runs only on lines holding its keyword, which keeps cleaning fast on large corpora.
"""

from __future__ import annotations

import re

MAX_LABEL_CHARS = 60
MAX_PROMPT_CHARS = 400
MAX_APPEAL_LINES = 25
MAX_APPEAL_CHARS = 3000

_FURNITURE_LINES = frozenset(
    {
        "accessibility links", "ad", "ad feedback", "advertisement", "advertisements",
        "article continues below", "back to top", "breaking news", "click here to donate",
        "close", "comments", "continue reading", "copy link", "email", "jump to content",
        "just for subscribers", "link copied", "listen to this article", "log in", "maybe later",
        "menu", "more stories", "most popular", "most read", "paid content", "print", "read more",
        "read more here", "recommended", "related", "related articles", "related content",
        "related stories", "remind me later", "scroll to continue", "search", "share",
        "share on facebook", "share on twitter", "share this", "share this article",
        "share this story", "sign in", "skip to content", "skip to main content",
        "skip to navigation", "sponsored", "sponsored content", "story continues below",
        "story continues below advertisement", "story continues below video", "subscribe",
        "subscribe now", "toggle navigation", "tweet", "video ad feedback",
    }
)

_PROMPTS = {
    keyword: re.compile("|".join(patterns))
    for keyword, patterns in {
        "sign": [
            r"\bsign[ -]?up\b.*\b(?:newsletters?|inbox)\b",
            r"\b(?:newsletters?|inbox)\b.*\bsign[ -]?up\b",
            r"\bsign[ -]?up (?:here|for free)\b",
            r"^(?:editor[’']s note:\s*)?sign[ -]?up\b",
        ],
        "subscri": [
            r"\b(?:please consider a subscription|subscribe (?:today|now|here)|become a subscriber"
            r"|a subscription makes|subscribe to our)\b",
        ],
        "journalism": [r"\b(?:thank you for supporting our|support (?:local|independent)) journalism\b"],
        "unlock": [r"\bunlock unlimited (?:digital )?access\b"],
        "cookie": [
            r"\b(?:we|this (?:web)?site) uses? cookies\b",
            r"\b(?:accept|manage|reject) (?:all )?cookies\b",
            r"\bcookies?\b.{0,80}\b(?:consent|settings|preferences|policy)\b",
        ],
        "share": [r"^share (?:this|on|via)\b"],
        "click here": [r"^(?=.{0,80}$).*\bclick here\b"],
        "crossword": [r"\bplay the .{0,40}\bcrossword\b"],
        "may earn": [r"\bwe may earn an? (?:small )?(?:affiliate )?(?:fee|commission)\b"],
        "video": [r"^video (?:ad feedback|player was slow to load)\b"],
        "follow": [r"^follow\b.{0,80}\bon (?:twitter|x|facebook|instagram|threads|bluesky|linkedin)\b"],
        "@": [
            r"\b(?:reach|contact|email|follow) (?:him|her|them)\b.*@",
            r"@\S+.*\b(?:reach|follow) (?:him|her|them)\b",
            r"^(?:got a tip or a story idea\?\s*)?contact\b.{0,60}@",
        ],
        "forecast": [r"\bcheck your local forecast\b"],
        "podcast": [r"^(?:prefer to listen\?|listen to|subscribe to)\b.{0,60}\bpodcast\b"],
        "updated": [r"^\(?this (?:story|article) (?:was|has been) updated\b"],
        "©": [r"^©"],
        "copyright": [r"^copyright ©?\s*\d{4}"],
        "rights reserved": [r"\ball rights reserved\W*$"],
    }.items()
}
_PROMPT_KEYWORD_RE = re.compile("|".join(map(re.escape, _PROMPTS)))
_APPEAL_HEADER_RE = re.compile(
    r"^(?:a message from .{2,60}|(?:please )?support (?:independent|our|quality) journalism"
    r"|we have a (?:small )?favou?r to ask|a note to our readers|thank you for reading)\W*$",
    re.IGNORECASE,
)
_APPEAL_END_RE = re.compile(r"^(?:remind me later|maybe later|not now|no,? thanks)\W*$", re.IGNORECASE)
_APPEAL_WORDS_RE = re.compile(
    r"\b(?:support\w*|donat\w*|contribut\w*|journalism|subscri\w*|readers)\b", re.IGNORECASE
)
_EDGE_PUNCTUATION_RE = re.compile(r"^\W+|\W+$")


def clean_text(text: str) -> str:
    """Return the text without page furniture, one space between words, and single blank lines
    between paragraphs."""
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [" ".join(line.split()) for line in raw_lines]
    kept = [line for line in _drop_appeals(lines) if not line or not is_furniture(line)]
    return _join_paragraphs(kept)


def is_furniture(line: str) -> bool:
    """Tell whether a single line is a navigation label or a reader prompt rather than content."""
    lowered = line.lower()
    if len(line) <= MAX_LABEL_CHARS and _EDGE_PUNCTUATION_RE.sub("", lowered) in _FURNITURE_LINES:
        return True
    if len(line) > MAX_PROMPT_CHARS:
        return False
    keywords = {match.group() for match in _PROMPT_KEYWORD_RE.finditer(lowered)}
    return any(_PROMPTS[keyword].search(lowered) for keyword in keywords)


def _drop_appeals(lines: list[str]) -> list[str]:
    """Remove donation or subscription appeals: a header line through the appeal's last line."""
    kept: list[str] = []
    index = 0
    while index < len(lines):
        end = _appeal_end(lines, index) if _APPEAL_HEADER_RE.match(lines[index]) else None
        if end is None:
            kept.append(lines[index])
            index += 1
        else:
            index = end + 1
    return kept


def _appeal_end(lines: list[str], header: int) -> int | None:
    """Index of the appeal's last line: its dismiss button, or the end of the text when only a
    short appeal-worded tail follows the header; None when the header starts no appeal."""
    for index in range(header + 1, min(header + 1 + MAX_APPEAL_LINES, len(lines))):
        if _APPEAL_END_RE.match(lines[index]):
            return index
    tail = [line for line in lines[header + 1 :] if line]
    short_tail = len(tail) <= MAX_APPEAL_LINES and sum(map(len, tail)) <= MAX_APPEAL_CHARS
    if tail and short_tail and any(_APPEAL_WORDS_RE.search(line) for line in tail):
        return len(lines) - 1
    return None


def _join_paragraphs(lines: list[str]) -> str:
    paragraphs: list[str] = []
    for line in lines:
        if line or (paragraphs and paragraphs[-1]):
            paragraphs.append(line)
    return "\n".join(paragraphs).strip("\n")
