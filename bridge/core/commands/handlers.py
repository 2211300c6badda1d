"""Command handlers: each turns a :class:`Call` into core operations and a :class:`Reply`."""

from __future__ import annotations

from dataclasses import asdict

from bridge.core import backfill_jobs
from bridge.core.commands import render
from bridge.core.commands.registry import Call
from bridge.core.finder import ago, fmt_time
from bridge.core.messages import said_before_visit
from bridge.core.ports import ChannelRef, Reply
from bridge.errors import InvalidInput, PermissionDenied, UserError
from bridge.store import keys
from bridge.store.connection import RedisClient


async def _channel(call: Call) -> str:
    """The channel argument, or the core channel linked to the room the command was typed in."""
    name = call.text("channel")
    if name:
        return await call.chat.channels.require(name)
    for here in (call.inv.channel, call.inv.thread_of):
        linked = await call.chat.channel_for(here) if here is not None else None
        if linked:
            return linked
    raise InvalidInput("Which channel? Give its name (this room is not linked to one).")


async def help_(call: Call) -> Reply:
    layer = call.chat.commands
    wanted = call.text("command")
    if wanted:
        spec = layer.spec(wanted.lower())
        if spec is None:
            raise InvalidInput(f"Unknown command `{wanted[:30]}`. `help` lists the commands.")
        lines = [f"`{spec.usage}` — {spec.summary}"]
        lines += [f"• `{a.name}`: {a.help}" for a in spec.args if a.help]
        lines += [f"e.g. `{ex}`" for ex in spec.examples]
        return Reply("\n".join(lines), data={"command": spec.name, "usage": spec.usage, "admin": spec.admin})
    rows = [f"`{s.usage}` — {s.summary}" + (" *(admin)*" if s.admin else "") for s in layer.specs()]
    return Reply("**chatbridge commands**\n" + "\n".join(rows), data=[s.name for s in layer.specs()])


async def register(call: Call) -> Reply:
    fields = {f: call.text(f) or "" for f in ("firstname", "lastname", "city", "country")}
    name = str(call.args["username"])
    if call.inv.user is not None and not call.inv.username:
        prof = await call.chat.users.claim(call.inv.user, name, fields)
    else:
        prof = await call.chat.users.register(name, fields)
    return Reply(f"Welcome, **{prof.username}**! Your account is ready.", data=prof.as_dict())


async def profile(call: Call) -> Reply:
    name = call.text("user") or await call.chat.caller(call.inv)
    prof = await call.chat.users.profile(name)
    data = prof.as_dict()
    data["identities"] = await call.chat.users.identities(prof.username)
    return Reply(render.profile(prof), data=data)


async def profile_set(call: Call) -> Reply:
    me = await call.chat.caller(call.inv)
    field, value = str(call.args["field"]), str(call.args["value"])
    prof = await call.chat.users.set_fields(me, {field: value})
    return Reply(f"Updated `{field}`.\n" + render.profile(prof), data=prof.as_dict())


async def channels(call: Call) -> Reply:
    rows = await call.chat.channels.overview()
    if not rows:
        return Reply("No channels yet: `create <name>` makes one.", data=[])
    lines = []
    for row in rows:
        links = row.links
        linked = f" ⇄ {', '.join(links)}" if links else ""
        lines.append(f"#{row.name} · {row.entries} entries · {row.members} members{linked}")
    return Reply("**Channels**\n" + "\n".join(lines), data=[asdict(row) for row in rows])


async def create(call: Call) -> Reply:
    name = await call.chat.channels.create(str(call.args["channel"]))
    return Reply(f"Created #{name}.", data={"channel": name})


def _target(call: Call) -> ChannelRef:
    raw = call.text("target")
    if raw:
        try:
            return ChannelRef.parse(raw)
        except ValueError:
            raise InvalidInput(
                "`target` looks like `discord:<guild id>:<channel id>` or `slack:<team>:<channel>`."
            ) from None
    if call.inv.channel is None:
        raise InvalidInput("Run this in the Discord or Slack channel to link, or give `target` from the CLI.")
    return call.inv.channel


