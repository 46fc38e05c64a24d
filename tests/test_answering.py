"""Answer assembly with a queued fake model: markers, quotes, abstention, streaming."""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import date

import pytest

from qa.answering import (
    ABSTAIN_TEXT,
    EVIDENCE_SENTENCES,
    EXTRACTIVE_LEAD,
    PROMPT_SENTENCES,
    QUOTED_SENTENCES,
    RANK_PRIOR,
    Answer,
    ReaderSettings,
    Sources,
    best_sentence,
    select_evidence,
)
from qa.answering.verify import another_time, finish
from qa.api import Assistant
from qa.library import FolderLibrary, StoredChunk
from qa.reading.article import Article
from qa.retrieval import Passage

from conftest import SEEDS
from fakes import FakeLLM


@pytest.fixture
def assistant_with(tmp_path, fake_encoder):
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([SEEDS], fake_encoder)

    def make(*replies: str) -> Assistant:
        return Assistant(tmp_path / "lib", llm=FakeLLM(*replies), encoder=fake_encoder)
    return make


Q2003 = "What did Russia propose in 2003 for North Korea six-sided discussions?"


def test_markers_refer_to_shown_passages_and_quotes_come_from_them(assistant_with):
    a = assistant_with("Russia proposed six-sided discussions with China and Japan [1]. It also said hi [9].")
    answer = a.ask(Q2003)
    assert "[9]" not in answer.text and "[1]" in answer.text
    assert [c.n for c in answer.citations] == [1]
    cited = answer.passages[0]
    assert answer.citations[0].article_id == cited.article.id
    assert answer.citations[0].quote in cited.text


def test_the_prompt_holds_the_question_and_numbered_evidence(assistant_with):
    a = assistant_with("Six-sided talks [1].")
    a.ask(Q2003)
    user = a.llm.prompts[0][-1]["content"]
    assert f"\n\nQuestion: {Q2003}\n" in user
    assert user.startswith("Passage [") and "six-sided" in user


def test_the_prompt_keeps_only_the_sentences_that_bear_most_on_the_question(assistant_with, fake_encoder):
    a = assistant_with()
    passages = a.retriever.search(Q2003, 5)
    evidence = select_evidence(Q2003, passages, fake_encoder)
    assert sum(len(ev.sentences) for ev in evidence) == PROMPT_SENTENCES
    assert all(1 <= len(ev.sentences) <= EVIDENCE_SENTENCES for ev in evidence)
    shown = [s for ev in evidence for s in ev.sentences]
    assert any("six-sided" in s for s in shown)
    for ev in evidence:
        assert ev.passage is passages[ev.n - 1]
        assert all(s in ev.passage.text for s in ev.sentences), "sentences keep their wording"
        at = [ev.passage.text.index(s) for s in ev.sentences]
        assert at == sorted(at), "sentences keep their text order"


def test_sentences_left_out_of_the_prompt_bear_less_on_the_question(assistant_with, fake_encoder):
    passages = assistant_with().retriever.search(Q2003, 5)
    shown = {(ev.n, s): sc for ev in select_evidence(Q2003, passages, fake_encoder)
             for s, sc in zip(ev.sentences, ev.scores)}
    all_of_them = ReaderSettings(prompt_sentences=1000, evidence_sentences=1000)
    every = {(ev.n, s): sc for ev in select_evidence(Q2003, passages, fake_encoder, settings=all_of_them)
             for s, sc in zip(ev.sentences, ev.scores)}
    assert set(shown) < set(every)
    full = {n for n, _ in shown if sum(1 for m, _ in shown if m == n) == EVIDENCE_SENTENCES}
    left_out = [sc for key, sc in every.items() if key not in shown and key[0] not in full]
    assert min(shown.values()) >= max(left_out)


def test_evidence_from_lower_ranked_passages_pays_the_rank_prior(assistant_with, fake_encoder):
    passages = assistant_with().retriever.search(Q2003, 5)
    all_of_them = ReaderSettings(prompt_sentences=1000, evidence_sentences=1000)
    with_prior = select_evidence(Q2003, passages, fake_encoder, settings=all_of_them)
    without = select_evidence(Q2003, passages, fake_encoder, settings=replace(all_of_them, rank_prior=0.0))
    assert len(with_prior) >= 2
    for a, b in zip(with_prior, without, strict=True):
        assert a.sentences == b.sentences
        assert a.scores == pytest.approx([s - RANK_PRIOR * (a.n - 1) for s in b.scores])


