"""``/verify``: anyone holding a printed statement or notice list checks it against the ledger; it shows
no more than the paper notice list does."""

from __future__ import annotations

from flask import (
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import defer

from cooperatives.web.auth import limiter
from ledger.web.support import PUBLIC, get_session, rule
from payouts.models import IN_FORCE, PayoutRun
from payouts.statements.operations import (
    verify_code,
)
from payouts.statements.web import bp
from payouts.statements.web.support import (
    VERIFY_LIMIT,
    normal_code,
    parse_amount,
)


@bp.get("/verify")
@rule(*PUBLIC, scope="public")
def verify_form():
    typed = request.args.get("code", "")
    if typed.strip():
        args = {"amount": request.args["amount"]} if request.args.get("amount") else {}
        return redirect(url_for(".verify", code=normal_code(typed), **args))
    return render_template("payouts/statements/verify.html", result=None, code="", amount_text="")


@bp.get("/verify/<code>")
@rule(*PUBLIC, scope="public")
@limiter.limit(VERIFY_LIMIT)
def verify(code: str):
    db = get_session()
    code = normal_code(code)
    amount_text = request.args.get("amount", "").strip()[:40]
    amount = parse_amount(amount_text) if amount_text else None
    result = verify_code(db, code, amount=amount)
    if not result.found:
        return render_template("payouts/statements/verify.html", result=None, code=code, amount_text=amount_text,
                               not_found=True), 404
    reversal = False
    if result.superseded_by is not None:
        newer = db.get(PayoutRun, result.superseded_by, options=[defer(PayoutRun.input_json),
                                                                 defer(PayoutRun.result_json)])
        reversal = newer is not None and newer.reverses_id == result.run_id
    standing = ("superseded" if result.superseded_by is not None and not reversal
                else "reversed" if result.status == "reversed" or reversal
                else "in_force" if result.status in IN_FORCE else "not_in_force")
    return render_template("payouts/statements/verify.html", result=result, code=code, amount_text=amount_text,
                           amount=amount, amount_invalid=bool(amount_text) and amount is None, standing=standing,
                           reversal=reversal)
