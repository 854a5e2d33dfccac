"""Who may do what in the operations console: one function every route calls.

The console serves four kinds of people, each scoped to what they answer for:

* HQ (本部) sees and manages every hub;
* a CCO manages their own hub;
* a CO sees their own hub read-only, apart from their own profile and availability;
* a partner organisation's admin manages their own organisation's staff.

Routes never test roles themselves, and templates never hide what a route would serve: each
route names the permission it needs and the hub, organisation or person it touches, and
`authorize` answers. Keeping the rule in one pure function is what lets a single matrix test
cover every route, role and scope (tests/integration/test_console_access.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ConsoleRole(StrEnum):
    HQ = "hq"
    CCO = "cco"
    CO = "co"
    PARTNER_ADMIN = "partner_admin"


class Permission(StrEnum):
    VIEW_HUB = "hub.view"
    """Read a hub's pages: its people, settings (secrets never), queue."""
    MANAGE_HUB = "hub.manage"
    """Add, import, edit and deactivate a hub's COs; change its settings."""
    VIEW_AUDIT = "audit.view"
    """Read a hub's audit log (HQ: every hub's)."""
    EDIT_COORDINATOR = "coordinator.edit"
    """Change one CO's profile and availability (their own, or any of a managed hub)."""
    VIEW_ORGANISATION = "organisation.view"
    MANAGE_ORGANISATION = "organisation.manage"
    """Add and deactivate a partner organisation's staff."""
    HANDLE_PRIVACY = "privacy.handle"
    """APPI requests about the people of a hub: find, export (開示), erase (消去)."""
    MANAGE_NATIONAL = "national.manage"
    """What only HQ does: partner organisations of any hub, HQ people, every hub's settings."""


@dataclass(frozen=True)
class Principal:
    """A signed-in person: who they are and what they answer for.

    `coordinator_id` is set for HQ, CCOs and COs (all of them coordinators), and
    `organisation_id` for a partner admin. Built from the database on every request, so a
    deactivated person or a changed role takes effect at once, not when the cookie expires.
    """

    role: ConsoleRole
    display_name: str
    hub_id: int | None = None
    coordinator_id: int | None = None
    partner_staff_id: int | None = None
    organisation_id: int | None = None
    locale: str = "ja"


class Decision(StrEnum):
    ALLOW = "allow"
    SIGN_IN = "sign_in"
    """Nobody is signed in: send them to sign in, then back."""
    FORBID = "forbid"


def authorize(
    principal: Principal | None,
    permission: Permission,
    *,
    hub_id: int | None = None,
    organisation_id: int | None = None,
    organisation_hub_ids: frozenset[int] = frozenset(),
    coordinator_id: int | None = None,
) -> Decision:
    """May `principal` use `permission` on the hub, organisation or coordinator named?

    `organisation_hub_ids` are the hubs an organisation works with (the hubs of its
    prefecture), so a CCO may read the partners of their own hub and no other's.
    """
    if principal is None:
        return Decision.SIGN_IN
    if principal.role is ConsoleRole.HQ:
        return Decision.ALLOW
    allowed = _allowed(
        principal,
        permission,
        hub_id=hub_id,
        organisation_id=organisation_id,
        organisation_hub_ids=organisation_hub_ids,
        coordinator_id=coordinator_id,
    )
    return Decision.ALLOW if allowed else Decision.FORBID


def _allowed(
    principal: Principal,
    permission: Permission,
    *,
    hub_id: int | None,
    organisation_id: int | None,
    organisation_hub_ids: frozenset[int],
    coordinator_id: int | None,
) -> bool:
    own_hub = hub_id is not None and hub_id == principal.hub_id
    match principal.role:
        case ConsoleRole.CCO:
            if permission in (
                Permission.VIEW_HUB,
                Permission.MANAGE_HUB,
                Permission.VIEW_AUDIT,
                Permission.HANDLE_PRIVACY,
            ):
                return own_hub
            if permission is Permission.EDIT_COORDINATOR:
                return own_hub and coordinator_id is not None
            if permission is Permission.VIEW_ORGANISATION:
                return principal.hub_id in organisation_hub_ids
            return False
        case ConsoleRole.CO:
            if permission is Permission.VIEW_HUB:
                return own_hub
            if permission is Permission.EDIT_COORDINATOR:
                return own_hub and coordinator_id == principal.coordinator_id
            return False
        case ConsoleRole.PARTNER_ADMIN:
            if permission in (Permission.VIEW_ORGANISATION, Permission.MANAGE_ORGANISATION):
                return organisation_id is not None and organisation_id == principal.organisation_id
            return False
        case _:
            return False


def home_hub_of(principal: Principal) -> int | None:
    """The hub a person lands on after signing in (HQ and partner admins have none)."""
    if principal.role in (ConsoleRole.CCO, ConsoleRole.CO):
        return principal.hub_id
    return None
