"""localvision: a local server that speaks the Azure AI Custom Vision REST API (training and prediction).

Like Azurite for Storage: point the unmodified Custom Vision SDK at it, and it really trains and predicts.
Layout: ``app`` (routes), ``responses`` (the wire), ``models`` (state and behaviour, no HTTP),
``exceptions`` (the service's error codes), ``persistence`` (files on disk), ``engine`` (the model),
``limits``/``faults`` (tiers, image limits, fault injection), ``cli`` (the command line).
"""
