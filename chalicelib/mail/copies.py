"""What one recipient's copy of a discussion message says: sender, To/Cc, threading, quoted history, files, links.

Everything here reads and renders; nothing sends (mail/send.py does). One copy per external recipient (NOTES.md):
its own pixel, click links and reply key, its own In-Reply-To (the latest mail of the conversation in *their*
mailbox) and the history *they* may see.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import cache, clock, db, storage
from chalicelib.config import settings
from chalicelib.discussions import downloads
from chalicelib.discussions import service as discussions
from chalicelib.discussions.attachments import safe_filename
from chalicelib.discussions.models import Discussion, Message, ParticipantMap
from chalicelib.mail import anchors, compose
from chalicelib.notifications.schedule import zone
from chalicelib.tracking.ids import click_token, pixel_name, tracking_id
from chalicelib.tracking.models import EmailTracking

HISTORY_MESSAGES = 3
EARLIER_MESSAGES = 50               # the messages a copy's history looks back at (ids for References)
MAX_REFERENCES = 20
FIRST_LOOK = 4                      # a recipient's latest earlier copies read first (the older only if none has an id)
MAX_GROUP = 25                      # the most copies of one message a job sends one after the other
SHARED_KEYS = 4                     # the tenant's status and settings, the discussion, the message
BODY_ALLOWANCE = 512 * 1024  # room kept for text, HTML, quoted history and headers within SES's raw limit


def external_recipients(discussion: Discussion) -> list[ParticipantMap]:
    return [p for p in discussion.participants if p.email and not p.user_id]


# Who sees whom (docs/mail-journeys.md): To lists the external participants, Cc the cc role; bcc appear nowhere,
# and staff appear only in the From display name ("Dana Demo via Acme Events"). Staff get no copy, so putting
# them in To would make Reply-All mail them directly, around the hub.
TO_ROLES = frozenset({"owner", "participant"})
CC_ROLES = frozenset({"cc"})
VISIBLE_ROLES = TO_ROLES | CC_ROLES


def _visible(people: list[ParticipantMap], roles: frozenset[str]) -> list[compose.Person]:
    return [compose.Person(p.email, p.name) for p in people if p.email and not p.user_id and p.role in roles]


def may_see(message: Message, recipient: str, roles_by_email: dict[str, str]) -> bool:
    """Whether an external recipient may read this earlier message quoted in their copy.

    Staff messages (never internal notes: those are never loaded here) and messages of visible participants
    are seen by everyone; a bcc participant's words (or anyone's no longer in the discussion) only by their
    author. The same rule for every mail that quotes a discussion to an external person."""
    if message.is_internal:
        return False
    if message.author_type == "user":
        return True
    author = message.author.lower()
    return author == recipient.lower() or roles_by_email.get(author) in VISIBLE_ROLES


@dataclass
class Outgoing:
    """What every copy of one message shares: the sender as shown, names and dates, files; read once per message."""
    message: Message
    earlier: list[Message]
    sender: compose.Person
    names: dict[str, str]
    zone: ZoneInfo
    attachments: list[compose.Attachment]
    download_links: list[compose.DownloadLink]

    def history_for(self, recipient: str, roles_by_email: dict[str, str]) -> list[compose.HistoryItem]:
        visible = [m for m in self.earlier if may_see(m, recipient, roles_by_email)]
        return [compose.HistoryItem(self.names.get(m.author, m.author), self.written(m.created_at), m.body)
                for m in visible[-HISTORY_MESSAGES:]]

    def written(self, iso: str) -> str:
        return compose.human_date(datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(self.zone))


def history(tenant_id: str, discussion_id: str, before: str) -> list[Message]:
    """Earlier non-internal messages, oldest first (internal notes are never quoted): one Query per message and
    container a minute (earlier messages do not change)."""
    return list(_earlier(tenant_id, discussion_id, before))


def histories(tenant_id: str, discussion_id: str, message_ids: list[str]) -> dict[str, list[Message]]:
    """The history of each of a send's messages, as `history` gives it for one — the non-internal messages among the
    EARLIER_MESSAGES before it, oldest first — from one Query for them all: the messages up to the newest named,
    newest first, until EARLIER_MESSAGES older than the oldest named are read (a second page only when more than
    as many other messages as named lie among them)."""
    key = discussions.discussion_key(tenant_id, discussion_id)
    oldest, newest = min(message_ids), max(message_ids)
    window: list[Message] = []
    older = 0
    for item in Message.query(key, Message.message_id <= newest, scan_index_forward=False,
                              page_size=EARLIER_MESSAGES + 2 * len(message_ids)):
        window.append(item)
        older += item.message_id < oldest
        if older == EARLIER_MESSAGES:
            break
    window.reverse()  # oldest first
    found: dict[str, list[Message]] = {}
    for mid in message_ids:
        before = [m for m in window if m.message_id < mid][-EARLIER_MESSAGES:]
        found[mid] = [m for m in before if not m.is_internal]
    return found


@dataclass
class Plan:
    """What one copy's job knows before it reads anything: which copy, and what its rendering needs of the history.

    The fan-out computes it once per message and writes the plans of a group of its copies into one job
    (`group_payload`), so that the group reads all it needs in one BatchGetItem: the earlier messages as ids and
    authors (their bodies only for those it quotes), the recipient's own Message-IDs, which to quote, the staff names
    of the users directory, and whether this copy puts its SES id on the message. A job of one copy with its plan
    (`from_payload`) is what fan-outs queued before groups; a job without one (queued by the sweep, an admin's
    resend, or older code) is planned from its tracking record and the history Query (`send.py`)."""
    pixel: str
    tenant_id: str
    discussion_id: str
    message_id: str
    recipient: str
    earlier: list[Message]                  # oldest first; a body only where `full`
    full: set[str] = field(default_factory=set)
    quote: list[str] = field(default_factory=list)
    staff: dict[str, str | None] | None = None
    marks_message: bool = False             # this copy writes the message's first SES id, in its end transaction
    from_fanout: bool = False

    @property
    def discussion_key(self) -> str:
        return discussions.discussion_key(self.tenant_id, self.discussion_id)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Plan:
        """A copy's plan from its job: the shape fan-outs queued before groups, and each copy of a group's
        (`plans_of_group`)."""
        key = discussions.discussion_key(payload["tenant_id"], payload["discussion_id"])
        own = payload["own"]
        earlier = [Message(key, mid, author_type=kind, author=author, email_message_id=own.get(mid))
                   for mid, kind, author in payload["earlier"]]
        return cls(str(payload["tracking_id"]), payload["tenant_id"], payload["discussion_id"],
                   payload["message_id"], payload["recipient"], earlier, quote=list(payload["quote"]),
                   staff=dict(payload["staff"]), marks_message=bool(payload["marks_message"]), from_fanout=True)


def plans(discussion: Discussion, message: Message, earlier: list[Message], staff: dict[str, str | None],
          recipients: list[str], pixels: dict[str, str]) -> list[Plan]:
    """The plan of each recipient's copy (`pixels`: recipient → tracking id), computed once for the message from its
    history (`histories`) and the staff names (`staff_names`). The first copy, when the message has no SES id yet,
    is the one to write it."""
    roles = {p.email.lower(): p.role for p in external_recipients(discussion)}
    return [Plan(pixels[recipient], discussion.tenant_id, discussion.discussion_id, message.message_id, recipient,
                 earlier, quote=[m.message_id for m in quoted(earlier, recipient, roles)], staff=dict(staff),
                 marks_message=number == 0 and not message.email_message_id, from_fanout=True)
            for number, recipient in enumerate(recipients)]


def groups(plans: list[Plan], most: int = MAX_GROUP) -> list[list[Plan]]:
    """The copies of one message cut into the groups a job sends one after the other (`group_payload`): as many as
    one BatchGetItem reads for — the items they share, each copy's record and its recipient's latest earlier copies
    (`first_look`), the messages they quote — and at most `most` (send.group_size), in the order given."""
    cut: list[list[Plan]] = []
    keys, quoted = 0, set[str]()
    for plan in plans:
        own = 1 + len(first_look(previous_keys(plan.recipient, plan.earlier, plan.tenant_id, plan.discussion_id)))
        new = {mid for mid in plan.quote if mid not in plan.full} - quoted
        if not cut or len(cut[-1]) == most or keys + own + len(new) > db.GET_KEYS_PER_CALL:
            cut.append([])
            keys, quoted = SHARED_KEYS, set()
            new = {mid for mid in plan.quote if mid not in plan.full}
        cut[-1].append(plan)
        keys += own + len(new)
        quoted |= new
    return cut


def group_payload(plans: list[Plan]) -> dict[str, Any]:
    """The job of a group of copies of one message (`groups`): what they share once (the message, its earlier
    messages as ids and authors, the staff names), then each copy's own (its record, recipient, quotes, and whether
    it writes the message's SES id). The Message-IDs of mail the group's recipients sent us go once, by message.
    At most about 100 KB (50 earlier messages of the longest authors and Message-IDs, 25 copies): within the 256 KiB
    of an SQS message (jobs.batches)."""
    first = plans[0]
    recipients = {plan.recipient.lower() for plan in plans}
    return {"tenant_id": first.tenant_id, "discussion_id": first.discussion_id, "message_id": first.message_id,
            "earlier": [[m.message_id, m.author_type, m.author] for m in first.earlier],
            "own": {m.message_id: m.email_message_id for m in first.earlier
                    if m.author.lower() in recipients and m.email_message_id},
            "staff": first.staff or {},
            "copies": [{"tracking_id": plan.pixel, "recipient": plan.recipient, "quote": plan.quote,
                        "marks_message": plan.marks_message} for plan in plans]}


def plans_of_group(payload: dict[str, Any]) -> list[Plan]:
    """The plans a group's job carries (`group_payload`), one per copy, each as its own job would carry it."""
    shared = {key: payload[key] for key in ("tenant_id", "discussion_id", "message_id", "earlier", "staff")}
    return [Plan.from_payload({**shared, **copy, "own": {mid: payload["own"][mid] for mid, _, author in
                                                         payload["earlier"]
                                                         if mid in payload["own"]
                                                         and author.lower() == copy["recipient"].lower()}})
            for copy in payload["copies"]]


