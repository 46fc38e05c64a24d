"""The real default LLM answering from the seed library (slow: loads the GGUF)."""
from __future__ import annotations

import re

import pytest

from qa.api import Assistant

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def assistant(seed_library, encoder):
    return Assistant(seed_library, encoder=encoder)


def test_2003_answer_names_six_party_talks_and_cites_the_2003_article(assistant):
    answer = assistant.ask("What did Russia propose in 2003?")
    assert not answer.abstained, answer.text
    assert re.search(r"six[- ](sided|party|nation|way)", answer.text, re.I), answer.text
    assert re.search(r"\[\d\]", answer.text)
    cited = {c.article_id.split("-")[0] for c in answer.citations}
    assert "003_c13b77ec0b5e076f" in cited, answer.to_dict()
    for c in answer.citations:
        passage = answer.passages[c.n - 1]
        assert c.quote in passage.text


def test_off_topic_question_abstains(assistant):
    answer = assistant.ask("Who won the 2022 World Cup?")
    assert answer.abstained
    assert answer.passages, "closest passages are still returned"


def test_an_answer_says_how_long_its_prompt_was_and_how_fast_the_model_read_it(assistant):
    from qa.answering import SYSTEM

    question = "What did Russia's deputy foreign minister say about the standoff in 2003?"  # asked once here
    t = assistant.ask(question).timings
    llama = assistant.llm._llm
    at_least = len(llama.tokenize(SYSTEM.encode(), add_bos=False)) + len(llama.tokenize(question.encode(), add_bos=False))
    assert at_least < t["prompt_tokens"] < 2048, t
    assert 0 < t["prompt_tokens_computed"] <= t["prompt_tokens"] and t["prompt_tok_s"] > 0, t
    assert 0 < t["generated_tokens"] <= 200 and t["gen_tok_s"] > 0, t


def test_second_question_reuses_the_cached_system_prompt(assistant):
    """One LlamaCppLLM answering a chat must not re-evaluate the system prompt: llama.cpp
    keeps the KV cache of the common token prefix, if our prompt layout lets it."""
    import llama_cpp

    from qa.answering import SYSTEM

    llama = assistant.llm._llm
    assistant.ask("What did Russia propose in 2003?")
    llama_cpp.llama_perf_context_reset(llama._ctx.ctx)
    assert not assistant.ask("What did Lavrov warn about in 2013?").abstained
    perf = llama_cpp.llama_perf_context(llama._ctx.ctx)
    # The cache holds prompt + generated tokens; what was not decoded now was reused.
    reused = llama.n_tokens - perf.n_p_eval - perf.n_eval
    assert reused >= len(llama.tokenize(SYSTEM.encode(), add_bos=False)), (reused, perf.n_p_eval)


def _fresh_llm(state_dir):
    from qa.llm import LlamaCppLLM
    from qa.models import resolve_llm

    name, path = resolve_llm(None)
    return LlamaCppLLM(path, name, state_dir=state_dir)


def _messages(city: str, cost: int) -> list[dict[str, str]]:
    from qa.answering import SYSTEM

    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Passage [1]: Travel\nThe new bridge in {city} cost {cost} million pounds.\n\n"
                                        f"Question: How much did the new bridge in {city} cost?"}]


def test_a_new_process_starts_from_the_saved_system_prompt(tmp_path):
    """``qa ask`` is a new process each time: the first reply's state is saved, and the next
    LLM object starts from it instead of computing the system prompt again."""
    import llama_cpp

    from qa.answering import SYSTEM

    first = _fresh_llm(tmp_path)
    reply = "".join(first.stream(_messages("Leeds", 40)))
    assert first.restored == 0 and len(list(tmp_path.glob("*.state"))) == 1
    del first

    second = _fresh_llm(tmp_path)
    llama = second._llm
    system_tokens = len(llama.tokenize(SYSTEM.encode(), add_bos=False))
    llama_cpp.llama_perf_context_reset(llama._ctx.ctx)
    assert "".join(second.stream(_messages("Leeds", 40))) == reply
    assert system_tokens < second.restored < system_tokens + 8, "the system prompt, nothing of the question"
    assert llama_cpp.llama_perf_context(llama._ctx.ctx).n_p_eval < system_tokens, "system prompt not recomputed"
    assert "40 million" in reply
    assert "25 million" in "".join(second.stream(_messages("York", 25)))


def test_a_damaged_saved_state_is_replaced_not_used(tmp_path):
    first = _fresh_llm(tmp_path)
    reply = "".join(first.stream(_messages("Leeds", 40)))
    del first
    [state] = tmp_path.glob("*.state")
    data = bytearray(state.read_bytes())
    data[-100] ^= 0xFF
    state.write_bytes(bytes(data))

    second = _fresh_llm(tmp_path)
    assert "".join(second.stream(_messages("Leeds", 40))) == reply
    assert second.restored == 0
    assert state.read_bytes() != bytes(data), "saved again from this process"


def test_a_name_question_is_answered_with_a_span_of_the_cited_sentence(assistant):
    """The real model under the span grammar: its answer is words of the sentence it is cited to."""
    answer = assistant.ask("Which Russian deputy foreign minister called the standoff extremely dangerous?")
    assert "Losyukov" in answer.text and not answer.extractive, answer.to_dict()
    span = re.sub(r"\s*\[\d\]\.$", "", answer.text)
    assert len(answer.citations) == 1 and span.lower() in answer.citations[0].quote.lower()
    assert answer.timings["generated_tokens"] <= 10
