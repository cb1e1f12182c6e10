"""The password policy (OWASP ASVS 4.0 V2.1, level 2).

- At least 12 characters and at most 128 (V2.1.1, V2.1.2), counted after
  Unicode NFC normalisation, so a Japanese or Cyrillic passphrase counts its
  letters, not its bytes; every printable character is allowed, spaces too
  (V2.1.4), and nothing is truncated (V2.1.3).
- No composition rules and no forced rotation (V2.1.9, V2.1.10); instead the
  password must not be easy to guess (V2.1.7): zxcvbn scores it against its
  lists of common and breached passwords, words, names, keyboard patterns,
  dates and sequences, and against the person's own employee code, name and
  e-mail. A score below 3 ("safely unguessable: moderate protection from an
  offline attack") is refused with zxcvbn's reason.
"""
from __future__ import annotations

import re
import unicodedata

from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_SCORE = 3
# zxcvbn is quadratic-ish in length; beyond this it gains nothing (a passphrase
# this long is strong unless it repeats, which the first 64 characters show).
_SCORED_PREFIX = 64
# Characters a password must keep once the person's own words are taken out.
_PERSONAL_REST = 8


def problems(password: str, *, personal: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with ``password`` (an empty list when it is acceptable).

    ``personal`` holds the person's own words (code, name, e-mail) that the
    password must not lean on.
    """
    text = unicodedata.normalize("NFC", password or "")
    found = []
    if len(text) < MIN_LENGTH:
        found.append(f"use at least {MIN_LENGTH} characters (a few words make a good one)")
    elif len(text) > MAX_LENGTH:
        found.append(f"use at most {MAX_LENGTH} characters")
    elif not text.isprintable():
        found.append("use only printable characters (no control characters)")
    else:
        inputs = ["winback"]
        for value in personal:
            inputs += [w for w in re.split(r"[\s@._\-]+", (value or "").lower()) if len(w) >= 3]
        result = zxcvbn(text[:_SCORED_PREFIX], user_inputs=inputs)
        # zxcvbn misses personal words joined by spaces or digits ("pat kowalski p01"):
        # what is left without them and without separators must still be a password.
        rest = text.lower()
        for word in sorted(set(inputs), key=len, reverse=True):
            rest = rest.replace(word, "")
        if len(re.sub(r"[\W_]+", "", rest)) < _PERSONAL_REST:
            found.append("your own name, employee code, e-mail or the product's name are easy to "
                         "guess: build the password from other words")
        elif result["score"] < MIN_SCORE:
            reason = result["feedback"].get("warning") or "This password is easy to guess."
            advice = " ".join(result["feedback"].get("suggestions") or [])
            found.append(f"{reason.rstrip('.')}: choose something harder to guess. {advice}".strip())
    return found


def personal_words(staff) -> tuple[str, ...]:
    return tuple(v for v in (staff.employee_code, staff.name, staff.email) if v)
