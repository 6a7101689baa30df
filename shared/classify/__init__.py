"""Classify: one image blob -> one result or error document (and a review copy when unsure).

Owns the classify path, the quick test's classification and the order of documents per blob. May import
the root modules, ``customvision`` (service mode) and ``onnx`` (onnx mode); nothing that retrains.
"""
