"""Ledger category from a provider's free-text product name (unknown -> Other, never dropped)."""

from __future__ import annotations

import re

CATEGORIES = (
    "Compute", "Kubernetes", "Databases", "Storage", "Networking", "Platform", "Tax", "Credit",
    "Other",
)  # fmt: skip

# Order matters: the first matching rule wins ("Kubernetes Load Balancer" is Kubernetes? No:
# a load balancer is networking wherever it runs, so Networking comes before Kubernetes).
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Tax", ("tax", "vat", "gst", "hst", "pst", "qst", "withholding")),
    ("Credit", ("credit", "promo", "discount", "refund", "adjustment", "coupon")),
    ("Networking", ("load balancer", "bandwidth", "floating ip", "reserved ip", "vpc", "cdn",
                    "dns", "egress", "network", "nat gateway", "ipv4", "ip address", "cloudflare",
                    "transfer out", "data transfer")),
    ("Kubernetes", ("kubernetes", "doks", "gke", "eks", "aks", "container registry", "k8s")),
    ("Databases", ("database", "postgres", "mysql", "redis", "valkey", "mongodb", "kafka",
                   "opensearch", "cloud sql", "bigquery", "rds", "dynamodb", "spanner",
                   "firestore", "cosmos", "caching")),
    ("Storage", ("spaces", "volume", "block storage", "snapshot", "backup", "storage", "s3",
                 "object", "image", "archive", "disk")),
    ("Compute", ("droplet", "compute", "ec2", "virtual machine", "gpu", "functions",
                 "lambda", "cloud run", "vm", "instance", "app engine", "app platform",
                 "paperspace", "serverless")),
    ("Platform", ("support", "monitoring", "uptime", "workspace", "g suite", "gsuite", "google",
                  "marketplace", "subscription", "license", "looker", "office", "platform",
                  "logging", "insights", "plan", "genai", "ai ", "agent")),
)  # fmt: skip

_WORD = re.compile(r"[^a-z0-9]+")


def categorize(product: str, description: str = "", *, amount_negative: bool = False) -> str:
    """Map a free-text product (and, as a hint, its description) to one ledger category."""
    text = f" {_WORD.sub(' ', product.lower())} "
    for category, needles in _RULES:
        if any(_matches(text, needle) for needle in needles):
            return category
    hint = f" {_WORD.sub(' ', description.lower())} "
    for category, needles in _RULES[:3]:  # tax / credit / networking words in a description
        if any(_matches(hint, needle) for needle in needles):
            return category
    if amount_negative:
        return "Credit"
    return "Other"


def _matches(text: str, needle: str) -> bool:
    if len(needle) <= 3:  # short tokens (vat, gke, vm, s3) only as whole words
        return f" {needle.strip()} " in text
    return needle in text
