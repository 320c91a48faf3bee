"""The community board's contract (seed: community-threads-api.txt): bodies, queries, records and envelopes."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from chalicelib.community.models import ACCESS_LEVELS
from chalicelib.contract.models import (
    Answer,
    BoardKey,
    CommunityEnvelope,
    CommunityIdEnvelope,
    Path,
    Query,
    Request,
    Timestamp,
)
from chalicelib.contract.types import (
    BoardId,
    BoardIdList,
    Choice,
    Cursor,
    Flag,
    JsonText,
    PageLimit,
    PositiveId,
    Text,
    rule,
)

__all__ = ["CommunityIdEnvelope"]

MAX_SUBJECT = 255
MAX_MESSAGE = 20_000
MAX_TAGS = 20
MAX_TAG = 50
MAX_GUESTS = 100
READ_ONLY = "read-only: accepted (as sent back by clients that PUT what they GET) and ignored"
UNCHANGEABLE = "cannot be changed"
MESSAGE = "trimmed; not blank; mentions are `@[Display Name](UserId)`"
GUESTS = "user ids; duplicates collapse; at most 100 distinct ids"
ReadOnly = Annotated[Any, Field(default=None, description=READ_ONLY)]

GuestList = Annotated[list[int] | None, BoardIdList(MAX_GUESTS, description=GUESTS)]
OptionalId = Annotated[int | None, BoardId()]


# ---------------------------------------------------------------- threads


class _ThreadFields(Request):
    CommunityGroupId: OptionalId = None
    CoworkerId: OptionalId = None
    InstantDelivery: Annotated[bool | None, Flag()] = None
    Tags: Annotated[str | None, Text(1000, description=f"comma-separated, at most {MAX_TAGS} tags of at most "
                                                      f"{MAX_TAG} characters each")] = None
    Private: Annotated[bool | None, Flag()] = None
    Guests: GuestList = None
    IncludeZoomInvite: Annotated[bool | None, Flag()] = None
    ZoomEventData: Annotated[str | None, JsonText(description="JSON text with the Zoom meeting's details")] = None
    CreatedOn: ReadOnly
    UpdatedOn: ReadOnly
    UpdatedBy: ReadOnly
    ReplyCount: ReadOnly
    LikeCount: ReadOnly
    FollowerCount: ReadOnly
    LastActivityOn: ReadOnly
    Mentions: ReadOnly
    Liked: ReadOnly
    Following: ReadOnly

    @field_validator("Tags")
    @classmethod
    def _tags(cls, raw: str | None) -> str | None:
        if raw is None:
            return None
        tags = [tag.strip() for tag in raw.split(",") if tag.strip()]
        if len(tags) > MAX_TAGS or any(len(tag) > MAX_TAG for tag in tags):
            raise rule("", f"must be at most {MAX_TAGS} tags of at most {MAX_TAG} characters each")
        return ", ".join(tags) or None

    def tag_set(self) -> set[str] | None:
        return {tag.strip().lower() for tag in self.Tags.split(",")} if self.Tags else None

    def values(self) -> dict[str, Any]:
        """The thread's writable fields the client sent (read-only ones dropped)."""
        return {name: value for name, value in self.given().items() if name in WRITABLE}


WRITABLE = ("BusinessId", "UserId", "Subject", "Message", "CommunityGroupId", "CoworkerId", "InstantDelivery",
            "Tags", "Private", "Guests", "IncludeZoomInvite", "ZoomEventData")


class CommunityThreadCreate(_ThreadFields):
    BusinessId: Annotated[int, BoardId(required=True)]
    UserId: Annotated[int, BoardId(required=True)]
    Subject: Annotated[str, Text(MAX_SUBJECT, required=True, description="trimmed; not blank; one line")]
    Message: Annotated[str, Text(MAX_MESSAGE, required=True, single_line=False, description=MESSAGE)]
    Id: ReadOnly

    @model_validator(mode="after")
    def _zoom(self) -> CommunityThreadCreate:
        if self.IncludeZoomInvite and self.ZoomEventData is None:
            raise rule("ZoomEventData", "is required when IncludeZoomInvite is true")
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        result = handler.resolve_ref_schema(handler(schema))
        result["allOf"] = [{"if": {"properties": {"IncludeZoomInvite": {"const": True}},
                                   "required": ["IncludeZoomInvite"]},
                            "then": {"properties": {"ZoomEventData": {"type": "string"}},
                                     "required": ["ZoomEventData"]}}]
        return result

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in WRITABLE}


