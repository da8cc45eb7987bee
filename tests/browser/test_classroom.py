"""A class in the browser: a teacher runs a quiz from the panel, a poll is voted on, a student is muted.

The teacher and one student are Chromium pages; the other students are python-socketio
clients (the test is about the teacher's view there), so one full student path runs in
the browser and the leaderboard is checked against what the bot sent everyone.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import ALAN, GRACE, KATE, TEACHER, TOKENS, config, join, log, message, send_text
from playwright.sync_api import expect

from roomchat.testing import ChatClient, RoomchatProcess

QUIZ_BOT, MODERATOR = 900, 901
BANK = """\
title: Browser quiz
time_limit: 300
questions:
  - question: Which planet is the largest?
    options: [Mars, Jupiter, Venus]
    answer: Jupiter
    hints: [A gas giant.]
  - question: The Sun is a star.
    answer: true
  - question: What is the capital of Australia?
    answer: Canberra
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomchatProcess]:
    folder = tmp_path_factory.mktemp("classroom")
    (folder / "bank.yaml").write_text(BANK)
    bots = [
        {"kind": "quiz", "ID": QUIZ_BOT, "name": "Quiz Master", "role": "TEACHER", "rooms": ["classroom"],
         "settings": {"banks": {"planets": str(folder / "bank.yaml")}, "start_delay": 0, "between_questions": None}},
        {"kind": "moderator", "ID": MODERATOR, "name": "Moderator", "role": "TEACHER", "rooms": ["classroom"],
         "settings": {"flood": {"enabled": False}, "repeat": {"enabled": False}}},
    ]
    with RoomchatProcess(config(bots=bots)) as running:
        yield running


def student(server: RoomchatProcess, user: int) -> ChatClient:
    return ChatClient(server.url, room="classroom", token=TOKENS[user])


def check_season(table: Any, scores: list[dict[str, Any]]) -> None:
    """A season table shows exactly these rows: rank, name, points, correct/answered, quizzes played."""
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(len(scores))
    for index, row in enumerate(scores):
        expect(rows.nth(index).locator("td")).to_have_text(
            [str(row["rank"]), row["name"], str(row["score"]), f"{row['correct']}/{row['answered']}", "1"])


def panel(page: Any) -> Any:
    return page.get_by_role("region", name="Teacher's panel")


