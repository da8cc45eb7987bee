"""The in-memory state backend, through the interfaces of roomchat/state/base.py.

Presence (users in order of joining, several connections per user), guest IDs,
the token-bucket rate limiter and the key-value store (with a controlled clock).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from roomchat.state.base import GuestIds, KeyValueStore, Presence, RateLimiter, StateBackend, wall_clock_us
from roomchat.state.memory import (
    MemoryGuestIds,
    MemoryKeyValue,
    MemoryPresence,
    MemoryRateLimiter,
    memory_backend,
)
from roomchat.users import IdentityClash, Role, User

T = TypeVar("T")
ANN = User(1000, Role.STUDENT, "Ann")
BOB = User(1001, Role.STUDENT, "Bob")
TESS = User(1, Role.TEACHER, "Tess")


def run(awaitable: Awaitable[T]) -> T:
    async def wrapper() -> T:
        return await awaitable

    return asyncio.run(wrapper())


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- presence ----------------------------------------------------------------------------


def test_the_backend_implements_the_interfaces() -> None:
    backend = memory_backend(500)
    assert isinstance(backend, StateBackend)
    assert isinstance(backend.presence, Presence) and isinstance(backend.guest_ids, GuestIds)
    assert isinstance(backend.rate_limiter, RateLimiter) and isinstance(backend.kv, KeyValueStore)
    before = wall_clock_us()
    guest = run(backend.guest_ids.allocate())
    assert guest.number == 1 and guest.id >= 500 + before  # guest IDs follow the wall clock


def test_members_in_order_of_joining() -> None:
    presence = MemoryPresence()

    async def scenario() -> None:
        first = await presence.join("r", ANN, "s1")
        assert first.first and first.members == [ANN]
        second = await presence.join("r", TESS, "s2")
        assert second.first and second.members == [ANN, TESS]
        third = await presence.join("r", BOB, "s3")
        assert third.members == [ANN, TESS, BOB]
        assert await presence.members("r") == [ANN, TESS, BOB]
        assert await presence.count("r") == 3
        assert await presence.leave("r", TESS, "s2") is True
        assert await presence.members("r") == [ANN, BOB]
        rejoined = await presence.join("r", TESS, "s4")
        assert rejoined.first and rejoined.members == [ANN, BOB, TESS]  # back of the line

    run(scenario())


def test_several_connections_of_one_user() -> None:
    presence = MemoryPresence()

    async def scenario() -> None:
        assert (await presence.join("r", TESS, "tab1")).first
        second = await presence.join("r", TESS, "tab2")
        assert not second.first and second.members == [TESS]
        assert await presence.count("r") == 1
        assert await presence.sids("r", TESS.id) == ["tab1", "tab2"]
        assert await presence.leave("r", TESS, "tab1") is False  # not the last one
        assert await presence.member("r", TESS.id) == TESS
        assert await presence.sids("r", TESS.id) == ["tab2"]
        assert await presence.leave("r", TESS, "tab2") is True
        assert await presence.member("r", TESS.id) is None
        assert await presence.sids("r", TESS.id) == []

    run(scenario())


def test_leaving_what_was_never_joined() -> None:
    presence = MemoryPresence()

    async def scenario() -> None:
        assert await presence.leave("nowhere", ANN, "s1") is False
        await presence.join("r", ANN, "s1")
        assert await presence.leave("r", ANN, "other-sid") is False
        assert await presence.leave("r", BOB, "s1") is False
        assert await presence.leave("r", ANN, "s1") is True
        assert await presence.leave("r", ANN, "s1") is False  # twice
        assert await presence.count("r") == 0 and await presence.members("r") == []

    run(scenario())


def test_rooms_are_separate() -> None:
    presence = MemoryPresence()

    async def scenario() -> None:
        await presence.join("a", TESS, "s1")
        joined = await presence.join("b", TESS, "s2")
        assert joined.first and joined.members == [TESS]  # first in room b, though present in a
        assert await presence.member("a", TESS.id) == TESS and await presence.member("c", TESS.id) is None
        assert await presence.leave("a", TESS, "s1") is True
        assert await presence.member("b", TESS.id) == TESS

    run(scenario())


def test_the_user_list_is_a_copy() -> None:
    presence = MemoryPresence()

    async def scenario() -> None:
        joined = await presence.join("r", ANN, "s1")
        joined.members.append(BOB)
        (await presence.members("r")).clear()
        assert await presence.members("r") == [ANN]

    run(scenario())


# -- guest IDs -------------------------------------------------------------------------------


class MicroClock:
    """A wall clock in microseconds that the test moves by hand."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_guest_ids_count_up_and_never_repeat() -> None:
    clock = MicroClock(5_000)
    ids = MemoryGuestIds(1_000_000, now_us=clock)

    async def scenario() -> list[Any]:
        return list(await asyncio.gather(*(ids.allocate() for _ in range(100))))

    got = run(scenario())
    # Faster than the clock: one more than the last. Names count from 1.
    assert sorted(g.id for g in got) == list(range(1_005_000, 1_005_100))
    assert sorted(g.number for g in got) == list(range(1, 101))


