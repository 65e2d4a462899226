"""The link to a board: frames of protocol v1, the serial link, link fault injection, the request/reply client."""
