"""``Idempotency-Key`` for every state-changing API route, in one place.

A script that sends a write (``POST``/``PUT``/``PATCH``/``DELETE`` under ``/api/v1``) with an
``Idempotency-Key: <up to 255 visible ASCII characters>`` header may send it again — after a timeout, a
dropped connection, a crash — and the write takes effect once:

* new key: the request runs; its key is claimed **in the same transaction as the write** (the row is
  flushed before the view runs and committed by the view's own commit), so a claimed key always means
  the write took effect, and a refused or failed write leaves the key free;
* same key, same request (method, path, query and body; JSON compared as data, uploaded files by their
  digest): the stored response is replayed — same status, same body — with ``Idempotent-Replayed: true``,
  and nothing is written;
* same key, different request: ``409`` ``{"errors": {"Idempotency-Key": [...]}}``, nothing written;
* concurrent requests with one key: the database's unique constraint on (user, key) lets one claim it
  (PostgreSQL makes the others wait on the index entry; SQLite's write lock serialises them); the
  others then replay its response.

Only 2xx responses are kept (a refused request may be corrected and retried with the same key), and never a
file of personal data (:func:`never_kept`: a bank batch's file; a retry makes it again). Keys
are scoped per user (the token's owner) and kept; they do not expire, so a retry a week later still
cannot post twice. The rare crash after the write committed but before its response was kept leaves
a key without a response: a retry then gets 409 saying the write was carried out (never a second write).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time

from apispec import BasePlugin
from flask import Response, current_app, g, request
from flask_login import current_user
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from cooperatives.models import IdempotencyKey
from ledger.web.support import get_session

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEY_RE = re.compile(r"^[!-~]{1,255}$")
#: how long a retry waits for a claimed key's response to be kept (the write has committed by then)
WAIT_SECONDS = 5.0


def _error(status: int, message: str) -> Response:
    response = Response(json.dumps({"errors": {HEADER: [message]}}, ensure_ascii=False), status=status,
                        content_type="application/json")
    return response


def fingerprint() -> str:
    """sha256 of what makes this request what it is: method, path, sorted query, body.

    JSON bodies are compared as data (key order and spacing do not matter; numbers kept as written);
    multipart uploads by their fields and each file's name and sha256 (a client regenerating the
    multipart boundary sends the same request). Other bodies byte for byte.
    """
    digest = hashlib.sha256()
    query = sorted(request.args.items(multi=True))
    digest.update(json.dumps([request.method, request.path, query], ensure_ascii=False).encode())
    if request.mimetype == "multipart/form-data":
        fields = sorted(request.form.items(multi=True))
        files = []
        for name, upload in request.files.items(multi=True):
            content = upload.stream.read()
            upload.stream.seek(0)
            files.append([name, upload.filename or "", hashlib.sha256(content).hexdigest()])
        digest.update(json.dumps([fields, sorted(files)], ensure_ascii=False).encode())
        return digest.hexdigest()
    body = request.get_data(cache=True)
    if request.is_json:
        try:
            data = json.loads(body, parse_float=lambda text: ["__number__", text])   # no float
        except ValueError:
            pass
        else:
            body = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    digest.update(b"\n" + body)
    return digest.hexdigest()


def _find(session, user_id: int, key: str) -> IdempotencyKey | None:
    return session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                       IdempotencyKey.key == key)
                          .execution_options(populate_existing=True))


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.response_body or "", status=row.status_code, content_type=row.content_type)
    response.headers[HEADER] = row.key
    response.headers[REPLAYED] = "true"
    return response


def _answer_existing(session, user_id: int, key: str, print_: str) -> Response | None:
    """The answer to a request whose key is already claimed (None when it is free after all)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        row = _find(session, user_id, key)
        if row is None:
            return None
        if row.fingerprint != print_:
            return _error(409, "This Idempotency-Key was used with a different request (method, path or body); "
                               "use a new key for a new request.")
        if row.status_code is not None:
            return _replay(row)
        # claimed and committed, so the write took effect; its response is about to be kept
        session.rollback()                  # let the other request's transaction write it (SQLite lock)
        if time.monotonic() >= deadline:
            return _error(409, "The request with this Idempotency-Key was carried out, but its response was "
                               "not kept (the server stopped in between); read the result with GET "
                               "rather than sending it again.")
        time.sleep(0.05)


