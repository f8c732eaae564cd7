"""Units: bandwidths, durations and sizes from strings; nonsense is rejected by name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_opt.cluster import (
    format_bandwidth,
    format_duration,
    parse_bandwidth,
    parse_bytes,
    parse_duration,
)
from tinygrad_opt.cluster.units import MAX_DURATION, MIN_BANDWIDTH


@pytest.mark.parametrize(
    "text, bytes_per_s",
    [
        ("25Gbit/s", 25e9 / 8),
        ("25 Gbps", 25e9 / 8),  # Gbps = gigabits per second
        ("25Gb/s", 25e9 / 8),
        ("25 gbps", 25e9 / 8),
        ("10GB/s", 10e9),
        ("10 GBps", 10e9),
        ("100 MB/s", 100e6),
        ("100MiB/s", 100 * 2**20),
        ("400Mbit/s", 50e6),
        ("1.5e3 kbit/s", 1.5e6 / 8),
        ("800 bytes/s", 800.0),
        ("1 Tbit/sec", 1e12 / 8),
        (3.2e9, 3.2e9),
        ("3.2e9", 3.2e9),
    ],
)
def test_bandwidth(text, bytes_per_s):
    assert parse_bandwidth(text) == pytest.approx(bytes_per_s)


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("5us", 5e-6),
        ("5 µs", 5e-6),
        ("5μs", 5e-6),
        ("1.5ms", 1.5e-3),
        ("0.12s", 0.12),
        ("250 ns", 250e-9),
        ("2 min", 120.0),
        ("3h", 10800.0),
        ("1 day", 86400.0),
        ("10 Seconds", 10.0),
        (0.002, 0.002),
    ],
)
def test_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


def test_sizes():
    assert parse_bytes("25MiB") == 25 * 2**20
    assert parse_bytes("1.5 GB") == 1.5e9
    assert parse_bytes("800Mbit") == 100e6


@pytest.mark.parametrize(
    "text",
    ["25 Gbpz", "25G", "fast", "25 Gbit", "Gbps", "1e400 Gbps", "-5Gbps", "0 Gbps", "", "nan"],
)
def test_bad_bandwidth_names_field_and_value(text):
    with pytest.raises(ValueError) as err:
        parse_bandwidth(text, "cluster.bandwidth")
    msg = str(err.value)
    assert msg.startswith("cluster.bandwidth:") and repr(text) in msg


@pytest.mark.parametrize("text", ["5m", "5 Ms", "soon", "5 lightyears", "-1ms", "0s", True])
def test_bad_duration_names_field_and_value(text):
    with pytest.raises(ValueError) as err:
        parse_duration(text, "latency")
    assert str(err.value).startswith("latency:") and repr(text) in str(err.value)


def test_zero_allowed_only_when_asked():
    assert parse_duration("0s", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match="> 0"):
        parse_duration("0s")


@given(st.floats(MIN_BANDWIDTH, 1e15))  # 1 bit/s: the smallest bandwidth accepted
def test_format_then_parse_bandwidth_round_trips(x):
    assert parse_bandwidth(format_bandwidth(x).replace(" ", "")) == pytest.approx(x, rel=1e-3)


@given(st.floats(1e-9, 100.0))
def test_format_then_parse_duration_round_trips(x):
    assert parse_duration(format_duration(x)) == pytest.approx(x, rel=1e-3)


def test_extreme_durations_and_bandwidths_are_refused_by_name():
    assert parse_duration(MAX_DURATION) == MAX_DURATION
    with pytest.raises(ValueError, match=r"latency: must be <= 1e15 s.*got '1e300s'"):
        parse_duration("1e300s", "latency")
    assert parse_bandwidth("1bit/s") == MIN_BANDWIDTH
    with pytest.raises(ValueError, match=r"bandwidth: must be >= 1 bit/s.*got '1e-300Gbit/s'"):
        parse_bandwidth("1e-300Gbit/s", "bandwidth")
    assert parse_bandwidth(0, "reduce_bandwidth", allow_zero=True) == 0