def staff_names(discussion: Discussion, messages: list[Message]) -> dict[str, str | None]:
    """The users directory's names of the staff who wrote these messages and are not named by the discussion's
    participants: one BatchGet (none when every author is named), kept a minute per container."""
    return _staff_names(discussion.tenant_id, frozenset(_unnamed_staff(discussion, messages)))


def quoted(earlier: list[Message], recipient: str, roles_by_email: dict[str, str]) -> list[Message]:
    """The earlier messages a recipient's copy quotes: the last HISTORY_MESSAGES they may see."""
    return [m for m in earlier if may_see(m, recipient, roles_by_email)][-HISTORY_MESSAGES:]


@cache.for_a_minute
def _earlier(tenant_id: str, discussion_id: str, before: str) -> tuple[Message, ...]:
    key = discussions.discussion_key(tenant_id, discussion_id)
    earlier = Message.query(key, Message.message_id < before, scan_index_forward=False, limit=EARLIER_MESSAGES)
    return tuple(reversed([m for m in earlier if not m.is_internal]))


@cache.for_a_minute
def _staff_names(tenant_id: str, user_ids: frozenset[str]) -> dict[str, str | None]:
    """Staff user id → their name in the users directory: one BatchGet per set and container a minute (none for no
    one)."""
    from chalicelib.users import service as users

    if not user_ids:
        return {}
    profiles = users.get_many(tenant_id, user_ids)
    return {user_id: (profiles[user_id].name if user_id in profiles else None) for user_id in user_ids}


