"""Kubernetes resource quantities ('500m', '2', '1Gi'): read, added up and written back, for the quotas
gitops-gen derives from the pods a tenant runs."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal

_SUFFIXES = {
    "": Decimal(1), "m": Decimal("0.001"), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
}
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?")


def parse_quantity(text: str) -> Decimal:
    m = _QUANTITY.fullmatch(text)
    if m is None:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    return Decimal(m.group(1)) * _SUFFIXES[m.group(2) or ""]


def cpu(value: Decimal) -> str:
    """CPUs, as whole cores when exact, else millicores (rounded up)."""
    milli = (value * 1000).to_integral_value(rounding=ROUND_CEILING)
    return str(int(milli // 1000)) if milli % 1000 == 0 else f"{int(milli)}m"


def memory(value: Decimal) -> str:
    """Bytes, as Gi when exact, else Mi (rounded up)."""
    mi = (value / _SUFFIXES["Mi"]).to_integral_value(rounding=ROUND_CEILING)
    return f"{int(mi // 1024)}Gi" if mi % 1024 == 0 else f"{int(mi)}Mi"
