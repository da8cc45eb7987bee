"""Question banks: YAML files of multiple-choice, true/false and free-answer questions.

A bank is read with ``roomchat.yamlfile`` (YAML 1.2 booleans: ``yes``, ``no``,
``on`` and ``off`` stay strings, so ``answer: no`` is the word "no"), checked
by pydantic models that forbid unknown keys, and compiled into ``Question``
objects that mark answers. A bad bank is a ``BankError`` naming the file,
the question and the key. The format is described in docs/bots.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, StringConstraints, ValidationError, model_validator

from roomchat.errors import ConfigError
from roomchat.positions import Problem
from roomchat.yamlfile import parse_yaml, read_yaml

from .matching import match_choice, match_free, normalize, option_key, parse_truth

Kind = Literal["choice", "truefalse", "free"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
AnswerValue = str | bool | int | float
MAX_OPTIONS = 26


class BankError(ConfigError):
    """A question bank that cannot be used; ``problems`` name the question and key (and the line, from a file)."""

    what = "invalid question bank"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuestionSpec(_Strict):
    """One question as written in YAML."""

    type: Kind | None = Field(None, description="choice, truefalse or free; inferred when left out")
    question: Text
    options: list[Text] | None = Field(None, description="multiple choice: the options, shown as A, B, C...")
    answer: AnswerValue | None = Field(None, description="the accepted answer")
    answers: list[AnswerValue] | None = Field(None, description="several accepted answers")
    time_limit: PositiveFloat | None = Field(None, description="seconds; the bank's or the bot's default otherwise")
    points: Annotated[int, Field(ge=0)] | None = None
    hints: list[Text] = Field(default_factory=list, description="shown one by one while time runs")
    explanation: str | None = Field(None, description="shown with the answer")
    fuzzy: bool = Field(True, description="free answers: forgive small typos")

    @model_validator(mode="after")
    def _check(self) -> QuestionSpec:
        if (self.answer is None) == (self.answers is None):
            raise ValueError("give either 'answer' (one) or 'answers' (a list), not both and not neither")
        if self.answers is not None and not self.answers:
            raise ValueError("'answers' is empty; list at least one accepted answer")
        if self.type is None:
            self.type = "choice" if self.options is not None else "truefalse" if isinstance(self.answer, bool) else "free"
        if self.type != "choice" and self.options is not None:
            raise ValueError(f"'options' are only for multiple choice, and this question's type is {self.type}")
        return self

    def accepted(self) -> list[AnswerValue]:
        """The accepted answers as written."""
        return list(self.answers) if self.answers is not None else [self.answer]  # type: ignore[list-item]


class BankSpec(_Strict):
    """A question bank as written in YAML."""

    title: str | None = None
    description: str | None = None
    time_limit: PositiveFloat | None = Field(None, description="default seconds per question")
    points: Annotated[int, Field(ge=0)] | None = Field(None, description="default points per question")
    questions: list[Any] = Field(min_length=1, description="the questions, each read as a QuestionSpec")


@dataclass(frozen=True)
class Verdict:
    """How an answer was marked: ``recognized`` False means "not an answer to this question"."""

    recognized: bool
    correct: bool = False
    shown: str = ""


@dataclass(frozen=True)
class Question:
    """A compiled question: what students see, and how their answers are marked."""

    kind: Kind
    text: str
    answers: tuple[str, ...]
    options: tuple[str, ...] = ()
    correct_options: frozenset[int] = frozenset()
    truth: bool | None = None
    time_limit: float | None = None
    points: int | None = None
    hints: tuple[str, ...] = ()
    explanation: str | None = None
    fuzzy: bool = True

    def mark(self, given: str) -> Verdict:
        """Mark one answer. Multiple choice and true/false answers that name no option are not recognised."""
        if self.kind == "choice":
            index = match_choice(given, list(self.options))
            if index is None:
                return Verdict(False)
            return Verdict(True, index in self.correct_options, f"{option_key(index)}: {self.options[index]}")
        if self.kind == "truefalse":
            truth = parse_truth(given)
            if truth is None:
                return Verdict(False)
            return Verdict(True, truth == self.truth, "true" if truth else "false")
        if not normalize(given):
            return Verdict(False)
        return Verdict(True, match_free(given, list(self.answers), self.fuzzy), given.strip())

    def public(self) -> dict[str, Any]:
        """What students are shown (no answers)."""
        shown: dict[str, Any] = {"kind": self.kind, "text": self.text}
        if self.kind == "choice":
            shown["options"] = [{"key": option_key(i), "text": o} for i, o in enumerate(self.options)]
        return shown

    def solution(self) -> dict[str, Any]:
        """What is revealed when the question closes."""
        revealed: dict[str, Any] = {"answers": list(self.answers)}
        if self.kind == "choice":
            revealed["options"] = [option_key(i) for i in sorted(self.correct_options)]
        if self.explanation:
            revealed["explanation"] = self.explanation
        return revealed


@dataclass(frozen=True)
class Bank:
    """A loaded question bank."""

    name: str
    title: str
    questions: tuple[Question, ...]
    source: str = ""
    description: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _answer_text(value: AnswerValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _compile(spec: QuestionSpec, bank: BankSpec) -> Question:
    accepted = spec.accepted()
    common: dict[str, Any] = {
        "text": spec.question, "time_limit": spec.time_limit or bank.time_limit, "hints": tuple(spec.hints),
        "points": spec.points if spec.points is not None else bank.points, "explanation": spec.explanation,
        "fuzzy": spec.fuzzy,
    }
    if spec.type == "choice":
        options = spec.options or []
        if not 2 <= len(options) <= MAX_OPTIONS:
            raise ValueError(f"a multiple-choice question needs 2 to {MAX_OPTIONS} options, not {len(options)}")
        if len({normalize(o) for o in options}) != len(options):
            raise ValueError("two options read the same once case, accents and punctuation are ignored")
        correct = frozenset(_option_index(value, options) for value in accepted)
        return Question("choice", answers=tuple(f"{option_key(i)}: {options[i]}" for i in sorted(correct)),
                        options=tuple(options), correct_options=correct, **common)
    if spec.type == "truefalse":
        truths = {_truth(value) for value in accepted}
        if len(truths) != 1:
            raise ValueError("a true/false question has one answer, true or false")
        truth = truths.pop()
        return Question("truefalse", answers=("true" if truth else "false",), truth=truth, **common)
    answers = tuple(_answer_text(value) for value in accepted)
    if not all(normalize(a) for a in answers):
        raise ValueError("an accepted answer is empty once punctuation is ignored")
    return Question("free", answers=answers, **common)


def _option_index(value: AnswerValue, options: list[str]) -> int:
    text = normalize(_answer_text(value))
    for index, option in enumerate(options):
        if normalize(option) == text:
            return index
    if len(text) == 1 and "a" <= text <= "z" and ord(text) - ord("a") < len(options):
        return ord(text) - ord("a")
    raise ValueError(
        f"answer {value!r} is not one of the options; give an option's text or its letter (A to {option_key(len(options) - 1)})"
    )


def _truth(value: AnswerValue) -> bool:
    if isinstance(value, bool):
        return value
    truth = parse_truth(str(value))
    if truth is None:
        raise ValueError(f"answer {value!r} is not true or false")
    return truth


def _where(loc: tuple[Any, ...]) -> str:
    """``question 4 (questions.3), key 'answer'`` from a pydantic error location."""
    if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
        key = ".".join(str(p) for p in loc[2:])
        return f"question {loc[1] + 1} (questions.{loc[1]})" + (f", key {key!r}" if key else "")
    return "key " + repr(".".join(str(p) for p in loc)) if loc else "the bank"


_UNION_TAGS = {"str", "bool", "int", "float"}


def _describe(error: Any, within: tuple[Any, ...] = ()) -> Problem:
    loc = (*within, *error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check its spelling, or remove it)"
    elif loc and loc[-1] in _UNION_TAGS:  # one error per kind of answer pydantic tried: say it once
        loc, message = loc[:-1], "must be text, a number, or true/false"
    return Problem(f"{_where(loc)}: {message}", key=loc)


def _problems(exc: ValidationError, within: tuple[Any, ...] = ()) -> list[str]:
    return list(dict.fromkeys(_describe(e, within) for e in exc.errors()))


def _shape_problems(item: dict[str, Any]) -> list[str]:
    """What QuestionSpec's own check says, for a question whose keys already failed (pydantic skips it then)."""
    if (item.get("answer") is None) == (item.get("answers") is None):
        return ["give either 'answer' (one) or 'answers' (a list), not both and not neither"]
    if item.get("type") in ("truefalse", "free") and item.get("options") is not None:
        return [f"'options' are only for multiple choice, and this question's type is {item['type']}"]
    return []