def claim() -> Response | None:
    """``before_request`` of the API blueprints (after authentication): replay, refuse, or claim."""
    g.idempotency_claim = None
    key = request.headers.get(HEADER)
    if request.method not in WRITE_METHODS or key is None:
        return None
    if not KEY_RE.match(key):
        return _error(422, "Idempotency-Key must be 1 to 255 visible ASCII characters.")
    session = get_session()
    user_id = current_user.id
    print_ = fingerprint()
    for _attempt in range(3):
        answer = _answer_existing(session, user_id, key, print_)
        if answer is not None:
            return answer
        try:
            with session.begin_nested():
                session.add(IdempotencyKey(user_id=user_id, key=key, fingerprint=print_, method=request.method,
                                           path=request.path[:500]))
        except IntegrityError:      # a concurrent request claimed it first (and has committed)
            continue
        g.idempotency_claim = (user_id, key, print_)
        return None
    return _error(409, "This Idempotency-Key is being used by another request; try again.")


def never_kept(response: Response) -> Response:
    """Mark a response that must not be kept for replay: a file of personal data (a bank batch's full account
    numbers are decrypted into the file only, never stored). Its key is let go once the write has committed, so a
    retry makes the file again — and logs its reveal again — rather than replaying it."""
    response.keep_for_replay = False
    return response


def keep_response(response: Response) -> Response:
    """``after_request``: keep a 2xx response of a claimed request for replay (and commit it)."""
    claimed = g.pop("idempotency_claim", None)
    if claimed is None:
        return response
    session = get_session()
    if not 200 <= response.status_code < 300:
        session.rollback()              # a refused request leaves its key free
        return response
    user_id, key, print_ = claimed
    if getattr(response, "keep_for_replay", True) is False:
        session.rollback()              # (nothing but the claim is left uncommitted: the view has committed)
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key,
                                                     IdempotencyKey.fingerprint == print_))
        session.commit()
        return response
    values = {"status_code": response.status_code, "content_type": response.content_type,
              "response_body": response.get_data(as_text=True), "completed_at": dt.datetime.now(dt.UTC)}
    try:
        done = session.execute(update(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key, IdempotencyKey.fingerprint == print_)
            .values(**values).execution_options(synchronize_session=False)).rowcount
        if not done:        # the view rolled back (a dry run): keep its answer all the same
            session.add(IdempotencyKey(user_id=user_id, key=key, fingerprint=print_, method=request.method,
                                       path=request.path[:500], **values))
        session.commit()
    except SQLAlchemyError:
        # the write itself has committed; only its answer could not be kept (a retry then gets 409 saying so)
        session.rollback()
        current_app.logger.exception("Idempotency-Key %r: the response could not be kept", key)
    response.headers[HEADER] = key
    return response


def protect(blueprint) -> None:
    """Give ``blueprint`` (an API blueprint, after its authentication hook) idempotent writes."""
    blueprint.before_request(claim)
    blueprint.after_request(keep_response)


# -------------------------------------------------------------------------------------- OpenAPI document

PARAMETER = {
    "name": HEADER, "in": "header", "required": False,
    "description": "Optional. A key of your choosing (a UUID is fine), unique per write. Sending the same "
                   "request again with the same key changes nothing and replays the first response "
                   f"(marked `{REPLAYED}: true`); the same key with a different request answers 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


class IdempotencyPlugin(BasePlugin):
    """Adds the header (and its 409/422 answers) to every write operation of the document."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if method.upper() not in WRITE_METHODS:
                continue
            parameters = operation.setdefault("parameters", [])
            if not any(isinstance(p, dict) and p.get("name") == HEADER for p in parameters):
                parameters.append(dict(PARAMETER))
            responses = operation.setdefault("responses", {})
            responses.setdefault("409", {"description": "the Idempotency-Key was used with a different request "
                                                        "(or the state does not allow this)"})
            responses.setdefault("422", {"description": "invalid input (or an invalid Idempotency-Key)"})


def document(api) -> None:
    """Register the plugin on a flask-smorest ``Api`` before its blueprints are registered."""
    plugin = IdempotencyPlugin()
    plugin.init_spec(api.spec)
    api.spec.plugins.append(plugin)
