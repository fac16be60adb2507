"""Word pools that make the generated workspace read like real support work."""

FIRST_NAMES = (
    "Ava",
    "Ben",
    "Chloe",
    "Daniel",
    "Emma",
    "Felix",
    "Grace",
    "Hugo",
    "Isla",
    "Jack",
    "Kara",
    "Liam",
    "Maya",
    "Noah",
    "Olivia",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wei",
    "Xavier",
    "Yara",
    "Zoe",
    "Aoife",
    "Bruno",
    "Chen",
    "Dara",
    "Elena",
    "Farah",
    "Goran",
    "Hana",
    "Ivan",
    "Jonas",
    "Keiko",
    "Lucas",
    "Mei",
    "Nadia",
    "Oscar",
    "Pablo",
    "Rhea",
    "Sofia",
)
LAST_NAMES = (
    "Adams",
    "Byrne",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Kelly",
    "Larsen",
    "Murphy",
    "Nguyen",
    "O'Brien",
    "Patel",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Umeh",
    "Varga",
    "Walsh",
    "Xu",
    "Young",
    "Zhang",
    "Moreau",
    "Silva",
    "Kowalski",
)
JOB_TITLES = (
    "Support Engineer",
    "Customer Success Manager",
    "Support Lead",
    "Technical Support",
    "Billing Specialist",
    "Head of Support",
    "Onboarding Specialist",
    "Account Manager",
)
TEAM_NAMES = (
    "Tier 1 Support",
    "Tier 2 Support",
    "Billing",
    "Onboarding",
    "Enterprise Success",
    "Technical Escalations",
    "Sales",
    "EMEA Support",
    "APAC Support",
    "Product Specialists",
    "Integrations",
    "Security & Compliance",
    "Payments",
    "Mobile",
    "Partners",
)
COMPANY_WORDS = (
    "Acme",
    "Blue",
    "Cedar",
    "Delta",
    "Ember",
    "Falcon",
    "Granite",
    "Harbor",
    "Indigo",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Maple",
    "Nimbus",
    "Orbit",
    "Pioneer",
    "Quartz",
    "River",
    "Summit",
    "Tidal",
    "Umbra",
    "Vertex",
    "Willow",
    "Zenith",
    "Atlas",
    "Beacon",
    "Comet",
    "Drift",
)
COMPANY_SUFFIXES = (
    "Labs",
    "Systems",
    "Analytics",
    "Logistics",
    "Health",
    "Retail",
    "Studio",
    "Foods",
    "Energy",
    "Software",
    "Partners",
    "Media",
    "Robotics",
    "Finance",
)
INDUSTRIES = (
    "Software",
    "Retail",
    "Healthcare",
    "Finance",
    "Logistics",
    "Education",
    "Media",
    "Manufacturing",
    "Hospitality",
    "Energy",
)
PLANS = ("Free Trial", "Starter", "Pro", "Enterprise")
SUBSCRIPTION_STATUSES = ("Active", "Free Trial", "Cancelled", "Past Due")
LOCATIONS = (
    ("United States", "California", "San Francisco"),
    ("United States", "New York", "New York"),
    ("United States", "Texas", "Austin"),
    ("United Kingdom", "England", "London"),
    ("Ireland", "Leinster", "Dublin"),
    ("Germany", "Berlin", "Berlin"),
    ("France", "Ile-de-France", "Paris"),
    ("Australia", "New South Wales", "Sydney"),
    ("Canada", "Ontario", "Toronto"),
    ("Brazil", "Sao Paulo", "Sao Paulo"),
    ("India", "Karnataka", "Bengaluru"),
    ("Japan", "Tokyo", "Tokyo"),
)
BROWSERS = ("chrome", "firefox", "safari", "edge")
OPERATING_SYSTEMS = ("OS X 14.5", "Windows 11", "iOS 18.1", "Android 15", "Linux")
LANGUAGES = ("en", "en", "en", "de", "fr", "pt", "ja", "es")