def test_guest_ids_follow_the_clock_and_never_go_back() -> None:
    clock = MicroClock(5_000)
    ids = MemoryGuestIds(1_000_000, now_us=clock)
    assert run(ids.allocate()).id == 1_005_000
    clock.now = 9_000_000
    assert run(ids.allocate()).id == 10_000_000  # the clock moved on: so do the IDs
    clock.now = 10  # the wall clock was set back: IDs still never repeat within a process
    assert run(ids.allocate()).id == 10_000_001


def test_a_restarted_process_starts_above_every_earlier_guest_id() -> None:
    clock = MicroClock(5_000)
    before = MemoryGuestIds(1_000_000, now_us=clock)
    earlier = [run(before.allocate()).id for _ in range(50)]  # 50 guests in the same microsecond
    clock.now += 51  # a restart takes longer than this; the new process has no memory of the old one
    after = MemoryGuestIds(1_000_000, now_us=clock)
    assert run(after.allocate()).id > max(earlier)


def test_one_id_is_one_identity_in_a_room() -> None:
    presence = MemoryPresence()
    impostor = User(TESS.id, Role.STUDENT, "Tess")  # the same ID as another user: another role
    renamed = User(TESS.id, Role.TEACHER, "Mallory")

    async def scenario() -> None:
        await presence.join("r", TESS, "s1")
        for other in (impostor, renamed, User(TESS.id, Role.TEACHER, "Tess", bot=True)):
            with pytest.raises(IdentityClash) as clash:
                await presence.join("r", other, "s2")
            assert clash.value.code == "unauthorized"
        assert await presence.members("r") == [TESS] and await presence.sids("r", TESS.id) == ["s1"]
        assert (await presence.join("r", TESS, "s3")).first is False  # the same user: a second connection
        assert await presence.sids("r", TESS.id) == ["s1", "s3"]
        await presence.join("elsewhere", impostor, "s4")  # another room holds nobody with that ID

    run(scenario())


# -- rate limiter -------------------------------------------------------------------------------


def test_a_bucket_of_limit_tokens() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)

    async def scenario() -> None:
        assert [await limiter.hit("k", 3, 30.0) for _ in range(5)] == [True, True, True, False, False]
        clock.now += 9.9  # a token takes 10 s (30 s / 3) to come back
        assert await limiter.hit("k", 3, 30.0) is False
        clock.now += 0.2
        assert await limiter.hit("k", 3, 30.0) is True
        assert await limiter.hit("k", 3, 30.0) is False
        clock.now += 1000  # refills to the limit, no further
        assert [await limiter.hit("k", 3, 30.0) for _ in range(4)] == [True, True, True, False]

    run(scenario())


def test_refused_hits_are_not_counted() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)

    async def scenario() -> None:
        assert await limiter.hit("k", 1, 10.0)
        for _ in range(50):  # hammering while empty does not push the refill back
            assert not await limiter.hit("k", 1, 10.0)
        clock.now += 10.0
        assert await limiter.hit("k", 1, 10.0)

    run(scenario())


def test_keys_are_separate() -> None:
    limiter = MemoryRateLimiter(Clock())

    async def scenario() -> None:
        assert await limiter.hit("ann", 1, 60.0) and not await limiter.hit("ann", 1, 60.0)
        assert await limiter.hit("bob", 1, 60.0)
        assert not await limiter.hit("ann", 1, 60.0)

    run(scenario())


