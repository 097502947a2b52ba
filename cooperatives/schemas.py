"""marshmallow schemas for the API. Input schemas are built from the import workbook's column specs,
and each field validates with that column's own parser, so the API and the import agree exactly.
Amounts cross JSON as strings with two decimals."""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate

from cooperatives import codes
from cooperatives.forms import parse_form
from cooperatives.kinds import KINDS
from cooperatives.workbook import _TEXT_LIMITS, MAX_PERSONS, SHEETS, _Decimal, _Enum
from ledger.i18n import N_, Message, msg

_NUMBER_TEXT = r"^[0-9]{1,12}(\.[0-9]{1,%d})?$"       # below the workbook's largest number, 10**12
#: whitespace to Python (``str.strip``) and to JSON Schema's regular expressions alike, and NUL
_SPACE = r"\s\x00\x1c-\x1f\x85\ufeff"
CODE_PATTERN = rf"^[^{_SPACE}]+$"                          # a code: no spaces
TEXT_PATTERN = r"^[^\x00]*$"                               # any text but NUL
FILLED_PATTERN = rf"^[^\x00]*[^{_SPACE}][^\x00]*$"        # required text: not blank


class DecimalValue(fields.Field):
    """A decimal as a JSON string (``"12.50"``) or a JSON number; the workbook column rules check the rest."""

    def __init__(self, places: int, positive: bool, **kwargs):
        number = {"type": "number", "minimum": 0, "maximum": 10 ** 12, "exclusiveMaximum": True}
        text = {"type": "string", "pattern": _NUMBER_TEXT % places}
        if positive:
            number.update(exclusiveMinimum=True)
            text["not"] = {"pattern": r"^[0.]*$"}
        # the form only; the workbook rule then says what else is wrong (sign, size, decimal places)
        self.places, self.text = places, re.compile(r"-?[0-9]+(\.[0-9]+)?")
        kind = "positive" if positive else "non-negative"
        super().__init__(**kwargs, metadata={
            "description": f"{kind} decimal, at most {places} decimal places, as a string (\"12.50\") or a number",
            "anyOf": [text, number]})

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValidationError(msg(N_("must be a decimal as a string (\"12.50\") or a number")))
        if isinstance(value, str) and not self.text.fullmatch(value):
            raise ValidationError(msg(N_("not a number: must be written like \"12.50\" (at most %(places)s decimal places)"),
                                      places=self.places))
        return value


class Pattern(validate.Regexp):
    """``validate.Regexp`` whose refusal stays a translatable :class:`Message` (Regexp formats its own)."""

    def __init__(self, regex: str, message: Message):
        super().__init__(regex, error=message)

    def _format_error(self, value) -> Message:
        return self.error


class YesNo(fields.Field):
    """A JSON boolean, or one of the workbook's words for it (``yes``/``no``/``是``/``否`` …)."""

    WORDS = ("yes", "no", "y", "n", "true", "false", "1", "0", "是", "否")

    def __init__(self, **kwargs):
        super().__init__(**kwargs, metadata={"description": "a boolean, or yes/no (是/否)",
                                             "anyOf": [{"type": "boolean"}, {"type": "string", "enum": list(self.WORDS)}]})

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or (isinstance(value, str) and value in self.WORDS):
            return value
        raise ValidationError(msg(N_("must be true or false (or yes/no)")))


def _field_for(column, *, required: bool | None = None):
    """The JSON field of a workbook column: its JSON type and limits documented and enforced here;
    the column's own parser (:func:`cooperatives.forms.parse_form`) then applies the import rules."""
    required = column.required if required is None else required
    common = {"required": required, "allow_none": not required}
    kind, limit = column.type, _TEXT_LIMITS.get(column.name)
    if kind.name == "date":
        return fields.Date(**common, metadata={"description": "YYYY-MM-DD"})
    if kind.name == "int":
        top = MAX_PERSONS if column.name == "persons" else 10 ** 15 - 1
        return fields.Integer(strict=True, validate=validate.Range(min=1, max=top), **common)
    if kind.name == "bool":
        return YesNo(**common)
    if isinstance(kind, _Decimal):
        return DecimalValue(kind.places, kind.positive, **common)
    if isinstance(kind, _Enum) and kind.closed:
        choices = sorted({*kind.values, *(a for a in kind.table if not a.isascii())})
        return fields.String(validate=validate.OneOf(choices), **common)
    checks = [validate.Length(max=limit)] if limit else []
    if kind.name == "code":         # documented exactly (cooperatives.codes); the column says why it refuses one
        checks += [Pattern(CODE_PATTERN, msg(N_("must not be empty or contain spaces")))]
        common["metadata"] = {"pattern": codes.PATTERN}
    elif required or kind.name != "str":        # required text, or an open choice (the unit of a sale)
        checks += [Pattern(FILLED_PATTERN, msg(N_("must not be blank or contain NUL")))]
    else:
        checks += [Pattern(TEXT_PATTERN, msg(N_("must not contain NUL")))]
    return fields.String(validate=checks, **common)


