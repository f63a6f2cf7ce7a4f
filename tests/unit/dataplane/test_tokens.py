"""Prompt token counts: exact BPE counts, each message text counted once per process while it recurs."""
import pytest

from gateway.dataplane import tokens


@pytest.fixture
def encoder_calls(monkeypatch):
    """Counts the texts the BPE encoder really sees; the memo starts empty."""
    seen = []
    real = tokens.encoding()

    class Counting:
        def encode_ordinary(self, text):
            seen.append(text)
            return real.encode_ordinary(text)

    monkeypatch.setattr(tokens, "encoding", lambda: Counting())
    monkeypatch.setattr(tokens, "_memo", {})
    monkeypatch.setattr(tokens, "_memo_chars", 0)
    return seen


def _chat(*texts):
    return {"messages": [{"role": "user", "content": t} for t in texts]}


def test_counts_are_the_encoders_own_special_token_text_included():
    real = tokens.encoding()
    text = "Say <|endoftext|> twice: <|endoftext|>, then stop."
    assert tokens.count_text(text) == len(real.encode(text, disallowed_special=()))
    assert tokens.count_prompt(_chat("hello there", text)) == (
        2 * tokens.MESSAGE_OVERHEAD + len(real.encode_ordinary("hello there")) + len(real.encode_ordinary(text)))
    assert tokens.count_prompt({"input": ["one two", [1, 2, 3]]}) == len(real.encode_ordinary("one two")) + 3


def test_a_history_resent_on_the_next_turn_is_not_encoded_again(encoder_calls):
    system, turn1, answer1, turn2 = "You are terse.", "What is a gateway?", "A proxy with policies.", "And a cache?"
    first = tokens.count_prompt(_chat(system, turn1))
    second = tokens.count_prompt(_chat(system, turn1, answer1, turn2))
    assert encoder_calls == [system, turn1, answer1, turn2]  # each text once, though turn two resent the first
    assert second - first == 2 * tokens.MESSAGE_OVERHEAD + tokens.count_text(answer1) + tokens.count_text(turn2)
    assert tokens.count_prompt(_chat(system, turn1)) == first  # remembered counts are the same counts


def test_the_memo_is_bounded_by_the_text_it_holds(encoder_calls, monkeypatch):
    monkeypatch.setattr(tokens, "MEMO_MAX_CHARS", 40)
    tokens.count_prompt(_chat("a" * 30))
    tokens.count_prompt(_chat("b" * 30))  # would hold 60 characters: the memo starts afresh with this one
    assert set(tokens._memo) == {"b" * 30} and tokens._memo_chars == 30
    tokens.count_prompt(_chat("c" * 50))  # longer than the bound alone: counted, never kept, nothing dropped
    assert set(tokens._memo) == {"b" * 30} and tokens._memo_chars == 30
    tokens.count_prompt(_chat("b" * 30))
    tokens.count_prompt(_chat("a" * 30))
    assert encoder_calls == ["a" * 30, "b" * 30, "c" * 50, "a" * 30]  # "a" was forgotten, "b" remembered
