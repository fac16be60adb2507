"""Push-back settings from environment variables, validated once."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from intercom_pipeline.settings import ConfigurationError

MODES = ("score_and_comment", "score_only", "off")
# Intercom attribute names: letters, digits, underscores, hyphens, currency symbols.
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_\-$€£¥]+$")


@dataclass(frozen=True)
class PushSettings:
    mode: str = "score_and_comment"
    score_attribute: str = "survey_score"
    comment_attribute: str = "survey_comment"
    category_attribute: str = "survey_category"
    metric_attribute: str = "survey_metric"
    sent_event: str = "survey-sent"
    response_event: str = "survey-response"
    workers: int = 48  # enough in flight to reach the rate limit at ~250 ms per write

    @property
    def sends_comments(self) -> bool:
        return self.mode == "score_and_comment"

    def attribute_types(self) -> dict[str, str]:
        """Each contact attribute the push writes, with its Intercom data type.

        The comment is written in every mode: empty in score_only, to clear one sent before.
        """
        return {
            self.score_attribute: "integer",
            self.comment_attribute: "string",
            self.category_attribute: "string",
            self.metric_attribute: "string",
        }


def push_settings(environ: dict[str, str] | None = None) -> PushSettings:
    """Read INTERCOM_PUSH_*; a bad value raises ConfigurationError naming the variable and fix."""
    env = os.environ if environ is None else environ
    defaults = PushSettings()
    mode = env.get("INTERCOM_PUSH_MODE", defaults.mode).strip().lower() or defaults.mode
    if mode not in MODES:
        raise ConfigurationError(f"INTERCOM_PUSH_MODE={mode!r}: choose one of {', '.join(MODES)}")
    names = {}
    for field, variable in (
        ("score_attribute", "INTERCOM_PUSH_SCORE_ATTRIBUTE"),
        ("comment_attribute", "INTERCOM_PUSH_COMMENT_ATTRIBUTE"),
        ("category_attribute", "INTERCOM_PUSH_CATEGORY_ATTRIBUTE"),
        ("metric_attribute", "INTERCOM_PUSH_METRIC_ATTRIBUTE"),
    ):
        value = env.get(variable, "").strip() or getattr(defaults, field)
        if not _ATTRIBUTE_NAME.match(value):
            raise ConfigurationError(
                f"{variable}={value!r}: use letters, digits, underscores and hyphens only"
            )
        names[field] = value
    workers = env.get("INTERCOM_PUSH_WORKERS", str(defaults.workers)).strip()
    if not workers.isdigit() or not 1 <= int(workers) <= 128:
        raise ConfigurationError(f"INTERCOM_PUSH_WORKERS={workers!r}: a whole number, 1 to 128")
    return PushSettings(
        mode=mode,
        sent_event=env.get("INTERCOM_PUSH_SENT_EVENT", "").strip() or defaults.sent_event,
        response_event=env.get("INTERCOM_PUSH_RESPONSE_EVENT", "").strip()
        or defaults.response_event,
        workers=int(workers),
        **names,
    )
