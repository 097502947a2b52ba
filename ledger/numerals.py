"""Chinese capital numerals for money amounts (大写金额), as written on vouchers and cheques.

Capital numerals (壹贰叁… instead of 一二三…) make amounts hard to alter.  The writing rules follow
the PBOC 《支付结算办法》 and 《会计基础工作规范》 §52:

* Prefix ``人民币`` directly, with no gap.  Digits are 零壹贰叁肆伍陆柒捌玖; inside a four-digit group
  the positions are 仟 佰 拾; groups are joined by 万 and 亿 (so 10**12 is 壹万亿, and 壹万零壹亿 is
  10001 * 10**8).  Amounts up to 10**16 - 0.01 are supported.
* A leading ten is written 壹拾: 10 → 壹拾元整, 100000 → 壹拾万元整.
* Zeros in the integer part: a run of zeros between non-zero digits is written as one 零; zeros
  at the end of a group are not written; when a group after the first has leading zeros, or whole
  zero groups stand before a later non-zero group, a single 零 is written (never 零零).
* After 元: ``整`` when 角 and 分 are both zero; ``整`` after 角 when only 分 is zero; never ``整``
  when 分 is non-zero.  A zero 角 before a non-zero 分 is written 零 (元零伍分).  When 角 is
  non-zero and the 元 digit is zero, 零 is written before 角 (壹拾元零叁角整), the variant with 零.
* Amounts below one yuan omit 元 (伍角整, 伍分, 伍角陆分); zero is 人民币零元整.

Negative amounts (refunds, reversals) are written ``人民币负…`` — the sign right after the currency,
so the amount still starts with 人民币 and nothing can be slipped in between.  Amounts with a
non-zero digit beyond fen raise :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ledger.money import to_fen

__all__ = ["MAX_YUAN", "capital_numerals"]

DIGITS = "零壹贰叁肆伍陆柒捌玖"
POSITIONS = ("仟", "佰", "拾", "")  # place names inside a four-digit group, most significant first
MAX_YUAN = 10**16 - 1


def capital_numerals(amount: Decimal) -> str:
    """Write ``amount`` (yuan) in capital numerals: ``D("12345.67")`` → ``"人民币壹万贰仟叁佰肆拾伍元陆角柒分"``."""
    fen = to_fen(amount)
    sign = "负" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    if yuan > MAX_YUAN:
        raise ValueError(f"amount {amount} is too large for capital numerals (at most {MAX_YUAN}.99)")
    jiao, fen_digit = divmod(cents, 10)
    return f"人民币{sign}{_yuan_part(yuan)}{_fraction_part(yuan, jiao, fen_digit)}"


def _yuan_part(yuan: int) -> str:
    """The integer part followed by 元; empty below one yuan (except for zero itself)."""
    return f"{_integer(yuan)}元" if yuan else ""


def _fraction_part(yuan: int, jiao: int, fen: int) -> str:
    """The 角 and 分 part with its 零 and 整 markers."""
    if jiao == 0 and fen == 0:
        return "整" if yuan else "零元整"
    if jiao == 0:
        return f"零{DIGITS[fen]}分" if yuan else f"{DIGITS[fen]}分"
    zero = "零" if yuan and yuan % 10 == 0 else ""
    tail = f"{DIGITS[fen]}分" if fen else "整"
    return f"{zero}{DIGITS[jiao]}角{tail}"


def _integer(n: int) -> str:
    """A positive integer below 10**16: groups of four digits joined by 万, then 亿 above 10**8."""
    return _join(n, 10**8, "亿", _below_yi)


def _below_yi(n: int) -> str:
    """A positive integer below 10**8: two groups of four digits joined by 万."""
    return _join(n, 10**4, "万", _group)


def _join(n: int, base: int, unit: str, write_part: Callable[[int], str]) -> str:
    """Write ``n`` as ``high unit low``; a single 零 marks leading zeros of a non-zero ``low``."""
    high, low = divmod(n, base)
    if not high:
        return write_part(low)
    text = write_part(high) + unit
    if low:
        text += ("零" if low < base // 10 else "") + write_part(low)
    return text


def _group(n: int) -> str:
    """A number 1..9999 with 仟佰拾: inner zero runs become one 零, leading and trailing zeros vanish."""
    text, pending_zero = "", False
    for digit, position in zip(f"{n:04d}", POSITIONS, strict=True):
        if digit == "0":
            pending_zero = bool(text)
            continue
        text += ("零" if pending_zero else "") + DIGITS[int(digit)] + position
        pending_zero = False
    return text
