"""The mirror: make the Custom Vision project's training set equal to ``training/{tag}/``.

Owns the manifest, the pure diff (plan), folder -> tag matching and the sync's report. May import the root
modules, ``customvision`` and ``runs`` (the run record's sync section); never ``retrain``, which drives it.
"""
