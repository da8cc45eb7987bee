"""Unit tests of the moderator's pure logic: normaliser, word lists, links, rules, settings, escalation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from roomchat_bots.moderator.escalation import decide, ladder_step, next_step
from roomchat_bots.moderator.links import allowed, find_links
from roomchat_bots.moderator.normalize import compact, normalize, views
from roomchat_bots.moderator.rules import Content, RoomFilter, calm, content_of, is_shouting, map_strings, strings
from roomchat_bots.moderator.settings import (
    EscalationSettings,
    FilterSettings,
    ModeratorFields,
    Step,
    format_duration,
    parse_duration,
)
from roomchat_bots.moderator.wordlist import WordList, redact, word_regex

from roomchat.users import Role

BANNED = WordList(["bad", "ass", "kill", "shit", "hell", "cunt", "sex", "dick", "fuck*", "shut up", "сука"],
                  [r"n[o0]+pe+"])


# -- the normaliser -----------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("HeLLo", "hello"),
    ("café crème", "cafe creme"),
    ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
    ("𝐛𝐨𝐥𝐝", "bold"),
    ("Ѕhіt", "shit"),                 # Cyrillic S and i
    ("ραρα", "papa"),                 # Greek rho and alpha
    ("ꜱʜɪᴛ", "shit"),                 # small capitals: ICU's confusable skeletons (TR39), then Latin-ASCII
    ("ᏚᎻᎥᎢ", "shit"),                 # Cherokee
    ("ʙᴀᴅ ɢᴜʏ", "bad guy"),
    ("пᴀп", "nan"),                   # ICU's skeleton of п is π: the table keeps what a reader sees
    ("שלום سلام", "שלום سلام"),        # letters of scripts not borrowed as look-alikes stay themselves
    ("h3ll0 w0rld", "hello world"),
    ("@ss", "ass"),
    ("a$$", "ass"),
    ("b\u200bad", "bad"),             # zero-width space
    ("straße", "strasse"),
    ("1337", "1337"),                 # a number stays a number
    ("it costs $5", "it costs $5"),
    ("bad!", "bad!"),                 # trailing punctuation is not leetspeak
    ("sh!t", "shit"),
])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_joined_view_removes_separators_inside_words_and_joins_spaced_letters() -> None:
    texts = [v.text for v in views("s.h.i.t and b a d but he'll")]
    assert texts == ["s.h.i.t and b a d but he'll", "shit and bad but he'll"]


def test_views_map_back_to_the_original_text() -> None:
    text = "x Ｂ.А.Ｄ y"
    joined = views(text)[-1]
    start = joined.text.index("bad")
    assert text[slice(*joined.span(start, start + 3))] == "Ｂ.А.Ｄ"


def test_compact_squeezes_space_and_normalises() -> None:
    assert compact("  Hello,   WORLD! ") == compact("hello world") == "hello world"


# -- banned words -------------------------------------------------------------------------


@pytest.mark.parametrize("text, term", [
    ("this is bad", "bad"),
    ("BAAAAAD", "bad"),
    ("b4d", "bad"),
    ("b.a.d", "bad"),
    ("b a d", "bad"),
    ("b-a-d", "bad"),
    ("b_a_d", "bad"),
    ("вad", "bad"),                   # Cyrillic ve
    ("ｂａｄ", "bad"),
    ("b\u200bad", "bad"),
    ("bád", "bad"),
    ("a55", "ass"),
    ("@$$", "ass"),
    ("k1ll", "kill"),
    ("ki11", "kill"),                  # 1 stands for l too
    ("5h1t", "shit"),
    ("sh!t!", "shit"),
    ("s-h-i-t", "shit"),
    ("s*h*i*t", "shit"),
    ("𝐬𝐡𝐢𝐭", "shit"),
    ("ŝĥíţ", "shit"),
    ("FUUUCKING", "fuck*"),
    ("shut   up", "shut up"),
    ("shutup", "shut up"),
    ("h3ll-bent", "hell"),
    ("СУКА", "сука"),
    ("n00pe", r"n[o0]+pe+"),
])
def test_banned_words_are_found_through_evasions(text: str, term: str) -> None:
    assert [h.term for h in BANNED.find(text)] == [term]


@pytest.mark.parametrize("text", [
    "Scunthorpe", "assassin", "class", "bass", "passion", "skill", "killer whale? no: skills", "shiitake",
    "hello", "shell", "he'll", "we'll", "Essex", "badge", "abad", "as", "sh", "1337", "Hellsing",
    "bad-minton? no: badminton", "nope-ish", "a bad ge",
])
def test_no_false_positives_on_substrings(text: str) -> None:
    hits = BANNED.find(text)
    # a few of these contain a banned word on purpose, as a whole word; none may flag a longer word
    for hit in hits:
        assert text[hit.start:hit.end].lower().replace("-", "") in {"bad", "nope"}, (text, hit)


def test_scunthorpe_and_friends_are_not_flagged() -> None:
    for text in ["Scunthorpe United", "an assassin", "classic bass", "Sussex and Essex", "skills", "shiitake",
                 "he'll", "hello shell", "Dickens", "sextant", "Middlesex"]:
        assert BANNED.find(text) == [], text


def test_redact_replaces_the_original_span() -> None:
    text = "you are b.a.d and a $h1t, ok"
    assert redact(text, BANNED.find(text)) == "you are ***** and a ****, ok"
    assert redact(text, BANNED.find(text), mask="[...]") == "you are [...] and a [...], ok"


def test_word_regexes_repeat_letters_and_merge_look_alike_runs() -> None:
    assert word_regex("ass") == "a+s{2,}"
    # i and l stand in for each other: one run, so "kiiii...x" cannot backtrack quadratically
    assert word_regex("kill") == "k+[il]{3,}"
    assert word_regex("shut up") == r"s+h+u+t+[^\pL\pN]*u+p+"
    assert word_regex("fuck*") == r"f+u+c+k+[\pL\pN]*"


def test_a_word_without_letters_is_refused() -> None:
    with pytest.raises(ValueError, match="no letters"):
        WordList(["***"])


def test_a_pattern_matching_everything_is_refused() -> None:
    with pytest.raises(ValueError, match="empty text"):
        WordList([], ["x*"])
    with pytest.raises(ValueError, match="cannot be used: missing \\)"):
        WordList([], ["(unclosed"])


# -- links ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, hosts", [
    ("see https://evil.example.com/x?y=1.", ["evil.example.com"]),
    ("www.google.com", ["www.google.com"]),
    ("go to wikipedia.org/wiki/Cat, now", ["wikipedia.org"]),
    ("HTTP://EXAMPLE.COM", ["example.com"]),
    ("example．com", ["example.com"]),      # full-width dot
    ("(bit.ly/abc)", ["bit.ly"]),
    ("e.g. node.js and file.py, 3.14", []),
    ("mail me@example.com", []),
])
def test_find_links(text: str, hosts: list[str]) -> None:
    assert [link.host for link in find_links(text)] == hosts


def test_allowed_domains_include_subdomains_only() -> None:
    assert allowed("en.wikipedia.org", ["wikipedia.org"])
    assert allowed("wikipedia.org", ["wikipedia.org"])
    assert not allowed("wikipedia.org.evil.com", ["wikipedia.org"])
    assert not allowed("notwikipedia.org", ["wikipedia.org"])


# -- shouting and values ---------------------------------------------------------------------


def test_shouting() -> None:
    assert is_shouting("WHY IS NOBODY ANSWERING", 12, 0.7)
    assert not is_shouting("I LOVE NASA", 12, 0.7)          # too short to tell
    assert not is_shouting("Why is nobody answering me, NASA?", 12, 0.7)
    assert calm("WHY IS NOBODY ANSWERING?") == "Why is nobody answering?"


def test_strings_of_a_value_skip_urls_and_data() -> None:
    value = {"url": "https://x.com/bad", "alt": "bad", "nested": [{"q": "x"}, 3, "data:image/png;base64,YmFk"]}
    assert list(strings(value, ["url"])) == ["bad", "x"]
    assert map_strings(value, str.upper, ["url"])["alt"] == "BAD"
    assert map_strings(value, str.upper, ["url"])["url"] == "https://x.com/bad"


# -- the rules ----------------------------------------------------------------------------------


def make_filter(**settings: object) -> RoomFilter:
    base: dict[str, object] = {
        "words": [
            {"name": "profanity", "words": ["shit", "fuck*"], "action": "block"},
            {"name": "mild", "words": ["darn", "stupid"], "action": "redact", "penalty": "warn"},
        ],
        "links": {"allowed_domains": ["wikipedia.org"]},
    }
    base.update(settings)
    return RoomFilter(FilterSettings.model_validate(base), moderator_id=901)


def text(value: str) -> Content:
    """A ``text`` message's content (the value is the text)."""
    content = content_of(value, True)
    assert content is not None
    return content