def test_a_teacher_and_three_students_play_a_quiz_to_the_leaderboard(server: RoomchatProcess, new_page: Any) -> None:
    teacher = join(new_page(), server.url, "classroom", token=TOKENS[TEACHER])
    grace = join(new_page(), server.url, "classroom", token=TOKENS[GRACE])
    with student(server, ALAN) as alan, student(server, KATE) as kate:
        tools = panel(teacher)
        expect(tools.get_by_label("Question bank")).to_have_value("planets")  # the bot listed its banks
        expect(teacher.locator(".users li").filter(has_text="Quiz Master")).to_contain_text("bot")
        tools.get_by_role("button", name="Start quiz").click()

        # Question 1, multiple choice: Grace answers in the browser, the others by socket.
        card = grace.get_by_role("region", name=re.compile("Question 1 of 3"))
        expect(card).to_contain_text("Which planet is the largest?")
        expect(card.get_by_role("timer")).to_contain_text("s left")
        card.get_by_role("button", name="Answer B: Jupiter").click()
        expect(card).to_contain_text("Your answer: B: Jupiter")
        expect(card.get_by_role("button", name="Answer A: Mars")).to_be_disabled()
        tools.get_by_role("button", name="Hint").click()
        expect(card.get_by_role("list", name="Hints")).to_contain_text("A gas giant.")
        expect(tools).to_contain_text("1 of 3 students answered question 1.")
        alan.send(QUIZ_BOT, "quiz-answer", "B")
        kate.send(QUIZ_BOT, "quiz-answer", "A")
        expect(tools).to_contain_text("3 of 3 students answered question 1.")
        tools.get_by_role("button", name="Skip").click()
        expect(card).to_contain_text("Correct!")
        expect(card.get_by_role("button", name="Answer B: Jupiter")).to_have_class(re.compile("correct"))
        expect(log(grace).get_by_role("table", name=re.compile("Scores after question 1 of 3"))).to_contain_text("Grace Hopper")

        # Question 2, true or false.
        tools.get_by_role("button", name="Skip").click()
        card = grace.get_by_role("region", name=re.compile("Question 2 of 3"))
        card.get_by_role("button", name="True").click()
        expect(card).to_contain_text("Your answer: true")
        alan.send(QUIZ_BOT, "quiz-answer", "true")
        kate.send(QUIZ_BOT, "quiz-answer", "false")
        expect(tools).to_contain_text("3 of 3 students answered question 2.")
        tools.get_by_role("button", name="Skip").click()
        expect(card).to_contain_text("Correct!")

        # Question 3, a free answer typed into a field.
        tools.get_by_role("button", name="Skip").click()
        card = grace.get_by_role("region", name=re.compile("Question 3 of 3"))
        card.get_by_label("Your answer").fill("canbera")  # a typo the bot forgives
        card.get_by_role("button", name="Answer").click()
        expect(card).to_contain_text("Your answer: canbera")
        alan.send(QUIZ_BOT, "quiz-answer", "Sydney")
        expect(tools).to_contain_text("2 of 3 students answered question 3.")
        with teacher.expect_download() as download:
            tools.get_by_role("button", name="Skip").click()  # the last question: the leaderboard, the CSV
            tools.get_by_role("link", name=re.compile(r"Download quiz-planets-.*\.csv")).click()

        final = alan.wait_message(lambda d: d["message"]["type"] == "quiz-leaderboard")["message"]["value"]
        board = log(grace).get_by_role("table", name="Final leaderboard: Browser quiz")
        rows = board.locator("tbody tr")
        expect(rows).to_have_count(3)
        for index, row in enumerate(final["scores"]):
            expect(rows.nth(index)).to_contain_text(row["name"])
            expect(rows.nth(index).locator("td").nth(2)).to_have_text(str(row["score"]))
        assert final["scores"][0]["name"] == "Grace Hopper" and final["scores"][0]["correct"] == 3
        expect(grace.get_by_role("region", name="Quiz over")).to_be_visible()
        expect(log(teacher).get_by_role("table", name="Final leaderboard: Browser quiz")).to_be_visible()

        # Then the room's season leaderboard: this quiz is the season's first, so its players and points.
        season = alan.wait_message(lambda d: d["message"]["type"] == "quiz-season")["message"]["value"]
        assert season["event"] == "quiz_ended" and season["quizzes"] == 1
        assert [(r["name"], r["score"]) for r in season["scores"]] == [(r["name"], r["score"]) for r in final["scores"]]
        for page in (grace, teacher):
            check_season(log(page).get_by_role("table", name="Season leaderboard: 1 quiz"), season["scores"])
        # Asked for in a private conversation with the bot, the season is its answer there.
        grace.get_by_role("button", name="Private message to Quiz Master").click()
        send_text(grace, "/quiz season")
        check_season(log(grace).get_by_role("table", name="Season leaderboard: 1 quiz"), season["scores"])
        table = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert {r["student"] for r in table} == {"Grace Hopper", "Alan Turing", "Kate Johnson"}
        assert [r["answer"] for r in table if r["student"] == "Grace Hopper"] == ["B", "true", "canbera"]
    assert teacher.problems == [] and grace.problems == []


def test_a_poll_is_voted_on_with_live_results(server: RoomchatProcess, new_page: Any) -> None:
    ann = join(new_page(), server.url, "poll-room", name="Ann")
    bob = join(new_page(), server.url, "poll-room", name="Bob")
    with ChatClient(server.url, room="poll-room", name="Cleo") as cleo:
        ann.get_by_text("Share a picture, video, file or poll").click()
        ann.get_by_label("Question").fill("Lunch?")
        ann.get_by_label("Options (one per line)").fill("Pizza\nSalad\nSoup")
        ann.get_by_role("button", name="Start poll").click()
        poll = bob.get_by_role("group", name="Poll: Lunch?")
        poll.get_by_role("button", name="Vote for Salad").click()
        expect(poll.get_by_role("button", name="Vote for Salad")).to_have_attribute("aria-pressed", "true")
        mine = ann.get_by_role("group", name="Poll: Lunch?")
        expect(mine.get_by_label("Salad: 1 vote")).to_have_text("1")
        poll_id = cleo.wait_message(lambda d: d["message"]["type"] == "poll")["id"]
        assert cleo.send(0, "vote", {"poll": poll_id, "option": 1})["data"]["code"] == "user_not_found"
        assert cleo.broadcast("vote", {"poll": poll_id, "option": 0})["msg"] == "Message sent"
        expect(poll.get_by_label("Pizza: 1 vote")).to_have_text("1")
        expect(poll).to_contain_text("2 people voted.")
        mine.get_by_role("button", name="Close poll").click()  # its creator closes it
        expect(poll).to_contain_text("Closed. 2 people voted.")
        expect(poll.get_by_role("button", name="Vote for Soup")).to_be_disabled()
        expect(bob.get_by_role("group", name="Poll: Lunch?").get_by_role("button", name="Close poll")).to_have_count(0)


