"""Persistent buttons and the reason modal.

A card's buttons are `DynamicItem`s whose custom id IS the core's action id (`ioc:vote:42:confirm`,
`ioc:approve:42`, ...). The client registers `CardButton` in `setup_hook`, so a press on a message posted
before a restart is decoded from its custom id alone: no view state survives, none is needed.
"""

from __future__ import annotations

from typing import Any

import discord

from bot import actions

# The core's action-id grammar (bot.actions); the core's own parser checks every press again.
TEMPLATE = r"ioc:(?P<verb>vote|approve|reject|revoke|queue|lookup):(?P<target>\d{1,18})(?::(?P<arg>[a-z_]{1,20}))?$"


class CardButton(discord.ui.DynamicItem[discord.ui.Button], template=TEMPLATE):
    def __init__(self, action_id: str, label: str = "", style: discord.ButtonStyle = discord.ButtonStyle.secondary,
                 row: int | None = None) -> None:
        super().__init__(discord.ui.Button(label=(label or action_id)[:80], style=style, custom_id=action_id),
                         row=row)
        self.action_id = action_id

    @classmethod
    def make(cls, action_id: str, label: str, style: discord.ButtonStyle, row: int | None = None) -> CardButton:
        return cls(action_id, label, style, row)

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: Any) -> CardButton:
        return cls(str(getattr(item, "custom_id", "")))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        await interaction.client.handler.on_action(interaction, self.action_id)  # type: ignore[attr-defined]


class ReasonModal(discord.ui.Modal):
    """Reject / revoke: the moderator says why (the submitter and the coalition are told)."""

    reason: discord.ui.TextInput = discord.ui.TextInput(label="Reason", style=discord.TextStyle.paragraph,
                                                        min_length=1, max_length=500, custom_id="reason")

    def __init__(self, action: actions.Action) -> None:
        super().__init__(title=f"{action.verb.capitalize()} #{action.target}"[:45], timeout=900,
                         custom_id=f"reason:{action.id}"[:100])
        self.action = action

    async def on_submit(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        await interaction.client.handler.on_reason(interaction, self.action, self.reason.value)  # type: ignore[attr-defined]


class SubmitModal(discord.ui.Modal):
    """The *Submit indicators* context menu: the indicators found in a message, editable, with options."""

    def __init__(self, values: str, default_tlp: str) -> None:
        super().__init__(title="Submit indicators", timeout=1800)
        self.values = discord.ui.TextInput(label="Indicators (one or many, defanged is fine)",
                                           style=discord.TextStyle.paragraph, default=values[:4000] or None,
                                           max_length=4000, custom_id="values")
        self.tlp = discord.ui.TextInput(label="TLP (clear, green, amber, amber+strict, red)", required=False,
                                        placeholder=default_tlp, max_length=20, custom_id="tlp")
        self.confidence = discord.ui.TextInput(label="Confidence (0-100)", required=False, max_length=3,
                                               custom_id="confidence")
        self.tags = discord.ui.TextInput(label="Tags (comma separated)", required=False, max_length=500,
                                         custom_id="tags")
        self.note = discord.ui.TextInput(label="Note", style=discord.TextStyle.paragraph, required=False,
                                         max_length=2000, custom_id="note")
        for item in (self.values, self.tlp, self.confidence, self.tags, self.note):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        await interaction.client.handler.on_submit_form(interaction, {  # type: ignore[attr-defined]
            "values": self.values.value, "tlp": self.tlp.value, "confidence": self.confidence.value,
            "tags": self.tags.value, "note": self.note.value})
