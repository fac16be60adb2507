"""Builds a deterministic workspace from a seed, at a chosen scale.

The same seed, scale and clock always give byte-identical API responses. Conversations are
scripted part by part (bot answers, assignments, replies, notes, closes, reopens, snoozes), and the
statistics Intercom reports are derived from those parts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from intercom_sandbox import text
from intercom_sandbox.generate_extras import add_history_logs
from intercom_sandbox.model import (
    Admin,
    AiAgent,
    AppliedTag,
    Article,
    Collection,
    Company,
    Contact,
    ContentSource,
    Conversation,
    DataAttribute,
    Event,
    HelpCenter,
    Part,
    Rating,
    Segment,
    Tag,
    Team,
    Ticket,
    TicketPart,
    TicketState,
    TicketType,
)
from intercom_sandbox.render import article_url
from intercom_sandbox.workspace import DAY, Workspace, conversation_id

HOUR = 3_600
MINUTE = 60
# Days a huge conversation's script may need: up to 410 exchanges of at most 2,100 s each.
HUGE_SCRIPT_DAYS = 12
DEFAULT_NOW = 1_793_491_200  # 2026-11-01T00:00:00Z: a fixed clock keeps the data deterministic


@dataclass(frozen=True)
class Scale:
    admins: int
    teams: int
    companies: int
    contacts: int
    conversations: int
    huge_conversations: int  # conversations with more than the 500 parts the API returns
    articles: int
    collections: int
    history_days: int  # conversations start within this many days before the clock
    extra_exchanges: int = 0  # customer/admin reply pairs added to every answered conversation


SCALES: dict[str, Scale] = {
    "tiny": Scale(8, 3, 30, 200, 300, 1, 12, 4, 60),
    "demo": Scale(32, 12, 300, 2_000, 3_000, 3, 40, 10, 120),
    "bench": Scale(80, 15, 20_000, 200_000, 100_000, 20, 200, 30, 365, extra_exchanges=2),
}

# Contact custom attributes: (name, data type, description).
CONTACT_ATTRIBUTES = (
    ("plan", "string", "Subscription plan"),
    ("subscription_status", "string", "Billing status of the subscription"),
    ("seats", "integer", "Number of paid seats"),
    ("mrr", "float", "Monthly recurring revenue in USD"),
    ("beta_tester", "boolean", "Joined the beta programme"),
    ("trial_ends_at", "date", "When the free trial ends"),
)
COMPANY_ATTRIBUTES = (
    ("tier", "string", "Account tier"),
    ("employees", "integer", "Number of employees"),
    ("arr", "float", "Annual recurring revenue in USD"),
    ("is_partner", "boolean", "Reseller or agency partner"),
    ("renewal_date", "date", "Next contract renewal"),
)
BUILTIN_CONTACT_ATTRIBUTES = (
    ("name", "string"),
    ("email", "string"),
    ("phone", "string"),
    ("external_id", "string"),
    ("signed_up_at", "date"),
    ("last_seen_at", "date"),
    ("created_at", "date"),
    ("updated_at", "date"),
    ("role", "string"),
    ("owner_id", "integer"),
    ("unsubscribed_from_emails", "boolean"),
    ("location.country", "string"),
    ("location.city", "string"),
    ("browser", "string"),
    ("os", "string"),
)
BUILTIN_COMPANY_ATTRIBUTES = (
    ("name", "string"),
    ("company_id", "string"),
    ("plan.name", "string"),
    ("size", "integer"),
    ("website", "string"),
    ("industry", "string"),
    ("monthly_spend", "float"),
    ("created_at", "date"),
    ("last_request_at", "date"),
)
SEGMENTS = (
    ("Active users", "user", "active_users"),
    ("New leads", "contact", "new_leads"),
    ("Enterprise customers", "user", "enterprise"),
    ("Free trial", "user", "free_trial"),
    ("Unsubscribed", "contact", "unsubscribed"),
    ("Everyone in the USA", "contact", "usa"),
    ("VIPs", "contact", "tag:vip"),
)
TICKET_STATES = (
    ("submitted", "Submitted", "Submitted"),
    ("in_progress", "In progress", "In progress"),
    ("waiting_on_customer", "Waiting on customer", "Awaiting your reply"),
    ("resolved", "Resolved", "Resolved"),
)
SLAS = ("First response 1h", "VIP 30 minutes", "Standard 8h")
PRIORITIES = ("none", "low", "medium", "high", "urgent")
PRIORITY_WEIGHTS = (70, 5, 10, 10, 5)
RATING_WEIGHTS = (10, 8, 12, 25, 45)  # 1..5 stars
# The AI agent: what triggered it, what it answered with, and how customers rated each outcome.
AI_SOURCE_TYPES = ("workflow", "profile", "essentials_plan_setup", "fin_preview")
AI_SOURCE_WEIGHTS = (55, 30, 12, 3)
AI_ANSWER_TYPES = ("ai_answer", "custom_answer", None)
AI_ANSWER_WEIGHTS = (75, 15, 10)
AI_RESOLUTIONS = ("assumed_resolution", "confirmed_resolution", "negative_feedback")
AI_RESOLUTION_WEIGHTS = (55, 35, 10)
# Share of chats the AI agent answers first, and of workflow hand-offs that are a procedure's.
AI_FIRST_SHARE = 0.4
AI_PROCEDURE_SHARE = 0.3
AI_RATING_WEIGHTS = {  # 1..5 stars by resolution state
    "confirmed_resolution": (0, 0, 5, 25, 70),
    "assumed_resolution": (5, 5, 15, 35, 40),
    "negative_feedback": (50, 30, 15, 5, 0),
    "escalated": (20, 20, 25, 20, 15),
    "procedure_handoff": (15, 20, 30, 20, 15),
}


def build_workspace(seed: int = 1, scale: str = "demo", now: int = DEFAULT_NOW) -> Workspace:
    """Generate the whole workspace. Raises ValueError for an unknown scale."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    return _Builder(seed, SCALES[scale], now).build()