class SpecSchema(Schema):
    """Base of the generated record schemas: JSON types checked by the fields, then the workbook rules.

    ``null`` means the field is left out. Unknown fields are refused.
    """

    record_kind: str = ""     # the sheet this schema validates (not a field: subsidies have a ``kind`` column)

    def load(self, data, *, many=None, partial=None, unknown=None, **kwargs):  # noqa: D102
        if not isinstance(data, dict):
            raise ValidationError({"_schema": [msg(N_("expected a JSON object"))]})
        errors = json_type_errors(self, data)
        values, problems = parse_form(self.record_kind, _raw(data, self.fields, skip=errors))
        for p in problems:
            if (p.column or "_schema") not in errors:
                errors.setdefault(p.column or "_schema", []).append(p.reason)
        if errors:
            raise ValidationError(errors)
        return values


def json_type_errors(schema: Schema, data: dict) -> dict[str, list[str]]:
    """``{field: [messages]}`` for values of the wrong JSON type, too long, not a choice, or unknown fields."""
    try:
        Schema.load(schema, data)
    except ValidationError as exc:
        return {str(k): list(v) if isinstance(v, list) else [str(v)] for k, v in exc.normalized_messages().items()}
    return {}


def _raw(data: dict, known, skip=()) -> dict:
    """The body as the workbook's cells: booleans as yes/no, numbers as written, null left out (and the
    fields in ``skip``, already refused for their JSON type)."""
    raw = {}
    for key, value in data.items():
        if key not in known or value is None or key in skip:
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, float):       # as written, in plain notation (1e-07 -> 0.0000001)
            value = format(Decimal(repr(value)), "f") if math.isfinite(value) else repr(value)
        elif isinstance(value, int):
            value = str(value)
        raw[key] = value
    return raw


def record_schema(kind: str) -> type[Schema]:
    spec = SHEETS[kind]
    attrs = {column.name: _field_for(column) for column in spec.columns}
    attrs["record_kind"] = kind
    return type(f"{kind.title().replace('_', '')}InputSchema", (SpecSchema,), attrs)


RECORD_INPUT_SCHEMAS = {kind: record_schema(kind) for kind in KINDS}


def _member_fields() -> dict:
    households, members = SHEETS["households"], SHEETS["members"]
    out = {c.name: _field_for(c) for c in households.columns if c.name not in ("poverty_exited",)}
    out.update({c.name: _field_for(c) for c in members.columns if c.name in ("member_no", "joined_on", "left_on",
                                                                             "farmer", "land_consent")})
    return out


MemberInputSchema = type("MemberInputSchema", (Schema,), _member_fields())


@functools.cache
def record_output_schema(kind: str, model) -> type[Schema]:
    """A stored record as the API returns it (documentation only: the view builds the JSON)."""
    from sqlalchemy import Boolean, Date, DateTime, Integer

    hidden = ("entity_id", "import_id", "member_id", "entry_id", "from_member_id")
    attrs: dict = {}
    for column in model.__table__.columns:
        if column.name in hidden:
            continue
        nullable = bool(column.nullable)
        if isinstance(column.type, Boolean):
            attrs[column.name] = fields.Boolean(allow_none=nullable)
        elif isinstance(column.type, DateTime):
            attrs[column.name] = fields.DateTime(allow_none=nullable)
        elif isinstance(column.type, Date):
            attrs[column.name] = fields.Date(allow_none=nullable)
        elif isinstance(column.type, Integer):
            attrs[column.name] = fields.Integer(allow_none=nullable)
        else:            # text, and amounts/quantities as decimal strings
            attrs[column.name] = fields.String(allow_none=nullable)
    if "member_id" in model.__table__.columns:
        attrs["member"] = fields.String(allow_none=True, metadata={"description": "member code"})
    if "from_member_id" in model.__table__.columns:
        attrs["from_member"] = fields.String(allow_none=True, metadata={
            "description": "the member the shares came from (inherited or transferred)"})
    attrs["entry_id"] = fields.Integer(allow_none=True)
    attrs["voucher"] = fields.String(allow_none=True, metadata={"description": "voucher number of its entry"})
    attrs["kind"] = fields.String(required=True)
    return type(f"Stored{kind.title()}Schema", (Schema,), attrs)


