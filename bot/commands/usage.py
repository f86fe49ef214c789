"""What a person is told when a command is wrong (UsageError) and the help table, one source for usage lines and /ioc
help."""

from __future__ import annotations

from bot import context


class UsageError(Exception):
    def __init__(self, problem: str, verb: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.verb = verb

    @property
    def usage(self) -> str:
        return usage_of(self.verb) if self.verb else ""


VERBS: dict[str, tuple[str, str]] = {
    "submit": ("/ioc submit VALUE [VALUE...] [tlp:green] [conf:80] [tags:a,b] [valid:30d] [threat:botnet_cc] "
               "[malware:emotet] [ref:https://...] [case:NAME] [anon] [override] [note...]",
               "Share one or many indicators (defanged is fine). They wait for moderation. `anon` hides your "
               "organization from others; `override` submits a value on a warninglist (the note is the reason). "
               f"threat: one of {context.threat_types_text()}; malware: a family name (spaces and hyphens become "
               f"_); ref: a reference URL (up to {context.REFERENCES_MAX})."),
    "lookup": ("/ioc lookup VALUE|#ID [...]   (or just /ioc VALUE)",
               "Look up indicators: status, TLP, tally of votes, sightings."),
    "vote": ("/ioc vote #ID confirm|fp|withdraw [reason...]",
             "Confirm an indicator or call it a false positive; a new vote replaces your previous one."),
    "sighting": ("/ioc sighting #ID [count:N] [note...]", "Say that your organization saw this indicator too."),
    "search": ("/ioc search [type:url] [tag:emotet] [status:approved] [org:NAME] [since:7d] [tlp:amber] "
               "[threat:botnet_cc] [malware:emotet] "
               "[within:198.51.100.0/24] [domain:northbank.example] [text:WORD] [min_score:50] "
               "[page:N] [part of a value]",
               "Search the indicators you may see, newest first. within: IPs and CIDRs overlapping a network and "
               "URLs on such IPs; domain: a domain, its subdomains, and URLs and e-mail addresses on them; text: "
               "a word in the notes and tags; org:NAME an organization (org:Sentinel Security or "
               "org:\"Sentinel Security\"); min_score:N only those whose score is at least N now (see /ioc why), "
               "however old: scores are computed as you ask, so a big result is counted only until your page is "
               "full (\"of at least N\")."),
    "edit": ("/ioc edit #ID [conf:N] [tags:+a,-b] [valid:30d] [tlp:amber] [note...]   (and [threat:TYPE|none] "
             "[malware:NAME|none] [ref:URL|none])",
             "Correct an indicator of your organization (moderators: any they may see): `tags:+a,-b` adds and "
             "removes tags, `tags:a,b` replaces them; the note replaces its description. Your organization may make "
             "the TLP more restrictive; only a moderator may make it less restrictive. Every copy of its card is "
             "updated and its watchers are told. threat:, malware: and ref: replace the context (none removes it)."),
    "reopen": ("/ioc reopen #ID REASON...",
               "Moderators: put a rejected or revoked indicator back to pending, with a reason."),
    "comment": ("/ioc comment #ID TEXT...",
                "Comment on an indicator; lookups show the latest three, and each comment is threaded under every "
                "posted copy of its card (a Slack or Discord thread) where the channel may still show it. Whoever may "
                "see the indicator may comment and read the comments (its TLP applies)."),
    "case": ("/ioc case new NAME [tlp:amber] [description...] | case add NAME #ID [#ID...] | case remove NAME #ID | "
             "case show NAME | case list",
             "Cases group indicators (a campaign, an incident, a takedown); `case:NAME` on submit adds to one. A case "
             "has its own TLP; its card lists the indicators you may see, counted by status. `case show` in a shared "
             "channel posts its card there for everyone (only what the channel may see) and keeps it up to date."),
    "queue": ("/ioc queue [page:N]", "Moderators: the indicators waiting for a decision."),
    "approve": ("/ioc approve #ID [#ID...] [note...]", "Moderators: approve indicators for the coalition feed."),
    "reject": ("/ioc reject #ID [#ID...] REASON...", "Moderators: reject pending indicators, with a reason."),
    "revoke": ("/ioc revoke #ID [#ID...] REASON...", "Moderators: withdraw approved indicators, with a reason."),
    "join": ("/ioc join CODE", "Join your organization with the invite code an admin gave you."),
    "whoami": ("/ioc whoami", "Your organization, role and linked identities."),
    "link": ("/ioc link [start]   then, as yourself on the other platform: /ioc link CODE",
             "Link your identity on another platform (or workspace) to you: `link` gives a one-time code, valid "
             "10 minutes, which you run there, from an identity that is not a member yet."),
    "watch": ("/ioc watch add TARGET [org:NAME] [channel] [digest:daily] [self:on] [note...] | watch list | "
              "watch remove W7",
              "Be told in a direct message when an indicator that concerns you is submitted, approved, confirmed, "
              "sighted, revoked or expires. TARGET: an IP or CIDR (198.51.100.0/24), a domain (northbank.example: "
              "with its subdomains, URLs and e-mail addresses), brand:WORD (lookalikes too), tag:TAG, "
              "malware:NAME or type:TYPE; `org:NAME` only that organization's items; `channel` (moderators) "
              "alerts this channel instead; `digest:daily` one message a day; `self:on` your own organization's "
              "items too. You are told only of what you may see."),
    "stats": ("/ioc stats [orgs]", "What the coalition's store holds; `orgs`: each organization's standing "
              "(submitted, approved, confirmed by others, false-positive rate, median time to decision) over what "
              "you may see."),
    "why": ("/ioc why #ID", "How an indicator's score was reached, step by step: confidence, confirmations and "
            "false positives by organization (weighted by trust), sightings, and decay since the last sign of life."),
    "help": ("/ioc help [VERB]", "This help, or the help of one verb."),
    "export": ("/ioc export [format:stix|csv|txt] [status:approved] [tlp:amber] [type:url,domain] [tag:emotet] "
               "[since:7d] [min_score:50]", "A file of the indicators you may see: a STIX 2.1 bundle (default), CSV or "
               "one value a line. Approved ones unless you say status:. Each carries its score (STIX "
               "x_coalition_score, the CSV score column); min_score:N only those scoring at least N."),
    "import": ("/ioc import   (attach a STIX 2.1 .json bundle, a .csv or a .txt file)",
               "Submit the indicators in a file for moderation, as your organization; what is not an indicator is "
               "reported as skipped. A malformed file stores nothing."),
    "admin": ("/ioc admin org add NAME [sector:S] [trust:0-100] | org list | org disable NAME | org enable NAME | "
              "member list [ORG] | member role m7|@user member|moderator|admin | member remove m7|@user | "
              "invite create ORG [role:member] [uses:1] [expires:7d] | invite list | invite revoke ID | "
              "channel set [ceiling:green] [purpose:feed|moderation|general] "
              "[passive:on|off] [ephemeral:on|off] | channel show | deliveries | retry ID | "
              "apikey create ORG [key name...] | apikey list | apikey revoke ID",
              "Admins: organizations (disable one whose members must no longer act; its items stay), members and "
              "roles (remove someone who left: their votes and submissions stay), invite codes, this channel's "
              "settings, deliveries, API keys for the TAXII feed."),
}


ADMIN_FORMS = {
    "org add": "/ioc admin org add NAME [sector:S] [trust:0-100]",
    "org list": "/ioc admin org list",
    "org disable": "/ioc admin org disable NAME",
    "org enable": "/ioc admin org enable NAME",
    "member remove": "/ioc admin member remove m7|@user",
    "invite list": "/ioc admin invite list",
    "invite revoke": "/ioc admin invite revoke ID   (an id from /ioc admin invite list, or the code itself)",
    "member list": "/ioc admin member list [ORG]",
    "member role": "/ioc admin member role m7|@user member|moderator|admin",
    "invite create": "/ioc admin invite create ORG [role:member] [uses:1] [expires:7d]",
    "channel set": "/ioc admin channel set [ceiling:green] [purpose:feed|moderation|general] "
                   "[passive:on|off] [ephemeral:on|off]",
    "channel show": "/ioc admin channel show",
    "deliveries": "/ioc admin deliveries",
    "retry": "/ioc admin retry ID   (an id from /ioc admin deliveries)",
    "apikey create": "/ioc admin apikey create ORG [key name...]   (quote an ORG with spaces: \"ACME Bank\")",
    "apikey list": "/ioc admin apikey list",
    "apikey revoke": "/ioc admin apikey revoke ID",
}


def usage_of(verb: str) -> str:
    if verb in ADMIN_FORMS:
        return ADMIN_FORMS[verb]
    return VERBS[verb][0] if verb in VERBS else ""
