"""Telemetry of a run over MQTT (docs/telemetry.md): the topic tree and its
payloads, the publisher (a listener on the run's bus), operator commands
coming back, and the brokers to run on this machine.

- :mod:`~hil.telemetry.topics`: the broker URL and the topics of a board;
- :mod:`~hil.telemetry.payloads`: status, alarms, events, info, in physical units;
- :mod:`~hil.telemetry.commands`: command validation, rate limit, the queue to the run;
- :mod:`~hil.telemetry.mqtt`: the MQTT connection (aiomqtt) on a background loop;
- :mod:`~hil.telemetry.observer`: :class:`TelemetryObserver`, the listener;
- :mod:`~hil.telemetry.acl`: users, password hashes and the ACL, in Mosquitto's formats;
- :mod:`~hil.telemetry.brokers`: the embedded broker (amqtt) and a local Mosquitto.
"""
