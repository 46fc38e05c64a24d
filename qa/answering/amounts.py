"""Amounts in sentences: a timeline question about how something changed ("How did the toll
change?") is answered by the figures each period reported, so its evidence looks for them.

A figure is money, a percentage or a count of units; a year alone is not one. Where the subject
is itself a price (a toll, a fare, a tax), only a price counts: "$23 to drive", not the "$1
billion a year" the toll raises.
"""
from __future__ import annotations

import re

from qa.answering.words import content_words

_PRICE_WORDS = content_words("toll fare fee price cost tax tariff charge rent wage salary premium levy surcharge")

_NUMBER = r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|fifty|a hundred)"
_FIGURE = re.compile(
    rf"[$€£¥]\s?\d|\d\s?%|\b{_NUMBER}[ -](?:percent|per cent|dollars?|cents?|euros?|pounds?|yen|"
    r"million|billion|trillion|thousand|hundred|miles?|kilometres?|kilometers?|tons?|tonnes?|degrees?)\b", re.I)
_PRICE = re.compile(r"[$€£¥]\s?\d[\d,.]*(?!\d|[\d,.]*\s*(?:million|billion|trillion|bn|m)\b)|"
                    rf"\b{_NUMBER}[ -](?:dollars?|cents?|euros?|pounds?|yen)\b", re.I)


def has_figure(sentence: str) -> bool:
    """Whether a sentence states an amount: money, a percentage, a count of units (a year alone is not one)."""
    return bool(_FIGURE.search(sentence))


def has_price(sentence: str) -> bool:
    """Whether a sentence states a price: a sum of money short of millions ("$23", "three dollars")."""
    return bool(_PRICE.search(sentence))


def names_a_price(topic: str) -> bool:
    """Whether a topic is a price ("the congestion pricing toll", "bus fares")."""
    return bool(content_words(topic) & _PRICE_WORDS)
