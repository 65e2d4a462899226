"""Campaigns at scale: scenarios x seeds x patients x firmware
configurations, virtual trials and the reliability campaigns, run on Dask
distributed (a LocalCluster, or an existing cluster over TCP), into one
resumable table of runs and a summary. See docs/campaigns.md.

Modules: ``spec`` (the campaign file), ``groups`` (each kind of group:
reading and expansion into run specs), ``kinds`` (one run, on a worker),
``engine`` (Dask: clusters, dispatch, progress), ``store`` (the table of
runs, resuming), ``summary`` (summary.json, summary.html), ``campaign``
(the whole), ``command`` (``python -m hil.campaign``), ``bench`` (the
``make bench`` figures).
"""
