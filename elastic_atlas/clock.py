"""The one clock of releases and checkpoints: SOURCE_DATE_EPOCH when set (reproducible
builds), else today at 00:00 UTC. At the bottom of the package, so a checkpoint's date and a
release's timestamp come from the same place without the model importing the release."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from elastic_atlas.errors import EnvironmentSetupError


def created_timestamp() -> str:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else today at 00:00 UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    try:
        seconds = int(epoch)
        if seconds < 0:
            raise ValueError(epoch)
        moment = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise EnvironmentSetupError(
            f"SOURCE_DATE_EPOCH={epoch!r} is not a count of seconds since 1970; unset it or "
            "give e.g. $(git log -1 --format=%ct)"
        ) from None
    return moment.strftime("%Y-%m-%dT00:00:00Z")