POLL_TEXT = ("question", "options")


def rules_of(verdict: object) -> list[str]:
    return [h.rule for h in verdict.hits]  # type: ignore[attr-defined]


def test_clean_message_passes_untouched() -> None:
    verdict = make_filter().check(2, text("hello there"), now=0)
    assert verdict.hits == [] and verdict.blocked_by is None and verdict.value == "hello there"
    assert verdict.outcome == "delivered"


def test_block_list() -> None:
    verdict = make_filter().check(2, text("this is sh1t"), now=0)
    assert rules_of(verdict) == ["words:profanity"]
    assert verdict.blocked_by is not None and verdict.blocked_by.penalty == "escalate"
    assert "“sh1t”" in verdict.blocked_by.reason
    assert verdict.outcome == "blocked"


def test_redact_list_changes_the_value() -> None:
    poll = content_of({"question": "is this d.a.r.n STUPID?", "options": ["yes", "no"]}, POLL_TEXT)
    assert poll is not None
    verdict = make_filter().check(2, poll, now=0)
    assert rules_of(verdict) == ["words:mild"]
    assert verdict.blocked_by is None and verdict.changed
    assert verdict.value == {"question": "is this ******* ******?", "options": ["yes", "no"]}
    assert verdict.hits[0].penalty == "warn"


