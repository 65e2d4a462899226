"""Virtual trials of firmware changes: one virtual cohort, closed loop,
firmware in the MicroPython VM, under arms that differ only in firmware
configuration (anticoagulation table, board config, git revision of
firmware/). See docs/trials.md.

Modules: ``arms`` (specs, board configs, firmware builds), ``patient`` (one
patient in one arm), ``stats`` (Wilson interval, Kaplan-Meier), ``trial``
(the cohort on Dask workers through :mod:`hil.campaign.engine`, per-arm
figures), ``report`` (trial.json, trial.html).
"""
