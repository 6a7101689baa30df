"""The pipeline (deployed with the app): importable without azure.functions, one package per concern.

Root modules are what every package may lean on: ``catalogue`` (every error message), ``errors``,
``contracts`` (typed JSON), ``documents`` (result and error documents), ``storage``, ``imaging``,
``fetch`` (the SSRF guard), ``schemas``; ``api`` (HTTP handlers) and ``pipeline`` (the object the triggers
call) sit on top. Packages: ``settings``, ``customvision``, ``runs``, ``onnx``, ``classify``, ``mirror``,
``retrain``, ``console``. Who may import whom is written down in tests/test_layout.py.
"""