class CommunityThreadUpdate(_ThreadFields):
    """Only the fields sent change."""

    BusinessId: Annotated[int | None, BoardId(description=UNCHANGEABLE)] = None
    UserId: Annotated[int | None, BoardId(description=UNCHANGEABLE)] = None
    Subject: Annotated[str, Text(MAX_SUBJECT, required=True, description="trimmed; not blank; one line")] = None  # type: ignore[assignment]
    Message: Annotated[str, Text(MAX_MESSAGE, required=True, single_line=False, description=MESSAGE)] = None  # type: ignore[assignment]
    Id: ReadOnly


class CommunityThreadUpdateById(CommunityThreadUpdate):
    """Only the fields sent change; `Id` names the thread."""

    Id: Annotated[int, BoardId(required=True, description="the thread to change")]


class CommunityThread(Answer):
    Id: BoardKey
    BusinessId: BoardKey
    UserId: BoardKey
    CoworkerId: BoardKey | None
    CommunityGroupId: BoardKey | None
    Subject: str
    Message: str
    Tags: str | None
    Private: bool
    Guests: list[int]
    Mentions: list[int]
    InstantDelivery: bool
    IncludeZoomInvite: bool
    ZoomEventData: str | None
    ReplyCount: int
    LikeCount: int
    FollowerCount: int
    LastActivityOn: Timestamp | None
    CreatedOn: Timestamp | None
    UpdatedOn: Timestamp | None
    UpdatedBy: str | None


class CommunityThreadDetail(CommunityThread):
    """whether the caller likes / follows it"""

    Liked: bool
    Following: bool


class CommunityThreadPage(Answer):
    Records: list[CommunityThread]
    PageSize: int = Field(ge=1, le=100)
    NextCursor: str | None = Field(description="pass as `Cursor`; null at the end")
    HasNextPage: bool


# ---------------------------------------------------------------- replies


class _MessageFields(Request):
    CoworkerId: OptionalId = None
    Guests: GuestList = None
    Id: ReadOnly
    CreatedOn: ReadOnly
    UpdatedOn: ReadOnly
    UpdatedBy: ReadOnly
    LikeCount: ReadOnly
    Mentions: ReadOnly
    Liked: ReadOnly

    def values(self) -> dict[str, Any]:
        return {name: value for name, value in self.given().items() if name in MESSAGE_WRITABLE}


MESSAGE_WRITABLE = ("CommunityThreadId", "UserId", "CoworkerId", "Message", "Guests")


class CommunityMessageCreate(_MessageFields):
    CommunityThreadId: Annotated[int, BoardId(required=True)]
    UserId: Annotated[int, BoardId(required=True)]
    Message: Annotated[str, Text(MAX_MESSAGE, required=True, single_line=False, description=MESSAGE)]

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in MESSAGE_WRITABLE}


class CommunityMessageUpdate(_MessageFields):
    CommunityThreadId: Annotated[int | None, BoardId(description=UNCHANGEABLE)] = None
    UserId: Annotated[int | None, BoardId(description=UNCHANGEABLE)] = None
    Message: Annotated[str, Text(MAX_MESSAGE, required=True, single_line=False, description=MESSAGE)] = None  # type: ignore[assignment]


class CommunityMessage(Answer):
    """A reply on a thread."""

    Id: BoardKey
    CommunityThreadId: BoardKey
    UserId: BoardKey
    CoworkerId: BoardKey | None
    Message: str
    Guests: list[int]
    Mentions: list[int]
    LikeCount: int
    CreatedOn: Timestamp | None
    UpdatedOn: Timestamp | None
    UpdatedBy: str | None


class CommunityMessageDetail(CommunityMessage):
    Liked: bool


class CommunityMessagePage(Answer):
    Records: list[CommunityMessage]
    PageSize: int = Field(ge=1, le=100)
    NextCursor: str | None = Field(description="pass as `Cursor`; null at the end")
    HasNextPage: bool


# ---------------------------------------------------------------- groups


class _GroupFields(Request):
    Description: Annotated[str | None, Text(2000, single_line=False)] = None
    Id: ReadOnly
    MemberCount: ReadOnly
    ThreadCount: ReadOnly
    CreatedOn: ReadOnly
    UpdatedOn: ReadOnly
    UpdatedBy: ReadOnly
    IsMember: ReadOnly

    def values(self) -> dict[str, Any]:
        return {name: value for name, value in self.given().items() if name in GROUP_WRITABLE}


GROUP_WRITABLE = ("BusinessId", "Name", "Description", "AccessLevel")
AccessLevelChoice = Annotated[str, Choice(ACCESS_LEVELS, required=True, ignore_case=True,
                                    description="matched case-insensitively")]


