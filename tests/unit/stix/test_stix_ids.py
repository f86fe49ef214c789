"""Ids of people's acts (opinions, sightings) are keyed with the deployment's secret; anonymity holds in STIX."""

from __future__ import annotations

import json
import uuid

import pytest

from bot.domain import SightingRecord, Verdict, VoteRecord
from bot.ioc import IOCType
from bot.stix import COALITION_IDENTITY, ActIds, bundle, org_identity_id
from bot.stix.ids import NAMESPACE
from tests.stix_helpers import assert_valid_bundle
from tests.unit.stix.test_stix_mapping import NOW, indicator

SECRET = bytes(range(32))
TARGET = "indicator--00000000-0000-4000-8000-000000000001"


def old_public_derivation(name: str) -> uuid.UUID:
    """What ids were before: uuid5 of public data under a public namespace (anyone could recompute them)."""
    return uuid.UUID(bytes=uuid.uuid5(NAMESPACE, name).bytes, version=4)


def test_an_opinion_id_is_not_the_public_derivation_and_depends_on_the_secret() -> None:
    ids = ActIds(SECRET)
    opinion = ids.opinion_id(TARGET, 7)
    assert opinion != f"opinion--{old_public_derivation(f'{TARGET}/vote/7')}"
    assert ids.sighting_id(TARGET, 3) != f"sighting--{old_public_derivation(f'{TARGET}/sighting/3')}"
    assert ActIds(bytes(32)).opinion_id(TARGET, 7) != opinion  # another deployment, other ids
    assert ActIds(SECRET).opinion_id(TARGET, 7) == opinion  # the same secret: the same id every time
    assert ids.opinion_id(TARGET, 8) != opinion and ids.opinion_id(TARGET.replace("1", "2"), 7) != opinion
    assert uuid.UUID(opinion.partition("--")[2]).version == 4  # STIX 2.1 SROs want a UUIDv4
    assert SECRET.hex() not in repr(ids) and "secret" in repr(ids)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16 random bytes"):
        ActIds(b"short")


def test_one_members_opinions_on_two_items_share_nothing_visible() -> None:
    ids = ActIds(SECRET)
    a, b = ids.opinion_id(TARGET, 7), ids.opinion_id(TARGET.replace("01", "02"), 7)
    assert a.partition("--")[2][:8] != b.partition("--")[2][:8]


def test_an_anonymous_items_opinions_and_sightings_name_no_organization() -> None:
    """Before: the submitter's own votes were the coalition's and every other organization was named, so the one
    organization missing among the voters (and the coalition-authored opinion) pointed at the submitter."""
    anon = indicator(1, IOCType.DOMAIN, "evil.example", anonymous=True, org_id=1, org_name="Northbank")
    named = indicator(2, IOCType.DOMAIN, "other.example", org_id=3, org_name="Carrier")
    votes = {1: [VoteRecord(1, 7, 2, Verdict.CONFIRM, "", NOW, NOW),  # Sentinel (org 2) votes
                 VoteRecord(1, 8, 1, Verdict.CONFIRM, "", NOW, NOW)],  # and the submitter's own organization
             2: [VoteRecord(2, 7, 2, Verdict.CONFIRM, "", NOW, NOW)]}
    sightings = {1: [SightingRecord(5, 1, 2, 3, NOW), SightingRecord(6, 1, 1, 1, NOW)]}
    doc = assert_valid_bundle(bundle([anon, named], {1: "Northbank", 2: "Sentinel Security", 3: "Carrier"},
                                     ids=ActIds(SECRET), votes=votes, sightings=sightings))
    about_anon = [o for o in doc["objects"] if TARGET in json.dumps(o) or o.get("id") == anon.stix_id]
    assert {o["type"] for o in about_anon} == {"indicator", "opinion", "sighting"}
    for obj in about_anon:
        assert obj["created_by_ref"] == COALITION_IDENTITY
        assert obj.get("where_sighted_refs", [COALITION_IDENTITY]) == [COALITION_IDENTITY]
    assert "Northbank" not in json.dumps(doc) and org_identity_id(1) not in json.dumps(doc)
    # the named item's opinion still says who: anonymity is the submitter's choice for its own item only
    (other,) = [o for o in doc["objects"] if o["type"] == "opinion" and o["object_refs"] == [named.stix_id]]
    assert other["created_by_ref"] == org_identity_id(2)
    ids = ActIds(SECRET)
    assert {o["id"] for o in about_anon if o["type"] == "opinion"} == {ids.opinion_id(TARGET, 7),
                                                                      ids.opinion_id(TARGET, 8)}