def _participant_names(discussion: Discussion) -> dict[str, str]:
    names: dict[str, str] = {}
    for participant in discussion.participants:
        if participant.name:
            for key in (participant.user_id, (participant.email or "").lower()):
                if key:
                    names[key] = participant.name
    return names


def _unnamed_staff(discussion: Discussion, messages: list[Message]) -> set[str]:
    names = _participant_names(discussion)
    return {m.author for m in messages if m.author_type == "user" and m.author not in names}


def _display_names(tenant_id: str, discussion: Discussion, messages: list[Message], fallback: str,
                   directory: dict[str, str | None] | None) -> dict[str, str]:
    """author → the name a person reads: participant name, else the users directory (`directory`, as the fan-out
    read it; one BatchGet for staff authors it lacks), else for staff the tenant's sender name. Never an internal
    user id; an external author without a name shows as their address, which the recipient already sees in the mail
    anyway."""
    names = _participant_names(discussion)
    staff = {m.author for m in messages if m.author_type == "user" and m.author not in names}
    known = dict(directory or {})
    known.update(_staff_names(tenant_id, frozenset(staff - set(known))))
    for user_id in staff:
        names[user_id] = known.get(user_id) or fallback
    for message in messages:
        if message.author_type != "user":
            names.setdefault(message.author, names.get(message.author.lower(), message.author))
    return names


