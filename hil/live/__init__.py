"""The live bench dashboard (``python -m hil live``, docs/telemetry.md): a
therapy run paced for a person, its telemetry over MQTT, and a web page
that follows it and lets a logged-in operator command it.

- :mod:`~hil.live.run`: the live run (paced, commands and faults between frames);
- :mod:`~hil.live.hub`: the dashboard's MQTT subscriber and what the page is sent;
- :mod:`~hil.live.server`: the web server (page, live stream, login, commands);
- :mod:`~hil.live.app`: the composition of all that, and the ``live`` command;
- ``static/``: the page, its script and style (no CDN: everything is in the package).
"""
