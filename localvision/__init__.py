"""localvision: a local server that speaks the Azure AI Custom Vision REST API (training and prediction).

Like Azurite for Storage: point the unmodified Custom Vision SDK at it, and it really trains and predicts.
Layout (moto's): ``routes`` (the route table), ``app`` (ASGI: keys, quotas, faults), ``handlers`` (one per
operation), ``wire`` (requests and replies), ``state`` (entities, rules and snapshots, no HTTP),
``exceptions`` (the error catalogue), ``trainer``/``engine``/``ml`` (training and the model), ``signing``/
``files`` (signed image links), ``server``/``cli`` (running it). See docs/localvision.md.
"""
