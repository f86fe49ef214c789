"""search() filters rows in SQL exactly as bot.rules.can_see decides, for every viewer and place."""

from __future__ import annotations

import itertools

from bot.domain import Indicator, Member, Page, SearchFilter, Visibility
from bot.rules import can_see, visibility
from bot.tlp import TLP
from storage.repositories import visibility_clause
from storage.uow import Store
from tests.storage.storage_helpers import Seed, new_indicator


async def _all_rows(store: Store, seed: Seed) -> list[Indicator]:
    """One indicator per TLP for each of two submitters in two organizations."""
    async with store.unit_of_work() as uow:
        rows = [
            await uow.indicators.add(new_indicator(submitter, f"{tlp.value.lower()}.{submitter.name}.example",
                                                   tlp=tlp))
            for submitter in (seed.alice, seed.bob)
            for tlp in TLP
        ]
        await uow.commit()
    return rows


async def test_search_agrees_with_can_see_for_every_viewer_and_place(store: Store, seed: Seed) -> None:
    rows = await _all_rows(store, seed)
    # viewers: the submitter, a colleague of the same org, another org's member, a moderator, an admin
    viewers: list[Member] = [seed.alice, seed.amy, seed.bob, seed.mod, seed.admin]
    places = [(True, TLP.CLEAR)] + [(False, ceiling) for ceiling in TLP]
    checked = 0
    async with store.unit_of_work() as uow:
        for viewer, (private, ceiling) in itertools.product(viewers, places):
            view = visibility(viewer, private=private, ceiling=ceiling)
            found, total = await uow.indicators.search(SearchFilter(), view, Page(1, 100))
            expected = sorted((r.id for r in rows if can_see(r, view)), reverse=True)
            assert [r.id for r in found] == expected, (viewer.name, private, ceiling)
            assert total == len(expected)
            checked += 1
    assert checked == 5 * 6

    # spot checks that the table is not vacuous
    def seen(viewer: Member, private: bool, ceiling: TLP) -> set[str]:
        view = visibility(viewer, private=private, ceiling=ceiling)
        return {r.value for r in rows if can_see(r, view)}

    assert "red.Alice.example" in seen(seed.alice, True, TLP.CLEAR)
    assert "red.Alice.example" not in seen(seed.amy, True, TLP.CLEAR)
    assert "red.Alice.example" in seen(seed.mod, True, TLP.CLEAR)
    assert "amber+strict.Alice.example" in seen(seed.amy, True, TLP.CLEAR)
    assert "amber+strict.Alice.example" not in seen(seed.bob, True, TLP.CLEAR)
    assert seen(seed.mod, False, TLP.RED) == {f"{t}.{n}.example" for t in ("clear", "green", "amber")
                                              for n in ("Alice", "Bob")}


async def test_hand_made_visibilities_agree_with_can_see(store: Store, seed: Seed) -> None:
    """Every combination of the Visibility flags, including ones bot.rules never builds."""
    rows = await _all_rows(store, seed)
    async with store.unit_of_work() as uow:
        for max_tlp, strict, red_own, red_all, who in itertools.product(
            TLP, (False, True), (False, True), (False, True), (seed.alice, seed.bob)
        ):
            view = Visibility(max_shared_tlp=max_tlp, org_id=who.org_id, member_id=who.id,
                              amber_strict_own_org=strict, red_own=red_own, red_all=red_all)
            found, total = await uow.indicators.search(SearchFilter(), view, Page(1, 100))
            expected = {r.id for r in rows if can_see(r, view)}
            assert {r.id for r in found} == expected, view
            assert total == len(expected)


def test_visibility_clause_uses_integer_ranks() -> None:
    view = Visibility(max_shared_tlp=TLP.GREEN, org_id=3, member_id=7, amber_strict_own_org=True,
                      red_own=True, red_all=False)
    sql = str(visibility_clause(view).compile(compile_kwargs={"literal_binds": True}))
    assert "indicators.tlp_rank <= 1" in sql
    assert "indicators.org_id = 3" in sql and "indicators.submitter_id = 7" in sql
