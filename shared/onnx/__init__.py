"""Onnx mode: a Custom Vision ONNX export checked, loaded and run in-process, and the pointer to it.

Owns the zip's layout checks, preprocessing, the classifier, ``models/current.json`` and the per-instance
model store. May import only the root modules and ``settings``; never ``customvision`` (it must keep working
after the service is gone).
"""
