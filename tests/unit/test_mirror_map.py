"""Channel map parsing of ``pvaflow mirror`` (pvapy-mirror-server's syntax)."""

from __future__ import annotations

import pytest

from pvaflow import ConfigError
from pvaflow.mirror import MirrorEntry, parse_channel_map


def test_defaults_and_every_field() -> None:
    assert parse_channel_map("(m:a,a),(m:b, b ,CA,10),(m:c,c,pva,5,2,_[pydistributor=updates:1;group:m])") == (
        MirrorEntry("m:a", "a"),
        MirrorEntry("m:b", "b", "ca", 10),
        MirrorEntry("m:c", "c", "pva", 5, 2, "_[pydistributor=updates:1;group:m]"),
    )


def test_request_may_hold_parentheses_and_commas() -> None:
    (entry,) = parse_channel_map("(m,s,pva,0,1,field(value,timeStamp))")
    assert entry.request == "field(value,timeStamp)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--channel-map is required"),
        ("(m)", "expected mirror,source"),
        ("(,s)", "must not be empty"),
        ("(m,s,tcp)", "source provider must be pva or ca, not 'tcp'"),
        ("(m,s,pva,-1)", "queue size must be 0 to 10000, not -1"),
        ("(m,s,pva,0,100000)", "number of monitors must be 1 to 1000, not 100000"),
        ("(m,s,pva,x)", "queue size must be an integer, not 'x'"),
        ("(m,s,pva,0,0)", "number of monitors must be 1 to 1000"),
        ("(m,s),(m,t)", "mirror channel m is given twice"),
        ("m,s", "'m,s' is outside any"),
        ("(m,s) junk", "'junk' is outside any"),
    ],
)
def test_bad_maps_are_refused_with_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_channel_map(text)
