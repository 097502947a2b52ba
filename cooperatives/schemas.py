"""marshmallow schemas for the API. Input schemas are built from the import workbook's column specs,
and each field validates with that column's own parser, so the API and the import agree exactly.
Amounts cross JSON as strings with two decimals."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields

from cooperatives.forms import parse_form
from cooperatives.workbook import SHEETS

_TYPES = {"date": fields.Date, "int": fields.Integer, "bool": fields.Boolean}


class SpecSchema(Schema):
    """Base of the generated record schemas: validation is delegated to the workbook rules."""

    record_kind: str = ""     # the sheet this schema validates (not a field: subsidies have a ``kind`` column)

    def load(self, data, *, many=None, partial=None, unknown=None, **kwargs):  # noqa: D102
        if not isinstance(data, dict):
            raise ValidationError({"_schema": ["expected a JSON object"]})
        raw = {}
        for key, value in data.items():
            if key not in self.fields:
                continue
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif isinstance(value, (int, float)):
                value = repr(value) if isinstance(value, float) else str(value)
            elif value is not None and not isinstance(value, str):
                raise ValidationError({key: ["must be a string, a number or a boolean"]})
            raw[key] = value
        values, problems = parse_form(self.record_kind, raw)
        if problems:
            errors: dict[str, list[str]] = {}
            for p in problems:
                errors.setdefault(p.column or "_schema", []).append(p.reason)
            raise ValidationError(errors)
        return values


def _field_for(column):
    type_name = getattr(column.type, "name", "str")
    if type_name in _TYPES:
        return _TYPES[type_name](required=column.required, metadata={"description": column.name})
    if type_name == "money" or type(column.type).__name__ == "_Decimal":
        return fields.String(required=column.required, metadata={"description": "decimal as a string, e.g. \"12.50\""})
    return fields.String(required=column.required)


def record_schema(kind: str) -> type[Schema]:
    spec = SHEETS[kind]
    attrs = {column.name: _field_for(column) for column in spec.columns}
    attrs["record_kind"] = kind
    return type(f"{kind.title().replace('_', '')}InputSchema", (SpecSchema,), attrs)


RECORD_INPUT_SCHEMAS = {kind: record_schema(kind) for kind in (
    "capital", "land", "labor", "deliveries", "inputs", "sales", "expenses", "subsidies", "advances", "payments",
    "income")}


class MemberInputSchema(Schema):
    code = fields.String(required=True)
    head_name = fields.String(required=True)
    village = fields.String(required=True)
    phone = fields.String()
    id_number = fields.String()
    bank_account = fields.String()
    monitoring = fields.String()
    member_no = fields.Integer(required=True)
    joined_on = fields.Date(required=True)
    left_on = fields.Date()
    farmer = fields.Boolean()


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


class TrialBalanceRowSchema(Schema):
    code = fields.String()
    name = fields.String()
    type = fields.String()
    opening = fields.Decimal(as_string=True, places=2)
    debit = fields.Decimal(as_string=True, places=2)
    credit = fields.Decimal(as_string=True, places=2)
    closing = fields.Decimal(as_string=True, places=2)


class ErrorSchema(Schema):
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
