"""The reader for questions that ask for a name, place, number or date: the model copies a span
of its evidence (a grammar admits nothing else), and the span is cited to the sentence holding it."""
from __future__ import annotations

import pytest

from qa.answering import ABSTAIN_MARK, CHOICE_SYSTEM, EXTRACTIVE_LEAD, SYSTEM
from qa.api import Assistant
from qa.question_kind import asks_for_entity, asks_for_several, names_around, question_names
from qa.grammar import as_written, span_grammar, words
from qa.library import FolderLibrary

from conftest import SEEDS
from fakes import FakeLLM


class ChoosingLLM(FakeLLM):
    """A fake that takes grammars, like the real model: records them, replies with queued texts."""

    constrained = True

    def __init__(self, *replies: str) -> None:
        super().__init__(*replies)
        self.grammars: list[str | None] = []

    def stream(self, messages, max_tokens=200, grammar=None):
        self.grammars.append(grammar)
        return super().stream(messages, max_tokens)


@pytest.fixture
def choosing(tmp_path, fake_encoder):
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([SEEDS], fake_encoder)
    return lambda *replies: Assistant(tmp_path / "lib", llm=ChoosingLLM(*replies), encoder=fake_encoder)


@pytest.mark.parametrize("question", [
    "Which comedian made history as the Golden Globes' first solo female host?",
    "Who delivered a eulogy at Jimmy Carter's state funeral?",
    "Roughly how much aid has the Biden administration given to Ukraine?",
    "On Groundhog Day, Punxsutawney Phil saw his shadow — meaning how many more weeks of winter?",
    "In which South Korean city did police conduct a pre-dawn raid?",
    "What was the name of the Maine Coon cat left on a plane?",
])
def test_questions_that_ask_for_a_name_place_or_number(question):
    assert asks_for_entity(question)


@pytest.mark.parametrize("question", [
    "Why did the DIAA move championship sites away from the University of Delaware?",
    "How have Delaware birth moms found support and relief?",
    "What did Russia propose in 2003?",
])
def test_questions_that_ask_for_an_explanation(question):
    assert not asks_for_entity(question)


def test_span_words_keep_inner_full_stops_and_drop_clause_punctuation():
    assert words("Red No. 3, banned by the U.S. FDA (on Jan. 15), is “gone.”") == [
        "Red", "No.", "3", "banned", "by", "the", "U.S.", "FDA", "on", "Jan.", "15", "is", "gone"]


def test_the_span_grammar_is_one_llama_cpp_accepts():
    llama_cpp = pytest.importorskip("llama_cpp")
    grammar = span_grammar(['He is 6"2 and saw C:\\path, twice.', "Then Oman."], ABSTAIN_MARK, max_words=3)
    assert '"6\\"2"' in grammar and '"C:\\\\path"' in grammar  # quotes and backslashes escaped
    assert 'w0-3-0 ::= "and"\n' in grammar  # a span at its third word ends there
    assert 'w0-1-2 ::= "is" (" " w0-2-1)?\n' in grammar
    llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)


def test_a_span_may_not_hold_a_name_the_question_gives():
    question = "Who did Lavrov meet in London?"
    assert question_names(question) == {"lavrov", "london"}
    grammar = span_grammar(["Lavrov met Kerry in London's rain."], ABSTAIN_MARK, 3, question_names(question))
    assert '"Lavrov"' not in grammar and "London" not in grammar
    assert 'w0-2-2 ::= "Kerry" (" " w0-3-1)?' in grammar and 'w0-3-1 ::= "in"\n' in grammar


def test_a_span_starts_with_a_word_that_carries_meaning():
    grammar = span_grammar(["The app is RedNote."], ABSTAIN_MARK, 3, no_start=frozenset({"the", "is"}))
    assert grammar.startswith("root ::= w0-1-2 | w0-3-2 | ")
    assert 'w0-0-' not in grammar and 'w0-2-2 ::= "is" (" " w0-3-1)?' not in grammar


def test_a_copied_span_is_the_answer_cited_to_the_sentence_holding_it(choosing):
    a = choosing("Alexander Losyukov")
    answer = a.ask("Which Russian deputy foreign minister called the standoff extremely dangerous?")
    assert a.llm.prompts[0][0]["content"] == CHOICE_SYSTEM
    assert "Losyukov" in a.llm.grammars[0] and ABSTAIN_MARK in a.llm.grammars[0]
    assert answer.text.startswith("Alexander Losyukov [") and not answer.extractive
    [citation] = answer.citations
    assert "Alexander Losyukov" in citation.quote and citation.quote in answer.passages[citation.n - 1].text


