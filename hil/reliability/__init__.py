"""Reliability campaigns: the project attacks its own firmware.

Each module is a campaign with a ``main(argv)`` and writes one JSON file of
figures: ``fuzz`` (hostile frames on the serial link), ``powercut`` (power
cuts, many inside a storage write) and ``linkfault`` (short runs over a
faulty link). See docs/reliability.md.
"""
