"""User text is shown as its literal characters on every platform (issue 10): whatever a person writes in a
note, a tag, a name or a reason, the Slack mrkdwn and the Discord markdown the bot renders from it format
nothing, mention nobody, link nowhere, and hide nothing (zero-width and bidirectional controls are made
visible). Each platform's rules are written down here as a small reference parser, and Hypothesis feeds the
escapers any text."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from adapters.discord.render import code as discord_code
from adapters.discord.render import esc as discord_esc
from adapters.slack.mrkdwn import LOOKALIKES
from adapters.slack.mrkdwn import code as slack_code
from adapters.slack.mrkdwn import esc as slack_esc
from bot.text import plain, visible

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
             "\u2066", "\u2067", "\u2068", "\u2069", "\u061c", "\ufeff", "\u00ad", "\u2060", "\u180e", "\x1b",
             "\x00", "\x7f", "\u2028", "\u2029", "\r", "\n", "\t", "\x85"]
CONSTRUCTS = ["*bold*", "_it_", "~st~", "`code`", "```fence```", ":smile:", "<!here>", "<!channel>", "<@U1>",
              "<#C1>", "<http://x|y>", "&amp;", "&lt;", "@here", "@everyone", "@channel", "**", "__", "~~",
              "||spoiler||", "<#123>", "<@123>", "<@!123>", "<@&1>", "[x](http://y)", "# ", "## ", "-# ", "- ",
              "> ", ">>> ", "1. ", "\\", "<t:1700000000:R>", "</ioc:1>", "<:emoji:1>", "∗", "ˍ", "∼", "ˋ", "›"]
user_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(CONSTRUCTS + INVISIBLE), st.text("abc1 .:*_~`|<>#@-+[]()&\\", max_size=4)),
             max_size=12).map("".join),
)


def test_visible_shows_every_invisible_control() -> None:
    assert visible("evil\u202etxt.exe") == "evil<U+202E>txt.exe"
    assert visible("a\u200bb\u200fc\u061cd\ufeffe\u00adf\u2066g") == \
        "a<U+200B>b<U+200F>c<U+061C>d<U+FEFF>e<U+00AD>f<U+2066>g"
    assert visible("note\nsecond line\r\n\tthird") == "note second line   third"
    assert visible("note\nsecond", one_line=False) == "note\nsecond"
    assert visible("\x1b[31mred\x07") == "<U+001B>[31mred<U+0007>"
    assert visible("\ud800") == "<U+D800>"  # a lone surrogate
    assert visible("naïve 東京 🙂 e\u0301") == "naïve 東京 🙂 e\u0301"  # visible text is untouched
    assert plain("a\u202eb\nc") == "a<U+202E>b c"  # the console's rendering


@settings(max_examples=200, deadline=None)
@given(user_text)
def test_visible_leaves_nothing_invisible(text: str) -> None:
    shown = visible(text)
    assert not [ch for ch in shown if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"}]
    assert re.sub(r"<U\+[0-9A-F]{4,6}>", "", shown).replace(" ", "") == \
        "".join(ch for ch in text if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Zl", "Zp"}).replace(" ", "")


# -- Slack mrkdwn: the rules of https://api.slack.com/reference/surfaces/formatting, as a reference parser --

SLACK_RUN = re.compile(r"(?:^|(?<=[^0-9A-Za-z]))([*_~])(?=\S)(.*?\S)?\1(?=$|[^0-9A-Za-z])")
SLACK_EMOJI = re.compile(r":[0-9A-Za-z_+'\-]+:")
SLACK_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
UNDO = {v: k for k, v in LOOKALIKES.items()} | {"\u2236": ":", "\u203a": ">"}


def slack_formatting(mrkdwn: str) -> list[str]:
    """What Slack would turn into something other than its characters (a reference parser of mrkdwn). Code spans
    come first (inside one nothing is formatted): each counts as one plain word."""
    mrkdwn = re.sub(r"`[^`\n]+`", "C", mrkdwn)
    found = [m.group(0) for m in SLACK_RUN.finditer(mrkdwn)]
    found += [m.group(0) for m in SLACK_EMOJI.finditer(mrkdwn)]
    found += [m.group(0) for m in SLACK_BROADCAST.finditer(mrkdwn)]
    found += [ch for ch in mrkdwn if ch in "<>`\n"]  # links/mentions/broadcasts, code, new lines (quotes, lists)
    found += re.findall(r"&(?!amp;|lt;|gt;)", mrkdwn)
    if re.match(r"\s*&gt;", mrkdwn):
        found.append("a quote")
    return found


def slack_shown(mrkdwn: str) -> str:
    """The characters a Slack reader sees (entities decoded, the look-alikes read as what they stand for)."""
    text = mrkdwn.replace("\u2060", "")
    text = re.sub(r"&(amp|lt|gt);", lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], text)
    return "".join(UNDO.get(ch, ch) for ch in text)


@settings(max_examples=250, deadline=None)
@given(user_text)
@example("\u200b*bold*\u200b")
@example("*a* _b_ ~c~ `d` :e: <!here> @everyone")
@example(":a:b:c:")
@example("> quoted")
def test_slack_mrkdwn_of_any_user_text_formats_nothing_and_reads_back(text: str) -> None:
    out = slack_esc(text)
    assert slack_formatting(out) == []
    for context in ("*Note:* {}", "{} _end_", "*a* {} *b*", "~a~ {} ~b~", "_a_ {}"):  # beside the bot's markup
        assert slack_formatting(context.format(out)) == slack_formatting(context.format(""))
    assert [ch for ch in out if unicodedata.category(ch) in {"Cc", "Cf"} and ch != "\u2060"] == []
    assert slack_shown(out) == "".join(UNDO.get(ch, ch) for ch in visible(text))


@settings(max_examples=150, deadline=None)
@given(user_text)
def test_slack_code_spans_hold_any_user_text(text: str) -> None:
    out = slack_code(text)
    inner = out[1:-1]
    assert out.startswith("`") and out.endswith("`") and "`" not in inner
    assert "<" not in inner and ">" not in inner and "\n" not in inner
    assert not SLACK_BROADCAST.search(inner)
    assert [ch for ch in inner if unicodedata.category(ch) in {"Cc", "Cf"} and ch != "\u2060"] == []


def test_slack_escaping_examples() -> None:
    assert slack_esc("*bold* _it_ ~st~ `x` :smile: a_b a*b") == "∗bold∗ ˍitˍ ∼st∼ ˋxˋ ∶smile: a_b a*b"
    assert slack_esc("<!here> <@U1> <#C1> <http://x|y> & @here") == \
        "&lt;!here&gt; &lt;@U1&gt; &lt;#C1&gt; &lt;http://x|y&gt; &amp; @\u2060here"
    assert slack_esc("\u200b*b*\u200b") == "&lt;U+200B&gt;∗b∗&lt;U+200B&gt;"
    assert slack_esc("line one\n> line two") == "line one &gt; line two"
    assert slack_esc("> quote") == "› quote"


# -- Discord markdown: every punctuation after a backslash is itself --

DISCORD_SPECIAL = set("*_~|`<>#[]()@-+:\\")
DISCORD_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def discord_unescaped(markdown: str) -> str:
    """The markdown with its escaped characters removed: what Discord could still read as markup."""
    return DISCORD_ESCAPED.sub("", markdown)


def discord_shown(markdown: str) -> str:
    return DISCORD_ESCAPED.sub(r"\1", markdown)


@settings(max_examples=250, deadline=None)
@given(user_text)
@example("**b** __u__ ~~s~~ ||sp|| `c` <#123> <@123> <@&1> @everyone @here [x](y)")
@example("# heading")
@example("-# subtext")
@example("1. item")
def test_discord_markdown_of_any_user_text_formats_nothing_and_reads_back(text: str) -> None:
    out = discord_esc(text)
    bare = discord_unescaped(out)
    assert not DISCORD_SPECIAL & set(bare), bare
    assert not re.match(r"\s*\d+\.", out)  # an ordered list
    assert "\n" not in out and "@everyone" not in bare and "@here" not in bare
    assert discord_shown(out) == visible(text)
    assert [ch for ch in out if unicodedata.category(ch) in {"Cc", "Cf"}] == []


@settings(max_examples=150, deadline=None)
@given(user_text)
def test_discord_code_spans_hold_any_user_text(text: str) -> None:
    out = discord_code(text)
    assert out.startswith("`") and out.endswith("`") and "`" not in out[1:-1] and "\n" not in out
    assert [ch for ch in out if unicodedata.category(ch) in {"Cc", "Cf"}] == []


# -- the renderers: wherever a card puts user text, it formats nothing --

def card_with(text: str):
    from datetime import UTC, datetime

    from bot.domain import Indicator, SightingSummary, Status, Tally
    from bot.ioc import IOCType
    from bot.results import IndicatorCard
    from bot.tlp import TLP

    now = datetime(2026, 1, 1, tzinfo=UTC)
    ind = Indicator(7, "indicator--0", IOCType.DOMAIN, "evil.example", Status.REJECTED, TLP.GREEN, 50, ("apt_28",),
                    text, 1, text, 1, text, False, now, now, None, now, now, status_reason=text)
    return IndicatorCard(ind, text, Status.REJECTED, Tally(), SightingSummary(), warnings=(text,))


def slack_texts(card) -> list[str]:
    from adapters.slack.blocks import Renderer
    from bot.results import LookupResult

    message = Renderer().message(LookupResult((card,)))
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks)
    return [*found, message.text]


@settings(max_examples=80, deadline=None)
@given(user_text.filter(bool))
def test_every_slack_text_of_a_card_formats_only_what_the_bot_wrote(text: str) -> None:
    for rendered, neutral in zip(slack_texts(card_with(text)), slack_texts(card_with("y")), strict=True):
        assert slack_formatting(rendered.replace("\n", " ")) == slack_formatting(neutral.replace("\n", " ")), \
            (rendered, neutral)
        assert [ch for ch in rendered if unicodedata.category(ch) in {"Cc", "Cf"} and ch not in "\n\u2060"] == []


@settings(max_examples=80, deadline=None)
@given(user_text.filter(bool))
def test_every_discord_field_of_a_card_formats_nothing_written_by_a_person(text: str) -> None:
    from adapters.discord.render import card_embed

    embed = card_embed(card_with(text)).to_dict()
    for field in embed["fields"]:
        if field["name"] in {"From", "Note", "Reason", "Warning"}:
            value = field["value"].removeprefix("on warninglist ")
            assert not DISCORD_SPECIAL & set(discord_unescaped(value)), field
            assert [ch for ch in value if unicodedata.category(ch) in {"Cc", "Cf"}] == []


@settings(max_examples=40, deadline=None)
@given(user_text.filter(bool))
def test_a_headline_with_user_text_formats_nothing(text: str) -> None:
    """A channel watch's headline names its target (an admin's org: text): the Slack fallback text and the Discord
    embed title show it literally, like every other user text."""
    from adapters.discord.render import card_embed
    from adapters.slack.blocks import Renderer

    card = card_with("y")
    message = Renderer().card_message(card, headline=f"Watch W1 ({text})")
    assert slack_formatting(message.text) == slack_formatting(
        Renderer().card_message(card, headline="Watch W1 (y)").text)
    title = card_embed(card, headline=f"Watch W1 ({text})").title or ""
    head = "#7 · domain · "
    assert title.startswith(head) and not DISCORD_SPECIAL & set(discord_unescaped(title[len(head):]).rstrip("…"))
    if len(title) < 256:
        assert discord_shown(title[len(head):]) == visible(f"Watch W1 ({text})")
