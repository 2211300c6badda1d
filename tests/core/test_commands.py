"""Every command through the one command layer, against a real Redis + RediSearch."""

from __future__ import annotations

from bridge.core.chat import Chat
from bridge.core.ports import Invocation, PlatformUser

CLI = Invocation(platform="cli")


def as_(name: str, admin: bool = False) -> Invocation:
    return Invocation(platform="cli", username=name, is_admin=admin)


async def run(chat: Chat, inv: Invocation, line: str, ok: bool = True) -> str:
    reply = await chat.commands.execute(inv, line)
    assert reply.ok is ok, reply.text
    return reply.text


async def setup_guide_world(chat: Chat) -> None:
    await run(chat, CLI, "register wasim Wasim Akram Lahore Pakistan")
    await run(chat, CLI, "register simon Simon Prickett Nottingham England")
    await run(chat, CLI, "register ada Ada Lovelace Ravenshead England")
    for name in ("cricket", "tech", "random"):
        await run(chat, CLI, f"create {name}")


async def test_register_profile_and_taken_username(chat: Chat) -> None:
    await setup_guide_world(chat)
    text = await run(chat, as_("wasim"), "profile")
    assert "Wasim Akram" in text and "Lahore, Pakistan" in text
    reply = await chat.commands.execute(CLI, "register Wasim")
    assert not reply.ok and reply.error_code == "conflict" and "taken" in reply.text
    assert await chat.ctx.redis.hgetall("user:wasim") == {
        "username": "wasim", "firstname": "Wasim", "lastname": "Akram", "city": "Lahore", "country": "Pakistan",
    }  # fmt: skip


async def test_post_history_unread_and_mark_seen(chat: Chat) -> None:
    await setup_guide_world(chat)
    await run(chat, as_("wasim"), "post cricket Did you see the game today?")
    await run(chat, as_("simon"), "post cricket A couple of nice catches too!")
    text = await run(chat, as_("ada"), "history cricket 5")
    assert text.index("Did you see") < text.index("nice catches")
    unread = await chat.commands.execute(as_("wasim"), "unread cricket")
    kinds = [(m["kind"], m["username"]) for m in unread.data["messages"]]
    assert kinds == [("message", "wasim"), ("message", "simon"), ("join", "ada")]
    seen = await chat.ctx.redis.hget("user:wasim", "channel:cricket")
    last = await chat.ctx.redis.xrevrange("channel:cricket", count=1)
    assert seen == last[0][0] and last[0][1] == {"type": "join", "username": "wasim"}
    again = await chat.commands.execute(as_("wasim"), "unread cricket")
    assert again.data["messages"] == [] and "caught up" in again.text
    await run(chat, as_("simon"), "post cricket Test match next week")
    third = await chat.commands.execute(as_("wasim"), "unread cricket")
    assert [m["text"] for m in third.data["messages"]] == ["Test match next week"]
    assert await chat.ctx.redis.hget("user:wasim", "channel:cricket") == third.data["messages"][0]["id"]


async def test_search_filters_and_paging(chat: Chat) -> None:
    await setup_guide_world(chat)
    await run(chat, as_("wasim"), "post cricket Did you see the test match this weekend?")
    await run(chat, as_("simon"), "post cricket Fantastic catch to win the game too.")
    await run(chat, as_("wasim"), "post tech Me too,")
    for i in range(12):
        await run(chat, as_("ada"), f"post random sunny number {i}")
    r = await chat.commands.execute(CLI, "search match")
    assert r.data["total"] == 1 and r.data["hits"][0]["username"] == "wasim"
    r = await chat.commands.execute(CLI, "search from:simon in:cricket")
    assert [h["text"] for h in r.data["hits"]] == ["Fantastic catch to win the game too."]
    r = await chat.commands.execute(CLI, "search in:cricket in:tech from:wasim")
    assert r.data["total"] == 2
    r = await chat.commands.execute(CLI, "search sunny")
    assert r.data["total"] == 12 and len(r.data["hits"]) == 10
    newest_first = [h["ts"] for h in r.data["hits"]]
    assert newest_first == sorted(newest_first, reverse=True)
    r2 = await chat.commands.execute(CLI, "search sunny page:2")
    assert len(r2.data["hits"]) == 2
    r = await chat.commands.execute(CLI, "search sunny before:2000-01-01")
    assert r.data["total"] == 0
    r = await chat.commands.execute(CLI, "search sunny after:1h")
    assert r.data["total"] == 12