def test_refilled_buckets_are_pruned_and_busy_ones_kept() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    limiter.PRUNE_EVERY = 4

    async def scenario() -> None:
        assert await limiter.hit("idle", 1, 10.0) and await limiter.hit("busy", 1, 100.0)
        clock.now += 50.0  # "idle" has refilled, "busy" has not
        await limiter.hit("other", 5, 10.0)
        await limiter.hit("other", 5, 10.0)  # the 4th hit prunes
        assert "idle" not in limiter._buckets and "busy" in limiter._buckets
        assert not await limiter.hit("busy", 1, 100.0)  # still limited: its bucket was kept

    run(scenario())


# -- key-value store --------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kv(clock: Clock) -> MemoryKeyValue:
    return MemoryKeyValue(clock)


def test_get_set_delete(kv: MemoryKeyValue) -> None:
    async def scenario() -> None:
        assert await kv.get("missing") is None
        await kv.set("k", {"a": [1, 2]})
        assert await kv.get("k") == {"a": [1, 2]}
        await kv.set("k", "replaced")
        assert await kv.get("k") == "replaced"
        await kv.delete("k")
        await kv.delete("k")
        assert await kv.get("k") is None

    run(scenario())


def test_values_are_copies(kv: MemoryKeyValue) -> None:
    async def scenario() -> None:
        value: dict[str, Any] = {"list": [1]}
        await kv.set("k", value)
        value["list"].append(2)
        got = await kv.get("k")
        got["list"].append(3)
        assert await kv.get("k") == {"list": [1]}
        await kv.hash_set("h", "f", value)
        (await kv.hash_get_all("h"))["f"]["list"].clear()
        assert (await kv.hash_get_all("h"))["f"] == {"list": [1, 2]}

    run(scenario())


def test_expiry(kv: MemoryKeyValue, clock: Clock) -> None:
    async def scenario() -> None:
        await kv.set("k", 1, ttl=5)
        await kv.set("forever", 2)
        clock.now += 4.9
        assert await kv.get("k") == 1
        clock.now += 0.1
        assert await kv.get("k") is None
        clock.now += 10**6
        assert await kv.get("forever") == 2

    run(scenario())


def test_hashes(kv: MemoryKeyValue) -> None:
    async def scenario() -> None:
        assert await kv.hash_get_all("h") == {}
        assert await kv.hash_set("h", "a", 1) is True
        assert await kv.hash_set("h", "a", 2, only_if_new=True) is False
        assert await kv.hash_set("h", "b", 3, only_if_new=True) is True
        assert await kv.hash_set("h", "a", 4) is True
        assert await kv.hash_get_all("h") == {"a": 4, "b": 3}

    run(scenario())


def test_a_hash_expires_ttl_after_its_last_write(kv: MemoryKeyValue, clock: Clock) -> None:
    async def scenario() -> None:
        await kv.hash_set("h", "a", 1, ttl=10)
        clock.now += 6
        assert await kv.hash_set("h", "b", 2, only_if_new=True, ttl=10) is True
        clock.now += 6
        assert await kv.hash_get_all("h") == {"a": 1, "b": 2}  # the second write moved the end
        await kv.hash_set("h", "c", 3)  # no ttl: the end stays where it was
        clock.now += 4
        assert await kv.hash_get_all("h") == {}

    run(scenario())


def test_expired_keys_nobody_reads_are_swept(kv: MemoryKeyValue, clock: Clock) -> None:
    async def scenario() -> None:
        await kv.set("gone", 1, ttl=5)
        await kv.hash_set("gone-hash", "f", 1, ttl=5)
        await kv.set("kept", 1)
        clock.now += 5
        for n in range(MemoryKeyValue.SWEEP_EVERY):
            await kv.set(f"fresh-{n % 3}", n, ttl=60)
        assert set(kv._data) == {"kept", "fresh-0", "fresh-1", "fresh-2"}

    run(scenario())


def test_incr_keeps_the_expiry(kv: MemoryKeyValue, clock: Clock) -> None:
    async def scenario() -> None:
        assert await kv.incr("n") == 1
        assert await kv.incr("n", 5) == 6
        assert await kv.incr("n", -10) == -4
        await kv.set("t", 10, ttl=5)
        assert await kv.incr("t") == 11
        clock.now += 5
        assert await kv.get("t") is None
        assert await kv.incr("t") == 1  # an expired counter starts again

    run(scenario())
