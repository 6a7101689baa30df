"""devhost: run a Python v2 Azure Functions app locally the way the Functions host would.

Every trigger and binding is read from the app's own decorators (``app.get_functions()``); storage
triggers run against Azurite (or any storage account), HTTP triggers on a local port.
"""