class CommunityGroupCreate(_GroupFields):
    BusinessId: Annotated[int, BoardId(required=True)]
    Name: Annotated[str, Text(100, required=True, description="trimmed; not blank; one line")]
    AccessLevel: AccessLevelChoice

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in GROUP_WRITABLE}


class CommunityGroupUpdate(_GroupFields):
    """Only the fields sent change."""

    BusinessId: Annotated[int | None, BoardId(description=UNCHANGEABLE)] = None
    Name: Annotated[str, Text(100, required=True, description="trimmed; not blank; one line")] = None  # type: ignore[assignment]
    AccessLevel: AccessLevelChoice = None  # type: ignore[assignment]


class CommunityAddMember(Request):
    UserId: Annotated[int, BoardId(required=True)]


class CommunityGroup(Answer):
    Id: BoardKey
    BusinessId: BoardKey
    Name: str
    Description: str | None
    AccessLevel: Annotated[str, Choice(ACCESS_LEVELS, required=True)]
    MemberCount: int
    ThreadCount: int
    IsMember: bool
    CreatedOn: Timestamp | None
    UpdatedOn: Timestamp | None
    UpdatedBy: str | None


class CommunityGroupPage(Answer):
    Records: list[CommunityGroup]
    PageSize: int = Field(ge=1, le=100)
    NextCursor: str | None = Field(description="pass as `Cursor`; null at the end")
    HasNextPage: bool


class CommunityGroupMember(Answer):
    UserId: BoardKey


class CommunityGroupMemberPage(Answer):
    Records: list[CommunityGroupMember]
    PageSize: int = Field(ge=1, le=100)
    NextCursor: str | None = Field(description="pass as `Cursor`; null at the end")
    HasNextPage: bool


# ---------------------------------------------------------------- reactions and memberships


class CommunityLikeValue(Answer):
    Id: BoardKey
    Liked: bool
    LikeCount: int


class CommunityLikeEnvelope(CommunityEnvelope):
    Value: CommunityLikeValue


class CommunityFollowValue(Answer):
    Id: BoardKey
    Following: bool
    FollowerCount: int


class CommunityFollowEnvelope(CommunityEnvelope):
    Value: CommunityFollowValue


class CommunityMembershipValue(Answer):
    Id: BoardKey
    UserId: BoardKey
    IsMember: bool


class CommunityMembershipEnvelope(CommunityEnvelope):
    Value: CommunityMembershipValue


# ---------------------------------------------------------------- queries and paths

PageSizeParam = Annotated[int, PageLimit()]
PageCursor = Annotated[str | None, Cursor("the previous page's `NextCursor` (opaque: sealed with AES-GCM, bound to "
                                          "the tenant and filters); a value the service did not issue: 400")]


class ThreadsQuery(Query):
    BusinessId: Annotated[int | None, PositiveId(description="only this location")] = None
    CommunityGroupId: Annotated[int | None, PositiveId(description="only this group")] = None
    Tag: str | None = Field(default=None, description="one whole tag, trimmed, any case (served by the tag index: "
                                                      "one Query a page)")
    Subject: str | None = Field(default=None, description="text anywhere in the subject, any case; applied to the "
                                                          "threads a page examines (at most 400, 100 with `Tag`), so "
                                                          "a page may hold fewer records than `PageSize`, even none, "
                                                          "with `HasNextPage`")
    PageSize: PageSizeParam = 25
    Cursor: PageCursor = None


class MessagesQuery(Query):
    CommunityThreadId: Annotated[int, PositiveId(description="the thread whose replies to list")]
    PageSize: PageSizeParam = 25
    Cursor: PageCursor = None

    @field_validator("CommunityThreadId", mode="wrap")
    @classmethod
    def _required(cls, value: Any, handler: Any) -> Any:
        if value is None:
            raise rule("", "is a required field")
        return handler(value)


class GroupsQuery(Query):
    BusinessId: Annotated[int | None, PositiveId(description="only this location")] = None
    PageSize: PageSizeParam = 25
    Cursor: PageCursor = None


class MembersQuery(Query):
    PageSize: PageSizeParam = 25
    Cursor: PageCursor = None


class ThreadPath(Path):
    thread_id: Annotated[int, PositiveId("Id", "the thread's Id")]


class MessagePath(Path):
    message_id: Annotated[int, PositiveId("Id", "the reply's Id")]


class GroupPath(Path):
    group_id: Annotated[int, PositiveId("Id", "the group's Id")]


class MemberPath(GroupPath):
    user_id: Annotated[int, PositiveId("UserId", "the member's UserId")]
