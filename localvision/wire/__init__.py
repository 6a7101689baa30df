"""The wire: read what clients send (``requests``, ``bodies``), shape the replies (``replies``)."""
