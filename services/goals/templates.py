"""Goal templates from the product-manager career guide (built in; tenants add their own)."""

from __future__ import annotations

from typing import Any

SUGGESTED = dict[str, Any]


def _kr(
    title: str, start: float, target: float, unit: str, direction: str = "increase"
) -> SUGGESTED:
    return {"title": title, "start": start, "target": target, "unit": unit, "direction": direction}


BUILTIN_TEMPLATES: list[dict[str, Any]] = [
    {
        "id": "enhance-communication-skills",
        "title": "Enhance communication skills",
        "horizon": "short_term",
        "category": "skill",
        "description": (
            "Convey ideas clearly to engineers, designers, executives and customers: sharpen "
            "written specs, presentations and stakeholder updates, and practise active listening."
        ),
        "skills": ["communication"],
        "suggested_key_results": [
            _kr("Present product updates at all-hands or stakeholder reviews", 0, 4, "talks"),
            _kr("Average stakeholder rating of my updates", 3, 4.5, "rating"),
            _kr("Complete a public-speaking or writing course", 0, 1, "courses"),
        ],
        "review_every_days": 30,
    },
    {
        "id": "learn-ux-design-principles",
        "title": "Learn UX design principles",
        "horizon": "short_term",
        "category": "skill",
        "description": (
            "Understand user-centred design well enough to collaborate with designers: research, "
            "information architecture, prototyping and usability testing."
        ),
        "skills": ["ux_design", "customer_centric"],
        "suggested_key_results": [
            _kr("Complete a UX design course", 0, 1, "courses"),
            _kr("Run usability tests with users", 0, 5, "sessions"),
            _kr("Prototype a feature end to end with the design team", 0, 1, "prototypes"),
        ],
        "review_every_days": 30,
    },
    {
        "id": "strengthen-data-analysis",
        "title": "Strengthen data analysis",
        "horizon": "short_term",
        "category": "skill",
        "description": (
            "Make decisions from evidence: learn SQL and the analytics tools, define metrics, "
            "design experiments and read their results."
        ),
        "skills": ["data_analysis"],
        "suggested_key_results": [
            _kr("Ship decisions backed by an A/B test", 0, 3, "experiments"),
            _kr("Build a self-serve dashboard for my product area", 0, 1, "dashboards"),
            _kr("Raise product adoption rate", 0.2, 0.3, "ratio"),
        ],
        "review_every_days": 30,
    },
    {
        "id": "gain-experience-in-another-industry",
        "title": "Gain experience in another industry",
        "horizon": "short_term",
        "category": "career",
        "description": (
            "Broaden industry and technology knowledge: study another market, its customers and "
            "regulations, through a side project, rotation or cross-functional work."
        ),
        "skills": ["industry_knowledge", "customer_centric"],
        "suggested_key_results": [
            _kr("Interview customers in the new industry", 0, 10, "interviews"),
            _kr("Attend industry events or workshops", 0, 2, "events"),
            _kr("Write a market analysis of the industry", 0, 1, "reports"),
        ],
        "review_every_days": 45,
    },
    {
        "id": "reach-a-leadership-position",
        "title": "Reach a leadership position",
        "horizon": "long_term",
        "category": "career",
        "description": (
            "Grow into a group product manager, head of product or CPO: lead a team, mentor "
            "others and own strategy across product lines."
        ),
        "skills": ["leadership", "communication"],
        "suggested_key_results": [
            _kr("Mentor junior product managers", 0, 2, "mentees"),
            _kr("Lead a cross-functional initiative", 0, 1, "initiatives"),
            _kr("Complete a leadership programme", 0, 1, "programmes"),
        ],
        "review_every_days": 90,
    },
    {
        "id": "drive-a-product-launch-with-real-impact",
        "title": "Drive the launch of a product with real impact",
        "horizon": "long_term",
        "category": "outcome",
        "description": (
            "Take a product from discovery to launch and measurable impact on adoption, "
            "satisfaction and revenue."
        ),
        "skills": ["leadership", "customer_centric", "data_analysis"],
        "suggested_key_results": [
            _kr("Successful product launches", 0, 1, "launches"),
            _kr("Product adoption rate after launch", 0, 0.4, "ratio"),
            _kr("Customer satisfaction (CSAT)", 70, 85, "score"),
        ],
        "review_every_days": 90,
    },
    {
        "id": "start-a-company",
        "title": "Start a company",
        "horizon": "long_term",
        "category": "career",
        "description": (
            "Build the skills and network to found a company: validate a problem, find "
            "co-founders, ship a first product and win first customers."
        ),
        "skills": ["leadership", "industry_knowledge", "customer_centric"],
        "suggested_key_results": [
            _kr("Validate problem hypotheses with potential customers", 0, 30, "interviews"),
            _kr("Ship a minimum viable product", 0, 1, "products"),
            _kr("Paying customers", 0, 10, "customers"),
        ],
        "review_every_days": 90,
    },
    {
        "id": "become-a-thought-leader",
        "title": "Become a thought leader",
        "horizon": "long_term",
        "category": "career",
        "description": (
            "Share what you learn with the product community: write, speak at conferences and "
            "build an audience that values your perspective."
        ),
        "skills": ["communication", "industry_knowledge"],
        "suggested_key_results": [
            _kr("Publish articles on product management", 0, 12, "articles"),
            _kr("Speak at conferences or meetups", 0, 3, "talks"),
            _kr("Newsletter or blog subscribers", 0, 1000, "subscribers"),
        ],
        "review_every_days": 90,
    },
]

BUILTIN_BY_ID = {t["id"]: t for t in BUILTIN_TEMPLATES}
