"""The retrain cycle: sync -> train -> poll -> evaluate -> gate -> publish -> export -> prune, and import.

Owns the run protocol (one queue message per step), the steps, the gate, the export step and the import.
May import the root modules, ``customvision``, ``mirror``, ``onnx``, ``runs`` and ``settings``.
"""
