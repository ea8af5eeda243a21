"""Why the decoder refused a message, or one item of a batch: a stable reason and its detail.

:class:`Reject` is what :func:`glasswatch.ingest.validate.decode` returns for everything it
refuses; its ``reason`` is one of :data:`glasswatch.schemas.dead_letter.REASONS`.
:meth:`Reject.from_validation_error` names that reason for a pydantic ``ValidationError``: a
number outside its range is ``out_of_range`` even though the other members of its union fail
too, then ``non_finite``, ``missing_field``, ``oversize``, ``wrong_type``, else ``invalid``.

Examples
--------
>>> from pydantic import BaseModel, ValidationError
>>> class M(BaseModel):
...     p: float
>>> try:
...     M.model_validate({"p": "high"})
... except ValidationError as exc:
...     r = Reject.from_validation_error(exc, 3)
>>> r.reason, r.error_class, r.index
('wrong_type', 'ValidationError', 3)
>>> r.detail
'p: Input should be a valid number, unable to parse string as a number (1 errors)'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError as PydanticValidationError

__all__ = ["Reject"]


@dataclass(frozen=True, slots=True)
class Reject:
    """Why a message (or one item of a batch, ``index``) was refused."""

    reason: str
    error_class: str
    detail: str
    index: int | None = None

    @classmethod
    def from_validation_error(cls, exc: PydanticValidationError, index: int | None) -> Reject:
        """The reject for a pydantic error: the reason of the first error, by priority."""
        errors = exc.errors(include_url=False, include_input=False)
        reason, first = "invalid", errors[0]
        for name, matches in _REASONS_BY_PRIORITY:
            hit = next((e for e in errors if matches(str(e["type"]))), None)
            if hit is not None:
                reason, first = name, hit
                break
        where = ".".join(str(p) for p in first["loc"])
        return cls(reason, "ValidationError", f"{where}: {first['msg']} ({exc.error_count()} errors)", index)


_RANGE_ERRORS = frozenset({"less_than_equal", "greater_than_equal", "less_than", "greater_than"})


def _is_type_error(kind: str) -> bool:
    return kind.endswith("_type") or kind == "literal_error" or kind.endswith("_parsing")


_REASONS_BY_PRIORITY: tuple[tuple[str, Callable[[str], bool]], ...] = (
    # a number out of range also fails the other members of its union (int_type, finite_number
    # for a 400-digit integer read as a float): the range names the cause
    ("out_of_range", _RANGE_ERRORS.__contains__),
    ("non_finite", "finite_number".__eq__),
    ("missing_field", "missing".__eq__),
    ("oversize", {"too_long", "string_too_long"}.__contains__),
    ("wrong_type", _is_type_error),
)