def test_a_sentence_that_asks_is_never_evidence(fake_encoder):
    """An article's own question ("What did Russia propose…?") restates the reader's and so
    scores highest, but never holds the answer; the sentence after it can."""
    from qa.library.base import Article, StoredChunk
    from qa.retrieval import Passage

    text = (f"Russia and North Korea\n\n{Q2003}\n\nRussia proposed six-sided discussions in 2003 with North "
            "Korea, China and Japan. Officials asked: \"Will North Korea agree to six-sided discussions?\" "
            "The weather in Moscow was mild.")
    article = Article(id="q-1", content_hash="2" * 16, title="Russia and North Korea", text=text,
                      source="q.txt", url=None, date="2003-04-10")
    shown = [s for ev in select_evidence(Q2003, [Passage(StoredChunk(0, article, 0, len(text)), 0.9)], fake_encoder)
             for s in ev.sentences]
    assert shown and not any(s.rstrip(' "').endswith("?") for s in shown), shown
    assert any(s.startswith("Russia proposed six-sided discussions") for s in shown)


def test_placeholder_and_list_markers_from_a_small_model_are_understood(assistant_with):
    answer = assistant_with(". Russia proposed six-sided discussions with China and Japan [n] [1, 9].").ask(Q2003)
    assert answer.text == "Russia proposed six-sided discussions with China and Japan [1]."
    assert [c.n for c in answer.citations] == [1]


def test_unmarked_sentence_is_cited_by_the_passage_it_repeats(assistant_with):
    answer = assistant_with("Russia advanced a plan for six-sided discussions involving China and Japan.").ask(Q2003)
    assert answer.citations, answer.text
    assert "six-sided discussions" in answer.citations[0].quote
    assert answer.text.endswith(f"[{answer.citations[0].n}].")


def _assert_quotes_the_evidence(answer):
    assert not answer.abstained and answer.extractive and answer.text.startswith(EXTRACTIVE_LEAD)
    assert 1 <= len(answer.citations) <= QUOTED_SENTENCES
    for c in answer.citations:
        assert f"[{c.n}]" in answer.text
        assert " ".join(c.quote.split()) in " ".join(answer.passages[c.n - 1].text.split())
        assert f"“{' '.join(c.quote.split())}” [{c.n}]" in answer.text


def test_model_declining_on_close_passages_gets_the_evidence_quoted(assistant_with):
    answer = assistant_with("NOT IN ARTICLES").ask(Q2003)
    _assert_quotes_the_evidence(answer)
    assert "six-sided" in answer.text, "the sentence that answers the question is quoted"
    assert answer.to_dict()["extractive"] is True


def test_without_evidence_sentences_a_decline_is_an_abstention(fake_encoder):
    from qa.answering import finish

    answer = finish(Q2003, "NOT IN ARTICLES", [], [], "fake", fake_encoder)
    assert answer.abstained and answer.text == ABSTAIN_TEXT and not answer.extractive


def test_unrelated_question_abstains_without_asking_the_model(assistant_with):
    a = assistant_with("The 2022 World Cup was won by Argentina [1].")
    answer = a.ask("Who won the 2022 football World Cup final?")
    assert answer.abstained and a.llm.prompts == []


def test_stream_yields_the_passages_then_pieces_then_the_answer(assistant_with):
    items = list(assistant_with("Russia proposed six-sided talks [1].").stream(Q2003))
    found, *pieces, answer = items
    assert isinstance(found, Sources) and isinstance(answer, Answer)
    assert found.passages == answer.passages and len(found.sentences) == len(found.passages)
    assert "six-sided" in found.sentences[0] and found.sentences[0] in " ".join(found.passages[0].text.split())
    assert "".join(pieces) == "Russia proposed six-sided talks [1]."
    assert list(answer.timings) == ["retrieve_s", "sources_s", "first_token_s", "generate_s", "verify_s", "total_s"]
    assert answer.timings["retrieve_s"] <= answer.timings["sources_s"] <= answer.timings["first_token_s"] + \
        answer.timings["sources_s"] <= answer.timings["total_s"]


def test_a_timeline_stream_and_an_abstention_start_with_their_passages_too(assistant_with):
    a = assistant_with("Russia proposed talks [1].")
    a.encoder.abstain_below = 0.1  # bags of words: periods only pass a lower bar (a timeline needs one)
    timeline = list(a.stream("How did Russia's stance on North Korea change from 2003 to 2013?"))
    assert isinstance(timeline[0], Sources) and timeline[0].passages == timeline[-1].passages
    assert timeline[-1].timeline is not None and "sources_s" in timeline[-1].timings
    a.encoder.abstain_below = 0.3
    abstained = list(a.stream("Who won the 2022 football World Cup final?"))
    assert isinstance(abstained[0], Sources) and abstained[-1].abstained


