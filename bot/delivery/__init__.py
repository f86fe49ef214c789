"""Delivery of the outbox: what each event means on a platform, and a loop that delivers it at least once.

Services write events (`indicator.submitted`, `.approved`, `.voted`, ...) to the outbox in the same
transaction as the change, one row per delivering platform. Each adapter runs a `Deliverer` for its platform
with a `DeliverySink` that only translates (post a card, edit a card, send a direct message). The core decides
what to deliver where (`plan`): new submissions to moderation channels, approvals to feed channels, every
posted copy of a card edited when its indicator changes, the submitter told of the decision. TLP ceilings and
anonymity hold here as everywhere: a card goes to a channel only if its TLP is within the channel's ceiling,
dressed for the channel's audience.

Delivery is exactly once as seen in the channels, even when a process is killed mid-delivery: a post is first
reserved under a delivery key with its start time, its platform message id is recorded right after it is posted,
and a retry of a key that was reserved but not recorded asks the platform for a message carrying that key among
everything posted since the first attempt started (DM notices alike: they carry their key too). A deliverer
renews the lease of the rows it holds while it works, so a killed deliverer's rows come back one lease later,
ahead of newer rows. Failures back off exponentially (or as the platform's Retry-After says), and after
`max_attempts` the row is parked for admins (`/ioc admin deliveries`, `/ioc admin retry ID`).

Workspace lanes. A platform spans many workspaces (Slack teams, Discord servers), and a delivery must be made with
the credentials of the workspace it happens in. Every planned delivery has its workspace (the channel's, the posted
card's, the person's identity's), and the sink says for each workspace whether it serves it (`Serving`): HERE (it
holds the workspace's credentials: it delivers), ELSEWHERE (another process may: a single-token Slack process and
another team) or NOWHERE (nobody can: not installed, uninstalled, its token revoked). A row without a workspace
(`OutboxEvent.workspace_id` None, as services write them) is planned for every workspace; the deliverer that
claims it delivers what it serves, and, in the transaction that marks it delivered, writes one lane row per
ELSEWHERE workspace (same event, payload and creation time, `workspace_id` set, its payload naming the row it came
from in `lane_of`, so that its delivery keys are the original row's and a post made before the split is found, not
made twice). A lane row is planned only for its workspace's deliveries and claimed only by a deliverer whose sink
serves that workspace (`DeliverySink.workspaces`, None: every workspace); one that no running process serves
waits, shown per lane by `/ioc admin deliveries`. NOWHERE deliveries are dropped, with one `delivery.dropped` audit
line per row and workspace and a log line, never retried forever; so is the rest of a workspace's part of a row
when the platform refuses its credentials for good in the middle (`WorkspaceRefused`).

The package: `sink` (the DeliverySink Protocol, the deliveries, the errors), `lanes` (workspace lanes),
`planning` (what each event means on a platform), `deliverer` (the loop). Every name is re-exported here.
"""

from __future__ import annotations

from .deliverer import (  # noqa: F401
    NOT_INSTALLED,
    Deliverer,
    _indicator_of,
    _Lease,
    _Outcome,
    _Recorder,
    _Route,
    log,
    remember_posted,
)
from .lanes import (  # noqa: F401
    LANE_OF,
    LANE_RETRIED,
    kind_of,
    lane_payload,
    origin_id,
    retried,
)
from .planning import (  # noqa: F401
    _HEADLINES,
    _NOTICES,
    REOPENED_NOTICE,
    _alert_deliveries,
    _dm_identity,
    _plan_many_submitted,
    _plan_one,
    _tell_deciders,
    _tell_deciders_of_batch,
    _tells_submitter,
    for_purpose,
    notice_text,
    plan,
)
from .sink import (  # noqa: F401
    Delivery,
    DeliveryError,
    DeliverySink,
    Notify,
    PostCard,
    PostCaseCard,
    PostComment,
    PostFile,
    PostText,
    Serving,
    ThreadComment,
    UpdateCard,
    UpdateCaseCard,
    WorkspaceRefused,
)