def prepare(discussion: Discussion, message: Message, config: Any, earlier: list[Message],
            staff: dict[str, str | None] | None) -> Outgoing:
    """What a copy shares with the other copies of its message, from its plan's history and staff names (a staff
    author the plan lacks: one BatchGet of the users directory, kept a minute)."""
    brand = config.from_name or config.from_address
    names = _display_names(discussion.tenant_id, discussion, [*earlier[-50:], message], brand, staff)
    author = names.get(message.author) if message.author_type == "user" else None
    shown = f"{author} via {brand}" if author and author != brand else brand
    attachments, links = attachments_for_mail(message.attachments)
    return Outgoing(message=message, earlier=earlier, sender=compose.Person(config.from_address, shown),
                    names=names, zone=zone(config.time_zone), attachments=attachments, download_links=links)


def attachments_for_mail(files: list[Any]) -> tuple[list[compose.Attachment], list[compose.DownloadLink]]:
    """The message's files as MIME parts while the raw message stays under SES's limit; the rest as links.

    Base64 grows a file by 4/3 plus line breaks; BODY_ALLOWANCE leaves room for the text, HTML, history and
    headers. A link is our own signed /f/ link valid ATTACHMENT_LINK_SECONDS (default 7 days), which redirects to a
    presigned URL minted when followed (chalicelib/discussions/downloads.py: a presigned URL signed with a Lambda
    role's credentials would stop working when that session ends, hours later)."""
    budget = settings().email_max_raw_bytes - BODY_ALLOWANCE
    inline: list[compose.Attachment] = []
    links: list[compose.DownloadLink] = []
    seconds = settings().attachment_link_seconds
    until = compose.human_date(clock.now() + timedelta(seconds=seconds)) + " UTC"
    for file in files:
        encoded = (int(file.size) * 4 // 3) + int(file.size) // 57 * 2 + 1024
        if encoded <= budget:
            budget -= encoded
            data = storage.get_object(settings().attachments_bucket, file.s3_key)
            inline.append(compose.Attachment(file.filename, file.content_type, data))
        else:
            url = downloads.link_for(file.s3_key, safe_filename(file.filename), seconds)
            links.append(compose.DownloadLink(file.filename, int(file.size), url, until))
    return inline, links


def previous_keys(recipient: str, earlier: list[Message], tenant_id: str, discussion_id: str) -> dict[str, str]:
    """Earlier message → the tracking id of this recipient's copy of it, where that copy may hold the Message-ID of
    the latest mail of the conversation in their mailbox (a message they wrote holds their own); oldest first."""
    return {m.message_id: tracking_id(tenant_id, discussion_id, m.message_id, recipient) for m in earlier
            if not (m.author.lower() == recipient.lower() and m.email_message_id)}


def first_look(keys: dict[str, str]) -> list[str]:
    """The tracking ids of the recipient's copies read first: the latest FIRST_LOOK (`previous_keys`' newest)."""
    return list(keys.values())[-FIRST_LOOK:]


def unread_previous(recipient: str, earlier: list[Message], keys: dict[str, str], copies: dict[str, EmailTracking],
                    read: set[str]) -> list[str]:
    """The tracking ids still to read before `previous_id` can answer: none when a copy read (or the recipient's own
    mail) holds the latest Message-ID of their mailbox, else every earlier copy not read yet (a late joiner, or a
    backlog whose latest copies are still on their way)."""
    for message in reversed(earlier):
        if message.author.lower() == recipient.lower() and message.email_message_id:
            return []
        key = keys[message.message_id]
        if key not in read:
            return [pixel for pixel in keys.values() if pixel not in read]
        copy = copies.get(key)
        if copy is not None and copy.email_message_id:
            return []
    return []


def previous_id(recipient: str, earlier: list[Message], keys: dict[str, str],
                copies: dict[str, EmailTracking]) -> str | None:
    """The Message-ID of the latest message of the conversation this recipient has in their mailbox, from their
    copies of the earlier messages (`copies`, by tracking id, read at `previous_keys`, as far as `unread_previous`
    says; a late joiner has few or none)."""
    for message in reversed(earlier):
        if message.author.lower() == recipient.lower() and message.email_message_id:
            return message.email_message_id
        copy = copies.get(keys[message.message_id])
        if copy is not None and copy.email_message_id:
            return copy.email_message_id
    return None


def references(discussion: Discussion, domain: str, earlier: list[Message], recipient: str,
               in_reply_to: str | None) -> list[str]:
    ids = [anchors.our_message_id(m.message_id, domain) for m in earlier if m.author_type == "user"]
    # Ids of mail this recipient sent us come from their mailer: only well-formed ones are written back.
    ids += [i for m in earlier if m.author.lower() == recipient
            for i in [compose.message_id_or_none(m.email_message_id)] if i]
    chain = [discussion.email_thread_id, *ids[-MAX_REFERENCES:]]
    if in_reply_to and in_reply_to not in chain:
        chain.append(in_reply_to)
    return chain


@dataclass
class Rendered:
    raw: bytes
    email: compose.OutboundEmail
    links: list[str]
    reply_key: str


def render(discussion: Discussion, outgoing: Outgoing, participant: ParticipantMap, domain: str,
           signature: str | None, previous: str | None) -> Rendered:
    """The raw bytes of one recipient's copy (`previous`: the Message-ID it answers, from `previous_id`), with the
    links its click ids stand for and its reply key."""
    tenant_id, message, earlier = discussion.tenant_id, outgoing.message, outgoing.earlier
    recipient = participant.email
    pixel = tracking_id(tenant_id, discussion.discussion_id, message.message_id, recipient)
    recipients = external_recipients(discussion)
    roles_by_email = {p.email.lower(): p.role for p in recipients}
    in_reply_to = compose.message_id_or_none(previous)
    key = anchors.reply_key(tenant_id, discussion.discussion_id, recipient)
    public = settings().public_base_url
    ours = settings().our_tracker
    counter_key = discussions.discussion_key(tenant_id, discussion.discussion_id)  # its counters' (tracking/ids.py)
    links: list[str] = []
    email = compose.OutboundEmail(
        sender=outgoing.sender, recipient=compose.Person(recipient, participant.name),
        to=_visible(discussion.participants, TO_ROLES), cc=_visible(discussion.participants, CC_ROLES),
        reply_to=anchors.reply_address(key, domain),
        subject=anchors.subject_for(discussion.subject, is_reply=bool(earlier)),
        message_id=anchors.our_message_id(message.message_id, domain), in_reply_to=in_reply_to,
        references=references(discussion, domain, earlier, recipient, in_reply_to),
        body=message.body, signature=signature, history=outgoing.history_for(recipient, roles_by_email),
        pixel_url=f"{public}/t/o/{pixel_name(pixel, counter_key, message.message_id)}.gif" if ours else "",
        links=links, attachments=outgoing.attachments,
        download_links=outgoing.download_links, date=clock.now())
    # Each link's token carries the link itself (links[index], collected just before): a click needs no read.
    raw = compose.build(email, (lambda index: f"{public}/t/c/"
                                f"{click_token(pixel, counter_key, message.message_id, index, links[index])}")
                        if ours else None)
    return Rendered(raw, email, links, key)
