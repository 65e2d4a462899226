"""Boards and what runs on them: board kinds and power control, the virtual board, the firmware build and flashing."""