def test_dry_run_changes_nothing_but_reports() -> None:
    verdict = make_filter(dry_run=True).check(2, text("darn this shit"), now=0)
    assert rules_of(verdict) == ["words:profanity", "words:mild"]
    assert verdict.blocked_by is None and not verdict.changed and verdict.value == "darn this shit"
    assert verdict.outcome == "blocked" and verdict.dry_run


def test_flood() -> None:
    f = make_filter(flood={"messages": 3, "seconds": 10})
    assert [rules_of(f.check(2, text(f"message {i}"), now=i)) for i in range(3)] == [[], [], []]
    flooded = f.check(2, text("message 3"), now=3)
    assert rules_of(flooded) == ["flood"] and flooded.blocked_by is not None
    assert f.check(3, text("someone else"), now=3).hits == []
    assert f.check(2, text("later"), now=20).hits == []      # the window moved on


def test_repeat() -> None:
    f = make_filter(repeat={"times": 3, "seconds": 60}, flood={"enabled": False})
    assert f.check(2, text("buy my game"), now=0).hits == []
    assert f.check(2, text("BUY  my game"), now=1).hits == []
    assert f.check(2, text("something else"), now=2).hits == []
    repeated = f.check(2, text("Buy my game!"), now=3)
    assert rules_of(repeated) == ["repeat"] and repeated.blocked_by is not None
    assert [f.check(2, text("ok"), now=4 + i).hits for i in range(4)] == [[], [], [], []]   # too short to count
    assert f.check(2, text("buy my game"), now=100).hits == []   # forgotten


def test_shouting_rule_redacts_by_lowering() -> None:
    verdict = make_filter().check(2, text("WHY IS NOBODY ANSWERING ME"), now=0)
    assert rules_of(verdict) == ["shouting"] and verdict.value == "Why is nobody answering me"