def test_best_sentence_is_the_one_sharing_most_question_words():
    text = "The weather was mild. Russia proposed six-sided talks on Korea. Lavrov spoke later."
    assert best_sentence("What did Russia propose for Korea?", text) == "Russia proposed six-sided talks on Korea."
    assert best_sentence("unrelated", text) == "The weather was mild."
    titled = "Russia proposes talks on Korea\nMoscow offered Korea a plan. The weather was mild."
    assert best_sentence("What did Russia propose on Korea?", titled, "Russia proposes talks on Korea") == \
        "Moscow offered Korea a plan."


def test_verification_time_is_reported_apart_from_generation(assistant_with, monkeypatch):
    import qa.answering.stream

    real_finish = qa.answering.stream.finish

    def slow_finish(*args, **kwargs):
        time.sleep(0.05)
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(qa.answering.stream, "finish", slow_finish)
    t = assistant_with("Russia proposed six-sided talks [1].").ask(Q2003).timings
    assert t["verify_s"] >= 0.05
    assert t["first_token_s"] <= t["generate_s"]
    assert t["retrieve_s"] + t["generate_s"] + t["verify_s"] <= t["total_s"]


def test_abstaining_without_the_model_reports_the_same_timing_keys(assistant_with):
    t = assistant_with().ask("Who won the 2022 football World Cup final?").timings
    assert list(t) == ["retrieve_s", "sources_s", "first_token_s", "generate_s", "verify_s", "total_s"]


def test_to_dict_has_the_json_shape(assistant_with):
    d = assistant_with("Russia proposed six-sided talks [1].").ask(Q2003).to_dict()
    assert list(d) == ["question", "answer", "abstained", "citations", "passages", "model", "timings", "verification",
                       "extractive"]
    assert set(d["citations"][0]) == {"n", "article_id", "title", "date", "source", "url", "quote", "also_in"}
    assert set(d["passages"][0]) == {"article_id", "title", "date", "source", "url", "text", "score", "also_in"}


def test_empty_question_is_refused(assistant_with):
    with pytest.raises(ValueError):
        assistant_with().ask("   ")


def test_follow_up_is_retrieved_with_the_conversation(assistant_with):
    a = assistant_with("Russia proposed six-sided discussions [1].", "Losyukov said the standoff was dangerous [1].")
    chat = a.chat()
    chat.ask(Q2003)
    assert chat.context_for("What did Losyukov say about it?") == Q2003
    assert chat.context_for("Who is the foreign minister of Russia in the G8 meeting?") == ""
    answer = chat.ask("And what did he say about it?")
    assert any("003_c13b77ec0b5e076f" in p.article.id for p in answer.passages[:2])
    assert len(chat.turns) == 2


def test_a_conversation_from_history_follows_up_as_one_that_asked_them(assistant_with):
    a = assistant_with("Losyukov said the standoff was dangerous [1].")
    lived = a.chat()
    lived.ask(Q2003)
    resumed = a.chat(["", Q2003])  # a saved chat, or an HTTP client's earlier messages
    follow_up = "What did Losyukov say about it?"
    assert resumed.context_for(follow_up) == lived.context_for(follow_up) == Q2003
    assert resumed.turns == [] and a.chat().context_for(follow_up) == ""
    answer = resumed.ask("And what did he say about it?")
    assert any("003_c13b77ec0b5e076f" in p.article.id for p in answer.passages[:2])


def test_forget_last_drops_only_the_answer_named(assistant_with):
    a = assistant_with("Russia proposed six-sided discussions [1].", "Losyukov said the standoff was dangerous [1].")
    chat = a.chat()
    first = chat.ask(Q2003)
    second = chat.ask("And what did he say about it?")
    assert not chat.forget_last(first), "not the last turn: kept"
    assert chat.forget_last(second) and [answer for _, answer in chat.turns] == [first]
    assert not chat.forget_last(second), "already forgotten"
    assert chat.context_for("What did Losyukov say about it?") == Q2003


