"""The AI agent (Fin) in the sandbox: the `ai_agent` object agrees with the parts and the spec.

Read through the API, as a loader would, after the clock moved an hour with new conversations
(the generated ones and those of the move alike): every conversation the AI agent took part in carries
the whole object, the others none; its resolution state is the one its parts show; its content
sources are the workspace's articles as GET /articles renders them (or Intercom's internal
content urls); ratings only follow a resolution state.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from intercom_sandbox import RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.activity import Activity, advance
from intercom_sandbox.generator import build_workspace
from tests.conftest import SandboxClient
from tests.sandbox.helpers import walk_numbered, walk_search
from tests.sandbox.spec import (
    COMPANY_CUSTOM_ATTRIBUTES,
    CONVERSATION_CUSTOM_ATTRIBUTES,
    SpecChecker,
    load_spec,
)

RESOLVED_ALONE = {"assumed_resolution", "confirmed_resolution", "negative_feedback"}
HANDED_OFF = {"escalated", "procedure_handoff"}
CUSTOMERS = ("user", "lead")


NEW_IN_THE_HOUR = 80


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox(SandboxConfig(seed=3, scale="tiny"))) as running:
        yield running


@pytest.fixture(scope="module")
def client(running: RunningSandbox) -> SandboxClient:
    return SandboxClient(running)


@pytest.fixture(scope="module")
def moved(client: SandboxClient) -> dict[str, Any]:
    """What an hour of the clock changed: new conversations, some of them chats Fin answers."""
    body = {"seconds": 3_600, "activity": {"new_conversations": NEW_IN_THE_HOUR}}
    return client.control("POST", "/clock/advance", body)["changes"]


@pytest.fixture(scope="module")
def conversations(
    running: RunningSandbox, client: SandboxClient, moved: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every conversation as GET /conversations/{id} answers it (with its parts)."""
    found = []
    for conversation in running.sandbox.workspace.conversations:
        response = client.get(f"/conversations/{conversation.id}")
        assert response.status_code == 200, response.text
        found.append(response.json())
    return found


@pytest.fixture(scope="module")
def with_ai(conversations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in conversations if c["ai_agent_participated"]]


