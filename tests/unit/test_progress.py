"""Progress lines: a family is repeated only when it moved; the final lines give whole-run rates."""

from __future__ import annotations

from dataclasses import dataclass, field

from intercom_pipeline.sources.intercom.progress import Progress


@dataclass
class Client:
    rate_limit: int | None = 1_666  # per 10 s: a ceiling of 166.6 calls/s
    endpoint_stats: dict[str, dict[str, int]] = field(default_factory=dict)

    def called(self, endpoint: str, times: int) -> None:
        counts = self.endpoint_stats.setdefault(endpoint, {"api_calls": 0})
        counts["api_calls"] += times


def test_a_finished_family_is_not_repeated_and_the_final_rate_is_the_whole_run_s() -> None:
    now = [0.0]
    client = Client()
    progress = Progress(
        print, [client], ["admins", "conversations"], clock=lambda: now[0], interval=30
    )
    count_admins = progress.counter("admins")
    count_admins([{"id": i} for i in range(32)])
    client.called("admins", 1)
    client.called("conversations", 300)
    now[0] = 10.0
    first = progress.lines()
    assert [line.split(":")[0] for line in first] == ["progress admins", "progress conversations"]
    assert "30.0 calls/s (0.18 of 166.6)" in first[1]

    client.called("conversations", 1_300)
    now[0] = 20.0
    second = progress.lines()
    assert len(second) == 1  # admins did not move
    assert second[0].startswith("progress conversations: 0 rows, 1,600 calls, 130.0 calls/s")

    now[0] = 40.0  # nothing moved: nothing to say until the end
    assert progress.lines() == []
    client.called("conversations", 400)
    now[0] = 50.0
    (final,) = progress.lines(final=True)  # admins finished long ago: not repeated
    assert final.startswith("progress conversations: 0 rows, 2,000 calls, 40.0 calls/s (0.24 ")