def _number_by_creation(conversations: list[Conversation], tickets: list[Ticket]) -> None:
    """Sort by created_at and give ids in that order, as Intercom's ids grow with creation time.

    Ties keep their generation order. Tickets follow their conversation to its new id.
    """
    conversations.sort(key=lambda c: c.created_at)
    renamed = {}
    for number, conversation in enumerate(conversations):
        new_id = conversation_id(number)
        renamed[conversation.id] = new_id
        conversation.id = new_id
    for ticket in tickets:
        if ticket.conversation_id is not None:
            ticket.conversation_id = renamed[ticket.conversation_id]


def hex_id(rng: random.Random) -> str:
    """A 24-hex id shaped like Intercom's contact, company and segment ids."""
    return f"{rng.getrandbits(96):024x}"


class _Builder:
    def __init__(self, seed: int, scale: Scale, now: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.scale = scale
        self.now = now
        self.app_id = f"sbx{seed:05d}"
        self.part_id = 9_000_000_000
        # The AI agent's choices draw from their own stream, so adding them left every other
        # generated value as it was.
        self.ai_rng = random.Random(seed * 104_729 + 18)
        self.ai_sources: list[ContentSource] = []

    def build(self) -> Workspace:
        admins, teams = self.admins_and_teams()
        self.admins, self.teams = admins, teams
        self.bot_ids = ["9900001", "9900002"]
        tags = self.tags()
        self.tag_ids = {t.name: t.id for t in tags}
        attributes = self.data_attributes()
        help_centers, collections, articles = self.help_content()
        self.ai_sources = self.ai_content_sources(articles)
        companies = self.companies()
        contacts = self.contacts(companies)
        ticket_types, ticket_states = self.ticket_catalogue()
        self.ticket_types, self.ticket_states = ticket_types, ticket_states
        conversations, tickets = self.conversations(contacts)
        workspace = Workspace(
            app_id=self.app_id,
            seed=self.seed,
            now=self.now,
            admins=admins,
            bot_ids=self.bot_ids,
            teams=teams,
            tags=tags,
            segments=self.segments(),
            data_attributes=attributes,
            help_centers=help_centers,
            collections=collections,
            articles=articles,
            companies=companies,
            contacts=contacts,
            conversations=conversations,
            ticket_types=ticket_types,
            ticket_states=ticket_states,
            tickets=tickets,
            next_part_id=self.part_id,
            conversation_count=len(conversations),
            ai_sources=self.ai_sources,
        )
        for event in self.events(contacts):
            workspace.add_event(event)
        workspace.recount_company_users()
        add_history_logs(workspace)
        workspace.version = 0
        return workspace

    # --- people ----------------------------------------------------------------------------

    def person_name(self) -> str:
        return f"{self.rng.choice(text.FIRST_NAMES)} {self.rng.choice(text.LAST_NAMES)}"

    def admins_and_teams(self) -> tuple[list[Admin], list[Team]]:
        rng, scale = self.rng, self.scale
        admins = []
        for i in range(scale.admins):
            name = self.person_name()
            admins.append(
                Admin(
                    id=str(991_200_000 + i * 7),
                    name=name,
                    email=f"{name.split()[0].lower()}.{i}@sandbox-support.example",
                    job_title=rng.choice(text.JOB_TITLES),
                    team_ids=[],
                    away_mode_enabled=rng.random() < 0.1,
                    has_inbox_seat=rng.random() < 0.9,
                )
            )
        teams = []
        for i in range(scale.teams):
            members = rng.sample(admins, k=max(2, min(len(admins), rng.randint(3, 8))))
            team = Team(
                id=str(814_000 + i),
                name=text.TEAM_NAMES[i % len(text.TEAM_NAMES)],
                admin_ids=sorted(int(a.id) for a in members),
                distribution_method=rng.choice(("round_robin", "balanced")),
                assignment_limit=rng.choice((None, 10, 25)),
            )
            for admin in members:
                admin.team_ids.append(int(team.id))
            teams.append(team)
        return admins, teams

    def tags(self) -> list[Tag]:
        names = [*text.GENERAL_TAGS, *text.SUPPRESSION_TAGS]
        return [Tag(id=str(5_100_000 + i), name=name) for i, name in enumerate(names)]

    def segments(self) -> list[Segment]:
        created = self.now - 400 * DAY
        return [
            Segment(hex_id(self.rng), name, person_type, created + i * DAY, created + i * DAY, rule)
            for i, (name, person_type, rule) in enumerate(SEGMENTS)
        ]

    def data_attributes(self) -> list[DataAttribute]:
        created = self.now - 500 * DAY
        attributes = []
        for model, builtins, customs in (
            ("contact", BUILTIN_CONTACT_ATTRIBUTES, CONTACT_ATTRIBUTES),
            ("company", BUILTIN_COMPANY_ATTRIBUTES, COMPANY_ATTRIBUTES),
        ):
            for name, data_type in builtins:
                attributes.append(
                    DataAttribute(
                        model=model,
                        name=name,
                        full_name=name,
                        label=name.replace("_", " ").replace(".", " ").title(),
                        description=f"The {model}'s {name.replace('_', ' ')}",
                        data_type=data_type,
                        custom=False,
                        created_at=created,
                        updated_at=created,
                        api_writable=name not in ("created_at", "updated_at"),
                    )
                )
            for name, data_type, description in customs:
                attributes.append(
                    DataAttribute(
                        model=model,
                        name=name,
                        full_name=f"custom_attributes.{name}",
                        label=name.replace("_", " ").title(),
                        description=description,
                        data_type=data_type,
                        custom=True,
                        created_at=created,
                        updated_at=created,
                        id=len(attributes) + 3_000,
                        options=list(text.PLANS) if name == "plan" else [],
                        admin_id=self.admins[0].id,
                    )
                )
        return attributes

    def help_content(self) -> tuple[list[HelpCenter], list[Collection], list[Article]]:
        rng, scale = self.rng, self.scale
        created = self.now - 600 * DAY
        centers = [
            HelpCenter("880001", "help", "Help Center", created, created + 30 * DAY, True),
            HelpCenter("880002", "developers", "Developer Hub", created, created + 60 * DAY, False),
        ]
        collections: list[Collection] = []
        for i in range(scale.collections):
            top_level = [c for c in collections if c.parent_id is None]
            parent = rng.choice(top_level).id if top_level and i % 3 == 2 else None
            updated = created + rng.randint(1, 500) * DAY
            collections.append(
                Collection(
                    id=str(770_001 + i),
                    name=text.ARTICLE_TOPICS[i % len(text.ARTICLE_TOPICS)],
                    description=f"Articles about {text.ARTICLE_TOPICS[i % 12].lower()}",
                    help_center_id=int(centers[i % 2].id),
                    parent_id=parent,
                    order=i,
                    created_at=created,
                    updated_at=updated,
                )
            )
        articles = []
        for i in range(scale.articles):
            topic = text.ARTICLE_TOPICS[i % len(text.ARTICLE_TOPICS)]
            updated = created + rng.randint(1, 590) * DAY
            articles.append(
                Article(
                    id=str(660_001 + i),
                    title=f"{topic} ({i + 1})",
                    description=f"How to: {topic.lower()}",
                    body=f"<p>{topic}: follow these steps.</p><ol><li>Open settings</li><li>Save</li></ol>",
                    author_id=int(rng.choice(self.admins).id),
                    state="published" if rng.random() < 0.85 else "draft",
                    parent_ids=[int(rng.choice(collections).id)] if collections else [],
                    created_at=created,
                    updated_at=updated,
                )
            )
        return centers, collections, articles

    def ai_content_sources(self, articles: list[Article]) -> list[ContentSource]:
        """What the AI agent may answer from: the published articles, then a few others.

        Articles carry their title and url as GET /articles shows them; the others (snippets,
        files, external pages) Intercom's internal content url.
        """
        sources = [
            ContentSource("article", url, a.title)
            for a in articles
            if (url := article_url(self.app_id, a)) is not None
        ]
        for content_type, source_id, title in text.AI_OTHER_SOURCES:
            url = f"/fin-ai-agent/content?content={content_type}&id={source_id}"
            sources.append(ContentSource(content_type, url, title))
        return sources

    def companies(self) -> list[Company]:
        rng = self.rng
        companies = []
        for i in range(self.scale.companies):
            name = f"{rng.choice(text.COMPANY_WORDS)} {rng.choice(text.COMPANY_SUFFIXES)}"
            if i >= len(text.COMPANY_WORDS) * len(text.COMPANY_SUFFIXES) // 4:
                name = f"{name} {i}"
            created = self.now - rng.randint(30, 900) * DAY
            tier = rng.choice(text.PLANS[1:])
            company = Company(
                id=hex_id(rng),
                company_id=f"cmp_{i + 1:06d}",
                name=name,
                plan=tier,
                created_at=created,
                updated_at=created + rng.randint(0, 25) * DAY,
                remote_created_at=created - rng.randint(0, 400) * DAY,
                last_request_at=self.now - rng.randint(0, 60) * DAY - rng.randint(0, DAY),
                size=rng.choice((5, 12, 40, 150, 800, 5000)),
                website=f"https://{name.split()[0].lower()}{i}.example.com",
                industry=rng.choice(text.INDUSTRIES),
                monthly_spend=rng.randint(0, 20_000),
                session_count=rng.randint(0, 5_000),
                custom_attributes={
                    "tier": tier,
                    "employees": rng.randint(2, 10_000),
                    "arr": round(rng.uniform(0, 500_000), 2),
                    "is_partner": rng.random() < 0.1,
                    "renewal_date": self.now + rng.randint(-30, 365) * DAY,
                },
            )
            if rng.random() < 0.2:
                tag = rng.choice(text.GENERAL_TAGS)
                company.tags.append(
                    AppliedTag(self.tag_ids[tag], created + DAY, rng.choice(self.admins).id)
                )
            companies.append(company)
        return companies

    def contacts(self, companies: list[Company]) -> list[Contact]:
        rng, now = self.rng, self.now
        contacts: list[Contact] = []
        tag_names = [*text.GENERAL_TAGS, *text.SUPPRESSION_TAGS]
        for i in range(self.scale.contacts):
            is_user = rng.random() < 0.7
            name = self.person_name()
            created = now - rng.randint(1, 730) * DAY - rng.randint(0, DAY)
            last_seen = min(now - 60, created + rng.randint(0, (now - created) // DAY + 1) * DAY)
            country, region, city = rng.choice(text.LOCATIONS)
            plan = rng.choice(text.PLANS)
            contact = Contact(
                id=hex_id(rng),
                role="user" if is_user else "lead",
                email=f"{name.split()[0].lower()}.{name.split()[1].lower().replace(chr(39), '')}{i}@customer-mail.example",
                name=name if is_user or rng.random() < 0.5 else None,
                created_at=created,
                updated_at=max(created, last_seen),
                external_id=f"usr_{i + 1:07d}" if is_user else None,
                phone=f"+1555{rng.randint(1_000_000, 9_999_999)}" if rng.random() < 0.3 else None,
                owner_id=rng.choice(self.admins).id if rng.random() < 0.4 else None,
                signed_up_at=created + rng.randint(0, 3_600) if is_user else None,
                last_seen_at=last_seen,
                last_contacted_at=last_seen - rng.randint(0, 20) * DAY
                if rng.random() < 0.5
                else None,
                last_email_opened_at=last_seen - DAY if rng.random() < 0.3 else None,
                unsubscribed_from_emails=rng.random() < 0.05,
                has_hard_bounced=rng.random() < 0.01,
                marked_email_as_spam=rng.random() < 0.005,
                country=country,
                region=region,
                city=city,
                browser=rng.choice(text.BROWSERS),
                os=rng.choice(text.OPERATING_SYSTEMS),
                browser_language=rng.choice(text.LANGUAGES),
                language_override="de" if rng.random() < 0.02 else None,
                custom_attributes={
                    "plan": plan,
                    "subscription_status": "Free Trial"
                    if plan == "Free Trial"
                    else rng.choice(("Active", "Active", "Active", "Cancelled", "Past Due")),
                    "seats": rng.randint(1, 250),
                    "mrr": round(rng.uniform(0, 3_000), 2),
                    "beta_tester": rng.random() < 0.15,
                    "trial_ends_at": created + 14 * DAY if plan == "Free Trial" else None,
                }
                if is_user
                else {"plan": "Free Trial", "seats": 1, "beta_tester": False},
                notes_count=rng.choice((0, 0, 0, 1, 2)),
            )
            # Most users belong to one company; a few belong to more than the 10 Intercom embeds.
            if is_user and companies:
                many = i % 997 == 3
                count = rng.randint(11, 13) if many else (1 if rng.random() < 0.8 else 2)
                contact.company_ids = [
                    c.id for c in rng.sample(companies, min(count, len(companies)))
                ]
            tag_count = rng.randint(11, 14) if i % 499 == 7 else (1 if rng.random() < 0.2 else 0)
            for tag_name in rng.sample(tag_names, tag_count):
                contact.tags.append(
                    AppliedTag(self.tag_ids[tag_name], created + DAY, rng.choice(self.admins).id)
                )
            contacts.append(contact)
        # About 1% of leads were merged into a user: gone from lists, 410 on GET.
        users = [c for c in contacts if c.role == "user"]
        for contact in contacts:
            if contact.role == "lead" and users and rng.random() < 0.01:
                contact.merged_into = rng.choice(users).id
        return contacts

    def events(self, contacts: list[Contact]) -> list[Event]:
        rng, events = self.rng, []
        for contact in contacts:
            if contact.role != "user" or rng.random() > 0.05:
                continue
            for _ in range(rng.randint(1, 4)):
                name = rng.choice(("viewed-pricing", "invited-teammate", "exported-report"))
                at = self.now - rng.randint(1, 150) * DAY + rng.randint(0, DAY - 1)
                events.append(Event(contact.id, name, at, {"source": "web"}))
        return events

    # --- conversations ---------------------------------------------------------------------

    def ticket_catalogue(self) -> tuple[list[TicketType], list[TicketState]]:
        created = self.now - 300 * DAY
        types = [
            TicketType(str(40 + i), name, category, description, icon, created, created)
            for i, (name, category, description, icon) in enumerate(text.TICKET_TYPES)
        ]
        states = [
            TicketState(str(7_100 + i), category, internal, external)
            for i, (category, internal, external) in enumerate(TICKET_STATES)
        ]
        return types, states

    def conversations(self, contacts: list[Contact]) -> tuple[list[Conversation], list[Ticket]]:
        rng = self.rng
        reachable = [c for c in contacts if c.visible]
        conversations: list[Conversation] = []
        tickets: list[Ticket] = []
        count = self.scale.conversations
        huge = set(rng.sample(range(count), self.scale.huge_conversations))
        for i in range(count):
            contact = rng.choice(reachable)
            conversation = self.conversation(
                i, contact, 520 + rng.randint(0, 300) if i in huge else 0
            )
            if rng.random() < 0.05:
                other = rng.choice(reachable)
                if other.id != contact.id:
                    conversation.contact_ids.append(other.id)
            conversations.append(conversation)
            if conversation.admin_assignee_id and conversation.parts and rng.random() < 0.1:
                tickets.append(self.ticket(len(tickets), conversation))
        for i in range(max(1, count // 100)):
            tickets.append(self.ticket(len(tickets), None, contact=rng.choice(reachable), index=i))
        _number_by_creation(conversations, tickets)
        return conversations, tickets

    def conversation(self, index: int, contact: Contact, huge_parts: int) -> Conversation:
        rng, now = self.rng, self.now
        created = now - rng.randint(0, self.scale.history_days * DAY)
        if huge_parts:
            # A huge conversation must get all its parts: start early enough, never be a
            # one-way outbound message, and always reach an admin (see _Script.play).
            created = min(created, now - HUGE_SCRIPT_DAYS * DAY)
        outbound = rng.random() < 0.05 and not huge_parts
        author_type = contact.role
        if outbound:
            subject, body = rng.choice(text.OUTBOUND_MESSAGES)
            admin = rng.choice(self.admins)
            conversation = self.new_conversation(
                index,
                contact,
                created,
                "email",
                "admin_initiated",
                "admin",
                admin.id,
                subject,
                body,
            )
            if rng.random() < 0.8:  # nobody replied: a marketing message, not feedback
                conversation.state = "closed"
                return conversation
            script = _Script(self, conversation, created + rng.randint(HOUR, 2 * DAY), author_type)
            script.comment(author_type, contact.id, rng.choice(text.CUSTOMER_REPLIES))
        else:
            channel = "email" if rng.random() < 0.4 else "conversation"
            _topic, subject, body = rng.choice(text.CUSTOMER_OPENERS)
            conversation = self.new_conversation(
                index,
                contact,
                created,
                channel,
                "customer_initiated",
                author_type,
                contact.id,
                subject if channel == "email" else "",
                body,
            )
            script = _Script(self, conversation, created, author_type)
        script.play(huge_parts)
        self.finish(conversation, contact)
        return conversation

    def new_conversation(
        self,
        index: int,
        contact: Contact,
        created: int,
        channel: str,
        delivered_as: str,
        author_type: str,
        author_id: str,
        subject: str,
        body: str,
    ) -> Conversation:
        rng = self.rng
        return Conversation(
            id=f"draft-{index}",  # numbered once every conversation exists
            created_at=created,
            updated_at=created,
            contact_ids=[contact.id],
            source_type=channel,
            delivered_as=delivered_as,
            source_author_type=author_type,
            source_author_id=author_id,
            subject=subject,
            body=f"<p>{body}</p>",
            state="open",
            read=False,
            priority=rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0],
            admin_assignee_id=0,
            team_assignee_id=0,
            parts=[],
            channel_initial=channel,
            channel_current=channel,
            company_id=contact.company_ids[0] if contact.company_ids else None,
            title=subject or None,
        )

    def finish(self, conversation: Conversation, contact: Contact) -> None:
        """Ratings, tags, SLA and custom attributes: things that sit beside the parts."""
        rng = self.rng
        stats = conversation.statistics()
        last_close = stats.get("last_close_at")
        human = (
            conversation.admin_assignee_id
            and str(conversation.admin_assignee_id) not in self.bot_ids
        )
        if conversation.state == "closed" and last_close and human and rng.random() < 0.36:
            rated_at = last_close + rng.randint(60, 6 * HOUR)
            if rated_at < self.now:
                score = rng.choices(range(1, 6), RATING_WEIGHTS)[0]
                remark = rng.choice(text.REMARKS[score]) if rng.random() < 0.45 else None
                conversation.rating = Rating(
                    score, remark, rated_at, contact.id, str(conversation.admin_assignee_id)
                )
                conversation.touch(rated_at)
        if rng.random() < 0.35:
            for tag_name in rng.sample(text.GENERAL_TAGS, rng.randint(1, 2)):
                conversation.tags.append(self.applied_tag(conversation, tag_name))
        roll = rng.random()
        if roll < 0.04:
            conversation.tags.append(
                self.applied_tag(conversation, text.SUPPRESSION_TAGS[int(roll / 0.04 * 3)])
            )
        if rng.random() < 0.4:
            if conversation.state == "closed":
                status = rng.choices(("hit", "missed", None), (70, 25, 5))[0]
            else:
                status = rng.choice(("active", "missed"))
            conversation.sla = (rng.choice(SLAS), status)
        conversation.custom_attributes = {
            "Issue type": rng.choice(("Billing", "Bug", "Question", "Feature request")),
            "Escalated": rng.random() < 0.1,
        }
        conversation.read = conversation.read or bool(stats.get("first_admin_reply_at"))

    def applied_tag(self, conversation: Conversation, name: str) -> AppliedTag:
        admin = self.rng.choice(self.admins).id
        return AppliedTag(self.tag_ids[name], conversation.created_at + 60, admin)

    def ticket(
        self,
        number: int,
        conversation: Conversation | None,
        contact: Contact | None = None,
        index: int = 0,
    ) -> Ticket:
        rng = self.rng
        customer_types = [t for t in self.ticket_types if t.category == "Customer"]
        other_types = [t for t in self.ticket_types if t.category != "Customer"]
        if conversation is not None:
            ticket_type = rng.choice(customer_types)
            created = conversation.parts[0].created_at
            contact_ids = conversation.contact_ids[:1]
            admin_id, team_id = conversation.admin_assignee_id, conversation.team_assignee_id
        else:
            ticket_type = other_types[index % len(other_types)]
            created = self.now - rng.randint(1, 200) * DAY
            contact_ids = [contact.id] if contact else []
            admin_id, team_id = int(rng.choice(self.admins).id), int(rng.choice(self.teams).id)
        state_ids = [s.id for s in self.ticket_states]
        final = (
            state_ids[-1]
            if conversation is not None and conversation.state == "closed"
            else rng.choice(state_ids[:-1])
        )
        ticket = Ticket(
            id=str(310_000 + number),
            ticket_id=str(1_000 + number),
            ticket_type_id=ticket_type.id,
            title=f"{ticket_type.name}: {conversation.subject or 'from chat'}"
            if conversation
            else ticket_type.name,
            description=conversation.body if conversation else f"<p>{ticket_type.description}</p>",
            state_id=final,
            contact_ids=contact_ids,
            admin_assignee_id=admin_id,
            team_assignee_id=team_id,
            created_at=created,
            updated_at=created,
            conversation_id=conversation.id if conversation else None,
        )
        previous = state_ids[0]
        at = created
        for state in (*state_ids[1 : state_ids.index(final)], final):
            at = min(self.now - 1, at + rng.randint(HOUR, 2 * DAY))
            self.part_id += 1
            ticket.parts.append(
                TicketPart(
                    self.part_id,
                    "ticket_state_updated_by_admin",
                    at,
                    "admin",
                    str(admin_id),
                    previous,
                    state,
                )
            )
            ticket.previous_state_id, previous = previous, state
        ticket.updated_at = max(created, at)
        if conversation is not None:
            conversation.ticket_id = ticket.id
            conversation.touch(created)
        return ticket


class _Script:
    """Writes a conversation's parts in time order, never past the workspace clock."""

    def __init__(
        self, builder: _Builder, conversation: Conversation, start: int, customer_role: str
    ) -> None:
        self.customer_role = customer_role
        self.b = builder
        self.rng = builder.rng
        self.c = conversation
        self.t = start
        self.done = False
        self.ai_source_type = "workflow"  # what triggered the AI agent, when it takes part

    def wait(self, low: int, high: int) -> None:
        self.t += self.rng.randint(low, high)

    def add(
        self,
        part_type: str,
        author_type: str,
        author_id: str,
        state: str | None = None,
        body: str | None = None,
        assigned_to: tuple[str, str] | None = None,
        attachment: tuple[str, str, int] | None = None,
        ai_answer: bool = False,
    ) -> bool:
        """Append a part unless its time is past the clock (then the script stops)."""
        if self.done or self.t >= self.b.now:
            self.done = True
            return False
        self.b.part_id += 1
        new_state = state or self.c.state
        self.c.parts.append(
            Part(
                self.b.part_id,
                part_type,
                self.t,
                author_type,
                author_id,
                new_state,
                f"<p>{body}</p>" if body else None,
                assigned_to,
                attachment,
                ai_answer=ai_answer,
            )
        )
        self.c.state = new_state
        self.c.touch(self.t)
        return True

    def comment(self, author_type: str, author_id: str, body: str) -> bool:
        attachment = None
        if author_type in ("user", "lead") and self.rng.random() < 0.08:
            attachment = self.rng.choice(text.ATTACHMENTS)
        # A customer writing into a closed conversation reopens it.
        state = "open" if author_type in ("user", "lead") else None
        return self.add("comment", author_type, author_id, state, body, attachment=attachment)

    def play(self, huge_parts: int) -> None:
        rng, b, c = self.rng, self.b, self.c
        customer = (c.contact_ids[0], self.customer_role)
        bot = b.bot_ids[0]
        answer_type = None
        if c.source_type == "conversation" and rng.random() < AI_FIRST_SHARE:
            c.ai_agent_participated = True
            self.ai_source_type, answer_type = ai_first_turn(b.ai_rng)
            self.wait(3, 30)
            if not self.add(
                "comment",
                "bot",
                bot,
                body=rng.choice(text.BOT_MESSAGES),
                ai_answer=answer_type == "ai_answer",
            ):
                answer_type = None  # past the clock: nothing answered yet
            if rng.random() < 0.15 and not huge_parts:  # the bot resolved it on its own
                self.ai_agent(answer_type, self.ai_alone(answer_type))
                return
        team = rng.choice(b.teams)
        self.wait(20, 600)
        handed_off = self.add("assignment", "bot", b.bot_ids[1], assigned_to=("team", team.id))
        if handed_off:
            c.team_assignee_id = int(team.id)
        if c.ai_agent_participated:
            # An answer followed by a hand-off to the team: escalated, or a procedure's hand-off.
            outcome = None
            if answer_type is not None and handed_off:
                outcome = handoff_resolution(b.ai_rng, self.ai_source_type)
            self.ai_agent(answer_type, outcome)
        admin = self.pick_admin(team)
        if rng.random() < 0.85 or huge_parts:
            self.wait(60, 2 * HOUR)
            if self.add("assignment", "admin", admin.id, assigned_to=("admin", admin.id)):
                c.admin_assignee_id = int(admin.id)
        else:
            return  # waiting in the team inbox, nobody picked it up yet
        self.wait(2 * MINUTE, 6 * HOUR if c.source_type == "email" else HOUR)
        self.comment("admin", admin.id, rng.choice(text.ADMIN_REPLIES))
        exchanges = rng.choices(range(6), (15, 30, 25, 15, 10, 5))[0] + b.scale.extra_exchanges
        if huge_parts:
            exchanges = huge_parts // 2
        for _ in range(exchanges):
            if huge_parts:
                self.wait(30, 600)
            else:
                self.wait(5 * MINUTE, 10 * HOUR)
            self.comment(customer[1], customer[0], rng.choice(text.CUSTOMER_REPLIES))
            if rng.random() < 0.15:
                self.wait(30, 900)
                self.add("note", "admin", admin.id, body=rng.choice(text.NOTES))
            if rng.random() < 0.08 and not huge_parts:
                other = self.pick_admin(team)
                self.wait(60, HOUR)
                if self.add("assignment", "admin", admin.id, assigned_to=("admin", other.id)):
                    admin = other
                    c.admin_assignee_id = int(admin.id)
            self.wait(MINUTE, 5 * HOUR if not huge_parts else 600)
            self.comment("admin", admin.id, rng.choice(text.ADMIN_REPLIES))
        ending = rng.random()
        if ending < 0.72:
            self.wait(MINUTE, 2 * DAY)
            self.add("close", "admin", admin.id, "closed")
            if rng.random() < 0.12:  # the customer writes again: a reopen, then a second close
                self.wait(HOUR, 3 * DAY)
                self.comment(customer[1], customer[0], rng.choice(text.CUSTOMER_REPLIES))
                self.wait(MINUTE, 4 * HOUR)
                self.comment("admin", admin.id, rng.choice(text.ADMIN_REPLIES))
                self.wait(MINUTE, DAY)
                self.add("close", "admin", admin.id, "closed")
        elif ending < 0.77:
            self.wait(MINUTE, HOUR)
            if self.add("snoozed", "admin", admin.id, "snoozed"):
                c.snoozed_until = self.t + rng.randint(1, 7) * DAY
        elif rng.random() < 0.5:
            self.wait(10 * MINUTE, 10 * HOUR)
            self.comment(customer[1], customer[0], rng.choice(text.CUSTOMER_REPLIES))

    def ai_alone(self, answer_type: str | None) -> str | None:
        """The AI agent ends it alone; returns the resolution state the parts show.

        After an answer the customer may confirm it (confirmed_resolution) or reject it
        (negative_feedback) in a reply, or say nothing (assumed_resolution); then the bot closes
        the conversation. Cut by the clock before the close, nothing is resolved yet (None).
        """
        ai, c = self.b.ai_rng, self.c
        outcome = ai.choices(AI_RESOLUTIONS, AI_RESOLUTION_WEIGHTS)[0] if answer_type else None
        replies = {
            "confirmed_resolution": text.AI_CONFIRMATIONS,
            "negative_feedback": text.AI_NEGATIVE_REPLIES,
        }
        if outcome in replies:
            self.t += ai.randint(20, 600)
            if not self.add(
                "comment", self.customer_role, c.contact_ids[0], body=ai.choice(replies[outcome])
            ):
                outcome = None
        self.wait(60, 900)
        c.admin_assignee_id = int(self.b.bot_ids[0])
        closed = self.add("close", "bot", self.b.bot_ids[0], "closed")
        return outcome if closed else None

    def ai_agent(self, answer_type: str | None, resolution: str | None) -> None:
        """Set the conversation's `ai_agent` once its AI phase is played.

        A rating (sometimes with a remark) may come after a resolution state.
        """
        ai, b, c = self.b.ai_rng, self.b, self.c
        agent = ai_agent_of(ai, self.ai_source_type, answer_type, resolution, b.ai_sources)
        if resolution is not None and ai.random() < 0.35:
            rated_at = self.t + ai.randint(30, 900)
            if rated_at < b.now:
                agent.rating = ai.choices(range(1, 6), AI_RATING_WEIGHTS[resolution])[0]
                if ai.random() < 0.4:
                    agent.rating_remark = ai.choice(text.AI_REMARKS[agent.rating])
                agent.rated_at = rated_at
                c.touch(rated_at)
        c.ai_agent = agent

    def pick_admin(self, team: Team) -> Admin:
        ids = {str(i) for i in team.admin_ids}
        return self.rng.choice([a for a in self.b.admins if a.id in ids])


def ai_first_turn(ai: random.Random) -> tuple[str, str | None]:
    """What triggered the AI agent, and what it answered with (None: nothing)."""
    source_type = ai.choices(AI_SOURCE_TYPES, AI_SOURCE_WEIGHTS)[0]
    return source_type, ai.choices(AI_ANSWER_TYPES, AI_ANSWER_WEIGHTS)[0]


def ai_agent_of(
    ai: random.Random,
    source_type: str,
    answer_type: str | None,
    resolution: str | None,
    sources: list[ContentSource],
) -> AiAgent:
    """The AI agent's part in a conversation, unrated.

    An AI answer cites one to three sources, mostly articles. The generated history and the
    clock's new conversations both use it.
    """
    title = {
        "workflow": ai.choice(text.AI_WORKFLOW_TITLES),
        "profile": ai.choice(text.AI_PROFILE_TITLES),
        "fin_preview": "Fin preview",
    }.get(source_type)
    agent = AiAgent(source_type, title, answer_type, resolution)
    if answer_type == "ai_answer":
        articles = [s for s in sources if s.content_type == "article"]
        cited: list[ContentSource] = []
        for _ in range(ai.choices((1, 2, 3), (50, 35, 15))[0]):
            source = ai.choice(articles if articles and ai.random() < 0.8 else sources)
            if source not in cited:
                cited.append(source)
        agent.content_sources = tuple(cited)
    return agent


def handoff_resolution(ai: random.Random, source_type: str) -> str:
    """How an answered conversation the AI agent handed to the team resolves."""
    procedure = source_type == "workflow" and ai.random() < AI_PROCEDURE_SHARE
    return "procedure_handoff" if procedure else "escalated"


def custom_attribute_value(rng: random.Random, data_type: str, now: int) -> Any:
    """A random value of a data attribute's type (used when the clock moves)."""
    if data_type == "integer":
        return rng.randint(1, 500)
    if data_type == "float":
        return round(rng.uniform(0, 5_000), 2)
    if data_type == "boolean":
        return rng.random() < 0.5
    if data_type == "date":
        return now + rng.randint(-100, 300) * DAY
    return rng.choice(text.PLANS)
