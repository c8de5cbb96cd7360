"""The outbox entry format, and queuing one inside an open Redis transaction."""

from __future__ import annotations

from typing import Any

from bot import keys


def entry(*, message_id: str, to: str, body: str, kind: str, not_before: float | None = None) -> dict[str, str]:
    fields = {"id": message_id, "to": to, "body": body, "kind": kind}
    if not_before is not None:
        fields["not_before"] = f"{not_before:.3f}"
    return fields


def queue(pipe: Any, *, message_id: str, to: str, body: str, kind: str,
          not_before: float | None = None) -> None:  # fmt: skip
    """XADD on a pipeline (usually in MULTI): atomic with the state change that caused it."""
    fields = entry(message_id=message_id, to=to, body=body, kind=kind, not_before=not_before)
    pipe.xadd(keys.OUTBOX, fields)  # type: ignore[arg-type]
