"""訂正: the person's name, phone or e-mail put right on their word.

Checked as the intake and the hand-over check them: a name of at most 100 characters (a space
between family and given name splits it), a Japanese phone number stored digits only, an
e-mail of the usual shape. An erased person cannot be corrected (there is nothing left to
correct). The audit row says which fields changed, never their values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Person
from core.i18n import Text
from core.privacy.requests import CORRECTED, Operator, audit
from core.text.normalize import fold_whitespace, nfkc, normalize_phone

MAX_NAME: Final = 100
MAX_EMAIL: Final = 254
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}")


@dataclass(frozen=True)
class Correction:
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass
class CorrectionResult:
    errors: dict[str, Text] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check(correction: Correction) -> tuple[dict[str, str], dict[str, Text]]:
    """(clean values, errors by field) for what the operator typed."""
    clean: dict[str, str] = {}
    errors: dict[str, Text] = {}
    if correction.name is not None:
        name = fold_whitespace(nfkc(correction.name)).strip()
        if not name:
            errors["name"] = Text("privacy.correct.error.name_empty")
        elif len(name) > MAX_NAME:
            errors["name"] = Text("privacy.correct.error.name_long", max=MAX_NAME)
        else:
            clean["name"] = name
    if correction.phone is not None:
        phone = normalize_phone(correction.phone)
        if phone is None:
            errors["phone"] = Text("privacy.correct.error.phone")
        else:
            clean["phone"] = phone
    if correction.email is not None:
        email = nfkc(correction.email).replace(" ", "")
        if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
            errors["email"] = Text("privacy.correct.error.email")
        else:
            clean["email"] = email
    if not clean and not errors:
        errors["request"] = Text("privacy.correct.error.nothing")
    return clean, errors


async def correct_person(
    session: AsyncSession,
    person_id: int,
    correction: Correction,
    *,
    operator: Operator,
    now: datetime,
) -> CorrectionResult:
    """Apply the correction when every field is valid; nothing is written otherwise."""
    person = await session.get(Person, person_id)
    if person is None:
        raise LookupError(f"no person {person_id}")
    clean, errors = check(correction)
    if person.erased_at is not None:
        errors["request"] = Text("privacy.correct.error.erased")
    result = CorrectionResult(errors=errors)
    if errors:
        return result
    if "name" in clean:
        parts = clean["name"].split(" ")
        person.display_name = clean["name"]
        person.family_name = parts[0] if len(parts) >= 2 else None
        person.given_name = " ".join(parts[1:]) if len(parts) >= 2 else None
        result.changed.append("name")
    if "phone" in clean and clean["phone"] != person.phone:
        person.phone = clean["phone"]
        result.changed.append("phone")
    if "email" in clean and clean["email"] != person.email:
        person.email = clean["email"]
        result.changed.append("email")
    audit(session, operator, CORRECTED, now, person_id=person_id, fields=result.changed)
    await session.flush()
    return result