# (topic, email subject, opening message) written by customers.
CUSTOMER_OPENERS = (
    (
        "login",
        "Can't log in",
        "Hi, I can't log in to my account since this morning. It says my password is wrong but I reset it twice.",
    ),
    (
        "billing",
        "Question about my invoice",
        "Hello, I was charged twice on my last invoice. Can you refund the duplicate payment?",
    ),
    (
        "export",
        "CSV export is empty",
        "The CSV export from the reports page downloads an empty file. Is something broken?",
    ),
    (
        "bug",
        "Dashboard not loading",
        "Our dashboard has been stuck on the loading spinner for an hour. We need it for a meeting.",
    ),
    (
        "feature",
        "Feature request: dark mode",
        "Any plans to support dark mode? Half of our team works at night.",
    ),
    (
        "integration",
        "Slack integration stopped",
        "Our Slack integration stopped posting notifications yesterday.",
    ),
    (
        "cancel",
        "Cancel my subscription",
        "Please cancel our subscription at the end of this billing period.",
    ),
    (
        "upgrade",
        "Upgrading to Pro",
        "We'd like to upgrade to the Pro plan. Do you offer annual billing?",
    ),
    (
        "api",
        "API rate limits",
        "We're hitting 429 errors from your API. What are the limits for our plan?",
    ),
    ("access", "Add a teammate", "How do I invite a new teammate and give them admin rights?"),
    (
        "data",
        "Deleted project by mistake",
        "I deleted a project by mistake. Is there any way to restore it?",
    ),
    (
        "security",
        "SSO setup",
        "We want to enable SAML SSO with Okta. Where do I find the metadata URL?",
    ),
)
CUSTOMER_REPLIES = (
    "Thanks, that worked!",
    "I tried that but it still doesn't work.",
    "Here's a screenshot of the error.",
    "Any update on this?",
    "Great, thank you so much for the quick help.",
    "Sorry, I don't understand. Can you explain again?",
    "It works now, you can close this.",
    "That's not what I asked about.",
    "Can someone call me instead?",
    "Perfect, all sorted.",
)
ADMIN_REPLIES = (
    "Thanks for reaching out! Let me look into this for you.",
    "I've checked your account and found the problem. It's fixed now.",
    "Could you tell me which browser you are using?",
    "I've escalated this to our engineering team and will update you shortly.",
    "I've issued a refund for the duplicate charge. It should appear in 5-10 business days.",
    "Here's our help article on this: it walks through every step.",
    "Is there anything else I can help with?",
    "Could you send us a screenshot of what you see?",
    "Our engineers deployed a fix. Could you try again?",
    "I've added your vote to this feature request.",
)
NOTES = (
    "Customer is on the Enterprise plan, prioritise.",
    "Checked logs: token expired.",
    "Known issue, linked to the incident.",
    "Refund approved by billing.",
    "Asked engineering in the escalations channel.",
    "Possible duplicate of an earlier conversation.",
)
BOT_MESSAGES = (
    "Hi there! I'm the virtual assistant. I can help with most questions right away.",
    "Here's an article that might help. Did that answer your question?",
    "I'll pass you to the team. They usually reply in a few hours.",
)
OUTBOUND_MESSAGES = (
    ("What's new this month", "Check out the new reporting features we shipped this month."),
    ("Your trial ends soon", "Your free trial ends in three days. Upgrade to keep your data."),
    ("We'd love your feedback", "Tell us how we're doing: it takes one minute."),
)
REMARKS = {
    1: ("Took days to get an answer.", "Problem still not solved.", "Very unhelpful."),
    2: ("Slow response.", "Had to explain the issue three times."),
    3: ("It was ok.", "Solved eventually."),
    4: ("Helpful, thanks.", "Good support."),
    5: ("Amazing support, thank you!", "Super fast and friendly.", "Solved in minutes."),
}
ATTACHMENTS = (
    ("screenshot.png", "image/png", 182_311),
    ("error-log.txt", "text/plain", 4_210),
    ("invoice.pdf", "application/pdf", 92_004),
    ("export.csv", "text/csv", 12_877),
)
ARTICLE_TOPICS = (
    "Getting started",
    "Resetting your password",
    "Inviting teammates",
    "Billing and invoices",
    "Exporting data to CSV",
    "Setting up SSO",
    "Using the API",
    "Slack integration",
    "Managing notifications",
    "Deleting your account",
    "Understanding reports",
    "Mobile app",
)
TICKET_TYPES = (
    ("Bug report", "Customer", "Something in the product is broken", "🐞"),
    ("Refund request", "Customer", "A customer asks for money back", "💸"),
    ("Feature request", "Customer", "A customer asks for something new", "💡"),
    ("Account review", "Back-office", "Internal review of an account", "🗂️"),
    ("Incident", "Tracker", "Tracks one incident across customers", "🚨"),
)
GENERAL_TAGS = (
    "vip",
    "bug",
    "billing",
    "feature-request",
    "onboarding",
    "churn-risk",
    "refund",
    "integration",
    "mobile",
    "api",
    "enterprise",
    "urgent",
    "feedback",
    "security",
    "sso",
)
# Tags that the survey suppression rules look for by default.
SUPPRESSION_TAGS = ("fraud", "dupe", "do_not_send_survey")

# The AI agent (Fin): what triggered it, and what customers say to and about its answers.
AI_WORKFLOW_TITLES = ("Fin answers first", "Billing triage with Fin", "After-hours Fin")
AI_PROFILE_TITLES = ("Fin for all visitors", "Fin for paying customers")
AI_CONFIRMATIONS = ("That helped, thanks!", "Yes, that answered it.", "Perfect, all sorted.")
AI_NEGATIVE_REPLIES = ("That didn't help.", "No, that's not my question.")
AI_REMARKS = {
    1: ("The bot did not understand me.", "Useless answer."),
    2: ("Not quite what I needed.",),
    3: ("Partly helpful.",),
    4: ("Quick and useful.",),
    5: ("Instant answer, great!", "Exactly what I needed."),
}
# Content the AI agent answers from besides articles: (content_type, id, title).
AI_OTHER_SOURCES = (
    ("content_snippet", "3234924", "Refund policy snippet"),
    ("content_snippet", "3234925", "Plan limits snippet"),
    ("external_content", "5120001", "Status page"),
    ("file", "7300001", "Security whitepaper.pdf"),
)