def _read_question(index: int, item: Any, bank: BankSpec) -> tuple[Question | None, list[str]]:
    """One question compiled, or every problem it has (its keys, its shape, its answers)."""
    where = f"question {index + 1} (questions.{index})"
    key = ("questions", index)
    if not isinstance(item, dict):
        return None, [Problem(f"{where}: a question is a mapping with 'question' and 'answer' "
                              f"(got {type(item).__name__})", key)]
    try:
        spec = QuestionSpec.model_validate(item)
    except ValidationError as exc:
        return None, list(dict.fromkeys([*_problems(exc, ("questions", index)),
                                         *(Problem(f"{where}: {p}", key) for p in _shape_problems(item))]))
    try:
        return _compile(spec, bank), []
    except ValueError as exc:
        return None, [Problem(f"{where}: {exc}", key)]


def parse_bank(data: Any, source: str, name: str | None = None) -> Bank:
    """Check and compile already-parsed YAML (a mapping with ``questions``, or a bare list of questions).

    Every problem is reported in one pass, one per line: the bank's own keys
    and each question's, whichever of them are wrong.
    """
    if isinstance(data, list):
        data = {"questions": data}
    if not isinstance(data, dict):
        raise BankError(source, ["a bank is a mapping with a 'questions' list (or a bare list of questions)"])
    problems: list[str] = []
    try:
        spec = BankSpec.model_validate(data)
    except ValidationError as exc:
        problems += _problems(exc)
        spec = BankSpec.model_construct(questions=[])  # the bank's defaults, so its questions are checked too
    items = data.get("questions")
    questions = []
    for index, item in enumerate(items if isinstance(items, list) else []):
        question, found = _read_question(index, item, spec)
        problems += found
        if question is not None:
            questions.append(question)
    if problems:
        raise BankError(source, problems)
    name = name or Path(source).stem
    return Bank(name=name, title=spec.title or name, questions=tuple(questions), source=source,
                description=spec.description)


def parse_bank_text(text: str, source: str, name: str | None = None) -> Bank:
    """Parse and compile a bank from YAML text; any problem is a ``BankError``."""
    try:
        data = parse_yaml(text, source)
    except ConfigError as exc:
        raise BankError(exc.source, exc.problems) from None
    return parse_bank(data, source, name)


def load_bank(path: str | Path, name: str | None = None) -> Bank:
    """Read, check and compile a bank file; any problem (unreadable, bad YAML, bad question) is a ``BankError``."""
    path = Path(path)
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        raise BankError(exc.source, exc.problems) from None
    return parse_bank(data, str(path), name or path.stem)
