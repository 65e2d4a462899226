"""Plant models for the hemoadsorption hardware-in-the-loop bench.

The package simulates a septic patient (inflammation driver and cytokines),
systemic heparin, the extracorporeal blood circuit with its adsorber cartridge,
the pressure/flow transducers and the aPTT laboratory.  ``host.plant.Plant``
composes them behind the API the test harness drives.
"""
