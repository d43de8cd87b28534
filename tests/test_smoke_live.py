from tests.support.clients import Device, direct_chat, make_user, send


async def test_live_delivery_rest_to_ws_across_instances(http, cluster):
    alice = await make_user(http)
    bob = await make_user(http)
    chat = await direct_chat(http, alice, bob)
    device = await Device.connect(cluster.apis[1].ws_url, bob, "phone")
    first = await device.next("chat_updated")
    assert first["data"]["chat"]["id"] == chat["id"]
    sent = await send(http, alice, chat["id"], "hello")
    got = await device.next("message")
    assert got["data"]["message"]["id"] == sent["id"]
    assert got["data"]["message"]["content"] == "hello"
    await device.close()
