"""The quiz bot's pure logic: answer matching, question banks, scoring, the game, the CSV export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from roomchat_bots.quiz.bank import BankError, load_bank, parse_bank, parse_bank_text
from roomchat_bots.quiz.export import results_csv, split_csv
from roomchat_bots.quiz.game import QuizProblem, QuizRun
from roomchat_bots.quiz.matching import (
    allowed_typos,
    edit_distance,
    match_choice,
    match_free,
    normalize,
    parse_truth,
)
from roomchat_bots.quiz.scoring import Points, Scoring, score

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "quiz" / "sample.yaml"


# -- matching -------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    ("  Élan,  VITAL! ", "elan vital"),
    ("São Paulo", "sao paulo"),
    ("Straße", "strasse"),
    ("L'Œuvre", "l oeuvre"),
    ("Łódź", "lodz"),
    ("  rock-and-roll ", "rock and roll"),
    ("ÉCOLE\tnormale", "ecole normale"),
    ("", ""),
    ("?!...", ""),
])
def test_normalize_ignores_case_accents_punctuation_and_spaces(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_edit_distance_counts_swaps_as_one_edit() -> None:
    assert edit_distance("canberra", "canberra") == 0
    assert edit_distance("canbera", "canberra") == 1
    assert edit_distance("cnaberra", "canberra") == 1  # two neighbours swapped
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("abc", "abcdefgh", limit=2) == 3  # stops early past the limit


def reference_distance(a: str, b: str) -> int:
    """The optimal string alignment distance, written out: the dynamic programme matching.py had before rapidfuzz."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


@given(st.text(alphabet="abcé ", max_size=10), st.text(alphabet="abcé ", max_size=10), st.none() | st.integers(0, 3))
def test_edit_distance_is_the_optimal_string_alignment(a: str, b: str, limit: int | None) -> None:
    """rapidfuzz's OSA is the distance the quiz always used (a small alphabet, so swaps and repeats are common)."""
    expected = reference_distance(a, b)
    assert edit_distance(a, b, limit) == (expected if limit is None else min(expected, limit + 1))


@given(st.text(max_size=12), st.text(max_size=12))
def test_edit_distance_is_a_symmetric_bounded_measure(a: str, b: str) -> None:
    d = edit_distance(a, b)
    assert d == edit_distance(b, a)
    assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))
    assert (d == 0) == (a == b)