async def test_users_search_by_city_country_name_hobby_and_location(chat: Chat) -> None:
    await setup_guide_world(chat)
    r = await chat.commands.execute(CLI, "users city:lahore")
    assert [u["username"] for u in r.data["users"]] == ["wasim"]
    r = await chat.commands.execute(CLI, "users country:England")
    assert [u["username"] for u in r.data["users"]] == ["ada", "simon"]
    r = await chat.commands.execute(CLI, "users name:Simon")
    assert [u["username"] for u in r.data["users"]] == ["simon"]
    await run(chat, as_("ada"), "profile-set hobbies Chess, cycling")
    await run(chat, as_("ada"), "profile-set location 53.07,-1.16")
    await run(chat, as_("simon"), "profile-set location 52.95,-1.15")
    r = await chat.commands.execute(CLI, "users hobby:chess")
    assert [u["username"] for u in r.data["users"]] == ["ada"]
    r = await chat.commands.execute(CLI, "users near:52.95,-1.15,20")
    assert [u["username"] for u in r.data["users"]] == ["ada", "simon"]
    r = await chat.commands.execute(CLI, "users near:51.5,-0.12,20")
    assert r.data["users"] == []


async def test_join_leave_active_mentions_recent_top(chat: Chat) -> None:
    await setup_guide_world(chat)
    assert "joined" in await run(chat, as_("ada"), "join tech")
    await run(chat, as_("ada"), "post tech hello @simon and @nobody, not `@wasim` nor \\@wasim")
    await run(chat, as_("wasim"), "post tech hi")
    await run(chat, as_("wasim"), "post cricket hi again")
    hist = await run(chat, as_("simon"), "history tech")
    assert "ada joined" in hist
    assert "left" in await run(chat, as_("ada"), "leave tech")
    entries = await chat.ctx.redis.xrange("channel:tech")
    assert [e[1]["type"] for e in entries][:1] == ["join"] and entries[-1][1]["type"] == "leave"
    mentions = await chat.commands.execute(as_("simon"), "mentions")
    assert [m["text"] for m in mentions.data] == ["hello @simon and @nobody, not `@wasim` nor \\@wasim"]
    assert (await chat.commands.execute(as_("wasim"), "mentions")).data == []
    active = await chat.commands.execute(CLI, "active 5")
    assert {a["username"] for a in active.data} >= {"ada", "wasim", "simon"}
    recent = await chat.commands.execute(CLI, "recent 5 tech cricket")
    texts = sorted(m["text"] for m in recent.data if m["kind"] == "message")
    assert texts == ["hello @simon and @nobody, not `@wasim` nor \\@wasim", "hi", "hi again"]
    top = await chat.commands.execute(CLI, "top 2")
    assert top.data["rows"][0] == {"username": "wasim", "messages": 2}
    assert top.data["source"] == "counters" and "maintained counters" in top.text


async def test_notify_add_list_remove(chat: Chat) -> None:
    await setup_guide_world(chat)
    await run(chat, as_("ada"), "notify add cricket")
    assert "#cricket" in await run(chat, as_("ada"), "notify list")
    assert await chat.ctx.redis.smembers("cb:notify-subs:cricket") == {"ada"}
    await run(chat, as_("ada"), "notify remove cricket")
    assert await chat.ctx.redis.smembers("cb:notify-subs:cricket") == set()


