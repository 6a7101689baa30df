"""Every setting the pipeline reads: names, defaults, parsers and the one validated ``Settings`` object.

Imports nothing of the pipeline; everything else may import it.
"""