async def link(call: Call) -> Reply:
    if call.inv.thread_of is not None and not call.text("target"):
        # the bridge posts into threads through their channel: a thread is never a room of its own
        raise InvalidInput(
            "This is a thread: run `link` in the channel it belongs to. Threads of a linked channel are "
            "mirrored with it (each thread to a thread on the other side)."
        )
    ref = _target(call)
    name = str(call.args["channel"])
    count = call.number("backfill", call.chat.ctx.settings.backfill_default)
    if count and ref.platform == "cli":
        raise InvalidInput("`--backfill` needs a Discord or Slack channel: only they have a history to import.")
    check = call.chat.link_checks.get(ref.platform)
    problem = await check(ref) if check is not None else None
    if problem:  # e.g. "I need Manage Webhooks in #general": nothing is linked
        raise PermissionDenied(problem)
    added = await call.chat.channels.link(name, ref)
    verb = "Linked" if added else "Already linked:"
    text = f"{verb} {ref.key()} ⇄ #{name}. Messages now mirror both ways."
    data: dict[str, object] = {"channel": name, "target": ref.key()}
    if count:
        try:
            ticket = await backfill_jobs.request(call.chat, ref, count, call.inv)
        except UserError as err:  # one already under way: the link stands
            return Reply(f"{text}\n{err}", data=data)
        data["backfill"] = {
            "job": ticket.job,
            "channel_key": ticket.channel_key,
            "count": count,
            "runner_up": ticket.runner_up,
        }
        where = "progress follows" if call.inv.platform == "cli" else "you get a DM with its progress"
        text += (
            f"\nImporting its last {count:,} messages into #{name}'s history and search (not mirrored: "
            f"this channel saw them, and the room's other channels get no flood); {where}."
        )
        if not ticket.runner_up:
            text += " No `chatbridge run` is reading this platform now: it starts when one does."
    return Reply(text, data=data)


async def unlink(call: Call) -> Reply:
    ref = _target(call)
    name = await call.chat.channels.unlink(ref)
    return Reply(f"Unlinked {ref.key()} from #{name}.", data={"channel": name, "target": ref.key()})


async def post(call: Call) -> Reply:
    me = await call.chat.caller(call.inv)
    channel = await call.chat.channels.require(str(call.args["channel"]))
    result = await call.chat.messages.post(channel, me, str(call.args["text"]))
    return Reply(f"Posted to #{channel} (`{result.id}`).", data={"id": result.id, "channel": channel})


async def _auto_join(call: Call, channel: str) -> bool:
    """The guide's stretch goal: the first time someone reads a channel they join it."""
    if not call.chat.ctx.settings.show_join_leave:
        return False
    try:
        me = await call.chat.caller(call.inv)
    except UserError:
        return False
    if await call.chat.channels.is_member(channel, me):
        return False
    return await call.chat.channels.set_membership(channel, me, join=True)


async def history(call: Call) -> Reply:
    channel = await _channel(call)
    await _auto_join(call, channel)
    items = await call.chat.messages.history(channel, call.number("count", 20))
    return Reply(render.message_list(f"**#{channel}** — last {len(items)}", items), data=[m.as_dict() for m in items])


async def unread(call: Call) -> Reply:
    me = await call.chat.caller(call.inv)
    if call.text("channel") is None and (call.inv.channel is None or not await call.chat.channel_for(call.inv.channel)):
        return await _unread_summary(call, me)
    channel = await _channel(call)
    items, more = await call.chat.messages.unread(channel, me, call.number("count", 50))
    if await _auto_join(call, channel) and not more:
        await call.chat.messages.mark_seen(channel, me)
    tail = "\n…more: run `unread` again." if more else ""
    title = f"**#{channel}** — {len(items)} new since your last visit"
    text = render.message_list(title, items, empty="You are all caught up.") + tail
    return Reply(text, data={"channel": channel, "messages": [m.as_dict() for m in items], "more": more})


async def _unread_summary(call: Call, me: str) -> Reply:
    names = await call.chat.channels.all()
    redis = call.chat.ctx.redis
    seen = await redis.hmget(keys.user(me), [keys.last_seen_field(n) for n in names]) if names else []
    async with redis.pipeline(transaction=False) as pipe:
        for name, last in zip(names, seen, strict=True):
            pipe.xrange(keys.channel(name), f"({last}" if last else "-", "+", count=100)
        ranges = await pipe.execute()
    counts = await _unread_counts(redis, names, ranges, me, seen)
    rows = [f"#{n}: {c}{'+' if c >= 100 else ''} new" for n, c in counts.items() if c]
    text = "**Unread**\n" + "\n".join(rows) if rows else "You are all caught up."
    return Reply(text, data=counts)


