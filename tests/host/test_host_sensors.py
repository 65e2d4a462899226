"""Sensor words (host.sensors) and the plant's generic fault objects."""

from __future__ import annotations

from array import array

import numpy as np

from host import sensors
from host.plant import Faults, SensorFault


def test_words_scale_order_and_clipping() -> None:
    assert sensors.words(-56.32, 104.7, 57.33, 200.04) == [-563, 1047, 573, 2000, 0]
    assert sensors.words(-1e6, 1e6, -1e6, -5.0, sensors.FLAG_AIR) == [-32768, 32767, -32768, 0, 1]
    assert sensors.words(1e6, -1e6, 1e6, 1e6) == [32767, -32768, 32767, 32767, 0]
    for v in (0.05, 0.15, -0.25, 12.35):  # half-way cases: round half to even, as round()
        assert sensors.words(v, v, v, abs(v))[0] == sensors.to_counts(v)


def test_pack_numpy_and_python_paths_agree() -> None:
    rng = np.random.default_rng(4)
    vals = rng.normal(0.0, 2000.0, 4 * 100)
    vals[::7] = np.round(vals[::7] * 10.0) / 10.0 + 0.05  # near half-way cases
    phys = [float(v) for v in vals]
    big = array("h")
    sensors.pack(phys, big)  # numpy path
    small = array("h")
    for i in range(0, len(phys), 4):  # one tick at a time: python path
        sensors.pack(phys[i:i + 4], small)
    ref = array("h")
    for i in range(0, len(phys), 4):
        ref.extend(sensors.words(*phys[i:i + 4]))
    assert len(big) == 5 * 100
    assert big == small == ref


def test_faults_clone_and_restore_every_field() -> None:
    f = Faults(access_occlusion=0.3, air_ticks_remaining=5, clot_boost=1.0,
               sensor={"p_pre": SensorFault("stuck", 10.0)})
    sensor_dict = f.sensor
    c = f.clone()
    assert c == f and c.sensor is not f.sensor
    f.access_occlusion = 0.9
    f.sensor["p_return"] = SensorFault("noise", 2.0)
    assert c.access_occlusion == 0.3 and set(c.sensor) == {"p_pre"}
    f.restore(c)
    assert f == c and f.sensor is sensor_dict
    f.clear()
    assert f == Faults() and f.sensor is sensor_dict