def test_typos_allowed_grow_with_length() -> None:
    assert [allowed_typos(n) for n in (1, 4, 5, 8, 9, 14, 15, 40)] == [0, 0, 1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("given_answer, accepted, ok", [
    ("Paris", ["paris"], True),
    ("  PARIS!! ", ["Paris"], True),
    ("Sao Paulo", ["São Paulo"], True),
    ("canbera", ["Canberra"], True),  # one typo on 8 letters
    ("camberra", ["Canberra"], True),
    ("cnabera", ["Canberra"], False),  # two typos on 8 letters: too many
    ("victor hugoo", ["Victor Hugo"], True),
    ("victorhugo", ["Victor Hugo"], True),  # a missing space is not a typo
    ("cat", ["car"], False),  # short answers must match exactly
    ("rom", ["Rome"], False),
    ("1968", ["1969"], False),  # digits must match exactly
    ("1969", ["1969"], True),
    ("hugo", ["Victor Hugo", "Hugo"], True),  # any accepted answer
    ("", ["x"], False),
    ("no", ["no"], True),
    ("Non", ["no"], True),  # a yes/no answer takes its synonyms
    ("nein", ["no"], True),
    ("yes", ["no"], False),
])
def test_free_answers(given_answer: str, accepted: list[str], ok: bool) -> None:
    assert match_free(given_answer, accepted) is ok


def test_free_answers_without_fuzzy_need_the_exact_words() -> None:
    assert match_free("canberra!", ["Canberra"], fuzzy=False)
    assert not match_free("canbera", ["Canberra"], fuzzy=False)


@pytest.mark.parametrize("given_answer, index", [
    ("B", 1), ("b", 1), ("(b)", 1), ("b)", 1), ("option B", 1), ("2", 1), ("jupiter", 1), ("JUPYTER", 1),
    ("a", 0), ("4", 3), ("e", None), ("5", None), ("0", None), ("pluto", None), ("", None),
])
def test_multiple_choice_by_letter_number_or_text(given_answer: str, index: int | None) -> None:
    assert match_choice(given_answer, ["Mars", "Jupiter", "Venus", "Earth"]) == index


def test_multiple_choice_prefers_an_options_exact_text_over_its_number() -> None:
    options = ["21", "27", "29", "33"]
    assert match_choice("29", options) == 2  # the option "29", not option number 29
    assert match_choice("2", options) == 1  # no option reads "2": option number 2
    assert match_choice("c", options) == 2


@pytest.mark.parametrize("word, truth", [
    ("true", True), ("T", True), ("Yes", True), ("y", True), ("vrai", True), ("oui", True), ("sí", True),
    ("ja", True), ("wahr", True), ("verdadeiro", True), ("1", True),
    ("false", False), ("f", False), ("No", False), ("faux", False), ("non", False), ("nein", False),
    ("não", False), ("falso", False), ("0", False),
    ("maybe", None), ("", None), ("truee", None),
])
def test_true_false_in_several_languages(word: str, truth: bool | None) -> None:
    assert parse_truth(word) is truth


# -- banks ------------------------------------------------------------------------


def test_the_sample_bank_loads() -> None:
    bank = load_bank(SAMPLE)
    assert bank.name == "sample" and bank.title == "General knowledge (sample)"
    kinds = {q.kind for q in bank.questions}
    assert kinds == {"choice", "truefalse", "free"}
    tomato = next(q for q in bank.questions if "tomato" in q.text)
    assert tomato.answers == ("no",)  # YAML 1.2: `answer: no` is the word, not False


def test_yaml_no_yes_on_off_stay_words() -> None:
    bank = parse_bank_text(
        "questions:\n"
        "  - question: Is it raining?\n"
        "    answer: no\n"
        "  - question: Say yes\n"
        "    answers: [yes, on, off]\n"
        "  - question: Norway's country code?\n"
        "    answer: NO\n"
        "    fuzzy: false\n",
        "inline.yaml",
    )
    assert [q.kind for q in bank.questions] == ["free", "free", "free"]
    assert bank.questions[0].answers == ("no",)
    assert bank.questions[1].answers == ("yes", "on", "off")
    assert bank.questions[0].mark("No.").correct
    assert not bank.questions[0].mark("yes").correct
    assert bank.questions[2].mark("no").correct


def test_question_types_are_inferred_or_given() -> None:
    bank = parse_bank([
        {"question": "Q1", "options": ["x", "y"], "answer": "y"},
        {"question": "Q2", "answer": False},
        {"question": "Q3", "type": "truefalse", "answer": "yes"},
        {"question": "Q4", "answer": 42},
        {"question": "Q5", "type": "choice", "options": ["x", "y", "z"], "answers": ["a", "z"]},
    ], "list.yaml")
    q1, q2, q3, q4, q5 = bank.questions
    assert (q1.kind, q1.correct_options) == ("choice", frozenset({1}))
    assert (q2.kind, q2.truth) == ("truefalse", False)
    assert (q3.kind, q3.truth) == ("truefalse", True)
    assert (q4.kind, q4.answers) == ("free", ("42",))
    assert q5.correct_options == frozenset({0, 2}) and q5.answers == ("A: x", "C: z")
    assert q5.mark("a").correct and q5.mark("z").correct and not q5.mark("y").correct
    assert not q5.mark("d").recognized


def test_question_and_bank_defaults() -> None:
    bank = parse_bank({"time_limit": 12, "points": 7, "questions": [
        {"question": "Q1", "answer": "a"}, {"question": "Q2", "answer": "b", "time_limit": 3, "points": 0}]}, "d.yaml")
    assert [(q.time_limit, q.points) for q in bank.questions] == [(12, 7), (3, 0)]


@pytest.mark.parametrize("data, problem", [
    ({"questions": [{"question": "Q", "answer": "a", "hint": ["x"]}]},
     "question 1 (questions.0), key 'hint': unknown key"),
    ({"questions": [{"question": "Q", "answer": "a"}, {"question": "Q2"}]},
     "question 2 (questions.1): give either 'answer'"),
    ({"questions": [{"question": "Q", "answer": "a", "answers": ["b"]}]},
     "question 1 (questions.0): give either 'answer'"),
    ({"questions": [{"question": "Q", "options": ["x", "y"], "answer": "z"}]},
     "question 1 (questions.0): answer 'z' is not one of the options"),
    ({"questions": [{"question": "Q", "options": ["x"], "answer": "x"}]},
     "question 1 (questions.0): a multiple-choice question needs 2 to 26 options"),
    ({"questions": [{"question": "Q", "type": "truefalse", "answer": "perhaps"}]},
     "question 1 (questions.0): answer 'perhaps' is not true or false"),
    ({"questions": [{"question": "Q", "answer": "a", "time_limit": -1}]},
     "question 1 (questions.0), key 'time_limit'"),
    ({"questions": [{"question": "Q", "answer": ["a"]}]},
     "question 1 (questions.0), key 'answer': must be text, a number, or true/false"),
    ({"questions": [{"question": "", "answer": "a"}]}, "question 1 (questions.0), key 'question'"),
    ({"questions": [{"question": "Q", "answer": "a", "options": ["x", "y"], "type": "free"}]},
     "'options' are only for multiple choice"),
    ({"questions": []}, "key 'questions'"),
    ({"title": "t", "qestions": []}, "key 'qestions': unknown key"),
    ("just text", "a bank is a mapping"),
])
def test_a_bad_bank_names_the_file_the_question_and_the_key(data: object, problem: str) -> None:
    with pytest.raises(BankError) as caught:
        parse_bank(data, "banks/bad.yaml")
    text = str(caught.value)
    assert text.startswith("banks/bad.yaml: invalid question bank")
    assert problem in text, text


def test_bad_yaml_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("questions:\n  - question: [unclosed\n")
    with pytest.raises(BankError, match=r"broken.yaml: invalid question bank\n.*broken.yaml:3:1: not valid YAML"):
        load_bank(broken)
    with pytest.raises(BankError, match="cannot read the file"):
        load_bank(tmp_path / "missing.yaml")


# -- scoring --------------------------------------------------------------------------


def test_points_with_speed_and_streak_bonuses() -> None:
    s = Scoring()
    assert score(s, True, None, 0, 30, 1) == Points(100, 50, 0)
    assert score(s, True, None, 15, 30, 1) == Points(100, 25, 0)
    assert score(s, True, None, 30, 30, 1) == Points(100, 0, 0)
    assert score(s, True, 40, 3, 30, 2) == Points(40, 45, 10)
    assert score(s, True, None, 30, 30, 4) == Points(100, 0, 30)
    assert score(s, True, None, 30, 30, 99) == Points(100, 0, 50)  # capped
    assert score(s, False, None, 0, 30, 0) == Points()
    assert Points(100, 25, 10).total == 135


def test_bonuses_can_be_switched_off() -> None:
    s = Scoring(speed_bonus=False, streak_bonus=False)
    assert score(s, True, None, 0, 30, 5) == Points(100, 0, 0)


# -- the game ---------------------------------------------------------------------------


def _run(**kw: object) -> QuizRun:
    bank = parse_bank([
        {"question": "Capital of France?", "answer": "Paris", "hints": ["P...", "Pa..."], "time_limit": 30},
        {"question": "2+2?", "options": ["3", "4"], "answer": "4", "time_limit": 10},
        {"question": "Sky is green", "answer": False},
    ], "g.yaml")
    return QuizRun(bank, Scoring(**kw), default_time_limit=20, started_by=1, started_at=0.0)


def test_a_run_counts_first_answers_only_and_keeps_score() -> None:
    run = _run()
    run.begin(0, 3)
    with pytest.raises(QuizProblem) as early:
        run.submit(2, "Ann", "paris", 1, 1)
    assert early.value.code == "no_question"
    assert run.open_next(3) is not None and run.number == 1
    a = run.submit(2, "Ann", "pariss", 3 + 6, 9)  # 6 s of 30: speed bonus 40
    assert a.correct and a.points == Points(100, 40, 0)
    with pytest.raises(QuizProblem) as again:
        run.submit(2, "Ann", "Lyon", 10, 10)
    assert again.value.code == "already_answered"
    b = run.submit(3, "Bob", "Lyon", 12, 12)
    assert not b.correct and b.points.total == 0
    result = run.close(20, timed_out=False, next_in=5)
    assert result.correct == 1 and len(result.answers) == 2
    assert run.time_left(22) == 3
    with pytest.raises(QuizProblem) as late:
        run.submit(4, "Cy", "Paris", 21, 21)
    assert late.value.code == "too_late"
    run.open_next(25)
    with pytest.raises(QuizProblem) as unknown:
        run.submit(2, "Ann", "five", 26, 26)
    assert unknown.value.code == "not_recognized" and "A to B" in unknown.value.message
    second = run.submit(2, "Ann", "b", 30, 30)  # 5 s of 10: speed 25, streak of 2: +10
    assert second.points == Points(100, 25, 10)
    run.close(31, timed_out=False, next_in=None)
    assert run.time_left(40) is None  # waits for a teacher
    run.open_next(50)
    run.submit(3, "Bob", "faux", 51, 51)
    run.close(70, timed_out=True, next_in=None)
    assert run.open_next(71) is None and run.phase == "finished"
    table = run.standings()
    assert [(r["name"], r["score"], r["correct"], r["rank"]) for r in table] == [
        ("Ann", 275, 2, 1), ("Bob", 100 + 48, 1, 2)]  # Bob: 1 s of 20 on question 3: speed 48
    assert table[0]["streak"] == 0 and table[0]["best_streak"] == 2  # Ann did not answer question 3


def test_equal_scores_share_a_rank() -> None:
    run = _run(speed_bonus=False)
    run.open_next(0)
    for uid, name in [(2, "Ann"), (3, "Bob"), (4, "Cy")]:
        run.submit(uid, name, "paris" if uid != 4 else "rome", 1, 1)
    run.close(2, timed_out=False, next_in=5)
    assert [(r["name"], r["rank"]) for r in run.standings()] == [("Ann", 1), ("Bob", 1), ("Cy", 3)]


def test_pauses_stop_the_clock_and_refuse_answers() -> None:
    run = _run()
    run.open_next(100)
    assert run.time_left(110) == 20
    run.pause(110)
    with pytest.raises(QuizProblem) as paused:
        run.submit(2, "Ann", "paris", 200, 200)
    assert paused.value.code == "paused"
    with pytest.raises(QuizProblem):
        run.pause(200)
    assert run.time_left(500) == 20
    run.resume(500)
    assert run.time_left(505) == 15
    answer = run.submit(2, "Ann", "paris", 505, 505)
    assert answer.elapsed == 15  # the paused span does not count
    with pytest.raises(QuizProblem):
        run.resume(506)


def test_hints_are_spread_over_the_time_limit() -> None:
    run = _run()
    run.open_next(0)
    assert run.hint_times() == [10, 20]
    assert run.next_hint_in(4) == 6
    run.hints_given = 1
    assert run.next_hint_in(15) == 5
    assert run.next_hint_in(25) == 0  # overdue: now
    run.hints_given = 2
    assert run.next_hint_in(26) is None


def test_answers_after_the_time_limit_are_late_even_before_the_timer_fires() -> None:
    run = _run()
    run.open_next(0)
    with pytest.raises(QuizProblem) as late:
        run.submit(2, "Ann", "paris", 30.5, 30.5)
    assert late.value.code == "too_late"


# -- export ---------------------------------------------------------------------------------


def test_the_csv_has_a_row_per_question_per_player() -> None:
    run = _run(speed_bonus=False)
    run.open_next(0)
    run.submit(2, "=HYPERLINK(\"x\")", "Paris", 1, 1_700_000_001)
    run.submit(3, "Bob", "-5", 2, 2)
    run.close(3, timed_out=False, next_in=0)
    run.open_next(4)
    run.submit(3, "Bob", "4", 5, 5)
    run.close(6, timed_out=False, next_in=0)
    rows = list(csv.DictReader(io.StringIO(results_csv(run))))
    assert len(rows) == 4  # 2 questions x 2 players
    first = rows[0]
    assert first["question"] == "1" and first["student"] == "'=HYPERLINK(\"x\")"  # no formula injection
    assert first["correct"] == "yes" and first["points"] == "100" and first["running_score"] == "100"
    assert rows[1]["answer"] == "-5" and rows[1]["correct"] == "no"  # a number stays a number
    assert rows[2]["answer"] == "" and rows[2]["correct"] == "" and rows[2]["running_score"] == "100"
    assert rows[3]["student"] == "Bob" and rows[3]["read_as"] == "B: 4" and rows[3]["correct"] == "yes"
    assert rows[3]["running_score"] == "100" and rows[3]["streak_bonus"] == "0"  # wrong, then right: no streak


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=60), max_size=40),
       st.integers(min_value=40, max_value=400))
def test_split_csv_parts_fit_and_join_back(cells: list[str], limit: int) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    for i in range(0, len(cells), 3):
        writer.writerow(cells[i:i + 3])
    text = out.getvalue()
    parts = split_csv(text, limit)
    assert "".join(parts) == text
    import json
    assert all(len(json.dumps(p, ensure_ascii=False).encode()) - 2 <= limit for p in parts)
