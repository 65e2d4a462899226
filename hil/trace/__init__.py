"""Requirements traceability: the registry of software requirements and
hazards (``requirements/*.yaml``), what verifies each of them (scenario
files' ``verifies:``, pytest's ``verifies`` marker), and the matrix of the
last test run (``python -m hil.trace``, ``make trace``: out/trace/).

Nothing is imported here, so that the scenario reader can read the
registry without loading the rest.
"""
