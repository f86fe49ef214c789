"""The services: one small function per verb, each given a Context (the unit of work, who speaks, where, when,
the policy) and a command, returning a result value; the dispatcher maps commands to them.

The package: `context` (Context, cards, references, announcements), `analysts` (submit, lookup, vote, sighting,
search, queue, home, passive, stats, help), `storing` (storing submissions from chat, files, TAXII and pulls),
`exchange` (chat export, file imports, API keys), `moderation` (approve, reject, revoke), `membership` (join,
whoami, link), `admin` (organizations, members, invites, channels, workspaces, deliveries, expiry). Every name is
re-exported here: `services.submit` as before.
"""

from __future__ import annotations

from bot.lazy_exports import lazy_exports

# Each name is looked up in its module on first use (PEP 562): `coalition-bot import` loads the exchange's
# services and what they use, not every chat command's.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "admin": ("SHARED_CEILING_NOTE", "_shown_sharing", "_within_limits", "channel_set",
        "channel_sharing_changed", "channel_show", "deliveries", "expire_due", "invite_create", "member_list",
        "member_role", "org_add", "org_list", "retry_delivery", "workspace_removed",),
    "analysts": ("COMMENTS_SHOWN", "PIVOTED_VALUES", "_list", "_maybe_auto_approve", "_related", "_search_org",
        "_with_comments", "help_for", "home", "lookup", "passive", "queue", "search", "sighting", "stats",
        "submit", "vote",),
    "context": ("Context", "Matcher", "_also_restricted", "announce", "build_cards", "buttons_for", "card",
        "cards_for", "effective_status", "resolve",),
    "exchange": ("apikey_create", "apikey_list", "apikey_revoke", "export", "import_as_organization",
        "import_data", "import_file", "plan_import", "service_member",),
    "membership": ("_LINK_NOT_FOUND", "LINK_CODE_VALID", "_identity", "join", "link", "link_identity",
        "link_start", "whoami",),
    "moderation": ("_TRANSITIONS", "moderate",),
    "storing": ("ALL_FIELDS", "BIG_SUBMISSION", "Stored", "_held_for", "_leave_none_pending", "_new_indicator",
        "_no_orphans_after", "_not_applied", "_same_object", "_scope", "_seen_again", "store_submissions",
        "submission_notices",),
}
_HOME = {name: f"{__name__}.{module}" for module, names in _EXPORTS.items() for name in names}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOME)