def test_retrieve_only_lists_passages_without_the_model(assistant_with):
    a = assistant_with()
    found = a.retrieve_only(Q2003)
    assert not found.abstained and found.text == "" and found.model == "" and found.passages
    assert found.passages[0].article.id.startswith("003_c13b77ec0b5e076f") and found.periods is None
    assert set(found.timings) == {"retrieve_s", "total_s"} and "periods" not in found.to_dict()
    missing = a.retrieve_only("Who won the football World Cup final?")
    assert missing.abstained and missing.text == ABSTAIN_TEXT
    later = a.retrieve_only("Who won the 2022 football World Cup final?")
    assert later.abstained and later.text.startswith("Your library has nothing after 10 April 2013")
    assert a.llm.prompts == [], "the model is never asked"


def test_retrieve_only_groups_a_timeline_by_period(assistant_with):
    answer = assistant_with().retrieve_only("How did Russia's stance on North Korea change?", timeline=None)
    assert answer.periods and sum(n for _, n in answer.periods) == len(answer.passages)
    labels = [period for period, _ in answer.periods]
    assert labels == sorted(labels)
    assert answer.to_dict()["periods"] == [{"period": p, "passages": n} for p, n in answer.periods]


def test_an_invented_sentence_is_dropped_even_when_it_cites(assistant_with):
    answer = assistant_with("Russia proposed six-sided discussions [1]. "
                            "Putin and Kim met secretly in Vladivostok to sign a treaty [1].").ask(Q2003)
    assert "Vladivostok" not in answer.text and "six-sided discussions [1]." in answer.text
    checks = {c.sentence.split()[0]: c for c in answer.checks}
    assert checks["Russia"].verified and not checks["Putin"].verified
    assert [c["verified"] for c in answer.to_dict()["verification"]] == [True, False]


def test_an_answer_with_nothing_supported_is_replaced_by_quotes(assistant_with):
    answer = assistant_with("Argentina won the football final in Qatar [1].").ask(Q2003)
    _assert_quotes_the_evidence(answer)
    assert "Argentina" not in answer.text and answer.checks[0].verified is False


def test_a_wrong_marker_is_moved_to_the_passage_that_supports_the_sentence(assistant_with):
    a = assistant_with()
    passages = a.retriever.search(Q2003, 5)
    supporting = [i for i, p in enumerate(passages[:4], 1) if "six-sided discussions" in p.text]
    wrong = next(i for i, p in enumerate(passages[:4], 1) if "six-sided" not in p.text)
    a.llm.replies.append(f"Russia advanced a plan for six-sided discussions involving China and Japan [{wrong}].")
    answer = a.ask(Q2003)
    assert len(answer.citations) == 1 and answer.citations[0].n in supporting
    assert "six-sided discussions" in answer.citations[0].quote


VENICE_2024 = Article("venice", "h1", "Venice renews tourist tax system for 2025, hikes price",
                      "In a world first, Venice introduced a 5 euro charge in April for daytrippers. "
                      "He said the price would rise, without saying how much visitors might have to pay in 2025.",
                      "usatoday.com", "", "2024-07-12")


def _venice_evidence(fake_encoder) -> list:
    passage = Passage(StoredChunk(0, VENICE_2024, 0, len(VENICE_2024.text)), 0.8)
    return select_evidence("How much will Venice charge day-trippers in 2025?", [passage], fake_encoder)


def test_a_figure_from_another_year_does_not_answer_a_question_naming_its_year(fake_encoder):
    evidence = _venice_evidence(fake_encoder)
    question = "How much will Venice charge day-trippers in 2025?"
    answer = finish(question, "Venice will charge 5 euro [1].", evidence, [ev.passage for ev in evidence], "fake")
    assert "5 euro [1]" not in answer.text and not answer.checks[0].verified
    # What is quoted instead is the sentence about 2025: the articles do not give its price.
    assert answer.extractive and all("2025" in c.quote for c in answer.citations)
    same_year = finish("How much did Venice charge day-trippers in 2024?", "Venice charged 5 euro [1].",
                       evidence, [ev.passage for ev in evidence], "fake")
    assert same_year.text == "Venice charged 5 euro [1]." and same_year.checks[0].verified


def test_another_time_reads_the_sentence_years_and_the_article_year():
    span = (date(2025, 1, 1), date(2025, 12, 31))
    assert another_time("Venice introduced a 5 euro charge in April.", "2024-07-12", span)
    assert not another_time("The fee will be 10 euro in 2025.", "2024-07-12", span)
    assert not another_time("The fee is 10 euro.", None, span)
    assert not another_time("Venice introduced a 5 euro charge in April.", "2024-07-12", None)
    assert not another_time("In 2003 Russia proposed talks.", "2013-04-10", (date(2003, 1, 1), date(2003, 12, 31)))