def test_a_student_muted_from_the_panel_sees_why(server: RoomchatProcess, new_page: Any) -> None:
    teacher = join(new_page(), server.url, "classroom", token=TOKENS[TEACHER])
    kate = join(new_page(), server.url, "classroom", token=TOKENS[KATE])
    row = teacher.locator(".users li").filter(has_text="Kate Johnson")
    row.get_by_label("Moderate Kate Johnson").click()
    row.get_by_label("Reason").fill("Please let others speak")
    row.get_by_label("For").select_option(label="10 minutes")
    row.get_by_role("button", name="Mute Kate Johnson", exact=True).click()
    expect(panel(teacher)).to_contain_text("Mute Kate Johnson for 10 minutes: done.")

    banner = kate.get_by_role("alert")
    expect(banner).to_contain_text("You are muted for 10 minutes by Tess Teacher.")
    expect(banner).to_contain_text("Why: Please let others speak")
    expect(message(kate, "You are muted")).to_contain_text("Please let others speak")
    kate.locator("#composer-text").fill("can I still talk?")
    kate.locator("#composer-text").press("Enter")
    expect(log(kate).locator("li.note.error")).to_contain_text("Not sent: ")
    expect(log(kate).locator("li.note.error")).to_contain_text("muted")

    row.get_by_role("button", name="Unmute Kate Johnson").click()
    expect(banner).to_be_hidden()
    send_text(kate, "thank you")
    expect(message(teacher, "thank you")).to_contain_text("Kate Johnson")


def test_the_panel_shows_the_moderator_and_locks_the_room(server: RoomchatProcess, new_page: Any) -> None:
    teacher = join(new_page(), server.url, "classroom", token=TOKENS[TEACHER])
    alan = join(new_page(), server.url, "classroom", token=TOKENS[ALAN])
    tools = panel(teacher)
    tools.get_by_role("button", name="Status").click()
    expect(tools.get_by_label("The moderator's answer")).not_to_be_empty()
    tools.get_by_role("button", name="Dry run on").click()
    expect(tools.get_by_label("The moderator's answer")).to_contain_text(re.compile("dry run is on", re.IGNORECASE))
    tools.get_by_role("button", name="Dry run off").click()
    expect(tools.get_by_label("The moderator's answer")).to_contain_text(re.compile("dry run is off", re.IGNORECASE))
    tools.get_by_role("button", name="Lock the room").click()
    expect(alan.get_by_role("alert")).to_contain_text("The room is locked")
    alan.locator("#composer-text").fill("hello?")
    alan.locator("#composer-text").press("Enter")
    expect(log(alan).locator("li.note.error")).to_contain_text("Not sent")
    tools.get_by_role("button", name="Unlock").click()
    expect(alan.get_by_role("alert")).to_be_hidden()
    send_text(alan, "unlocked now")


def test_a_kicked_student_is_told_why_stays_out_and_may_come_back(server: RoomchatProcess, new_page: Any) -> None:
    teacher = join(new_page(), server.url, "classroom", token=TOKENS[TEACHER])
    alan = join(new_page(), server.url, "classroom", token=TOKENS[ALAN])
    row = teacher.locator(".users li").filter(has_text="Alan Turing")
    row.get_by_label("Moderate Alan Turing").click()
    row.get_by_label("Reason").fill("Time for a break")
    row.get_by_role("button", name="Kick Alan Turing").click()
    banner = alan.get_by_role("alert")
    expect(banner).to_contain_text("You were removed from the room by Tess Teacher.")
    expect(banner).to_contain_text("Why: Time for a break")
    expect(alan.locator("#conn-state")).to_have_attribute("data-state", "closed")  # no reconnecting by itself
    expect(teacher.locator(".users")).not_to_contain_text("Alan Turing")
    banner.get_by_role("button", name="Join again").click()
    expect(alan.locator("#conn-state")).to_have_attribute("data-state", "connected")
    expect(teacher.locator(".users")).to_contain_text("Alan Turing")