async def _unread_counts(
    redis: RedisClient,
    names: list[str],
    ranges: list[list[tuple[str, dict[str, str]]]],
    me: str,
    seen: list[str | None],
) -> dict[str, int]:
    """New messages per channel, the reader's own left out. A message entry names no author (the
    guide's ``type message``, as chatbridge writes it; entries from before that named one, which a
    rename left stale): it is read from the message hash, one pipeline, and a message whose hash is
    gone (deleted) does not count; nor does a backdated one said before the last visit (as ``unread``)."""
    wanted = [
        (name, eid)
        for name, entries in zip(names, ranges, strict=True)
        for eid, e in entries
        if e.get("type", "message") == "message"
    ]
    found: dict[str, tuple[str | None, float | None]] = {}
    if wanted:
        async with redis.pipeline(transaction=False) as pipe:
            for name, eid in wanted:
                pipe.hget(keys.message(eid), "username")
                pipe.zscore(keys.backdated(name), eid)
            answers = await pipe.execute()
        found = {eid: (answers[2 * i], answers[2 * i + 1]) for i, (_, eid) in enumerate(wanted)}
    counts: dict[str, int] = {}
    for name, entries, last in zip(names, ranges, seen, strict=True):
        n = 0
        for eid, entry in entries:
            if entry.get("type", "message") != "message":
                continue
            author, backdated = found.get(eid, (None, None))
            if author is not None and author != me and not (last and said_before_visit(backdated, last)):
                n += 1
        counts[name] = n
    return counts


async def notify(call: Call) -> Reply:
    me = await call.chat.caller(call.inv)
    action = str(call.args["action"])
    if action == "list":
        names = await call.chat.subscriptions.list(me)
        text = "You get DMs for: " + ", ".join(f"#{n}" for n in names) if names else "You have no notifications."
        return Reply(text, data=names)
    channel = await _channel(call)
    if action == "add":
        added = await call.chat.subscriptions.add(me, channel)
        msg = (
            f"You will get a DM for each new message in #{channel}."
            if added
            else f"Already notifying you for #{channel}."
        )
        return Reply(msg, data={"channel": channel, "changed": added})
    removed = await call.chat.subscriptions.remove(me, channel)
    return Reply(f"No more DMs for #{channel}." if removed else f"You had no notifications for #{channel}.",
                 data={"channel": channel, "changed": removed})  # fmt: skip


async def search(call: Call) -> Reply:
    page = await call.chat.finder.messages(str(call.args["query"]))
    # a page found in a recent time window counts that window only: "at least" that many
    count = f"{page.total:,}" + ("" if page.total_exact else "+")
    title = f"**{count} result{'s' if page.total != 1 else ''}** (page {page.page}, newest first)"
    if page.total > page.page * 10 or not page.total_exact:
        title += " — `page:N` for more"
    footer = ""
    if page.archived_before is not None:
        when = fmt_time(page.archived_before)
        footer = f"\n_History before {when} is archived (not searched); `chatbridge import` brings it back._"
    data = {
        "archived_before": page.archived_before,
        "total": page.total,
        "total_exact": page.total_exact,
        "since_ms": page.since_ms,
        "page": page.page,
        "query": page.query,
        "hits": [m.as_dict() for m in page.hits],
    }
    text = render.message_list(title, page.hits, with_channel=True, empty="No messages match.")
    return Reply(text + footer, data=data)


async def users(call: Call) -> Reply:
    total, rows = await call.chat.finder.users(call.text("query") or "")
    if not rows:
        return Reply("Nobody matches.", data={"total": 0, "users": []})
    lines = []
    for r in rows:
        name = " ".join(x for x in (r.get("firstname", ""), r.get("lastname", "")) if x)
        place = ", ".join(x for x in (r.get("city", ""), r.get("country", "")) if x)
        lines.append(f"**{r['username']}**" + (f" — {name}" if name else "") + (f" ({place})" if place else ""))
    return Reply(f"**{total} found**\n" + "\n".join(lines), data={"total": total, "users": rows})


async def join(call: Call) -> Reply:
    me = await call.chat.caller(call.inv)
    channel = await _channel(call)
    changed = await call.chat.channels.set_membership(channel, me, join=True)
    return Reply(f"You joined #{channel}." if changed else f"You are already in #{channel}.", data={"changed": changed})


async def leave(call: Call) -> Reply:
    me = await call.chat.caller(call.inv)
    channel = await _channel(call)
    changed = await call.chat.channels.set_membership(channel, me, join=False)
    return Reply(f"You left #{channel}." if changed else f"You were not in #{channel}.", data={"changed": changed})


async def active(call: Call) -> Reply:
    minutes = call.number("minutes", 60)
    channel = call.text("channel")
    if channel:
        channel = await call.chat.channels.require(channel)
    rows = await call.chat.finder.active(minutes, 50, channel)
    now = call.chat.ctx.now_ms()
    where = f" in #{channel}" if channel else ""
    if not rows:
        return Reply(f"Nobody was active{where} in the last {minutes} min.", data=[])
    text = f"**Active{where}, last {minutes} min**\n" + "\n".join(f"{n} · {ago(ts, now)}" for n, ts in rows)
    return Reply(text, data=[{"username": n, "ts": ts} for n, ts in rows])


