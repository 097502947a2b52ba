"""How records and numbers are shown on pages, and how record forms are laid out.

Forms are derived from the import workbook's column specs (``cooperatives.workbook.SHEETS``), the same
specs that validate what is posted, so a form offers exactly the choices the parser accepts.
Registered on the app by :func:`init_app` (filters ``qty`` and ``price``, template helpers).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from babel.numbers import format_decimal
from flask_babel import get_locale
from flask_babel import gettext as _

from cooperatives.kinds import KINDS
from cooperatives.labels import COLUMN_LABELS, RECORD_LABELS
from cooperatives.models import (
    ASSET_PAID_BY,
    CAPITAL_FORMS,
    ENTITY_KINDS,
    EXPENSE_CATEGORIES,
    MONEY_ACCOUNTS,
    MONITORING,
    PAYMENT_FOR,
    PAYMENT_METHODS,
    SALE_PAID_BY,
    SHARE_KINDS,
    UNITS,
)
from cooperatives.workbook import SHEETS
from ledger.i18n import N_
from ledger.web.support import money_filter

RECORD_KINDS = tuple(KINDS)        # the record pages, in the registry's order
SHEET_LABELS = {"entity": N_("Entity"), "households": N_("Households"), "members": N_("Members"), **RECORD_LABELS}
SUBSIDY_KINDS = {"fiscal": N_("Fiscal subsidy"), "donation": N_("Donation")}
#: column -> {stored value -> label} for enumerated columns
VALUE_LABELS = {"form": CAPITAL_FORMS, "unit": UNITS, "category": EXPENSE_CATEGORIES, "method": PAYMENT_METHODS,
                "kind": {**SUBSIDY_KINDS, **SHARE_KINDS}, "monitoring": MONITORING, "paid_for": PAYMENT_FOR,
                "paid_by": {**SALE_PAID_BY, **ASSET_PAID_BY}, "from_account": MONEY_ACCOUNTS, "to_account": MONEY_ACCOUNTS}
MONEY_COLUMNS = frozenset({"amount", "rate", "base_rent_per_mu", "cost", "value", "disposal_proceeds"})
PRICE_COLUMNS = frozenset({"unit_price"})
NUMERIC_COLUMNS = MONEY_COLUMNS | PRICE_COLUMNS | {"quantity", "days", "area_mu", "shares", "member_no"}
#: typed in a form but not a column of the record list (确认: a plausibility warning confirmed)
FORM_ONLY = frozenset({"confirm"})
#: typed in a form but never shown back (not even on a refused form): they are stored encrypted
SECRET_FIELDS = frozenset({"id_number", "bank_account"})
YES_NO = (("yes", N_("yes")), ("no", N_("no")))


def _locale() -> str:
    return str(get_locale() or "zh_Hans_CN")


def qty(value: Decimal | None) -> str:
    """A quantity, area or number of days: exact, grouped, no trailing zeros (``1,234.5``)."""
    if value is None:
        return ""
    return format_decimal(value, format="#,##0.####", locale=_locale())


def price(value: Decimal | None) -> str:
    """A unit price: at least two decimals, up to the four stored (``5.60``, ``5.6125``)."""
    if value is None:
        return ""
    return format_decimal(value, format="#,##0.00##", locale=_locale())


def value_label(column: str, value) -> str:
    labels = VALUE_LABELS.get(column, {})
    return _(labels[value]) if value in labels else str(value)


def cell(row, column: str) -> str:
    """The text of ``column`` of a stored record, as shown in a record list."""
    if column in ("member", "from_member"):
        member = getattr(row, column, None)
        return f"{member.code} {member.display_name}" if member is not None else ""
    value = getattr(row, column, None)
    if value is None or (column == "paid_by" and getattr(row, "paid", True) is False):
        return ""           # a delivery not paid yet was paid by nothing (its paid_by is only the default)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if column in MONEY_COLUMNS:
        return money_filter(value)
    if column in PRICE_COLUMNS:
        return price(value)
    if isinstance(value, Decimal):
        return qty(value)
    return value_label(column, value)


# ------------------------------------------------------------------------------------------------ forms


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    required: bool
    input: str = "text"               # text, date, number, select
    choices: tuple[tuple[str, str], ...] = ()
    default: str = ""
    inputmode: str | None = None      # a numeric keyboard on phones


def _field(column) -> FormField:
    kind = column.type.name
    label = COLUMN_LABELS.get(column.name, column.name)
    default = column.default if isinstance(column.default, str | bool) else None
    if kind == "bool":
        return FormField(column.name, label, column.required, "select", YES_NO,
                         "" if default is None else ("yes" if default else "no"))
    values = getattr(column.type, "values", None)
    if values and getattr(column.type, "closed", False):
        labels = VALUE_LABELS.get(column.name, {})
        return FormField(column.name, label, column.required, "select",
                         tuple((v, labels.get(v, v)) for v in values), default or "")
    if kind == "date":
        return FormField(column.name, label, column.required, "date")
    if kind == "int":
        return FormField(column.name, label, column.required, "number", inputmode="numeric")
    if kind == "money" or kind.startswith("decimal"):
        return FormField(column.name, label, column.required, inputmode="decimal")
    return FormField(column.name, label, column.required)


@functools.cache
def record_fields(kind: str) -> tuple[FormField, ...]:
    return tuple(_field(c) for c in SHEETS[kind].columns)


@functools.cache
def member_fields() -> tuple[FormField, ...]:
    """The registration form: the household's columns, then the membership's (the code is the member)."""
    membership = tuple(_field(c) for c in SHEETS["members"].columns if c.name not in ("member", "left_on", "persons"))
    return record_fields("households") + membership


def shown_form(form) -> dict[str, str]:
    """What a refused form shows back to its author: everything typed except the secret fields."""
    return {k: v for k, v in form.items() if k not in SECRET_FIELDS and k != "csrf_token"}


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirect, however the URL is disguised)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch == "\\" or ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def init_app(app) -> None:
    from cooperatives.web.access import may_write

    app.jinja_env.filters["qty"] = qty
    app.jinja_env.filters["price"] = price
    app.jinja_env.globals.update(
        cell=cell, value_label=value_label, RECORD_KINDS=RECORD_KINDS, RECORD_LABELS=RECORD_LABELS, SHEET_LABELS=SHEET_LABELS,
        COLUMN_LABELS=COLUMN_LABELS, ENTITY_KINDS=ENTITY_KINDS, MONITORING=MONITORING,
        NUMERIC_COLUMNS=NUMERIC_COLUMNS, SECRET_FIELDS=SECRET_FIELDS, MONEY_ACCOUNTS=MONEY_ACCOUNTS, may_write=may_write)
