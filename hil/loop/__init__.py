"""The loops that drive a board in virtual time: closed (the board takes its clock from the host) and free-running."""