@functools.cache
def record_page_schema(kind: str, model) -> type[Schema]:
    record = record_output_schema(kind, model)
    return type(f"Stored{kind.title()}PageSchema", (Schema,), {
        "records": fields.List(fields.Nested(record), required=True),
        "page": fields.Integer(required=True), "total": fields.Integer(required=True)})


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10 ** 9),
                          metadata={"description": "page number (100 records a page)"})


class YearArgsSchema(Schema):
    year = fields.Integer(validate=validate.Range(min=1, max=9999), metadata={"description": "fiscal year"})


class ImportArgsSchema(Schema):
    dry_run = fields.String(validate=validate.OneOf(["0", "1"]),
                            metadata={"description": "1: check the workbook, import nothing"})


class ImportJobSchema(Schema):
    """An import job: ``status`` queued, reading, writing, done or failed; once done what it imported, once
    failed every problem (``errors.workbook``, ``sheet:row:column: reason``)."""

    job = fields.Integer(required=True)
    entity = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("queued", "reading", "writing", "done", "failed")))
    dry_run = fields.Boolean(required=True)
    url = fields.String(required=True, metadata={"description": "where to GET the job"})
    import_ = fields.Integer(data_key="import", allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    vouchers = fields.Integer(metadata={"description": "journal entries posted"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    problems = fields.Integer(metadata={"description": "how many problems there were (at most 2,000 are kept)"})


class MeSchema(Schema):
    username = fields.String(required=True)
    role = fields.String(required=True)


class EntitySchema(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    township = fields.Function(lambda e: e.township.name)
    village = fields.Function(lambda e: e.village.name if e.village else None)
    credit_code = fields.String(allow_none=True)


class MemberSchema(Schema):
    code = fields.String()
    member_no = fields.Integer()
    name = fields.String(attribute="display_name")
    joined_on = fields.Date()
    left_on = fields.Date(allow_none=True)
    farmer = fields.Boolean()
    id_number = fields.Function(lambda m: m.household.id_number_masked if m.household else None)
    bank_account = fields.Function(lambda m: m.household.bank_account_masked if m.household else None)


class RecordSchema(Schema):
    """Any source record, as stored (amounts as strings)."""

    id = fields.Integer()
    kind = fields.String()
    voucher = fields.String(allow_none=True)
    values = fields.Dict()


#: an amount in the JSON: yuan as a string with exactly two decimals
YUAN = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "description": "yuan, two decimals"}


class TrialBalanceRowSchema(Schema):
    code = fields.String()
    name = fields.String()
    type = fields.String()
    opening = fields.Decimal(as_string=True, places=2, metadata=YUAN)
    debit = fields.Decimal(as_string=True, places=2, metadata=YUAN)
    credit = fields.Decimal(as_string=True, places=2, metadata=YUAN)
    closing = fields.Decimal(as_string=True, places=2, metadata=YUAN)


#: one line of opening balances or of a voucher: the ``opening`` sheet's columns
BalanceLineSchema = record_schema("opening")


class OpeningBodySchema(Schema):
    """Opening balances (期初余额): lines with the ``opening`` sheet's columns — ``account`` (code, or name as in
    the chart), ``member``, ``debit`` or ``credit`` (yuan), ``note`` — checked by the sheet's rules, line by
    line (errors keyed ``lines.<n>.<column>``, n from 1)."""

    lines = fields.List(fields.Nested(BalanceLineSchema), required=True, validate=validate.Length(min=1, max=2000))


class OpeningLineSchema(Schema):
    account = fields.String(required=True)
    name = fields.String(required=True)
    member = fields.String(allow_none=True)
    debit = fields.String(allow_none=True, metadata=YUAN)
    credit = fields.String(allow_none=True, metadata=YUAN)


class OpeningSchema(Schema):
    """The opening balances as posted: the book's start, the voucher and its lines (debit or credit each)."""

    entity = fields.String(required=True)
    books_start = fields.Date(required=True)
    voucher = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(OpeningLineSchema), required=True)


class VoucherBodySchema(Schema):
    """A voucher (记账凭证): its date, memo (摘要), attachments (附件张数) and lines with the ``opening`` sheet's
    columns — ``account`` (code, name, or "101 库存现金"), ``member``, ``debit`` or ``credit`` (yuan) — checked by
    the sheet's rules line by line (errors keyed ``lines.<n>.<column>``, n from 1); debits must equal credits."""

    date = fields.Date(required=True)
    memo = fields.String(required=True, validate=validate.Length(min=1, max=200))
    attachments = fields.Integer(load_default=0, validate=validate.Range(min=0, max=999))
    lines = fields.List(fields.Nested(BalanceLineSchema), required=True, validate=validate.Length(min=2, max=200))


class VoucherSchema(Schema):
    """A voucher typed as such: its id (to void it: ``POST /api/v1/journal/<id>/void``), voucher number, date,
    memo, attachments, who made it (制单), whether voided, and its lines (debit or credit each)."""

    entity = fields.String(required=True)
    id = fields.Integer(required=True)
    voucher = fields.String(allow_none=True)
    date = fields.Date(required=True)
    memo = fields.String(required=True)
    attachments = fields.Integer(required=True)
    made_by = fields.String(allow_none=True)
    voided_at = fields.DateTime(allow_none=True)
    void_reason = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(OpeningLineSchema), required=True)


class VoucherPageSchema(Schema):
    vouchers = fields.List(fields.Nested(VoucherSchema), required=True)
    page = fields.Integer(required=True)
    total = fields.Integer(required=True)


class VoidSchema(Schema):
    """Why a record is voided (kept with it and in the audit log)."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


def _yuan(value: Decimal) -> None:
    """Yuan as the books keep them: not negative, at most two decimals, below a trillion."""
    if value < 0 or value >= Decimal("1e12") or value.as_tuple().exponent < -2:
        raise ValidationError(msg(N_("yuan with at most two decimals, not negative")))


class DisposeSchema(Schema):
    """A fixed asset disposed of (固定资产清理): when, and what it fetched, received how."""

    date = fields.Date(required=True)
    proceeds = fields.Decimal(load_default=Decimal("0.00"), as_string=True, validate=_yuan,
                              metadata={"description": "yuan, at most two decimals (default 0)"})
    method = fields.String(load_default="bank", validate=validate.OneOf(("bank", "cash", "mobile")))


class InUseSchema(Schema):
    """When an asset under construction came into use (在建工程完工交付使用)."""

    date = fields.Date(required=True)


class InUsedSchema(Schema):
    """An asset now in use, and the entry that moved it from 在建工程 to 固定资产."""

    entity = fields.String(required=True)
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    in_use_on = fields.String(required=True)
    entry = fields.String(required=True, metadata={"description": "voucher number (年-号)"})


class DisposedSchema(Schema):
    """An asset disposed of, and the entries its disposal posted."""

    entity = fields.String(required=True)
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    disposed_on = fields.String(required=True)
    proceeds = fields.String(required=True)
    entries = fields.List(fields.String(), required=True, metadata={"description": "voucher numbers (年-号)"})


class VoidedSchema(Schema):
    """A voided record: its entity and kind, id, date, member, amount, voucher, and who voided it, when and why."""

    entity = fields.String(required=True)
    kind = fields.String(required=True)
    id = fields.Integer(required=True)
    date = fields.String(required=True)
    member = fields.String(allow_none=True)
    amount = fields.String(allow_none=True, metadata=YUAN)
    voucher = fields.String(allow_none=True)
    voided_at = fields.String(required=True)
    voided_by = fields.Integer(allow_none=True)
    void_reason = fields.String(required=True)


class ErrorSchema(Schema):
    """Every error of the API: ``{"errors": {field: [messages]}}`` with a 4xx status."""

    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)
