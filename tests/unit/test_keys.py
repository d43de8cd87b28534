"""Channel names are built and read back in one place (app/keys.py), so a wake reaches the
partition it was published for and nothing else."""

from __future__ import annotations

from app.keys import Channels


def test_partition_channel_round_trips() -> None:
    channels = Channels(6)
    for partition in (0, 7, 255):
        assert channels.partition_of(channels.partition(partition)) == partition


def test_partition_of_refuses_other_channels() -> None:
    channels = Channels(6)
    assert channels.partition_of(channels.instance("abc")) is None
    assert channels.partition_of(channels.wake) is None
    assert channels.partition_of(Channels(7).partition(3)) is None  # another db's deployment
    assert channels.partition_of(channels.partition(3) + "x") is None
    assert channels.partition_of(channels.prefix + "deliver:") is None