def parts(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    return conversation["conversation_parts"]["conversation_parts"]


def ai_phase(conversation: dict[str, Any]) -> dict[str, Any]:
    """What the parts show after the AI agent's first message (its answer, if any)."""
    found = parts(conversation)
    first = next(i for i, p in enumerate(found) if p["author"]["from_ai_agent"])
    after = found[first + 1 :]
    handoff = next(
        (
            i
            for i, p in enumerate(after)
            if p["part_type"] == "assignment" or p["author"]["type"] == "admin"
        ),
        None,
    )
    before_handoff = after if handoff is None else after[:handoff]
    return {
        "answer": found[first],
        "handed_off": handoff is not None,
        "customer_replies": [
            p
            for p in before_handoff
            if p["part_type"] == "comment" and p["author"]["type"] in CUSTOMERS
        ],
        "closed_by_ai": bool(before_handoff)
        and before_handoff[-1]["part_type"] == "close"
        and before_handoff[-1]["author"]["id"] == found[first]["author"]["id"],
    }


def test_ai_agent_is_there_exactly_when_the_ai_agent_took_part(
    conversations: list[dict[str, Any]], with_ai: list[dict[str, Any]]
) -> None:
    assert 0 < len(with_ai) < len(conversations)
    for conversation in conversations:
        took_part = conversation["ai_agent_participated"]
        assert ("ai_agent" in conversation) == took_part, conversation["id"]
        authored = any(p["author"]["from_ai_agent"] for p in parts(conversation))
        assert authored == took_part, conversation["id"]
        assert all(
            p["author"]["from_ai_agent"] or not p["author"]["is_ai_answer"]
            for p in parts(conversation)
        )


def test_every_ai_agent_object_conforms_to_the_spec(with_ai: list[dict[str, Any]]) -> None:
    checker = SpecChecker(load_spec())
    for conversation in with_ai:
        assert checker.schema_errors(conversation["ai_agent"], "ai_agent") == []
        # The custom attributes' documented defects aside (spec.py), the whole answer conforms.
        corrected = frozenset({CONVERSATION_CUSTOM_ATTRIBUTES, COMPANY_CUSTOM_ATTRIBUTES})
        assert checker.schema_errors(conversation, "conversation", corrected) == []


def test_the_resolution_state_is_the_one_the_parts_show(with_ai: list[dict[str, Any]]) -> None:
    """An answer then a hand-off: escalated or procedure_handoff. An answer then the AI agent's
    own close: assumed_resolution, or with the customer's reply in between
    confirmed_resolution (or negative_feedback). No answer: no resolution state."""
    seen = Counter()
    for conversation in with_ai:
        agent, phase = conversation["ai_agent"], ai_phase(conversation)
        state, answer_type = agent["resolution_state"], agent["last_answer_type"]
        seen[state] += 1
        assert phase["answer"]["author"]["is_ai_answer"] == (answer_type == "ai_answer")
        if answer_type is None:
            assert state is None, conversation["id"]
            continue
        if phase["handed_off"]:
            assert state in HANDED_OFF, conversation["id"]
            assert not phase["closed_by_ai"]
        elif phase["closed_by_ai"]:
            assert state in RESOLVED_ALONE, conversation["id"]
            replied = bool(phase["customer_replies"])
            assert replied == (state != "assumed_resolution"), conversation["id"]
        else:  # the clock stopped the AI agent's turn: nothing decided yet
            assert state is None, conversation["id"]
        if state == "procedure_handoff":
            assert agent["source_type"] == "workflow"
    assert {"escalated", "procedure_handoff", "confirmed_resolution", None} <= set(seen)


def test_content_sources_are_the_workspaces_articles_or_internal_content(
    client: SandboxClient, with_ai: list[dict[str, Any]]
) -> None:
    articles = {
        (a["title"], a["url"])
        for a in walk_numbered(client, "GET", "/articles", 50)
        if a["url"] is not None
    }
    cited = Counter()
    for conversation in with_ai:
        agent = conversation["ai_agent"]
        listing = agent["content_sources"]
        sources = listing["content_sources"]
        assert listing["type"] == "content_source.list"
        assert listing["total_count"] == len(sources)
        expected = (1, 3) if agent["last_answer_type"] == "ai_answer" else (0, 0)
        assert expected[0] <= len(sources) <= expected[1], conversation["id"]
        assert len({(s["content_type"], s["url"]) for s in sources}) == len(sources)
        for source in sources:
            cited[source["content_type"]] += 1
            assert source["locale"] == "en"
            if source["content_type"] == "article":
                assert (source["title"], source["url"]) in articles
            else:
                assert source["url"].startswith("/fin-ai-agent/content?content=")
    assert cited["article"] > sum(cited.values()) / 2


def test_ratings_follow_a_resolution_state(with_ai: list[dict[str, Any]]) -> None:
    rated = 0
    for conversation in with_ai:
        agent = conversation["ai_agent"]
        if agent["rating"] is None:
            assert agent["rating_remark"] is None and agent["created_at"] is None
            continue
        rated += 1
        assert agent["resolution_state"] is not None
        assert 1 <= agent["rating"] <= 5
        assert agent["created_at"] == agent["updated_at"]
        assert parts(conversation)[0]["created_at"] < agent["created_at"]
        assert agent["created_at"] <= conversation["updated_at"]
    assert rated > 0


def test_source_title_is_null_only_for_the_essentials_setup(with_ai: list[dict[str, Any]]) -> None:
    for conversation in with_ai:
        agent = conversation["ai_agent"]
        assert (agent["source_title"] is None) == (agent["source_type"] == "essentials_plan_setup")


def test_the_ai_agent_is_the_same_for_the_same_seed() -> None:
    first, second = build_workspace(4, "tiny"), build_workspace(4, "tiny")
    assert [c.ai_agent for c in first.conversations] == [c.ai_agent for c in second.conversations]
    assert any(c.ai_agent is not None for c in first.conversations)


def test_the_clocks_new_chats_meet_the_ai_agent_too(
    moved: dict[str, Any], with_ai: list[dict[str, Any]]
) -> None:
    """As in the history: a share of new chats get Fin's answer first, with its sources, and
    are then handed to the team; emails never are."""
    new = set(moved["new_conversations"])
    assert len(new) == NEW_IN_THE_HOUR
    answered = [c for c in with_ai if c["id"] in new]
    assert 0 < len(answered) < len(new) / 2
    for conversation in answered:
        assert conversation["source"]["type"] == "conversation"
        first, handoff = parts(conversation)[:2]
        assert first["author"]["from_ai_agent"] and handoff["part_type"] == "assignment"
        assert conversation["created_at"] <= first["created_at"] <= handoff["created_at"]
        assert conversation["updated_at"] == handoff["created_at"]
    cited = [c for c in answered if c["ai_agent"]["content_sources"]["content_sources"]]
    assert cited and all(c["ai_agent"]["resolution_state"] in HANDED_OFF for c in cited)


def test_the_clocks_ai_agent_is_the_same_for_the_same_seed() -> None:
    def new_agents() -> list[Any]:
        ws = build_workspace(4, "tiny")
        changes = advance(ws, 3_600, Activity(new_conversations=40), random.Random(9))
        added = set(changes.new_conversations)
        return [c.ai_agent for c in ws.conversations if c.id in added]

    first = new_agents()
    assert first == new_agents() and any(agent is not None for agent in first)


def test_conversations_can_be_searched_by_the_ai_agents_fields(
    client: SandboxClient, with_ai: list[dict[str, Any]]
) -> None:
    """intercom_api.md: ai_agent.resolution_state, rating, ... are searchable fields."""
    for field, value in (("resolution_state", "escalated"), ("rating", 5)):
        query = {"field": f"ai_agent.{field}", "operator": "=", "value": value}
        found = {
            c["id"]
            for c in walk_search(client, "/conversations/search", "conversations", query, 150)
        }
        expected = {c["id"] for c in with_ai if c["ai_agent"][field] == value}
        assert found == expected and expected
