"""Submission forms (Slack and Discord modals): the same rules as the grammar, errors by field."""

from __future__ import annotations

from bot import context, limits
from bot.ioc import Observable, extract

from .grammar import _context_error, _valid_tags
from .model import Submit
from .tokens import _int_option, _shown, _split_list, _tlp_option, parse_duration
from .usage import UsageError


class FormError(Exception):
    """A submission form (Slack modal, Discord modal) with problems, by field, to show beside each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def submit_from_form(*, values: str, tlp: str | None = None, confidence: str | None = None, tags: str | None = None,
                     note: str | None = None, anonymous: bool = False, valid: str | None = None,
                     threat: str | None = None, malware: str | None = None, references: str | None = None) -> Submit:
    """The same Submit as `/ioc submit`, from a form's fields. `values` is free text: every indicator the IOC
    engine finds in it is submitted. Raises FormError naming each field that is wrong and how to fix it."""
    errors: dict[str, str] = {}
    rejected: list[tuple[Observable, str]] = []
    found = tuple(extract(values or "", rejected=rejected))
    if rejected:
        obs, problem = rejected[0]
        more = f" (and {len(rejected) - 1} more)" if len(rejected) > 1 else ""
        errors["values"] = (f"'{_shown(obs.value, 40)}' cannot be stored{more}: {problem}. "
                            "Shorten or remove it.")
    elif not found:
        errors["values"] = "No indicator found here: paste IPs, domains, URLs, e-mails, hashes, CVEs, ASNs or BTC."
    parsed: dict[str, object] = {}
    for field, raw, convert in (
        ("tlp", tlp, lambda v: _tlp_option(v, "submit")),
        ("confidence", confidence, lambda v: _int_option("conf", v, "submit", 0, 100)),
        ("tags", tags, lambda v: _valid_tags(_split_list(v), "submit")),
        ("valid", valid, lambda v: parse_duration(v, "submit", "valid")),
        ("threat", threat, lambda v: _form_context(context.threat_type, v)),
        ("malware", malware, lambda v: _form_context(context.malware_name, v)),
        ("references", references, lambda v: _form_context(context.references, v.split())),
    ):
        if raw is None or not str(raw).strip():
            continue
        try:
            parsed[field] = convert(str(raw).strip())
        except UsageError as e:
            errors[field] = e.problem[:1].upper() + e.problem[1:] + "."
    note = (note or "").strip()
    if problem := limits.text_problem(note):
        errors["note"] = f"The note {problem}."
    elif len(note) > limits.NOTE_MAX:
        errors["note"] = f"The note has {len(note):,} characters, at most {limits.NOTE_MAX:,}; shorten it."
    if errors:
        raise FormError(errors)
    return Submit(values=tuple(dict.fromkeys(found)), tlp=parsed.get("tlp"),  # type: ignore[arg-type]
                  confidence=parsed.get("confidence"), tags=parsed.get("tags", ()),  # type: ignore[arg-type]
                  note=note, anonymous=anonymous, valid_for=parsed.get("valid"),  # type: ignore[arg-type]
                  threat_type=parsed.get("threat", ""), malware=parsed.get("malware", ""),  # type: ignore[arg-type]
                  references=parsed.get("references", ()))  # type: ignore[arg-type]


def _form_context(check, raw):
    with _context_error("submit"):
        return check(raw)
