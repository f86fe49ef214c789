"""A revocation reaches TAXII clients, over real HTTP: a client that read an approved indicator and then reads
`added_after` its last read gets the indicator's revoked version (`revoked: true`, `modified` and `date_added` the
revocation), valid STIX 2.1; match[id], match[version], the manifest and the versions endpoint agree on it. A
rejected item never appears; another organization's AMBER+STRICT item moves nothing when it is revoked; an item
revoked once is never served unrevoked again. Both backends (the `store` fixture)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import aiohttp

from bot.stix import timestamp
from tests.stix_helpers import assert_valid_bundle
from tests.taxii import test_taxii_context
from tests.taxii.test_taxii_context import T0, World

world = test_taxii_context.world  # the fixture: the same served world (two organizations, a key each)


async def raw(w: World, key: str, path: str = "objects/", **query: Any) -> bytes:
    url = f"{w.base}/coalition/collections/{w.settings.indicators_collection}/{path}"
    params = [(k.replace("_id", "[id]").replace("_version", "[version]"), str(v)) for k, v in query.items()]
    async with aiohttp.ClientSession() as http, http.get(
            url, params=params, headers={"Authorization": f"Bearer {w.keys[key]}"}) as resp:
        return await resp.read()


async def stix_id(w: World, ref: int) -> str:
    async with w.store.unit_of_work() as uow:
        ind = await uow.indicators.get(ref)
    assert ind is not None
    return ind.stix_id


def supporting(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["type"] in {"identity", "marking-definition", "extension-definition"}]


async def test_a_client_reading_added_after_its_last_read_learns_of_the_revocation(world: World) -> None:
    w = world
    w.clock.at(1)
    await w.say("bob", "submit evil.example tlp:green threat:botnet_cc malware:emotet")  # #1
    await w.say("bob", "submit notevil.example tlp:green")  # #2
    await w.say("alice", "submit strict.example tlp:amber+strict")  # #3, Northbank's own
    w.clock.at(2)
    await w.say("mod2", "approve #1 #3")
    await w.say("mod", "reject #2 a sinkhole")
    await w.say("alice", "vote #1 confirm")
    evil, rejected, strict = await stix_id(w, 1), await stix_id(w, 2), await stix_id(w, 3)

    status, first, headers = await w.get("vendor", "objects/")
    assert status == 200 and not first["more"]
    last_read = headers["X-TAXII-Date-Added-Last"]
    approved = next(o for o in first["objects"] if o["id"] == evil)
    assert "revoked" not in approved and approved["modified"] == timestamp(T0 + timedelta(minutes=2))

    w.clock.at(5)
    await w.say("mod", "revoke #1 a shared hosting provider, not the actor")
    w.clock.at(6)  # an edit after the revocation is no new version (STIX: a revoked object has none)
    await w.say("mod", "edit #1 conf:10")

    status, news, headers = await w.get("vendor", "objects/", added_after=last_read)
    assert status == 200 and not news["more"]
    [revoked] = news["objects"]  # the revoked version alone: its votes, family and relationship do not come again
    revoked_at = timestamp(T0 + timedelta(minutes=5))
    assert revoked["id"] == evil and revoked["revoked"] is True and revoked["modified"] == revoked_at
    assert revoked["created"] == approved["created"] and revoked["pattern"] == approved["pattern"]
    assert headers["X-TAXII-Date-Added-First"] == headers["X-TAXII-Date-Added-Last"] == revoked_at[:-1] + "000Z"
    assert_valid_bundle({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                         "objects": [*supporting(first["objects"]), revoked]})
    walked = await w.objects("vendor")
    assert_valid_bundle({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": walked})
    assert [o for o in walked if o["id"] == evil] == [revoked]
    for limit in (1, 2, 3):  # the same objects in the same order, whatever the page size
        assert await w.objects("vendor", limit=limit) == walked
        assert await w.objects("vendor", limit=limit, added_after=last_read) == [revoked]

    # the manifest, match[id], match[version] and the versions endpoint agree: the revoked version is the latest
    _, manifest, _ = await w.get("vendor", "manifest/", added_after=last_read)
    assert manifest["objects"] == [{"id": evil, "date_added": revoked_at[:-1] + "000Z", "version": revoked_at,
                                    "media_type": "application/stix+json;version=2.1"}]
    _, by_id, _ = await w.get("vendor", "objects/", match_id=evil)
    assert by_id["objects"] == [revoked]
    _, by_version, _ = await w.get("vendor", "objects/", match_id=evil, match_version=revoked_at)
    assert by_version["objects"] == [revoked]
    _, old_version, _ = await w.get("vendor", "objects/", match_id=evil, match_version=approved["modified"])
    assert "objects" not in old_version
    _, versions, _ = await w.get("vendor", f"objects/{evil}/versions/")
    assert versions["versions"] == [revoked_at]
    _, single, _ = await w.get("vendor", f"objects/{evil}/")
    assert single["objects"] == [revoked]

    # a rejected item never appears, in any read, for any key
    for key in ("vendor", "bank"):
        walked = json.dumps(await w.objects(key, limit=2))
        assert rejected not in walked and "notevil.example" not in walked
        status, _, _ = await w.get(key, f"objects/{rejected}/")
        assert status == 404

    # Northbank revokes its own AMBER+STRICT item: the vendor's pages are byte-identical; Northbank learns of it
    before = [await raw(w, "vendor", added_after=last_read), await raw(w, "vendor"),
              await raw(w, "vendor", "manifest/"), await raw(w, "vendor", limit=1),
              await raw(w, "vendor", match_id=strict)]
    w.clock.at(7)
    await w.say("mod2", "revoke #3 mistyped")
    after = [await raw(w, "vendor", added_after=last_read), await raw(w, "vendor"),
             await raw(w, "vendor", "manifest/"), await raw(w, "vendor", limit=1),
             await raw(w, "vendor", match_id=strict)]
    assert before == after and strict.encode() not in b"".join(after)
    status, _, _ = await w.get("vendor", f"objects/{strict}/")
    assert status == 404
    _, bank, _ = await w.get("bank", "objects/", added_after=timestamp(T0 + timedelta(minutes=6)))
    assert [(o["id"], o.get("revoked")) for o in bank["objects"]] == [(strict, True)]

    # reopened and approved again: STIX never un-revokes, so nothing new is served for it (the client keeps the
    # revoked version it read), neither while it is pending nor once approved
    w.clock.at(8)
    await w.say("mod", "reopen #1 the provider confirmed it is the actor's")
    w.clock.at(9)
    await w.say("mod2", "approve #1")
    _, later, _ = await w.get("vendor", "objects/", added_after=revoked_at)
    assert evil not in json.dumps(later.get("objects", []))  # nor its vote, relationship or family
    assert evil not in json.dumps(await w.objects("vendor"))
    status, _, _ = await w.get("vendor", f"objects/{evil}/")
    assert status == 404