async def test_platform_user_gets_stable_name_and_keeps_history_when_registering(chat: Chat) -> None:
    await setup_guide_world(chat)
    person = PlatformUser("discord", "g1", "123456789", "Grace Hopper")
    inv = Invocation(platform="discord", user=person)
    await run(chat, inv, "post tech compilers are great")
    auto = await chat.find_username("discord", "g1", "123456789")
    assert auto == "grace-hopper"
    r = await chat.commands.execute(CLI, "search from:grace-hopper")
    assert r.data["total"] == 1
    await run(chat, inv, "register grace Grace Hopper Arlington USA")
    assert await chat.find_username("discord", "g1", "123456789") == "grace"
    r = await chat.commands.execute(CLI, "search compilers")
    assert [h["username"] for h in r.data["hits"]] == ["grace"]
    assert not await chat.ctx.redis.sismember("usernames", "grace-hopper")
    r = await chat.commands.execute(CLI, "search from:grace-hopper")
    assert r.data["total"] == 0
    again = await chat.commands.execute(inv, "register grace2")
    assert not again.ok and "already registered as `grace`" in again.text


async def test_link_account_merges_identities(chat: Chat) -> None:
    await setup_guide_world(chat)
    d = Invocation(platform="discord", user=PlatformUser("discord", "g1", "42", "Ada L"))
    s = Invocation(platform="slack", user=PlatformUser("slack", "T1", "U42", "ada"))
    await run(chat, d, "register adal Ada Lovelace")
    await run(chat, s, "post tech from slack before linking")
    code = (await chat.commands.execute(d, "link-account")).data["code"]
    await run(chat, s, f"link-account {code}")
    assert await chat.find_username("slack", "T1", "U42") == "adal"
    assert await chat.platform_user_id("adal", "slack", "T1") == "U42"
    r = await chat.commands.execute(CLI, "search linking")
    assert [h["username"] for h in r.data["hits"]] == ["adal"]
    reused = await chat.commands.execute(s, f"link-account {code}")
    assert not reused.ok and "expired" in reused.text


async def test_admin_commands_need_admin(chat: Chat) -> None:
    await setup_guide_world(chat)
    r = await chat.commands.execute(as_("ada"), "link tech discord:g1:c1")
    assert not r.ok and r.error_code == "forbidden"
    assert await chat.ctx.redis.exists("cb:route:discord:g1:c1") == 0
    r = await chat.commands.execute(as_("ada", admin=True), "link tech discord:g1:c1")
    assert r.ok
    assert "discord:g1:c1" in await run(chat, CLI, "channels")
    r = await chat.commands.execute(as_("ada", admin=True), "unlink discord:g1:c1")
    assert r.ok and await chat.ctx.redis.exists("cb:route:discord:g1:c1") == 0


async def test_edit_and_delete_own_messages_only(chat: Chat) -> None:
    await setup_guide_world(chat)
    mid = (await chat.commands.execute(as_("ada"), "post tech typo hre")).data["id"]
    r = await chat.commands.execute(as_("simon"), f"edit {mid} hacked")
    assert not r.ok and r.error_code == "forbidden"
    await run(chat, as_("ada"), f"edit {mid} typo here")
    assert (await chat.commands.execute(CLI, "search here")).data["total"] == 1
    assert (await chat.commands.execute(CLI, "search hre")).data["total"] == 0
    await run(chat, as_("ada"), f"delete {mid}")
    assert (await chat.commands.execute(CLI, "search here")).data["total"] == 0
    assert await chat.ctx.redis.exists(f"message:{mid}") == 0
    kinds = [e[1]["type"] for e in await chat.ctx.redis.xrange("channel:tech")]
    assert kinds[-3:] == ["message", "edit", "delete"]
    assert (await chat.commands.execute(CLI, "history tech")).data == []


async def test_help_lists_every_command_and_explains_one(chat: Chat) -> None:
    r = await chat.commands.execute(CLI, "help")
    assert r.ok and {"register", "search", "link-account", "top", "notify"} <= set(r.data)
    r = await chat.commands.execute(CLI, "help search")
    assert "in:channel" in r.text
