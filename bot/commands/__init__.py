"""The one command grammar, for every platform: `/ioc VERB ARGS...` parsed into frozen command objects.

Adapters hand over the text after `/ioc` (Discord's typed options are joined back into that text), so a
command means the same thing on Slack, Discord and the console. A bare value (or `#42`) is a lookup.
Parse errors raise `UsageError` with what was wrong and the right form.

The package: `usage` (UsageError and the help table), `model` (the commands as values), `refs` (the references
they name: #42, a STIX id, a value, a member), `tokens` (reading words, options, durations, references), `grammar`
(`parse`, one function per verb), `admin_grammar` (the admin forms), `forms` (submission modals). Every name is
re-exported here: `commands.parse`, `commands.Submit` as before.
"""

from __future__ import annotations

from bot.lazy_exports import lazy_exports

# Each name is looked up in its module on first use (PEP 562): `from bot.commands import UsageError` loads
# only `usage`, not the grammar (~30 ms of a command line's start-up that parses no command).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "admin_grammar": ("_INVITE_ID", "_admin", "_admin_lifecycle", "_apikey", "_member_ref",),
    "forms": ("FormError", "_form_context", "submit_from_form",),
    "grammar": ("_OPTION_KEYS", "_PARSERS", "_SEARCH_KEYS", "_STATUS_ALIASES", "_TAG", "_TYPE_ALIASES",
        "_VERDICTS", "_WATCH_ID", "CASE_NAME", "ORG_WORDS_MAX", "_approve", "_case", "_case_name", "_comment",
        "_context_error", "_edit", "_edit_context", "_export", "_help", "_import", "_join", "_link", "_lookup",
        "_min_score", "_no_args", "_org_more", "_queue", "_refs_apart", "_refs_then_text", "_reject", "_reopen",
        "_revoke", "_search", "_search_context", "_search_domain", "_search_network", "_search_tags",
        "_sighting", "_stats", "_submit", "_valid_tags", "_vote", "_watch", "_where_bad", "_why", "parse",),
    "model": ("EXPORT_FORMATS", "LINK_CODE_ALPHABET", "LINK_CODE_LENGTH", "ApiKeyCreate", "ApiKeyList",
        "ApiKeyRevoke", "Approve", "CaseAdd", "CaseList", "CaseNew", "CaseRemove", "CaseShow", "ChannelSet",
        "ChannelShow", "Command", "Comment", "Deliveries", "Edit", "Export", "Help", "Home", "ImportFile",
        "InviteCreate", "InviteList", "InviteRevoke", "Join", "Link", "Lookup", "MalwareNames", "MemberList",
        "MemberRemove", "MemberRole", "OrgAdd", "OrgDisable", "OrgList", "Passive", "Queue", "Reject", "Reopen",
        "RetryDelivery", "Revoke", "Search", "Sighting", "Stats", "Submit", "Vote", "WatchAdd", "WatchList",
        "WatchRemove", "WhoAmI", "Why",),
    "refs": ("IdRef", "MemberRef", "Ref", "StixRef", "ValueRef",),
    "tokens": ("_DURATION", "_DURATION_UNITS", "_ID", "_MEMBER_ID", "_MENTION", "_NUMBER", "_OPTION", "_QUOTES",
        "_STIX_ID", "_TOKEN", "_TRAILING", "_VALUE_HINT", "_enum_option", "_int_option", "_on_off", "_Options",
        "_shown", "_split_list", "_text", "_tlp_option", "_unquote", "parse_duration", "parse_ref", "tokenize",),
    "usage": ("ADMIN_FORMS", "VERBS", "UsageError", "usage_of",),
}
_HOME = {name: f"{__name__}.{module}" for module, names in _EXPORTS.items() for name in names}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOME)