async def mentions(call: Call) -> Reply:
    me = await call.chat.caller(call.inv)
    items = await call.chat.messages.mentions(me, call.number("count", 20))
    return Reply(
        render.message_list("**Mentions of you**", items, with_channel=True),
        data=[m.as_dict() for m in items],
    )


async def recent(call: Call) -> Reply:
    minutes = call.number("minutes", 5)
    raw = call.text("channels")
    names = [await call.chat.channels.require(n) for n in raw.split()] if raw else await call.chat.channels.all()
    items = await call.chat.messages.recent(names, minutes)
    title = f"**Last {minutes} min** across {len(names)} channel{'s' if len(names) != 1 else ''}"
    return Reply(render.message_list(title, items, with_channel=True), data=[m.as_dict() for m in items])


async def top(call: Call) -> Reply:
    channel = call.text("channel")
    if channel:
        channel = await call.chat.channels.require(channel)
    top = await call.chat.finder.top(call.number("count", 10), channel)
    rows = top.rows
    how = "maintained counters" if top.source == "counters" else "FT.AGGREGATE over every message"
    data = {"source": top.source, "rows": [{"username": n, "messages": c} for n, c in rows]}
    if not rows:
        return Reply("No messages yet.", data=data)
    text = "**Top posters**\n" + "\n".join(f"{i}. {n} — {c}" for i, (n, c) in enumerate(rows, 1))
    return Reply(text + f"\n_counted with {how}_", data=data)


async def link_account(call: Call) -> Reply:
    code = call.text("code")
    if not code:
        me = await call.chat.caller(call.inv)
        new = await call.chat.users.start_link(me, call.inv.user)
        return Reply(
            f"Your code: `{new}` (valid 10 minutes). On the other platform run `/chat link-account {new}`.",
            data={"code": new, "username": me},
        )
    if call.inv.user is None:
        raise InvalidInput("Redeem the code from Discord or Slack, as the account you want to link.")
    name = await call.chat.users.finish_link(code, call.inv.user)
    return Reply(f"Linked: this {call.inv.user.platform} account is now **{name}**.", data={"username": name})


async def thread(call: Call) -> Reply:
    root, replies, total = await call.chat.messages.thread(str(call.args["id"]), call.number("count", 50))
    root_id = root.id if root else (replies[0].thread if replies else str(call.args["id"]))
    channel = root.channel if root else (replies[0].channel if replies else "")
    if root is not None:
        head = f"**Thread** in #{channel} — {total} repl{'y' if total == 1 else 'ies'}\n{render.message_line(root)}"
    else:
        head = f"**Thread** in #{channel} — {total} repl{'y' if total == 1 else 'ies'} (its first message was deleted)"
    more = f"\n…{total - len(replies)} more: `thread {root_id} {min(200, total)}`." if total > len(replies) else ""
    lines = "\n".join("  ↳ " + render.message_line(m) for m in replies)
    text = head + ("\n" + lines if lines else "\nNo replies yet.") + more
    data = {
        "root": root.as_dict() if root else None,
        "id": root_id,
        "channel": channel,
        "replies": [m.as_dict() for m in replies],
        "total": total,
    }
    return Reply(text, data=data)


async def edit(call: Call) -> Reply:
    me = await call.chat.caller(call.inv)
    admin = await call.chat.is_admin(call.inv)
    mid = str(call.args["id"])
    await call.chat.messages.edit(mid, me, str(call.args["text"]), admin=admin)
    return Reply(f"Edited `{mid}`.", data={"id": mid})


async def delete(call: Call) -> Reply:
    me = await call.chat.caller(call.inv)
    admin = await call.chat.is_admin(call.inv)
    mid = str(call.args["id"])
    await call.chat.messages.delete(mid, me, admin=admin)
    return Reply(f"Deleted `{mid}`.", data={"id": mid})


async def reactions(call: Call) -> Reply:
    from bridge.core.messages import check_id

    mid = check_id(str(call.args["id"]))
    message = await call.chat.messages.get(mid)
    summary = await call.chat.reactions.of(mid)
    data = [{"emoji": e.emoji, "count": e.count, "by": e.by_platform} for e in summary]
    if not summary:
        return Reply(f"No reactions on `{mid}` yet.", data={"id": mid, "channel": message.channel, "reactions": []})
    lines = [f"Reactions on `{mid}` in #{message.channel}:"]
    for e in summary:
        who = " · ".join(f"{platform}: {', '.join(names)}" for platform, names in e.by_platform.items())
        lines.append(f"{e.emoji} {e.count} — {who}")
    return Reply("\n".join(lines), data={"id": mid, "channel": message.channel, "reactions": data})
