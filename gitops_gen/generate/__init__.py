"""Pure builders: the model in, files (path -> text) out. Same model, same bytes.

Every derived file starts with a two-line header: where it comes from, and a digest of the
rest of the file. The digest tells a hand edit (body no longer matches it) from a stale file
(body matches, but the declarations now produce something else).
"""

from __future__ import annotations

import hashlib

from gitops_gen.estate.layout import GENERATED_MARK

_SECOND = "# change the declaration and run 'gitops-gen generate'"


def header(source: str) -> str:
    return f"{GENERATED_MARK} from {source}. Do not edit:\n{_SECOND}.\n"


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def seal(text: str) -> str:
    """Write the digest of the body into the header of a derived file."""
    first, second, body = _split(text)
    if second is None or not second.startswith(_SECOND):
        return text
    return f"{first}\n{_SECOND}; digest {_digest(body)}\n{body}"


def _split(text: str) -> tuple[str, str | None, str]:
    parts = text.split("\n", 2)
    if len(parts) < 3:
        return text, None, ""
    return parts[0], parts[1], parts[2]


def is_generated(text: str) -> bool:
    return text.startswith(GENERATED_MARK)


def is_hand_edited(text: str) -> bool:
    """True when a derived file's body no longer matches the digest in its header."""
    _, second, body = _split(text)
    if second is None or "; digest " not in second:
        return True
    return second.rsplit("; digest ", 1)[1].strip() != _digest(body)