@pytest.mark.parametrize("reply", [ABSTAIN_MARK, "Russian deputy foreign minister", ""])
def test_a_span_that_answers_nothing_gets_the_evidence_quoted(choosing, reply):
    answer = choosing(reply).ask("Which Russian deputy foreign minister called the standoff extremely dangerous?")
    assert answer.extractive and answer.text.startswith(EXTRACTIVE_LEAD)


def test_an_explanation_question_is_written_not_chosen(choosing):
    a = choosing("Russia proposed six-sided discussions [1].")
    answer = a.ask("What did Russia propose in 2003 for North Korea six-sided discussions?")
    assert a.llm.grammars == [None] and a.llm.prompts[0][0]["content"] == SYSTEM
    assert "six-sided" in answer.text


def test_a_model_without_grammars_writes_as_before(tmp_path, fake_encoder):
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([SEEDS], fake_encoder)
    llm = FakeLLM("Alexander Losyukov said it [1].")
    Assistant(tmp_path / "lib", llm=llm, encoder=fake_encoder).ask(
        "Which Russian deputy foreign minister called the standoff extremely dangerous?")
    assert llm.prompts[0][0]["content"] == SYSTEM


def test_a_list_may_share_a_word_with_a_longer_name_the_question_gives():
    question = "Which countries did Lavrov accuse of preparing for war with North Korea?"
    assert question_names(question) == {"lavrov"}
    sentence = "Sergey Lavrov accused the United States, South Korea and Japan of preparing for war."
    banned = names_around(question_names(question), [sentence])
    assert "sergey" in banned and "korea" not in banned
    grammar = span_grammar([sentence], ABSTAIN_MARK, 8, banned)
    assert '"South"' in grammar and '"Sergey"' not in grammar


@pytest.mark.parametrize("question, several", [
    ("Which countries did Lavrov accuse of preparing for war with North Korea?", True),
    ("Which two automakers are discussing a possible merger?", True),
    ("Which of these teams declined an invitation to the NIT?", False),
    ("Which group of countries announced a surprise cut to oil production?", False),
    ("Which United States senator resigned this week?", False),
    ("Which team won the 2024 Super Bowl?", False),
])
def test_questions_that_ask_for_several_things(question, several):
    assert asks_for_several(question) is several


def test_a_list_span_must_join_its_items():
    llama_cpp = pytest.importorskip("llama_cpp")
    sentence = "Russia's top diplomat accused the United States, South Korea and Japan of preparing for war."
    grammar = span_grammar([sentence], ABSTAIN_MARK, 8, frozenset(), frozenset({"the", "and", "of"}), joined=True)
    llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)
    starts = grammar.splitlines()[0]
    assert " w0-" not in starts and "v0-0-" not in starts  # no span starts where it could end before "and"
    assert 'v0-8-7 ::= "Korea" " " j0-9-6' in grammar and 'j0-9-6 ::= "and" " " w0-10-5' in grammar
    assert 'w0-10-5 ::= "Japan" (" " w0-11-4)?' in grammar  # past the joiner, the span may end
    assert not any(line.startswith("v") and ")?" in line for line in grammar.splitlines())


def test_a_span_is_given_as_its_sentence_writes_it():
    sentence = "Russia's top diplomat accused the “United States, South Korea and Japan” of plotting."
    assert as_written("United States South Korea and Japan", sentence) == "United States, South Korea and Japan"
    assert as_written("plotting", sentence) == "plotting"
    assert as_written("Canada", sentence) is None
    fda = "Red No. 3, banned by the U.S. FDA (on Jan. 15), is “gone.”"
    assert as_written("FDA on Jan. 15", fda) == "FDA (on Jan. 15)"  # the bracket it opens, closed
    assert as_written("Jan. 15 is gone", fda) == "Jan. 15 is gone"  # not "Jan. 15), is gone"


def test_a_list_question_gets_the_list(choosing):
    a = choosing("United States South Korea and Japan")
    answer = a.ask("Which countries did Lavrov accuse of preparing for war with North Korea?")
    assert "and" in a.llm.grammars[0] and "v" in a.llm.grammars[0].split("::=")[1]
    assert answer.text.startswith("United States, South Korea and Japan [") and not answer.extractive
