"""The local stack in one place: Azurite, localvision and devhost started and stopped, local.settings.json,
the fruit photos and a model trained and published with the SDK.

Used by ``make up/down/logs/demo`` (``python -m devstack``), by the tests and by the benchmarks. It may
import devhost and localvision (it launches them); shared/, devhost/ and localvision/ never import it.
"""
