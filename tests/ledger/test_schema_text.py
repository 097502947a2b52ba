"""marshmallow's own refusals reach the reader in the reader's language (``ledger.schema_text``)."""

from __future__ import annotations

import inspect
import os

import pytest
from marshmallow import Schema, fields, validate

from ledger.i18n import N_, msg, translations_for, use_translations
from ledger.schema_text import TEMPLATES, field_words, reword, words


@pytest.fixture(scope="module")
def zh():
    use_translations(os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "payouts", "translations")))
    return translations_for("zh_Hans_CN")


def _marshmallow_templates() -> set[str]:
    """Every message marshmallow defines, with the words it fills in itself spelt out."""
    found = set(Schema._default_error_messages.values())
    for cls in vars(fields).values():
        if inspect.isclass(cls) and issubclass(cls, fields.Field):
            found |= set(cls.__dict__.get("default_error_messages", {}).values())
    for cls in vars(validate).values():
        if inspect.isclass(cls) and issubclass(cls, validate.Validator):
            found |= {v for k, v in cls.__dict__.items() if isinstance(v, str) and "message" in k}
    out = set()
    for template in found:
        if "{obj_type}" in template:
            awareness = ("naive", "aware") if "{awareness}" in template else ("",)
            for obj_type in ("date", "datetime", "time"):
                for a in awareness:
                    if a and obj_type != "datetime":
                        continue
                    out.add(template.replace("{awareness} ", f"{a} ").replace("{obj_type}", obj_type))
        elif "{min_op}" in template or "{max_op}" in template:
            for low in (validate.Range.message_gte, validate.Range.message_gt):
                for high in (validate.Range.message_lte, validate.Range.message_lt):
                    out.add(template.format(min_op=low, max_op=high))
        elif template not in (validate.Range.message_gte, validate.Range.message_gt,
                              validate.Range.message_lte, validate.Range.message_lt):   # parts, not sentences
            out.add(template)
    return out


def test_every_marshmallow_message_is_listed():
    missing = _marshmallow_templates() - set(TEMPLATES)
    assert not missing, f"add to ledger.schema_text.TEMPLATES (and translate): {sorted(missing)}"


def test_every_listed_message_is_translated(zh):
    untranslated = [t for t in TEMPLATES if zh(t) == t]
    assert not untranslated


@pytest.mark.parametrize("schema, value, english, chinese", [
    (fields.Integer(validate=validate.Range(min=1, max=9999)), 0,
     "Must be greater than or equal to 1 and less than or equal to 9999.", "须大于或等于 1 且小于或等于 9999。"),
    (fields.Integer(validate=validate.Range(min=1, max=5, max_inclusive=False)), 7,
     "Must be greater than or equal to 1 and less than 5.", "须大于或等于 1 且小于 5。"),
    (fields.Integer(validate=validate.Range(min=0)), -1, "Must be greater than or equal to 0.", "须大于或等于 0。"),
    (fields.String(validate=validate.OneOf(["cash", "kind"])), "gold",
     "Must be one of: cash, kind.", "须为以下之一：cash, kind。"),
    (fields.String(validate=validate.Length(max=3)), "四五六七", "Longer than maximum length 3.", "超过最大长度 3。"),
    (fields.Integer(), "x", "Not a valid integer.", "不是有效的整数。"),
    (fields.Date(), "2025-13-01", "Not a valid date.", "不是有效的日期。"),
    (fields.Integer(required=True), None, "Field may not be null.", "此项不能为 null。"),
])
def test_a_refusal_is_reworded_with_its_values(zh, schema, value, english, chinese):
    from marshmallow import ValidationError

    with pytest.raises(ValidationError) as refused:
        schema.deserialize(value)
    [text] = refused.value.messages
    assert text == english
    assert reword(text, zh) == chinese
    assert reword(text, lambda t: t) == english


def test_other_text_and_messages():
    assert reword("something of our own", str.upper) == "something of our own"
    message = msg(N_("at most %(places)s decimal places"), places=2)
    assert words(message, lambda t: t.replace("at most", "≤")) == "≤ 2 decimal places"
    assert field_words({"a": "Unknown field.", "b": [message]}, lambda t: t) == {
        "a": ["Unknown field."], "b": ["at most 2 decimal places"]}
