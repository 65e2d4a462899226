"""Orchestration: the composition root (Session), observers, scenario and therapy runs, steps, the scripted operator, replay."""