def test_links_rule() -> None:
    f = make_filter()
    assert f.check(2, text("read https://en.wikipedia.org/wiki/Cat"), now=0).hits == []
    verdict = f.check(2, text("free stuff at evil.com/win"), now=1)
    assert rules_of(verdict) == ["links"] and verdict.blocked_by is not None
    assert "evil.com" in verdict.blocked_by.reason and "wikipedia.org" in verdict.blocked_by.reason
    redacting = make_filter(links={"action": "redact"}).check(2, text("see evil.com now"), now=0)
    assert redacting.value == "see [link removed] now"


def test_grace_period_counts_a_burst_once() -> None:
    f = make_filter(grace_seconds=5)
    first = f.check(2, text("shit"), now=0)
    again = f.check(2, text("oh shit"), now=2)
    later = f.check(2, text("shit again"), now=10)
    assert [h.counted for h in first.hits + again.hits + later.hits] == [True, False, True]
    assert again.blocked_by is not None      # still enforced


def test_who_is_checked() -> None:
    f = make_filter(exempt_users=[7], types=["text", "poll"], direct_messages=False)
    assert f.applies(2, Role.STUDENT, False, "text", direct=False)
    assert not f.applies(2, Role.TEACHER, False, "text", direct=False)
    assert not f.applies(2, Role.ADMIN, False, "text", direct=False)
    assert not f.applies(7, Role.STUDENT, False, "text", direct=False)
    assert not f.applies(2, Role.STUDENT, True, "text", direct=False)     # other bots
    assert not f.applies(901, Role.STUDENT, False, "text", direct=False)  # the moderator itself
    assert not f.applies(2, Role.STUDENT, False, "image", direct=False)
    assert not f.applies(2, Role.STUDENT, False, "text", direct=True)
    assert not f.applies(2, Role.STUDENT, False, "moderation", direct=False)


# -- settings ------------------------------------------------------------------------------------


def test_steps_and_durations() -> None:
    assert Step.parse("mute 10m") == Step("mute", 600.0)
    assert Step.parse({"ban": "1d"}) == Step("ban", 86400.0)
    assert str(Step.parse("mute 90")) == "mute 90s"
    assert Step.parse("ban").describe() == "banned from this room"
    assert parse_duration("2h") == 7200 and format_duration(60) == "1 minute" and format_duration(90) == "90 seconds"
    for bad in ["mute", "kick 5m", "explode", 3]:
        with pytest.raises(ValueError):
            Step.parse(bad)
    assert Step("kick").severity > Step("mute", 3600).severity > Step("mute", 60).severity > Step("warn").severity


def test_settings_are_strict_and_errors_name_the_key() -> None:
    with pytest.raises(ValidationError, match="wrods"):
        ModeratorFields.model_validate({"wrods": []})
    with pytest.raises(ValidationError, match="escalation.steps.1"):
        ModeratorFields.model_validate({"escalation": {"steps": ["warn", "mute"]}})
    with pytest.raises(ValidationError, match="distinct names"):
        ModeratorFields.model_validate({"words": [{"words": ["a1"]}, {"words": ["b2"]}]})
    with pytest.raises(ValidationError, match="not a domain"):
        ModeratorFields.model_validate({"links": {"allowed_domains": ["https://x.org/"]}})
    with pytest.raises(ValidationError):
        ModeratorFields.model_validate({"flood": {"action": "redact"}})


def test_filter_settings_round_trip_through_json() -> None:
    settings = ModeratorFields.model_validate({"words": [{"name": "w", "words": ["x1"], "penalty": "mute 5m"}],
                                               "escalation": {"steps": ["warn", "kick"]}})
    wire = settings.filter_settings().model_dump(mode="json")
    assert "escalation" not in wire and wire["words"][0]["penalty"] == "mute 5m"
    assert FilterSettings.model_validate(wire) == settings.filter_settings()


# -- escalation ------------------------------------------------------------------------------------


LADDER = EscalationSettings.model_validate({"steps": ["warn", "mute 60s", "kick", "ban"], "decay": "1h"})


def hit(rule: str = "words:x", penalty: str = "escalate", counted: bool = True) -> dict[str, object]:
    return {"rule": rule, "penalty": penalty, "counted": counted}


def test_ladder_steps_up_per_offence_and_stays_on_the_last_step() -> None:
    offences: list[float] = []
    steps = []
    for now in range(5):
        decision, offences = decide([hit()], offences, now, LADDER)
        steps.append(str(decision.step))
    assert steps == ["warn", "mute 1m", "kick", "ban", "ban"]
    assert ladder_step(9, LADDER.steps) == Step("ban")


def test_offences_decay() -> None:
    decision, offences = decide([hit()], [], 0, LADDER)
    decision, offences = decide([hit()], offences, 100, LADDER)
    assert str(decision.step) == "mute 1m"
    assert next_step(offences, 3550, LADDER) == Step("kick")
    assert next_step(offences, 3650, LADDER) == Step("mute", 60.0)    # the first one is forgotten
    decision, offences = decide([hit()], offences, 8000, LADDER)
    assert decision.step == Step("warn") and decision.offence == 1


def test_one_message_is_one_offence_and_the_most_severe_penalty_wins() -> None:
    decision, offences = decide([hit("words:x"), hit("shouting")], [], 0, LADDER)
    assert decision.offence == 1 and len(offences) == 1 and decision.step == Step("warn")
    decision, offences = decide([hit("shouting", "warn"), hit("links", "mute 5m")], offences, 1, LADDER)
    assert decision.step == Step("mute", 300.0) and decision.offence is None and len(offences) == 1


def test_uncounted_and_none_penalties_cost_nothing() -> None:
    decision, offences = decide([hit(counted=False), hit("links", "none")], [], 0, LADDER)
    assert decision.step is None and offences == []


# -- what the rules read: the type's declared text ------------------------------------------------------


def test_content_is_the_declared_text_or_every_string_of_an_undeclared_value() -> None:
    assert content_of({"poll": "Xy3kP", "option": 1}, False) is None          # an interaction: never judged
    poll = content_of({"id": "m-1", "question": "Lunch?", "options": ["pizza", "salad"]}, POLL_TEXT)
    assert poll is not None and poll.texts == ["Lunch?", "pizza", "salad"] and poll.prose
    unknown = content_of({"url": "https://x.org/a", "caption": "hi", "more": [{"deep": "yo"}]}, None, ["url"])
    assert unknown is not None and unknown.texts == ["hi", "yo"] and not unknown.prose


def test_an_undeclared_value_is_checked_for_words_but_never_for_shouting_or_repeats() -> None:
    f = make_filter(repeat={"times": 2, "seconds": 60}, flood={"enabled": False})
    value = {"code": "ABCDEFGHIJKLMNOP QRSTUV", "note": "darn"}
    verdict = f.check(2, content_of(value, None), now=0)  # type: ignore[arg-type]
    assert rules_of(verdict) == ["words:mild"]
    assert verdict.value == {"code": "ABCDEFGHIJKLMNOP QRSTUV", "note": "****"}   # the code is not lower-cased
    assert f.check(2, content_of({"code": "ABCDEFGHIJKLMNOP QRSTUV"}, None), now=1).hits == []  # type: ignore[arg-type]


def test_a_text_repeats_only_within_one_conversation() -> None:
    f = make_filter(repeat={"times": 2, "seconds": 60}, flood={"enabled": False})
    assert f.check(2, text("lend me a pen?"), now=0, conversation=3).hits == []
    assert f.check(2, text("lend me a pen?"), now=1, conversation=4).hits == []
    assert f.check(2, text("lend me a pen?"), now=2).hits == []                  # the room is a conversation too
    assert rules_of(f.check(2, text("Lend me a pen"), now=3, conversation=3)) == ["repeat"]


def test_too_many_hits_refuse_the_message_instead_of_redacting_part_of_it() -> None:
    verdict = make_filter(flood={"enabled": False}).check(2, text("stupid " * 200), now=0)
    assert verdict.blocked_by is not None and verdict.blocked_by.rule == "words:mild"
    assert "more than 64 words" in verdict.blocked_by.reason
    assert make_filter().check(2, text("stupid " * 20), now=0).value == "****** " * 20
